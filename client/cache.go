package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/tufkeys/tufkeys/internal/safefile"
)

// Cache layout, under the cache directory:
//
//	lock               held shared to read, exclusive to refresh
//	state.json         when the cache was last checked, and from where
//	roots/N.root.json  every root verified since the trusted one
//	metadata/ROLE.json the newest verified timestamp, snapshot and targets
//	targets/NAME       verified key lists, NAME path-escaped
const (
	stateFile    = "state.json"
	lockFile     = "lock"
	rootsDir     = "roots"
	metadataDir  = "metadata"
	targetsDir   = "targets"
	maxCacheFile = 8 << 20
)

// state is what the cache remembers besides verified metadata.
type state struct {
	Repository    string    `json:"repository"`
	CheckedAt     time.Time `json:"checked_at"`
	TimestampETag string    `json:"timestamp_etag,omitempty"`
}

// DefaultCacheDir is where a repository's cache lives unless told
// otherwise: the user's cache directory, then tufkeys, then a name made
// from the repository URL.
func DefaultCacheDir(repository string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "tufkeys", escapeRepository(repository)), nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// escapeRepository turns a URL into a directory name that is safe on every
// file system and unique: readable part plus a hash of the whole URL.
func escapeRepository(repository string) string {
	readable := unsafeChars.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(repository, "https://"), "http://"), "_")
	if len(readable) > 64 {
		readable = readable[:64]
	}
	sum := sha256.Sum256([]byte(repository))
	return strings.Trim(readable, "_") + "-" + hex.EncodeToString(sum[:4])
}

// cache is an on-disk cache directory; memory is set when none is usable.
type cache struct {
	dir string
}

func (c *cache) path(parts ...string) string {
	return filepath.Join(append([]string{c.dir}, parts...)...)
}

