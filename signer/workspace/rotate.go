package workspace

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/translog"
)

// RotateOptions describes a root change. Keys to remove are named by keyid
// (or a unique prefix of at least 8 characters) or by the name of their
// .pub file in the workspace.
// Errors of a rotation.
var (
	// ErrNothingToChange marks a rotation that changes nothing.
	ErrNothingToChange = errors.New("nothing to change: name keys to add or remove, a threshold, or a new online key")
	// ErrAlsoTargets marks a root key removal that leaves targets short
	// of its threshold.
	ErrAlsoTargets = errors.New("targets would fall short of its threshold")
)

type RotateOptions struct {
	AddRootKeys       []PublicKey
	RemoveRootKeys    []string
	RootThreshold     int // 0 keeps the current threshold
	AddTargetsKeys    []PublicKey
	RemoveTargetsKeys []string
	TargetsThreshold  int
	OnlineKey         *PublicKey // replaces the snapshot and timestamp key
	// Log sets or replaces the transparency log policy; RemoveLog drops it.
	Log       *translog.Policy
	RemoveLog bool
}

// RotateResult tells what a root change staged.
type RotateResult struct {
	RootVersion int64
	// TargetsVersion is set when the targets keys changed, so the current
	// targets metadata must be signed again by the new targets keys.
	TargetsVersion int64
	// AlsoTargets are the removed root keys that were targets keys too,
	// and were removed there as well.
	AlsoTargets []string
}

// Rotate stages root N+1 with the requested key and threshold changes. It
// is signed like anything else: by the thresholds of the old root and of
// the new one. It checks the request, plans which keys leave which roles,
// applies the changes to a copy of the root, and writes the root (and the
// targets and bins the changed targets keys must sign again) to the stage.
func (w *Workspace) Rotate(opts RotateOptions) (RotateResult, error) {
	defer w.hold()()
	var res RotateResult
	if err := opts.validate(); err != nil {
		return res, err
	}
	st, err := w.Load()
	if err != nil {
		return res, err
	}
	root, err := st.editableRoot()
	if err != nil {
		return res, err
	}
	before, err := clone(root)
	if err != nil {
		return res, err
	}
	names := w.keyNames()
	removeTargets, alsoTargets := w.planRemovals(root, opts, names)
	res.AlsoTargets = alsoTargets
	if err := w.applyRoleChanges(root, opts, removeTargets, alsoTargets, names); err != nil {
		return res, err
	}
	if err := w.applyOnlineKey(root, opts.OnlineKey, names); err != nil {
		return res, err
	}
	if err := applyLogChange(root, opts); err != nil {
		return res, err
	}
	if sameSigned(root, before) {
		return res, ErrNothingToChange
	}
	root.Signed.Expires = w.expiry(metadata.ROOT)
	res.RootVersion = root.Signed.Version
	if targetsKeysChanged(before, root) {
		if res.TargetsVersion, err = w.restageTargets(st, root); err != nil {
			return res, err
		}
	}
	return res, w.writeStaged(metadata.ROOT, root)
}

// validate refuses a request that contradicts itself.
func (opts RotateOptions) validate() error {
	if opts.Log != nil && opts.RemoveLog {
		return marked.Errorf(ErrInvalid, "a log policy to set and one to remove: give one of them")
	}
	return nil
}

// planRemovals is the targets keys to remove: those asked for, and every
// root key removed that also signs targets (a key trusted no more to sign
// the root must not go on signing key lists), named in alsoTargets.
func (w *Workspace) planRemovals(root *rootMD, opts RotateOptions, names map[string]string) (removeTargets, alsoTargets []string) {
	removeTargets = slices.Clone(opts.RemoveTargetsKeys)
	for _, ref := range opts.RemoveRootKeys {
		id, err := resolveKey(ref, root.Signed.Roles[metadata.ROOT].KeyIDs, names)
		if err != nil {
			continue // reported with the root change
		}
		already := slices.ContainsFunc(removeTargets, func(t string) bool {
			other, err := resolveKey(t, root.Signed.Roles[metadata.TARGETS].KeyIDs, names)
			return err == nil && other == id
		})
		if slices.Contains(root.Signed.Roles[metadata.TARGETS].KeyIDs, id) && !already {
			removeTargets = append(removeTargets, id)
			alsoTargets = append(alsoTargets, w.refs([]string{id}, names)[0].String())
		}
	}
	return removeTargets, alsoTargets
}

// applyRoleChanges adds and removes root and targets keys and sets their
// thresholds.
func (w *Workspace) applyRoleChanges(root *rootMD, opts RotateOptions, removeTargets, alsoTargets []string, names map[string]string) error {
	for _, change := range []struct {
		role      string
		add       []PublicKey
		remove    []string
		threshold int
	}{
		{metadata.ROOT, opts.AddRootKeys, opts.RemoveRootKeys, opts.RootThreshold},
		{metadata.TARGETS, opts.AddTargetsKeys, removeTargets, opts.TargetsThreshold},
	} {
		if err := w.changeRole(root, change.role, change.add, change.remove, change.threshold, names); err != nil {
			if change.role == metadata.TARGETS && len(alsoTargets) > 0 {
				return fmt.Errorf("removing %s from root removes it from targets too, and then: %w: %w", strings.Join(alsoTargets, ", "), err, ErrAlsoTargets)
			}
			return err
		}
	}
	return nil
}

