package client

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/translog"
)

// Bounds of one update, as the TUF specification asks for them.
const (
	maxRootRotations = 256
	maxDelegations   = 32
)

type targetsMD = metadata.Metadata[metadata.TargetsType]

// verifiedRoot walks the stored roots from the trusted one and returns
// the metadata set holding the newest that chains to it, and its bytes. A
// stored root that does not chain is removed: the cache is never trusted
// on its own.
func verifiedRoot(st cache, trusted []byte, ref time.Time) (*trustedmetadata.TrustedMetadata, []byte, error) {
	tm, err := trustedmetadata.New(trusted)
	if err != nil {
		return nil, nil, &RootError{fmt.Sprintf("it does not verify as TUF root metadata (%v)", err)}
	}
	tm.RefTime = ref
	newest := trusted
	if st == nil {
		return tm, newest, nil
	}
	for v := tm.Root.Signed.Version + 1; ; v++ {
		data, err := st.root(v)
		if err != nil {
			break
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			st.dropRootsFrom(v)
			break
		}
		newest = data
	}
	return tm, newest, nil
}

// workflow is one pass of the TUF client workflow (specification section 5)
// over a store: from the network when fetch is set, else from the store's
// records alone. Each role it verifies from the network is kept in the
// trusted state at once.
type workflow struct {
	c     *Client
	cache cache
	tm    *trustedmetadata.TrustedMetadata
	f     *fetcher // nil: no network
	repo  string
	state record // the trusted state; saved after every verified role
	// sources are the records whose objects may stand for a role or a
	// target file before the network is asked
	sources []record
	// loaded names the object behind each role of tm
	loaded map[string]string
	// wrote is set once the session stored a new object
	wrote bool
	// checkpoint is the transparency log's checkpoint, once fetched, and
	// logFiles the log's files this workflow read
	checkpoint *translog.Checkpoint
	logFiles   *session.LogFiles
	// policy is the log policy of the root policyOf, read once
	policyOf  *metadata.Metadata[metadata.RootType]
	policy    translog.Policy
	hasPolicy bool
	policyErr error
}

func (s *workflow) save() error {
	if err := s.cache.putRecord(trustedRecord, s.state); err != nil {
		return fmt.Errorf("keep the verified metadata in the cache: %w", err)
	}
	return nil
}

// keep stores a verified file and names it in the trusted state.
func (s *workflow) keep(data []byte, set func(string)) error {
	obj, err := s.cache.putObject(data)
	if err != nil {
		return fmt.Errorf("keep the verified metadata in the cache: %w", err)
	}
	s.wrote = true
	set(obj)
	return s.save()
}

// metadataName is a metadata file's name on the repository: versioned
// when the root turns consistent snapshots on.
func (s *workflow) metadataName(role string, version int64) string {
	name := url.PathEscape(role) + ".json"
	if s.tm.Root.Signed.ConsistentSnapshot {
		name = strconv.FormatInt(version, 10) + "." + name
	}
	return name
}

// refreshMetadata runs steps 5.3 to 5.6: the root walk, timestamp,
// snapshot and top-level targets.
func (s *workflow) refreshMetadata() error {
	if err := s.walkRoots(); err != nil {
		return err
	}
	if err := s.loadTimestamp(); err != nil {
		return err
	}
	if err := s.loadSnapshot(); err != nil {
		return err
	}
	_, err := s.role(metadata.TARGETS, metadata.ROOT)
	return err
}

