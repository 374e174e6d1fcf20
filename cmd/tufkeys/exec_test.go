package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/repohttp"
)

var fullBinary onceBinary

// tufkeysBinary builds this module's tufkeys once per test run.
func tufkeysBinary(t *testing.T) string {
	return fullBinary.get(t, func(out string) error {
		return goBuild(filepath.Join(pkgDir, "..", ".."), out, "./cmd/tufkeys")
	})
}

// exec runs the command only with verified keys: its exit status is
// passed back, an inherited value that turns Corepack's check off is
// replaced, and when the keys cannot be verified the command never starts.
func TestExec(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	flags := []string{"--repo", repo, "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test"}
	run := func(env []string, args ...string) (int, string, string) {
		t.Helper()
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		return runCLI(t, args...)
	}
	code, out, errOut := run(nil, append(append([]string{"exec"}, flags...), "--", "sh", "-c", `printf %s "$COREPACK_INTEGRITY_KEYS"; exit 7`)...)
	if code != 7 || !strings.HasPrefix(out, `{"npm":[{`) || !strings.Contains(out, "SHA256:DhQ8") || errOut != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, inherited := range []string{"", "0"} {
		code, out, errOut = run([]string{"COREPACK_INTEGRITY_KEYS=" + inherited}, append(append([]string{"exec"}, flags...), "--", "sh", "-c", `printf %s "$COREPACK_INTEGRITY_KEYS"`)...)
		if code != 0 || !strings.Contains(out, "SHA256:DhQ8") || !strings.Contains(errOut, "turns Corepack's check off; replaced") {
			t.Errorf("inherited %q: exit %d\nstdout: %s\nstderr: %s", inherited, code, out, errOut)
		}
	}
	// the repository unreachable, nothing cached: the command does not run
	marker := filepath.Join(t.TempDir(), "ran")
	code, _, errOut = run(nil, "exec", "--repo", "http://127.0.0.1:1", "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test", "--", "touch", marker)
	if _, err := os.Stat(marker); code != exitFail || err == nil || !strings.Contains(errOut, "not running touch") {
		t.Errorf("repository down: exit %d, ran %v\n%s", code, err == nil, errOut)
	}
	// a registry the repository does not list: nothing runs either
	code, _, errOut = run(nil, "exec", "--repo", repo, "--root", root, "--cache", t.TempDir(), "--registry", "other.example.test", "--", "touch", marker)
	if _, err := os.Stat(marker); code != exitFail || err == nil {
		t.Errorf("unknown registry: exit %d, ran %v\n%s", code, err == nil, errOut)
	}
	// the explicit opt-out, said aloud, needs no repository
	code, out, errOut = run(nil, "exec", "--skip-verification", "--repo", "http://127.0.0.1:1", "--", "sh", "-c", `printf %s "$COREPACK_INTEGRITY_KEYS"`)
	if code != 0 || out != "0" || !strings.Contains(errOut, "integrity check off") {
		t.Errorf("--skip-verification: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Setenv("TUFKEYS_SKIP_VERIFICATION", "1")
	code, _, _ = run(nil, "exec", "--repo", "http://127.0.0.1:1", "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test", "--", "touch", marker)
	if _, err := os.Stat(marker); code != exitFail || err == nil {
		t.Errorf("a variable turned verification off: exit %d", code)
	}
	for _, args := range [][]string{{"exec"}, {"exec", "sh", "-c", "true"}} {
		if code, _, errOut := run(nil, args...); code != exitUsage || !strings.Contains(errOut, "--") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if code, _, errOut := run(nil, append(append([]string{"exec"}, flags...), "--", "no-such-command-here")...); code != exitFail || !strings.Contains(errOut, "not on PATH") {
		t.Errorf("a missing command: exit %d, %s", code, errOut)
	}
}

// Signals sent to tufkeys exec reach the command, and a command killed by
// a signal gives 128 plus its number, as a shell does.
func TestExecForwardsSignals(t *testing.T) {
	bin := tufkeysBinary(t)
	cmd := exec.Command(bin, "exec", "--skip-verification", "--", "sh", "-c", `trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Stdin = strings.NewReader("")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("the command did not start: %q", lines.Text())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
			t.Errorf("exit %v, want 42 from the command's trap", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGTERM did not reach the command")
	}
	killed := exec.Command(bin, "exec", "--skip-verification", "--", "sh", "-c", `kill -KILL $$`)
	err := killed.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+9 {
		t.Errorf("a command killed by SIGKILL: %v, want exit 137", err)
	}
}

// The shims run the real Corepack through exec, never themselves, even
// with their directory on PATH twice; they never replace a file they did
// not write; and removing their directory leaves nothing behind.
func TestShims(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	bin := tufkeysBinary(t)
	real := t.TempDir()
	os.WriteFile(filepath.Join(real, "corepack"), []byte("#!/bin/sh\necho \"corepack $*\"\nprintf '%s\\n' \"$COREPACK_INTEGRITY_KEYS\"\n"), 0o755)
	shims := filepath.Join(t.TempDir(), "shims")
	code, out, errOut := runCLI(t, "shims", shims, "--repo", repo, "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test")
	if code != exitOK || !strings.Contains(out, "put "+shims+" first on PATH") {
		t.Fatalf("shims: exit %d\n%s%s", code, out, errOut)
	}
	// runShims points at the test binary by default: point at the real one
	if err := runShims(shimsOptions{streams: streams{Out: &strings.Builder{}, Err: &strings.Builder{}}, Dir: shims, Tufkeys: bin,
		Client:     clientFlags{Repos: []string{repo}, Root: root, Cache: t.TempDir(), set: func(n string) bool { return n == "repo" || n == "root" || n == "cache" }},
		Registries: []string{"registry.example.test"}}); err != nil {
		t.Fatal(err)
	}
	path := shims + ":" + shims + ":" + real + ":/usr/bin:/bin"
	for name, want := range map[string]string{"pnpm": "corepack pnpm --version", "pnpx": "corepack pnpx x", "yarn": "corepack yarn --version", "yarnpkg": "corepack yarnpkg", "corepack": "corepack --version"} {
		args := map[string][]string{"pnpm": {"--version"}, "pnpx": {"x"}, "yarn": {"--version"}, "yarnpkg": nil, "corepack": {"--version"}}[name]
		cmd := exec.Command(filepath.Join(shims, name), args...)
		cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir()}
		got, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(got), want+"\n") || !strings.Contains(string(got), "SHA256:DhQ8") {
			t.Errorf("%s: %v\n%s", name, err, got)
		}
	}
	// a file the user put there is kept
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "pnpm"), []byte("#!/bin/sh\necho mine\n"), 0o755)
	if code, _, errOut := runCLI(t, "shims", other); code != exitFail || !strings.Contains(errOut, "not a tufkeys shim") {
		t.Errorf("over a file of the user's: exit %d, %s", code, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(other, "pnpm")); string(data) != "#!/bin/sh\necho mine\n" {
		t.Errorf("the user's file was replaced: %q", data)
	}
	// removing the directory restores the machine: nothing was written elsewhere
	entries, _ := os.ReadDir(shims)
	if len(entries) != 6 {
		t.Errorf("the shim directory holds %d entries, want the five shims and the marker", len(entries))
	}
}

// A named version tufkeys cannot check (the registry answers 503, or none
// is configured) never reaches Corepack, which would not check its key's
// expiry: the command does not run.
func TestExecRefusesAPinItCannotCheck(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	os.WriteFile(filepath.Join(bin, "corepack"), []byte("#!/bin/sh\ntouch '"+marker+"'\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "pnpm"), []byte("#!/bin/sh\ntouch '"+marker+"'\n"), 0o755)
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"packageManager":"pnpm@10.1.0"}`), 0o644)
	t.Chdir(project)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NPM_CONFIG_USERCONFIG", filepath.Join(home, ".npmrc"))
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	flags := []string{"exec", "--repo", repo, "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test", "--"}
	for _, tc := range []struct {
		name     string
		registry string
		argv     []string
		want     string
	}{
		{"the registry answers 503, an argument", down.URL, []string{"corepack", "pnpm@10.1.0", "--version"}, "pnpm@10.1.0"},
		{"the registry answers 503, packageManager", down.URL, []string{"pnpm", "--version"}, "pnpm@10.1.0"},
		{"no registry configured", "", []string{"corepack", "pnpm@10.1.0", "--version"}, "no registry to fetch it from is configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("COREPACK_NPM_REGISTRY", tc.registry)
			if tc.registry == "" {
				os.Unsetenv("COREPACK_NPM_REGISTRY")
			}
			code, _, errOut := runCLI(t, append(flags, tc.argv...)...)
			if _, err := os.Stat(marker); err == nil || code == exitOK || !strings.Contains(errOut, "not running "+tc.argv[0]) || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, ran %v\n%s", code, err == nil, errOut)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("the refusal takes %d lines, want one:\n%s", n+1, errOut)
			}
		})
	}
}

