package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mirror shows one line per file on a terminal and stays quiet otherwise,
// so that scheduled jobs log a summary only.
func TestMirrorProgressOnlyOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("this test needs script(1) from util-linux to give the command a terminal")
	}
	clearClientEnv(t)
	bin := tufkeysBinary(t)
	_, repo, root := published(t, "npm/keys.json")
	args := func(dest string) []string {
		return []string{bin, "mirror", "--from", repo, "--to", dest, "--root", root, "--cache", t.TempDir()}
	}
	out, err := exec.Command(args(filepath.Join(t.TempDir(), "plain"))[0], args(filepath.Join(t.TempDir(), "plain"))[1:]...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "uploaded ") || !strings.Contains(string(out), "5 files copied") {
		t.Errorf("without a terminal: %v\n%s", err, out)
	}
	line := strings.Join(args(filepath.Join(t.TempDir(), "tty")), " ")
	out, err = exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
	if err != nil || strings.Count(string(out), "uploaded ") != 5 || !strings.Contains(string(out), "uploaded timestamp.json") {
		t.Errorf("on a terminal: %v\n%s", err, out)
	}
}
