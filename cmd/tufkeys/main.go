// Command tufkeys distributes package-registry signing keys through a TUF
// repository and verifies package signatures with them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/registry"
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
	root := newRootCommandFor(std, func() { started = true }, commandFor(args))
	root.SetArgs(args)
	if len(args) > 0 && args[0] == "completion" {
		strictCompletion(root, args)
	}
	if msg, unknown := unknownCommand(root, args); unknown {
		fmt.Fprintf(std.Err, "tufkeys: %s\nRun 'tufkeys --help' for usage.\n", msg)
		return exitUsage
	}
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	msg := oneLine(err.Error())
	if h := hint(err); h != "" {
		msg += "; " + h
	}
	if c, _, ferr := root.Find(args); ferr == nil && errors.Is(err, client.ErrNoKeyList) && c.Flags().Lookup("keys-host") != nil {
		msg += ", or --keys-host for a proxy"
	}
	fmt.Fprintf(std.Err, "tufkeys: %s\n", msg)
	var ue usageError
	if !started || errors.As(err, &ue) || isMissingSetting(err) {
		fmt.Fprintf(std.Err, "Run '%s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFail
}

// strictCompletion makes completion SHELL, for a shell it has no script
// for, a usage error rather than its help with exit 0. cobra adds the
// command as it runs, so it is added here first, and only for completion.
func strictCompletion(root *cobra.Command, args []string) {
	root.InitDefaultCompletionCmd(args...)
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = subcommandArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return subcommandArgs(cmd, args)
			}
		}
	}
}

// unknownCommand says that the first argument names no command, with the
// nearest names, before flags meant for that command are parsed as the
// root's (which would report an unknown flag instead).
func unknownCommand(root *cobra.Command, args []string) (string, bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", false
	}
	switch args[0] {
	case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		// cobra adds these as it runs
		return "", false
	}
	if c, _, err := root.Find(args[:1]); err == nil && c != root {
		return "", false
	}
	if root.SuggestionsMinimumDistance <= 0 {
		root.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], root.Name())
	if s := root.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return msg, true
}

// hintRule says, in the CLI's words, what to do about one of the
// libraries' typed errors.
type hintRule struct {
	err  error
	hint string
}

// hints say, in the CLI's words, what to do about the libraries' typed
// errors: with maintainerHints, the one place where flags, variables and
// commands are named for them (a test keeps them out of the libraries).
var hints = []hintRule{
	{client.ErrNoRoot, "pass --root FILE or set TUFKEYS_ROOT to your repository's root.json"},
	{client.ErrNoRepository, "pass --repo URL or set TUFKEYS_REPO"},
	{client.ErrOffline, "drop --offline (or TUFKEYS_OFFLINE) to fetch it"},
	{client.ErrNoKeyList, "check --registry"},
	{client.ErrUnsafeCache, "--cache DIR (or TUFKEYS_CACHE) names another"},
	{bundle.ErrPublishTimeUnknown, "pass --published TIME when you know when it was published, or --accept-unknown-publish-time to accept it unchecked"},
	{registry.ErrNoRegistry, "pass --registry URL, set npm_config_registry, or add a registry= line to .npmrc"},
	{registry.ErrBadAnswer, "check --registry and any proxy in between"},
	{registry.ErrNoKeyEndpoint, "check --registry"},
}

func hint(err error) string {
	if h := maintainerHint(err); h != "" {
		return h
	}
	var expired *client.ExpiredError
	if errors.As(err, &expired) {
		fix := "tell the repository's maintainers: tufkeys repo timestamp re-signs it"
		if expired.Role != "timestamp" && expired.Role != "snapshot" {
			fix = "tell the repository's maintainers: tufkeys repo renew --role " + expired.Role + " renews it"
		}
		return fix + "; to read an old archive offline, pass --accept-expired DURATION"
	}
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return h.hint
		}
	}
	return ""
}

