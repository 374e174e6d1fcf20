package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// newLoggedWorld is a published repository whose root names a
// transparency log witnessed by the test witnesses, quorum 2.
func newLoggedWorld(t *testing.T, list string, tweak func(*translog.Policy)) (*world, witnesstest.Log) {
	t.Helper()
	log := witnesstest.Get(t).NewLog(t, 2)
	if tweak != nil {
		tweak(&log.Policy)
	}
	w := newWorldWith(t, list, ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	return w, log
}

// A key list in the witnessed log is accepted; the cache keeps the
// checkpoint; a second lookup asks for nothing.
func TestLoggedKeyListIsAccepted(t *testing.T) {
	t.Parallel()
	w, _ := newLoggedWorld(t, "npm/keys.json", nil)
	cache := t.TempDir()
	cl, _ := w.client(cache)
	if _, err := cl.Keys(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w.srv.takeLog(), func(s string) bool { return strings.HasPrefix(s, "GET /log/checkpoint ") }) {
		t.Error("the client did not read the log's checkpoint")
	}
	if _, err := os.Stat(filepath.Join(cache, "log-checkpoint")); err != nil {
		t.Errorf("the cache keeps no checkpoint: %v", err)
	}
	if _, err := cl.Keys(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.takeLog(); len(got) != 0 {
		t.Errorf("a fresh lookup asked %v", got)
	}
}

// A key list signed with valid keys but missing from the log is refused:
// the attacker holds every key and serves the list to one client, leaving
// the public log as it is.
func TestKeyListNotInTheLogIsRefused(t *testing.T) {
	t.Parallel()
	w, _ := newLoggedWorld(t, "corepack-0.30.json", nil)
	honestLog := t.TempDir()
	if err := os.CopyFS(honestLog, os.DirFS(filepath.Join(w.c.RepoDir, "log"))); err != nil {
		t.Fatal(err)
	}
	// the new list goes through the whole publish (and so into the log),
	// then the log the victim is served is put back as everyone sees it
	w.publish("npm/keys.json")
	if err := os.RemoveAll(filepath.Join(w.c.RepoDir, "log")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(w.c.RepoDir, "log"), os.DirFS(honestLog)); err != nil {
		t.Fatal(err)
	}
	cl, _ := w.client(t.TempDir())
	_, err := cl.Keys(context.Background(), host)
	if !errors.Is(err, client.ErrNotLogged) || !errors.Is(err, translog.ErrNotInLog) {
		t.Fatalf("got %v, want ErrNotLogged", err)
	}
	contains(t, err, host, "not proven in the log")
}

// Checkpoints that are not witnessed, fresh, or newer than the one the
// cache holds are refused; a rollback keeps both checkpoints as evidence.
func TestCheckpointAttacksOnTheClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, _ := newLoggedWorld(t, "corepack-0.30.json", func(p *translog.Policy) { p.MaxAge = "1h" })
	checkpoint := func() []byte {
		data, err := os.ReadFile(filepath.Join(w.c.RepoDir, "log", "checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	serve := func(data []byte) {
		w.srv.setIntercept(func(rw http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/log/checkpoint" {
				return false
			}
			rw.Write(data)
			return true
		})
	}
	// one cosignature of the two needed
	one := checkpoint()
	cut := strings.Index(string(one), "\n\n")
	lines := strings.Split(strings.TrimSuffix(string(one[cut+2:]), "\n"), "\n")
	serve([]byte(string(one[:cut+2]) + lines[0] + "\n" + lines[1] + "\n"))
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); !errors.Is(err, translog.ErrNotWitnessed) {
		t.Errorf("one cosignature: %v, want ErrNotWitnessed", err)
	}
	w.srv.setIntercept(nil)

	// cosignatures older than the policy's hour
	w.advance(2 * time.Hour)
	cl, _ = w.client(t.TempDir())
	if _, err := cl.Keys(ctx, host); !errors.Is(err, translog.ErrStale) {
		t.Errorf("two-hour-old cosignatures: %v, want ErrStale", err)
	}
	w.advance(-2 * time.Hour)

	// a client that saw a larger log is served an older checkpoint
	old := checkpoint()
	w.publish("npm/keys.json")
	cache := t.TempDir()
	cl, _ = w.client(cache)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := w.c.StagePublish(host, extraKeyList(t), 2); err != nil {
		t.Fatal(err)
	}
	serve(old)
	w.advance(10 * time.Minute)
	cl, _ = w.client(cache, func(o *client.Options) { o.MaxAge = client.Age(time.Minute) })
	_, err := cl.Keys(ctx, host)
	if !errors.Is(err, translog.ErrRollback) {
		t.Fatalf("an older checkpoint: %v, want ErrRollback", err)
	}
	contains(t, err, "kept as evidence", filepath.Join(cache, "log-evidence"))
	evidence, _ := os.ReadDir(filepath.Join(cache, "log-evidence"))
	if len(evidence) != 2 {
		t.Errorf("%d evidence files, want both checkpoints", len(evidence))
	}
}

// Witnesses that collude cosign a second history: a client that saw the
// first refuses the fork, keeps both checkpoints as evidence and names
// them.
func TestForkIsRefusedWithEvidence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	witnesses, colluding := witnesstest.InProcess(t, 2)
	log := witnesstest.Get(t).NewLog(t, 2)
	log.Policy.Witnesses = witnesses
	w := newWorldWith(t, "corepack-0.30.json", ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key, LogWitness: colluding})
	cache := t.TempDir()
	cl, _ := w.client(cache)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	// a second history of the same log, as long as the first will be
	forked := t.TempDir()
	signer, err := logappend.NoteSigner(log.Key, log.Policy)
	if err != nil {
		t.Fatal(err)
	}
	var es []translog.Entry
	for i := range 3 {
		es = append(es, translog.KeyListEntry(fmt.Sprintf("f%d.example.test", i), "bins-0", 1, []byte{byte(i)}, nil, time.Now()))
	}
	if _, err := logappend.Append(ctx, &store.Dir{Root: forked}, es, logappend.Options{Policy: log.Policy, Signer: signer, Witness: colluding}); err != nil {
		t.Fatal(err)
	}
	// the honest repository moves on; the client is served the fork
	w.publish("npm/keys.json")
	w.srv.setIntercept(func(rw http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/log/") {
			return false
		}
		http.ServeFile(rw, r, filepath.Join(forked, filepath.FromSlash(r.URL.Path)))
		return true
	})
	cl, _ = w.client(cache, func(o *client.Options) { o.MaxAge = client.Age(0) })
	_, err = cl.Keys(ctx, host)
	if !errors.Is(err, translog.ErrFork) || !errors.Is(err, client.ErrNotLogged) {
		t.Fatalf("a fork: %v, want ErrFork", err)
	}
	contains(t, err, "kept as evidence", filepath.Join(cache, "log-evidence"))
	evidence, _ := os.ReadDir(filepath.Join(cache, "log-evidence"))
	if len(evidence) != 2 {
		t.Errorf("%d evidence files, want both checkpoints", len(evidence))
	}
}

