package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/syncbuf"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// plain is a generic TUF repository (any target path, any delegation
// shape) served on loopback.
type plain struct {
	repo *tufrepo.Repo
	srv  *repoServer
}

func newPlain(t *testing.T) *plain {
	t.Helper()
	dir := t.TempDir()
	r, err := tufrepo.New(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &plain{repo: r, srv: newRepoServer(t, dir)}
}

func (p *plain) client(t *testing.T, cacheDir string, mutate ...func(*client.Options)) *client.Client {
	t.Helper()
	root, err := p.repo.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	opts := client.Options{
		Repositories:   []string{p.srv.URL},
		TrustedRoot:    root,
		CacheDir:       cacheDir,
		MaxAge:         client.Age(0),
		RequestTimeout: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&opts)
	}
	cl, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// trustedVersion is the version of a role in the client's trusted state,
// 0 when it trusts none.
func trustedVersion(t *testing.T, cl *client.Client, role string) int64 {
	t.Helper()
	roles, err := cl.TUF().TrustedMetadata(ctx)
	must(t, err)
	data, ok := roles[role]
	if !ok {
		return 0
	}
	var md struct {
		Signed struct{ Version int64 } `json:"signed"`
	}
	must(t, json.Unmarshal(data, &md))
	return md.Signed.Version
}

// staleAfterChange is a client whose cache holds the corepack 0.30 list
// and has gone stale while the repository published the rotated list.
func staleAfterChange(t *testing.T) (*world, *client.Client, *syncbuf.Buffer) {
	t.Helper()
	w := newWorld(t, "corepack-0.30.json")
	cl, logs := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.publish("npm/keys.json")
	w.advance(2 * time.Hour)
	return w, cl, logs
}

// failOnce makes the first request whose path ends with suffix answer code.
func failOnce(s *repoServer, suffix string, code int) {
	done := false
	s.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if done || !strings.HasSuffix(r.URL.Path, suffix) {
			return false
		}
		done = true
		w.WriteHeader(code)
		return true
	})
}

func paths(log []string) []string {
	var out []string
	for _, l := range log {
		out = append(out, strings.Fields(l)[1])
	}
	return out
}

// A root that verified is kept even when a later step of the same update
// fails: an attacker who then hides it cannot hold the client on the
// older root and the keys it revokes (specification 5.3.8).
func TestVerifiedRootSurvivesALaterFailure(t *testing.T) {
	t.Parallel()
	p := newPlain(t)
	dir := t.TempDir()
	cl := p.client(t, dir)
	if _, err := cl.TUF().RefreshMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	// root v2 replaces the timestamp key; the old one is compromised
	must(t, p.repo.RotateKeys(metadata.TIMESTAMP))
	must(t, p.repo.Publish(metadata.TARGETS))
	failOnce(p.srv, ".snapshot.json", http.StatusInternalServerError)
	if _, err := cl.TUF().RefreshMetadata(ctx); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("snapshot answered 500: %v", err)
	}
	if v := trustedVersion(t, cl, metadata.ROOT); v != 2 {
		t.Fatalf("trusted root v%d after root v2 verified, want v2", v)
	}
	// the attacker now hides root v2
	p.srv.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/2.root.json") {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		return false
	})
	p.srv.takeLog()
	again := p.client(t, dir)
	if _, err := again.TUF().RefreshMetadata(ctx); err != nil {
		t.Fatalf("refresh on root v2: %v", err)
	}
	got := paths(p.srv.takeLog())
	if slices.Contains(got, "/2.root.json") || !slices.Contains(got, "/3.root.json") {
		t.Errorf("requests %v: the client went back to root v1", got)
	}
}

// Each verified role raises the rollback floor at once, even when the
// update fails later (5.4.5, 5.5.7, 5.6.6).
func TestVerifiedVersionsSurviveALaterFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	oldTimestamp := readRepo(t, w, "timestamp.json")
	cl, logs := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	w.publish("npm/keys.json")
	w.advance(2 * time.Hour)
	failOnce(w.srv, ".keys.json", http.StatusInternalServerError)
	keys, err := cl.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 1 {
		t.Fatalf("with the new key list unreachable: %v", err)
	}
	if !strings.Contains(logs.String(), "the repository is unreachable; answering from the cache") {
		t.Errorf("no warning:\n%s", logs)
	}
	for role, want := range map[string]int64{metadata.TIMESTAMP: 2, metadata.SNAPSHOT: 2, metadata.TARGETS: 2} {
		if v := trustedVersion(t, cl, role); v != want {
			t.Errorf("trusted %s v%d, want v%d", role, v, want)
		}
	}
	// the repository, or a man in the middle, now serves timestamp v1 again
	w.srv.setIntercept(serveBytes("/timestamp.json", oldTimestamp))
	_, err = cl.TUF().RefreshMetadata(ctx)
	if !errors.Is(err, client.ErrUntrusted) {
		t.Fatalf("timestamp v1 after v2 verified: %v", err)
	}
	contains(t, err, "rollback")
}