// isMissingSetting reports an error that says the command lacks a setting
// the user must give (a registry, a root, a repository): a usage error,
// whichever package noticed it.
func isMissingSetting(err error) bool {
	return errors.Is(err, registry.ErrNoRegistry) || errors.Is(err, client.ErrNoRoot) || errors.Is(err, client.ErrNoRepository) || maintainerUsage(err)
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

// namedCommand makes a top-level command when it is needed.
type namedCommand struct {
	name string
	make func(streams) *cobra.Command
}

// commands are the top-level commands: the consumers' in every build, the
// maintainers' in every build but the thin client's.
func commands() []namedCommand {
	return append([]namedCommand{
		{"bundle", newBundleCommand},
		{"verify", newVerifyCommand},
		{"keys", newKeysCommand},
		{"refresh", newRefreshCommand},
		{"cache", newCacheCommand},
		{"import", newImportCommand},
		{"version", newVersionCommand},
		{"sources", newSourcesCommand},
		{"history", newHistoryCommand},
		{"exec", newExecCommand},
		{"shims", newShimsCommand},
	}, maintainerCommands()...)
}

// commandFor names the one top-level command args run, when the tree needs
// no other: a process that looks up keys does not build forty commands and
// their flags. Help, completion, flags before the command and unknown
// names (which get suggestions) build the whole tree.
func commandFor(args []string) string {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return ""
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.name
		}
	}
	return ""
}

func newRootCommand(std streams, markStarted func()) *cobra.Command {
	return newRootCommandFor(std, markStarted, "")
}

// newRootCommandFor is the command tree with only the top-level command
// only, or with all of them when only is empty.
func newRootCommandFor(std streams, markStarted func(), only string) *cobra.Command {
	root := &cobra.Command{
		Use:   "tufkeys",
		Short: "Registry signing keys that rotate without a release, verified with TUF",
		Long: `tufkeys distributes package-registry signing keys through a TUF repository:
maintainers sign key bundles offline with a threshold of keys, and clients
verify them against an embedded root of trust, so a key rotation reaches every
client without a new release, and a forged key reaches none.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			markStarted()
			if err := flagsFromEnv(cmd); err != nil {
				return err
			}
			return checkFormat(cmd)
		},
		// any value turns --version on; the text is built only when asked
		Version: "-",
		Args:    subcommandArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(std.Out)
	root.SetErr(std.Err)
	root.SetIn(std.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.HiddenDefaultCmd = false
	for _, c := range commands() {
		if only == "" || c.name == only {
			root.AddCommand(c.make(std))
		}
	}
	root.AddCommand(newEnvironmentTopic())
	root.SetVersionTemplate(`{{tufkeysVersion}}`)
	// --version alone: -v means --verbose on the commands that have it
	root.Flags().Bool("version", false, "print the version, the commit and the sources built in")
	documentEnv(root)
	return root
}

// warn prints a warning in the one style of every tufkeys warning.
func warn(std streams, msg string) {
	fmt.Fprintf(std.Err, "tufkeys: warning: %s\n", msg)
}

// addFormatFlag is the output format flag, spelled the same on every
// command: --format, or -o. Its accepted values are checked before the
// command runs (checkFormat), so an unknown one is a usage error on every
// command; text and table name the same output.
func addFormatFlag(cmd *cobra.Command, p *string, def string, values ...string) {
	if len(values) == 0 {
		values = []string{"text", "json"}
	}
	cmd.Flags().StringVarP(p, "format", "o", def, "output format: "+strings.Join(values, ", "))
	cmd.Flags().SetAnnotation("format", formatsAnnotation, values)
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

const formatsAnnotation = "tufkeys-formats"

// checkFormat refuses a --format value the command does not print, and
// reads text as table (and table as text) where only one of them is listed.
func checkFormat(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("format")
	if f == nil {
		return nil
	}
	values := f.Annotations[formatsAnnotation]
	v := f.Value.String()
	if len(values) == 0 || v == "" || slices.Contains(values, v) {
		return nil
	}
	for _, alias := range [][2]string{{"text", "table"}, {"table", "text"}} {
		if v == alias[0] && slices.Contains(values, alias[1]) {
			return f.Value.Set(alias[1])
		}
	}
	return usagef("--format %q is not one of %s", v, strings.Join(values, ", "))
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

// subcommandArgs refuses anything but a known subcommand under a command
// that only groups others, with cobra's suggestions for a typo, at every
// level: tufkeys repo stauts names repo status.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		return usagef("%s; did you mean %s?", msg, strings.Join(s, " or "))
	}
	return usagef("%s; its subcommands are %s", msg, strings.Join(names, ", "))
}
