package client

// The cache holds two views of the repository, because the TUF
// specification and the promises tufkeys makes on top of it need different
// things from it.
//
// The trusted state is the specification's (section 5 of the client
// workflow): every root that verified, and the newest timestamp, snapshot,
// targets and delegated roles that verified, each kept the moment it
// verifies, even when a later step of the same update fails. An update
// starts from it, and its versions are the floor below which nothing is
// accepted again (rollback protection). It only moves forward.
//
// The answer set is tufkeys': the timestamp, snapshot, targets roles and
// target files (key lists) of the last update that went through from root
// to target, that is, metadata that verified together. Answers come only
// from it, checked again against the newest trusted root at the current
// time, so a half-finished update is never answered from, and a root that
// revokes keys also revokes the answer set signed with them.
//
// On disk, under the cache directory:
//
//	lock               held shared to read, exclusive to update
//	roots/N.root.json  every root verified after the embedded one
//	objects/SHA256     metadata and target files, named by their sha256
//	                   (checked on every read),
//	                   written once, never changed
//	trusted.json       the trusted state: which object holds each role
//	current.json       the answer set, with when and where it was checked
//	forced.json        when a refresh was last forced by an unknown keyid
//	                   or registry (the refresh interval's clock)
//
// An object is written before a record names it, and each record is
// replaced by an atomic rename: a crash leaves the old record or the new
// one, and whichever it is names objects that exist. Objects that neither
// record names are removed only under the exclusive lock, after an update,
// so readers, which hold the lock shared, never lose a file mid-read.
//
// When no directory is usable, memoryCache keeps the same records in
// memory for the life of the Client.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/safefile"
	"github.com/tufkeys/tufkeys/translog"
)

const (
	lockFile      = "lock"
	rootsDir      = "roots"
	objectsDir    = "objects"
	trustedRecord = "trusted.json"
	answerRecord  = "current.json"
	// forcedRecord holds when a refresh was last forced by what a caller
	// met (an unknown keyid, a registry the metadata lacks), so that the
	// refresh interval holds across processes
	forcedRecord  = "forced.json"
	maxCacheFile  = 8 << 20
	maxRecordFile = 1 << 20
)

// legacy names of the cache layout before the trusted state and the answer
// set were kept apart; prepare removes them.
var legacyNames = []string{"state.json", "metadata", "targets"}

// record names the objects of one view of the repository.
type record struct {
	Timestamp string            `json:"timestamp,omitempty"`
	Snapshot  string            `json:"snapshot,omitempty"`
	Roles     map[string]string `json:"roles,omitempty"`   // targets and delegated roles
	Targets   map[string]string `json:"targets,omitempty"` // target path -> object
	// Versions hints at each role's version, unverified, to steer
	// speculative requests.
	Versions map[string]int64 `json:"versions,omitempty"`
	// TimestampETag revalidates Timestamp at TimestampFrom.
	TimestampETag string `json:"timestamp_etag,omitempty"`
	TimestampFrom string `json:"timestamp_from,omitempty"`
	// NotConsistent hints that the newest root turns consistent_snapshot
	// off, to name files fetched ahead before the root chain has verified;
	// with no hint, speculation guesses versioned names.
	NotConsistent bool `json:"not_consistent,omitempty"`
	// Logged names, per key list, the log ("ORIGIN OBJECT") its object
	// was proven in, for a root that names a transparency log.
	Logged map[string]string `json:"logged,omitempty"`

	// answer set only
	Generation int64     `json:"generation,omitempty"`
	Repository string    `json:"repository,omitempty"`
	CheckedAt  time.Time `json:"checked_at,omitzero"`
	// Expires is when the first of the set's roles expires, RootVersion
	// the root it verified under, and Anchor the sha256 of the trusted
	// root it was verified from: with them, a fresh answer is read
	// without verifying the set's signatures again (see fastAnswer).
	Expires     time.Time `json:"expires,omitzero"`
	RootVersion int64     `json:"root_version,omitempty"`
	Anchor      string    `json:"anchor,omitempty"`
}