// exec runs only what it means to: a copy of a shim outside a shim
// directory, or a chain of execs deeper than the guard, is refused; the
// child never sees tufkeys' own secrets; and a command that fails naming a
// key the handed list already holds is not run again.
func TestExecRunsOnlyWhatItMeans(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	flags := []string{"exec", "--repo", repo, "--root", root, "--cache", t.TempDir(), "--registry", "registry.example.test", "--"}

	// a copy of the corepack shim in a directory without the marker
	shims := filepath.Join(t.TempDir(), "shims")
	if err := runShims(shimsOptions{streams: streams{Out: &strings.Builder{}, Err: &strings.Builder{}}, Dir: shims, Tufkeys: tufkeysBinary(t)}); err != nil {
		t.Fatal(err)
	}
	copied := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(shims, "corepack"))
	os.WriteFile(filepath.Join(copied, "corepack"), data, 0o755)
	linked := t.TempDir()
	os.Symlink(filepath.Join(shims, "corepack"), filepath.Join(linked, "corepack"))
	for _, dir := range []string{copied, linked} {
		t.Setenv("PATH", dir+":/usr/bin:/bin")
		code, _, errOut := runCLI(t, append(flags, "corepack", "--version")...)
		if code != exitFail || !strings.Contains(errOut, "copy of a tufkeys shim") {
			t.Errorf("a shim in %s: exit %d\n%s", dir, code, errOut)
		}
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("TUFKEYS_EXEC_DEPTH", "8")
	if code, _, errOut := runCLI(t, append(flags, "true")...); code != exitFail || !strings.Contains(errOut, "levels deep") {
		t.Errorf("exec at depth 8: exit %d\n%s", code, errOut)
	}
	t.Setenv("TUFKEYS_EXEC_DEPTH", "2")

	// tufkeys' secrets stay with tufkeys
	t.Setenv("TUFKEYS_PASSPHRASE", "s3cret-passphrase")
	t.Setenv("TUFKEYS_PKCS11_PIN", "s3cret-pin")
	t.Setenv("TUFKEYS_ONLINE_KEY", "s3cret-online.key")
	t.Setenv("TUFKEYS_LOG_KEY", "s3cret-log.key")
	code, out, errOut := runCLI(t, append(flags, "env")...)
	if code != exitOK || strings.Contains(out, "s3cret") || !strings.Contains(out, "TUFKEYS_EXEC_DEPTH=3\n") {
		t.Errorf("the child's environment: exit %d\n%s%s", code, out, errOut)
	}

	// Corepack's failure naming a key the handed list holds: one run only
	count := filepath.Join(t.TempDir(), "runs")
	script := `echo x >> '` + count + `'; echo 'Internal Error: Cannot find matching keyid: {"signatures":[{"sig":"x","keyid":"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}],"keys":[]}' >&2; exit 1`
	code, _, errOut = runCLI(t, append(flags, "sh", "-c", script)...)
	runs, _ := os.ReadFile(count)
	if code != exitFail || strings.Count(string(runs), "x") != 1 || strings.Contains(errOut, "running sh again") {
		t.Errorf("a failure naming a key the list holds: exit %d, ran %d times\n%s", code, strings.Count(string(runs), "x"), errOut)
	}
}

// A warning the command meets twice (the precheck and the hand-over both
// answer from the cache while the repository is down) is printed once.
func TestExecWarnsOnce(t *testing.T) {
	clearClientEnv(t)
	c, _, root := published(t, "npm/keys.json")
	h, err := repohttp.Handler(c.RepoDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	cache := t.TempDir()
	flags := []string{"--repo", srv.URL, "--root", root, "--cache", cache, "--registry", "registry.example.test"}
	if code, _, errOut := runCLI(t, append([]string{"keys"}, flags...)...); code != exitOK {
		t.Fatal(errOut)
	}
	srv.Close()
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "corepack"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	t.Setenv("COREPACK_NPM_REGISTRY", fakeRegistry(t, "pnpm@10.1.0", "2025-01-22T10:00:00.000Z"))
	code, out, errOut := runCLI(t, append(append([]string{"exec", "--max-age", "0"}, flags...), "--", "corepack", "pnpm@10.1.0", "--version")...)
	if code != exitOK || strings.TrimSpace(out) != "ran" {
		t.Fatalf("exec from the cache: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "answering from the cache"); n != 1 {
		t.Errorf("the cache warning printed %d times:\n%s", n, errOut)
	}
}
