package mirror

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/redact"
	"github.com/tufkeys/tufkeys/store"
)

// Repository is a whole repository, verified: every file a mirror must
// serve, in the order a writer must put them in place.
type Repository struct {
	// Objects are in the order a writer puts them in place (store.Sync).
	Objects []store.Object
	// KeyLists are the target names, e.g. registry.example.test/keys.json.
	KeyLists       []string
	RootVersion    int64
	TargetsVersion int64
	// current maps the key lists the metadata names now to their sha256.
	current map[string]string
	// what the collection verified, parsed once for the steps after it:
	// the authenticated roots, oldest first; each version of targets and
	// of the delegated roles, in the order it verified; the timestamp
	roots     []session.VersionedRoot
	verified  []session.Parent
	timestamp *metadata.Metadata[metadata.TimestampType]
}

// Collect downloads a whole repository (every root version; the current
// timestamp, snapshot, targets and delegated metadata; every key list they
// name) and verifies it with TUF against the client's trusted root, as the
// client would. Nothing unverified is returned.
func Collect(ctx context.Context, cl *client.Client, repo string) (*Repository, error) {
	s, err := session.Open(ctx, cl, repo)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return collect(ctx, s)
}

func collect(ctx context.Context, s *session.Session) (*Repository, error) {
	var last string
	get := func(name string, max int64) ([]byte, error) {
		last = name
		return s.Get(name, max)
	}
	top := s.Top
	tm, snapName := top.TM, top.SnapshotName
	r := &Repository{roots: top.Roots, timestamp: tm.Timestamp}
	versions := map[string]int64{}
	add := func(name string, data []byte, phase int) {
		r.Objects = append(r.Objects, store.Object{Name: name, Data: data, Phase: phase})
	}
	for _, vr := range top.Roots {
		add(session.RootName(vr.Version), vr.Data, store.PhaseRoot)
	}
	if len(top.Unverified) > 0 {
		s.Log.Warn("earlier roots this client cannot authenticate (older than its trusted root, and not the ones it holds) are not copied", "roots", rootVersions(top.Unverified))
	}
	r.RootVersion = tm.Root.Signed.Version
	// breadth first through the delegations, parents before children
	type role struct{ name, parent string }
	queue := []role{{metadata.TARGETS, metadata.ROOT}}
	seen := map[string]bool{}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if seen[next.name] {
			continue
		}
		if seen[next.name] = true; len(seen) > session.MaxRoles {
			return nil, fmt.Errorf("the repository at %s delegates to more than %d roles: refusing it: %w", redact.URL(s.Repo), session.MaxRoles, client.ErrUntrusted)
		}
		meta, ok := tm.Snapshot.Signed.Meta[next.name+".json"]
		if !ok {
			return nil, fmt.Errorf("the snapshot of %s lists no %s: refusing it: %w", redact.URL(s.Repo), next.name, client.ErrUntrusted)
		}
		name := fmt.Sprintf("%d.%s.json", meta.Version, next.name)
		data, err := get(name, session.LengthOr(meta.Length, session.TargetsMax))
		if err != nil {
			return nil, err
		}
		md, err := tm.UpdateDelegatedTargets(data, next.name, next.parent)
		if err != nil {
			return nil, s.Explain(last, err)
		}
		versions[next.name] = md.Signed.Version
		r.verified = append(r.verified, session.Parent{Role: next.name, MD: md})
		if next.name == metadata.TARGETS {
			add(name, data, store.PhaseTargetsMeta)
			r.TargetsVersion = md.Signed.Version
		} else {
			add(name, data, store.PhaseDelegated)
		}
		if err := collectTargets(get, md, r); err != nil {
			return nil, s.Explain(last, err)
		}
		if md.Signed.Delegations != nil {
			if b := md.Signed.Delegations.SuccinctRoles; b != nil {
				if b.BitLength < 1 || b.BitLength > 16 {
					return nil, fmt.Errorf("the repository at %s delegates to 2^%d hashed bins, beyond the 2^16 tufkeys copies: refusing it: %w", redact.URL(s.Repo), b.BitLength, client.ErrUntrusted)
				}
				for _, bin := range b.GetRoles() {
					queue = append(queue, role{bin, next.name})
				}
			}
			for _, d := range md.Signed.Delegations.Roles {
				queue = append(queue, role{d.Name, next.name})
			}
		}
	}
	// a source older than what the client trusts is refused before its
	// history and its log are read
	versions[metadata.ROOT] = tm.Root.Signed.Version
	versions[metadata.TIMESTAMP] = tm.Timestamp.Signed.Version
	versions[metadata.SNAPSHOT] = tm.Snapshot.Signed.Version
	if err := s.NotOlderThanTrusted(ctx, versions); err != nil {
		return nil, err
	}
	if err := collectHistory(s, get, r, versions); err != nil {
		return nil, err
	}
	if err := collectLog(ctx, s, tm.Root, get, r); err != nil {
		return nil, err
	}
	add(snapName, top.Snapshot, store.PhaseSnapshot)
	add(timestampFile, top.Timestamp, store.PhaseTimestamp)
	// writers put files in place phase by phase; within a phase, in the
	// order they were verified
	slices.SortStableFunc(r.Objects, func(a, b store.Object) int { return a.Phase - b.Phase })
	sort.Strings(r.KeyLists)
	return r, nil
}

