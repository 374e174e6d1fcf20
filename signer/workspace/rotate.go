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
// the new one.
func (w *Workspace) Rotate(opts RotateOptions) (RotateResult, error) {
	defer w.hold()()
	var res RotateResult
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
	// a maintainer rotated out of root leaves targets too: a key trusted
	// no more to sign the root must not go on signing key lists
	removeTargets := slices.Clone(opts.RemoveTargetsKeys)
	for _, ref := range opts.RemoveRootKeys {
		id, err := resolveKey(ref, root.Signed.Roles[metadata.ROOT].KeyIDs, names)
		if err != nil {
			continue // reported below, with the root change
		}
		already := false
		for _, t := range removeTargets {
			if other, err := resolveKey(t, root.Signed.Roles[metadata.TARGETS].KeyIDs, names); err == nil && other == id {
				already = true
			}
		}
		if slices.Contains(root.Signed.Roles[metadata.TARGETS].KeyIDs, id) && !already {
			removeTargets = append(removeTargets, id)
			res.AlsoTargets = append(res.AlsoTargets, w.refs([]string{id}, names)[0].String())
		}
	}
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
			if change.role == metadata.TARGETS && len(res.AlsoTargets) > 0 {
				return res, fmt.Errorf("removing %s from root removes it from targets too, and then: %w: %w", strings.Join(res.AlsoTargets, ", "), err, ErrAlsoTargets)
			}
			return res, err
		}
	}
	if opts.OnlineKey != nil {
		for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
			for _, id := range slices.Clone(root.Signed.Roles[role].KeyIDs) {
				if err := root.Signed.RevokeKey(id, role); err != nil {
					return res, err
				}
			}
			if err := w.changeRole(root, role, []PublicKey{*opts.OnlineKey}, nil, 1, names); err != nil {
				return res, err
			}
		}
		id, _ := tufKeyID(*opts.OnlineKey)
		for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
			if slices.Contains(root.Signed.Roles[role].KeyIDs, id) {
				return res, marked.Errorf(ErrInvalid, "the online key %s is also a %s key: use a separate key, because the online key sits on a server", opts.OnlineKey.Name, role)
			}
		}
	}
	if opts.Log != nil && opts.RemoveLog {
		return res, marked.Errorf(ErrInvalid, "a log policy to set and one to remove: give one of them")
	}
	if opts.Log != nil {
		if err := setLog(root, opts.Log); err != nil {
			return res, err
		}
	}
	if opts.RemoveLog {
		if root.Signed.UnrecognizedFields, err = translog.SetRootCustom(root.Signed.UnrecognizedFields, nil); err != nil {
			return res, err
		}
	}
	if sameSigned(root, before) {
		return res, ErrNothingToChange
	}
	root.Signed.Expires = w.expiry(metadata.ROOT)
	res.RootVersion = root.Signed.Version
	if !slices.Equal(before.Signed.Roles[metadata.TARGETS].KeyIDs, root.Signed.Roles[metadata.TARGETS].KeyIDs) ||
		before.Signed.Roles[metadata.TARGETS].Threshold != root.Signed.Roles[metadata.TARGETS].Threshold {
		// targets signed by the old keys may not satisfy the new ones
		targets, err := st.editable(metadata.TARGETS, w)
		if err != nil {
			return res, err
		}
		targets.Signed.Expires = w.expiry(metadata.TARGETS)
		res.TargetsVersion = targets.Signed.Version
		if d := targets.Signed.Delegations; d != nil && d.SuccinctRoles != nil {
			// the bins are the targets keys' to sign: they follow the
			// change, and every bin is signed again by the new keys
			bins := succinct(root, 1<<d.SuccinctRoles.BitLength)
			bins.SuccinctRoles.NamePrefix = d.SuccinctRoles.NamePrefix
			targets.Signed.Delegations = bins
			for _, name := range bins.SuccinctRoles.GetRoles() {
				md, err := st.editable(name, w)
				if err != nil {
					return res, err
				}
				md.Signed.Expires = w.expiry(name)
				if err := w.writeStaged(name, md); err != nil {
					return res, err
				}
			}
		}
		if err := w.writeStaged(metadata.TARGETS, targets); err != nil {
			return res, err
		}
	}
	return res, w.writeStaged(metadata.ROOT, root)
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
