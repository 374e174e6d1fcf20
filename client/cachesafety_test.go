package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/signer/publish"
)

// A cache another user may write is refused before anything is read from
// it or locked in it: that user decides what the cache says.
func TestCacheOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the cache to another uid")
	}
	w := newWorld(t, "npm/keys.json")
	tests := []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"owned by another user", func(dir string) error { return os.Chown(dir, 61001, 61001) }, "belongs to uid 61001, not to this user (uid 0)"},
		{"writable by others", func(dir string) error { return os.Chmod(dir, 0o777) }, "may be written by other users (mode 0777), who could change what tufkeys trusts: run chmod go-w"},
		{"writable by the group", func(dir string) error { return os.Chmod(dir, 0o770) }, "may be written by other users (mode 0770)"},
		{"objects owned by another user", func(dir string) error { return os.Chown(filepath.Join(dir, "objects"), 61001, 0) }, "objects belongs to uid 61001"},
		{"record owned by another user", func(dir string) error { return os.Chown(filepath.Join(dir, "current.json"), 61001, 0) }, "current.json belongs to uid 61001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			cl, _ := w.client(dir)
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			_, err := client.New(client.Options{Repositories: []string{w.srv.URL}, TrustedRoot: w.root(), CacheDir: dir})
			if !errors.Is(err, client.ErrUnsafeCache) {
				t.Fatalf("err = %v, want ErrUnsafeCache", err)
			}
			contains(t, err, tt.want)
		})
	}
}

// tufkeys follows no symbolic link inside its cache: where it keeps its
// own files, a link is refused; an object replaced by a link is not read.
func TestCacheFollowsNoLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(elsewhere, []byte(`{"not":"tufkeys"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lock", "current.json", "trusted.json", "roots", "objects"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			cl, _ := w.client(dir)
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(filepath.Join(dir, name))
			if err := os.Symlink(elsewhere, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			_, err := client.New(client.Options{Repositories: []string{w.srv.URL}, TrustedRoot: w.root(), CacheDir: dir})
			if !errors.Is(err, client.ErrUnsafeCache) {
				t.Fatalf("err = %v, want ErrUnsafeCache", err)
			}
			contains(t, err, "holds a symbolic link at "+name)
		})
	}
	t.Run("object", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cache")
		cl, _ := w.client(dir)
		if _, err := cl.Keys(ctx, host); err != nil {
			t.Fatal(err)
		}
		objects, _ := filepath.Glob(filepath.Join(dir, "objects", "*"))
		for _, o := range objects {
			os.Remove(o)
			os.Symlink(elsewhere, o)
		}
		w.srv.takeLog()
		again, _ := w.client(dir)
		if keys, err := again.Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
			t.Fatalf("keys after the objects became links: %v", err)
		}
		if len(w.srv.takeLog()) == 0 {
			t.Error("linked objects were answered from, not fetched again")
		}
	})
}

// What interrupted writes leave behind is removed by the next update.
func TestLeftoversOfInterruptedWritesAreRemoved(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	dir := filepath.Join(t.TempDir(), "cache")
	cl, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(0) })
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	leftovers := []string{".current.json.tmp-1234", "objects/.0a1b.tmp-5678", "roots/.2.root.json.tmp-42", ".work-123/objects/x"}
	for _, l := range leftovers {
		p := filepath.Join(dir, l)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("half written"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.publish("npm/keys.json")
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	for _, l := range append(leftovers, ".work-123") {
		if _, err := os.Lstat(filepath.Join(dir, l)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", l)
		}
	}
}

// A call waits for another process's hold on the cache for LockWait in
// all, though it takes the lock twice (to answer, then to update), and
// says how long it waited.
func TestLockWaitIsOneBound(t *testing.T) {
	w := newWorld(t, "npm/keys.json")
	dir := filepath.Join(t.TempDir(), "cache")
	const wait = 400 * time.Millisecond
	cl, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(0); o.LockWait = wait })
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	holder := flock.New(filepath.Join(dir, "lock"))
	if err := holder.Lock(); err != nil {
		t.Fatal(err)
	}
	defer holder.Unlock()
	start := time.Now()
	_, err := cl.Keys(ctx, host)
	took := time.Since(start)
	contains(t, err, "another tufkeys process held the cache "+dir+" for longer than the 400ms this call waits")
	// each lock taken with its own bound would wait twice as long
	if took >= 2*wait {
		t.Errorf("waited %s, more than the bound of %s", took, wait)
	}
}

// A long-lived client keeps the answer set it verified in memory, and
// lets it go as soon as another process renews the cache or it expires.
func TestLongLivedClientSeesRenewals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	dir := filepath.Join(t.TempDir(), "cache")
	long, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(24 * time.Hour) })
	for range 2 {
		if keys, err := long.Keys(ctx, host); err != nil || len(keys.Keys) != 1 {
			t.Fatalf("before the rotation: %v", err)
		}
	}
	w.publish("npm/keys.json")
	other, _ := w.client(dir)
	if _, err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	if keys, err := long.Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("after another process refreshed the cache: %d keys, %v", len(keys.Keys), err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("the renewed cache was not answered from: %v", got)
	}
	// past the timestamp's expiry the kept answer set is not used
	w.advance(25 * time.Hour)
	if _, err := publish.Timestamp(ctx, w.c.WS, w.c.Online.Signer, w.c.Store, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := long.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) == 0 {
		t.Error("an expired answer set was answered from memory")
	}
}

// A fresh answer in a new process reads the answer set without verifying
// it again, but not once a newer root has arrived: then the full check
// runs (here it finds the newer root does not verify, and drops it).
func TestFastAnswerYieldsToANewerRoot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	dir := filepath.Join(t.TempDir(), "cache")
	first, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(24 * time.Hour) })
	if _, err := first.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	fresh, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(24 * time.Hour) })
	if keys, err := fresh.Keys(ctx, host); err != nil || len(keys.Keys) != 2 || len(w.srv.takeLog()) != 0 {
		t.Fatalf("fresh answer: %v", err)
	}
	bogus := filepath.Join(dir, "roots", "2.root.json")
	if err := os.WriteFile(bogus, []byte(`{"signed":{"_type":"root","version":2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	again, _ := w.client(dir, func(o *client.Options) { o.MaxAge = client.Age(24 * time.Hour) })
	if keys, err := again.Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("after a newer root file appeared: %v", err)
	}
	if _, err := os.Stat(bogus); !errors.Is(err, os.ErrNotExist) {
		t.Error("the answer came without the full check: the root that does not verify is still there")
	}
}
