package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// packageJSON reads package/package.json out of a packed npm tarball.
func packageJSON(t *testing.T, tgz string) map[string]any {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no package.json: %v", tgz, err)
		}
		if h.Name == "package/package.json" {
			var m map[string]any
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
}

// npmRegistry serves packed tarballs as an npm registry does, on loopback.
func npmRegistry(t *testing.T, tarballs []string) string {
	t.Helper()
	packuments := map[string][]byte{}
	files := map[string][]byte{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if data, ok := files[r.URL.Path]; ok {
			w.Write(data)
			return
		}
		if p, ok := packuments[strings.TrimPrefix(r.URL.Path, "/")]; ok {
			w.Header().Set("Content-Type", "application/json")
			w.Write(p)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, tgz := range tarballs {
		data, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		m := packageJSON(t, tgz)
		name, version := m["name"].(string), m["version"].(string)
		path := "/tarballs/" + filepath.Base(tgz)
		files[path] = data
		s1 := sha1.Sum(data)
		s512 := sha512.Sum512(data)
		m["dist"] = map[string]any{"tarball": srv.URL + path, "shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:])}
		doc, _ := json.Marshal(map[string]any{"name": name, "dist-tags": map[string]string{"latest": version}, "versions": map[string]any{version: m}})
		packuments[name] = doc
	}
	return srv.URL + "/"
}

// The npm packages install from their packed tarballs with npm, from a
// registry (on loopback here), and npx tufkeys runs the platform's binary:
// version, a keys lookup against a loopback repository, and a failure's
// exit status passed through.
func TestNPMPackages(t *testing.T) {
	clearClientEnv(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("TUFKEYS_TEST_REQUIRE_TOOLS") != "" {
			t.Fatal("npm is not on PATH: scripts/test.sh installs it")
		}
		t.Skip("npm is not on PATH")
	}
	if runtime.GOOS != "linux" {
		t.Skip("packages are built for linux and darwin; this test runs on linux")
	}
	out := t.TempDir()
	build := exec.Command("bash", "scripts/npm-packages.sh", out)
	build.Dir = filepath.Join(pkgDir, "..", "..")
	build.Env = append(append(os.Environ(), goEnv...), "TUFKEYS_NPM_PLATFORMS=linux/"+runtime.GOARCH, "TUFKEYS_VERSION=1.2.3")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("npm-packages.sh: %v\n%s", err, b)
	}
	tarballs, _ := filepath.Glob(filepath.Join(out, "*.tgz"))
	if len(tarballs) != 2 {
		t.Fatalf("packed %v, want the main package and one platform's", tarballs)
	}
	for _, tgz := range tarballs {
		if m := packageJSON(t, tgz); strings.HasPrefix(m["name"].(string), "@tufkeys/cli-") && (m["os"] == nil || m["cpu"] == nil) {
			t.Errorf("%s lacks os or cpu", tgz)
		}
	}
	reg := npmRegistry(t, tarballs)
	home, project := t.TempDir(), t.TempDir()
	userconfig := filepath.Join(home, ".npmrc")
	os.WriteFile(userconfig, nil, 0o600)
	os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name":"app","version":"1.0.0","private":true}`), 0o644)
	env := append(os.Environ(), "HOME="+home, "NPM_CONFIG_USERCONFIG="+userconfig, "npm_config_registry="+reg,
		"npm_config_cache="+filepath.Join(home, "npm-cache"), "npm_config_update_notifier=false", "npm_config_audit=false", "npm_config_fund=false")
	npmRun := func(args ...string) (int, string) {
		t.Helper()
		c := exec.Command(npm, args...)
		if args[0] == "npx" {
			c = exec.Command(filepath.Join(filepath.Dir(npm), "npx"), args[1:]...)
		}
		c.Dir, c.Env = project, env
		b, err := c.CombinedOutput()
		return exitStatus(t, err), string(b)
	}
	if code, b := npmRun("install", "tufkeys@1.2.3"); code != 0 {
		t.Fatalf("npm install: exit %d\n%s", code, b)
	}
	if code, b := npmRun("npx", "--no", "tufkeys", "version"); code != 0 || !strings.HasPrefix(strings.TrimSpace(b), "tufkeys 1.2.3 ") {
		t.Errorf("npx tufkeys version: exit %d\n%s", code, b)
	}
	// the launcher runs its own platform package's binary, never one found
	// in an ancestor's node_modules or through NODE_PATH
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	stray := filepath.Join(base, "node_modules", "@tufkeys")
	os.MkdirAll(stray, 0o755)
	if err := os.CopyFS(filepath.Join(base, "app", "node_modules", "tufkeys"), os.DirFS(filepath.Join(project, "node_modules", "tufkeys"))); err != nil {
		t.Fatal(err)
	}
	platforms, _ := filepath.Glob(filepath.Join(project, "node_modules", "@tufkeys", "cli-*"))
	for _, p := range platforms {
		if err := os.CopyFS(filepath.Join(stray, filepath.Base(p)), os.DirFS(p)); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(stray, filepath.Base(p), "bin", "tufkeys"), 0o755)
	}
	for _, extra := range [][]string{nil, {"NODE_PATH=" + filepath.Join(base, "node_modules")}} {
		c := exec.Command(node, filepath.Join(base, "app", "node_modules", "tufkeys", "bin", "tufkeys.js"), "version")
		c.Env = append(os.Environ(), extra...)
		b, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "is not installed with this package") {
			t.Errorf("a launcher without its platform package (%v): %v\n%s", extra, err, b)
		}
	}

	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	if code, b := npmRun("npx", "--no", "tufkeys", "keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache, "-o", "corepack"); code != 0 || !strings.Contains(b, `{"npm":[{`) {
		t.Errorf("npx tufkeys keys: exit %d\n%s", code, b)
	}
	if code, b := npmRun("npx", "--no", "tufkeys", "keys", "--registry", "other.example.test", "--repo", repo, "--root", root, "--cache", cache); code != exitFail || !strings.Contains(b, "no key list") {
		t.Errorf("a failing lookup through npx: exit %d, want 1\n%s", code, b)
	}
}
