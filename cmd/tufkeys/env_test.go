package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The reference's table of variables is the generated one, and every variable
// names flags that exist where it says.
func TestEnvironmentTableInStep(t *testing.T) {
	readme, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte(environmentTable())) {
		t.Errorf("docs/reference.md lacks the current table of variables; paste tufkeys help environment's table:\n%s", environmentTable())
	}
	root := newRootCommand(streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func() {})
	commands := map[string]bool{}
	for _, c := range allCommands(root) {
		commands[c.CommandPath()] = true
	}
	for _, v := range envVars {
		for path, flag := range v.On {
			c, _, err := root.Find(strings.Fields(path)[1:])
			if err != nil || c.CommandPath() != path || c.Flags().Lookup(flag) == nil {
				t.Errorf("%s names %s --%s, which does not exist", v.Name, path, flag)
			}
		}
		if v.Flag != "" {
			found := false
			for _, c := range allCommands(root) {
				found = found || c.Flags().Lookup(v.Flag) != nil
			}
			if !found {
				t.Errorf("%s fills --%s, which no command has", v.Name, v.Flag)
			}
		}
	}
	// switches that change state or turn a check off read no variable
	for _, c := range allCommands(root) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			switch f.Name {
			case "stage", "move-origin", "accept-unknown-publish-time", "skip-verification", "dry-run", "check", "verify-all", "yes":
				if v, ok := envFor(c, f); ok {
					t.Errorf("%s --%s reads %s", c.CommandPath(), f.Name, v.Name)
				}
			}
			if f.Hidden || f.Deprecated != "" {
				if v, ok := envFor(c, f); ok {
					t.Errorf("hidden %s --%s reads %s", c.CommandPath(), f.Name, v.Name)
				}
			}
		})
	}
	code, out, _ := runCLI(t, "help", "environment")
	if code != exitOK || !strings.Contains(out, environmentTable()) {
		t.Errorf("tufkeys help environment: exit %d\n%s", code, out)
	}
}

// Variables set for one command do not change another's meaning: the cases
// that did before the list was declared.
func TestVariablesKeepOneMeaning(t *testing.T) {
	clearClientEnv(t)
	// set for publishing, it once broke bundle convert through a hidden flag
	t.Setenv("TUFKEYS_TO", "s3://bucket/prefix")
	t.Setenv("TUFKEYS_PUBLISH_TO", "s3://bucket/prefix")
	code, out, errOut := runCLI(t, "bundle", "convert", fixtures+"npm/keys.json", "-o", "corepack")
	if code != exitOK || !strings.HasPrefix(out, `{"npm":[`) {
		t.Errorf("bundle convert with publish variables set: exit %d\n%s%s", code, out, errOut)
	}
	// a switch that changes state is never read from the environment
	t.Setenv("TUFKEYS_STAGE", "1")
	c, _, _ := newRootCommand(streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func() {}).Find([]string{"watch"})
	if err := flagsFromEnv(c); err != nil {
		t.Fatal(err)
	}
	if c.Flags().Lookup("stage").Changed {
		t.Error("TUFKEYS_STAGE=1 turned on watch --stage")
	}
	// a sensitive value is not printed when it is wrong
	t.Setenv("TUFKEYS_PATH_STYLE", "maybe-s3cr3t")
	code, _, errOut = runCLI(t, "repo", "timestamp", "--workspace", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "TUFKEYS_PATH_STYLE") {
		t.Errorf("bad TUFKEYS_PATH_STYLE: exit %d, %s", code, errOut)
	}
}
