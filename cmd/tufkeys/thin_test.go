package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/keyref"
)

var thinBinary onceBinary

// thinClient builds the thin client once per test run.
func thinClient(t *testing.T) string {
	return thinBinary.get(t, func(out string) error { return goBuildThin(out) })
}

// The thin client links none of the maintainers' dependencies, stays
// under 15 MB, and answers the consumer commands as the full tool does.
func TestThinClient(t *testing.T) {
	clearClientEnv(t)
	cmd := exec.Command("go", "list", "-deps", "-tags", "tufkeys_client", "./cmd/tufkeys")
	cmd.Dir = filepath.Join(pkgDir, "..", "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/aws/", "github.com/ThalesGroup/", "github.com/miekg/pkcs11", "tufkeys/signer/", "tufkeys/store/s3", "tufkeys/internal/harness/", "tufkeys/cmd/tufkeys/internal/demo"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the thin client links %s", dep)
			}
		}
	}
	bin := thinClient(t)
	fi, _ := os.Stat(bin)
	if fi.Size() > 15<<20 {
		t.Errorf("the thin client is %d bytes, more than 15 MiB", fi.Size())
	}
	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache, "-o", "corepack"}, 0, `{"npm":[{`},
		{[]string{"verify", "--keys", filepath.Join(pkgDir, fixtures, "npm/keys.json"), "--manifest", filepath.Join(pkgDir, fixtures, "npm/pnpm@10.1.0.json")}, 0, "verified pnpm@10.1.0"},
		{[]string{"exec", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache, "--", "sh", "-c", `printf %s "$COREPACK_INTEGRITY_KEYS"`}, 0, `{"npm":[{`},
		{[]string{"help", "environment"}, 0, "TUFKEYS_REFRESH_INTERVAL"},
		{[]string{"repo", "status"}, exitUsage, `unknown command "repo"`},
	} {
		c := exec.Command(bin, tt.args...)
		c.Env = os.Environ()
		got, err := c.CombinedOutput()
		code := exitStatus(t, err)
		if code != tt.code || !strings.Contains(string(got), tt.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", tt.args, code, tt.code, tt.want, got)
		}
	}
}

// The table of variables names the key passphrase and PIN variables as
// the signer packages read them; the thin client, which links neither,
// spells them out.
func TestEnvironmentNamesSignerVariables(t *testing.T) {
	names := map[string]bool{}
	for _, v := range envVars {
		names[v.Name] = true
	}
	for _, want := range []string{keyfile.EnvPassphrase, keyref.EnvPKCS11PIN} {
		if !names[want] {
			t.Errorf("the table lacks %s", want)
		}
	}
}

// The thin client monitors the transparency log too (watch --log), and
// says that its watch does nothing else.
func TestThinClientWatchesTheLog(t *testing.T) {
	clearClientEnv(t)
	log := witnesstest.Get(t).NewLog(t, 2)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("registry.example.test", mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")), 2); err != nil {
		t.Fatal(err)
	}
	bin := thinClient(t)
	args := []string{"watch", "--log", "--repo", testutil.Serve(t, c.RepoDir), "--root", filepath.Join(c.WS.Dir, "published", "1.root.json"), "--cache", t.TempDir()}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "log "+log.Policy.Origin+": 2 entries") {
		t.Errorf("thin watch --log: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "watch", "--registry", "registry.example.test").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "watches the transparency log only") {
		t.Errorf("thin watch without --log: %v\n%s", err, out)
	}
}