// walkRoots fetches and verifies each next root until the repository has
// none (5.3), keeping each as it verifies, so that a later failure never
// takes the client back to a root older than one it has verified.
func (s *workflow) walkRoots() error {
	start := s.tm.Root
	first := s.tm.Root.Signed.Version + 1
	for v := first; v < first+maxRootRotations; v++ {
		name := session.RootName(v)
		data, err := s.f.download(s.f.url(name), rootMax)
		if session.IsMissing(err) {
			break
		}
		if err != nil {
			return s.failed(name, err)
		}
		prev := s.tm.Root
		if _, err := s.tm.UpdateRoot(data); err != nil {
			return s.failed(name, err)
		}
		if err := s.rootLogged(prev, v, data); err != nil {
			return err
		}
		if err := s.cache.putRoot(v, data); err != nil {
			return fmt.Errorf("keep the verified root in the cache: %w", err)
		}
	}
	if s.state.NotConsistent == s.tm.Root.Signed.ConsistentSnapshot {
		s.state.NotConsistent = !s.tm.Root.Signed.ConsistentSnapshot
		if err := s.save(); err != nil {
			return err
		}
	}
	s.warnLogDropped(start)
	if s.tm.Root.Signed.IsExpired(s.tm.RefTime) {
		return fmt.Errorf("the newest root of %s (v%d) expired at %s: a freeze attack, or a repository whose maintainers have not re-signed the root; refusing it: %w", redact(s.repo), s.tm.Root.Signed.Version, s.tm.Root.Signed.Expires.Format(time.RFC3339), ErrUntrusted)
	}
	// 5.3.11: new timestamp or snapshot keys end the rollback floor the old
	// ones set, which is how a repository recovers from a fast-forward attack
	if s.tm.Root != start && (!sameRole(start, s.tm.Root, metadata.TIMESTAMP) || !sameRole(start, s.tm.Root, metadata.SNAPSHOT)) {
		s.state.Timestamp, s.state.Snapshot, s.state.TimestampETag = "", "", ""
		delete(s.state.Versions, metadata.TIMESTAMP)
		delete(s.state.Versions, metadata.SNAPSHOT)
		if err := s.save(); err != nil {
			return err
		}
	}
	return nil
}

func sameRole(a, b *metadata.Metadata[metadata.RootType], role string) bool {
	ra, rb := a.Signed.Roles[role], b.Signed.Roles[role]
	if ra == nil || rb == nil || ra.Threshold != rb.Threshold {
		return false
	}
	ka, kb := slices.Clone(ra.KeyIDs), slices.Clone(rb.KeyIDs)
	sort.Strings(ka)
	sort.Strings(kb)
	return slices.Equal(ka, kb)
}

// loadTimestamp is step 5.4: the trusted timestamp sets the floor, the
// repository's must verify and not go below it.
func (s *workflow) loadTimestamp() error {
	trustedStands := false
	if data, err := s.cache.object(s.state.Timestamp); err == nil {
		// an expired trusted timestamp still sets the floor; one that no
		// longer verifies does not
		s.c.parsing(metadata.TIMESTAMP, data)
		_, err := s.tm.UpdateTimestamp(data)
		trustedStands = err == nil
	}
	data, etag, err := s.f.timestamp()
	if err != nil {
		return s.failed("timestamp.json", err)
	}
	if trustedStands && session.ObjectName(data) == s.state.Timestamp {
		// the very bytes that verified a moment ago: nothing to check again
		if etag == s.state.TimestampETag && s.state.TimestampFrom == s.repo {
			return nil
		}
		return s.keep(data, func(obj string) {
			s.state.TimestampETag, s.state.TimestampFrom = etag, s.repo
		})
	}
	s.c.parsing(metadata.TIMESTAMP, data)
	if _, err := s.tm.UpdateTimestamp(data); err != nil {
		if !errors.Is(err, &metadata.ErrEqualVersionNumber{}) {
			return s.failed("timestamp.json", err)
		}
		if session.ObjectName(data) != s.state.Timestamp || etag == s.state.TimestampETag && s.state.TimestampFrom == s.repo {
			return nil
		}
	}
	return s.keep(data, func(obj string) {
		s.state.Timestamp, s.state.TimestampETag, s.state.TimestampFrom = obj, etag, s.repo
		s.state.Versions[metadata.TIMESTAMP] = s.tm.Timestamp.Signed.Version
	})
}

