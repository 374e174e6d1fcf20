package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

// timestampRequests counts the updates in a request log.
func timestampRequests(log []string) int {
	n := 0
	for _, l := range log {
		if strings.Contains(l, "timestamp.json") {
			n++
		}
	}
	return n
}

// Whoever can make a client meet unknown keyids (a registry, a proxy, a
// man in the middle) cannot make it ask the repository on every call: after
// a forced refresh the next waits the refresh interval, in every process
// sharing the cache.
func TestUnknownKeyIDRefreshBackOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	dir := t.TempDir()
	cl, _ := w.client(dir)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.advance(5 * time.Minute)
	forged := version(t, "pnpm@10.1.0")
	forged.Signatures[0].KeyID = "SHA256:" + strings.Repeat("A", 43)
	w.srv.takeLog()
	for i := range 5 {
		v, err := cl.VerifyVersion(ctx, forged, host)
		if !errors.Is(err, bundle.ErrUnknownKeyID) {
			t.Fatalf("call %d: %v", i, err)
		}
		if i > 0 && (!v.RefreshedRecently || !strings.Contains(err.Error(), "refreshed") || !strings.Contains(err.Error(), "within the refresh interval of 1m0s")) {
			t.Errorf("call %d does not say the list was refreshed recently: %v", i, err)
		}
	}
	if n := timestampRequests(w.srv.takeLog()); n != 1 {
		t.Errorf("5 unknown keyids made %d refreshes, want 1", n)
	}
	// another process on the same cache
	other, _ := w.client(dir)
	if _, err := other.VerifyVersion(ctx, forged, host); !errors.Is(err, bundle.ErrUnknownKeyID) {
		t.Fatal(err)
	}
	if n := timestampRequests(w.srv.takeLog()); n != 0 {
		t.Errorf("another process refreshed %d times within the interval", n)
	}
	w.advance(client.DefaultRefreshInterval)
	if _, err := other.VerifyVersion(ctx, forged, host); !errors.Is(err, bundle.ErrUnknownKeyID) {
		t.Fatal(err)
	}
	if n := timestampRequests(w.srv.takeLog()); n != 1 {
		t.Errorf("after the interval: %d refreshes, want 1", n)
	}
	// a zero interval refreshes on every unknown keyid
	eager, _ := w.client(t.TempDir(), func(o *client.Options) { o.RefreshInterval = client.Age(0) })
	if _, err := eager.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	for range 3 {
		eager.VerifyVersion(ctx, forged, host)
	}
	if n := timestampRequests(w.srv.takeLog()); n != 3 {
		t.Errorf("interval 0: %d refreshes for 3 unknown keyids, want 3", n)
	}
}

// A registry the maintainers just added is found at once, though the cache
// is fresh: a registry the fresh metadata lacks forces one refresh, under
// the same interval, before "no key list".
func TestNewRegistryFoundWhileCacheFresh(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := w.c.StagePublish("new.example.test", fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	// the maintainers added it five minutes after the cache was filled
	w.advance(5 * time.Minute)
	w.srv.takeLog()
	if _, err := cl.Keys(ctx, "new.example.test"); err != nil {
		t.Fatalf("a registry added after the cache was filled: %v", err)
	}
	if n := timestampRequests(w.srv.takeLog()); n != 1 {
		t.Errorf("finding the new registry took %d refreshes, want 1", n)
	}
	for range 3 {
		if _, err := cl.Keys(ctx, "missing.example.test"); !errors.Is(err, client.ErrNoKeyList) {
			t.Fatalf("a registry nobody lists: %v", err)
		}
	}
	if n := timestampRequests(w.srv.takeLog()); n != 0 {
		t.Errorf("unknown registries within the interval made %d refreshes", n)
	}
	w.advance(client.DefaultRefreshInterval + time.Second)
	cl.Keys(ctx, "missing.example.test")
	if n := timestampRequests(w.srv.takeLog()); n != 1 {
		t.Errorf("after the interval an unknown registry made %d refreshes, want 1", n)
	}
}
