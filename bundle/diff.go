package bundle

import "fmt"

// ExpiryChange is a key whose expiry differs between two lists.
type ExpiryChange struct {
	KeyID    string
	From, To *string
}

// Diff is what changed from one key list to another.
type Diff struct {
	Added         []Key
	Removed       []Key
	ExpiryChanged []ExpiryChange
}

// Compare lists what changed from old to new; a nil old counts as empty.
func Compare(old, new *KeyList) Diff {
	var d Diff
	if old == nil {
		old = &KeyList{}
	}
	for _, k := range new.Keys {
		prev, ok := old.Find(k.KeyID)
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case expiryText(prev.Expires) != expiryText(k.Expires):
			d.ExpiryChanged = append(d.ExpiryChanged, ExpiryChange{KeyID: k.KeyID, From: prev.Expires, To: k.Expires})
		}
	}
	for _, k := range old.Keys {
		if _, ok := new.Find(k.KeyID); !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	return d
}

// Empty reports whether the lists hold the same keys with the same expiries.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.ExpiryChanged) == 0
}

// Lines renders the diff one change per line: + added, - removed,
// ~ expiry changed.
func (d Diff) Lines() []string {
	var out []string
	for _, k := range d.Added {
		out = append(out, fmt.Sprintf("+ %s (%s)", k.KeyID, describeExpiry(k.Expires)))
	}
	for _, k := range d.Removed {
		out = append(out, fmt.Sprintf("- %s (%s)", k.KeyID, describeExpiry(k.Expires)))
	}
	for _, c := range d.ExpiryChanged {
		out = append(out, fmt.Sprintf("~ %s expires %s -> %s", c.KeyID, expiryText(c.From), expiryText(c.To)))
	}
	return out
}

func expiryText(e *string) string {
	if e == nil {
		return "null"
	}
	return *e
}

func describeExpiry(e *string) string {
	if e == nil {
		return "never expires"
	}
	return "expires " + *e
}
