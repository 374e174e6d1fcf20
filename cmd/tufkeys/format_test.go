package main

import (
	"bytes"
	"strings"
	"testing"
)

// Every command that has --format refuses a value it does not print, with
// exit 2 and the accepted values; text and table name the same output.
func TestFormatIsCheckedEverywhere(t *testing.T) {
	clearClientEnv(t)
	root := newRootCommand(streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func() {})
	checked := 0
	for _, c := range allCommands(root) {
		f := c.Flags().Lookup("format")
		if f == nil || !c.Runnable() {
			continue
		}
		checked++
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "tufkeys")), "--format", "yaml")
		if c.Args != nil && c.Args(c, nil) != nil {
			args = append(args, "ARG") // a command that takes an argument gets one
		}
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errOut, `--format "yaml" is not one of`) || out != "" {
			t.Errorf("%s -o yaml: exit %d\nstdout: %s\nstderr: %s", c.CommandPath(), code, out, errOut)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d commands have --format", checked)
	}
	if code, out, _ := runCLI(t, "version", "-o", "table"); code != exitOK || !strings.HasPrefix(out, "tufkeys ") {
		t.Errorf("version -o table: exit %d\n%s", code, out)
	}
	_, repo, root2 := published(t, "npm/keys.json")
	if code, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", root2, "--cache", t.TempDir(), "-o", "text"); code != exitOK || !strings.HasPrefix(out, "KEYID") {
		t.Errorf("keys -o text: exit %d\n%s%s", code, out, errOut)
	}
}
