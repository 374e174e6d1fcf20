package workspace

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tufkeys/tufkeys/internal/binfold"

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
	// Unrecorded are the published keys the list drops that no repo stage
	// --remove-key recorded in the signed metadata: a hand-edited or
	// mistaken list, which repo sign refuses.
	Unrecorded []string
}

// Lines renders the change one key per line, marking each removal as
// asked for or not.
func (b BundleChange) Lines() []string {
	out := b.Diff.Lines()
	for i, k := range b.Diff.Removed {
		line := &out[len(b.Diff.Added)+i]
		if slices.Contains(b.Unrecorded, k.KeyID) {
			*line += ", its removal NOT recorded"
		} else {
			*line += ", its removal recorded"
		}
	}
	return out
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
func (s Status) Problems() []Problem {
	var out []Problem
	for _, b := range s.Bundles {
		if len(b.Unrecorded) > 0 {
			out = append(out, Problem{ProblemUnrecordedRemoval, fmt.Sprintf("the staged key list of %s in %s drops %v with no removal recorded: signing refuses it; stage the list again, recording the removal", b.Host, b.Role, b.Unrecorded)})
		}
	}
	for _, c := range s.Staged {
		if !c.Ready() {
			out = append(out, Problem{ProblemUnsigned, fmt.Sprintf("%s v%d is staged but not yet signed: waiting for %s", c.Role, c.Version, joinRefs(c.MissingSigners()))})
		}
	}
	for _, p := range s.Published {
		if !p.Due(s.Now) {
			continue
		}
		if s.Now.After(p.Expires) {
			out = append(out, Problem{ProblemExpired, fmt.Sprintf("%s v%d expired at %s", p.Role, p.Version, p.Expires.UTC().Format(time.RFC3339))})
		} else {
			out = append(out, Problem{ProblemDue, fmt.Sprintf("%s v%d expires at %s, within its re-sign window of %s", p.Role, p.Version, p.Expires.UTC().Format(time.RFC3339), Period(p.Window))})
		}
	}
	return groupBins(out)
}

// Problem is one thing that needs the maintainers: a stable code for
// scripts and a sentence for people.
type Problem struct {
	Code    string
	Message string
}

func (p Problem) String() string { return p.Message }

// The problems' codes, which scripts may match on; they never change.
const (
	ProblemUnrecordedRemoval = "unrecorded_removal" // a staged list drops a key with no --remove-key
	ProblemUnsigned          = "unsigned"           // staged below its threshold
	ProblemDue               = "due"                // published, inside its re-sign window
	ProblemExpired           = "expired"            // published, expired
)

// groupBins joins the problems about bins that say the same thing: 64
// bins waiting for one signer are one problem.
func groupBins(problems []Problem) []Problem {
	var out []Problem
	role := func(p Problem) string { r, _, _ := strings.Cut(p.Message, " "); return r }
	for _, g := range binfold.Fold(problems, role, func(p Problem) string {
		r, rest, _ := strings.Cut(p.Message, " ")
		if !binfold.IsBin(r) {
			return p.Code + "\x00" + p.Message
		}
		return p.Code + "\x00" + rest
	}) {
		code, state, _ := strings.Cut(g.State, "\x00")
		if len(g.Roles) == 1 && !binfold.IsBin(g.Roles[0]) {
			out = append(out, Problem{code, state})
			continue
		}
		out = append(out, Problem{code, g.Names() + " " + state})
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
		changes, err := w.stagedChanges(st, role)
		if err != nil {
			return s, err
		}
		s.Bundles = append(s.Bundles, changes...)
	}
	return s, nil
}

// stagedChanges compares each key list a staged targets role names with
// the published list of its registry.
func (w *Workspace) stagedChanges(st *State, role string) ([]BundleChange, error) {
	md, _, _ := st.stagedRole(role)
	t, ok := md.(*targetsMD)
	if !ok {
		return nil, nil
	}
	var out []BundleChange
	for _, name := range slices.Sorted(maps.Keys(t.Signed.Targets)) {
		host, ok := bundle.HostOfTarget(name)
		if !ok {
			continue
		}
		tf := t.Signed.Targets[name]
		data, err := w.ReadTarget(name, tf)
		if err != nil {
			return nil, err
		}
		p, err := bundle.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("staged %s is not a valid key list: %w", name, err)
		}
		published, err := w.publishedList(st, host)
		if err != nil {
			return nil, err
		}
		d := bundle.Compare(published, &p.List)
		if d.Empty() {
			continue
		}
		c := BundleChange{Host: host, Role: role, Diff: d}
		recorded := recordedRemovals(tf)
		for _, k := range d.Removed {
			if !slices.Contains(recorded, k.KeyID) {
				c.Unrecorded = append(c.Unrecorded, k.KeyID)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
