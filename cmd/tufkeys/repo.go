//go:build !tufkeys_client

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/binfold"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/keyref"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store/s3"
)

// openWorkspace opens the workspace --workspace names, or, when it names
// none, the one the current directory is in.
func openWorkspace(dir string) (*workspace.Workspace, error) {
	if dir != "" {
		return workspace.Open(dir)
	}
	found, err := workspace.Find(".")
	if err != nil {
		return nil, err
	}
	return workspace.Open(found)
}

// workspaceCommand is a repo subcommand: cmd states its use, help and
// flags, run its work; the workspace the repo command's --workspace names
// (or the one the current directory is in) reaches opts through dst.
func workspaceCommand(ws, dst *string, cmd *cobra.Command, run func(cmd *cobra.Command) error) *cobra.Command {
	cmd.Args = exactArgs(0, "no arguments")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		*dst = *ws
		return run(cmd)
	}
	return cmd
}

func newRepoCommand(std streams) *cobra.Command {
	var ws string
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "The maintainers' signing ceremony: init, stage, sign, status, publish",
		Long: `The maintainers' signing ceremony. A workspace is a directory, meant to live
in git, that holds the public keys, the staged metadata (one file per
signature, so that signatures made on separate clones merge without
conflict), the published history and the key lists.`,
		Args: subcommandArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&ws, "workspace", "", "workspace directory (default: the current directory or the nearest parent holding a workspace, as git finds its repository)")
	cmd.AddCommand(
		newRepoInitCommand(std, &ws),
		newRepoStageCommand(std, &ws),
		newRepoSignCommand(std, &ws),
		newRepoStatusCommand(std, &ws),
		newRepoKeysCommand(std, &ws),
		newRepoPublishCommand(std, &ws, false),
		newRepoPublishCommand(std, &ws, true),
		newRepoRotateCommand(std, &ws),
		newRepoDelegateCommand(std, &ws),
		newRepoRenewCommand(std, &ws),
		newRepoMigrateCommand(std, &ws),
	)
	return cmd
}

func readPublicKeys(files []string) ([]workspace.PublicKey, error) {
	var keys []workspace.PublicKey
	for _, f := range files {
		k, err := readPublicKey(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

type repoInitOptions struct {
	streams
	Workspace        string
	RootKeys         []string
	RootThreshold    int
	TargetsKeys      []string
	TargetsThreshold int
	OnlineKey        string
	Expiry           map[string]string
	Bins             int
	Log              logPolicyFlags
}

func newRepoInitCommand(std streams, ws *string) *cobra.Command {
	opts := repoInitOptions{streams: std, Expiry: map[string]string{}}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "init --root-key A.pub ... --root-threshold N --online-key O.pub",
		Short: "Create a workspace and stage root v1 and targets v1",
		Long: `Create a workspace and stage root v1 and targets v1 for the root keys to sign.
Only public keys are needed: private keys stay with their holders. The
targets keys and threshold default to the root's. The online key signs
snapshot and timestamp and must be a separate key.

Expiry periods default to root 365d, targets 90d, snapshot 7d, timestamp 1d.

Key lists go into hashed bins (TAP 15), 64 unless --bins says otherwise: a
client then fetches the one bin that holds its registry, whatever the
number of registries. The bins are signed by the targets keys, like
targets. --bins 0 keeps every key list in targets itself.`,
		Example: `  tufkeys repo init --workspace ceremony \
    --root-key alice.pub --root-key bob.pub --root-key carol.pub --root-threshold 2 \
    --online-key online.pub`,
	}, func(*cobra.Command) error {
		return runRepoInit(opts)
	})
	f := cmd.Flags()
	f.StringArrayVar(&opts.RootKeys, "root-key", nil, "public key of a root signer (repeat for each)")
	f.IntVar(&opts.RootThreshold, "root-threshold", 0, "signatures needed on root")
	f.StringArrayVar(&opts.TargetsKeys, "targets-key", nil, "public key of a targets signer (default: the root keys)")
	f.IntVar(&opts.TargetsThreshold, "targets-threshold", 0, "signatures needed on targets (default: the root threshold)")
	f.StringVar(&opts.OnlineKey, "online-key", "", "public key that signs snapshot and timestamp")
	f.IntVar(&opts.Bins, "bins", workspace.DefaultBins, "hashed bins for the key lists, a power of two; 0 keeps them in targets")
	addLogPolicyFlags(f, &opts.Log)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		role := role
		f.Var(periodFlag{opts.Expiry, role}, role+"-expiry", "how long "+role+" metadata stays valid, e.g. 90d")
	}
	return cmd
}

// periodFlag collects an expiry period by role name.
type periodFlag struct {
	m    map[string]string
	role string
}

func (p periodFlag) String() string { return p.m[p.role] }
func (p periodFlag) Set(s string) error {
	if _, err := workspace.ParsePeriod(s); err != nil {
		return err
	}
	p.m[p.role] = s
	return nil
}
func (p periodFlag) Type() string { return "period" }

