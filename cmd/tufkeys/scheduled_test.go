package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// The scheduled job re-signs the timestamp, watches a registry that added a
// key, stages it, and reports the difference with exit status 3.
func TestScheduledScript(t *testing.T) {
	bin := build(t, filepath.Join(pkgDir, "..", ".."))
	dir := t.TempDir()
	run := func(env []string, name string, args ...string) (string, int) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "TUFKEYS_PASSPHRASE=scheduled-test", "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache")), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return string(out), code
	}
	reg := newLiveRegistry(t)
	reg.serve(t, "npm/keys.json")
	host, _ := bundle.RegistryHost(reg.URL)
	old := filepath.Join(pkgDir, fixtures, "corepack-0.30.json")
	for _, step := range [][]string{
		{"key", "generate", "--out", "alice"},
		{"key", "generate", "--out", "online"},
		{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub"},
		{"repo", "stage", "--workspace", "ws", "--registry", host, "--keys", old, "--new"},
		{"repo", "sign", "--workspace", "ws", "--key", "alice.key"},
		{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public"},
	} {
		if out, code := run(nil, bin, step...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", step, code, out)
		}
	}
	h, _ := repohttp.Handler(filepath.Join(dir, "public"), nil)
	repo := httptest.NewServer(h)
	defer repo.Close()
	out, code := run([]string{
		"TUFKEYS_BIN=" + bin,
		"TUFKEYS_WORKSPACE=ws",
		"TUFKEYS_DEST=public",
		"TUFKEYS_ONLINE_KEY=online.key",
		"TUFKEYS_REGISTRIES=" + reg.URL,
		"TUFKEYS_REPO=" + repo.URL,
		"TUFKEYS_ROOT=ws/published/1.root.json",
		"TUFKEYS_STAGE=1",
	}, "bash", filepath.Join(pkgDir, "..", "..", "scripts", "scheduled.sh"))
	if code != 1 {
		t.Errorf("exit %d, want 1 (a staged change awaits signatures)\n%s", code, out)
	}
	for _, want := range []string{
		"re-signed snapshot v2 and timestamp v2",
		"+ SHA256:DhQ8",
		"for signing (new keys and expiry changes only)",
		"attention: bins-",
		"v2 is staged but not yet signed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
