//go:build !tufkeys_client

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateTranscript = flag.Bool("update-transcript", false, "rewrite testdata/transcript-64-bins.txt from this run")

// step is one command of the transcript, and the most lines a person
// should have to read from it (0: no bound of its own).
type step struct {
	args     []string
	maxLines int
}

// TestTranscript64Bins runs the README's ceremony at the default 64 bins
// (init, stage, each maintainer signs, status, publish, the January 2025
// rotation, a maintainer removed, the scheduled timestamp) and the client
// commands against what it published, off a terminal (the forms made for
// programs, -o json and -o corepack, are left to the schema tests), and
// compares what a
// person reads with testdata/transcript-64-bins.txt. Whatever the golden
// file says, repo status fits in 15 lines, a first publish in 5, and no
// line is longer than 200 characters. The keys are test keys checked in
// under testdata/transcript (passphrase "transcript"), so keyids are the
// same on every run; times and the work directory are replaced by
// placeholders.
func TestTranscript64Bins(t *testing.T) {
	clearClientEnv(t)
	work := t.TempDir()
	for _, name := range []string{"alice", "bob", "carol", "online"} {
		for _, ext := range []string{".key", ".pub"} {
			data, err := os.ReadFile(filepath.Join("testdata", "transcript", name+ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(work, name+ext), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, fixture := range map[string]string{"keys-2024.json": "corepack-0.30.json", "keys-2025.json": "npm/keys.json"} {
		data, err := os.ReadFile(filepath.Join(pkgDir, fixtures, fixture))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(work, name), data, 0o644)
	}
	t.Chdir(work)
	t.Setenv("TUFKEYS_PASSPHRASE", "transcript")
	ws := []string{"--workspace", "ceremony"}
	client := []string{"--repo", "public", "--root", "public/1.root.json", "--cache", "cache"}
	cmd := func(args ...string) []string { return args }
	steps := []step{
		{args: cmd(append([]string{"repo", "init"}, append(ws, "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-key", "carol.pub", "--root-threshold", "2", "--online-key", "online.pub")...)...)},
		{args: append(cmd("repo", "stage", "--registry", "registry.example.test", "--keys", "keys-2024.json", "--new"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "alice.key"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "bob.key"), ws...)},
		{args: append(cmd("repo", "status"), ws...), maxLines: 15},
		{args: append(cmd("repo", "publish", "--online-key", "online.key", "--to", "public"), ws...), maxLines: 5},
		// January 2025: the registry adds its new key and re-dates the old one
		{args: append(cmd("repo", "stage", "--registry", "registry.example.test", "--keys", "keys-2025.json"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "alice.key"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "carol.key"), ws...)},
		{args: append(cmd("repo", "status"), ws...), maxLines: 15},
		{args: append(cmd("repo", "publish", "--online-key", "online.key", "--to", "public"), ws...), maxLines: 5},
		// a maintainer leaves
		{args: append(cmd("repo", "rotate", "--remove-root-key", "carol"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "alice.key"), ws...)},
		{args: append(cmd("repo", "sign", "--yes", "--key", "bob.key"), ws...)},
		{args: append(cmd("repo", "status"), ws...), maxLines: 15},
		{args: append(cmd("repo", "publish", "--online-key", "online.key", "--to", "public"), ws...), maxLines: 5},
		// the scheduled job
		{args: append(cmd("repo", "timestamp", "--online-key", "online.key", "--to", "public"), ws...), maxLines: 5},
		{args: append(cmd("repo", "status"), ws...), maxLines: 15},
		{args: append(cmd("repo", "keys"), ws...)},
		// the client side
		{args: append(cmd("keys", "--registry", "registry.example.test"), client...)},
		{args: append(cmd("refresh"), client...)},
		{args: append(cmd("cache", "info"), client...)},
		{args: append(cmd("history", "--registry", "registry.example.test"), client...)},
		{args: append(cmd("mirror", "--from", "public", "--to", "mirror"), client...), maxLines: 5},
		{args: append(cmd("export", "--from", "public", "--to", "keys.tar.gz"), client...), maxLines: 5},
		// inside the air gap, the clients' repository is an internal mirror
		{args: cmd("import", "keys.tar.gz", "--repo", "https://keys.example.test/tuf", "--root", "public/1.root.json", "--cache", "airgap-cache")},
		{args: cmd("keys", "--registry", "registry.example.test", "--repo", "https://keys.example.test/tuf", "--root", "public/1.root.json", "--cache", "airgap-cache", "--offline")},
	}
	var transcript strings.Builder
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.args...)
		if code != exitOK {
			t.Fatalf("tufkeys %s: exit %d\n%s%s", strings.Join(s.args, " "), code, out, errOut)
		}
		text := normalize(out+errOut, work)
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if s.maxLines > 0 && len(lines) > s.maxLines {
			t.Errorf("tufkeys %s printed %d lines, at most %d wanted:\n%s", strings.Join(s.args, " "), len(lines), s.maxLines, text)
		}
		for _, l := range lines {
			if len([]rune(l)) > 200 {
				t.Errorf("tufkeys %s printed a line of %d characters: %.120s…", strings.Join(s.args, " "), len([]rune(l)), l)
			}
		}
		fmt.Fprintf(&transcript, "$ tufkeys %s\n%s\n", strings.Join(s.args, " "), text)
	}
	golden := filepath.Join(pkgDir, "testdata", "transcript-64-bins.txt")
	if *updateTranscript {
		if err := os.WriteFile(golden, []byte(transcript.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v: run go test ./cmd/tufkeys -run TestTranscript64Bins -update-transcript", err)
	}
	if got := transcript.String(); got != string(want) {
		t.Errorf("the transcript differs from %s (rerun with -update-transcript and review the diff):\n%s", golden, firstDifference(string(want), got))
	}
}

var (
	// times the run makes (expiries, cache dates); the fixtures' own
	// times carry milliseconds and stay
	runTime  = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z|\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`)
	runHours = regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`)
)

// normalize replaces what changes from run to run with placeholders.
func normalize(s, work string) string {
	s = strings.ReplaceAll(s, work, "$WORK")
	s = runTime.ReplaceAllString(s, "<time>")
	// roles signed in one run but across a second boundary expire a
	// second apart, and their folded line gives the span
	s = strings.ReplaceAll(s, "expire from <time> to <time>", "expires <time>")
	return runHours.ReplaceAllString(s, "<elapsed>")
}

// firstDifference shows the first line where two transcripts differ.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "(same lines, different ends)"
}