// Asking for a registry the repository does not list keeps the update
// that verified on the way: the metadata is not fetched again.
func TestUnknownRegistryKeepsTheVerifiedUpdate(t *testing.T) {
	t.Parallel()
	w, cl, _ := staleAfterChange(t)
	w.srv.takeLog()
	if _, err := cl.Keys(ctx, "other.example.test"); !errors.Is(err, client.ErrNoKeyList) {
		t.Fatalf("unlisted registry: %v", err)
	}
	if !slices.Contains(paths(w.srv.takeLog()), "/2.targets.json") {
		t.Fatal("the update did not fetch the new targets")
	}
	if v := trustedVersion(t, cl, metadata.TARGETS); v != 2 {
		t.Errorf("trusted targets v%d, want v2", v)
	}
	// while fresh, the verified metadata answers "not listed" by itself
	if _, err := cl.Keys(ctx, "other.example.test"); !errors.Is(err, client.ErrNoKeyList) {
		t.Fatalf("unlisted registry again: %v", err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("a fresh cache asked the network to say no again: %v", got)
	}
	keys, err := cl.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("the new key list: %v", err)
	}
	for _, p := range paths(w.srv.takeLog()) {
		if strings.HasSuffix(p, "snapshot.json") || strings.HasSuffix(p, "targets.json") {
			t.Errorf("fetched %s again, which the kept update already verified", p)
		}
	}
}

// dropRegistry publishes targets without a registry's key list, as a
// maintainer would by editing the staged targets by hand.
func dropRegistry(t *testing.T, w *world, registry string) {
	t.Helper()
	if _, err := w.c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(w.c.WS.Dir, "staged", "targets.json")
	md, err := metadata.Targets().FromFile(staged)
	must(t, err)
	delete(md.Signed.Targets, registry+"/keys.json")
	data, err := md.ToBytes(true)
	must(t, err)
	must(t, os.WriteFile(staged, data, 0o644))
	must(t, w.c.Sign(2))
	_, err = w.c.Publish()
	must(t, err)
}

