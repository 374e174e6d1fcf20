package client_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/mirror"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// binnedWorld is a world whose key lists live in hashed bins.
func binnedWorld(t testing.TB, registries int) *world {
	t.Helper()
	return manyWorld(t, registries, 16)
}

// manyWorld is a world of several registries, in bins or flat (bins 0).
func manyWorld(t testing.TB, registries, bins int, tweak ...func(*ceremony.Options)) *world {
	t.Helper()
	w := &world{t: t, now: time.Now().UTC()}
	o := ceremony.Options{Now: w.clock, Bins: bins}
	for _, f := range tweak {
		f(&o)
	}
	c, err := ceremony.New(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	list := fixture(t, "npm/keys.json")
	items := []workspace.StageItem{{Registry: host, List: list, New: true}}
	for i := range registries - 1 {
		items = append(items, workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true})
	}
	if _, err := c.WS.StageMany(items); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	w.srv = newRepoServer(t, c.RepoDir)
	return w
}

// The client finds a key list through its bin: a cold lookup asks for the
// root probe, timestamp, snapshot, targets, the one bin and the key list,
// and the bin is asked for as soon as the snapshot names it.
func TestKeysThroughHashedBins(t *testing.T) {
	t.Parallel()
	w := binnedWorld(t, 30)
	for _, sequential := range []bool{true, false} {
		cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.Sequential = sequential })
		w.srv.takeLog()
		keys, err := cl.Keys(ctx, host)
		if err != nil || len(keys.Keys) != 2 {
			t.Fatalf("sequential %v: %v", sequential, err)
		}
		log := w.srv.takeLog()
		bins := 0
		for _, l := range log {
			if strings.Contains(l, ".bins-") {
				bins++
			}
		}
		if len(log) != 6 || bins != 1 {
			t.Errorf("sequential %v: %d requests, %d of bins: %v", sequential, len(log), bins, log)
		}
		if _, err := cl.Keys(ctx, "r3.example.test"); err != nil {
			t.Errorf("another registry's list: %v", err)
		}
		if _, err := cl.Keys(ctx, "nowhere.example.test"); err == nil {
			t.Error("a registry no bin lists was answered")
		}
	}
}

// With requests overlapping, the bin is asked for together with
// targets.json, named from the snapshot: a cold lookup in bins takes the
// round trips a flat one does.
func TestBinFetchedWithTargets(t *testing.T) {
	t.Parallel()
	w := binnedWorld(t, 30)
	var mu sync.Mutex
	var targetsDone time.Time
	var binAsked time.Time
	w.srv.setIntercept(func(rw http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, ".targets.json"):
			time.Sleep(300 * time.Millisecond)
			mu.Lock()
			targetsDone = time.Now()
			mu.Unlock()
		case strings.Contains(r.URL.Path, ".bins-"):
			mu.Lock()
			binAsked = time.Now()
			mu.Unlock()
		}
		return false
	})
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if binAsked.IsZero() || !binAsked.Before(targetsDone) {
		t.Errorf("the bin was asked for at %v, after targets.json was answered at %v", binAsked, targetsDone)
	}
}

// A mirror of a repository in bins copies every bin, and serves clients
// as the origin does.
func TestMirrorOfHashedBins(t *testing.T) {
	t.Parallel()
	w := binnedWorld(t, 30)
	cl, _ := w.client(t.TempDir())
	repo, err := mirror.Collect(ctx, cl, w.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	bins := 0
	for _, f := range repo.Objects {
		if strings.Contains(f.Name, ".bins-") {
			bins++
		}
	}
	if bins != 16 || len(repo.KeyLists) != 30 {
		t.Errorf("collected %d bins and %d key lists, want 16 and 30", bins, len(repo.KeyLists))
	}
}

// A client that cached the flat layout follows the move into bins.
func TestClientFollowsMigrationToBins(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.MaxAge = client.Age(0) })
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.WS.Migrate(8); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Publish(); err != nil {
		t.Fatal(err)
	}
	w.srv.takeLog()
	if keys, err := cl.Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("after the move: %v", err)
	}
	if log := strings.Join(w.srv.takeLog(), " "); !strings.Contains(log, ".bins-") {
		t.Errorf("the client did not read the bin: %s", log)
	}
}
