package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/translog"
)

// rotateAndPublish stages a root change, has two maintainers sign it and
// publishes it with the ceremony's log key and any others the change needs.
func rotateAndPublish(t *testing.T, w *world, opts workspace.RotateOptions, logKeys ...*keyfile.Signer) {
	t.Helper()
	if _, err := w.c.WS.Rotate(opts); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Sign(2); err != nil {
		t.Fatal(err)
	}
	po := w.c.PublishOptions()
	if po.Log != nil {
		po.Log.Others = logKeys
	}
	if _, err := publishWith(w, po); err != nil {
		t.Fatal(err)
	}
}

// hideLogChanges runs change with the log as it is now put back after it:
// the repository serves what change published, the log stays as everyone
// else sees it, as when an attacker holding the TUF keys but neither the
// log key nor a witness serves one client.
func hideLogChanges(t *testing.T, w *world, change func()) (restore func()) {
	t.Helper()
	logDir := filepath.Join(w.c.RepoDir, "log")
	before, after := t.TempDir(), t.TempDir()
	if err := os.CopyFS(before, os.DirFS(logDir)); err != nil {
		t.Fatal(err)
	}
	change()
	if err := os.CopyFS(after, os.DirFS(logDir)); err != nil {
		t.Fatal(err)
	}
	swap := func(from string) {
		if err := os.RemoveAll(logDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(logDir, os.DirFS(from)); err != nil {
			t.Fatal(err)
		}
	}
	swap(before)
	return func() { swap(after) }
}

// A root rotation that drops the log, or names another log key and origin,
// is refused by a client whose root names a log until the rotation is in
// that log; once it is, the client takes it, and one that dropped the log
// is warned about once.
func TestUnloggedRootRotationIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		rotate func(t *testing.T, log witnesstest.Log) (workspace.RotateOptions, []*keyfile.Signer)
		warns  bool
	}{
		{"drops the log", func(t *testing.T, _ witnesstest.Log) (workspace.RotateOptions, []*keyfile.Signer) {
			return workspace.RotateOptions{RemoveLog: true}, nil
		}, true},
		{"another log key and origin", func(t *testing.T, _ witnesstest.Log) (workspace.RotateOptions, []*keyfile.Signer) {
			other := witnesstest.Get(t).NewLog(t, 2)
			return workspace.RotateOptions{Log: &other.Policy}, []*keyfile.Signer{other.Key}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, log := newLoggedWorld(t, "corepack-0.30.json", nil)
			cache := t.TempDir()
			cl, _ := w.client(cache)
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			opts, keys := tc.rotate(t, log)
			restore := hideLogChanges(t, w, func() { rotateAndPublish(t, w, opts, keys...) })
			cl, logs := w.client(cache, func(o *client.Options) { o.MaxAge = client.Age(0) })
			_, err := cl.Keys(ctx, host)
			if !errors.Is(err, client.ErrNotLogged) || !errors.Is(err, translog.ErrNotInLog) {
				t.Fatalf("an unlogged root v2: %v, want ErrNotLogged", err)
			}
			contains(t, err, "root v2", "not proven in the transparency log", log.Policy.Origin)
			if _, err := os.Stat(filepath.Join(cache, "roots", "2.root.json")); err == nil {
				t.Error("the cache kept the unlogged root")
			}
			// a client with no cache, from the embedded root, refuses it too
			fresh, _ := w.client(t.TempDir())
			if _, err := fresh.Keys(ctx, host); !errors.Is(err, client.ErrNotLogged) {
				t.Errorf("a new client: %v, want ErrNotLogged", err)
			}
			restore()
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatalf("the logged root v2: %v", err)
			}
			warned := strings.Count(logs.String(), "no longer names a transparency log")
			if tc.warns && warned != 1 || !tc.warns && warned != 0 {
				t.Errorf("warned %d times that the log was dropped:\n%s", warned, logs)
			}
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			if tc.warns && strings.Count(logs.String(), "no longer names a transparency log") != 1 {
				t.Error("the drop was warned about again")
			}
		})
	}
}

// A list the log holds for an earlier version, signed again by the
// targets keys into a later version of its bin, has no entry of its own:
// the client refuses it as not logged.
func TestReplayedListAsANewVersionIsRefused(t *testing.T) {
	t.Parallel()
	w, _ := newLoggedWorld(t, "corepack-0.30.json", nil)
	w.publish("npm/keys.json")
	cache := t.TempDir()
	cl, _ := w.client(cache)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	// the pre-rotation list, logged while it was current, comes back as
	// the bin's third version; the log is left as it was
	hideLogChanges(t, w, func() {
		if err := w.c.StagePublishRemoving(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
			t.Fatal(err)
		}
	})
	cl, _ = w.client(cache, func(o *client.Options) { o.MaxAge = client.Age(0) })
	_, err := cl.Keys(ctx, host)
	if !errors.Is(err, client.ErrNotLogged) {
		t.Fatalf("a replayed list: %v, want ErrNotLogged", err)
	}
	contains(t, err, "v3", "not proven in the log")
}

// The log key rotates, the witnesses change and the log is removed, each
// by a root published with the keys it needs; a client that walked
// through every root verifies the lists at each step, and so does one
// that starts from root v1 at the end.
func TestLogPolicyChangesEndToEnd(t *testing.T) {
	t.Parallel()
	w, _ := newLoggedWorld(t, "corepack-0.30.json", nil)
	cache := t.TempDir()
	check := func(step string) {
		t.Helper()
		cl, _ := w.client(cache, func(o *client.Options) { o.MaxAge = client.Age(0) })
		if _, err := cl.Keys(context.Background(), host); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	check("root v1")
	// a new log key, under a new origin: the tree goes on
	next := witnesstest.Get(t).NewLog(t, 2)
	rotateAndPublish(t, w, workspace.RotateOptions{Log: &next.Policy}, next.Key)
	if _, err := os.Stat(filepath.Join(w.c.RepoDir, "log", "roots", "2")); err != nil {
		t.Errorf("the checkpoint that logged root v2 under the old key was not kept: %v", err)
	}
	w.c.LogKey = next.Key
	w.publish("npm/keys.json")
	check("log key rotated")
	// the quorum and witnesses change: one witness fewer, quorum 1
	fewer := next.Policy
	fewer.Witnesses, fewer.Quorum = fewer.Witnesses[:2], 1
	rotateAndPublish(t, w, workspace.RotateOptions{Log: &fewer})
	check("witnesses changed")
	rotateAndPublish(t, w, workspace.RotateOptions{RemoveLog: true})
	w.c.LogKey = nil
	if err := w.c.StagePublishRemoving(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	check("log removed")
	cl, _ := w.client(t.TempDir())
	if _, err := cl.Keys(context.Background(), host); err != nil {
		t.Fatalf("a client from root v1 after every change: %v", err)
	}
}

func publishWith(w *world, po publish.Options) (publish.Report, error) {
	return publish.Publish(context.Background(), w.c.WS, w.c.Online.Signer, w.c.Store, po)
}
