package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// The scheduled job re-signs the timestamp, watches a registry that added a
// key, stages it, and reports the difference with exit status 3.
func TestScheduledScript(t *testing.T) {
	bin := tufkeysBinary(t)
	dir := t.TempDir()
	run := jobRunner(t, dir, "TUFKEYS_PASSPHRASE=scheduled-test")
	reg := newLiveRegistry(t)
	reg.serve(t, "npm/keys.json")
	host, _ := bundle.RegistryHost(reg.URL)
	old := filepath.Join(pkgDir, fixtures, "corepack-0.30.json")
	for _, step := range [][]string{
		{"key", "generate", "--out", "alice"},
		{"key", "generate", "--out", "online"},
		{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub"},
		{"repo", "stage", "--workspace", "ws", "--registry", host, "--keys", old, "--new"},
		{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"},
		{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public"},
	} {
		if out, code := run(nil, bin, step...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", step, code, out)
		}
	}
	out, code := runScheduledJob(t, run, dir, bin, reg.URL)
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

// The scheduled job with a transparency log and witnesses, as the docs set
// it up: TUFKEYS_WORKSPACE set for the whole job, the log key and its own
// passphrase variable; the run re-signs, has the witnesses cosign again,
// watches the registry and monitors the log, and exits 0.
func TestScheduledScriptWithLog(t *testing.T) {
	set := witnesstest.Get(t)
	bin := tufkeysBinary(t)
	dir := t.TempDir()
	run := jobRunner(t, dir)
	reg := newLiveRegistry(t)
	reg.serve(t, "npm/keys.json")
	host, _ := bundle.RegistryHost(reg.URL)
	for _, k := range []struct{ name, pass, kind string }{{"alice", "a", "ecdsa-p256"}, {"online", "o", "ecdsa-p256"}, {"log", "l", "ed25519"}} {
		if out, code := run([]string{"TUFKEYS_PASSPHRASE=" + k.pass}, bin, "key", "generate", "--out", k.name, "--type", k.kind); code != 0 {
			t.Fatalf("generate %s: exit %d\n%s", k.name, code, out)
		}
	}
	origin := "log.example.test/scheduled-" + filepath.Base(dir)
	set.FollowKeyFile(t, origin, filepath.Join(dir, "log.pub"))
	initArgs := []string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub",
		"--log-key", "log.pub", "--log-origin", origin, "--witness-quorum", "2"}
	for _, w := range set.Witnesses {
		initArgs = append(initArgs, "--witness", w.Key+","+w.URL)
	}
	keys := filepath.Join(pkgDir, fixtures, "npm/keys.json")
	for _, step := range []struct {
		env  []string
		args []string
	}{
		{nil, initArgs},
		{nil, []string{"repo", "stage", "--workspace", "ws", "--registry", host, "--keys", keys, "--new"}},
		{[]string{"TUFKEYS_PASSPHRASE=a"}, []string{"repo", "sign", "--workspace", "ws", "--key", "alice.key", "--yes"}},
		{[]string{"TUFKEYS_ONLINE_PASSPHRASE=o", "TUFKEYS_LOG_PASSPHRASE=l"}, []string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", "public"}},
	} {
		if out, code := run(step.env, bin, step.args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", step.args[:2], code, out)
		}
	}
	out, code := runScheduledJob(t, run, dir, bin, reg.URL, "TUFKEYS_ONLINE_PASSPHRASE=o", "TUFKEYS_LOG_KEY=log.key", "TUFKEYS_LOG_PASSPHRASE=l")
	if code != 0 {
		t.Fatalf("the scheduled job with a log: exit %d\n%s", code, out)
	}
	for _, want := range []string{"re-signed snapshot v2 and timestamp v2", "matches the published one", "log " + origin + ":", "cosigned by witness"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// runScheduledJob runs scripts/scheduled.sh with run, as a scheduler is
// set up to run it: the workspace ws in dir, publishing to dir/public,
// which a loopback server serves to the job's own client, watching
// registryURL, staging what it finds; extra adds or overrides variables.
func runScheduledJob(t *testing.T, run func(env []string, name string, args ...string) (string, int), dir, bin, registryURL string, extra ...string) (string, int) {
	t.Helper()
	h, err := repohttp.Handler(filepath.Join(dir, "public"), nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := httptest.NewServer(h)
	defer repo.Close()
	env := append([]string{
		"TUFKEYS_BIN=" + bin,
		"TUFKEYS_WORKSPACE=ws",
		"TUFKEYS_DEST=public",
		"TUFKEYS_ONLINE_KEY=online.key",
		"TUFKEYS_REGISTRIES=" + registryURL,
		"TUFKEYS_REPO=" + repo.URL,
		"TUFKEYS_ROOT=ws/published/1.root.json",
		"TUFKEYS_STAGE=1",
	}, extra...)
	return run(env, "bash", filepath.Join(pkgDir, "..", "..", "scripts", "scheduled.sh"))
}

// jobRunner runs programs in dir as the scheduled job runs them: a home
// and cache of their own, the test's environment, extra and the step's
// variables; it returns the output and the exit status.
func jobRunner(t *testing.T, dir string, extra ...string) func(env []string, name string, args ...string) (string, int) {
	base := append(append(os.Environ(), "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache")), extra...)
	return func(env []string, name string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(append([]string{}, base...), env...)
		out, err := cmd.CombinedOutput()
		return string(out), exitStatus(t, err)
	}
}