func runRepoInit(opts repoInitOptions) error {
	if len(opts.RootKeys) == 0 || opts.OnlineKey == "" || opts.RootThreshold == 0 {
		return usagef("--root-key, --root-threshold and --online-key are required")
	}
	rootKeys, err := readPublicKeys(opts.RootKeys)
	if err != nil {
		return err
	}
	targetsKeys, err := readPublicKeys(opts.TargetsKeys)
	if err != nil {
		return err
	}
	online, err := readPublicKey(opts.OnlineKey)
	if err != nil {
		return err
	}
	logPolicy, err := opts.Log.policy()
	if err != nil {
		return err
	}
	var expiry workspace.Periods
	for role, s := range opts.Expiry {
		p, _ := workspace.ParsePeriod(s)
		switch role {
		case "root":
			expiry.Root = p
		case "targets":
			expiry.Targets = p
		case "snapshot":
			expiry.Snapshot = p
		case "timestamp":
			expiry.Timestamp = p
		}
	}
	if opts.Workspace == "" {
		opts.Workspace = "."
	}
	w, err := workspace.Init(opts.Workspace, workspace.InitOptions{
		RootKeys: rootKeys, RootThreshold: opts.RootThreshold,
		TargetsKeys: targetsKeys, TargetsThreshold: opts.TargetsThreshold,
		OnlineKey: online, Expiry: expiry, Bins: opts.Bins, Log: logPolicy,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "initialized workspace %s\n", w.Dir)
	return printStaged(opts.streams, w)
}

func printStaged(std streams, w *workspace.Workspace) error {
	st, err := w.Status()
	if err != nil {
		return err
	}
	for _, l := range workspace.Lines(st.Staged) {
		fmt.Fprintf(std.Out, "staged %s\n", l)
	}
	return nil
}

type repoStageOptions struct {
	streams
	Workspace  string
	Registries []string
	Keys       []string
	Dir        string
	RemoveKeys []string
	New        bool
}

func newRepoStageCommand(std streams, ws *string) *cobra.Command {
	opts := repoStageOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "stage --registry HOST --keys FILE [--registry HOST --keys FILE ...] | --dir DIR [--remove-key KEYID]",
		Short: "Stage registries' key lists for signing",
		Long: `Validate registries' key lists and stage each as HOST/keys.json in a new targets
version (or in the registry's own role when it is delegated), and print the
change against the published lists. Give pairs of --registry and --keys, in
order, or --dir with a directory of key lists named HOST.json; they are
staged in one change, which costs what the lists cost, not the repository.
One refused list stages none.

A key that the published list has and the new one lacks is refused unless
--remove-key names it: registries have served key lists that omitted a live
key by mistake, and passing such a list on would break every package signed
with that key.

A registry the repository does not list yet needs --new, so that a
misspelt host is refused (with the nearest listed hosts) instead of added.`,
		Example: `  tufkeys repo stage --registry registry.example.test --keys keys.json --new   # the first time
  tufkeys repo stage --registry registry.example.test --keys keys.json
  tufkeys repo stage --registry registry.example.test --keys keys.json --remove-key SHA256:jl3b…
  tufkeys repo stage --registry a.example.test --keys a.json --registry b.example.test --keys b.json
  tufkeys repo stage --dir lists/    # lists/registry.example.test.json, …`,
	}, func(*cobra.Command) error {
		return runRepoStage(opts)
	})
	cmd.Flags().StringArrayVar(&opts.Registries, "registry", nil, "registry host or URL whose keys these are (repeat, paired in order with --keys)")
	cmd.Flags().StringArrayVar(&opts.Keys, "keys", nil, "key list file (any form), or - for standard input (repeat, paired with --registry)")
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "directory of key lists named HOST.json, all staged in one change")
	cmd.Flags().StringArrayVar(&opts.RemoveKeys, "remove-key", nil, "keyid that the new lists may drop (repeat for each)")
	cmd.Flags().BoolVar(&opts.New, "new", false, "allow registries the repository does not list yet (without it, such a host is refused as a likely typo)")
	return cmd
}

func runRepoStage(opts repoStageOptions) error {
	items, err := stageItems(opts)
	if err != nil {
		return err
	}
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	results, err := w.StageMany(items)
	if err != nil {
		return err
	}
	for _, res := range results {
		if res.Unchanged {
			fmt.Fprintf(opts.Out, "%s: the list is already staged or published as is; nothing to do\n", res.Host)
			continue
		}
		fmt.Fprintf(opts.Out, "staged %s in %s v%d\n", bundle.TargetName(res.Host), res.Role, res.Version)
		lines := res.Diff.Lines()
		if len(lines) == 0 {
			lines = []string{"(same keys and expiries as published)"}
		}
		for _, l := range lines {
			fmt.Fprintf(opts.Out, "  %s\n", l)
		}
	}
	return nil
}

