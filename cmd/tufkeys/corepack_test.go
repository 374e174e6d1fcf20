package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// corepackWorld is the real Corepack 0.30.0 (which shipped the pre-rotation
// key), a loopback registry serving pnpm@10.1.0's real version document,
// signatures and tarball, and key repositories in several states.
type corepackWorld struct {
	corepack string // corepack.js
	node     string
	registry string // loopback registry URL
}

func newCorepackWorld(t *testing.T, doc map[string]any) *corepackWorld {
	t.Helper()
	w := &corepackWorld{
		corepack: testutil.Tool(t, "TUFKEYS_TEST_COREPACK", "Corepack 0.30.0"),
	}
	tarballPath := testutil.Tool(t, "TUFKEYS_TEST_PNPM_TARBALL", "the pnpm@10.1.0 tarball")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: Corepack needs it")
	}
	w.node = node
	tarball, err := os.ReadFile(tarballPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(tarball)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != doc["dist"].(map[string]any)["integrity"] && doc["real"] == true {
		t.Fatalf("the tarball at %s is not pnpm@10.1.0's (integrity %s)", tarballPath, got)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pnpm/10.1.0", "/pnpm/latest":
			d := map[string]any{"name": doc["name"], "version": doc["version"], "dist": map[string]any{}}
			for k, v := range doc["dist"].(map[string]any) {
				d["dist"].(map[string]any)[k] = v
			}
			d["dist"].(map[string]any)["tarball"] = srv.URL + "/pnpm/-/pnpm-10.1.0.tgz"
			json.NewEncoder(rw).Encode(d)
		case "/pnpm/-/pnpm-10.1.0.tgz":
			rw.Write(tarball)
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(srv.Close)
	w.registry = srv.URL
	return w
}

// realPnpmDoc is pnpm@10.1.0's version document as the registry serves it,
// signed by the key the January 2025 rotation introduced.
func realPnpmDoc(t *testing.T) map[string]any {
	raw, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm", "pnpm@10.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	json.Unmarshal(raw, &f)
	return map[string]any{"real": true, "name": f["name"], "version": f["version"], "dist": map[string]any{"integrity": f["integrity"], "shasum": f["shasum"], "signatures": f["signatures"]}}
}

// forgedPnpmDoc is the same document signed by a key no list holds.
func forgedPnpmDoc(t *testing.T) map[string]any {
	doc := realPnpmDoc(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	integrity := doc["dist"].(map[string]any)["integrity"].(string)
	digest := sha256.Sum256([]byte("pnpm@10.1.0:" + integrity))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	doc["dist"].(map[string]any)["signatures"] = []map[string]string{{"keyid": bundle.Fingerprint(&priv.PublicKey), "sig": base64.StdEncoding.EncodeToString(sig)}}
	return doc
}

// keyRepo publishes list for registry.example.test, as of publishedAt,
// serves it through tamper (nil: as published) and counts the updates
// clients make (requests for timestamp.json). The test may publish to c as
// it goes.
func keyRepo(t *testing.T, list []byte, publishedAt time.Time, tamper func(path string, body []byte) []byte) (c *ceremony.Ceremony, url, root string, updates func() int) {
	t.Helper()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Now: func() time.Time { return publishedAt }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("registry.example.test", list, 2); err != nil {
		t.Fatal(err)
	}
	h, err := repohttp.Handler(c.RepoDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "timestamp.json") {
			n.Add(1)
		}
		if tamper == nil {
			h.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := tamper(r.URL.Path, rec.Body.Bytes())
		for k, v := range rec.Header() {
			if k != "Content-Length" && k != "Etag" {
				rw.Header()[k] = v
			}
		}
		rw.WriteHeader(rec.Code)
		rw.Write(body)
	}))
	t.Cleanup(srv.Close)
	root = filepath.Join(t.TempDir(), "root.json")
	rb, _ := c.RootBytes(1)
	os.WriteFile(root, rb, 0o644)
	return c, srv.URL, root, func() int { return int(n.Load()) }
}

// countingDoor serves the repository at url from a server of its own and
// counts the updates made through it (requests for timestamp.json).
func countingDoor(t *testing.T, url string) (string, func() int) {
	t.Helper()
	target, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "timestamp.json") {
			n.Add(1)
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { return int(n.Load()) }
}