// applyOnlineKey makes key the snapshot and timestamp key, when given; it
// may sign neither root nor targets, as it sits on a server.
func (w *Workspace) applyOnlineKey(root *rootMD, key *PublicKey, names map[string]string) error {
	if key == nil {
		return nil
	}
	for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
		for _, id := range slices.Clone(root.Signed.Roles[role].KeyIDs) {
			if err := root.Signed.RevokeKey(id, role); err != nil {
				return err
			}
		}
		if err := w.changeRole(root, role, []PublicKey{*key}, nil, 1, names); err != nil {
			return err
		}
	}
	id, _ := tufKeyID(*key)
	for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
		if slices.Contains(root.Signed.Roles[role].KeyIDs, id) {
			return marked.Errorf(ErrInvalid, "the online key %s is also a %s key: use a separate key, because the online key sits on a server", key.Name, role)
		}
	}
	return nil
}

// applyLogChange sets or removes the transparency log's policy.
func applyLogChange(root *rootMD, opts RotateOptions) error {
	if opts.Log != nil {
		return setLog(root, opts.Log)
	}
	if opts.RemoveLog {
		fields, err := translog.SetRootCustom(root.Signed.UnrecognizedFields, nil)
		if err != nil {
			return err
		}
		root.Signed.UnrecognizedFields = fields
	}
	return nil
}

// targetsKeysChanged reports whether the targets keys or threshold
// changed: targets signed by the old keys may not satisfy the new ones.
func targetsKeysChanged(before, after *rootMD) bool {
	b, a := before.Signed.Roles[metadata.TARGETS], after.Signed.Roles[metadata.TARGETS]
	return !slices.Equal(b.KeyIDs, a.KeyIDs) || b.Threshold != a.Threshold
}

// restageTargets stages targets (and, with hashed bins, every bin, whose
// delegation follows the targets keys) to be signed again by the new
// targets keys, and returns the targets version staged.
func (w *Workspace) restageTargets(st *State, root *rootMD) (int64, error) {
	targets, err := st.editable(metadata.TARGETS, w)
	if err != nil {
		return 0, err
	}
	targets.Signed.Expires = w.expiry(metadata.TARGETS)
	if d := targets.Signed.Delegations; d != nil && d.SuccinctRoles != nil {
		bins := succinct(root, 1<<d.SuccinctRoles.BitLength)
		bins.SuccinctRoles.NamePrefix = d.SuccinctRoles.NamePrefix
		targets.Signed.Delegations = bins
		for _, name := range bins.SuccinctRoles.GetRoles() {
			md, err := st.editable(name, w)
			if err != nil {
				return 0, err
			}
			md.Signed.Expires = w.expiry(name)
			if err := w.writeStaged(name, md); err != nil {
				return 0, err
			}
		}
	}
	return targets.Signed.Version, w.writeStaged(metadata.TARGETS, targets)
}

// setLog writes the log policy into the root, refusing one that does not
// check out (a usage error: the flags gave it).
func setLog(root *rootMD, p *translog.Policy) error {
	fields, err := translog.SetRootCustom(root.Signed.UnrecognizedFields, p)
	if err != nil {
		return marked.Errorf(ErrInvalid, "%v", err)
	}
	root.Signed.UnrecognizedFields = fields
	return nil
}

// LogPolicy is the transparency log the root in effect names, if any.
func (r *Release) LogPolicy() (translog.Policy, bool, error) {
	return translog.FromRootCustom(r.Root().Signed.UnrecognizedFields)
}

func (w *Workspace) changeRole(root *rootMD, role string, add []PublicKey, remove []string, threshold int, names map[string]string) error {
	for _, k := range add {
		id, err := w.addKey(k)
		if err != nil {
			return err
		}
		if slices.Contains(root.Signed.Roles[role].KeyIDs, id) {
			return marked.Errorf(ErrInvalid, "key %s is already a %s key", k.Name, role)
		}
		tk, err := tufKey(k)
		if err != nil {
			return err
		}
		if err := root.Signed.AddKey(tk, role); err != nil {
			return err
		}
		names[id] = k.Name
	}
	for _, ref := range remove {
		id, err := resolveKey(ref, root.Signed.Roles[role].KeyIDs, names)
		if err != nil {
			return marked.Errorf(ErrInvalid, "cannot remove %s key %q: %w; the %s keys are %s", role, ref, err, role, joinRefs(w.refs(root.Signed.Roles[role].KeyIDs, names)))
		}
		if err := root.Signed.RevokeKey(id, role); err != nil {
			return err
		}
	}
	if threshold != 0 {
		root.Signed.Roles[role].Threshold = threshold
	}
	return checkThreshold(role, root.Signed.Roles[role].Threshold, len(root.Signed.Roles[role].KeyIDs))
}

// resolveKey finds a role's keyid from a keyid, a keyid prefix or a name.
func resolveKey(ref string, ids []string, names map[string]string) (string, error) {
	var matches []string
	for _, id := range ids {
		if id == ref || names[id] == ref || (len(ref) >= 8 && strings.HasPrefix(id, ref)) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", errors.New("no key of that role has that keyid or name")
	default:
		return "", errors.New("it matches several keys: give more of the keyid")
	}
}

func tufKeyID(k PublicKey) (string, error) {
	tk, err := tufKey(k)
	if err != nil {
		return "", err
	}
	return tk.ID()
}