// stageItems reads the key lists the flags name: --registry/--keys pairs,
// or every HOST.json of --dir.
func stageItems(opts repoStageOptions) ([]workspace.StageItem, error) {
	var items []workspace.StageItem
	switch {
	case opts.Dir != "" && (len(opts.Registries) > 0 || len(opts.Keys) > 0):
		return nil, usagef("give --dir, or --registry and --keys pairs, not both")
	case opts.Dir != "":
		entries, err := os.ReadDir(opts.Dir)
		if err != nil {
			return nil, fileError(opts.Dir, "directory of key lists", err)
		}
		for _, e := range entries {
			host, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || e.IsDir() {
				continue
			}
			data, err := readInput(opts.streams, filepath.Join(opts.Dir, e.Name()), bundle.MaxListBytes)
			if err != nil {
				return nil, fileError(filepath.Join(opts.Dir, e.Name()), "key list", err)
			}
			items = append(items, workspace.StageItem{Registry: host, List: data, RemoveKeys: opts.RemoveKeys, New: opts.New})
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("%s holds no key list named HOST.json", opts.Dir)
		}
	case len(opts.Registries) == 0 || len(opts.Registries) != len(opts.Keys):
		return nil, usagef("--registry and --keys come in pairs (%d --registry, %d --keys), or give --dir", len(opts.Registries), len(opts.Keys))
	default:
		for i, reg := range opts.Registries {
			data, err := readInput(opts.streams, opts.Keys[i], bundle.MaxListBytes)
			if err != nil {
				return nil, fileError(opts.Keys[i], "key list", err)
			}
			items = append(items, workspace.StageItem{Registry: reg, List: data, RemoveKeys: opts.RemoveKeys, New: opts.New})
		}
	}
	return items, nil
}

type repoSignOptions struct {
	streams
	Workspace  string
	Key        string
	Passphrase keyfile.Passphrase
	// Yes signs without asking for a confirmation.
	Yes bool
	// Terminal is the person at the controlling terminal; nil off a
	// terminal, where repo sign never prompts.
	Terminal *terminal
}

func newRepoSignCommand(std streams, ws *string) *cobra.Command {
	opts := repoSignOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "sign --key NAME.key [--yes]",
		Short: "Sign every staged role this key may sign",
		Long: `Show what a signature approves (every staged role and the key-list changes
it carries), then add this key's signature to every staged role it may sign,
and say for each how many signatures it has and which keys are still missing.
On a terminal it asks for a confirmation first (--yes skips it) and lets a
mistyped passphrase be typed again, three tries in all; off a terminal it
never prompts. Signing twice changes nothing. Each signature is its own file
under staged/signatures/, so maintainers can sign separate clones and merge
them with git.`,
		Example: `  tufkeys repo sign --key alice.key
  git add -A && git commit -m "alice signs targets v3"`,
	}, func(*cobra.Command) error {
		if opts.Passphrase == nil {
			opts.Passphrase = keyfile.EnvOrTerminal(opts.Key)
		}
		if opts.Terminal == nil && isTerminal(opts.In) {
			t, err := openTerminal()
			if err == nil {
				defer t.Close()
				opts.Terminal = t
			}
		}
		return runRepoSign(opts)
	})
	cmd.Flags().StringVar(&opts.Key, "key", "", "your private key: a key file, a token key (pkcs11:…) or a KMS key (awskms://…)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "sign without asking for a confirmation on the terminal; off a terminal, required")
	return cmd
}

// ErrNotConfirmed marks a signature the maintainer declined at the prompt.
var ErrNotConfirmed = errors.New("nothing signed: the signature was not confirmed")

// passphraseTries is how often a mistyped passphrase may be typed again
// at a terminal.
const passphraseTries = 3

func runRepoSign(opts repoSignOptions) error {
	if opts.Key == "" {
		return usagef("--key is required: give your private key (a key file, pkcs11:… or awskms://…)")
	}
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	// what the signature approves, before any key is opened or any
	// passphrase asked for
	approval, err := w.Approval()
	if err != nil {
		return err
	}
	for _, b := range approval.Changes {
		fmt.Fprintf(opts.Out, "key list %s (in %s) against the published one:\n", b.Host, b.Role)
		for _, l := range b.Lines() {
			fmt.Fprintf(opts.Out, "  %s\n", l)
		}
	}
	for _, l := range workspace.Lines(approval.Roles) {
		fmt.Fprintf(opts.Out, "staged %s\n", l)
	}
	if opts.Terminal == nil && !opts.Yes {
		// a script signs only what it says it means to sign
		return usagef("off a terminal, repo sign signs only with --yes: check what is staged (above), then run it again with --yes")
	}
	if opts.Terminal != nil && !opts.Yes {
		ok, err := opts.Terminal.Confirm(fmt.Sprintf("Sign with %s? [y/N] ", opts.Key))
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotConfirmed
		}
	}
	signer, err := openSigner(opts)
	if err != nil {
		return err
	}
	res, err := w.Sign(signer)
	if err != nil {
		return err
	}
	// the signature is in place; a kind that cannot be recorded only
	// leaves repo keys without it
	if err := w.RecordReference(signer.KeyID, keyref.Kind(opts.Key)); err != nil {
		warn(opts.streams, "the kind of key reference is not recorded: "+err.Error())
	}
	var signed, already []workspace.RoleCheck
	for _, c := range res.Checks {
		if slices.Contains(res.Already, c.Role) {
			already = append(already, c)
		} else {
			signed = append(signed, c)
		}
	}
	for _, l := range workspace.Lines(signed) {
		fmt.Fprintf(opts.Out, "signed %s\n", l)
	}
	for _, l := range workspace.Lines(already) {
		fmt.Fprintf(opts.Out, "already signed %s\n", l)
	}
	return nil
}