func (r record) clone() record {
	r.Roles = maps.Clone(r.Roles)
	r.Targets = maps.Clone(r.Targets)
	r.Versions = maps.Clone(r.Versions)
	r.Logged = maps.Clone(r.Logged)
	if r.Versions == nil {
		r.Versions = map[string]int64{}
	}
	if r.Roles == nil {
		r.Roles = map[string]string{}
	}
	if r.Targets == nil {
		r.Targets = map[string]string{}
	}
	return r
}

// objects lists every object a record names.
func (r record) objects() []string {
	out := []string{r.Timestamp, r.Snapshot}
	for _, o := range r.Roles {
		out = append(out, o)
	}
	for _, o := range r.Targets {
		out = append(out, o)
	}
	return out
}

// sameObjects reports whether two records name the same objects.
func (r record) sameObjects(o record) bool {
	return r.Timestamp == o.Timestamp && r.Snapshot == o.Snapshot && maps.Equal(r.Roles, o.Roles) && maps.Equal(r.Targets, o.Targets)
}

// cache is where the client keeps what it verified.
type cache interface {
	lock(ctx context.Context, exclusive bool) (func(), error)
	root(version int64) ([]byte, error)
	hasRoot(version int64) bool
	putRoot(version int64, data []byte) error
	dropRootsFrom(version int64)
	object(name string) ([]byte, error)
	putObject(data []byte) (string, error)
	record(name string) record
	putRecord(name string, r record) error
	// collect removes the objects no record names.
	collect()
	clear() error
	// logCheckpoint is the newest transparency-log checkpoint verified,
	// errNotCached when none; putLogCheckpoint replaces it.
	logCheckpoint() ([]byte, error)
	putLogCheckpoint(data []byte) error
	// keepEvidence keeps a checkpoint that conflicts with another, and
	// says where.
	keepEvidence(name string, data []byte) (string, error)
}

// isObjectName reports a sha256 in lower-case hex, the only name an object has.
func isObjectName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for i := range len(name) {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// errNotCached marks something the cache does not hold.
var errNotCached = errors.New("not cached")

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

var unsafeChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// escapeRepository turns a URL into a directory name that is safe on every
// file system and unique: readable part plus a hash of the whole URL.
func escapeRepository(repository string) string {
	readable := unsafeChars().ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(repository, "https://"), "http://"), "_")
	if len(readable) > 64 {
		readable = readable[:64]
	}
	sum := sha256.Sum256([]byte(repository))
	return strings.Trim(readable, "_") + "-" + hex.EncodeToString(sum[:4])
}

// diskCache is a cache directory.
type diskCache struct {
	dir string
	// wait bounds one call's wait for the lock
	wait time.Duration
}

func (d *diskCache) path(parts ...string) string {
	return filepath.Join(append([]string{d.dir}, parts...)...)
}

