package workspace

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
)

// PublishedRole is a published role's version and expiry.
type PublishedRole struct {
	Role    string
	Version int64
	Expires time.Time
	// Window is how long before expiry it should be signed again.
	Window time.Duration
}

// Due reports whether the role is inside its re-sign window (or expired).
func (p PublishedRole) Due(now time.Time) bool { return !now.Before(p.Expires.Add(-p.Window)) }

// BundleChange is a staged key list and how it differs from the published one.
type BundleChange struct {
	Host string
	Role string
	Diff bundle.Diff
}

// Status is the workspace at a glance.
type Status struct {
	Now       time.Time
	Published []PublishedRole
	Staged    []RoleCheck
	Bundles   []BundleChange
}

// Problems lists what `repo status --check` alerts on: staged roles still
// short of signatures, and published roles inside their re-sign window.
func (s Status) Problems() []string {
	var out []string
	for _, c := range s.Staged {
		if !c.Ready() {
			out = append(out, fmt.Sprintf("%s v%d is staged but not yet signed: waiting for %s", c.Role, c.Version, joinRefs(c.MissingSigners())))
		}
	}
	for _, p := range s.Published {
		if !p.Due(s.Now) {
			continue
		}
		if s.Now.After(p.Expires) {
			out = append(out, fmt.Sprintf("%s v%d expired at %s", p.Role, p.Version, p.Expires.Format(time.RFC3339)))
		} else {
			out = append(out, fmt.Sprintf("%s v%d expires at %s, within its re-sign window of %s", p.Role, p.Version, p.Expires.Format(time.RFC3339), Period(p.Window)))
		}
	}
	return out
}

// Status reports versions, expiries, signatures and staged key-list changes.
func (w *Workspace) Status() (Status, error) {
	st, err := w.Load()
	if err != nil {
		return Status{}, err
	}
	s := Status{Now: w.now()}
	win := w.Config.ResignWindow
	if r := st.Published.Root(); r != nil {
		s.Published = append(s.Published, PublishedRole{metadata.ROOT, r.Signed.Version, r.Signed.Expires, win.For(metadata.ROOT)})
	}
	if t := st.Published.Targets; t != nil {
		s.Published = append(s.Published, PublishedRole{metadata.TARGETS, t.Signed.Version, t.Signed.Expires, win.For(metadata.TARGETS)})
	}
	for _, role := range slices.Sorted(maps.Keys(st.Published.Delegated)) {
		d := st.Published.Delegated[role]
		s.Published = append(s.Published, PublishedRole{role, d.Signed.Version, d.Signed.Expires, win.For(role)})
	}
	if sn := st.Published.Snapshot; sn != nil {
		s.Published = append(s.Published, PublishedRole{metadata.SNAPSHOT, sn.Signed.Version, sn.Signed.Expires, win.For(metadata.SNAPSHOT)})
	}
	if ts := st.Published.Timestamp; ts != nil {
		s.Published = append(s.Published, PublishedRole{metadata.TIMESTAMP, ts.Signed.Version, ts.Signed.Expires, win.For(metadata.TIMESTAMP)})
	}
	names := w.keyNames()
	for _, role := range st.Staged.Roles() {
		c, _, err := w.checkRole(st, role, names)
		if err != nil {
			return s, err
		}
		s.Staged = append(s.Staged, c)
		md, _, _ := st.stagedRole(role)
		t, ok := md.(*targetsMD)
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(t.Signed.Targets)) {
			host, ok := hostOfTarget(name)
			if !ok {
				continue
			}
			data, err := w.ReadTarget(name, t.Signed.Targets[name])
			if err != nil {
				return s, err
			}
			p, err := bundle.Parse(data)
			if err != nil {
				return s, fmt.Errorf("staged %s is not a valid key list: %w", name, err)
			}
			published, err := w.publishedList(st, host)
			if err != nil {
				return s, err
			}
			if d := bundle.Compare(published, &p.List); !d.Empty() {
				s.Bundles = append(s.Bundles, BundleChange{Host: host, Role: role, Diff: d})
			}
		}
	}
	return s, nil
}

func hostOfTarget(name string) (string, bool) {
	const suffix = "/keys.json"
	if len(name) <= len(suffix) || name[len(name)-len(suffix):] != suffix {
		return "", false
	}
	return name[:len(name)-len(suffix)], true
}