// openOnlineKey opens an online key (the snapshot and timestamp key, or
// the log's); typed at a terminal, a wrong passphrase may be typed again,
// as for a maintainer's key.
func openOnlineKey(ctx context.Context, opts repoPublishOptions, ref string, pass keyfile.Passphrase, variable string) (*keyfile.Signer, error) {
	tries := 1
	if _, fromEnv := keyfile.FromEnv(variable, keyfile.EnvPassphrase); opts.promptPerKey && !fromEnv && onTerminal() {
		tries = passphraseTries
	}
	return openWithRetries(ctx, ref, pass, tries, func(msg string) { fmt.Fprintf(opts.Err, "tufkeys: %s\n", msg) })
}

// openWithRetries opens a key reference, letting a wrong passphrase be
// typed again until tries run out; say tells the person so.
func openWithRetries(ctx context.Context, ref string, pass keyfile.Passphrase, tries int, say func(string)) (*keyfile.Signer, error) {
	for try := 1; ; try++ {
		signer, err := keyref.Open(ctx, ref, pass)
		if err == nil || !errors.Is(err, keyfile.ErrWrongPassphrase) || try >= tries {
			return signer, err
		}
		say(fmt.Sprintf("the passphrase does not open %s: try again (%d %s left)", ref, tries-try, plural(tries-try, "try", "tries")))
	}
}

// onTerminal reports whether a passphrase would be asked on a terminal.
func onTerminal() bool {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	tty.Close()
	return true
}

// openSigner opens the key; at a terminal, with the passphrase typed
// there, a wrong passphrase may be typed again.
func openSigner(opts repoSignOptions) (*keyfile.Signer, error) {
	tries := 1
	if _, fromEnv := os.LookupEnv(keyfile.EnvPassphrase); opts.Terminal != nil && !fromEnv {
		tries = passphraseTries
	}
	return openWithRetries(context.Background(), opts.Key, opts.Passphrase, tries, func(msg string) { opts.Terminal.Say(msg) })
}

type repoStatusOptions struct {
	streams
	Workspace string
	Check     bool
	Format    string
}

func newRepoStatusCommand(std streams, ws *string) *cobra.Command {
	opts := repoStatusOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "status [--check]",
		Short: "Show versions, expiries, signatures and staged key-list changes",
		Long: `Show each published role's version and expiry, each staged role's signatures
against its threshold and who has not signed, and how staged key lists differ
from the published ones.

With --check, exit 1 when something staged is not fully signed or a
published role is within its re-sign window: run it on a schedule to alert.`,
		Example: `  tufkeys repo status
  tufkeys repo status --check || notify-maintainers`,
	}, func(*cobra.Command) error {
		return runRepoStatus(opts)
	})
	cmd.Flags().BoolVar(&opts.Check, "check", false, "exit 1 when something needs the maintainers")
	addFormatFlag(cmd, &opts.Format, "text")
	return cmd
}

func runRepoStatus(opts repoStatusOptions) error {
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	st, err := w.Status()
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		r := newStatusReport(st)
		if err := writeJSON(opts.Out, r); err != nil {
			return err
		}
		if opts.Check && len(r.Problems) > 0 {
			return exitError{code: exitFail}
		}
		return nil
	}
	if len(st.Published) == 0 {
		fmt.Fprintln(opts.Out, "published: nothing yet")
	}
	for _, l := range publishedLines(st) {
		fmt.Fprintf(opts.Out, "published %s\n", l)
	}
	if len(st.Staged) == 0 {
		fmt.Fprintln(opts.Out, "staged: nothing")
	}
	for _, l := range workspace.Lines(st.Staged) {
		fmt.Fprintf(opts.Out, "staged %s\n", l)
	}
	for _, b := range st.Bundles {
		fmt.Fprintf(opts.Out, "key list %s (in %s):\n", b.Host, b.Role)
		for _, l := range b.Lines() {
			fmt.Fprintf(opts.Out, "  %s\n", l)
		}
		if len(b.Unrecorded) > 0 {
			fmt.Fprintf(opts.Out, "  (record a confirmed removal with tufkeys repo stage --registry %s --keys FILE --remove-key %s)\n", b.Host, strings.Join(b.Unrecorded, " --remove-key "))
		}
	}
	problems := st.Problems()
	var messages []string
	for _, p := range problems {
		fmt.Fprintf(opts.Out, "attention: %s\n", p.Message)
		messages = append(messages, p.Message)
	}
	if opts.Check && len(problems) > 0 {
		return fmt.Errorf("%d %s the maintainers' attention: %s", len(problems), plural(len(problems), "thing needs", "things need"), strings.Join(messages, "; "))
	}
	return nil
}