// loadSnapshot is step 5.5: the trusted snapshot stands while the
// timestamp names its version; else the named version is fetched, checked
// against the timestamp's hashes and against the trusted one for rollback.
func (s *workflow) loadSnapshot() error {
	if data, err := s.cache.object(s.state.Snapshot); err == nil {
		// the trusted snapshot is read even when the timestamp names
		// another: its versions are the rollback floor of the new one (5.5.5)
		s.c.parsing(metadata.SNAPSHOT, data)
		if _, err := s.tm.UpdateSnapshot(data, true); err == nil {
			return nil
		}
	}
	meta := s.tm.Timestamp.Signed.Meta["snapshot.json"]
	if meta == nil {
		return fmt.Errorf("the timestamp of %s names no snapshot; refusing it: %w", redact(s.repo), ErrUntrusted)
	}
	name := s.metadataName(metadata.SNAPSHOT, meta.Version)
	data, err := s.f.download(s.f.url(name), session.LengthOr(meta.Length, snapshotMax))
	if err != nil {
		return s.failedNamed(name, err)
	}
	s.c.parsing(metadata.SNAPSHOT, data)
	if _, err := s.tm.UpdateSnapshot(data, false); err != nil {
		return s.failed(name, err)
	}
	return s.keep(data, func(obj string) {
		s.state.Snapshot = obj
		s.state.Versions[metadata.SNAPSHOT] = s.tm.Snapshot.Signed.Version
	})
}

// role returns a targets role verified through delegator (5.6 for the
// top-level targets, 5.6.7 for delegated roles). A role this session
// already holds is verified again against the delegator asking for it:
// the same role name may be delegated by several roles, with other keys.
func (s *workflow) role(name, delegator string) (*targetsMD, error) {
	if md, ok := s.tm.Targets[name]; ok {
		if delegator == metadata.ROOT {
			return md, nil
		}
		if err := s.tm.Targets[delegator].VerifyDelegate(name, md); err != nil {
			return nil, fmt.Errorf("role %q does not verify with the keys %q delegates it to (%v); refusing it: %w", name, delegator, err, ErrUntrusted)
		}
		return md, nil
	}
	meta := s.tm.Snapshot.Signed.Meta[name+".json"]
	for _, src := range s.sources {
		obj := src.Roles[name]
		if !mayBe(meta, obj) {
			// superseded: the snapshot names other bytes
			continue
		}
		data, err := s.cache.object(obj)
		if err != nil {
			continue
		}
		s.c.parsing(name, data)
		if md, err := s.tm.UpdateDelegatedTargets(data, name, delegator); err == nil {
			s.loaded[name] = src.Roles[name]
			return md, nil
		}
	}
	if s.f == nil {
		return nil, errNotCached
	}
	if meta == nil {
		return nil, fmt.Errorf("the snapshot of %s does not list role %q; refusing it: %w", redact(s.repo), name, ErrUntrusted)
	}
	file := s.metadataName(name, meta.Version)
	data, err := s.f.download(s.f.url(file), session.LengthOr(meta.Length, targetsMax))
	if err != nil {
		return nil, s.failedNamed(file, err)
	}
	s.c.parsing(name, data)
	md, err := s.tm.UpdateDelegatedTargets(data, name, delegator)
	if err != nil {
		return nil, s.failed(file, err)
	}
	err = s.keep(data, func(obj string) {
		s.state.Roles[name] = obj
		s.state.Versions[name] = md.Signed.Version
		s.loaded[name] = obj
	})
	return md, err
}

// findTarget searches the delegation tree in pre-order, depth first, as
// the specification's step 5.6.7 lays out.
// It returns the target and the role that lists it.
func (s *workflow) findTarget(targetPath string) (*metadata.TargetFiles, listedBy, error) {
	type visit struct{ role, delegator string }
	stack := []visit{{metadata.TARGETS, metadata.ROOT}}
	visited := map[string]bool{}
	for len(stack) > 0 && len(visited) <= maxDelegations {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[v.role] {
			continue
		}
		md, err := s.role(v.role, v.delegator)
		if err != nil {
			return nil, listedBy{}, err
		}
		if tf, ok := md.Signed.Targets[targetPath]; ok {
			return tf, listedBy{v.role, md.Signed.Version}, nil
		}
		visited[v.role] = true
		if md.Signed.Delegations == nil {
			continue
		}
		var children []visit
		for _, d := range md.Signed.Delegations.GetRolesForTarget(targetPath) {
			children = append(children, visit{d.Name, v.role})
			if d.Terminating {
				stack = nil
				break
			}
		}
		slices.Reverse(children)
		stack = append(stack, children...)
	}
	return nil, listedBy{}, errNoTarget
}

