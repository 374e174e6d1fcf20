// Command tufkeys distributes package-registry signing keys through a TUF
// repository and verifies package signatures with them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the CLI contract.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// streams are the command's standard streams, replaced by buffers in tests.
type streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// usageError marks a mistake in how the command was called (exit 2), as
// opposed to a refusal or a failure of the work itself (exit 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries an exit code other than 1 for a failure that has
// already been reported (tufkeys watch exits 3 when the lists differ).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string, std streams) int {
	started := false
	root := newRootCommand(std, func() { started = true })
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(std.Err, "tufkeys: %s\n", oneLine(err.Error()))
	var ue usageError
	if !started || errors.As(err, &ue) {
		fmt.Fprintf(std.Err, "Run '%s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFail
}

// commandPath names the subcommand the user was calling, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil {
		return root.Name()
	}
	return c.CommandPath()
}

// oneLine keeps an error on one line even when a library put newlines in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newRootCommand(std streams, markStarted func()) *cobra.Command {
	root := &cobra.Command{
		Use:   "tufkeys",
		Short: "Registry signing keys that rotate without a release, verified with TUF",
		Long: `tufkeys distributes package-registry signing keys through a TUF repository:
maintainers sign key bundles offline with a threshold of keys, and clients
verify them against an embedded root of trust, so a key rotation reaches every
client without a new release, and a forged key reaches none.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(*cobra.Command, []string) {
			markStarted()
		},
	}
	root.SetOut(std.Out)
	root.SetErr(std.Err)
	root.SetIn(std.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newBundleCommand(std),
		newVerifyCommand(std),
		newKeyCommand(std),
		newRepoCommand(std),
		newServeCommand(std),
		newKeysCommand(std),
		newRefreshCommand(std),
		newCacheCommand(std),
		newDemoCommand(std),
		newMirrorCommand(std),
		newExportCommand(std),
		newImportCommand(std),
		newWatchCommand(std),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a sentence that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s; got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