// prepare creates the cache directories and the lock file, which proves
// the directory writable, and refuses a cache that is not this user's
// alone: owned by another user, writable by others, or holding symbolic
// links where tufkeys keeps its files.
func (d *diskCache) prepare() error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	// the directory itself may be reached through a link the user made
	// (a cache on another disk); what it holds may not
	fi, err := os.Stat(d.dir)
	if err != nil {
		return err
	}
	if err := checkOwned(d.dir, fi); err != nil {
		return err
	}
	for _, sub := range []string{rootsDir, objectsDir} {
		if err := os.Mkdir(d.path(sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	f, err := os.OpenFile(d.path(lockFile), os.O_CREATE|os.O_RDWR|noFollow, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(d.path(lockFile)); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return d.linkInside(lockFile)
		}
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, name := range []string{lockFile, rootsDir, objectsDir, trustedRecord, answerRecord, forcedRecord} {
		fi, err := os.Lstat(d.path(name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return d.linkInside(name)
		}
		if err := checkOwned(d.path(name), fi); err != nil {
			return err
		}
	}
	for _, name := range legacyNames {
		if _, err := os.Lstat(d.path(name)); err == nil {
			os.RemoveAll(d.path(name))
		}
	}
	return nil
}

func (d *diskCache) linkInside(name string) error {
	return fmt.Errorf("the cache %s holds a symbolic link at %s, and tufkeys follows none inside its cache: remove it, or clear the cache: %w", d.dir, name, ErrUnsafeCache)
}

// lockDeadlineKey carries, in a context, when the current call stops
// waiting for the cache lock, so that a call that takes the lock twice
// (shared to answer, then exclusive to update) waits LockWait in all.
type lockDeadlineKey struct{}

// withLockDeadline starts the lock wait of one call, unless already
// started.
func withLockDeadline(ctx context.Context, wait time.Duration) context.Context {
	if _, ok := ctx.Value(lockDeadlineKey{}).(time.Time); ok {
		return ctx
	}
	return context.WithValue(ctx, lockDeadlineKey{}, time.Now().Add(wait))
}

func (d *diskCache) lock(ctx context.Context, exclusive bool) (func(), error) {
	ctx = withLockDeadline(ctx, d.wait)
	ctx, cancel := context.WithDeadline(ctx, ctx.Value(lockDeadlineKey{}).(time.Time))
	defer cancel()
	l := flock.New(d.path(lockFile), flock.SetFlag(os.O_CREATE|os.O_RDWR|noFollow))
	var ok bool
	var err error
	if exclusive {
		ok, err = l.TryLockContext(ctx, 20*time.Millisecond)
	} else {
		ok, err = l.TryRLockContext(ctx, 20*time.Millisecond)
	}
	if err != nil || !ok {
		if errors.Is(err, context.Canceled) {
			return nil, err // the caller gave up, not the wait
		}
		return nil, fmt.Errorf("another tufkeys process held the cache %s for longer than the %s this call waits: check for a stuck process, or use another cache directory", d.dir, d.wait)
	}
	return func() { l.Unlock() }, nil
}

func (d *diskCache) root(v int64) ([]byte, error) {
	return readNoFollow(d.path(rootsDir, session.RootName(v)), maxCacheFile)
}

func (d *diskCache) hasRoot(v int64) bool {
	fi, err := os.Lstat(d.path(rootsDir, session.RootName(v)))
	return err == nil && fi.Mode().IsRegular()
}

func (d *diskCache) putRoot(v int64, data []byte) error {
	return safefile.WriteAtomic(d.path(rootsDir, session.RootName(v)), data, 0o600)
}

// dropRootsFrom deletes cached roots from version v on: they do not chain.
func (d *diskCache) dropRootsFrom(v int64) {
	entries, _ := os.ReadDir(d.path(rootsDir))
	for _, e := range entries {
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".root.json"), 10, 64)
		if err == nil && n >= v {
			os.Remove(d.path(rootsDir, e.Name()))
		}
	}
}

func (d *diskCache) object(name string) ([]byte, error) {
	if !isObjectName(name) {
		return nil, errNotCached
	}
	data, err := readNoFollow(d.path(objectsDir, name), maxCacheFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotCached
	}
	if err == nil && session.ObjectName(data) != name {
		// damaged on disk: fetched again, never used
		return nil, errNotCached
	}
	return data, err
}

func (d *diskCache) putObject(data []byte) (string, error) {
	name := session.ObjectName(data)
	p := d.path(objectsDir, name)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		if old, err := readNoFollow(p, maxCacheFile); err == nil && bytes.Equal(old, data) {
			return name, nil
		}
	}
	return name, safefile.WriteAtomic(p, data, 0o600)
}

func (d *diskCache) record(name string) record {
	var r record
	data, err := readNoFollow(d.path(name), maxRecordFile)
	if err != nil || json.Unmarshal(data, &r) != nil {
		return record{}
	}
	return r
}

func (d *diskCache) putRecord(name string, r record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return safefile.WriteAtomic(d.path(name), data, 0o600)
}

func (d *diskCache) logCheckpoint() ([]byte, error) {
	data, err := readNoFollow(d.path(logCheckpointFile), translog.MaxCheckpoint)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotCached
	}
	return data, err
}

func (d *diskCache) putLogCheckpoint(data []byte) error {
	return safefile.WriteAtomic(d.path(logCheckpointFile), data, 0o600)
}

func (d *diskCache) keepEvidence(name string, data []byte) (string, error) {
	if err := os.MkdirAll(d.path(logEvidenceDir), 0o700); err != nil {
		return "", err
	}
	p := d.path(logEvidenceDir, name)
	return p, safefile.WriteAtomic(p, data, 0o600)
}

// readNoFollow reads a file of the cache, refusing a symbolic link.
func readNoFollow(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return safefile.ReadAll(f, path, max)
}

