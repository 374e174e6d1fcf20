// Package store is where a published TUF repository lives: a directory
// here, an S3 bucket in store/s3, or any other implementation of Store.
// Publishing and mirroring write through the interface, and Sync writes a
// whole repository in the order readers need, so they work the same on
// every backend. It uses the standard library only, so the client and
// tools that embed it can mirror without linking an object store's SDK.
package store

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

var (
	// ErrNotFound marks an object that does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrChanged marks a conditional write that found the object other
	// than the writer last saw it: another writer got there first.
	ErrChanged = errors.New("changed by another writer")
)

// Tag names the content of an object as a store sees it, for a
// conditional write: S3's ETag, or a hash of the file in a directory.
type Tag string

// Conditions of a Put besides the tag of what the writer last saw.
const (
	// Always writes whatever the store holds.
	Always Tag = ""
	// Absent writes only when the object does not exist yet: an exclusive
	// create, which a second writer of the same name loses.
	Absent Tag = "absent"
)

// State says how an object in the store relates to the bytes we hold.
type State int

const (
	Missing   State = iota // no such object
	Same                   // the object holds exactly these bytes
	Different              // the object holds other bytes
)

// Store holds the files of a repository under slash-separated names such as
// "3.root.json" or "targets/registry.example.test/<sha256>.keys.json".
type Store interface {
	// Get returns an object's bytes, at most max of them, and its tag;
	// ErrNotFound when it does not exist.
	Get(ctx context.Context, name string, max int64) ([]byte, Tag, error)
	// Put writes an object whole: a reader sees the old bytes or the new.
	// Unless ifMatch is Always, the write happens only if the object is
	// still as the tag says (Absent: not there), atomically with the
	// check; otherwise it fails with ErrChanged and writes nothing.
	Put(ctx context.Context, name string, data []byte, ifMatch Tag) error
	// Compare tells whether the object exists and holds exactly data, and
	// gives its tag (Absent when it does not exist).
	Compare(ctx context.Context, name string, data []byte) (State, Tag, error)
	// String names the store for messages, e.g. "s3://bucket/prefix".
	String() string
}

var (
	versionedName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+\.[^/]+\.json$`) })
	hashedName    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}\.[^/]+$`) })
)

// Immutable reports whether a name, once published, must never change:
// versioned metadata (N.role.json) and hash-prefixed targets. Everything
// else (timestamp.json) is replaced on every publish.
func Immutable(name string) bool {
	base := path.Base(name)
	return versionedName().MatchString(base) || hashedName().MatchString(base) || logWrittenOnce(name)
}

// logWrittenOnce names the transparency log's files that never change
// once written: tiles and entry bundles (a partial one is named by its
// width) and the index files. The checkpoint and the registries' latest
// entries change in place, like the timestamp.
func logWrittenOnce(name string) bool {
	return strings.HasPrefix(name, "log/tile/") || strings.HasPrefix(name, "log/index/")
}

func logChangesInPlace(name string) bool {
	return name == "log/checkpoint" || strings.HasPrefix(name, "log/latest/")
}

// Cache-Control values for published files.
const (
	CacheImmutable  = "public, max-age=31536000, immutable"
	CacheNoStore    = "no-store"
	CacheRevalidate = "no-cache"
)

// CachePolicy decides how long caches (a CDN, a proxy) may keep
// timestamp.json, the one file that changes in place. Versioned files never
// change and are cached for a year.
type CachePolicy struct {
	// TimestampMaxAge lets shared caches serve timestamp.json for this
	// long, so that the origin's load does not grow with the number of
	// clients; a new timestamp reaches clients up to this much later.
	// Zero: never cached (no-store).
	TimestampMaxAge time.Duration
	// Rewritten names the other files every publish rewrites in place (a
	// status page); they are cached as timestamp.json is. A name ending in
	// "/" names a folder: every file under it.
	Rewritten []string
}

// DefaultCachePolicy caches timestamp.json for a minute.
var DefaultCachePolicy = CachePolicy{TimestampMaxAge: time.Minute}

// CacheControl is the Cache-Control header a published file is served with.
func (p CachePolicy) CacheControl(name string) string {
	switch {
	case p.changesInPlace(name) && p.TimestampMaxAge <= 0:
		return CacheNoStore
	case p.changesInPlace(name):
		return fmt.Sprintf("public, max-age=%d", int64(p.TimestampMaxAge/time.Second))
	case Immutable(name):
		return CacheImmutable
	default:
		return CacheRevalidate
	}
}

// changesInPlace reports the files rewritten by every publish: the
// timestamp, and those the policy names.
func (p CachePolicy) changesInPlace(name string) bool {
	if name == "timestamp.json" || logChangesInPlace(name) {
		return true
	}
	for _, r := range p.Rewritten {
		if name == r || strings.HasSuffix(r, "/") && strings.HasPrefix(name, r) {
			return true
		}
	}
	return false
}

// CacheControl is DefaultCachePolicy's Cache-Control for a file.
func CacheControl(name string) string { return DefaultCachePolicy.CacheControl(name) }

// ContentType is the Content-Type a published file is served with.
func ContentType(name string) string {
	if logChangesInPlace(name) || strings.HasPrefix(name, "log/index/") || strings.HasPrefix(name, "log/pending/") {
		// the log's notes and index files are text; its tiles are binary
		return "text/plain; charset=utf-8"
	}
	switch path.Ext(name) {
	case ".json":
		return "application/json"
	case ".html":
		return "text/html; charset=utf-8"
	}
	return "application/octet-stream"
}
