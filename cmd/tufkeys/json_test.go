package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseJSON decodes one command's JSON document into a map, failing the
// test when the output is not exactly one JSON object or does not match
// the command's schema in docs/schemas.
func parseJSON(t *testing.T, args []string, out string) map[string]any {
	t.Helper()
	checkJSON(t, args, out)
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil || dec.More() {
		t.Fatalf("%v: not one JSON object (%v):\n%s", args, err, out)
	}
	return doc
}

// Every command that reports something prints one JSON document with
// --format json (or -o json); scripts read these fields.
func TestJSONOutput(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	flags := []string{"--repo", repo, "--root", root, "--cache", cache}
	reg := fakeRegistry(t, "pnpm@10.1.0", "2025-01-22T10:00:00.000Z")
	live := newLiveRegistry(t)
	live.serve(t, "npm/keys.json")
	archive := filepath.Join(dir, "keys.tar.gz")
	tests := []struct {
		args []string
		code int
		want map[string]any // top-level fields and their values
		has  []string       // top-level fields that must be present
	}{
		{args: []string{"verify", "pnpm@10.1.0", "--registry", reg, "--keys-host", "registry.example.test"},
			want: map[string]any{"package": "pnpm@10.1.0", "verified": true, "keys_host": "registry.example.test", "refreshed": false},
			has:  []string{"signed_by", "ignored_expired", "ignored_unknown"}},
		{args: []string{"verify", "--keys", filepath.Join(pkgDir, fixtures, "npm/keys.json"), "--manifest", filepath.Join(pkgDir, fixtures, "npm/pnpm@10.1.0.json")},
			want: map[string]any{"package": "pnpm@10.1.0", "verified": true, "expiry_unchecked": false}},
		{args: []string{"refresh"}, want: map[string]any{"repository": repo}, has: []string{"dropped"}},
		{args: []string{"cache", "info"}, want: map[string]any{"dir": cache, "in_memory": false, "verified": true, "fresh": true, "repository": repo}, has: []string{"roles", "key_lists", "checked_at"}},
		{args: []string{"keys", "--registry", "registry.example.test"}, want: map[string]any{"registry": "registry.example.test"}, has: []string{"keys"}},
		{args: []string{"watch", "--registry", live.URL}, code: exitDiffers, want: map[string]any{"same": false, "registry_keys": 2.0}, has: []string{"added", "redated", "suspicious"}},
		{args: []string{"mirror", "--from", repo, "--to", filepath.Join(dir, "mirror")}, want: map[string]any{"source": repo, "root": 1.0, "targets": 1.0, "files": 5.0}, has: []string{"copied", "key_lists"}},
		{args: []string{"export", "--from", repo, "--to", archive}, want: map[string]any{"source": repo, "destination": archive, "files": 5.0}},
		{args: []string{"import", archive}, want: map[string]any{"source": archive, "destination": cache, "next": "tufkeys keys --registry registry.example.test --offline --repo " + repo + " --root " + root + " --cache " + cache}},
	}
	for _, tt := range tests {
		for _, spelling := range []string{"--format", "-o"} {
			if tt.args[0] == "export" {
				os.Remove(archive) // export never overwrites
			}
			args := append(append(append([]string{}, tt.args...), spelling, "json"), flags...)
			code, out, errOut := runCLI(t, args...)
			if code != tt.code {
				t.Errorf("%v: exit %d, want %d\n%s%s", tt.args[:2], code, tt.code, out, errOut)
				continue
			}
			doc := parseJSON(t, tt.args, out)
			for k, v := range tt.want {
				if doc[k] != v {
					t.Errorf("%v %s json: %s = %#v, want %#v", tt.args[:2], spelling, k, doc[k], v)
				}
			}
			for _, k := range tt.has {
				if _, ok := doc[k]; !ok {
					t.Errorf("%v: no %q field:\n%s", tt.args[:2], k, out)
				}
			}
		}
	}
}

// export --out - writes the archive to standard output and the summary to
// standard error.
func TestExportToStandardOutput(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	code, out, errOut := runCLI(t, "export", "--from", repo, "--to", "-", "--root", root, "--cache", t.TempDir())
	if code != exitOK || !strings.HasPrefix(out, "\x1f\x8b") || !strings.Contains(errOut, "to standard output (5 files)") {
		t.Fatalf("exit %d, %d bytes out, stderr %q", code, len(out), errOut)
	}
	file := filepath.Join(t.TempDir(), "keys.tar.gz")
	os.WriteFile(file, []byte(out), 0o644)
	if code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", file, "--root", root, "--cache", t.TempDir()); code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
		t.Errorf("the archive from standard output does not serve: exit %d\n%s%s", code, out, errOut)
	}
}
