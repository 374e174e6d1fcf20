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
//
// An object is written before a record names it, and each record is
// replaced by an atomic rename: a crash leaves the old record or the new
// one, and whichever it is names objects that exist. Objects that neither
// record names are removed only under the exclusive lock, after an update,
// so readers, which hold the lock shared, never lose a file mid-read.
//
// When no directory is usable, memoryStore keeps the same records in
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/tufkeys/tufkeys/internal/safefile"
)

const (
	lockFile      = "lock"
	rootsDir      = "roots"
	objectsDir    = "objects"
	trustedRecord = "trusted.json"
	answerRecord  = "current.json"
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

	// answer set only
	Generation int64     `json:"generation,omitempty"`
	Repository string    `json:"repository,omitempty"`
	CheckedAt  time.Time `json:"checked_at,omitzero"`
}

func (r record) clone() record {
	r.Roles = maps.Clone(r.Roles)
	r.Targets = maps.Clone(r.Targets)
	r.Versions = maps.Clone(r.Versions)
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

// store is where the client keeps what it verified.
type store interface {
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
}

func objectName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

var objectPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// errNotCached marks something the store does not hold.
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

// diskStore is a cache directory.
type diskStore struct {
	dir string
}

func (d *diskStore) path(parts ...string) string {
	return filepath.Join(append([]string{d.dir}, parts...)...)
}

// prepare creates the cache directories and the lock file, which proves
// the directory writable.
func (d *diskStore) prepare() error {
	for _, p := range []string{d.dir, d.path(rootsDir), d.path(objectsDir)} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(d.path(lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, name := range legacyNames {
		if _, err := os.Lstat(d.path(name)); err == nil {
			os.RemoveAll(d.path(name))
		}
	}
	return nil
}

// lockWait bounds how long a process waits for another to finish with the
// cache; an update holds the lock for a few requests at most.
const lockWait = 2 * time.Minute

func (d *diskStore) lock(ctx context.Context, exclusive bool) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	l := flock.New(d.path(lockFile))
	var ok bool
	var err error
	if exclusive {
		ok, err = l.TryLockContext(ctx, 20*time.Millisecond)
	} else {
		ok, err = l.TryRLockContext(ctx, 20*time.Millisecond)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("the cache %s stayed locked by another tufkeys process for %s (%v): check for a stuck process, or use another --cache", d.dir, lockWait, err)
	}
	return func() { l.Unlock() }, nil
}

func (d *diskStore) root(v int64) ([]byte, error) {
	return safefile.Read(d.path(rootsDir, rootName(v)), maxCacheFile)
}

func (d *diskStore) hasRoot(v int64) bool {
	fi, err := os.Lstat(d.path(rootsDir, rootName(v)))
	return err == nil && fi.Mode().IsRegular()
}

func (d *diskStore) putRoot(v int64, data []byte) error {
	return safefile.WriteAtomic(d.path(rootsDir, rootName(v)), data, 0o600)
}

// dropRootsFrom deletes cached roots from version v on: they do not chain.
func (d *diskStore) dropRootsFrom(v int64) {
	entries, _ := os.ReadDir(d.path(rootsDir))
	for _, e := range entries {
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".root.json"), 10, 64)
		if err == nil && n >= v {
			os.Remove(d.path(rootsDir, e.Name()))
		}
	}
}

func (d *diskStore) object(name string) ([]byte, error) {
	if !objectPattern.MatchString(name) {
		return nil, errNotCached
	}
	data, err := safefile.Read(d.path(objectsDir, name), maxCacheFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotCached
	}
	if err == nil && objectName(data) != name {
		// damaged on disk: fetched again, never used
		return nil, errNotCached
	}
	return data, err
}

func (d *diskStore) putObject(data []byte) (string, error) {
	name := objectName(data)
	p := d.path(objectsDir, name)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		if old, err := safefile.Read(p, maxCacheFile); err == nil && bytes.Equal(old, data) {
			return name, nil
		}
	}
	return name, safefile.WriteAtomic(p, data, 0o600)
}

func (d *diskStore) record(name string) record {
	var r record
	data, err := safefile.Read(d.path(name), maxRecordFile)
	if err != nil || json.Unmarshal(data, &r) != nil {
		return record{}
	}
	return r
}

func (d *diskStore) putRecord(name string, r record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return safefile.WriteAtomic(d.path(name), data, 0o600)
}

func (d *diskStore) collect() {
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

func (d *diskStore) clear() error {
	for _, name := range []string{trustedRecord, answerRecord, rootsDir, objectsDir} {
		if err := os.RemoveAll(d.path(name)); err != nil {
			return fmt.Errorf("clear the cache: %w", err)
		}
	}
	return d.prepare()
}

// memoryStore stands in for the cache directory when none is usable.
type memoryStore struct {
	sem     chan struct{}
	mu      sync.Mutex
	roots   map[int64][]byte
	objects map[string][]byte
	records map[string]record
}

func newMemoryStore() *memoryStore {
	m := &memoryStore{sem: make(chan struct{}, 1)}
	m.reset()
	return m
}

func (m *memoryStore) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roots, m.objects, m.records = map[int64][]byte{}, map[string][]byte{}, map[string]record{}
}

// lock is exclusive either way: one Client, one process.
func (m *memoryStore) lock(ctx context.Context, _ bool) (func(), error) {
	select {
	case m.sem <- struct{}{}:
		return func() { <-m.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *memoryStore) root(v int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data, ok := m.roots[v]; ok {
		return data, nil
	}
	return nil, errNotCached
}

func (m *memoryStore) hasRoot(v int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.roots[v]
	return ok
}

func (m *memoryStore) putRoot(v int64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roots[v] = data
	return nil
}

func (m *memoryStore) dropRootsFrom(v int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range m.roots {
		if n >= v {
			delete(m.roots, n)
		}
	}
}

func (m *memoryStore) object(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if data, ok := m.objects[name]; ok {
		return data, nil
	}
	return nil, errNotCached
}

func (m *memoryStore) putObject(data []byte) (string, error) {
	name := objectName(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[name] = data
	return name, nil
}

func (m *memoryStore) record(name string) record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[name].clone()
}

func (m *memoryStore) putRecord(name string, r record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[name] = r.clone()
	return nil
}

func (m *memoryStore) collect() {
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

func (m *memoryStore) clear() error {
	m.reset()
	return nil
}