// Object returns the bytes of the named file of the repository, or nil.
func (r *Repository) Object(name string) []byte {
	for _, o := range r.Objects {
		if o.Name == name {
			return o.Data
		}
	}
	return nil
}

// rootMetadata is every root the collection authenticated, oldest first.
func (r *Repository) rootMetadata() []*metadata.Metadata[metadata.RootType] {
	out := make([]*metadata.Metadata[metadata.RootType], len(r.roots))
	for i, vr := range r.roots {
		out[i] = vr.MD
	}
	return out
}

// collectHistory adds every earlier version of targets and of the
// delegated roles (bins among them), and the key lists they name, so that
// a mirror or an archive carries the repository's history as the origin
// does (tufkeys history reads it). Each version is verified as History
// verifies it, against a root of the chain or a verified version of its
// delegator; one that does not verify is left out, with a warning, and a
// version the source lacks is a gap a copy keeps.
func collectHistory(s *session.Session, get func(string, int64) ([]byte, error), r *Repository, current map[string]int64) error {
	roots := r.rootMetadata()
	have := map[string]bool{}
	for _, o := range r.Objects {
		have[o.Name] = true
	}
	roles := []string{metadata.TARGETS}
	for _, role := range slices.Sorted(maps.Keys(current)) {
		if !slices.Contains(session.TopLevelRoles, role) {
			roles = append(roles, role)
		}
	}
	for _, role := range roles {
		for v := int64(1); v < min(current[role], session.MaxHistory); v++ {
			name := fmt.Sprintf("%d.%s.json", v, role)
			if have[name] {
				continue
			}
			data, err := get(name, session.TargetsMax)
			if err != nil {
				continue // a gap in the source's history stays a gap
			}
			md, err := metadata.Targets().FromBytes(data)
			if err != nil || md.Signed.Version != v {
				s.Log.Warn("an earlier version does not verify; it is not copied", "file", name)
				continue
			}
			var by string
			if role == metadata.TARGETS {
				_, by = session.VerifiedUnderRoots(md, roots)
			} else {
				_, by = session.VerifiedUnderDelegators(md, role, r.verified)
			}
			if by == "" {
				s.Log.Warn("an earlier version does not verify; it is not copied", "file", name)
				continue
			}
			r.verified = append(r.verified, session.Parent{Role: role, MD: md})
			phase := store.PhaseDelegated
			if role == metadata.TARGETS {
				phase = store.PhaseTargetsMeta
			}
			r.Objects = append(r.Objects, store.Object{Name: name, Data: data, Phase: phase})
			have[name] = true
			for _, t := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
				tf := md.Signed.Targets[t]
				file := session.TargetFile(t, hex.EncodeToString(tf.Hashes["sha256"]))
				if have[file] {
					continue
				}
				list, err := get(file, tf.Length)
				if err != nil || tf.VerifyLengthHashes(list) != nil {
					continue
				}
				r.Objects = append(r.Objects, store.Object{Name: file, Data: list, Phase: store.PhaseTargets})
				have[file] = true
			}
		}
	}
	return nil
}

// collectTargets downloads and checks every target a role lists.
func collectTargets(get func(string, int64) ([]byte, error), md *metadata.Metadata[metadata.TargetsType], r *Repository) error {
	names := make([]string, 0, len(md.Signed.Targets))
	for n := range md.Signed.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tf := md.Signed.Targets[n]
		sum := hex.EncodeToString(tf.Hashes["sha256"])
		name := session.TargetFile(n, sum)
		data, err := get(name, tf.Length)
		if err != nil {
			return err
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			return err
		}
		r.Objects = append(r.Objects, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
		r.KeyLists = append(r.KeyLists, n)
		if r.current == nil {
			r.current = map[string]string{}
		}
		r.current[n] = sum
	}
	return nil
}

// rootVersions names root versions for a message: "v1, v2".
func rootVersions(roots []*metadata.Metadata[metadata.RootType]) string {
	names := make([]string, len(roots))
	for i, r := range roots {
		names[i] = "v" + strconv.FormatInt(r.Signed.Version, 10)
	}
	return strings.Join(names, ", ")
}

// Import verifies an archive as a copy is verified and fills the client's
// cache with every key list it holds, so that clients in an air-gapped
// network answer from the cache (with --offline, or with the archive as
// their repository).
func Import(ctx context.Context, cl *client.Client, archivePath string) (*Repository, error) {
	s, err := session.Open(ctx, cl, archivePath)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r, err := collect(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := s.FillCache(ctx, r.KeyLists); err != nil {
		return nil, err
	}
	return r, nil
}
