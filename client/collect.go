package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/tufkeys/tufkeys/store"
)

// Bounds on a whole repository, so that a hostile mirror cannot make a
// collection run forever.
// Hashed bins (TAP 15) count: up to 2^16 of them, and 64 other roles.
const maxRoles = 1<<16 + 64

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
}

// Collect downloads a whole repository (every root version; the current
// timestamp, snapshot, targets and delegated metadata; every key list they
// name) and verifies it with TUF against the trusted root, as a client
// would. Nothing unverified is returned.
func (t TUF) Collect(ctx context.Context, repo string) (*Repository, error) {
	return t.c.collect(ctx, repo)
}

func (c *Client) collect(ctx context.Context, repo string) (*Repository, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := newFetcher(ctx, c, repo)
	f.sequential = true
	if err := f.openArchive(); err != nil {
		return nil, err
	}
	var last string
	get := func(name string, max int64) ([]byte, error) {
		last = name
		data, err := f.download(f.url(name), max)
		if err != nil {
			return nil, explain(repo, name, err)
		}
		return data, nil
	}
	top, err := c.topLevel(repo, f, get)
	if err != nil {
		return nil, err
	}
	tm, snapName := top.tm, top.snapshotName
	r := &Repository{}
	versions := map[string]int64{}
	add := func(name string, data []byte, phase int) {
		r.Objects = append(r.Objects, store.Object{Name: name, Data: data, Phase: phase})
	}
	for _, vr := range top.roots {
		add(rootName(vr.version), vr.data, store.PhaseRoot)
	}
	if len(top.unverified) > 0 {
		c.log.Warn("earlier roots this client cannot authenticate (older than its trusted root, and not the ones it holds) are not copied", "roots", rootVersions(top.unverified))
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
		if seen[next.name] = true; len(seen) > maxRoles {
			return nil, fmt.Errorf("the repository at %s delegates to more than %d roles: refusing it: %w", redact(repo), maxRoles, ErrUntrusted)
		}
		meta, ok := tm.Snapshot.Signed.Meta[next.name+".json"]
		if !ok {
			return nil, fmt.Errorf("the snapshot of %s lists no %s: refusing it: %w", redact(repo), next.name, ErrUntrusted)
		}
		name := fmt.Sprintf("%d.%s.json", meta.Version, next.name)
		data, err := get(name, lengthOr(meta.Length, targetsMax))
		if err != nil {
			return nil, err
		}
		md, err := tm.UpdateDelegatedTargets(data, next.name, next.parent)
		if err != nil {
			return nil, explain(repo, last, err)
		}
		versions[next.name] = md.Signed.Version
		if next.name == metadata.TARGETS {
			add(name, data, store.PhaseTargetsMeta)
			r.TargetsVersion = md.Signed.Version
		} else {
			add(name, data, store.PhaseDelegated)
		}
		if err := c.collectTargets(get, md, r); err != nil {
			return nil, explain(repo, last, err)
		}
		if md.Signed.Delegations != nil {
			if b := md.Signed.Delegations.SuccinctRoles; b != nil {
				if b.BitLength < 1 || b.BitLength > 16 {
					return nil, fmt.Errorf("the repository at %s delegates to 2^%d hashed bins, beyond the 2^16 tufkeys copies: refusing it: %w", redact(repo), b.BitLength, ErrUntrusted)
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
	if err := c.collectHistory(get, r, versions); err != nil {
		return nil, err
	}
	if err := c.collectLog(ctx, repo, tm.Root, get, r); err != nil {
		return nil, err
	}
	add(snapName, top.snapshot, store.PhaseSnapshot)
	add("timestamp.json", top.timestamp, store.PhaseTimestamp)
	versions[metadata.ROOT] = tm.Root.Signed.Version
	versions[metadata.TIMESTAMP] = tm.Timestamp.Signed.Version
	versions[metadata.SNAPSHOT] = tm.Snapshot.Signed.Version
	if err := c.notOlderThanTrusted(ctx, repo, versions); err != nil {
		return nil, err
	}
	// writers put files in place phase by phase; within a phase, in the
	// order they were verified
	slices.SortStableFunc(r.Objects, func(a, b store.Object) int { return a.Phase - b.Phase })
	sort.Strings(r.KeyLists)
	return r, nil
}

// ErrRollback marks a repository older than what this client already
// trusts: a stale mirror, or a replay of old metadata.
var ErrRollback = fmt.Errorf("older than what this client trusts: %w", ErrUntrusted)

// notOlderThanTrusted refuses a collected repository that any role of the
// client's trusted state is newer than: a mirror or an archive made from
// it would hand clients metadata they must refuse.
func (c *Client) notOlderThanTrusted(ctx context.Context, repo string, collected map[string]int64) error {
	trusted, err := c.trustedMetadata(ctx)
	if err != nil {
		return err
	}
	// top-level roles first, in the order the workflow verifies them
	order := func(role string) int {
		if i := slices.Index(topRoles, role); i >= 0 {
			return i
		}
		return len(topRoles)
	}
	roles := slices.SortedFunc(maps.Keys(trusted), func(a, b string) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, role := range roles {
		var md struct {
			Signed struct {
				Version int64 `json:"version"`
			} `json:"signed"`
		}
		if json.Unmarshal(trusted[role], &md) != nil {
			continue
		}
		if have, ok := collected[role]; ok && have < md.Signed.Version {
			return fmt.Errorf("%s serves %s v%d, older than v%d which this client already trusts: refusing to copy it; use an up-to-date source: %w", redact(repo), role, have, md.Signed.Version, ErrRollback)
		}
	}
	return nil
}

var topRoles = []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS}

// Object returns the bytes of the named file of the repository, or nil.
func (r *Repository) Object(name string) []byte {
	for _, o := range r.Objects {
		if o.Name == name {
			return o.Data
		}
	}
	return nil
}

// Roots returns every root of the repository, parsed, oldest first:
// earlier roots only where they were authenticated, then every root from
// the trusted one on.
func (r *Repository) Roots() ([]*metadata.Metadata[metadata.RootType], error) {
	var out []*metadata.Metadata[metadata.RootType]
	for v := int64(1); v <= r.RootVersion; v++ {
		data := r.Object(rootName(v))
		if data == nil {
			if len(out) == 0 {
				continue // an earlier root left out: not authenticated
			}
			return nil, fmt.Errorf("the collected repository lacks root v%d", v)
		}
		md, err := metadata.Root().FromBytes(data)
		if err != nil {
			return nil, err
		}
		out = append(out, md)
	}
	return out, nil
}

// collectHistory adds every earlier version of targets and of the
// delegated roles (bins among them), and the key lists they name, so that
// a mirror or an archive carries the repository's history as the origin
// does (tufkeys history reads it). Each version is verified as History
// verifies it, against a root of the chain or a verified version of its
// delegator; one that does not verify is left out, with a warning, and a
// version the source lacks is a gap a copy keeps.
func (c *Client) collectHistory(get func(string, int64) ([]byte, error), r *Repository, current map[string]int64) error {
	roots, err := r.Roots()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, o := range r.Objects {
		have[o.Name] = true
	}
	var parents []parent
	for _, o := range r.Objects {
		if o.Phase == store.PhaseTargetsMeta || o.Phase == store.PhaseDelegated {
			if md, err := metadata.Targets().FromBytes(o.Data); err == nil {
				parents = append(parents, parent{roleOf(o.Name), md})
			}
		}
	}
	roles := []string{metadata.TARGETS}
	for _, role := range slices.Sorted(maps.Keys(current)) {
		if !slices.Contains(topRoles, role) {
			roles = append(roles, role)
		}
	}
	for _, role := range roles {
		for v := int64(1); v < min(current[role], maxHistory); v++ {
			name := fmt.Sprintf("%d.%s.json", v, role)
			if have[name] {
				continue
			}
			data, err := get(name, targetsMax)
			if err != nil {
				continue // a gap in the source's history stays a gap
			}
			md, err := metadata.Targets().FromBytes(data)
			if err != nil || md.Signed.Version != v {
				c.log.Warn("an earlier version does not verify; it is not copied", "file", name)
				continue
			}
			var by string
			if role == metadata.TARGETS {
				_, by = verifiedUnderRoots(md, roots)
			} else {
				_, by = verifiedUnderDelegators(md, role, parents)
			}
			if by == "" {
				c.log.Warn("an earlier version does not verify; it is not copied", "file", name)
				continue
			}
			parents = append(parents, parent{role, md})
			phase := store.PhaseDelegated
			if role == metadata.TARGETS {
				phase = store.PhaseTargetsMeta
			}
			r.Objects = append(r.Objects, store.Object{Name: name, Data: data, Phase: phase})
			have[name] = true
			for _, t := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
				tf := md.Signed.Targets[t]
				dir, base := path.Split(t)
				file := "targets/" + dir + hex.EncodeToString(tf.Hashes["sha256"]) + "." + base
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

// roleOf is the role of a versioned metadata file name: N.ROLE.json.
func roleOf(name string) string {
	_, rest, _ := strings.Cut(name, ".")
	return strings.TrimSuffix(rest, ".json")
}

// collectTargets downloads and checks every target a role lists.
func (c *Client) collectTargets(get func(string, int64) ([]byte, error), md *metadata.Metadata[metadata.TargetsType], r *Repository) error {
	names := make([]string, 0, len(md.Signed.Targets))
	for n := range md.Signed.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tf := md.Signed.Targets[n]
		dir, base := path.Split(n)
		name := "targets/" + dir + hex.EncodeToString(tf.Hashes["sha256"]) + "." + base
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
		r.current[n] = hex.EncodeToString(tf.Hashes["sha256"])
	}
	return nil
}

// earlierRoots fetches the roots older than the trusted one, which a
// mirror serves to clients that embed them. Nothing newer signs an older
// root, so chaining one forward to the trusted root authenticates nothing
// (a forged root 1 listing one real signer of root 2 chains): an earlier
// root is authenticated only when it is byte for byte a root this client
// already trusts (its trusted root, a root it verified into its cache).
// The others come back apart, parsed, as unverified: reported, never used
// to verify, never copied.
func (c *Client) earlierRoots(get func(string, int64) ([]byte, error), trusted int64) (authentic []versionedRoot, unverified []*metadata.Metadata[metadata.RootType]) {
	embedded := c.opts.TrustedRoot
	for v := int64(1); v < trusted; v++ {
		data, err := get(rootName(v), rootMax)
		if err != nil {
			continue // a gap in the source
		}
		known, _ := c.cache.root(v)
		if (known != nil && bytes.Equal(data, known)) || (len(embedded) > 0 && bytes.Equal(data, embedded)) {
			if md, err := metadata.Root().FromBytes(data); err == nil && md.Signed.Version == v {
				authentic = append(authentic, versionedRoot{v, data, md})
				continue
			}
		}
		if md, err := metadata.Root().FromBytes(data); err == nil && md.Signed.Version == v {
			unverified = append(unverified, md)
		}
	}
	return authentic, unverified
}

// versionedRoot is one root version, its bytes and parsed.
type versionedRoot struct {
	version int64
	data    []byte
	md      *metadata.Metadata[metadata.RootType]
}

// topLevelMetadata is a repository's root chain, timestamp and snapshot,
// verified as a client verifies them.
type topLevelMetadata struct {
	tm *trustedmetadata.TrustedMetadata
	// roots holds every authenticated root, oldest first: the earlier
	// roots this client already trusts, the trusted root, and each newer
	// one verified by its predecessor
	roots []versionedRoot
	// unverified are the earlier roots this client cannot authenticate
	unverified []*metadata.Metadata[metadata.RootType]
	// chain is the parsed trusted root and each newer one, in order
	chain               []*metadata.Metadata[metadata.RootType]
	timestamp, snapshot []byte
	snapshotName        string
}

// topLevel fetches and verifies a repository's top-level metadata for
// Collect and History: the whole root chain, the timestamp, and the
// snapshot it names.
func (c *Client) topLevel(repo string, f *fetcher, get func(string, int64) ([]byte, error)) (*topLevelMetadata, error) {
	tm, err := trustedmetadata.New(c.opts.TrustedRoot)
	if err != nil {
		return nil, &RootError{fmt.Sprintf("it does not verify as TUF root metadata (%v)", err)}
	}
	tm.RefTime = c.refTime()
	trusted := tm.Root.Signed.Version
	earlier, unverified := c.earlierRoots(get, trusted)
	top := &topLevelMetadata{tm: tm, roots: append(earlier, versionedRoot{trusted, c.opts.TrustedRoot, tm.Root}), unverified: unverified, chain: []*metadata.Metadata[metadata.RootType]{tm.Root}}
	for v := trusted + 1; v < trusted+maxRootRotations; v++ {
		data, err := f.download(f.url(rootName(v)), rootMax)
		if isMissing(err) {
			break
		}
		if err != nil {
			return nil, explain(repo, rootName(v), err)
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			return nil, explain(repo, rootName(v), err)
		}
		top.roots = append(top.roots, versionedRoot{v, data, tm.Root})
		top.chain = append(top.chain, tm.Root)
	}
	if top.timestamp, err = get("timestamp.json", timestampMax); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateTimestamp(top.timestamp); err != nil {
		return nil, explain(repo, "timestamp.json", err)
	}
	meta := tm.Timestamp.Signed.Meta["snapshot.json"]
	if meta == nil {
		return nil, fmt.Errorf("the timestamp of %s names no snapshot; refusing it: %w", redact(repo), ErrUntrusted)
	}
	top.snapshotName = fmt.Sprintf("%d.snapshot.json", meta.Version)
	if top.snapshot, err = get(top.snapshotName, lengthOr(meta.Length, snapshotMax)); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateSnapshot(top.snapshot, false); err != nil {
		return nil, explain(repo, top.snapshotName, err)
	}
	return top, nil
}

func rootName(v int64) string { return strconv.FormatInt(v, 10) + ".root.json" }

// rootVersions names root versions for a message: "v1, v2".
func rootVersions(roots []*metadata.Metadata[metadata.RootType]) string {
	names := make([]string, len(roots))
	for i, r := range roots {
		names[i] = "v" + strconv.FormatInt(r.Signed.Version, 10)
	}
	return strings.Join(names, ", ")
}

func lengthOr(length, max int64) int64 {
	if length > 0 {
		return length
	}
	return max
}

// Import verifies an archive like a mirror and fills the cache with every
// key list it holds, so that clients in an air-gapped network answer from
// the cache (with --offline, or with the archive as their repository).
func (c *Client) Import(ctx context.Context, archivePath string) (*Repository, error) {
	r, err := c.collect(ctx, archivePath)
	if err != nil {
		return nil, err
	}
	w := want{names: r.KeyLists, force: true, stopAtMissing: true, repos: []string{archivePath}}
	if _, err := c.update(ctx, w, c.cache.record(answerRecord).Generation); err != nil {
		return nil, err
	}
	return r, nil
}