type repoPublishOptions struct {
	streams
	Workspace  string
	OnlineKey  string
	To         string
	DryRun     bool
	MoveOrigin bool
	VerifyAll  bool
	StatusPage bool
	Format     string
	Store      s3.Options
	Passphrase keyfile.Passphrase
	// LogKeys sign the transparency log's checkpoints, for a root that
	// names a log: one, or the old and the new one for a publish that
	// changes the log key.
	LogKeys []string
	// TimestampOnly re-signs snapshot and timestamp alone.
	TimestampOnly bool
	// promptPerKey asks each key's passphrase naming that key
	promptPerKey bool
	Verbose      bool
}

func newRepoPublishCommand(std streams, ws *string, timestampOnly bool) *cobra.Command {
	opts := repoPublishOptions{streams: std, TimestampOnly: timestampOnly}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "publish --online-key O.key --to DIR|s3://BUCKET/PREFIX",
		Short: "Publish the signed staged metadata",
		Long: `Check every threshold (a new root needs its predecessor's and its own), sign
snapshot and timestamp with the online key, and write a consistent-snapshot
repository in the order key lists, delegated metadata, targets, root,
snapshot, timestamp, so that a reader sees the old repository or the new one,
never a mix. Files already published with the same content are skipped; a
published file is never overwritten with other content, and old roots are
never deleted. Run it again after a failure to complete it.`,
		Example: `  tufkeys repo publish --online-key online.key --to ./public
  tufkeys repo publish --online-key online.key --to s3://keys-bucket/tuf --dry-run`,
	}, func(cmd *cobra.Command) error {
		if opts.Passphrase == nil {
			opts.Passphrase = keyfile.EnvOrTerminalFrom(opts.OnlineKey, keyfile.EnvOnlinePassphrase)
			opts.promptPerKey = true
		}
		return runRepoPublish(cmd.Context(), opts)
	})
	if timestampOnly {
		cmd.Use = "timestamp --online-key O.key --to DIR|s3://BUCKET/PREFIX"
		cmd.Short = "Re-sign snapshot and timestamp (for a scheduled job)"
		cmd.Long = `Re-sign snapshot and timestamp with the online key for the published
metadata, so clients keep accepting the repository. Run it on a schedule,
more often than the timestamp expires (1 day by default). It refuses when
the destination serves newer metadata than the workspace knows.`
		cmd.Example = `  TUFKEYS_PASSPHRASE=… tufkeys repo timestamp --online-key online.key --to s3://keys-bucket/tuf`
	}
	f := cmd.Flags()
	f.StringVar(&opts.OnlineKey, "online-key", "", "the online key: a key file, a token key (pkcs11:…) or a KMS key (awskms://…)")
	f.StringVar(&opts.To, "to", "", "destination: a directory or s3://BUCKET/PREFIX")
	f.StringArrayVar(&opts.LogKeys, "log-key", nil, "the transparency log's key, when the root names a log: a key file, a token key or a KMS key (Ed25519); give the old and the new key to publish a root that changes it")
	f.BoolVar(&opts.DryRun, "dry-run", false, "list what would be uploaded and change nothing")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "print a line per file also when standard error is not a terminal")
	addFormatFlag(cmd, &opts.Format, "text")
	f.BoolVar(&opts.VerifyAll, "verify-all", false, "compare every file with the destination, also those the last publish put there (for repairs)")
	f.BoolVar(&opts.MoveOrigin, "move-origin", false, "publish to a destination other than the workspace's origin, and make it the origin")
	f.BoolVar(&opts.StatusPage, "status-page", true, "write the status page (index.html and status.json); with thousands of registries it is megabytes, so a frequent timestamp job may leave it to the publishes")
	addStoreFlags(f, &opts.Store)
	return cmd
}

