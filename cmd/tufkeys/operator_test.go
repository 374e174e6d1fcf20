//go:build !tufkeys_client

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
)

// The operator's path as the guides give it, on a real S3 server
// (versitygw) with real witnesses: a 2-of-3 ceremony whose root names a
// transparency log, keys with passphrases of their own, the January 2025
// rotation staged by the watcher and signed, a maintainer removed, the
// scheduled job, the log monitor, and clients that read it all.
func TestOperatorPath(t *testing.T) {
	srv := s3test.Get(t)
	set := witnesstest.Get(t)
	clearClientEnv(t)
	bin := tufkeysBinary(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	passes := map[string]string{"alice": "a-pass", "bob": "b-pass", "carol": "c-pass", "online": "o-pass", "log": "l-pass"}
	for _, name := range []string{"alice", "bob", "carol", "online", "log"} {
		t.Setenv("TUFKEYS_PASSPHRASE", passes[name])
		args := []string{"key", "generate", "--out", name}
		if name == "log" {
			args = append(args, "--type", "ed25519")
		}
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("generate %s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	os.Unsetenv("TUFKEYS_PASSPHRASE")
	origin := "log.example.test/operator-" + filepath.Base(dir)
	set.FollowKeyFile(t, origin, "log.pub")

	reg := newLiveRegistry(t)
	reg.serve(t, "corepack-0.30.json") // the list before the rotation
	host, _ := bundle.RegistryHost(reg.URL)
	os.WriteFile("keys.json", mustRead(t, filepath.Join(pkgDir, fixtures, "corepack-0.30.json")), 0o644)
	prefix := s3test.Prefix(t)
	to := "s3://" + srv.Bucket + "/" + prefix
	store := []string{"--endpoint-url", srv.Endpoint, "--path-style"}
	public := srv.PublicURL(prefix)
	t.Setenv("TUFKEYS_ONLINE_PASSPHRASE", passes["online"])
	t.Setenv("TUFKEYS_LOG_PASSPHRASE", passes["log"])
	sign := func(who ...string) {
		t.Helper()
		for _, w := range who {
			t.Setenv("TUFKEYS_PASSPHRASE", passes[w])
			if code, out, errOut := runCLI(t, "repo", "sign", "--workspace", "ws", "--key", w+".key", "--yes"); code != exitOK {
				t.Fatalf("%s signs: exit %d\n%s%s", w, code, out, errOut)
			}
		}
		os.Unsetenv("TUFKEYS_PASSPHRASE")
	}
	publish := func() {
		t.Helper()
		args := append([]string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", to}, store...)
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("publish: exit %d\n%s%s", code, out, errOut)
		}
	}
	step := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args[:2], code, out, errOut)
		}
		return out
	}
	initArgs := []string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-key", "carol.pub", "--root-threshold", "2",
		"--online-key", "online.pub", "--log-key", "log.pub", "--log-origin", origin, "--witness-quorum", "2"}
	for _, w := range set.Witnesses {
		initArgs = append(initArgs, "--witness", w.Key+","+w.URL)
	}
	step(initArgs...)
	step("repo", "stage", "--workspace", "ws", "--registry", host, "--keys", "keys.json", "--new")
	sign("alice", "bob")
	publish()
	root := filepath.Join("ws", "published", "1.root.json")
	walked := filepath.Join(dir, "client-cache")
	keys := func(cache, want string) {
		t.Helper()
		code, out, errOut := runCLI(t, "keys", "--registry", host, "--repo", public, "--root", root, "--cache", cache, "--max-age", "0")
		if code != exitOK || !strings.Contains(out, want) {
			t.Fatalf("keys: exit %d, want %s\n%s%s", code, want, out, errOut)
		}
	}
	keys(walked, "SHA256:jl3b")

	// the registry rotates: the watcher stages it, two maintainers sign
	reg.serve(t, "npm/keys.json")
	if code, out, errOut := runCLI(t, "watch", "--registry", reg.URL, "--repo", public, "--root", root, "--cache", t.TempDir(), "--workspace", "ws", "--stage"); code != exitDiffers || !strings.Contains(out, "+ SHA256:DhQ8") {
		t.Fatalf("watch --stage: exit %d\n%s%s", code, out, errOut)
	}
	sign("bob", "carol")
	publish()
	keys(walked, "SHA256:DhQ8")

	// carol leaves: root v2 without her key, signed by the old and new thresholds
	step("repo", "rotate", "--workspace", "ws", "--remove-root-key", "carol")
	sign("alice", "bob")
	publish()
	keys(walked, "SHA256:DhQ8")
	keys(filepath.Join(dir, "fresh-cache"), "SHA256:DhQ8")
	if code, _, errOut := runCLI(t, "repo", "sign", "--workspace", "ws", "--key", "carol.key", "--yes"); code == exitOK {
		t.Errorf("carol signed after her removal:\n%s", errOut)
	}

	// the scheduled job, with the log and its witnesses
	env := append(os.Environ(), "TUFKEYS_BIN="+bin, "TUFKEYS_WORKSPACE=ws", "TUFKEYS_DEST="+to, "TUFKEYS_STORE_FLAGS="+strings.Join(store, " "),
		"TUFKEYS_ONLINE_KEY=online.key", "TUFKEYS_LOG_KEY=log.key", "TUFKEYS_REGISTRIES="+reg.URL, "TUFKEYS_REPO="+public,
		"TUFKEYS_ROOT="+root, "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "job-cache"))
	job := exec.Command("bash", filepath.Join(pkgDir, "..", "..", "scripts", "scheduled.sh"))
	job.Dir, job.Env = dir, env
	out, err := job.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "matches the published one") || !strings.Contains(string(out), "log "+origin) {
		t.Fatalf("the scheduled job: %v\n%s", err, out)
	}
	// the monitor reads every root and registry: nothing unexpected
	if code, out, errOut := runCLI(t, "watch", "--log", "--repo", public, "--root", root, "--cache", t.TempDir()); code != exitOK || !strings.Contains(out, "log "+origin) {
		t.Errorf("watch --log: exit %d\n%s%s", code, out, errOut)
	}
}
