package workspace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/binfold"
	"github.com/tufkeys/tufkeys/signer/keyfile"
)

var (
	// ErrNothingStaged marks a sign or publish with nothing to do.
	ErrNothingStaged = errors.New("nothing is staged")
	// ErrUnauthorizedKey marks a key that may sign none of the staged roles.
	ErrUnauthorizedKey = errors.New("key may not sign any staged role")
)

// unauthorizedError names the key and who may sign, and is
// ErrUnauthorizedKey without repeating its words.
type unauthorizedError struct{ msg string }

func (e unauthorizedError) Error() string        { return e.msg }
func (e unauthorizedError) Is(target error) bool { return target == ErrUnauthorizedKey }

// SignResult tells, per staged role the key may sign, what signing did.
type SignResult struct {
	Signer  KeyName
	Signed  []string // roles that got this key's signature now
	Already []string // roles this key had signed before; left as they were
	Checks  []RoleCheck
	// Changes are the key-list changes the signed roles carry against
	// the published lists: what the signature approves.
	Changes []BundleChange
}

// Sign adds the key's signature to every staged role it may sign. Signing
// twice changes nothing. Before it signs a targets role, it checks that the
// key lists the metadata names are present, match their hashes and are
// valid, because a signature vouches for them.
func (w *Workspace) Sign(s *keyfile.Signer) (SignResult, error) {
	res := SignResult{}
	st, err := w.Load()
	if err != nil {
		return res, err
	}
	names := w.keyNames()
	if names[s.KeyID] == "" {
		names[s.KeyID] = s.Name
	}
	res.Signer = KeyName{ID: s.KeyID, Name: names[s.KeyID]}
	roles := st.Staged.Roles()
	if len(roles) == 0 {
		return res, ErrNothingStaged
	}
	var mine []string
	var wanted []want
	for _, role := range roles {
		reqs, err := st.requirements(role)
		if err != nil {
			return res, err
		}
		var ids []string
		for _, r := range reqs {
			ids = append(ids, r.keyIDs...)
		}
		if slices.Contains(ids, s.KeyID) {
			mine = append(mine, role)
		} else {
			_, v, _ := st.stagedRole(role)
			wanted = append(wanted, want{role, fmt.Sprintf(" v%d", v), joinRefs(w.refs(uniq(ids), names))})
		}
	}
	if len(mine) == 0 {
		return res, unauthorizedError{fmt.Sprintf("key %s may sign nothing staged: %s", res.Signer, neededKeys(wanted))}
	}
	for _, role := range mine {
		md, _, _ := st.stagedRole(role)
		changes, err := w.approves(st, role)
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, changes...)
		payload, err := canonical(md)
		if err != nil {
			return res, err
		}
		reqs, _ := st.requirements(role)
		if old, ok := st.Staged.Signatures[role][s.KeyID]; ok && verifySignature(findKey(reqs, s.KeyID), payload, old) {
			res.Already = append(res.Already, role)
			continue
		}
		sig, err := s.SignMessage(bytes.NewReader(payload))
		if err != nil {
			return res, fmt.Errorf("sign %s: %w", role, err)
		}
		data, err := json.MarshalIndent(metadata.Signature{KeyID: s.KeyID, Signature: sig}, "", "  ")
		if err != nil {
			return res, err
		}
		if err := w.write(path.Join(signaturesDir, role, s.KeyID+".json"), append(data, '\n')); err != nil {
			return res, err
		}
		res.Signed = append(res.Signed, role)
	}
	st, err = w.Load()
	if err != nil {
		return res, err
	}
	for _, role := range mine {
		c, _, err := w.checkRole(st, role, names)
		if err != nil {
			return res, err
		}
		res.Checks = append(res.Checks, c)
	}
	return res, nil
}

// approves is what a signature of the staged role vouches for: for a
// targets role, the key-list changes it carries, once every key list it
// names is checked; refused when a list drops a published key without a
// recorded --remove-key.
func (w *Workspace) approves(st *State, role string) ([]BundleChange, error) {
	md, v, _ := st.stagedRole(role)
	t, ok := md.(*targetsMD)
	if !ok {
		return nil, nil
	}
	if err := w.checkTargets(t); err != nil {
		return nil, fmt.Errorf("refusing to sign %s: %w", role, err)
	}
	changes, err := w.stagedChanges(st, role)
	if err != nil {
		return nil, fmt.Errorf("refusing to sign %s: %w", role, err)
	}
	for _, c := range changes {
		if len(c.Unrecorded) > 0 {
			// the stage-time guard, again where it counts: a staged file
			// edited by hand never went through it
			return nil, &DroppedKeyError{Host: c.Host, Role: role, Version: v, KeyIDs: c.Unrecorded, Signing: true}
		}
	}
	return changes, nil
}

// Approval is what signing the staged roles approves, for a maintainer to
// read before any key is opened: every staged role with its signatures so
// far, and the key-list changes they carry. The key decides which of them
// it signs.
type Approval struct {
	Roles   []RoleCheck
	Changes []BundleChange
}

// Approval checks what is staged as Sign would, and says what a signature
// approves.
func (w *Workspace) Approval() (Approval, error) {
	var a Approval
	st, err := w.Load()
	if err != nil {
		return a, err
	}
	roles := st.Staged.Roles()
	if len(roles) == 0 {
		return a, ErrNothingStaged
	}
	names := w.keyNames()
	for _, role := range roles {
		changes, err := w.approves(st, role)
		if err != nil {
			return a, err
		}
		a.Changes = append(a.Changes, changes...)
		c, _, err := w.checkRole(st, role, names)
		if err != nil {
			return a, err
		}
		a.Roles = append(a.Roles, c)
	}
	return a, nil
}

// checkTargets verifies every key list a targets role names.
func (w *Workspace) checkTargets(md *targetsMD) error {
	for _, name := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
		data, err := w.ReadTarget(name, md.Signed.Targets[name])
		if err != nil {
			return err
		}
		if _, err := bundle.Parse(data); err != nil {
			return fmt.Errorf("%s is not a valid key list: %w", name, err)
		}
	}
	return nil
}

func uniq(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// want is a staged role a key may not sign: its version and the keys that
// may.
type want struct {
	role  string
	state string
	needs string
}

// neededKeys names who may sign what, each set of keys once: roles that
// need the same keys are named together, bins folded.
func neededKeys(wanted []want) string {
	var order []string
	byNeeds := map[string][]want{}
	for _, x := range wanted {
		if _, seen := byNeeds[x.needs]; !seen {
			order = append(order, x.needs)
		}
		byNeeds[x.needs] = append(byNeeds[x.needs], x)
	}
	var needs []string
	for _, n := range order {
		var roles []string
		for _, g := range binfold.Fold(byNeeds[n], func(w want) string { return w.role }, func(w want) string { return w.state }) {
			roles = append(roles, g.Names()+g.State)
		}
		verb := " needs "
		if len(roles) > 1 || len(byNeeds[n]) > 1 {
			verb = " need "
		}
		needs = append(needs, strings.Join(roles, ", ")+verb+n)
	}
	return strings.Join(needs, "; ")
}