func runRepoPublish(ctx context.Context, opts repoPublishOptions) error {
	if opts.OnlineKey == "" || opts.To == "" {
		return usagef("--online-key and --to are both required")
	}
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	var signer *keyfile.Signer
	if !opts.DryRun {
		// a dry run signs nothing: it never asks for the passphrase
		if signer, err = openOnlineKey(ctx, opts, opts.OnlineKey, opts.Passphrase, keyfile.EnvOnlinePassphrase); err != nil {
			return err
		}
	}
	dst, err := openDestination(ctx, opts.To, opts.Store)
	if err != nil {
		return err
	}
	po := publish.Options{DryRun: opts.DryRun, Progress: progressTo(opts.Err, opts.Verbose, opts.DryRun), MoveOrigin: opts.MoveOrigin, VerifyAll: opts.VerifyAll, StatusPage: opts.StatusPage}
	if len(opts.LogKeys) > 0 && !opts.DryRun {
		po.Log = &publish.LogOptions{}
		for i, ref := range opts.LogKeys {
			// each key's prompt names that key, and its variable is its own
			pass := opts.Passphrase
			if opts.promptPerKey {
				pass = keyfile.EnvOrTerminalFrom(ref, keyfile.EnvLogPassphrase)
			}
			logKey, err := openOnlineKey(ctx, opts, ref, pass, keyfile.EnvLogPassphrase)
			if err != nil {
				return err
			}
			if i == 0 {
				po.Log.Key = logKey
			} else {
				po.Log.Others = append(po.Log.Others, logKey)
			}
		}
	}
	var rep publish.Report
	if opts.TimestampOnly {
		rep, err = publish.Timestamp(ctx, w, signer, dst, po)
	} else {
		rep, err = publish.Publish(ctx, w, signer, dst, po)
	}
	if err != nil {
		return err
	}
	if signer != nil {
		if err := w.RecordReference(signer.KeyID, keyref.Kind(opts.OnlineKey)); err != nil {
			warn(opts.streams, "the kind of key reference is not recorded: "+err.Error())
		}
	}
	if opts.Format == "json" {
		if err := writeJSON(opts.Out, publishReport{Destination: dst.String(), DryRun: opts.DryRun, Root: rep.Root, Targets: rep.Targets, Snapshot: rep.Snapshot,
			Timestamp: rep.Timestamp, Resigned: rep.Resigned, Uploaded: nonNil(rep.Uploaded), Unchanged: rep.Skipped, Log: logReportJSON(rep.Log)}); err != nil {
			return err
		}
		return publishProblems(opts, rep)
	}
	if opts.DryRun {
		for _, name := range slices.Sorted(slices.Values(rep.Uploaded)) {
			fmt.Fprintf(opts.Out, "would upload %s\n", name)
		}
	}
	fmt.Fprintln(opts.Out, publishSummary(opts, dst.String(), rep))
	if l := rep.Log; l != nil {
		verb := "logged"
		if opts.DryRun {
			verb = "would log"
		}
		fmt.Fprintf(opts.Out, "%s %d %s in %s (size %d), cosigned by %s\n", verb, l.Appended, plural(l.Appended, "entry", "entries"), l.Origin, l.Size, orNone(l.Witnessed))
	}
	return publishProblems(opts, rep)
}

// publishProblems reports what went wrong after the release went out: a
// status page not written (a warning), and witnesses that did not cosign
// the log again on a timestamp run (an error, so that the scheduled job
// alerts, though the timestamp was re-signed).
func publishProblems(opts repoPublishOptions, rep publish.Report) error {
	if rep.PageError != "" {
		warn(opts.streams, "the status page was not written: "+rep.PageError)
	}
	if rep.LogError != "" {
		return fmt.Errorf("snapshot and timestamp were re-signed, but the log's checkpoint keeps its older cosignatures, which clients accept until the root's max age: %s", rep.LogError)
	}
	return nil
}

func logReportJSON(l *publish.LogReport) *logJSON {
	if l == nil {
		return nil
	}
	return &logJSON{Origin: l.Origin, Size: l.Size, Appended: l.Appended, Witnessed: nonNil(l.Witnessed)}
}

// publishSummary is the one line a publish prints: the roles that went
// live (the bins folded), where, and how many files.
func publishSummary(opts repoPublishOptions, dst string, rep publish.Report) string {
	verb := "published"
	switch {
	case opts.TimestampOnly && opts.DryRun:
		verb = "dry run: would re-sign"
	case opts.TimestampOnly:
		verb = "re-signed"
	case opts.DryRun:
		verb = "dry run: would publish"
	}
	done := "uploaded"
	if opts.DryRun {
		done = "to upload"
	}
	files := fmt.Sprintf("%d %s %s, %d unchanged", len(rep.Uploaded), plural(len(rep.Uploaded), "file", "files"), done, rep.Skipped)
	if opts.TimestampOnly {
		return fmt.Sprintf("%s snapshot v%d and timestamp v%d to %s (%s)", verb, rep.Snapshot, rep.Timestamp, dst, files)
	}
	roles := changedRoles(rep.Uploaded, rep.Timestamp)
	if len(roles) == 0 {
		return fmt.Sprintf("%s nothing new to %s: it serves root v%d, targets v%d, snapshot v%d, timestamp v%d (%s)",
			verb, dst, rep.Root, rep.Targets, rep.Snapshot, rep.Timestamp, files)
	}
	return fmt.Sprintf("%s %s to %s (%s)", verb, strings.Join(roles, ", "), dst, files)
}

var versionedMetadata = regexp.MustCompile(`^([0-9]+)\.([^/]+)\.json$`)