// Refresh drops a key list the repository no longer lists, says so, and
// still brings the rest up to date.
func TestRefreshDropsRemovedKeyLists(t *testing.T) {
	t.Parallel()
	const other = "other.example.test"
	w := newWorld(t, "corepack-0.30.json")
	if err := w.c.StagePublish(other, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	cl, _ := w.client(t.TempDir())
	for _, h := range []string{host, other} {
		if _, err := cl.Keys(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	dropRegistry(t, w, other)
	res, err := cl.Refresh(ctx)
	if err != nil {
		t.Fatalf("refresh after a registry was removed: %v", err)
	}
	if !slices.Equal(res.Dropped, []string{other + "/keys.json"}) || res.Repository != w.srv.URL {
		t.Errorf("refresh result %+v", res)
	}
	w.srv.takeLog()
	keys, err := cl.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("the refreshed list: %v", err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("refresh left the kept list stale: %v", got)
	}
	if info, _ := cl.CacheInfo(ctx); !slices.Equal(info.KeyLists, []string{host + "/keys.json"}) {
		t.Errorf("cache still lists %v", info.KeyLists)
	}
	if _, err := cl.Keys(ctx, other); !errors.Is(err, client.ErrNoKeyList) {
		t.Errorf("the dropped registry: %v", err)
	}
}

// A clock that stepped back leaves the last check in the future: Refresh
// must still ask the repository, with or without key lists cached.
func TestRefreshAfterTheClockSteppedBack(t *testing.T) {
	t.Parallel()
	for _, warmKeys := range []bool{false, true} {
		w := newWorld(t, "npm/keys.json")
		cl, _ := w.client(t.TempDir())
		if warmKeys {
			_, err := cl.Keys(ctx, host)
			must(t, err)
		} else {
			_, err := cl.TUF().RefreshMetadata(ctx)
			must(t, err)
		}
		w.advance(-3 * time.Hour)
		w.srv.takeLog()
		if _, err := cl.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := w.srv.takeLog(); len(got) < 2 {
			t.Errorf("key lists cached %v: refresh after the clock stepped back made requests %v", warmKeys, got)
		}
	}
}

// A role delegated by two roles is verified with the keys of the
// delegator each lookup goes through, not the first one that loaded it.
func TestDelegatedRoleIsVerifiedAgainstItsCurrentDelegator(t *testing.T) {
	t.Parallel()
	p := newPlain(t)
	r := p.repo
	must(t, r.Delegate(metadata.TARGETS, "parent-a", []string{"team-a/*"}))
	must(t, r.Delegate(metadata.TARGETS, "parent-b", []string{"team-b/*"}))
	must(t, r.Delegate("parent-a", "release", []string{"team-a/*"}))
	must(t, r.Delegate("parent-b", "release", []string{"team-b/*"}))
	// release is signed with parent-a's key for it only
	r.Signers["release"] = r.Signers["release"][:1]
	must(t, r.AddTarget("release", "team-a/file", []byte("trusted A")))
	must(t, r.AddTarget("release", "team-b/file", []byte("malicious B")))
	must(t, r.Publish("release", "parent-a", "parent-b", metadata.TARGETS))

	cl := p.client(t, t.TempDir())
	got, err := cl.TUF().Targets(ctx, []string{"team-a/file", "team-b/file"})
	if !errors.Is(err, client.ErrUntrusted) {
		t.Fatalf("team-b/file through parent-b: %v", err)
	}
	contains(t, err, `"release"`, `"parent-b"`)
	if len(got) != 1 || string(got[0]) != "trusted A" {
		t.Errorf("got %q", got)
	}
	// a later lookup on the same cache, through the other delegator
	if _, err := cl.TUF().Target(ctx, "team-b/file"); !errors.Is(err, client.ErrUntrusted) {
		t.Errorf("team-b/file on its own: %v", err)
	}
	if data, err := cl.TUF().Target(ctx, "team-a/file"); err != nil || string(data) != "trusted A" {
		t.Errorf("team-a/file: %q, %v", data, err)
	}
}

// Requests started ahead never fetch one URL twice in one update, however
// the server's delays fall: cold caches, changed repositories, new roots.
func TestSpeculationNeverFetchesAURLTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	w.srv.setIntercept(func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		return false
	})
	check := func(what string) {
		t.Helper()
		seen := map[string]bool{}
		for _, p := range paths(w.srv.takeLog()) {
			if seen[p] {
				t.Errorf("%s fetched %s twice", what, p)
			}
			seen[p] = true
		}
	}
	lists := []string{"npm/keys.json", "corepack-0.30.json"}
	warm, _ := w.client(t.TempDir())
	flip := 0
	for i := range testutil.Rounds(30) {
		cold, _ := w.client(t.TempDir())
		if _, err := cold.Keys(ctx, host); err != nil {
			t.Fatal(err)
		}
		check("a cold fetch")
		if i%10 == 9 {
			extra, err := ceremony.NewKey(fmt.Sprintf("extra%d", i))
			must(t, err)
			if _, err := w.c.WS.Rotate(workspace.RotateOptions{AddRootKeys: []workspace.PublicKey{extra.Public}}); err != nil {
				t.Fatal(err)
			}
			must(t, w.c.Sign(2))
			_, err = w.c.Publish()
			must(t, err)
		} else {
			list := lists[flip%2]
			flip++
			remove := []string(nil)
			if list == "corepack-0.30.json" {
				remove = []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}
			}
			_, err := w.c.WS.Stage(host, fixture(t, list), remove)
			must(t, err)
			must(t, w.c.Sign(2))
			_, err = w.c.Publish()
			must(t, err)
		}
		w.srv.takeLog()
		w.advance(2 * time.Hour)
		if _, err := warm.Keys(ctx, host); err != nil {
			t.Fatal(err)
		}
		check("an update after a change")
	}
}

