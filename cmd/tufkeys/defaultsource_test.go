package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// buildWithRoot runs scripts/build-with-root.sh as a deployment does.
func buildWithRoot(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tufkeys")
	cmd := exec.Command("bash", append([]string{filepath.Join(pkgDir, "..", "..", "scripts", "build-with-root.sh"), "--out", out}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), goEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-with-root.sh: %v\n%s", err, b)
	}
	return out
}

// The day-one path, on loopback: a build whose built-in source is a
// Sigstore-shaped repository (built with go-tuf's metadata API, as the
// public-good one is shaped) embedded by the same build step that embeds
// Sigstore's root; no flag, no TUFKEYS_ variable; the registry only in
// npm's configuration (and Corepack's, for Corepack). keys, verify, exec
// with the real Corepack, the shims, export and import all work; a man in
// the middle is refused. The default build keeps Sigstore's source beside
// a deployment's own.
func TestDefaultSourceBuild(t *testing.T) {
	clearClientEnv(t)
	world := newCorepackWorld(t, realPnpmDoc(t))
	regHost, err := bundle.RegistryHost(world.registry)
	if err != nil {
		t.Fatal(err)
	}
	p, err := bundle.Parse(rotatedList(t))
	if err != nil {
		t.Fatal(err)
	}
	list, err := bundle.Encode(&p.List, bundle.FormSigstore)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := tufrepo.NewShaped(t.TempDir(), time.Now(), regHost, list)
	if err != nil {
		t.Fatal(err)
	}
	h, err := repohttp.Handler(repo.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var swap atomic.Bool // a man in the middle swaps the key list
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if swap.Load() && strings.HasSuffix(r.URL.Path, ".keys.json") {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			rw.Write(bytes.Replace(rec.Body.Bytes(), []byte("npm:signatures"), []byte("npm:signaturez"), 1))
			return
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	rootFile := filepath.Join(t.TempDir(), "root.json")
	rb, _ := repo.RootBytes(1)
	os.WriteFile(rootFile, rb, 0o644)
	bin := buildWithRoot(t, "--replace-default", rootFile, srv.URL)

	corepackBin := world.corepackBin(t)
	newHome := func() []string {
		home := t.TempDir()
		// the registry, in npm's configuration only
		os.WriteFile(filepath.Join(home, ".npmrc"), []byte("registry="+world.registry+"/\n"), 0o600)
		return []string{
			"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
			"PATH=" + corepackBin + string(os.PathListSeparator) + filepath.Dir(world.node) + string(os.PathListSeparator) + "/usr/bin:/bin",
			"COREPACK_HOME=" + filepath.Join(home, "corepack"), "COREPACK_NPM_REGISTRY=" + world.registry,
			"COREPACK_ENABLE_DOWNLOAD_PROMPT=0", "COREPACK_ENABLE_AUTO_PIN=0", "COREPACK_ENABLE_STRICT=0", "COREPACK_DEFAULT_TO_LATEST=0",
		}
	}
	runIn := func(env []string, dir, program string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(program, args...)
		cmd.Env, cmd.Dir = env, dir
		return runProgram(t, cmd)
	}
	run := func(env []string, dir string, args ...string) (int, string, string) {
		t.Helper()
		return runIn(env, dir, bin, args...)
	}
	env := newHome()
	work := t.TempDir()
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"keys"}, "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"},
		{[]string{"verify", "pnpm@10.1.0"}, "pnpm@10.1.0"},
		{[]string{"exec", "--", "corepack", "pnpm@10.1.0", "--version"}, "10.1.0"},
		{[]string{"sources"}, regHost},
		{[]string{"export", "--to", filepath.Join(work, "keys.tar.gz")}, "exported"},
	}
	for _, s := range steps {
		code, out, errOut := run(env, work, s.args...)
		if code != exitOK || !strings.Contains(out+errOut, s.want) {
			t.Fatalf("%v: exit %d, want %q\n%s%s", s.args, code, s.want, out, errOut)
		}
	}
	// the shims, written with no flag, in a project that pins pnpm
	shims := filepath.Join(t.TempDir(), "shims")
	if code, out, errOut := run(env, work, "shims", shims); code != exitOK {
		t.Fatalf("shims: exit %d\n%s%s", code, out, errOut)
	}
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name":"app","packageManager":"pnpm@10.1.0"}`), 0o644)
	shimEnv := append(slicesWithout(env, "PATH="), "PATH="+shims+string(os.PathListSeparator)+lookupEnv(env, "PATH"))
	if code, out, errOut := runIn(shimEnv, project, filepath.Join(shims, "pnpm"), "--version"); code != exitOK || strings.TrimSpace(out) != "10.1.0" {
		t.Errorf("the pnpm shim: exit %d\n%s%s", code, out, errOut)
	}
	// an air-gapped machine: the archive imported, keys read offline
	gapped := newHome()
	if code, out, errOut := run(gapped, work, "import", filepath.Join(work, "keys.tar.gz")); code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(gapped, work, "keys", "--offline"); code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
		t.Errorf("keys offline after import: exit %d\n%s%s", code, out, errOut)
	}
	// a man in the middle swaps the key list: refused, nothing handed over
	swap.Store(true)
	attacked := newHome()
	if code, out, errOut := run(attacked, work, "keys"); code != exitFail || strings.Contains(out, "SHA256") || !strings.Contains(errOut, "does not match") {
		t.Errorf("a swapped key list: exit %d\n%s%s", code, out, errOut)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	if code, _, errOut := run(attacked, work, "exec", "--", "touch", marker); code == exitOK {
		t.Errorf("exec ran with a swapped key list:\n%s", errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran")
	}
	swap.Store(false)

	// the default build keeps Sigstore's source when a deployment adds its own
	both := buildWithRoot(t, rootFile, srv.URL)
	out, err := exec.Command(both, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sources built in: deployment (root v1") || !strings.Contains(string(out), "; sigstore (root v") {
		t.Errorf("the default build with a deployment's source: %v\n%s", err, out)
	}
}

func slicesWithout(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}