// history authenticates by the log the versions signed under a root
// older than the client's, which their signatures cannot: here root v1 and
// targets v1 (which delegates the bins) are replaced by forgeries, and the
// bins' two versions are still shown, as the log vouches for their lists.
func TestHistoryAuthenticatesOldVersionsByTheLog(t *testing.T) {
	t.Parallel()
	w, log := newLoggedWorld(t, "corepack-0.30.json", nil)
	addRootKey(t, w)
	w.publish("npm/keys.json")
	forgeEarlierRoot(t, w)
	rb2, err := w.c.RootBytes(2)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.TrustedRoot = rb2 })
	h, err := cl.History(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	var keys []int
	for _, e := range h {
		if strings.Contains(e.VerifiedBy, "the log "+log.Policy.Origin) {
			keys = append(keys, len(e.Keys))
			if e.Unverified || e.Problem != "" || !e.InLog || len(e.SignedBy) != 0 {
				t.Errorf("a version the log vouches for: %+v", e)
			}
		}
		if e.Role == "targets" && (!e.Unverified || e.InLog) {
			t.Errorf("the forged targets v1 is not reported unverified: %+v", e)
		}
	}
	if !slices.Equal(keys, []int{1, 2}) {
		t.Errorf("the log authenticated lists of %v keys, want the two versions (1 and 2 keys):\n%+v", keys, h)
	}
}

func extraKeyList(t *testing.T) []byte {
	list, _ := testutil.WithExtraKey(t, fixture(t, "npm/keys.json"))
	return list
}

// A repository that does not answer for the log's tiles is unavailable,
// as when it does not answer for its metadata: the lookup fails (closed)
// with the kind that lets a client try its next repository, not as a list
// missing from the log.
func TestUnreachableLogIsUnavailable(t *testing.T) {
	t.Parallel()
	w, _ := newLoggedWorld(t, "npm/keys.json", nil)
	w.srv.setIntercept(func(rw http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/log/tile/") {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	cl, _ := w.client(t.TempDir())
	_, err := cl.Keys(context.Background(), host)
	if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrNotLogged) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}
