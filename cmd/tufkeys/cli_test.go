package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
)

const fixtures = "../../bundle/testdata/"

// opensKeys reports a command that makes or opens an encrypted key file.
// Its scrypt runs twenty times slower under the race detector than
// natively, which made the ceremony tests the slowest of the suite; run as
// the built binary, with this process's environment and directory, they
// test the same command a user runs. Their concurrency is the libraries',
// whose own tests run under -race.
func opensKeys(args []string) bool {
	if len(args) < 2 {
		return false
	}
	switch args[0] + " " + args[1] {
	case "key generate", "key public", "repo sign", "repo publish":
		return true
	}
	return false
}

// runBuilt runs the built tufkeys as runCLI runs the command in process:
// no standard input, this process's environment and working directory.
func runBuilt(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runProgram(t, exec.Command(tufkeysBinary(t), args...))
}

// runProgram runs cmd, with no standard input unless cmd has one, and
// returns its exit status and what it wrote.
func runProgram(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdin == nil {
		cmd.Stdin = strings.NewReader("")
	}
	cmd.Stdout, cmd.Stderr = &out, &errb
	return exitStatus(t, cmd.Run()), out.String(), errb.String()
}

// exitStatus is the exit status of a command that ran; a command that
// could not run fails the test.
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// runCLI runs the command line as a user would and returns what they see.
// Commands that make or open an encrypted key run as the built binary
// (see opensKeys); the rest run in this process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if opensKeys(args) {
		return runBuilt(t, args...)
	}
	var out, errb bytes.Buffer
	code = run(args, streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestCLIVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{
			name:     "real signature verifies",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/pnpm@10.1.0.json"},
			wantCode: exitOK,
			wantOut:  []string{"verified pnpm@10.1.0: signed by SHA256:DhQ8"},
		},
		{
			name:     "old key without publish time is refused",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/tiny-tarball@1.0.0.json"},
			wantCode: exitFail,
			wantErr:  []string{"its publish time is unknown", "--accept-unknown-publish-time"},
		},
		{
			name:     "old key without publish time, accepted, says so",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/tiny-tarball@1.0.0.json", "--accept-unknown-publish-time"},
			wantCode: exitOK,
			wantOut:  []string{"verified tiny-tarball@1.0.0", "publish time unknown and accepted"},
		},
		{
			name:     "old key after its expiry",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/tiny-tarball@1.0.0.json", "--published", "2025-02-01T00:00:00Z"},
			wantCode: exitFail,
			wantErr:  []string{"refused", "expired at 2025-01-29T00:00:00Z"},
		},
		{
			name:     "Corepack 0.30 keys refuse a rotated signature",
			args:     []string{"verify", "--keys", fixtures + "corepack-0.30.json", "--manifest", fixtures + "npm/pnpm@10.1.0.json"},
			wantCode: exitFail,
			wantErr:  []string{"refused", "SHA256:DhQ8", "refresh the key bundle"},
		},
		{
			name:     "unsigned version",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/pnpm@10.0.0.json"},
			wantCode: exitFail,
			wantErr:  []string{"pnpm@10.0.0 carries no registry signature"},
		},
		{
			name:     "invalid key list",
			args:     []string{"verify", "--keys", fixtures + "invalid/keyid-mismatch.json", "--manifest", fixtures + "npm/pnpm@10.1.0.json"},
			wantCode: exitFail,
			wantErr:  []string{"is not a valid key list", "keyid does not match"},
		},
		{
			name:     "missing manifest file",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", "nowhere.json"},
			wantCode: exitFail,
			wantErr:  []string{"version document nowhere.json does not exist"},
		},
		{
			name:     "manifest is not a version document",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/README.md"},
			wantCode: exitFail,
			wantErr:  []string{"README.md", "not of the expected shape"},
		},
		{
			name:     "bad publish time",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json", "--manifest", fixtures + "npm/pnpm@10.1.0.json", "--published", "yesterday"},
			wantCode: exitUsage,
			wantErr:  []string{"--published \"yesterday\" is not an RFC 3339 time"},
		},
		{
			name:     "missing flags",
			args:     []string{"verify", "--keys", fixtures + "npm/keys.json"},
			wantCode: exitUsage,
			wantErr:  []string{"give NAME@VERSION, or both --keys and --manifest"},
		},
		{
			name:     "unknown flag",
			args:     []string{"verify", "--key", "x"},
			wantCode: exitUsage,
			wantErr:  []string{"unknown flag: --key", "tufkeys verify --help"},
		},
		{
			name:     "validate prints a line per key",
			args:     []string{"bundle", "validate", fixtures + "npm/keys.json"},
			wantCode: exitOK,
			wantOut:  []string{"valid npm key list, 2 keys", "SHA256:jl3b", "expires 2025-01-29T00:00:00.000Z", "SHA256:DhQ8", "never expires"},
		},
		{
			name:     "validate refuses with the entry and field",
			args:     []string{"bundle", "validate", fixtures + "invalid/duplicate-keyid.json"},
			wantCode: exitFail,
			wantErr:  []string{"key 2", "keyid repeats key 0"},
		},
		{
			name:     "convert needs --format",
			args:     []string{"bundle", "convert", fixtures + "npm/keys.json"},
			wantCode: exitUsage,
			wantErr:  []string{"--format is required"},
		},
		{
			name:     "convert to an unknown form",
			args:     []string{"bundle", "convert", fixtures + "npm/keys.json", "-o", "yaml"},
			wantCode: exitUsage,
			wantErr:  []string{"--format \"yaml\" is not one of npm, corepack, sigstore"},
		},
		{
			name:     "convert from sigstore notes what it leaves out",
			args:     []string{"bundle", "convert", fixtures + "sigstore-keys.json", "--format", "npm"},
			wantCode: exitOK,
			wantOut:  []string{`"keyid": "SHA256:DhQ8`},
			wantErr:  []string{"validFor.start 2025-01-13T00:00:00.000Z left out"},
		},
		{
			name:     "unknown command",
			args:     []string{"frobnicate"},
			wantCode: exitUsage,
			wantErr:  []string{"unknown command"},
		},
		{
			name:     "too many arguments",
			args:     []string{"bundle", "validate", "a", "b"},
			wantCode: exitUsage,
			wantErr:  []string{"takes one FILE; got 2 arguments"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if code != exitOK {
				if first := strings.SplitN(errOut, "\n", 2)[0]; !strings.HasPrefix(first, "tufkeys: ") {
					t.Errorf("first stderr line %q is not the error sentence", first)
				}
			}
		})
	}
}

