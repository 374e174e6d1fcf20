package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// published starts a repository with a key list for registry.example.test
// and returns its URL and the trusted root's file.
func published(t testing.TB, list string) (*ceremony.Ceremony, string, string) {
	t.Helper()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(pkgDir, fixtures, list))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("registry.example.test", data, 2); err != nil {
		t.Fatal(err)
	}
	h, err := repohttp.Handler(c.RepoDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	root := filepath.Join(t.TempDir(), "root.json")
	rb, _ := c.RootBytes(1)
	os.WriteFile(root, rb, 0o644)
	return c, srv.URL, root
}

// fakeRegistry serves one version document and its packument.
func fakeRegistry(t *testing.T, id, publishedAt string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	json.Unmarshal(raw, &f)
	name, version := f["name"].(string), f["version"].(string)
	doc, _ := json.Marshal(map[string]any{"name": name, "version": version, "dist": map[string]any{"integrity": f["integrity"], "signatures": f["signatures"]}})
	pack, _ := json.Marshal(map[string]any{"name": name, "time": map[string]string{version: publishedAt}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + name + "/" + version:
			w.Write(doc)
		case "/" + name:
			w.Write(pack)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func clearClientEnv(t *testing.T) {
	for _, v := range []string{"TUFKEYS_REPO", "TUFKEYS_ROOT", "TUFKEYS_CACHE", "TUFKEYS_MAX_AGE", "TUFKEYS_OFFLINE", "npm_config_registry", "NPM_CONFIG_REGISTRY", "NPM_CONFIG_USERCONFIG"} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

func TestCLIClientCommands(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	flags := []string{"--repo", repo, "--root", root, "--cache", cache}
	reg := fakeRegistry(t, "pnpm@10.1.0", "2025-01-22T10:00:00.000Z")
	tests := []struct {
		args    []string
		code    int
		wantOut []string
		wantErr []string
	}{
		{args: []string{"keys", "--registry", "https://registry.example.test/"}, wantOut: []string{"KEYID", "SHA256:jl3b", "2025-01-29T00:00:00.000Z (expired)", "SHA256:DhQ8", "never"}},
		{args: []string{"keys", "--registry", "registry.example.test", "--format", "corepack"}, wantOut: []string{`{"npm":[{"expires":"2025-01-29T00:00:00.000Z"`}},
		{args: []string{"keys", "--registry", "registry.example.test", "--format", "json"}, wantOut: []string{`"registry": "registry.example.test"`, `"keyid": "SHA256:DhQ8`}},
		{args: []string{"keys", "--registry", "registry.example.test", "--format", "xml"}, code: exitUsage, wantErr: []string{`--format "xml"`}},
		{args: []string{"keys", "--registry", "other.example.test"}, code: exitFail, wantErr: []string{"has no key list for other.example.test"}},
		{args: []string{"verify", "pnpm@10.1.0", "--registry", reg, "--keys-host", "registry.example.test"}, wantOut: []string{"verified pnpm@10.1.0: signed by SHA256:DhQ8"}},
		{args: []string{"verify", "pnpm@10.1.0", "--registry", reg}, code: exitFail, wantErr: []string{"has no key list for 127.0.0.1"}},
		{args: []string{"verify", "pnpm@99.0.0", "--registry", reg, "--keys-host", "registry.example.test"}, code: exitFail, wantErr: []string{"has no pnpm@99.0.0"}},
		{args: []string{"verify", "pnpm", "--registry", reg}, code: exitUsage, wantErr: []string{"is not NAME@VERSION"}},
		{args: []string{"refresh"}, wantOut: []string{"refreshed from " + repo}},
		{args: []string{"cache", "info"}, wantOut: []string{"cache       " + cache, "status      verified", "key list    registry.example.test/keys.json"}},
		{args: []string{"cache", "clear"}, wantOut: []string{"cleared " + cache}},
		{args: []string{"cache", "info"}, code: exitFail, wantOut: []string{"status      never refreshed"}},
		{args: []string{"keys", "--registry", "registry.example.test", "--offline"}, code: exitFail, wantErr: []string{"offline mode forbids fetching it", "drop --offline (or TUFKEYS_OFFLINE) to fetch it"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append(tt.args, flags...)...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out, errOut)
			continue
		}
		for _, w := range tt.wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tt.args, w, out)
			}
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tt.args, w, errOut)
			}
		}
	}
}

