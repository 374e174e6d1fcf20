// Package storage is where a published TUF repository lives: a directory or
// an object store. Publishing and mirroring write through this interface,
// so they work the same on every backend.
package storage

import (
	"context"
	"errors"
	"path"
	"regexp"
)

// ErrNotFound marks an object that does not exist.
var ErrNotFound = errors.New("object not found")

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
	// Get returns an object's bytes, at most max of them; ErrNotFound when
	// it does not exist.
	Get(ctx context.Context, name string, max int64) ([]byte, error)
	// Put writes an object whole: a reader sees the old bytes or the new.
	Put(ctx context.Context, name string, data []byte) error
	// Compare tells whether the object exists and holds exactly data.
	Compare(ctx context.Context, name string, data []byte) (State, error)
	// String names the store for messages, e.g. "s3://bucket/prefix".
	String() string
}

var (
	versionedName = regexp.MustCompile(`^[0-9]+\.[^/]+\.json$`)
	hashedName    = regexp.MustCompile(`^[0-9a-f]{64}\.[^/]+$`)
)

// Immutable reports whether a name, once published, must never change:
// versioned metadata (N.role.json) and hash-prefixed targets. Everything
// else (timestamp.json) is replaced on every publish.
func Immutable(name string) bool {
	base := path.Base(name)
	return versionedName.MatchString(base) || hashedName.MatchString(base)
}

// Cache-Control values for published files. timestamp.json must never be
// served from a cache, or clients miss new versions until it expires there.
const (
	CacheImmutable  = "public, max-age=31536000, immutable"
	CacheNoStore    = "no-store"
	CacheRevalidate = "no-cache"
)

// CacheControl is the Cache-Control header a published file is served with.
func CacheControl(name string) string {
	switch {
	case path.Base(name) == "timestamp.json":
		return CacheNoStore
	case Immutable(name):
		return CacheImmutable
	default:
		return CacheRevalidate
	}
}

// ContentType is the Content-Type a published file is served with.
func ContentType(name string) string {
	if path.Ext(name) == ".json" {
		return "application/json"
	}
	return "application/octet-stream"
}