// leftover matches what an interrupted write leaves: safefile's temporary
// files, and the work directories of earlier tufkeys versions.
var leftover = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\..+\.tmp-[0-9]+$|^\.work-`) })

// collect also removes what interrupted writes left behind: it runs under
// the exclusive lock, so no other process is writing.
func (d *diskCache) collect() {
	for _, dir := range []string{d.dir, d.path(rootsDir), d.path(objectsDir)} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if leftover().MatchString(e.Name()) {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	keep := map[string]bool{}
	for _, name := range []string{trustedRecord, answerRecord} {
		for _, o := range d.record(name).objects() {
			keep[o] = true
		}
	}
	entries, _ := os.ReadDir(d.path(objectsDir))
	for _, e := range entries {
		if !keep[e.Name()] {
			os.Remove(d.path(objectsDir, e.Name()))
		}
	}
}

func (d *diskCache) clear() error {
	for _, name := range []string{trustedRecord, answerRecord, forcedRecord, rootsDir, objectsDir, logCheckpointFile} {
		if err := os.RemoveAll(d.path(name)); err != nil {
			return fmt.Errorf("clear the cache: %w", err)
		}
	}
	return d.prepare()
}

// memoryCache stands in for the cache directory when none is usable.
type memoryCache struct {
	sem        chan struct{}
	mu         sync.Mutex
	roots      map[int64][]byte
	objects    map[string][]byte
	records    map[string]record
	checkpoint []byte
	evidence   map[string][]byte
}

func newMemoryCache() *memoryCache {
	m := &memoryCache{sem: make(chan struct{}, 1)}
	m.reset()
	return m
}

func (m *memoryCache) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roots, m.objects, m.records = map[int64][]byte{}, map[string][]byte{}, map[string]record{}
	m.checkpoint = nil
	if m.evidence == nil {
		// evidence outlives a clear, as on disk
		m.evidence = map[string][]byte{}
	}
}

// lock is exclusive either way: one Client, one process.
func (m *memoryCache) lock(ctx context.Context, _ bool) (func(), error) {
	select {
	case m.sem <- struct{}{}:
		return func() { <-m.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *memoryCache) root(v int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data, ok := m.roots[v]; ok {
		return data, nil
	}
	return nil, errNotCached
}

func (m *memoryCache) hasRoot(v int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.roots[v]
	return ok
}

func (m *memoryCache) putRoot(v int64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roots[v] = data
	return nil
}

func (m *memoryCache) dropRootsFrom(v int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range m.roots {
		if n >= v {
			delete(m.roots, n)
		}
	}
}

func (m *memoryCache) object(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data, ok := m.objects[name]; ok {
		return data, nil
	}
	return nil, errNotCached
}

func (m *memoryCache) putObject(data []byte) (string, error) {
	name := session.ObjectName(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[name] = data
	return name, nil
}

func (m *memoryCache) record(name string) record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[name].clone()
}

func (m *memoryCache) putRecord(name string, r record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[name] = r.clone()
	return nil
}

func (m *memoryCache) collect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string]bool{}
	for _, r := range m.records {
		for _, o := range r.objects() {
			keep[o] = true
		}
	}
	for name := range m.objects {
		if !keep[name] {
			delete(m.objects, name)
		}
	}
}

func (m *memoryCache) clear() error {
	m.reset()
	return nil
}

func (m *memoryCache) logCheckpoint() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkpoint == nil {
		return nil, errNotCached
	}
	return m.checkpoint, nil
}

func (m *memoryCache) putLogCheckpoint(data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoint = slices.Clone(data)
	return nil
}

func (m *memoryCache) keepEvidence(name string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evidence[name] = slices.Clone(data)
	return name + " (in memory: this client keeps no cache directory)", nil
}

// ClearCacheDir clears the cache in dir, under its lock, without a root
// of trust: what `cache clear --cache DIR` needs when no repository is
// named. A directory that holds no cache is left alone.
func ClearCacheDir(ctx context.Context, dir string) error {
	if fi, err := os.Stat(filepath.Join(dir, lockFile)); err != nil || fi.IsDir() {
		return fmt.Errorf("there is no cache at %s: nothing to clear", dir)
	}
	d := &diskCache{dir: dir, wait: DefaultLockWait}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	return d.clear()
}