// An empty --root file is refused, not read as "the embedded root".
func TestCLIEmptyRootFile(t *testing.T) {
	clearClientEnv(t)
	_, repo, _ := published(t, "npm/keys.json")
	empty := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(empty, []byte("\n"), 0o644)
	code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", empty, "--cache", t.TempDir())
	if code != exitFail || !strings.Contains(errOut, "the trusted root "+empty+" is empty") || out != "" {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// A --root file that is not root metadata is a usage error naming the
// file and what it is, in tufkeys' words, not the JSON decoder's.
func TestCLIRootFileNotRoot(t *testing.T) {
	clearClientEnv(t)
	_, repo, _ := published(t, "npm/keys.json")
	dir := t.TempDir()
	pub := filepath.Join(dir, "alice.pub")
	os.WriteFile(pub, []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"), 0o644)
	notJSON := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJSON, []byte("root v1 is signed\n"), 0o644)
	targets := filepath.Join(dir, "targets.json")
	os.WriteFile(targets, []byte(`{"signed":{"_type":"targets","version":1},"signatures":[]}`), 0o644)
	for _, tt := range []struct {
		file, want string
	}{
		{pub, "it is a PEM file, such as a key"},
		{notJSON, "it is not JSON (a syntax error at byte"},
		{targets, `it is not root metadata of version 1 or more (type "targets"`},
	} {
		code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", tt.file, "--cache", t.TempDir())
		want := "the trusted root " + tt.file + " is not TUF root metadata: " + tt.want
		if code != exitUsage || !strings.Contains(errOut, want) || out != "" || strings.Contains(errOut, "invalid character") {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", filepath.Base(tt.file), code, exitUsage, want, out, errOut)
		}
	}
}

func TestCLIClientEnvironment(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test")
	if code != exitUsage || !strings.Contains(errOut, "pass --root FILE or set TUFKEYS_ROOT") {
		t.Errorf("no root: exit %d %q", code, errOut)
	}
	t.Setenv("TUFKEYS_ROOT", root)
	code, _, errOut = runCLI(t, "keys", "--registry", "registry.example.test")
	if code != exitUsage || !strings.Contains(errOut, "pass --repo URL or set TUFKEYS_REPO") {
		t.Errorf("no repository: exit %d %q", code, errOut)
	}
	t.Setenv("TUFKEYS_REPO", "http://127.0.0.1:1,"+repo)
	t.Setenv("TUFKEYS_CACHE", t.TempDir())
	t.Setenv("npm_config_registry", "https://registry.example.test/")
	code, out, errOut := runCLI(t, "keys")
	if code != exitOK || !strings.Contains(out, "SHA256:DhQ8") || !strings.Contains(errOut, "used a later repository") {
		t.Errorf("from the environment with failover: exit %d\n%s%s", code, out, errOut)
	}
	for _, bad := range []string{"soon", "-1h", "-2d"} {
		t.Setenv("TUFKEYS_MAX_AGE", bad)
		if code, _, errOut := runCLI(t, "keys"); code != exitUsage || !strings.Contains(errOut, "TUFKEYS_MAX_AGE") || !strings.Contains(errOut, strconv.Quote(bad)) {
			t.Errorf("max age %q: exit %d %q", bad, code, errOut)
		}
	}
	// days, and zero for "always ask the repository", are durations too
	for _, good := range []string{"1d", "0", "1d12h"} {
		t.Setenv("TUFKEYS_MAX_AGE", good)
		if code, _, errOut := runCLI(t, "keys"); code != exitOK {
			t.Errorf("max age %q: exit %d %q", good, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "keys", "--max-age", "-5m"); code != exitUsage || !strings.Contains(errOut, "negative") {
		t.Errorf("--max-age -5m: exit %d %q", code, errOut)
	}
}

func TestCLIDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "demo")
	if code != exitOK || !strings.Contains(out, "every step behaved as stated") {
		t.Errorf("demo: exit %d\n%s%s", code, out, errOut)
	}
}

// The README's air-gapped flow, command for command: the clients inside
// name the repository (TUFKEYS_REPO) and root (TUFKEYS_ROOT) they always
// use, and import fills the cache they read.
func TestCLIAirGapReadme(t *testing.T) {
	clearClientEnv(t)
	_, origin, root := published(t, "npm/keys.json")
	t.Chdir(t.TempDir())
	t.Setenv("TUFKEYS_ROOT", root)
	// outside
	if code, out, errOut := runCLI(t, strings.Fields("export --repo "+origin+" --out keys-2026-11-26.tar.gz")...); code != exitOK {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	// inside: the repository's URL does not answer there
	t.Setenv("TUFKEYS_REPO", "https://keys.example.test/tuf")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	steps := []struct {
		line, want string
	}{
		{"tufkeys import keys-2026-11-26.tar.gz", "next: tufkeys keys --registry registry.example.test --offline\n"},
		{"tufkeys keys --registry registry.example.test --offline", "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"},
		{"tufkeys mirror --from keys-2026-11-26.tar.gz --to www/tuf", "mirrored root v1, targets v1, 1 key list"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, strings.Fields(s.line)[1:]...)
		if code != exitOK || !strings.Contains(out, s.want) {
			t.Errorf("%s: exit %d, want %q\n%s%s", s.line, code, s.want, out, errOut)
		}
	}
}

func TestCLIMirrorExportImport(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	dir := t.TempDir()
	mirrorDir := filepath.Join(dir, "mirror")
	archive := filepath.Join(dir, "keys.tar.gz")
	inside := filepath.Join(dir, "inside-cache")
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"mirror", "--from", repo, "--to", mirrorDir, "--root", root, "--cache", filepath.Join(dir, "c1")}, exitOK, "mirrored root v1, targets v1, 1 key list (registry.example.test/keys.json) to " + mirrorDir + ": 5 files copied, 0 unchanged"},
		{[]string{"mirror", "--from", repo, "--to", mirrorDir, "--root", root, "--cache", filepath.Join(dir, "c1")}, exitOK, "0 files copied, 5 unchanged"},
		{[]string{"export", "--repo", repo, "--to", archive, "--root", root, "--cache", filepath.Join(dir, "c2")}, exitOK, "exported root v1, targets v1, 1 key list to " + archive + " (5 files)"},
		{[]string{"export", "--repo", repo, "--to", archive, "--root", root, "--cache", filepath.Join(dir, "c2")}, exitFail, archive + " exists, and export does not overwrite files"},
		{[]string{"import", archive, "--root", root, "--cache", inside}, exitUsage, "import fills the cache of the repository your clients read, and none is named"},
		{[]string{"import", archive, "--root", root, "--repo", "http://127.0.0.1:1", "--cache", inside}, exitOK, "imported root v1, targets v1, key lists registry.example.test/keys.json into " + inside + "\nnext: tufkeys keys --registry registry.example.test --offline --repo http://127.0.0.1:1 --root " + root + " --cache " + inside},
		{[]string{"keys", "--registry", "registry.example.test", "--offline", "--root", root, "--repo", "http://127.0.0.1:1", "--cache", inside}, exitOK, "SHA256:DhQ8"},
		{[]string{"keys", "--registry", "registry.example.test", "--root", root, "--repo", archive, "--cache", filepath.Join(dir, "c3")}, exitOK, "SHA256:jl3b"},
		{[]string{"import", filepath.Join(dir, "missing.tar.gz"), "--repo", "http://127.0.0.1:1", "--root", root, "--cache", inside}, exitFail, "missing.tar.gz"},
		{[]string{"import", archive, "--repo", "http://127.0.0.1:1", "--root", root, "--cache", inside, "--accept-expired", "200d"}, exitUsage, "--accept-expired 200d is beyond the 90d allowed"},
		{[]string{"mirror", "--from", repo, "--root", root}, exitUsage, "--from and --to are both required"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", s.args[:2], code, s.code, s.want, out, errOut)
		}
	}
}