// listedBy is the role version whose metadata lists a target.
type listedBy struct {
	role    string
	version int64
}

var errNoTarget = errors.New("no such target")

// mayBe reports whether the cached object obj may be the role file the
// snapshot entry meta describes: when the entry carries a sha256, only
// the object of that name can be, and no other is read or parsed.
func mayBe(meta *metadata.MetaFiles, obj string) bool {
	if obj == "" || meta == nil {
		return false
	}
	sum, ok := meta.Hashes["sha256"]
	return !ok || hex.EncodeToString(sum) == obj
}

// target returns a target file verified against its metadata: a copy the
// cache holds when its hashes still match, else downloaded (5.7).
func (s *workflow) target(targetPath string) ([]byte, error) {
	tf, by, err := s.findTarget(targetPath)
	if err != nil {
		return nil, err
	}
	candidates := []string{hex.EncodeToString(tf.Hashes["sha256"])}
	for _, src := range s.sources {
		candidates = append(candidates, src.Targets[targetPath])
	}
	for _, obj := range candidates {
		if data, err := s.cache.object(obj); err == nil && tf.VerifyLengthHashes(data) == nil {
			if err := s.logCheck(targetPath, by, data); err != nil {
				return nil, err
			}
			if s.f != nil && s.state.Targets[targetPath] != obj {
				s.state.Targets[targetPath] = obj
				if err := s.save(); err != nil {
					return nil, err
				}
			}
			return data, nil
		}
	}
	if s.f == nil {
		return nil, errNotCached
	}
	u := s.f.targetURL(targetPath, tf, s.tm.Root.Signed.ConsistentSnapshot)
	data, err := s.f.download(u, tf.Length)
	if err != nil {
		return nil, s.failedNamed(path.Base(u), err)
	}
	if err := tf.VerifyLengthHashes(data); err != nil {
		return nil, s.failed(path.Base(u), err)
	}
	if err := s.keep(data, func(obj string) { s.state.Targets[targetPath] = obj }); err != nil {
		return nil, err
	}
	return data, s.logCheck(targetPath, by, data)
}

// answerSet is the record of everything this session verified together.
func (s *workflow) answerSet(now time.Time, generation int64, targets map[string]string) record {
	expires := s.tm.Root.Signed.Expires
	for _, e := range []time.Time{s.tm.Timestamp.Signed.Expires, s.tm.Snapshot.Signed.Expires} {
		expires = minTime(expires, e)
	}
	for _, md := range s.tm.Targets {
		expires = minTime(expires, md.Signed.Expires)
	}
	return record{
		Timestamp:   s.state.Timestamp,
		Snapshot:    s.state.Snapshot,
		Roles:       maps.Clone(s.loaded),
		Targets:     targets,
		Generation:  generation,
		Repository:  s.repo,
		CheckedAt:   now,
		Expires:     expires,
		RootVersion: s.tm.Root.Signed.Version,
		Anchor:      s.c.anchor,
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// failed names the file and the kind of failure, keeping error kinds for
// errors.Is.
func (s *workflow) failed(file string, err error) error {
	return explainWith(s.repo, file, err, s.tm, s.c.now(), s.c.opts.AcceptExpired)
}

// failedNamed is failed for a file that verified metadata names: its
// absence, or a length or hash other than the metadata lists, means the
// repository is inconsistent, not that the network is down.
func (s *workflow) failedNamed(file string, err error) error {
	if session.IsMissing(err) {
		return fmt.Errorf("the repository at %s is inconsistent: its signed metadata names %s, which it does not serve (%v): %w", redact(s.repo), file, err, ErrInconsistent)
	}
	if errors.Is(err, &metadata.ErrDownloadLengthMismatch{}) {
		return fmt.Errorf("the repository at %s is inconsistent: %s is longer than its signed metadata lists (%v): %w", redact(s.repo), file, err, ErrInconsistent)
	}
	return explainWith(s.repo, file, err, s.tm, s.c.now(), s.c.opts.AcceptExpired)
}
