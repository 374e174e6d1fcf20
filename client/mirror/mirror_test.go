package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/archive"
	"github.com/tufkeys/tufkeys/client/mirror"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/internal/harness/syncbuf"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/repohttp"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

const (
	host     = "registry.example.test"
	operated = "operated.example.test"
)

var ctx = context.Background()

func fixture(t testing.TB, name string) []byte { return testutil.Fixture(t, name) }

// origin publishes a repository with two root versions, a key list in
// targets and one in a delegated role, and serves it.
func origin(t *testing.T) (*ceremony.Ceremony, string) {
	t.Helper()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	extra, _ := ceremony.NewKey("maintainer4")
	if _, err := c.WS.Rotate(workspace.RotateOptions{AddRootKeys: []workspace.PublicKey{extra.Public}}); err != nil {
		t.Fatal(err)
	}
	operator, _ := ceremony.NewKey("operator")
	if _, err := c.WS.Delegate(operated, []workspace.PublicKey{operator.Public}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(operated, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	return c, serveDir(t, c.RepoDir)
}

func serveDir(t *testing.T, dir string) string { return testutil.Serve(t, dir) }

func newClient(t *testing.T, c *ceremony.Ceremony, repos []string, opts ...func(*client.Options)) (*client.Client, *syncbuf.Buffer) {
	t.Helper()
	root, err := c.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	l := &syncbuf.Buffer{}
	o := client.Options{Repositories: repos, TrustedRoot: root, CacheDir: t.TempDir(), RequestTimeout: 3 * time.Second, Logger: slog.New(slog.NewTextHandler(l, nil))}
	for _, f := range opts {
		f(&o)
	}
	cl, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return cl, l
}

// sameFiles checks that every file of want is in got with the same bytes.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	n := 0
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		if strings.HasPrefix(filepath.Base(rel), ".") {
			return nil // the store's lock, not a file of the repository
		}
		a, _ := os.ReadFile(filepath.Join(want, rel))
		b, _ := os.ReadFile(p)
		if !bytes.Equal(a, b) {
			t.Errorf("mirror's %s differs from the origin's", rel)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Error("the mirror is empty")
	}
}

func TestMirrorServesWhatTheOriginServes(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	repo, rep, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if repo.RootVersion != 2 || len(repo.KeyLists) != 2 || len(rep.Uploaded) != len(repo.Objects) {
		t.Errorf("repository %+v, report %+v", repo, rep)
	}
	sameFiles(t, c.RepoDir, dir)
	mirrorURL := serveDir(t, dir)
	for _, h := range []string{host, operated} {
		viaMirror, _ := newClient(t, c, []string{mirrorURL})
		keys, err := viaMirror.Keys(ctx, h)
		if err != nil {
			t.Fatalf("client at the mirror, %s: %v", h, err)
		}
		viaOrigin, _ := newClient(t, c, []string{originURL})
		want, _ := viaOrigin.Keys(ctx, h)
		if len(keys.Keys) != len(want.Keys) {
			t.Errorf("%s: mirror gives %d keys, origin %d", h, len(keys.Keys), len(want.Keys))
		}
	}
	// incremental: nothing changed, nothing copied; one change, a few files
	if _, rep, err = mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil || len(rep.Uploaded) != 0 {
		t.Errorf("second mirror uploaded %v (%v)", rep.Uploaded, err)
	}
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	if _, rep, err = mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil || len(rep.Uploaded) != 4 {
		t.Errorf("mirror after one change uploaded %v (%v)", rep.Uploaded, err)
	}
	// a mirror of the mirror is a mirror too
	second := t.TempDir()
	store2, _ := store.NewDir(second)
	if _, _, err := mirror.Mirror(ctx, cl, mirrorURL, store2, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, c.RepoDir, second)
	viaSecond, _ := newClient(t, c, []string{serveDir(t, second)})
	if keys, err := viaSecond.Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
		t.Errorf("client at the mirror of the mirror: %v", err)
	}
}

// staleCopy is what a stale upstream serves: the origin as it is now,
// frozen, while the origin moves on.
func staleCopy(t *testing.T, c *ceremony.Ceremony) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stale")
	if err := os.CopyFS(dir, os.DirFS(c.RepoDir)); err != nil {
		t.Fatal(err)
	}
	return serveDir(t, dir)
}