// changedRoles names each role whose metadata the publish uploads, in the
// order a client reads them, with the bins that share a version folded.
func changedRoles(uploaded []string, timestamp int64) []string {
	type role struct {
		name    string
		version int64
	}
	var roles []role
	for _, name := range uploaded {
		if name == metadata.TIMESTAMP+".json" {
			roles = append(roles, role{metadata.TIMESTAMP, timestamp})
			continue
		}
		m := versionedMetadata.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		roles = append(roles, role{m[2], v})
	}
	rank := func(name string) int {
		switch name {
		case metadata.ROOT:
			return 0
		case metadata.TARGETS:
			return 1
		case metadata.SNAPSHOT:
			return 3
		case metadata.TIMESTAMP:
			return 4
		}
		return 2
	}
	slices.SortStableFunc(roles, func(a, b role) int {
		if c := cmp.Compare(rank(a.name), rank(b.name)); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.version, b.version)
	})
	var out []string
	for _, g := range binfold.Fold(roles, func(r role) string { return r.name }, func(r role) string { return fmt.Sprintf(" v%d", r.version) }) {
		if !binfold.IsBin(g.Roles[0]) {
			out = append(out, g.Roles[0]+g.State)
			continue
		}
		out = append(out, g.Names()+g.State)
	}
	return out
}

type repoRotateOptions struct {
	streams
	Workspace         string
	AddRootKeys       []string
	RemoveRootKeys    []string
	RootThreshold     int
	AddTargetsKeys    []string
	RemoveTargetsKeys []string
	TargetsThreshold  int
	OnlineKey         string
	Log               logPolicyFlags
	RemoveLog         bool
}

func newRepoRotateCommand(std streams, ws *string) *cobra.Command {
	opts := repoRotateOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "rotate [--add-root-key P.pub] [--remove-root-key KEY] [--root-threshold N] [--online-key O.pub] ...",
		Short: "Stage a root change: keys, thresholds or the online key",
		Long: `Stage root N+1 with keys added or removed, thresholds changed, or the online
key replaced. It is signed like anything else and needs the threshold of the
old root and of the new one. Clients holding any older root walk the chain to
it. A key to remove is named by its .pub name in the workspace or its keyid.
When the targets keys change, targets is staged again for the new keys.`,
		Example: `  tufkeys repo rotate --add-root-key dave.pub --remove-root-key alice --root-threshold 2
  tufkeys repo rotate --online-key online-2027.pub`,
	}, func(*cobra.Command) error {
		return runRepoRotate(opts)
	})
	f := cmd.Flags()
	f.StringArrayVar(&opts.AddRootKeys, "add-root-key", nil, "public key to add to root")
	f.StringArrayVar(&opts.RemoveRootKeys, "remove-root-key", nil, "name or keyid of a root key to remove")
	f.IntVar(&opts.RootThreshold, "root-threshold", 0, "new root threshold")
	f.StringArrayVar(&opts.AddTargetsKeys, "add-targets-key", nil, "public key to add to targets")
	f.StringArrayVar(&opts.RemoveTargetsKeys, "remove-targets-key", nil, "name or keyid of a targets key to remove")
	f.IntVar(&opts.TargetsThreshold, "targets-threshold", 0, "new targets threshold")
	f.StringVar(&opts.OnlineKey, "online-key", "", "public key that replaces the online key")
	addLogPolicyFlags(f, &opts.Log)
	f.BoolVar(&opts.RemoveLog, "remove-log", false, "stop naming a transparency log (clients then stop requiring it)")
	return cmd
}

func runRepoRotate(opts repoRotateOptions) error {
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	ro := workspace.RotateOptions{RemoveRootKeys: opts.RemoveRootKeys, RootThreshold: opts.RootThreshold, RemoveTargetsKeys: opts.RemoveTargetsKeys, TargetsThreshold: opts.TargetsThreshold}
	if ro.AddRootKeys, err = readPublicKeys(opts.AddRootKeys); err != nil {
		return err
	}
	if ro.AddTargetsKeys, err = readPublicKeys(opts.AddTargetsKeys); err != nil {
		return err
	}
	if opts.OnlineKey != "" {
		k, err := readPublicKey(opts.OnlineKey)
		if err != nil {
			return err
		}
		ro.OnlineKey = &k
	}
	// a new log key alone keeps the witnesses, quorum and max age the root
	// names (and its origin, unless --log-origin gives another)
	current, hasLog, err := w.LogPolicy()
	if err != nil {
		return err
	}
	if hasLog {
		opts.Log = opts.Log.inherit(current)
	}
	if ro.Log, err = opts.Log.policy(); err != nil {
		return err
	}
	ro.RemoveLog = opts.RemoveLog
	res, err := w.Rotate(ro)
	if err != nil {
		return err
	}
	for _, k := range res.AlsoTargets {
		fmt.Fprintf(opts.Out, "removed %s from targets too: a key out of root signs no key lists\n", k)
	}
	return printStaged(opts.streams, w)
}

type repoDelegateOptions struct {
	streams
	Workspace string
	Registry  string
	Keys      []string
	Threshold int
}