// MaxAge: unset keeps the default, zero asks the repository every time,
// negative is refused.
func TestMaxAgeZeroAlwaysAsks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.MaxAge = client.Age(0) })
	for i := range 3 {
		if _, err := cl.Keys(ctx, host); err != nil {
			t.Fatal(err)
		}
		if got := w.srv.takeLog(); len(got) < 2 {
			t.Errorf("lookup %d with max age 0 made requests %v", i, got)
		}
	}
	def, _ := w.client(cl.CacheDir())
	if _, err := def.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("the default max age asked the network right after a check: %v", got)
	}
	_, err := client.New(client.Options{Repositories: []string{w.srv.URL}, TrustedRoot: w.root(), MaxAge: client.Age(-time.Second)})
	contains(t, err, "negative")
}

// "The repository is inconsistent" and "the network is down" are told
// apart, each with its own error kind, and each lets an unexpired cache
// answer with a warning that says which it was.
func TestInconsistentIsNotUnavailable(t *testing.T) {
	t.Parallel()
	missingSnapshot := func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".snapshot.json") {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		return false
	}
	t.Run("cold", func(t *testing.T) {
		w := newWorld(t, "npm/keys.json")
		w.srv.setIntercept(missingSnapshot)
		cl, _ := w.client(t.TempDir())
		_, err := cl.Keys(ctx, host)
		if !errors.Is(err, client.ErrInconsistent) || errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrUntrusted) {
			t.Fatalf("snapshot missing: %v", err)
		}
		contains(t, err, "inconsistent", "1.snapshot.json")
		w.srv.Close()
		_, err = cl.Keys(ctx, host)
		if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrInconsistent) {
			t.Fatalf("server down: %v", err)
		}
	})
	t.Run("warm", func(t *testing.T) {
		w, cl, logs := staleAfterChange(t)
		w.srv.setIntercept(missingSnapshot)
		keys, err := cl.Keys(ctx, host)
		if err != nil || len(keys.Keys) != 1 {
			t.Fatalf("inconsistent repository, warm cache: %v", err)
		}
		if !strings.Contains(logs.String(), "the repository is inconsistent; answering from the cache") {
			t.Errorf("no warning naming the inconsistency:\n%s", logs)
		}
		// an explicit refresh reports the failure rather than hiding it
		if _, err := cl.Refresh(ctx); !errors.Is(err, client.ErrInconsistent) {
			t.Errorf("refresh of an inconsistent repository: %v", err)
		}
	})
}

// Any target of any repository, its targets served from a URL of their
// own, and the trusted metadata byte for byte.
func TestTargetsFromTheirOwnBaseURL(t *testing.T) {
	t.Parallel()
	p := newPlain(t)
	must(t, p.repo.AddTarget(metadata.TARGETS, "dir/file.txt", []byte("hello")))
	must(t, p.repo.Publish(metadata.TARGETS))
	targets := newRepoServer(t, filepath.Join(p.repo.Dir, "targets"))
	cl := p.client(t, t.TempDir(), func(o *client.Options) { o.TargetBaseURL = targets.URL })
	data, err := cl.TUF().Target(ctx, "dir/file.txt")
	if err != nil || string(data) != "hello" {
		t.Fatalf("target: %q, %v", data, err)
	}
	if got := paths(targets.takeLog()); len(got) != 1 || !strings.HasPrefix(got[0], "/dir/") {
		t.Errorf("targets server saw %v", got)
	}
	if _, err := cl.TUF().Target(ctx, "dir/missing.txt"); !errors.Is(err, client.ErrNoTarget) {
		t.Errorf("missing target: %v", err)
	}
	roles, err := cl.TUF().TrustedMetadata(ctx)
	must(t, err)
	for role, file := range map[string]string{metadata.ROOT: "1.root.json", metadata.TIMESTAMP: "timestamp.json", metadata.SNAPSHOT: "2.snapshot.json", metadata.TARGETS: "2.targets.json"} {
		want, err := os.ReadFile(filepath.Join(p.repo.Dir, file))
		must(t, err)
		if string(roles[role]) != string(want) {
			t.Errorf("trusted %s is not %s byte for byte", role, file)
		}
	}
}

// A misspelt registry is answered with the registries this client has
// verified key lists for, nearest first, and no other.
func TestUnknownRegistrySuggestsVerifiedOnes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		asked, want string
	}{
		{"registry.example.tset", "has no key list for registry.example.tset (did you mean registry.example.test?)"},
		{"other.example.test", "has no key list for other.example.test"},
	}
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		_, err := cl.Keys(ctx, tt.asked)
		if !errors.Is(err, client.ErrNoKeyList) || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("Keys(%s) = %v, want an error ending %q", tt.asked, err, tt.want)
		}
	}
}
