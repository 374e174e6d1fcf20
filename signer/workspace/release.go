package workspace

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

var (
	// ErrBelowThreshold marks a staged role without enough signatures.
	ErrBelowThreshold = errors.New("not enough signatures")
	// ErrExpired marks metadata that would be published already expired.
	ErrExpired = errors.New("metadata expired")
	// ErrNothingPublished marks a workspace that has never been published.
	ErrNothingPublished = errors.New("nothing published yet")
	// ErrUninitialized marks a workspace that repo init has not set up.
	ErrUninitialized = errors.New("the workspace is not initialized")
	// ErrResignTargets marks targets metadata a new root's targets keys
	// have not signed yet.
	ErrResignTargets = fmt.Errorf("targets must be signed again under the new root: %w", ErrBelowThreshold)
)

// Release is the signed metadata a publish puts online: the staged roles
// with their signatures attached, over the published ones they replace.
type Release struct {
	// Roots holds every root version, oldest first; the last is in effect.
	Roots     []*rootMD
	RootBytes [][]byte
	Targets   *targetsMD
	// TargetsBytes and DelegatedBytes are the files as they will be served.
	TargetsBytes   []byte
	Delegated      map[string]*targetsMD
	DelegatedBytes map[string][]byte
	// NewRoles lists the roles this release signs anew.
	NewRoles []string
	// Snapshot and Timestamp are the last published ones, for version
	// numbers and for publishing the same release to another store.
	Snapshot       *snapshotMD
	Timestamp      *timestampMD
	SnapshotBytes  []byte
	TimestampBytes []byte
	// Prior names the files the workspace's last publish put online, so a
	// publish to the same origin need not check them again.
	Prior map[string]bool
}

// Root is the root in effect.
func (r *Release) Root() *rootMD { return r.Roots[len(r.Roots)-1] }

// Release assembles what a publish would put online and checks it the way
// a client will: every threshold (a new root needs its predecessor's and its
// own), every signature, every expiry. With includeStaged false it assembles
// the published state alone, for re-signing the timestamp.
func (w *Workspace) Release(includeStaged bool) (*Release, error) {
	st, err := w.Load()
	if err != nil {
		return nil, err
	}
	if !includeStaged {
		st.Staged = Staged{Delegated: map[string]*targetsMD{}, Signatures: map[string]map[string][]byte{}}
	}
	if st.RootInEffect() == nil {
		return nil, fmt.Errorf("the workspace has no root: %w", ErrUninitialized)
	}
	if !includeStaged && st.Published.Targets == nil {
		return nil, ErrNothingPublished
	}
	names := w.keyNames()
	rel := &Release{
		Roots:          append([]*rootMD{}, st.Published.Roots...),
		RootBytes:      append([][]byte{}, st.Published.RootBytes...),
		Targets:        st.Published.Targets,
		TargetsBytes:   st.Published.TargetsBytes,
		Delegated:      map[string]*targetsMD{},
		DelegatedBytes: map[string][]byte{},
		Snapshot:       st.Published.Snapshot,
		Timestamp:      st.Published.Timestamp,
		SnapshotBytes:  st.Published.SnapshotBytes,
		TimestampBytes: st.Published.TimestampBytes,
	}
	rel.Prior = map[string]bool{}
	for i := range st.Published.Roots {
		rel.Prior[VersionedFile(int64(i+1), metadata.ROOT)] = true
	}
	prior := func(role string, md *targetsMD) {
		rel.Prior[VersionedFile(md.Signed.Version, role)] = true
		for name, tf := range md.Signed.Targets {
			rel.Prior[targetPath(name, tf)] = true
		}
	}
	if st.Published.Targets != nil {
		prior(metadata.TARGETS, st.Published.Targets)
	}
	for role, md := range st.Published.Delegated {
		rel.Delegated[role] = md
		rel.DelegatedBytes[role] = st.Published.DelegatedBytes[role]
		prior(role, md)
	}
	var short []string
	for _, role := range st.Staged.Roles() {
		check, sigs, err := w.checkRole(st, role, names)
		if err != nil {
			return nil, err
		}
		if !check.Ready() {
			short = append(short, check.Line())
			continue
		}
		rel.NewRoles = append(rel.NewRoles, role)
		md, _, _ := st.stagedRole(role)
		switch m := md.(type) {
		case *rootMD:
			c, data, err := signedCopy(m, sigs)
			if err != nil {
				return nil, err
			}
			rel.Roots = append(rel.Roots, c)
			rel.RootBytes = append(rel.RootBytes, data)
		case *targetsMD:
			c, data, err := signedCopy(m, sigs)
			if err != nil {
				return nil, err
			}
			if role == metadata.TARGETS {
				rel.Targets, rel.TargetsBytes = c, data
			} else {
				rel.Delegated[role], rel.DelegatedBytes[role] = c, data
			}
		}
	}
	if len(short) > 0 {
		return nil, fmt.Errorf("cannot publish below threshold: %s: %w", strings.Join(short, "; "), ErrBelowThreshold)
	}
	if err := rel.verify(w.now()); err != nil {
		return nil, err
	}
	return rel, nil
}