// prepare creates the cache directories and the lock file, which proves
// the directory writable.
func (c *cache) prepare() error {
	for _, d := range []string{c.dir, c.path(rootsDir), c.path(metadataDir), c.path(targetsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.path(lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// lockWait bounds how long a process waits for another to finish with the
// cache; a refresh holds the lock for a few requests at most.
const lockWait = 2 * time.Minute

func (c *cache) lock(ctx context.Context, exclusive bool) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	l := flock.New(c.path(lockFile))
	var ok bool
	var err error
	if exclusive {
		ok, err = l.TryLockContext(ctx, 20*time.Millisecond)
	} else {
		ok, err = l.TryRLockContext(ctx, 20*time.Millisecond)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("the cache %s stayed locked by another tufkeys process for %s (%v): check for a stuck process, or use another --cache", c.dir, lockWait, err)
	}
	return func() { l.Unlock() }, nil
}

func (c *cache) readState() state {
	var s state
	data, err := safefile.Read(c.path(stateFile), 1<<16)
	if err == nil {
		if json.Unmarshal(data, &s) != nil {
			s = state{}
		}
	}
	return s
}

func (c *cache) writeState(s state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteAtomic(c.path(stateFile), data, 0o600)
}

func (c *cache) read(parts ...string) ([]byte, error) {
	return safefile.Read(c.path(parts...), maxCacheFile)
}

// verifiedRoot walks the cached roots from the trusted one and returns the
// newest that chains to it. A cached root that does not chain is removed:
// the cache is never trusted on its own.
func verifiedRoot(c *cache, trusted []byte, now time.Time) ([]byte, *trustedmetadata.TrustedMetadata, error) {
	tm, err := trustedmetadata.New(trusted)
	if err != nil {
		return nil, nil, fmt.Errorf("the trusted root is not valid TUF root metadata: %w", err)
	}
	tm.RefTime = now
	newest := trusted
	if c == nil {
		return newest, tm, nil
	}
	for v := tm.Root.Signed.Version + 1; ; v++ {
		name := c.path(rootsDir, strconv.FormatInt(v, 10)+".root.json")
		data, err := safefile.Read(name, maxCacheFile)
		if err != nil {
			break
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			removeFrom(c, v)
			break
		}
		newest = data
	}
	return newest, tm, nil
}

// removeFrom deletes cached roots from version v on: they do not chain.
func removeFrom(c *cache, v int64) {
	entries, _ := os.ReadDir(c.path(rootsDir))
	for _, e := range entries {
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".root.json"), 10, 64)
		if err == nil && n >= v {
			os.Remove(c.path(rootsDir, e.Name()))
		}
	}
}

// loaded is the cache's metadata verified from the trusted root, without
// any network access.
type loaded struct {
	tm *trustedmetadata.TrustedMetadata
}

// loadVerified verifies the cached timestamp, snapshot and targets against
// the newest verified root at the reference time. Any failure means the
// cache cannot answer alone.
func loadVerified(c *cache, trusted []byte, now time.Time) (*loaded, error) {
	_, tm, err := verifiedRoot(c, trusted, now)
	if err != nil {
		return nil, err
	}
	steps := []struct {
		role string
		load func([]byte) error
	}{
		{metadata.TIMESTAMP, func(b []byte) error { _, err := tm.UpdateTimestamp(b); return err }},
		{metadata.SNAPSHOT, func(b []byte) error { _, err := tm.UpdateSnapshot(b, true); return err }},
		{metadata.TARGETS, func(b []byte) error { _, err := tm.UpdateTargets(b); return err }},
	}
	for _, s := range steps {
		data, err := c.read(metadataDir, s.role+".json")
		if err != nil {
			return nil, fmt.Errorf("cached %s: %w", s.role, err)
		}
		if err := s.load(data); err != nil {
			return nil, fmt.Errorf("cached %s: %w", s.role, err)
		}
	}
	return &loaded{tm: tm}, nil
}

// findTarget finds a target in the verified metadata, loading cached
// delegated roles as the delegation tree requires.
func (l *loaded) findTarget(c *cache, name string) (*metadata.TargetFiles, error) {
	return findIn(l.tm, metadata.TARGETS, name, func(role string) ([]byte, error) {
		return c.read(metadataDir, url.PathEscape(role)+".json")
	}, 0)
}

const maxDelegationDepth = 8

func findIn(tm *trustedmetadata.TrustedMetadata, role, name string, read func(string) ([]byte, error), depth int) (*metadata.TargetFiles, error) {
	md := tm.Targets[role]
	if tf, ok := md.Signed.Targets[name]; ok {
		return tf, nil
	}
	if md.Signed.Delegations == nil || depth >= maxDelegationDepth {
		return nil, errNoTarget
	}
	for _, r := range md.Signed.Delegations.GetRolesForTarget(name) {
		if _, ok := tm.Targets[r.Name]; !ok {
			data, err := read(r.Name)
			if err != nil {
				return nil, err
			}
			if _, err := tm.UpdateDelegatedTargets(data, r.Name, role); err != nil {
				return nil, err
			}
		}
		tf, err := findIn(tm, r.Name, name, read, depth+1)
		if err == nil || !errors.Is(err, errNoTarget) || r.Terminating {
			return tf, err
		}
	}
	return nil, errNoTarget
}

var errNoTarget = errors.New("no such target")

// readTarget reads a cached target and checks it against its metadata.
func (c *cache) readTarget(name string, tf *metadata.TargetFiles) ([]byte, error) {
	data, err := c.read(targetsDir, url.PathEscape(name))
	if err != nil {
		return nil, err
	}
	if err := tf.VerifyLengthHashes(data); err != nil {
		return nil, err
	}
	return data, nil
}

// cachedHosts lists the key lists the cache holds.
func (c *cache) cachedTargets() []string {
	entries, _ := os.ReadDir(c.path(targetsDir))
	var names []string
	for _, e := range entries {
		if name, err := url.PathUnescape(e.Name()); err == nil && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// copyInto copies the cache's parseable metadata and targets into a work
// directory for go-tuf; files that do not even parse are left out, so that
// go-tuf fetches them again instead of failing on them.
func (c *cache) copyInto(work string) error {
	for _, d := range []string{metadataDir, targetsDir} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o700); err != nil {
			return err
		}
		entries, err := os.ReadDir(c.path(d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			data, err := c.read(d, e.Name())
			if err != nil {
				continue
			}
			if d == metadataDir && !parses(e.Name(), data) {
				continue
			}
			if err := os.WriteFile(filepath.Join(work, d, e.Name()), data, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func parses(name string, data []byte) bool {
	var err error
	switch name {
	case "root.json":
		_, err = metadata.Root().FromBytes(data)
	case "timestamp.json":
		_, err = metadata.Timestamp().FromBytes(data)
	case "snapshot.json":
		_, err = metadata.Snapshot().FromBytes(data)
	default:
		_, err = metadata.Targets().FromBytes(data)
	}
	return err == nil
}

// commit moves a successful refresh's files from the work directory into
// the cache: new roots, then key lists, then metadata from the leaves up,
// so that a reader under the lock never sees a half-updated set.
func (c *cache) commit(work string, roots map[int64][]byte, st state) error {
	versions := make([]int64, 0, len(roots))
	for v := range roots {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for _, v := range versions {
		if err := safefile.WriteAtomic(c.path(rootsDir, strconv.FormatInt(v, 10)+".root.json"), roots[v], 0o600); err != nil {
			return err
		}
	}
	if err := moveAll(filepath.Join(work, targetsDir), c.path(targetsDir), nil); err != nil {
		return err
	}
	order := []string{"root.json", "targets.json", "snapshot.json", "timestamp.json"}
	if err := moveAll(filepath.Join(work, metadataDir), c.path(metadataDir), order); err != nil {
		return err
	}
	return c.writeState(st)
}

// moveAll renames every file of src into dst; the names in last go last,
// in that order.
func moveAll(src, dst string, last []string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	rank := func(name string) int {
		for i, l := range last {
			if l == name {
				return i + 1
			}
		}
		return 0
	}
	sort.SliceStable(entries, func(i, j int) bool { return rank(entries[i].Name()) < rank(entries[j].Name()) })
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), "tuf_tmp") {
			continue
		}
		if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// versions reads what the cache holds without verifying it, to steer
// speculative requests; nothing read here is trusted.
func (c *cache) versions(names []string) cachedVersions {
	v := cachedVersions{hashes: map[string]string{}}
	if data, err := c.read(metadataDir, "snapshot.json"); err == nil {
		if md, err := metadata.Snapshot().FromBytes(data); err == nil {
			v.snapshot = md.Signed.Version
		}
	}
	if data, err := c.read(metadataDir, "targets.json"); err == nil {
		if md, err := metadata.Targets().FromBytes(data); err == nil {
			v.targets = md.Signed.Version
			for _, n := range names {
				if tf, ok := md.Signed.Targets[n]; ok {
					if _, err := os.Stat(c.path(targetsDir, url.PathEscape(n))); err == nil {
						v.hashes[n] = hex.EncodeToString(tf.Hashes["sha256"])
					}
				}
			}
		}
	}
	return v
}
