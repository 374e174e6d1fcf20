package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCachePolicy(t *testing.T) {
	hash := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, cache string
		immutable   bool
	}{
		{"timestamp.json", "public, max-age=60", false},
		{"12.root.json", CacheImmutable, true},
		{"3.registry.example.test.json", CacheImmutable, true},
		{"targets/registry.example.test/" + hash + ".keys.json", CacheImmutable, true},
		{"root.json", CacheRevalidate, false},
		{"targets/registry.example.test/keys.json", CacheRevalidate, false},
		// the transparency log: tiles, bundles and index files are
		// written once; the checkpoint and latest files change in place
		{"log/tile/0/x001/234.p/7", CacheImmutable, true},
		{"log/tile/entries/000", CacheImmutable, true},
		{"log/index/registry.example.test/" + hash, CacheImmutable, true},
		{"log/checkpoint", "public, max-age=60", false},
		{"log/latest/registry.example.test", "public, max-age=60", false},
		{"log/pending/12", CacheRevalidate, false},
	}
	for _, tt := range tests {
		if got := CacheControl(tt.name); got != tt.cache || Immutable(tt.name) != tt.immutable {
			t.Errorf("%s: cache %q immutable %v", tt.name, got, Immutable(tt.name))
		}
	}
}

func TestCachePolicyForTimestamp(t *testing.T) {
	for _, tt := range []struct {
		life time.Duration
		want string
	}{{0, CacheNoStore}, {90 * time.Second, "public, max-age=90"}, {time.Hour, "public, max-age=3600"}} {
		p := CachePolicy{TimestampMaxAge: tt.life}
		if got := p.CacheControl("timestamp.json"); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.life, got, tt.want)
		}
		if got := p.CacheControl("3.snapshot.json"); got != CacheImmutable {
			t.Errorf("%s: snapshot %q", tt.life, got)
		}
	}
}

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Get(ctx, "a/b.json", 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if s, _, _ := d.Compare(ctx, "a/b.json", []byte("x")); s != Missing {
		t.Errorf("compare missing = %v", s)
	}
	if err := d.Put(ctx, "a/b.json", []byte("hello"), Always); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		data string
		want State
	}{{"hello", Same}, {"hell", Different}, {"hello!", Different}, {"", Different}} {
		if s, _, err := d.Compare(ctx, "a/b.json", []byte(tt.data)); s != tt.want || err != nil {
			t.Errorf("compare %q = %v, %v; want %v", tt.data, s, err, tt.want)
		}
	}
	if got, _, err := d.Get(ctx, "a/b.json", 5); err != nil || string(got) != "hello" {
		t.Errorf("get = %q, %v", got, err)
	}
	if _, _, err := d.Get(ctx, "a/b.json", 4); err == nil {
		t.Error("get beyond the bound succeeded")
	}
	if err := d.Put(ctx, "../escape.json", []byte("x"), Always); err == nil {
		t.Error("wrote outside the directory")
	}
}

// Files a policy names as rewritten in place (a status page) are cached as
// timestamp.json is; store itself names none of them.
func TestCachePolicyRewritten(t *testing.T) {
	p := CachePolicy{TimestampMaxAge: time.Minute, Rewritten: []string{"index.html", "status/"}}
	for _, name := range []string{"index.html", "status/bins-00.html"} {
		if got := p.CacheControl(name); got != "public, max-age=60" {
			t.Errorf("%s: %q", name, got)
		}
	}
	// a folder's name covers what is under it, not a file sharing its start
	if got := p.CacheControl("status.json"); got != CacheRevalidate {
		t.Errorf("status.json without the policy naming it: %q", got)
	}
	if got := DefaultCachePolicy.CacheControl("index.html"); got != CacheRevalidate {
		t.Errorf("index.html without the policy naming it: %q", got)
	}
}