func TestConvertOutputParses(t *testing.T) {
	for _, form := range bundle.Forms {
		flag := "--format"
		if form == bundle.FormNPM {
			flag = "--to" // the deprecated spelling still works
		}
		code, out, errOut := runCLI(t, "bundle", "convert", fixtures+"npm/keys.json", flag, string(form))
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", form, code, errOut)
		}
		p, err := bundle.Parse([]byte(out))
		if err != nil || p.Form != form || len(p.List.Keys) != 2 {
			t.Errorf("%s output: %v, form %s", form, err, p.Form)
		}
	}
}

func TestValidateReadsStdin(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(fixtures + "corepack-0.30.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"bundle", "validate", "-"}, streams{In: bytes.NewReader(data), Out: &out, Err: &errb})
	if code != exitOK || !strings.Contains(out.String(), "valid corepack key list, 1 key") {
		t.Errorf("exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	root := newRootCommand(streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func() {})
	for _, c := range allCommands(root) {
		if c.Runnable() && len(c.Commands()) == 0 && c.Example == "" {
			t.Errorf("%s has no example in its help", c.CommandPath())
		}
		code, out, _ := runCLI(t, append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "tufkeys")), "--help")...)
		if !c.Runnable() && len(c.Commands()) == 0 {
			// a help topic: its text, no usage
			if code != exitOK || !strings.Contains(out, c.Short) && !strings.Contains(out, "TUFKEYS_") {
				t.Errorf("help topic %s: exit %d\n%s", c.CommandPath(), code, out)
			}
			continue
		}
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d", c.CommandPath(), code)
		}
	}
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

// A mistyped subcommand is a usage error at every level, with cobra's
// suggestions, or the subcommands there are when nothing is near.
func TestUnknownSubcommandsSuggest(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"repo", "stauts"}, `unknown command "stauts" for "tufkeys repo"; did you mean status?`},
		{[]string{"key", "genrate"}, `unknown command "genrate" for "tufkeys key"; did you mean generate?`},
		{[]string{"cache", "clera"}, `unknown command "clera" for "tufkeys cache"; did you mean clear?`},
		{[]string{"bundle", "valdate"}, `did you mean validate?`},
		{[]string{"vrify"}, `unknown command "vrify" for "tufkeys"; did you mean verify?`},
		{[]string{"repo", "zzz"}, `unknown command "zzz" for "tufkeys repo"; its subcommands are delegate, init,`},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}
