// Package s3test connects tests to the S3-compatible server that
// scripts/test.sh starts once per run (versitygw on loopback).
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/store/s3"
)

// Server is the test server's settings.
type Server struct {
	Endpoint string
	Bucket   string
}

// Get returns the test server, or skips the test with a message saying how
// to run it when TUFKEYS_S3_ENDPOINT is unset (scripts/test.sh always sets it).
func Get(t testing.TB) Server {
	t.Helper()
	endpoint := os.Getenv("TUFKEYS_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TUFKEYS_S3_ENDPOINT is unset: run scripts/test.sh, which starts an S3 server for these tests")
	}
	bucket := os.Getenv("TUFKEYS_S3_BUCKET")
	if bucket == "" {
		bucket = "tufkeys-test"
	}
	return Server{Endpoint: endpoint, Bucket: bucket}
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// Prefix is a fresh key prefix for one test, so tests share the bucket
// without seeing each other's objects.
func Prefix(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	return strings.Trim(unsafe.ReplaceAllString(t.Name(), "-"), "-") + "-" + hex.EncodeToString(b)
}

// Store opens a fresh prefix of the test bucket.
func (s Server) Store(t testing.TB) (store.Store, string) {
	t.Helper()
	prefix := Prefix(t)
	st, err := s3.Open(context.Background(), s.Bucket+"/"+prefix, s.Options())
	if err != nil {
		t.Fatal(err)
	}
	return st, prefix
}

// Options are the storage options for the test server, with the cache
// policy tufkeys repo publish uses (the status page rewritten in place).
func (s Server) Options() s3.Options {
	policy := store.DefaultCachePolicy
	policy.Rewritten = statuspage.Files
	return s3.Options{EndpointURL: s.Endpoint, PathStyle: true, Cache: &policy}
}

// PublicURL is the plain HTTP URL under which anyone reads prefix.
func (s Server) PublicURL(prefix string) string {
	return strings.TrimSuffix(s.Endpoint, "/") + "/" + s.Bucket + "/" + prefix
}
