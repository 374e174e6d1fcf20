//go:build !tufkeys_client

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/translog"
)

// The ceremony with a transparency log, as the README gives it: the root
// names the log and three witnesses with a quorum of two, publish logs
// and has them cosign, a client verifies the log, and a copy of the
// repository without its log is refused.
func TestCLICeremonyWithLog(t *testing.T) {
	set := witnesstest.Get(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TUFKEYS_PASSPHRASE", "correct horse battery staple")
	for _, k := range [][]string{{"alice"}, {"bob"}, {"online"}, {"log", "--type", "ed25519"}} {
		if code, out, errOut := runCLI(t, append([]string{"key", "generate", "--out"}, k...)...); code != exitOK {
			t.Fatalf("generate %s: exit %d\n%s%s", k[0], code, out, errOut)
		}
	}
	origin := "log.example.test/cli-" + filepath.Base(dir)
	set.FollowKeyFile(t, origin, "log.pub")
	keys, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("keys.json", keys, 0o644)
	initArgs := []string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-threshold", "2", "--online-key", "online.pub",
		"--log-key", "log.pub", "--log-origin", origin, "--witness-quorum", "2"}
	for _, w := range set.Witnesses {
		initArgs = append(initArgs, "--witness", w.Key+","+w.URL)
	}
	// a quorum above the witnesses is a usage error
	bad := append(append([]string{}, initArgs[:len(initArgs)-2*len(set.Witnesses)-1]...), "4")
	bad = append(bad, initArgs[len(initArgs)-2*len(set.Witnesses):]...)
	if code, _, errOut := runCLI(t, bad...); code != exitUsage || !strings.Contains(errOut, "a quorum of 4 with 3 witnesses") {
		t.Errorf("quorum 4 of 3: exit %d\n%s", code, errOut)
	}
	steps := []struct {
		args []string
		want string
	}{
		{initArgs, "staged root v1"},
		{[]string{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", "keys.json", "--new"}, "staged registry.example.test/keys.json"},
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"}, "signed root v1"},
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "bob.key"}, "ready to publish"},
		{[]string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", "public"},
			"logged 2 entries in " + origin + " (size 2), cosigned by witness1.example.test, witness2.example.test, witness3.example.test"},
		{[]string{"repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", "public"}, "re-signed snapshot v2"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.args...)
		if code != exitOK || !strings.Contains(out, s.want) {
			t.Fatalf("%v: exit %d, want %q\n%s%s", s.args[:2], code, s.want, out, errOut)
		}
	}
	// without the log key, the publish stops before anything goes live
	if code, _, errOut := runCLI(t, "repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--to", "public"); code == exitOK || !strings.Contains(errOut, "transparency log "+origin+": publishing needs the transparency log's key") {
		t.Errorf("timestamp without --log-key: exit %d\n%s", code, errOut)
	}
	url := testutil.Serve(t, "public")
	root := filepath.Join("ws", "published", "1.root.json")
	if code, out, errOut := runCLI(t, "keys", "--repo", url, "--root", root, "--cache", "cache", "--registry", "registry.example.test"); code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
		t.Fatalf("keys through the logged repository: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.RemoveAll(filepath.Join("public", "log")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "keys", "--repo", url, "--root", root, "--cache", "cache2", "--registry", "registry.example.test")
	if code != exitFail || !strings.Contains(errOut, "names the transparency log "+origin) || strings.Contains(out, "SHA256") {
		t.Errorf("keys without the log: exit %d\n%s%s", code, out, errOut)
	}
}

// watch --log: the monitor shows the registry's entries and exits 3 when a
// maintainer group with every key logs a list with a key the registry
// does not serve (the attacker logged it to get past the clients).
func TestWatchLogFlagsAnUnexpectedKey(t *testing.T) {
	log := witnesstest.Get(t).NewLog(t, 2)
	live := newLiveRegistry(t)
	live.serve(t, "npm/keys.json")
	host, err := bundle.RegistryHost(live.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")), 2); err != nil {
		t.Fatal(err)
	}
	repo := testutil.Serve(t, c.RepoDir)
	root := filepath.Join(c.WS.Dir, "published", "1.root.json")
	cache := t.TempDir()
	args := []string{"watch", "--log", "--registry", live.URL, "--repo", repo, "--root", root, "--cache", cache, "-o", "json"}
	code, out, errOut := runCLI(t, args...)
	rep := parseJSON(t, args, out)
	if code != exitOK || rep["size"] != 2.0 || len(rep["entries"].([]any)) != 1 || len(rep["problems"].([]any)) != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	// the attacker's list, logged
	extraList, extraKeyID := testutil.WithExtraKey(t, mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")))
	if err := c.StagePublish(host, extraList, 2); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, args[:len(args)-2]...)
	if code != exitDiffers || !strings.Contains(out, "UNEXPECTED: entry 2 gives "+host+" the key "+extraKeyID) || !strings.Contains(out, "which the registry does not serve at its own endpoint") {
		t.Fatalf("after the attacker's list: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "log "+log.Policy.Origin+": 3 entries (1 new), cosigned by witness1.example.test, witness2.example.test, witness3.example.test at ") {
		t.Errorf("the summary line:\n%s", out)
	}
	// the state moved on: the next run has nothing new, and still flags
	// nothing new
	code, out, _ = runCLI(t, args...)
	if rep := parseJSON(t, args, out); code != exitOK || rep["previous_size"] != 3.0 || len(rep["entries"].([]any)) != 0 {
		t.Errorf("third run: exit %d\n%s", code, out)
	}
	// the repository publishes a list the log it serves omits
	saved := t.TempDir()
	if err := os.CopyFS(saved, os.DirFS(filepath.Join(c.RepoDir, "log"))); err != nil {
		t.Fatal(err)
	}
	again, _ := testutil.WithExtraKey(t, extraList)
	if err := c.StagePublish(host, again, 2); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.CopyFS(full, os.DirFS(filepath.Join(c.RepoDir, "log"))); err != nil {
		t.Fatal(err)
	}
	putLog := func(from string) {
		if err := os.RemoveAll(filepath.Join(c.RepoDir, "log")); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(c.RepoDir, "log"), os.DirFS(from)); err != nil {
			t.Fatal(err)
		}
	}
	putLog(saved)
	code, out, errOut = runCLI(t, args...)
	rep = parseJSON(t, args, out)
	if problems := rep["problems"].([]any); code != exitDiffers || len(problems) != 1 || !strings.Contains(problems[0].(string), "publishes a key list for "+host+" that is not in the log") {
		t.Errorf("a published list the log omits: exit %d\n%s%s", code, out, errOut)
	}

	// an entry the log holds that the repository never published
	putLog(full)
	// the run reads the entry that was missing (the keys it flags are the
	// attacker's again) and moves the state on
	if code, out, errOut := runCLI(t, args...); code != exitDiffers || !strings.Contains(out, "which the registry does not serve") {
		t.Fatalf("the log put back: exit %d\n%s%s", code, out, errOut)
	}
	signer, err := logappend.NoteSigner(log.Key, log.Policy)
	if err != nil {
		t.Fatal(err)
	}
	stray := translog.KeyListEntry(host, "bins-0", 9, []byte("never published"), []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}, time.Now())
	if _, err := logappend.Append(context.Background(), c.Store, []translog.Entry{stray}, logappend.Options{Policy: log.Policy, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, args...)
	rep = parseJSON(t, args, out)
	if !strings.Contains(out, "matches no version of the key list the repository published") || code != exitDiffers {
		t.Errorf("an entry with no TUF version: exit %d\n%s%s", code, out, errOut)
	}
}

// watch --log with no --registry checks every registry the log names and
// every root: a root the repository serves that the log lacks, a logged
// root the repository does not serve, and an entry for a registry other
// than the one a --registry run would watch are each flagged.
func TestWatchLogChecksRootsAndEveryRegistry(t *testing.T) {
	log := witnesstest.Get(t).NewLog(t, 2)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	if err != nil {
		t.Fatal(err)
	}
	keys := mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	for _, h := range []string{"a.example.test", "b.example.test"} {
		if err := c.StagePublish(h, keys, 2); err != nil {
			t.Fatal(err)
		}
	}
	repo := testutil.Serve(t, c.RepoDir)
	root := filepath.Join(c.WS.Dir, "published", "1.root.json")
	cache := t.TempDir()
	args := []string{"watch", "--log", "--repo", repo, "--root", root, "--cache", cache, "--max-age", "0", "-o", "json"}
	code, out, errOut := runCLI(t, args...)
	rep := parseJSON(t, args, out)
	if code != exitOK || len(rep["entries"].([]any)) != 3 || len(rep["problems"].([]any)) != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}

	// a stray entry for b, whatever registry one would name
	signer, err := logappend.NoteSigner(log.Key, log.Policy)
	if err != nil {
		t.Fatal(err)
	}
	stray := translog.KeyListEntry("b.example.test", "bins-1", 9, []byte("never published"), nil, time.Now())
	if _, err := logappend.Append(context.Background(), c.Store, []translog.Entry{stray}, logappend.Options{Policy: log.Policy, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, args...)
	if code != exitDiffers || !strings.Contains(out, "for b.example.test") || !strings.Contains(out, "matches no version of the key list the repository published") {
		t.Fatalf("a stray entry for b: exit %d\n%s", code, out)
	}

	// the maintainers rotate the root to drop the log and show root v2 to
	// one client: the log holds it (they published it there), the
	// repository everyone reads does not serve it
	if _, err := c.WS.Rotate(workspace.RotateOptions{RemoveLog: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	root2, err := os.ReadFile(filepath.Join(c.RepoDir, "2.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(c.RepoDir, "2.root.json"))
	code, out, _ = runCLI(t, args...)
	if code != exitDiffers || !strings.Contains(out, "logs root v2") || !strings.Contains(out, "serves no root v2") {
		t.Fatalf("a logged root the repository does not serve: exit %d\n%s", code, out)
	}

	// the repository serves a root the log does not hold: the monitor's
	// own client refuses it, and that is the finding
	os.WriteFile(filepath.Join(c.RepoDir, "2.root.json"), root2, 0o644)
	os.Remove(filepath.Join(c.RepoDir, "log", "index", "_root", "root", "2"))
	if err := os.RemoveAll(filepath.Join(c.RepoDir, "log", "index", "_root", "root", "2")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, append(args[:len(args)-4:len(args)-4], "--cache", t.TempDir(), "-o", "json")...)
	if code != exitDiffers || !strings.Contains(out, "root v2") || !strings.Contains(out, "not proven in the transparency log") {
		t.Fatalf("a served root the log lacks: exit %d\n%s", code, out)
	}
}

// The log's policy changes by root rotations, each published with the keys
// it needs: a new log key (the old and the new key at the publish that
// switches), fewer witnesses with a lower quorum, then no log at all. A
// client that walked through every root and one that starts from root v1
// at the end both verify; without the old key the switch is refused.
func TestCLILogPolicyChanges(t *testing.T) {
	set := witnesstest.Get(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TUFKEYS_PASSPHRASE", "correct horse battery staple")
	for _, k := range [][]string{{"alice"}, {"bob"}, {"online"}, {"log", "--type", "ed25519"}, {"log2", "--type", "ed25519"}} {
		if code, out, errOut := runCLI(t, append([]string{"key", "generate", "--out"}, k...)...); code != exitOK {
			t.Fatalf("generate %s: exit %d\n%s%s", k[0], code, out, errOut)
		}
	}
	origin, origin2 := "log.example.test/one-"+filepath.Base(dir), "log.example.test/two-"+filepath.Base(dir)
	set.FollowKeyFile(t, origin, "log.pub")
	set.FollowKeyFile(t, origin2, "log2.pub")
	os.WriteFile("keys.json", mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")), 0o644)
	witnesses := func(n int) []string {
		var out []string
		for _, w := range set.Witnesses[:n] {
			out = append(out, "--witness", w.Key+","+w.URL)
		}
		return out
	}
	sign := [][]string{{"repo", "sign", "--workspace", "ws", "--key", "alice.key", "--yes"}, {"repo", "sign", "--workspace", "ws", "--key", "bob.key", "--yes"}}
	step := func(args ...string) {
		t.Helper()
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	os.Mkdir("public", 0o755)
	url := testutil.Serve(t, "public")
	root := filepath.Join("ws", "published", "1.root.json")
	walked := filepath.Join(dir, "walked")
	check := func(what string) {
		t.Helper()
		code, out, errOut := runCLI(t, "keys", "--repo", url, "--root", root, "--cache", walked, "--max-age", "0", "--registry", "registry.example.test")
		if code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
			t.Fatalf("%s: keys: exit %d\n%s%s", what, code, out, errOut)
		}
	}
	step(append([]string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-threshold", "2", "--online-key", "online.pub",
		"--log-key", "log.pub", "--log-origin", origin, "--witness-quorum", "2"}, witnesses(3)...)...)
	step("repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", "keys.json", "--new")
	for _, s := range sign {
		step(s...)
	}
	publishWith := func(keys ...string) (int, string) {
		args := []string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public"}
		for _, k := range keys {
			args = append(args, "--log-key", k)
		}
		code, out, errOut := runCLI(t, args...)
		return code, out + errOut
	}
	if code, out := publishWith("log.key"); code != exitOK {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	check("root v1")

	// repo keys gives a witness operator what it needs, and the witnesses
	// as --witness takes them
	code, out, errOut := runCLI(t, "repo", "keys", "--workspace", "ws")
	if code != exitOK || !strings.Contains(out, "origin:       "+origin) || !strings.Contains(out, "verifier key: "+origin+"+") || !strings.Contains(out, "--witness '"+set.Witnesses[0].Key+","+set.Witnesses[0].URL+"'") {
		t.Errorf("repo keys: exit %d\n%s%s", code, out, errOut)
	}
	// a new log key and origin; the witnesses and quorum stay as they are
	step("repo", "rotate", "--workspace", "ws", "--log-key", "log2.pub", "--log-origin", origin2)
	for _, s := range sign {
		step(s...)
	}
	if code, out := publishWith("log2.key"); code == exitOK || !strings.Contains(out, "gives both the old and the new key") {
		t.Fatalf("the switch without the old key: exit %d\n%s", code, out)
	}
	if code, out := publishWith("log.key", "log2.key"); code != exitOK {
		t.Fatalf("the switch with both keys: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join("public", "log", "roots", "2")); err != nil {
		t.Errorf("no checkpoint kept for root v2 under the old key: %v", err)
	}
	check("log key rotated")

	// two witnesses, quorum 1
	step(append([]string{"repo", "rotate", "--workspace", "ws", "--log-key", "log2.pub", "--log-origin", origin2, "--witness-quorum", "1"}, witnesses(2)...)...)
	for _, s := range sign {
		step(s...)
	}
	if code, out := publishWith("log2.key"); code != exitOK {
		t.Fatalf("the witness change: exit %d\n%s", code, out)
	}
	check("witnesses changed")

	// no log: the removal itself is logged under the last policy
	step("repo", "rotate", "--workspace", "ws", "--remove-log")
	for _, s := range sign {
		step(s...)
	}
	if code, out := publishWith("log2.key"); code != exitOK {
		t.Fatalf("the removal: exit %d\n%s", code, out)
	}
	check("log removed")
	code, out, errOut = runCLI(t, "keys", "--repo", url, "--root", root, "--cache", filepath.Join(dir, "fresh"), "--registry", "registry.example.test")
	if code != exitOK || !strings.Contains(out, "SHA256:DhQ8") || !strings.Contains(errOut, "no longer names a transparency log") {
		t.Fatalf("a client from root v1 after every change: exit %d\n%s%s", code, out, errOut)
	}
}

// The online key and the log key have passphrases of their own, each in
// its own variable: a publish opens both unattended.
func TestCLIPassphrasePerKey(t *testing.T) {
	set := witnesstest.Get(t)
	dir := t.TempDir()
	t.Chdir(dir)
	for _, k := range []struct{ name, pass string }{{"alice", "alice's"}, {"online", "online's"}, {"log", "log's"}} {
		t.Setenv("TUFKEYS_PASSPHRASE", k.pass)
		args := []string{"key", "generate", "--out", k.name}
		if k.name == "log" {
			args = append(args, "--type", "ed25519")
		}
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("generate %s: exit %d\n%s%s", k.name, code, out, errOut)
		}
	}
	origin := "log.example.test/pass-" + filepath.Base(dir)
	set.FollowKeyFile(t, origin, "log.pub")
	os.WriteFile("keys.json", mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")), 0o644)
	t.Setenv("TUFKEYS_PASSPHRASE", "alice's")
	steps := [][]string{
		{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub",
			"--log-key", "log.pub", "--log-origin", origin, "--witness-quorum", "1", "--witness", set.Witnesses[0].Key + "," + set.Witnesses[0].URL},
		{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", "keys.json", "--new"},
		{"repo", "sign", "--workspace", "ws", "--key", "alice.key", "--yes"},
	}
	for _, s := range steps {
		if code, out, errOut := runCLI(t, s...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", s[:2], code, out, errOut)
		}
	}
	os.Unsetenv("TUFKEYS_PASSPHRASE")
	t.Setenv("TUFKEYS_ONLINE_PASSPHRASE", "online's")
	t.Setenv("TUFKEYS_LOG_PASSPHRASE", "log's")
	if code, out, errOut := runCLI(t, "repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", "public"); code != exitOK {
		t.Fatalf("publish with a passphrase per key: exit %d\n%s%s", code, out, errOut)
	}
	// the log key's variable opens the log key only
	t.Setenv("TUFKEYS_LOG_PASSPHRASE", "online's")
	if code, _, errOut := runCLI(t, "repo", "timestamp", "--workspace", "ws", "--online-key", "online.key", "--log-key", "log.key", "--to", "public"); code != exitFail || !strings.Contains(errOut, "does not open log.key") {
		t.Errorf("the wrong log passphrase: exit %d\n%s", code, errOut)
	}
}
