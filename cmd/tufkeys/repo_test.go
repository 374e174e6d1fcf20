package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/internal/harness/syncbuf"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// The README's signing ceremony, command by command, with real encrypted
// key files: it must produce a repository that serves the key list.
func TestCLICeremony(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TUFKEYS_PASSPHRASE", "correct horse battery staple")
	for _, name := range []string{"alice", "bob", "online"} {
		code, out, errOut := runCLI(t, "key", "generate", "--out", name)
		if code != exitOK || !strings.Contains(out, "wrote "+name+".key (encrypted) and "+name+".pub") {
			t.Fatalf("generate %s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	keys, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("keys.json", keys, 0o644)
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-threshold", "2", "--online-key", "online.pub"},
			[]string{"staged root v1: 0 of 2 signatures — waiting for alice", "staged targets v1", "staged bins-00 … bins-3f (64 bins) v1: 0 of 2 signatures"}},
		{[]string{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", "keys.json", "--new"},
			[]string{"staged registry.example.test/keys.json in bins-2c v1", "+ SHA256:DhQ8"}},
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"},
			[]string{"key list registry.example.test (in bins-2c) against the published one:\n  + SHA256:jl3b", "signed root v1: 1 of 2 signatures — waiting for bob", "signed targets v1: 1 of 2"}},
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "bob.key"},
			[]string{"signed targets v1: 2 of 2 signatures — ready to publish"}},
		{[]string{"repo", "status", "--workspace", "ws", "--check"},
			[]string{"published: nothing yet", "staged root v1: 2 of 2 signatures — ready to publish", "key list registry.example.test (in bins-2c):"}},
		{[]string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public"},
			[]string{"published root v1, targets v1, bins-00 … bins-3f (64 bins) v1, snapshot v1, timestamp v1 to public (69 files uploaded, 0 unchanged)"}},
		{[]string{"repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--to", "public"},
			[]string{"re-signed snapshot v2 and timestamp v2 to public (2 files uploaded"}},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", s.args, code, out, errOut)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", s.args[:2], w, out)
			}
		}
	}
	// the same, for scripts
	args := []string{"repo", "status", "--workspace", "ws", "-o", "json"}
	code, out, _ := runCLI(t, args...)
	status := parseJSON(t, args, out)
	if code != exitOK || len(status["published"].([]any)) != 68 || len(status["problems"].([]any)) != 0 {
		t.Errorf("repo status -o json: exit %d\n%s", code, out)
	}
	args = []string{"repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--to", "public", "--format", "json"}
	code, out, _ = runCLI(t, args...)
	if rep := parseJSON(t, args, out); code != exitOK || rep["snapshot"] != 3.0 || rep["timestamp"] != 3.0 || rep["resigned"] != true || len(rep["uploaded"].([]any)) != 2 {
		t.Errorf("repo timestamp -o json: exit %d\n%s", code, out)
	}
	// the status page is written by default, and left as it was with
	// --status-page=false
	page := func() string {
		data, err := os.ReadFile(filepath.Join("public", "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	before := page()
	if !strings.Contains(before, "v3") {
		t.Errorf("the status page does not show timestamp v3:\n%.300s", before)
	}
	args = []string{"repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--to", "public", "--status-page=false"}
	if code, out, errOut := runCLI(t, args...); code != exitOK || !strings.Contains(out, "timestamp v4") || page() != before {
		t.Errorf("%v: exit %d, page rewritten: %v\n%s%s", args, code, page() != before, out, errOut)
	}
	if code, _, errOut := runCLI(t, args[:len(args)-1]...); code != exitOK || page() == before {
		t.Errorf("repo timestamp did not rewrite the status page: exit %d\n%s", code, errOut)
	}
	if endpoint := os.Getenv("TUFKEYS_S3_ENDPOINT"); endpoint != "" {
		to := "s3://" + os.Getenv("TUFKEYS_S3_BUCKET") + "/" + s3test.Prefix(t)
		for _, s := range []struct {
			extra []string
			code  int
			want  string
		}{
			{nil, exitFail, "this workspace publishes to " + filepath.Join(dir, "public") + ", its origin"},
			{[]string{"--dry-run", "--move-origin"}, exitOK, "dry run: would publish root v1, targets v1, bins-00 … bins-3f (64 bins) v1, snapshot v5, timestamp v5 to " + to + " (69 files to upload, 0 unchanged)"},
			{[]string{"--move-origin"}, exitOK, "published root v1, targets v1, bins-00 … bins-3f (64 bins) v1, snapshot v5, timestamp v5 to " + to + " (69 files uploaded, 0 unchanged)"},
			{nil, exitOK, "(0 files uploaded, 67 unchanged)"},
		} {
			args := append([]string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", to, "--endpoint-url", endpoint, "--path-style"}, s.extra...)
			code, out, errOut := runCLI(t, args...)
			if code != s.code || !strings.Contains(out+errOut, s.want) {
				t.Errorf("%v: exit %d\n%s%s", s.extra, code, out, errOut)
			}
			// the AWS SDK's own logger writes nothing a person reads
			if strings.Contains(errOut, "SDK ") || strings.Contains(out, "SDK ") {
				t.Errorf("%v: the AWS SDK logged:\n%s%s", s.extra, out, errOut)
			}
		}
	}
	// what the README's ceremony publishes, go-tuf's own updater accepts
	h, err := repohttp.Handler("public", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	root, _ := os.ReadFile(filepath.Join("public", "1.root.json"))
	cfg, _ := config.New(srv.URL, root)
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = t.TempDir(), t.TempDir()
	up, err := updater.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := up.GetTargetInfo("registry.example.test/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := up.DownloadTarget(info, "", ""); err != nil || string(got) != string(keys) {
		t.Fatalf("go-tuf download: %v", err)
	}
	served, err := os.ReadFile(filepath.Join("public", "timestamp.json"))
	if err != nil || !strings.Contains(string(served), `"_type": "timestamp"`) {
		t.Fatalf("published timestamp: %v", err)
	}

	// refusals, each one sentence and exit 1
	t.Setenv("TUFKEYS_PASSPHRASE", "wrong")
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"}, "nothing is staged; stage a change first"},
		{[]string{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", filepath.Join(pkgDir, fixtures, "invalid/key-off-curve.json")}, "is not valid"},
		{[]string{"repo", "status", "--workspace", "elsewhere"}, "run tufkeys repo init there first"},
		{[]string{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", filepath.Join(pkgDir, fixtures, "corepack-0.30.json")}, "--remove-key"},
	}
	for _, r := range refusals {
		code, _, errOut := runCLI(t, r.args...)
		if code != exitFail || !strings.Contains(errOut, r.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", r.args[:2], code, errOut, r.want)
		}
	}
	// a dry run never opens the online key: the wrong passphrase is not asked
	if code, out, errOut := runCLI(t, "repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public", "--dry-run", "--move-origin"); code != exitOK || !strings.Contains(out, "dry run: would publish") {
		t.Errorf("dry run with a wrong passphrase: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut := runCLI(t, "repo", "publish", "--workspace", "ws", "--to", "public")
	if code != exitUsage || !strings.Contains(errOut, "--online-key and --to are both required") {
		t.Errorf("publish without --online-key: exit %d, %q", code, errOut)
	}
	// the documented minimum works, and the workspace it writes opens again
	if code, out, errOut := runCLI(t, "repo", "init", "--workspace", "ws3", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub", "--timestamp-expiry", "1h"); code != exitOK {
		t.Fatalf("--timestamp-expiry 1h: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "repo", "status", "--workspace", "ws3"); code != exitOK || strings.Contains(errOut, "damaged") {
		t.Errorf("a workspace with a 1h timestamp: exit %d\n%s%s", code, out, errOut)
	}
	for period, want := range map[string]string{"1ns": "must be at least 1h", "59m": "must be at least 1h", "-5s": "is negative"} {
		code, _, errOut := runCLI(t, "repo", "init", "--workspace", "ws2", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub", "--timestamp-expiry", period)
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("--timestamp-expiry %s: exit %d, %q", period, code, errOut)
		}
	}
}

// pkgDir is the package directory, for fixture paths after t.Chdir.
var pkgDir, _ = os.Getwd()

// serve --timestamp-max-age sets how long shared caches keep timestamp.json.
func TestServeTimestampCacheLife(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "timestamp.json"), []byte(`{}`), 0o644)
	for flag, want := range map[string]string{"0": "no-store", "5m": "public, max-age=300"} {
		cmd := newServeCommand(streams{Out: io.Discard, Err: io.Discard})
		if err := cmd.Flags().Set("timestamp-max-age", flag); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		addr := make(chan string, 1)
		done := make(chan error, 1)
		opts := serveOptions{streams: streams{Out: io.Discard, Err: io.Discard}, Dir: dir, Addr: "127.0.0.1:0", Listening: func(a string) { addr <- a }}
		(&cacheLife{&opts.Cache}).Set(flag)
		go func() { done <- runServe(ctx, opts) }()
		resp, err := http.Get("http://" + <-addr + "/timestamp.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("--timestamp-max-age %s: Cache-Control %q, want %q", flag, got, want)
		}
		cancel()
		<-done
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "timestamp.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(dir, "1.root.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><title>status</title>`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var logs syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveOptions{streams: streams{Out: &logs, Err: &logs}, Dir: dir, Addr: "127.0.0.1:0", Listening: func(a string) { addr <- a }})
	}()
	base := "http://" + <-addr
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("/ does not serve the status page: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	for name, want := range map[string]string{"timestamp.json": "public, max-age=60", "1.root.json": "public, max-age=31536000, immutable"} {
		resp, err := http.Get(base + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != want {
			t.Errorf("%s: Cache-Control %q", name, resp.Header.Get("Cache-Control"))
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not shut down")
	}
	if _, err := http.Get(base + "/timestamp.json"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if n := strings.Count(logs.String(), "msg=request"); n != 3 {
		t.Errorf("%d request log lines, want 2:\n%s", n, logs.String())
	}
	if code, _, errOut := runCLI(t, "serve", filepath.Join(dir, "missing")); code != exitFail || !strings.Contains(errOut, "is not a directory") {
		t.Errorf("serve of a missing directory: exit %d %q", code, errOut)
	}
}

// repo commands find the workspace from any directory inside it, as git
// finds its repository.
func TestWorkspaceFoundFromSubdirectory(t *testing.T) {
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(c.WS.Dir, "targets", "deeper")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	t.Setenv("TUFKEYS_WORKSPACE", "")
	code, out, errOut := runCLI(t, "repo", "status")
	if code != exitOK || !strings.Contains(out, "staged root v1") {
		t.Errorf("repo status from a subdirectory: exit %d\n%s%s", code, out, errOut)
	}
	t.Chdir(t.TempDir())
	code, _, errOut = runCLI(t, "repo", "status")
	if code != exitFail || !strings.Contains(errOut, "nor any parent holds tufkeys-workspace.json") {
		t.Errorf("outside any workspace: exit %d, %q", code, errOut)
	}
}

// repo stage takes many registries in one call: pairs, or a directory.
func TestStageManyRegistries(t *testing.T) {
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(pkgDir, fixtures, "npm/keys.json")
	code, out, errOut := runCLI(t, "repo", "stage", "--workspace", c.WS.Dir, "--registry", "a.example.test", "--keys", keys, "--registry", "b.example.test", "--keys", keys, "--new")
	if code != exitOK || !strings.Contains(out, "staged a.example.test/keys.json in targets v1") || !strings.Contains(out, "staged b.example.test/keys.json in targets v1") {
		t.Errorf("pairs: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	data, _ := os.ReadFile(keys)
	for _, host := range []string{"c.example.test", "d.example.test"} {
		os.WriteFile(filepath.Join(dir, host+".json"), data, 0o644)
	}
	code, out, errOut = runCLI(t, "repo", "stage", "--workspace", c.WS.Dir, "--dir", dir, "--new")
	if code != exitOK || strings.Count(out, "staged ") != 2 || !strings.Contains(out, "staged d.example.test/keys.json") {
		t.Errorf("--dir: exit %d\n%s%s", code, out, errOut)
	}
	// a host the repository does not list is a typo until --new says not
	code, out, errOut = runCLI(t, "repo", "stage", "--workspace", c.WS.Dir, "--registry", "a.example.tset", "--keys", keys)
	if code != exitUsage || out != "" || !strings.Contains(errOut, "a.example.tset is not in the repository yet (did you mean a.example.test?); check --registry, or pass --new to add a registry") {
		t.Errorf("misspelt host: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(c.WS.Dir, "targets", "a.example.tset")); err == nil {
		t.Error("the misspelt host was staged")
	}
	code, out, errOut = runCLI(t, "repo", "stage", "--workspace", c.WS.Dir, "--registry", "a.example.test", "--keys", keys)
	if code != exitOK || !strings.Contains(out, "already staged") {
		t.Errorf("a listed host needs no --new: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "repo", "stage", "--workspace", c.WS.Dir, "--registry", "e.example.test", "--keys", keys, "--registry", "f.example.test")
	if code != exitUsage || !strings.Contains(errOut, "--registry and --keys come in pairs (2 --registry, 1 --keys)") {
		t.Errorf("unpaired: exit %d %q", code, errOut)
	}
}