// preRotationList is the registry's list before January 2025: the old key only.
func preRotationList(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := bundle.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var old bundle.KeyList
	for _, k := range p.List.Keys {
		if strings.HasPrefix(k.KeyID, "SHA256:jl3b") {
			old.Keys = append(old.Keys, k)
		}
	}
	out, err := bundle.Encode(&old, bundle.FormNPM)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rotatedList(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// corepackEnv is the environment Corepack runs in: a home of its own, the
// loopback registry, no prompt, and a Corepack bin directory on PATH.
func (w *corepackWorld) env(t *testing.T, binDir string, extra ...string) []string {
	home := t.TempDir()
	path := binDir + string(os.PathListSeparator) + filepath.Dir(w.node) + string(os.PathListSeparator) + "/usr/bin:/bin"
	env := []string{
		"PATH=" + path, "HOME=" + home, "COREPACK_HOME=" + filepath.Join(home, "corepack"),
		"COREPACK_NPM_REGISTRY=" + w.registry, "COREPACK_ENABLE_DOWNLOAD_PROMPT=0", "COREPACK_ENABLE_AUTO_PIN=0",
		"COREPACK_ENABLE_STRICT=0", "COREPACK_DEFAULT_TO_LATEST=0", "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"npm_config_registry=" + w.registry,
	}
	return append(env, extra...)
}

// corepackBin is a directory holding the real Corepack as "corepack".
func (w *corepackWorld) corepackBin(t *testing.T) string {
	dir := t.TempDir()
	script := "#!/bin/sh\nexec '" + w.node + "' '" + w.corepack + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "corepack"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type corepackRun struct {
	code        int
	out, errOut string
	installed   bool // Corepack unpacked a pnpm
}

func installedPnpm(env []string) bool {
	home := lookupEnv(env, "COREPACK_HOME")
	m, _ := filepath.Glob(filepath.Join(home, "*", "pnpm", "10.1.0"))
	return len(m) > 0
}

// viaExec runs the built tufkeys exec with env as its whole environment,
// as a CI job or a Dockerfile runs it; the cases can then run side by side.
func (w *corepackWorld) viaExec(t *testing.T, env []string, flags []string, argv ...string) corepackRun {
	t.Helper()
	args := append(append([]string{"exec"}, flags...), "--")
	cmd := exec.Command(tufkeysBinary(t), append(args, argv...)...)
	cmd.Env = env
	code, out, errOut := runProgram(t, cmd)
	return corepackRun{code, out, errOut, installedPnpm(env)}
}

// viaShims runs argv as a shell would with the shims first on PATH.
func (w *corepackWorld) viaShims(t *testing.T, env []string, dir string, argv ...string) corepackRun {
	t.Helper()
	// a shell finds the shim first: look it up on the test's PATH
	path := ""
	for _, d := range filepath.SplitList(lookupEnv(env, "PATH")) {
		if p := filepath.Join(d, argv[0]); isExec(p) {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatalf("%s is not on the test's PATH", argv[0])
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	code, out, errOut := runProgram(t, cmd)
	return corepackRun{code, out, errOut, installedPnpm(env)}
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// The real Corepack 0.30.0, which shipped only the key the registry retired
// in January 2025, runs pnpm@10.1.0 (signed by the new key) through tufkeys
// exec and through the shims once the repository publishes the rotation;
// and runs nothing when the keys cannot be verified or do not match.
func TestCorepackHandOver(t *testing.T) {
	clearClientEnv(t)
	now := time.Now()
	_, rotatedURL, rotatedRoot, _ := keyRepo(t, rotatedList(t), now, nil)
	_, downURL, downRoot, _ := keyRepo(t, rotatedList(t), now, nil)
	// the repository stopped re-signing its timestamp three days ago
	_, frozenURL, frozenRoot, _ := keyRepo(t, rotatedList(t), now.Add(-72*time.Hour), nil)
	_, tamperedURL, tamperedRoot, _ := keyRepo(t, rotatedList(t), now, func(path string, body []byte) []byte {
		if strings.HasSuffix(path, "keys.json") {
			return bytes.Replace(body, []byte(`"keys"`), []byte(`"keyz"`), 1)
		}
		return body
	})
	// an address nothing listens on: the repository is down
	downURL = "http://127.0.0.1:1"
	real := newCorepackWorld(t, realPnpmDoc(t))
	forged := newCorepackWorld(t, forgedPnpmDoc(t))
	bin := tufkeysBinary(t)

	// without tufkeys, Corepack 0.30.0 refuses the rotated key: the failure
	// tufkeys exists for
	direct := real.viaShims(t, real.env(t, real.corepackBin(t)), t.TempDir(), "corepack", "pnpm@10.1.0", "--version")
	if direct.code == 0 || !strings.Contains(direct.errOut, "Cannot find matching keyid") {
		t.Fatalf("Corepack 0.30.0 alone: exit %d\n%s%s", direct.code, direct.out, direct.errOut)
	}

	tests := []struct {
		name      string
		world     *corepackWorld
		repo      string
		root      string
		runs      bool
		wantErr   string
		inherited string // an inherited COREPACK_INTEGRITY_KEYS, "-" for none
	}{
		{name: "after the rotation", world: real, repo: rotatedURL, root: rotatedRoot, runs: true, inherited: "-"},
		{name: "after the rotation, inherited empty value replaced", world: real, repo: rotatedURL, root: rotatedRoot, runs: true, inherited: ""},
		{name: "repository down", world: real, repo: downURL, root: downRoot, wantErr: "not running", inherited: ""},
		{name: "repository frozen", world: real, repo: frozenURL, root: frozenRoot, wantErr: "expired", inherited: "0"},
		{name: "repository tampered", world: real, repo: tamperedURL, root: tamperedRoot, wantErr: "not running", inherited: ""},
		{name: "signed by a key not in the list", world: forged, repo: rotatedURL, root: rotatedRoot, wantErr: "not running corepack", inherited: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check := func(how string, r corepackRun) {
				t.Helper()
				if tt.runs {
					if r.code != 0 || strings.TrimSpace(r.out) != "10.1.0" {
						t.Errorf("%s: pnpm did not run: exit %d\nstdout: %s\nstderr: %s", how, r.code, r.out, r.errOut)
					}
					return
				}
				if r.code == 0 || strings.Contains(r.out, "10.1.0") || r.installed || !strings.Contains(r.errOut, tt.wantErr) {
					t.Errorf("%s: want pnpm not run and %q: exit %d, installed %v\nstdout: %s\nstderr: %s", how, tt.wantErr, r.code, r.installed, r.out, r.errOut)
				}
			}
			flags := []string{"--repo", tt.repo, "--root", tt.root, "--cache", t.TempDir(), "--registry", "registry.example.test"}
			var extra []string
			if tt.inherited != "-" {
				extra = append(extra, "COREPACK_INTEGRITY_KEYS="+tt.inherited)
			}

			env := tt.world.env(t, tt.world.corepackBin(t), extra...)
			r := tt.world.viaExec(t, env, flags, "corepack", "pnpm@10.1.0", "--version")
			check("exec", r)
			if tt.inherited == "" && tt.runs && !strings.Contains(r.errOut, `COREPACK_INTEGRITY_KEYS="" in the environment turns Corepack's check off`) {
				t.Errorf("no warning about the inherited empty value:\n%s", r.errOut)
			}

			shims := t.TempDir()
			var out bytes.Buffer
			if err := runShims(shimsOptions{streams: streams{Out: &out, Err: &out}, Dir: shims, Tufkeys: bin,
				Client:     clientFlags{Repos: []string{tt.repo}, Root: tt.root, Cache: t.TempDir(), set: func(n string) bool { return n == "repo" || n == "root" || n == "cache" }},
				Registries: []string{"registry.example.test"}}); err != nil {
				t.Fatal(err)
			}
			// the shims directory twice on PATH, before the real Corepack
			shimPath := shims + string(os.PathListSeparator) + shims + string(os.PathListSeparator) + tt.world.corepackBin(t)
			check("corepack shim", tt.world.viaShims(t, tt.world.env(t, shimPath, extra...), t.TempDir(), "corepack", "pnpm@10.1.0", "--version"))
			project := t.TempDir()
			os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name":"app","packageManager":"pnpm@10.1.0"}`), 0o644)
			check("pnpm shim", tt.world.viaShims(t, tt.world.env(t, shimPath, extra...), project, "pnpm", "--version"))
		})
	}
}

// A rotation reaches Corepack users through the hand-over at once: with a
// fresh cache that holds the pre-rotation list and a repository that
// already publishes the rotated one, the first call runs pnpm@10.1.0 (the
// version is known: checked and followed before the hand-over; not known:
// Corepack's failure followed, and the command run again). A version
// signed by a key the repository does not have still does not run, after
// at most one refresh.
func TestCorepackFollowsARotation(t *testing.T) {
	clearClientEnv(t)
	c, repo, root, _ := keyRepo(t, preRotationList(t), time.Now(), nil)
	real := newCorepackWorld(t, realPnpmDoc(t))
	forged := newCorepackWorld(t, forgedPnpmDoc(t))
	bin := tufkeysBinary(t)
	tests := []struct {
		name    string
		world   *corepackWorld
		how     string // exec, corepack shim, pnpm shim
		argv    []string
		latest  bool // let Corepack pick the version: not known beforehand
		runs    bool
		wantErr string
	}{
		{name: "exec, version in the argument", world: real, how: "exec", argv: []string{"corepack", "pnpm@10.1.0", "--version"}, runs: true, wantErr: "the list was refreshed first"},
		{name: "corepack shim, version in the argument", world: real, how: "corepack shim", argv: []string{"corepack", "pnpm@10.1.0", "--version"}, runs: true},
		{name: "pnpm shim, version in packageManager", world: real, how: "pnpm shim", argv: []string{"pnpm", "--version"}, runs: true},
		{name: "exec, version Corepack's to choose", world: real, how: "exec", argv: []string{"corepack", "pnpm", "--version"}, latest: true, runs: true, wantErr: "running corepack again"},
		{name: "exec, signed by a key nobody has", world: forged, how: "exec", argv: []string{"corepack", "pnpm@10.1.0", "--version"}, wantErr: "not running corepack"},
		{name: "pnpm shim, signed by a key nobody has", world: forged, how: "pnpm shim", argv: []string{"pnpm", "--version"}, wantErr: "not running corepack"},
		{name: "exec, unknown key, version Corepack's to choose", world: forged, how: "exec", argv: []string{"corepack", "pnpm", "--version"}, latest: true, wantErr: "Cannot find matching keyid"},
	}
	// each case has a cache filled before the rotation, fresh for an hour,
	// and reads the repository through a door of its own that counts its
	// updates, so that the cases can run side by side
	caches, doors, updates := make([]string, len(tests)), make([]string, len(tests)), make([]func() int, len(tests))
	for i := range tests {
		caches[i] = t.TempDir()
		doors[i], updates[i] = countingDoor(t, repo)
		if code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", doors[i], "--root", root, "--cache", caches[i]); code != exitOK {
			t.Fatal(errOut)
		}
	}
	if err := c.StagePublish("registry.example.test", rotatedList(t), 2); err != nil {
		t.Fatal(err)
	}
	// the rotation comes after the refresh interval given below
	time.Sleep(1100 * time.Millisecond)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, updates := doors[i], updates[i]
			flags := []string{"--repo", repo, "--root", root, "--cache", caches[i], "--refresh-interval", "1s", "--registry", "registry.example.test"}
			var extra []string
			if tt.latest {
				// Corepack asks the registry for the latest version itself
				extra = append(extra, "COREPACK_DEFAULT_TO_LATEST=1")
			}
			before := updates()
			var r corepackRun
			switch tt.how {
			case "exec":
				r = tt.world.viaExec(t, tt.world.env(t, tt.world.corepackBin(t), extra...), flags, tt.argv...)
			default:
				shims := t.TempDir()
				var out bytes.Buffer
				if err := runShims(shimsOptions{streams: streams{Out: &out, Err: &out}, Dir: shims, Tufkeys: bin,
					Client: clientFlags{Repos: []string{repo}, Root: root, Cache: caches[i], MaxAge: "1h", RefreshInterval: "1s",
						set: func(n string) bool { return n == "repo" || n == "root" || n == "cache" || n == "refresh-interval" }},
					Registries: []string{"registry.example.test"}}); err != nil {
					t.Fatal(err)
				}
				project := t.TempDir()
				os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name":"app","packageManager":"pnpm@10.1.0"}`), 0o644)
				env := tt.world.env(t, shims+string(os.PathListSeparator)+tt.world.corepackBin(t), extra...)
				r = tt.world.viaShims(t, env, project, tt.argv...)
			}
			if tt.runs && (r.code != 0 || strings.TrimSpace(r.out) != "10.1.0") {
				t.Errorf("pnpm did not run on the first call: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
			}
			if !tt.runs && (r.code == 0 || strings.Contains(r.out, "10.1.0")) {
				t.Errorf("pnpm ran: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
			}
			if !strings.Contains(r.errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, r.errOut)
			}
			if n := updates() - before; n > 1 {
				t.Errorf("%d updates of the repository, want at most one refresh", n)
			}
		})
	}
}
