package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each command's help offers the flags it uses and says what it does
// today, nothing more.
func TestHelpSaysWhatTheCommandDoes(t *testing.T) {
	tests := []struct {
		args        []string
		want, never []string
	}{
		// clearing a cache has no use for how fresh an answer must be
		{args: []string{"cache", "clear", "--help"}, want: []string{"--cache", "--repo", "--root"}, never: []string{"--offline", "--max-age", "--accept-expired", "--refresh-interval"}},
		{args: []string{"cache", "info", "--help"}, want: []string{"--offline", "--max-age"}},
		// serve's cache lives are the ones it sends
		{args: []string{"serve", "--help"}, want: []string{`"public, max-age=60" for timestamp.json and the status page`, `"public, max-age=31536000, immutable"`}, never: []string{"no-store"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != exitOK {
			t.Errorf("%v: exit %d, %s", tt.args, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v lacks %q:\n%s", tt.args, w, out)
			}
		}
		for _, n := range tt.never {
			if strings.Contains(out, n) {
				t.Errorf("%v offers %q:\n%s", tt.args, n, out)
			}
		}
	}
	// cache clear refuses a freshness flag as unknown, a usage error
	if code, _, errOut := runCLI(t, "cache", "clear", "--offline"); code != exitUsage || !strings.Contains(errOut, "--offline") {
		t.Errorf("cache clear --offline: exit %d, %s", code, errOut)
	}
}

// version names the sources built in as a person writes a list.
func TestVersionTextNamesRepositories(t *testing.T) {
	expires := jsonTime(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	v := versionInfo{Version: "v1.4.0", GoVersion: "go1.26.8", Sources: []sourceTag{
		{Name: "deployment", Root: &rootTag{Version: 3, Expires: expires}, Repos: []string{"https://keys.example.test/", "https://mirror.example.test/keys/"}},
		{Name: "sigstore", Root: &rootTag{Version: 16, Expires: expires}, Repos: []string{"https://tuf.example.test/"}},
	}}
	want := "tufkeys v1.4.0, go1.26.8\nsources built in: deployment (root v3, expires 2027-03-01T12:00:00Z; https://keys.example.test/, https://mirror.example.test/keys/); sigstore (root v16, expires 2027-03-01T12:00:00Z; https://tuf.example.test/)\n"
	if got := v.text(); got != want {
		t.Errorf("version text:\n%s\nwant:\n%s", got, want)
	}
	v.Sources = nil
	if got := v.text(); !strings.HasSuffix(got, "sources built in: none (clients need --root and --repo)\n") {
		t.Errorf("no sources: %q", got)
	}
}

// export names its archive with --to, as every command names where it
// writes; --out, its old name, still works with a warning, and both
// together are a usage error.
func TestExportWritesTo(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	dir := t.TempDir()
	archive := filepath.Join(dir, "old.tar.gz")
	code, _, errOut := runCLI(t, "export", "--repo", repo, "--out", archive, "--root", root, "--cache", filepath.Join(dir, "c1"))
	if _, err := os.Stat(archive); code != exitOK || err != nil || !strings.Contains(errOut, "--out is the old name of --to") {
		t.Errorf("export --out: exit %d, %v, %q", code, err, errOut)
	}
	code, _, errOut = runCLI(t, "export", "--repo", repo, "--out", archive, "--to", archive, "--root", root, "--cache", filepath.Join(dir, "c2"))
	if code != exitUsage || !strings.Contains(errOut, "give --to only") {
		t.Errorf("export --out and --to: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "export", "--repo", repo, "--root", root, "--cache", filepath.Join(dir, "c3"))
	if code != exitUsage || !strings.Contains(errOut, "--to is required") {
		t.Errorf("export without --to: exit %d, %q", code, errOut)
	}
	if _, help, _ := runCLI(t, "export", "--help"); strings.Contains(help, "--out") || !strings.Contains(help, "--to string") {
		t.Errorf("export --help:\n%s", help)
	}
}
