package client_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

var ctx = context.Background()

func TestFreshCacheAsksNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	keys, err := cl.Keys(ctx, "https://"+host+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 2 {
		t.Fatalf("keys %v", keys.KeyIDs())
	}
	cold := w.srv.takeLog()
	if len(cold) != 5 {
		t.Errorf("cold refresh made %d requests, want 5: %v", len(cold), cold)
	}
	w.advance(30 * time.Minute)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("fresh cache made requests: %v", got)
	}
	// a new client on the same cache directory is just as fresh
	w.advance(29 * time.Minute)
	cl2, _ := w.client(cl.CacheDir())
	if _, err := cl2.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("second client on a fresh cache made requests: %v", got)
	}
}

// Once the cache is older than the max age and nothing changed, a refresh
// is two overlapping requests: the probe for a new root (404) and a
// conditional timestamp.json (304).
func TestStaleUnchangedIsTwoRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	w.advance(2 * time.Hour)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	got := w.srv.takeLog()
	want := map[string]bool{"GET /2.root.json Not Found": true, "GET /timestamp.json Not Modified": true}
	if len(got) != 2 || !want[got[0]] || !want[got[1]] {
		t.Errorf("stale refresh: %v, want a 404 root probe and a 304 timestamp", got)
	}
}

// Object stores answer 403 for a missing object; on the root probe that
// means "no newer root".
func TestForbiddenRootProbeMeansNoNewRoot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	for _, status := range []int{403, 410} {
		w.srv.setIntercept(func(rw http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "2.root.json") {
				rw.WriteHeader(status)
				return true
			}
			return false
		})
		cl, _ := w.client(t.TempDir())
		if _, err := cl.Keys(ctx, host); err != nil {
			t.Errorf("root probe answered %d: %v", status, err)
		}
	}
}

// The rotation story: a client with the old list meets a package signed by
// the new key, refreshes by itself and verifies it, with no new release.
func TestUnknownKeyIDRefreshesOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	cl, logs := w.client(t.TempDir())
	if _, err := cl.VerifyVersion(ctx, version(t, "tiny-tarball@1.0.0"), host); err != nil {
		t.Fatal(err)
	}
	_, err := cl.VerifyVersion(ctx, version(t, "pnpm@10.1.0"), host)
	if !errors.Is(err, bundle.ErrUnknownKeyID) {
		t.Fatalf("before the rotation: %v, want ErrUnknownKeyID", err)
	}
	w.publish("npm/keys.json")
	// the rotation comes later than the refresh interval after that refresh
	w.advance(client.DefaultRefreshInterval)
	w.srv.takeLog()
	v, err := cl.VerifyVersion(ctx, version(t, "pnpm@10.1.0"), host)
	if err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if !v.Refreshed || !reflect.DeepEqual(v.VerifiedBy, []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}) {
		t.Errorf("verdict %+v", v)
	}
	if len(w.srv.takeLog()) == 0 {
		t.Error("verified a rotated key without asking the repository")
	}
	if !strings.Contains(logs.String(), "refreshing the key list") {
		t.Errorf("no log line about the refresh:\n%s", logs)
	}
	// a version signed by nobody the repository knows still fails, after one refresh
	forged := version(t, "pnpm@10.1.0")
	forged.Signatures[0].KeyID = "SHA256:" + strings.Repeat("A", 43)
	w.srv.takeLog()
	if _, err := cl.VerifyVersion(ctx, forged, host); !errors.Is(err, bundle.ErrUnknownKeyID) {
		t.Errorf("unknown key after refresh: %v", err)
	}
	if n := len(w.srv.takeLog()); n > 3 {
		t.Errorf("unknown key triggered %d requests; one refresh is at most 3", n)
	}
}

func TestNetworkDownFallsBackToUnexpiredCache(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, logs := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.srv.Close()
	w.advance(2 * time.Hour)
	keys, err := cl.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("network down, cache unexpired: %v", err)
	}
	if !strings.Contains(logs.String(), "the repository is unreachable; answering from the cache") {
		t.Errorf("no warning:\n%s", logs)
	}
	// the timestamp lives one day: after that the cache cannot vouch
	w.advance(24 * time.Hour)
	_, err = cl.Keys(ctx, host)
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("network down, cache expired: %v", err)
	}
	contains(t, err, "no unexpired copy", "refresh once it answers")
}

func TestOfflineUsesCacheOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	dir := t.TempDir()
	offline := func(o *client.Options) { o.Offline = true }
	cl, _ := w.client(dir, offline)
	if _, err := cl.Keys(ctx, host); !errors.Is(err, client.ErrOffline) {
		t.Fatalf("offline with an empty cache: %v", err)
	}
	warm, _ := w.client(dir)
	if _, err := warm.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	w.advance(5 * time.Hour)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatalf("offline with an old but unexpired cache: %v", err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("offline client made requests: %v", got)
	}
}

func TestNoKeyListForHost(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	_, err := cl.Keys(ctx, "other.example.test")
	if !errors.Is(err, client.ErrNoKeyList) {
		t.Fatalf("err = %v", err)
	}
	contains(t, err, "has no key list for other.example.test")
}

