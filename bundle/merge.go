package bundle

import (
	"fmt"
	"time"
)

// Merge joins the key lists of several registries into one, for a client
// behind a proxy that re-signs what it serves: the origin's keys and the
// proxy's. A key listed by several lists appears once; when they give it
// different expiries, the earliest holds, so that no list extends another's
// trust in a key. Notes say where that happened.
func Merge(lists ...*KeyList) (*KeyList, []string, error) {
	out := &KeyList{}
	at := map[string]int{}
	var notes []string
	for _, l := range lists {
		if l == nil {
			continue
		}
		for _, k := range l.Keys {
			i, seen := at[k.KeyID]
			if !seen {
				at[k.KeyID] = len(out.Keys)
				out.Keys = append(out.Keys, k)
				continue
			}
			have := &out.Keys[i]
			if have.Key != k.Key {
				return nil, nil, errorOf(ErrMalformed, "keyid %s names two different keys in the lists to merge", k.KeyID)
			}
			if earlier, changed := earliest(have.Expires, k.Expires); changed {
				notes = append(notes, fmt.Sprintf("key %s is listed with two expiries; the earlier, %s, holds", k.KeyID, *earlier))
				have.Expires = earlier
			}
		}
	}
	if len(out.Keys) > MaxKeys {
		return nil, nil, errorOf(ErrMalformed, "the merged list holds %d keys, more than %d", len(out.Keys), MaxKeys)
	}
	return out, notes, nil
}

// earliest returns the earlier of two expiries (nil: never) and whether it
// differs from a.
func earliest(a, b *string) (*string, bool) {
	switch {
	case b == nil:
		return a, false
	case a == nil:
		return b, true
	}
	ta, errA := time.Parse(time.RFC3339Nano, *a)
	tb, errB := time.Parse(time.RFC3339Nano, *b)
	if errA == nil && errB == nil && tb.Before(ta) {
		return b, true
	}
	return a, false
}