// Warnings are plain sentences in one style, never log records.
func TestCLICacheClearCreatesNothing(t *testing.T) {
	clearClientEnv(t)
	missing := filepath.Join(t.TempDir(), "nonexistent")
	code, _, errOut := runCLI(t, "cache", "clear", "--cache", missing, "--repo", "http://127.0.0.1:1", "--root", filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	if code != exitFail || !strings.Contains(errOut, "there is no cache at "+missing+": nothing to clear") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("cache clear created %s", missing)
	}
}

func TestCLIWarningStyle(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	if code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache); code != exitOK {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", "http://127.0.0.1:1", "--root", root, "--cache", cache, "--max-age", "0")
	if code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.HasPrefix(line, "tufkeys: warning: ") || strings.Contains(line, "msg=") || strings.Contains(line, `error="`) {
			t.Errorf("not a plain warning: %q", line)
		}
	}
	if !strings.Contains(errOut, "tufkeys: warning: the repository is unreachable; answering from the cache") {
		t.Errorf("stderr: %q", errOut)
	}
}

// A plain directory path is a repository, as its file:// URL is.
func TestCLIDirectoryAsRepository(t *testing.T) {
	clearClientEnv(t)
	c, _, root := published(t, "npm/keys.json")
	t.Chdir(filepath.Dir(c.RepoDir))
	for _, repo := range []string{c.RepoDir, filepath.Base(c.RepoDir), "file://" + c.RepoDir} {
		code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", t.TempDir())
		if code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
			t.Errorf("--repo %s: exit %d\n%s%s", repo, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "mirror", "--from", filepath.Base(c.RepoDir), "--to", filepath.Join(t.TempDir(), "copy"), "--root", root, "--cache", t.TempDir())
	if code != exitOK || !strings.Contains(out, "5 files copied") {
		t.Errorf("mirror --from DIR: exit %d\n%s%s", code, out, errOut)
	}
}

// - is standard input for import and mirror --from, as wherever a file is
// read; what standard input brings is verified like any archive.
func TestArchiveFromStandardInput(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	dir := t.TempDir()
	archive := filepath.Join(dir, "keys.tar.gz")
	if code, _, errOut := runCLI(t, "export", "--repo", repo, "--to", archive, "--root", root, "--cache", filepath.Join(dir, "c1")); code != exitOK {
		t.Fatal(errOut)
	}
	data, _ := os.ReadFile(archive)
	withStdin := func(in []byte, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, streams{In: bytes.NewReader(in), Out: &out, Err: &errb})
		return code, out.String() + errb.String()
	}
	inside := filepath.Join(dir, "inside")
	if code, out := withStdin(data, "import", "-", "--repo", "http://127.0.0.1:1", "--root", root, "--cache", inside); code != exitOK || !strings.Contains(out, "imported root v1") {
		t.Errorf("import -: exit %d\n%s", code, out)
	}
	mirrorDir := filepath.Join(dir, "mirror")
	if code, out := withStdin(data, "mirror", "--from", "-", "--to", mirrorDir, "--root", root, "--cache", filepath.Join(dir, "c2")); code != exitOK || !strings.Contains(out, "5 files copied") {
		t.Errorf("mirror --from -: exit %d\n%s", code, out)
	}
	if code, out := withStdin([]byte("not an archive"), "import", "-", "--repo", "http://127.0.0.1:1", "--root", root, "--cache", filepath.Join(dir, "c3")); code != exitFail {
		t.Errorf("import - of garbage: exit %d\n%s", code, out)
	}
}