// A corrupt cache file is never trusted and never a crash: the client
// fetches it again.
func TestCorruptCacheFileIsFetchedAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	warm := t.TempDir()
	cl, _ := w.client(warm)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	objects, _ := filepath.Glob(filepath.Join(warm, "objects", "*"))
	if len(objects) != 4 {
		t.Fatalf("cache holds %d objects, want timestamp, snapshot, targets and the key list", len(objects))
	}
	names := []string{"trusted.json", "current.json", "roots/2.root.json"}
	for _, o := range objects {
		names = append(names, "objects/"+filepath.Base(o))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(warm)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			cl2, _ := w.client(dir)
			keys, err := cl2.Keys(ctx, host)
			if err != nil || len(keys.Keys) != 2 {
				t.Fatalf("after corrupting %s: %v", name, err)
			}
			// and the cache is whole again: a second client answers alone
			w.srv.takeLog()
			cl3, _ := w.client(dir)
			if _, err := cl3.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			if got := w.srv.takeLog(); len(got) != 0 {
				t.Errorf("after repairing %s the cache still asks the network: %v", name, got)
			}
		})
	}
}

// A home without a usable cache directory still works, in memory, with a
// warning.
func TestUnusableCacheDirectoryFallsBackToMemory(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("not a directory"), 0o600)
	cl, logs := w.client(filepath.Join(blocker, "cache"))
	if cl.CacheDir() != "" {
		t.Fatalf("cache dir %q", cl.CacheDir())
	}
	if _, err := cl.VerifyVersion(ctx, version(t, "pnpm@10.1.0"), host); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("memory cache did not answer: %v", got)
	}
	if !strings.Contains(logs.String(), "keeping verified metadata in memory") {
		t.Errorf("no warning:\n%s", logs)
	}
}

func TestNewRefusesMissingRootAndRepository(t *testing.T) {
	t.Parallel()
	// no root: the build's first source, with its URLs (nothing is fetched)
	builtin := client.BuiltinSources()
	if len(builtin) == 0 {
		t.Fatal("this build embeds no source")
	}
	def, err := client.New(client.Options{CacheDir: t.TempDir()})
	if err != nil || !slices.Equal(def.Repositories(), builtin[0].Repositories) {
		t.Fatalf("no root: %v, repositories %v, want the first built-in source's", err, def.Repositories())
	}
	_, err = client.NewSources(client.Options{}, nil)
	if !errors.Is(err, client.ErrNoRoot) {
		t.Fatalf("no source: %v", err)
	}
	// a library's error names no command-line flag or variable
	contains(t, err, "none was given and this build embeds none")
	if strings.Contains(err.Error(), "--") || strings.Contains(err.Error(), "TUFKEYS_") {
		t.Errorf("the library speaks of the CLI: %v", err)
	}
	w := newWorld(t, "npm/keys.json")
	_, err = client.New(client.Options{TrustedRoot: w.root()})
	if !errors.Is(err, client.ErrNoRepository) {
		t.Fatalf("no repository: %v", err)
	}
	contains(t, err, "none was given and this build names none")
	_, err = client.New(client.Options{TrustedRoot: []byte("{}"), Repositories: []string{"http://127.0.0.1:1"}})
	if !errors.Is(err, client.ErrBadRoot) {
		t.Errorf("an empty object as root: %v, want ErrBadRoot", err)
	}
	contains(t, err, "the trusted root is not TUF root metadata: it is not root metadata of version 1 or more")
}

func TestCacheInfoAndClear(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	info, err := cl.CacheInfo(ctx)
	if err != nil || info.Verified || info.Problem != "never refreshed" {
		t.Fatalf("empty cache info %+v, %v", info, err)
	}
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	info, err = cl.CacheInfo(ctx)
	if err != nil || !info.Verified || !info.Fresh || info.Repository != w.srv.URL || len(info.Roles) != 4 || !reflect.DeepEqual(info.KeyLists, []string{host + "/keys.json"}) {
		t.Fatalf("info %+v, %v", info, err)
	}
	if err := cl.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := cl.CacheInfo(ctx); info.Verified || len(info.KeyLists) != 0 {
		t.Errorf("after clear: %+v", info)
	}
}

// With speculation off, requests go one at a time in the order the TUF
// specification lists them.
func TestSequentialFollowsTheSpecificationOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	var order []string
	var inflight, maxInflight int
	var mu sync.Mutex
	w.srv.setIntercept(func(http.ResponseWriter, *http.Request) bool {
		mu.Lock()
		inflight++
		maxInflight = max(maxInflight, inflight)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		inflight--
		mu.Unlock()
		return false
	})
	cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.Sequential = true })
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	for _, l := range w.srv.takeLog() {
		order = append(order, strings.Fields(l)[1])
	}
	want := []string{"/2.root.json", "/timestamp.json", "/1.snapshot.json", "/1.targets.json", "/targets/" + host + "/"}
	if len(order) != len(want) {
		t.Fatalf("requests %v", order)
	}
	for i := range want {
		if !strings.HasPrefix(order[i], want[i]) {
			t.Errorf("request %d is %s, want %s", i, order[i], want[i])
		}
	}
	if maxInflight != 1 {
		t.Errorf("%d requests overlapped", maxInflight)
	}
}

// Without a home directory there is no default cache directory: the client
// still works, in memory, and says so.
func TestMissingHomeFallsBackToMemory(t *testing.T) {
	w := newWorld(t, "npm/keys.json")
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	cl, logs := w.client("")
	if cl.CacheDir() != "" {
		t.Fatalf("cache dir %q without a home", cl.CacheDir())
	}
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "keeping verified metadata in memory") {
		t.Errorf("no warning:\n%s", logs)
	}
}