// verify checks the release with go-tuf's own verification, as a client
// holding the previous root would.
func (r *Release) verify(now time.Time) error {
	for i := 1; i < len(r.Roots); i++ {
		prev, next := r.Roots[i-1], r.Roots[i]
		if next.Signed.Version != prev.Signed.Version+1 {
			return fmt.Errorf("root v%d does not follow root v%d", next.Signed.Version, prev.Signed.Version)
		}
		if err := prev.VerifyDelegate(metadata.ROOT, next); err != nil {
			return fmt.Errorf("root v%d is not signed by the threshold of root v%d: %v: %w", next.Signed.Version, prev.Signed.Version, err, ErrBelowThreshold)
		}
	}
	root := r.Root()
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return fmt.Errorf("root v%d is not signed by its own threshold: %v: %w", root.Signed.Version, err, ErrBelowThreshold)
	}
	if root.Signed.IsExpired(now) {
		return expired("root", root.Signed.Version, root.Signed.Expires, "root")
	}
	if r.Targets == nil {
		return errors.New("targets v1 is not signed yet: sign it before the first publish")
	}
	if err := root.VerifyDelegate(metadata.TARGETS, r.Targets); err != nil {
		return fmt.Errorf("targets v%d does not meet the targets threshold of root v%d (%v): %w", r.Targets.Signed.Version, root.Signed.Version, err, ErrResignTargets)
	}
	if r.Targets.Signed.IsExpired(now) {
		return expired("targets", r.Targets.Signed.Version, r.Targets.Signed.Expires, "targets")
	}
	return r.verifyDelegations(r.Targets, now, 0)
}

// verifyDelegations checks every role a targets role delegates to, and
// theirs in turn: hashed bins, and registries a bin delegates to.
func (r *Release) verifyDelegations(parent *targetsMD, now time.Time, depth int) error {
	d := parent.Signed.Delegations
	if d == nil {
		return nil
	}
	if depth > 2 {
		return errors.New("delegations nest deeper than targets, bin, registry")
	}
	names := make([]string, 0, len(d.Roles))
	for _, role := range d.Roles {
		names = append(names, role.Name)
	}
	if d.SuccinctRoles != nil {
		names = d.SuccinctRoles.GetRoles()
	}
	for _, name := range names {
		md := r.Delegated[name]
		if md == nil {
			return fmt.Errorf("%s is delegated, but has no signed metadata yet: stage its key list and have its keys sign", name)
		}
		if err := parent.VerifyDelegate(name, md); err != nil {
			return fmt.Errorf("%s v%d does not meet its delegation's threshold (%v): %w", name, md.Signed.Version, err, ErrBelowThreshold)
		}
		if md.Signed.IsExpired(now) {
			return expired(name, md.Signed.Version, md.Signed.Expires, name)
		}
		if err := r.verifyDelegations(md, now, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func expired(role string, version int64, at time.Time, renew string) error {
	return &ExpiredError{Role: role, Version: version, At: at, Renew: renew}
}

// ExpiredError is published metadata that expired: clients refuse it until
// a renewal of Renew (the role to renew) is signed and published.
type ExpiredError struct {
	Role    string
	Version int64
	At      time.Time
	Renew   string
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s v%d expired at %s, and clients refuse expired metadata", e.Role, e.Version, e.At.Format(time.RFC3339))
}

func (e *ExpiredError) Unwrap() error { return ErrExpired }

// Record notes a completed publish in the workspace: the newly signed roles
// join the published history, the snapshot and timestamp replace the last
// ones, and the staged copies and their signatures are removed.
func (w *Workspace) Record(rel *Release, snapshot, timestamp []byte) error {
	for _, role := range rel.NewRoles {
		var version int64
		var data []byte
		switch role {
		case metadata.ROOT:
			version, data = rel.Root().Signed.Version, rel.RootBytes[len(rel.RootBytes)-1]
		case metadata.TARGETS:
			version, data = rel.Targets.Signed.Version, rel.TargetsBytes
		default:
			version, data = rel.Delegated[role].Signed.Version, rel.DelegatedBytes[role]
		}
		if err := w.write(path.Join(publishedDir, VersionedFile(version, role)), data); err != nil {
			return err
		}
	}
	if err := w.write(path.Join(publishedDir, RoleFile(metadata.SNAPSHOT)), snapshot); err != nil {
		return err
	}
	if err := w.write(path.Join(publishedDir, RoleFile(metadata.TIMESTAMP)), timestamp); err != nil {
		return err
	}
	for _, role := range rel.NewRoles {
		if err := os.Remove(w.path(stagedDir, RoleFile(role))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.RemoveAll(w.path(signaturesDir, role)); err != nil {
			return err
		}
	}
	return nil
}