// A repository URL that is not one is a usage error that touches nothing:
// no cache directory is made, nothing is asked.
func TestMalformedRepositoryURL(t *testing.T) {
	clearClientEnv(t)
	_, _, root := published(t, "npm/keys.json")
	for _, bad := range []string{"htp://keys.example.test/tuf", "http://[::1", "https://"} {
		cache := filepath.Join(t.TempDir(), "cache")
		t.Setenv("TUFKEYS_CACHE", cache)
		code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--root", root, "--repo", bad)
		if code != exitUsage || !strings.Contains(errOut, "is not a repository URL") {
			t.Errorf("--repo %s: exit %d\n%s%s", bad, code, out, errOut)
		}
		if _, err := os.Stat(cache); err == nil {
			t.Errorf("--repo %s made a cache directory", bad)
		}
		t.Setenv("TUFKEYS_REPO", bad)
		if code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--root", root); code != exitUsage {
			t.Errorf("TUFKEYS_REPO=%s: exit %d\n%s", bad, code, errOut)
		}
		os.Unsetenv("TUFKEYS_REPO")
	}
}

// A root given on standard input (--root -) is read once, however many
// times a command makes its client's options: cache info made them twice
// and found standard input empty the second time.
func TestRootFromStandardInputIsReadOnce(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	for _, args := range [][]string{
		{"cache", "info", "--root", "-", "--repo", repo, "--cache", cache},
		{"mirror", "--root", "-", "--from", repo, "--to", filepath.Join(t.TempDir(), "copy"), "--cache", t.TempDir()},
	} {
		var out, errb bytes.Buffer
		code := run(args, streams{In: bytes.NewReader(mustRead(t, root)), Out: &out, Err: &errb})
		if strings.Contains(errb.String(), "is empty") || code == exitUsage {
			t.Errorf("%v: exit %d\n%s%s", args[:2], code, out.String(), errb.String())
		}
	}
}