func TestMirrorNeverGoesBackwards(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	stale := staleCopy(t, c)
	if _, err := publish.Timestamp(ctx, c.WS, c.Online.Signer, c.Store, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	cl, _ := newClient(t, c, []string{originURL})
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	current, _ := os.ReadFile(filepath.Join(dir, "timestamp.json"))
	// a client that never saw the origin copies from the stale upstream
	fresh, _ := newClient(t, c, []string{stale})
	_, rep, err := mirror.Mirror(ctx, fresh, stale, dst, store.SyncOptions{})
	if !errors.Is(err, mirror.ErrDestinationNewer) || !strings.Contains(err.Error(), "timestamp v3 (snapshot v3), newer than the source's v2 (snapshot v2)") {
		t.Fatalf("mirror from a stale upstream: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "timestamp.json")); !bytes.Equal(after, current) || len(rep.Uploaded) != 0 {
		t.Errorf("the refused mirror wrote %v", rep.Uploaded)
	}
	// a client that trusts the newer repository refuses the stale one even
	// towards a new, empty destination
	empty, _ := store.NewDir(t.TempDir())
	if _, err := cl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mirror.Mirror(ctx, cl, stale, empty, store.SyncOptions{}); !errors.Is(err, client.ErrRollback) {
		t.Errorf("mirror from a stale upstream by a client that knows better: %v", err)
	}
}

func TestExportRefusesARepositoryOlderThanTrusted(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	stale := staleCopy(t, c)
	if _, err := publish.Timestamp(ctx, c.WS, c.Online.Signer, c.Store, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	cl, _ := newClient(t, c, []string{originURL})
	if _, err := cl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	_, err := mirror.Export(ctx, cl, stale, out)
	if !errors.Is(err, client.ErrRollback) || !errors.Is(err, client.ErrUntrusted) || !strings.Contains(err.Error(), "serves timestamp v2, older than v3 which this client already trusts") {
		t.Fatalf("export of a stale upstream: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused export wrote %s", out)
	}
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Errorf("export of the origin: %v", err)
	}
}

func tamperedServer(t *testing.T, dir string) string {
	t.Helper()
	h, err := repohttp.Handler(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".keys.json") {
			w.Write([]byte(`{"keys":[]}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMirrorRefusesATamperedSource(t *testing.T) {
	t.Parallel()
	c, _ := origin(t)
	bad := tamperedServer(t, c.RepoDir)
	cl, _ := newClient(t, c, []string{bad})
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	_, _, err := mirror.Mirror(ctx, cl, bad, dst, store.SyncOptions{})
	if !errors.Is(err, client.ErrInconsistent) || !strings.Contains(err.Error(), "does not match the length or hash") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused mirror wrote %d files", len(entries))
	}
}

func TestExportImportAirGapped(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	repo, err := mirror.Export(ctx, cl, originURL, out)
	if err != nil {
		t.Fatal(err)
	}
	files, err := archive.ReadFile(out)
	if err != nil || len(files) != len(repo.Objects) {
		t.Fatalf("archive holds %d files, %v", len(files), err)
	}
	// inside the air gap the origin is unreachable
	inside, _ := newClient(t, c, []string{"http://127.0.0.1:1"})
	imported, err := mirror.Import(ctx, inside, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(imported.KeyLists) != 2 {
		t.Errorf("imported %v", imported.KeyLists)
	}
	for _, h := range []string{host, operated} {
		if _, err := inside.Keys(ctx, h); err != nil {
			t.Errorf("after import, %s: %v", h, err)
		}
	}
	offline, _ := newClient(t, c, []string{"http://127.0.0.1:1"}, func(o *client.Options) { o.Offline = true; o.CacheDir = inside.CacheDir() })
	if _, err := offline.Keys(ctx, host); err != nil {
		t.Errorf("offline after import: %v", err)
	}
	// the archive also works as a repository of its own
	direct, _ := newClient(t, c, []string{out})
	if keys, err := direct.Keys(ctx, operated); err != nil || len(keys.Keys) != 2 {
		t.Errorf("archive as --repo: %v", err)
	}
}

func TestTamperedArchiveIsRefused(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Fatal(err)
	}
	files, _ := archive.ReadFile(out)
	var forged []archive.File
	for name, data := range files {
		if strings.HasSuffix(name, ".keys.json") {
			data = []byte(`{"keys":[]}`)
		}
		forged = append(forged, archive.File{Name: name, Data: data})
	}
	bad := filepath.Join(t.TempDir(), "forged.tar.gz")
	if err := archive.WriteFile(bad, forged); err != nil {
		t.Fatal(err)
	}
	inside, _ := newClient(t, c, []string{"http://127.0.0.1:1"})
	if _, err := mirror.Import(ctx, inside, bad); !errors.Is(err, client.ErrInconsistent) {
		t.Fatalf("import of a forged archive: %v", err)
	}
	if info, _ := inside.CacheInfo(ctx); len(info.KeyLists) != 0 {
		t.Errorf("a refused import filled the cache: %v", info.KeyLists)
	}
}

// An archive that is not one is wrong input, not an unreachable network:
// the lookup fails instead of falling back to the cache.
func TestMalformedArchiveAsRepository(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Fatal(err)
	}
	fromArchive, logs := newClient(t, c, []string{out}, func(o *client.Options) { o.MaxAge = client.Age(0) })
	if _, err := fromArchive.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte("this is not a gzip file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := fromArchive.Keys(ctx, host)
	if !errors.Is(err, client.ErrUntrusted) || !strings.Contains(err.Error(), "is not a repository archive") {
		t.Errorf("lookup through a malformed archive: %v", err)
	}
	if strings.Contains(logs.String(), "answering from the cache") {
		t.Errorf("fell back to the cache:\n%s", logs)
	}
}

func TestExpiredArchive(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Fatal(err)
	}
	// three days in transit: the timestamp (one day) has expired
	later := func() time.Time { return time.Now().Add(72 * time.Hour) }
	inside, _ := newClient(t, c, []string{"http://127.0.0.1:1"}, func(o *client.Options) { o.Clock = later })
	_, err := mirror.Import(ctx, inside, out)
	if !errors.Is(err, client.ErrUntrusted) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("import of an expired archive: %v", err)
	}
	tolerant, logs := newClient(t, c, []string{"http://127.0.0.1:1"}, func(o *client.Options) { o.Clock = later; o.AcceptExpired = 4 * 24 * time.Hour })
	if _, err := mirror.Import(ctx, tolerant, out); err != nil {
		t.Fatalf("import with --accept-expired 4d: %v", err)
	}
	if !strings.Contains(logs.String(), "freeze attacks is weakened") {
		t.Errorf("no warning:\n%s", logs)
	}
	root, _ := c.RootBytes(1)
	if _, err := client.New(client.Options{Repositories: []string{out}, TrustedRoot: root, AcceptExpired: 400 * 24 * time.Hour}); err == nil {
		t.Error("accepted metadata expired 400 days ago")
	}
}

// Clients fail over to the next repository when one is down or serves
// tampered data, and say which they used.
func TestFailover(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	for name, first := range map[string]string{"down": "http://127.0.0.1:1", "tampered": tamperedServer(t, c.RepoDir)} {
		cl, logs := newClient(t, c, []string{first, originURL})
		if keys, err := cl.Keys(ctx, host); err != nil || len(keys.Keys) != 1 {
			t.Fatalf("%s first repository: %v", name, err)
		}
		if !strings.Contains(logs.String(), "used a later repository") || !strings.Contains(logs.String(), originURL) {
			t.Errorf("%s: no warning naming the repository used:\n%s", name, logs)
		}
		info, _ := cl.CacheInfo(ctx)
		if info.Repository != originURL {
			t.Errorf("%s: cache records %s", name, info.Repository)
		}
	}
}

func TestMirrorToS3(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	c, originURL := origin(t)
	cl, _ := newClient(t, c, []string{originURL})
	dst, prefix := srv.Store(t)
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	viaBucket, _ := newClient(t, c, []string{srv.PublicURL(prefix)})
	if keys, err := viaBucket.Keys(ctx, operated); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("client at the bucket mirror: %v", err)
	}
}

// A mirror carries the history too, verified: an earlier version that does
// not verify at the source is left out, with a warning.
func TestMirrorCarriesVerifiedHistory(t *testing.T) {
	t.Parallel()
	c, originURL := origin(t)
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	cl, logs := newClient(t, c, []string{originURL})
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"1.targets.json", "2.targets.json", "3.targets.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the mirror lacks %s", name)
		}
	}
	// forged at the source: signed by no one
	forged := filepath.Join(c.RepoDir, "1.targets.json")
	data, _ := os.ReadFile(forged)
	os.WriteFile(forged, bytes.Replace(data, []byte(`"sig": "`), []byte(`"sig": "00`), -1), 0o644)
	second := t.TempDir()
	dst2, _ := store.NewDir(second)
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst2, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(second, "1.targets.json")); err == nil {
		t.Error("a forged earlier version was copied")
	}
	if !strings.Contains(logs.String(), "does not verify; it is not copied") {
		t.Errorf("no warning:\n%s", logs)
	}
}

// A mirror copies only what the repository's signed metadata or its log
// vouches for: the status page is unsigned (a source could put any script
// in it, for the mirror to serve as its own), so neither a mirror nor an
// archive carries it.
func TestMirrorCopiesNoUnsignedPage(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 64})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]workspace.StageItem, 60)
	for i := range items {
		items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: fixture(t, "npm/keys.json"), New: true}
	}
	if _, err := c.WS.StageMany(items); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, c.Store, publish.Options{StatusPage: true}); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(c.RepoDir, "index.html")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, bytes.Replace(data, []byte("</body>"), []byte("<script>steal()</script></body>"), 1), 0o644)
	originURL := serveDir(t, c.RepoDir)
	cl, _ := newClient(t, c, []string{originURL})
	noPage := func(dir string) {
		t.Helper()
		for _, f := range []string{"index.html", "status.json", "status"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("the copy has the source's unsigned %s", f)
			}
		}
	}
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	if _, _, err := mirror.Mirror(ctx, cl, originURL, dst, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, c.RepoDir, dir)
	noPage(dir)
	out := filepath.Join(t.TempDir(), "keys.tar.gz")
	if _, err := mirror.Export(ctx, cl, originURL, out); err != nil {
		t.Fatal(err)
	}
	second := t.TempDir()
	dst2, _ := store.NewDir(second)
	if _, _, err := mirror.Mirror(ctx, cl, out, dst2, store.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	noPage(second)
}
