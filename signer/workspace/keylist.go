package workspace

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/translog"
)

// KeyInfo is one key the workspace knows: the name it gives it, the roles
// it may sign in the metadata that is in effect after the next publish,
// and the kind of reference its holder last signed through.
type KeyInfo struct {
	Name  string
	KeyID string
	// Roles are role names in signing order (root, targets, the bins, the
	// delegated roles, snapshot, timestamp); none for a key removed from
	// every role.
	Roles []string
	// Reference is ReferenceFile, ReferenceToken or ReferenceKMS, or empty
	// until the key signs or publishes through tufkeys.
	Reference string
}

// The kinds of key reference: a key file, a PKCS#11 token, a cloud KMS key.
const (
	ReferenceFile  = "file"
	ReferenceToken = "token"
	ReferenceKMS   = "KMS"
)

var referenceKinds = []string{ReferenceFile, ReferenceToken, ReferenceKMS}

// referencesFile records, per keyid, the kind of reference that last
// signed: never the reference itself, which may name a token's PIN source
// or an account.
const referencesFile = keysDir + "/references.json"

// RecordReference notes that the key keyID just signed through a
// reference of kind, for Keys to show.
func (w *Workspace) RecordReference(keyID, kind string) error {
	if !keyIDRe.MatchString(keyID) || !slices.Contains(referenceKinds, kind) {
		return marked.Errorf(ErrInvalid, "cannot record a %q reference for key %q", kind, keyID)
	}
	refs := w.references()
	if refs[keyID] == kind {
		return nil
	}
	refs[keyID] = kind
	data, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return err
	}
	return w.write(referencesFile, append(data, '\n'))
}

// references reads the recorded kinds; a missing or unreadable file, or
// an entry tufkeys would not write, records nothing (it only labels keys).
func (w *Workspace) references() map[string]string {
	refs := map[string]string{}
	data, err := w.read(referencesFile)
	if err != nil {
		return refs
	}
	var raw map[string]string
	if json.Unmarshal(data, &raw) != nil {
		return refs
	}
	for id, kind := range raw {
		if keyIDRe.MatchString(id) && slices.Contains(referenceKinds, kind) {
			refs[id] = kind
		}
	}
	return refs
}

// Keys lists every key the workspace holds or its metadata names, with
// the roles each may sign: the maintainers' keys, the online key, and the
// keys of delegated roles.
func (w *Workspace) Keys() ([]KeyInfo, error) {
	st, err := w.Load()
	if err != nil {
		return nil, err
	}
	root := st.RootInEffect()
	if root == nil {
		return nil, marked.Errorf(ErrInvalid, "the workspace has no root yet: initialize it first")
	}
	roles := grantedRoles(st, root)
	keyNames := w.keyNames()
	refs := w.references()
	ids := slices.Collect(maps.Keys(roles))
	for id := range keyNames {
		if _, ok := roles[id]; !ok {
			ids = append(ids, id)
		}
	}
	out := make([]KeyInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, KeyInfo{Name: keyNames[id], KeyID: id, Roles: nonNilRoles(roles[id]), Reference: refs[id]})
	}
	// named keys by name, then the keys the workspace has no file for
	slices.SortFunc(out, func(a, b KeyInfo) int {
		if (a.Name == "") != (b.Name == "") {
			if a.Name == "" {
				return 1
			}
			return -1
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return out, nil
}

func nonNilRoles(r []string) []string {
	if r == nil {
		return []string{}
	}
	return r
}

// LogPolicy is the transparency log the root in effect names (the staged
// root when one is staged): what witnesses need to follow it.
func (w *Workspace) LogPolicy() (translog.Policy, bool, error) {
	st, err := w.Load()
	if err != nil {
		return translog.Policy{}, false, err
	}
	root := st.RootInEffect()
	if root == nil {
		return translog.Policy{}, false, marked.Errorf(ErrInvalid, "the workspace has no root yet: initialize it first")
	}
	return translog.FromRootCustom(root.Signed.UnrecognizedFields)
}

// grantedRoles is, by keyid, the roles each key may sign in the metadata
// in effect: root and targets, the bins and delegated roles, snapshot and
// timestamp.
func grantedRoles(st *State, root *rootMD) map[string][]string {
	roles := map[string][]string{}
	grant := func(role string, ids []string) {
		for _, id := range ids {
			if !slices.Contains(roles[id], role) {
				roles[id] = append(roles[id], role)
			}
		}
	}
	for _, role := range []string{"root", "targets"} {
		if r := root.Signed.Roles[role]; r != nil {
			grant(role, r.KeyIDs)
		}
	}
	var delegators []*targetsMD
	if t := st.TargetsInEffect(); t != nil {
		delegators = append(delegators, t)
		if b := st.bins(); b != nil {
			for _, name := range b.GetRoles() {
				grant(name, b.KeyIDs)
			}
		}
	}
	delegated := map[string]*targetsMD{}
	maps.Copy(delegated, st.Published.Delegated)
	maps.Copy(delegated, st.Staged.Delegated)
	for _, name := range slices.Sorted(maps.Keys(delegated)) {
		if md := st.DelegatedInEffect(name); md != nil {
			delegators = append(delegators, md)
		}
	}
	for _, md := range delegators {
		if md.Signed.Delegations == nil {
			continue
		}
		for _, r := range md.Signed.Delegations.Roles {
			grant(r.Name, r.KeyIDs)
		}
	}
	for _, role := range []string{"snapshot", "timestamp"} {
		if r := root.Signed.Roles[role]; r != nil {
			grant(role, r.KeyIDs)
		}
	}
	return roles
}
