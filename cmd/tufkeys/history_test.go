package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// history on the demo-like repository, from a URL, a directory and an
// archive; text and JSON; a tampered list fails the command.
func TestCLIHistory(t *testing.T) {
	clearClientEnv(t)
	c, repo, root := published(t, "corepack-0.30.json")
	keys, _ := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	if err := c.StagePublish("registry.example.test", keys, 2); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "keys.tar.gz")
	if code, _, errOut := runCLI(t, "export", "--from", repo, "--to", archive, "--root", root, "--cache", t.TempDir()); code != exitOK {
		t.Fatal(errOut)
	}
	for _, source := range []string{repo, c.RepoDir} {
		code, out, errOut := runCLI(t, "history", "--registry", "registry.example.test", "--repo", source, "--root", root, "--cache", t.TempDir())
		if code != exitOK || !strings.Contains(out, "registry.example.test: 2 versions of the key list") || !strings.Contains(out, "+ SHA256:DhQ8") || !strings.Contains(out, "under root v1,") {
			t.Errorf("history from %s: exit %d\n%s%s", source, code, out, errOut)
		}
	}
	var args []string
	// an archive (export) carries the history too
	code, out, errOut := runCLI(t, "history", "--registry", "registry.example.test", "--repo", archive, "--root", root, "--cache", t.TempDir())
	if code != exitOK || !strings.Contains(out, "registry.example.test: 2 versions of the key list") || strings.Contains(out, "GAP") {
		t.Errorf("history from an archive: exit %d\n%s%s", code, out, errOut)
	}
	// a copy that lacks a version shows the gap
	gappy := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(gappy, os.DirFS(c.RepoDir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(gappy, "1.targets.json"))
	code, out, errOut = runCLI(t, "history", "--registry", "registry.example.test", "--repo", gappy, "--root", root, "--cache", t.TempDir())
	if code != exitOK || !strings.Contains(out, "targets v1: GAP: 1.targets.json is not in this repository") || !strings.Contains(out, "targets v2, expires") {
		t.Errorf("history with a gap: exit %d\n%s%s", code, out, errOut)
	}
	args = []string{"history", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", t.TempDir(), "-o", "json"}
	code, out, _ = runCLI(t, args...)
	doc := parseJSON(t, args, out)
	if versions := doc["versions"].([]any); code != exitOK || len(versions) != 2 || len(versions[1].(map[string]any)["added"].([]any)) != 1 {
		t.Errorf("history -o json: exit %d\n%s", code, out)
	}
	// the text names the keys that signed, by the start of their keyids
	signedBy := doc["versions"].([]any)[1].(map[string]any)["signed_by"].([]any)
	code, out, _ = runCLI(t, "history", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", t.TempDir())
	want := fmt.Sprintf("signed by 2 keys (%s, %s) under root v1,", signedBy[0].(string)[:8], signedBy[1].(string)[:8])
	if code != exitOK || !strings.Contains(out, want) {
		t.Errorf("history does not name its signers as %q:\n%s", want, out)
	}
	lists, _ := filepath.Glob(filepath.Join(c.RepoDir, "targets", "registry.example.test", "*.keys.json"))
	for _, l := range lists {
		if data, _ := os.ReadFile(l); !strings.Contains(string(data), "DhQ8") {
			os.WriteFile(l, []byte(`{"keys":[]}`), 0o644)
		}
	}
	code, out, errOut = runCLI(t, "history", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", t.TempDir())
	if code != exitFail || !strings.Contains(out, "NOT VERIFIED: its key list does not match") || !strings.Contains(errOut, "1 version of the history did not verify") {
		t.Errorf("a tampered list: exit %d\n%s%s", code, out, errOut)
	}
}

// Typos are refused with what was meant: a misspelt registry in history
// (the nearest names), a misspelt command (the nearest commands, not an
// unknown flag), and -v, which is --verbose below and nothing on top.
func TestTyposAreUsageErrors(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	code, out, errOut := runCLI(t, "history", "--registry", "registry.exampel.test", "--repo", repo, "--root", root, "--cache", t.TempDir())
	if code != exitFail || !strings.Contains(errOut, "no key list for registry.exampel.test") || !strings.Contains(errOut, "registry.example.test") || strings.Contains(out, "0 versions") {
		t.Errorf("history of a misspelt registry: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "kyes", "--registry", "registry.example.test")
	if code != exitUsage || !strings.Contains(errOut, `unknown command "kyes"`) || !strings.Contains(errOut, "keys") || strings.Contains(errOut, "unknown flag") {
		t.Errorf("a misspelt command: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "-v"); code != exitUsage || strings.HasPrefix(out, "tufkeys ") {
		t.Errorf("-v on top: exit %d\n%s%s", code, out, errOut)
	}
}
