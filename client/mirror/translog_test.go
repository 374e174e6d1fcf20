package mirror_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/mirror"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

// loggedOrigin is a repository that started without a log and added one
// through a root rotation (root v2), then published a new key list.
func loggedOrigin(t *testing.T) (*ceremony.Ceremony, string) {
	t.Helper()
	log := witnesstest.Get(t).NewLog(t, 2)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Rotate(workspace.RotateOptions{Log: &log.Policy}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	c.LogKey = log.Key
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	return c, serveDir(t, c.RepoDir)
}

// A repository that adds the log through a rotation is enforced from that
// root on, by a client that embeds the root before it; mirrors and
// archives carry the log, so clients verify it from them, offline too.
func TestLogThroughRotationMirrorsAndArchives(t *testing.T) {
	t.Parallel()
	c, originURL := loggedOrigin(t)
	cl, _ := newClient(t, c, []string{originURL})
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	// a client that predates the log (go-tuf's updater, root v1 embedded)
	// walks to root v2 and reads the list as before
	root1, err := c.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := testutil.GoTUFTarget(t, originURL, root1, host+"/keys.json"); err != nil || string(got) != string(fixture(t, "npm/keys.json")) {
		t.Errorf("go-tuf after the rotation that added the log: %v", err)
	}
	// a copy of the origin without its log: refused from root v2 on
	bare := t.TempDir()
	if err := os.CopyFS(bare, os.DirFS(c.RepoDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(bare, "log")); err != nil {
		t.Fatal(err)
	}
	unlogged, _ := newClient(t, c, []string{serveDir(t, bare)})
	if _, err := unlogged.Keys(ctx, host); !errors.Is(err, client.ErrNotLogged) {
		t.Fatalf("the origin without its log: %v, want ErrNotLogged", err)
	}

	dir := t.TempDir()
	dst, err := store.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "log", "checkpoint")); err != nil {
		t.Fatalf("the mirror has no log: %v", err)
	}
	viaMirror, _ := newClient(t, c, []string{serveDir(t, dir)})
	if _, err := viaMirror.Keys(ctx, host); err != nil {
		t.Errorf("through the mirror: %v", err)
	}

	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Fatal(err)
	}
	inside, _ := newClient(t, c, []string{"http://127.0.0.1:1"})
	if _, err := mirror.Import(ctx, inside, out); err != nil {
		t.Fatal(err)
	}
	offline, _ := newClient(t, c, []string{"http://127.0.0.1:1"}, func(o *client.Options) { o.Offline = true; o.CacheDir = inside.CacheDir() })
	if _, err := offline.Keys(ctx, host); err != nil {
		t.Errorf("offline after import: %v", err)
	}
	direct, _ := newClient(t, c, []string{out})
	if _, err := direct.Keys(ctx, host); err != nil {
		t.Errorf("the archive as a repository: %v", err)
	}
}
