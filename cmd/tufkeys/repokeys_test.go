//go:build !tufkeys_client

package main

import (
	"strings"
	"testing"
)

// repo keys lists every key by name with the roles it signs (bins folded)
// and the kind of reference it last signed through; a key removed from
// every role stays listed, with no roles.
func TestCLIRepoKeys(t *testing.T) {
	clearClientEnv(t)
	t.Chdir(t.TempDir())
	t.Setenv("TUFKEYS_PASSPHRASE", "repo keys test")
	for _, args := range [][]string{
		{"key", "generate", "--out", "alice"},
		{"key", "generate", "--out", "bob"},
		{"key", "generate", "--out", "carol"},
		{"key", "generate", "--out", "online"},
		{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-key", "carol.pub", "--root-threshold", "2", "--online-key", "online.pub", "--bins", "64"},
		{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"},
		{"repo", "sign", "--yes", "--workspace", "ws", "--key", "bob.key"},
		{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public"},
		{"repo", "rotate", "--workspace", "ws", "--remove-root-key", "carol", "--remove-targets-key", "carol"},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "repo", "keys", "--workspace", "ws")
	if code != exitOK {
		t.Fatalf("repo keys: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := [][]string{
		{"NAME", "KEYID", "ROLES", "REFERENCE"},
		{"alice", "root, targets, bins-00 … bins-3f (64 bins)", "file"},
		{"bob", "root, targets, bins-00 … bins-3f (64 bins)", "file"},
		{"carol", "none (removed from every role)", "not yet used"},
		{"online", "snapshot, timestamp", "file"},
	}
	if len(lines) != len(want) {
		t.Fatalf("repo keys printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		for _, part := range w {
			if !strings.Contains(lines[i], part) {
				t.Errorf("line %d lacks %q: %s", i+1, part, lines[i])
			}
		}
	}
	args := []string{"repo", "keys", "--workspace", "ws", "-o", "json"}
	code, out, _ = runCLI(t, args...)
	doc := parseJSON(t, args, out)
	keys := doc["keys"].([]any)
	alice := keys[0].(map[string]any)
	if code != exitOK || len(keys) != 4 || alice["name"] != "alice" || len(alice["roles"].([]any)) != 66 || alice["reference"] != "file" {
		t.Errorf("repo keys -o json: exit %d\n%s", code, out)
	}
	if carol := keys[2].(map[string]any); carol["reference"] != nil || len(carol["roles"].([]any)) != 0 {
		t.Errorf("carol: %v", carol)
	}
	if code, _, errOut := runCLI(t, "repo", "keys", "--workspace", "ws", "-o", "yaml"); code != exitUsage {
		t.Errorf("repo keys -o yaml: exit %d %s", code, errOut)
	}
}