func newRepoDelegateCommand(std streams, ws *string) *cobra.Command {
	opts := repoDelegateOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "delegate --registry HOST --key PUB [--threshold K]",
		Short: "Let a registry operator sign its own key list",
		Long: `Make HOST/* a delegated role signed by the registry operator's own keys, as
the public Sigstore repository does for npm. The maintainers sign the new
targets; the operator signs the role, and from then on stages and signs its
key-list rotations alone.`,
		Example: `  tufkeys repo delegate --registry registry.example.test --key operator.pub`,
	}, func(*cobra.Command) error {
		return runRepoDelegate(opts)
	})
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "registry host or URL to delegate")
	cmd.Flags().StringArrayVar(&opts.Keys, "key", nil, "operator's public key (repeat for each)")
	cmd.Flags().IntVar(&opts.Threshold, "threshold", 1, "operator signatures needed")
	return cmd
}

func runRepoDelegate(opts repoDelegateOptions) error {
	if opts.Registry == "" || len(opts.Keys) == 0 {
		return usagef("--registry and --key are both required")
	}
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	keys, err := readPublicKeys(opts.Keys)
	if err != nil {
		return err
	}
	if _, err := w.Delegate(opts.Registry, keys, opts.Threshold); err != nil {
		return err
	}
	return printStaged(opts.streams, w)
}

type repoRenewOptions struct {
	streams
	Workspace string
	Role      string
}

func newRepoRenewCommand(std streams, ws *string) *cobra.Command {
	opts := repoRenewOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "renew --role root|targets|HOST",
		Short: "Stage a role again with a fresh expiry",
		Long: `Stage a new version of a role with nothing changed but its expiry, for the
maintainers to sign before the published one expires (repo status --check
warns when that time has come).`,
		Example: `  tufkeys repo renew --role targets`,
	}, func(*cobra.Command) error {
		return runRepoRenew(opts)
	})
	cmd.Flags().StringVar(&opts.Role, "role", "", "root, targets or a delegated registry host")
	return cmd
}

func runRepoRenew(opts repoRenewOptions) error {
	if opts.Role == "" {
		return usagef("--role is required: root, targets or a delegated registry host")
	}
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	if _, err := w.Renew(opts.Role); err != nil {
		return err
	}
	return printStaged(opts.streams, w)
}

type repoMigrateOptions struct {
	streams
	Workspace string
	Bins      int
}

func newRepoMigrateCommand(std streams, ws *string) *cobra.Command {
	opts := repoMigrateOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "migrate --bins N",
		Short: "Stage the move of a flat repository's key lists into hashed bins",
		Long: `Stage a new targets version that delegates the key lists to N hashed bins
(TAP 15, N a power of two), and every bin with the key lists whose paths hash
to it. The maintainers sign it like any change, and publish; clients follow
without a release, and from then on fetch only their registry's bin.`,
		Example: `  tufkeys repo migrate --bins 64`,
	}, func(*cobra.Command) error {
		return runRepoMigrate(opts)
	})
	cmd.Flags().IntVar(&opts.Bins, "bins", workspace.DefaultBins, "number of hashed bins, a power of two")
	return cmd
}

func runRepoMigrate(opts repoMigrateOptions) error {
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	bins, err := w.Migrate(opts.Bins)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "staged the move into %d hashed bins (%s … %s); the maintainers sign it, then publish\n", len(bins), bins[0], bins[len(bins)-1])
	return printStaged(opts.streams, w)
}

// readPublicKey reads a .pub file (keyfile.ReadPublic, the one reader of
// public keys) and names the key after the file: alice.pub is alice.
func readPublicKey(file string) (workspace.PublicKey, error) {
	pub, err := keyfile.ReadPublic(file)
	if err != nil {
		return workspace.PublicKey{}, err
	}
	return workspace.PublicKey{Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), Key: pub}, nil
}

// publishedLines folds the published bins that share a version and a
// re-sign state into one line, giving the range of their expiries.
func publishedLines(st workspace.Status) []string {
	byRole := map[string]workspace.PublishedRole{}
	for _, p := range st.Published {
		byRole[p.Role] = p
	}
	var out []string
	groups := binfold.Fold(st.Published, func(p workspace.PublishedRole) string { return p.Role },
		func(p workspace.PublishedRole) string { return fmt.Sprintf("v%d %t", p.Version, p.Due(st.Now)) })
	for _, g := range groups {
		first, last := byRole[g.Roles[0]].Expires, byRole[g.Roles[0]].Expires
		for _, r := range g.Roles[1:] {
			e := byRole[r].Expires
			if e.Before(first) {
				first = e
			}
			if e.After(last) {
				last = e
			}
		}
		when := "expires " + first.UTC().Format(time.RFC3339)
		if !first.Equal(last) {
			when = fmt.Sprintf("expire from %s to %s", first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
		}
		out = append(out, fmt.Sprintf("%s v%d, %s", g.Names(), byRole[g.Roles[0]].Version, when))
	}
	return out
}
