//go:build !tufkeys_client

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/internal/redact"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/signer/watch"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

type watchOptions struct {
	streams
	Client    clientFlags
	Registry  string
	Workspace string
	Stage     bool
	Format    string
	// Every runs the watcher as a loop, once per period, until stopped;
	// empty: once.
	Every string
	// Rounds stops the loop after that many rounds; 0: never (tests).
	Rounds int
	// Log watches the repository's transparency log instead, from the
	// state in LogState (default: in the cache directory).
	Log      bool
	LogState string
	// UpstreamSource takes the registry's list from this built-in
	// source's verified metadata instead of the registry's endpoint.
	UpstreamSource string
	// jsonLines prints each JSON document on one line (the loop's rounds)
	jsonLines bool
}

// minWatchPeriod keeps a loop from hammering the registry.
const minWatchPeriod = time.Second

func newWatchCommand(std streams) *cobra.Command {
	opts := watchOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "watch --registry URL --repo URL [--workspace W --stage]",
		Short: "Compare a registry's live key list with the published one",
		Long: `Fetch the registry's live key list (/-/npm/v1/keys), validate it, and compare it
with the list the TUF repository publishes for that registry, verified.

Exit status: 0 when they match, 3 when they differ (the difference is
printed, with the commands that stage, sign and publish the change), 1 on
error.

With --every DURATION it runs as a long-lived loop for hosts without a
scheduler: one round per period, each round's result printed (with -o json,
one JSON document per line), a failed round reported and retried at the
next, until SIGINT or SIGTERM stops it (exit 0).

With --log it monitors the repository's transparency log instead: it
verifies the log from the state the last run saved (consistency from its
checkpoint), shows the new entries (those of --registry, when given), and
exits 3 on anything that should not be: a logged key the registry does not
serve at its own endpoint, an entry matching no version the repository
published, a newest entry the repository does not publish, a published list
missing from the log, a fork or a rollback of the log.

With --upstream-source NAME the registry's list comes from the built-in
source NAME (sigstore: Sigstore's public-good repository, where the
registry's operator signs its list) instead of the registry's own endpoint,
which only TLS protects: an organization's repository then follows the
registry's list through a verified channel.

With --stage, stage the change in the workspace for the maintainers to sign:
new keys and expiry changes only. A key that disappeared upstream is reported
as suspicious and kept: registries have omitted live keys by mistake. A
maintainer who confirms the removal stages it with repo stage --remove-key.`,
		Example: `  tufkeys watch --registry https://registry.example.test/ --repo https://keys.example.test/tuf
  tufkeys watch --registry https://registry.example.test/ --workspace ceremony --stage
  tufkeys watch --registry https://registry.example.test/ --every 5m
  tufkeys watch --registry https://registry.example.test/ --upstream-source sigstore --workspace ceremony --stage
  tufkeys watch --log --registry https://registry.example.test/ --repo https://keys.example.test/tuf`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Log && !givenOnCommandLine(cmd.Flags(), "workspace") {
				// TUFKEYS_WORKSPACE is for the commands that stage; the log
				// monitor stages nothing and leaves it alone
				opts.Workspace = ""
			}
			if opts.Every == "" {
				return runWatch(cmd.Context(), opts)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runWatchLoop(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "registry URL (default: npm_config_registry, then .npmrc)")
	cmd.Flags().StringVar(&opts.Workspace, "workspace", "", "ceremony workspace to stage the change in")
	cmd.Flags().BoolVar(&opts.Stage, "stage", false, "stage new keys and expiry changes for signing")
	cmd.Flags().StringVar(&opts.Every, "every", "", "run as a loop, one round per period, e.g. 5m, until stopped")
	cmd.Flags().BoolVar(&opts.Log, "log", false, "monitor the repository's transparency log: verify it from the last run's state, show new entries, exit 3 on anything unexpected")
	cmd.Flags().StringVar(&opts.LogState, "log-state", "", "where --log keeps its state between runs (default: the cache directory)")
	cmd.Flags().StringVar(&opts.UpstreamSource, "upstream-source", "", "take the registry's list from this built-in source's verified metadata (sigstore), not the registry's endpoint")
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

func runWatch(ctx context.Context, opts watchOptions) error {
	if opts.Log {
		if opts.Stage || opts.Workspace != "" {
			return usagef("--log monitors the transparency log and stages nothing: leave out --stage and --workspace")
		}
		return runWatchLog(ctx, watchLogOptions{streams: opts.streams, Client: opts.Client, Registry: opts.Registry, LogState: opts.LogState, Format: opts.Format, jsonLines: opts.jsonLines})
	}
	if opts.LogState != "" {
		return usagef("--log-state goes with --log")
	}
	if opts.Stage && opts.Workspace == "" {
		return usagef("--stage needs --workspace: the workspace to stage the change in")
	}
	reg, host, err := resolveRegistry(opts.Registry)
	if err != nil {
		return err
	}
	upstream, err := opts.upstream(reg)
	if err != nil {
		return err
	}
	cl, err := opts.currentClient()
	if err != nil {
		return err
	}
	wo := watch.Options{
		Host:     host,
		Upstream: upstream,
		Published: func(ctx context.Context, host string) (*bundle.KeyList, error) {
			list, err := cl.Keys(ctx, host)
			if errors.Is(err, client.ErrNoKeyList) {
				return nil, nil
			}
			return list, err
		},
		Stage: opts.Stage,
	}
	if opts.Workspace != "" {
		if wo.Workspace, err = workspace.Open(opts.Workspace); err != nil {
			return err
		}
	}
	res, err := watch.Run(ctx, wo)
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		r := watchReport{Registry: host, Same: res.Same(), Keys: len(res.Upstream.Keys), Added: keyIDs(res.Diff.Added), Redated: redatedIDs(res.Diff), Suspicious: keyIDs(res.Suspicious())}
		if res.Staged != nil {
			r.Staged = orNull(fmt.Sprintf("%s v%d", res.Staged.Role, res.Staged.Version))
		}
		if err := writeReport(opts.Out, r, opts.jsonLines); err != nil {
			return err
		}
		if r.Same {
			return nil
		}
		return exitError{code: exitDiffers}
	}
	if res.Same() {
		fmt.Fprintf(opts.Out, "%s: the registry's key list matches the published one (%d %s)\n", host, len(res.Upstream.Keys), plural(len(res.Upstream.Keys), "key", "keys"))
		return nil
	}
	fmt.Fprintf(opts.Out, "%s: the registry's key list differs from the published one:\n", host)
	for _, l := range (bundle.Diff{Added: res.Diff.Added, ExpiryChanged: res.Diff.ExpiryChanged}).Lines() {
		fmt.Fprintf(opts.Out, "  %s\n", l)
	}
	for _, k := range res.Suspicious() {
		fmt.Fprintf(opts.Out, "  - %s SUSPICIOUS: the registry no longer lists this published key; it stays published until a maintainer confirms with the registry and stages tufkeys repo stage --remove-key %s\n", k.KeyID, k.KeyID)
	}
	defer printNextSteps(opts, reg, res)
	switch {
	case res.Staged != nil && !res.Staged.Unchanged:
		fmt.Fprintf(opts.Out, "staged %s in %s v%d for signing (new keys and expiry changes only)\n", bundle.TargetName(host), res.Staged.Role, res.Staged.Version)
	case res.Staged != nil:
		fmt.Fprintf(opts.Out, "the change is already staged in %s v%d\n", res.Staged.Role, res.Staged.Version)
	case opts.Stage:
		fmt.Fprintln(opts.Out, "nothing staged: the registry only dropped keys, which a maintainer must confirm")
	}
	return exitError{code: exitDiffers}
}

// upstream is where the registry's list comes from: its endpoint, or the
// verified list of the built-in source --upstream-source names.
func (opts watchOptions) upstream(reg string) (func(context.Context) (*bundle.KeyList, error), error) {
	if opts.UpstreamSource == "" {
		rc, err := registry.New(reg, nil, 30*time.Second)
		if err != nil {
			return nil, usageError{err}
		}
		return rc.KeyList, nil
	}
	var src *client.Source
	for _, s := range builtinSources() {
		if s.Name == opts.UpstreamSource {
			src = &s
		}
	}
	if src == nil {
		return nil, usagef("--upstream-source %q is not a source of this build: tufkeys version lists them", opts.UpstreamSource)
	}
	// the source's own cache, not the one --cache names for the repository
	// being watched; it asks on every call, as the watcher does
	co := client.Options{Logger: warnLogger(opts.streams), MaxAge: client.Age(0)}
	srcs, err := client.NewSources(co, []client.Source{*src})
	if err != nil {
		return nil, err
	}
	cl := srcs.Clients()[0].Client
	return func(ctx context.Context) (*bundle.KeyList, error) {
		list, err := cl.Keys(ctx, reg)
		if err != nil {
			return nil, fmt.Errorf("the source %s: %w", src.Name, err)
		}
		return list, nil
	}, nil
}

// currentClient is the watcher's client: it asks on every call.
func (opts watchOptions) currentClient() (*client.Client, error) {
	return currentClient(opts.streams, opts.Client)
}

// printNextSteps names the commands that take a difference to clients:
// stage (unless staged), each maintainer's signature, the publish.
func printNextSteps(opts watchOptions, reg string, res watch.Result) {
	ws := opts.Workspace
	if ws == "" {
		ws = "WORKSPACE"
	}
	if len(res.Diff.Added) == 0 && len(res.Diff.ExpiryChanged) == 0 {
		return
	}
	fmt.Fprintln(opts.Out, "to publish it:")
	if res.Staged == nil {
		fmt.Fprintf(opts.Out, "  stage:   tufkeys watch --registry %s --workspace %s --stage\n", redact.URL(reg), ws)
	}
	fmt.Fprintf(opts.Out, "  sign:    tufkeys repo sign --workspace %s --key YOUR.key   (each maintainer, until the threshold is met)\n", ws)
	fmt.Fprintf(opts.Out, "  publish: tufkeys repo publish --workspace %s --online-key ONLINE.key --to DESTINATION\n", ws)
}

// runWatchLoop runs a round per period until ctx ends: a failed round is
// reported and the next one runs; a usage error ends the loop at once.
func runWatchLoop(ctx context.Context, opts watchOptions) error {
	every, err := duration.Parse(opts.Every)
	if err != nil {
		return usagef("--every: %v", err)
	}
	if every < minWatchPeriod {
		return usagef("--every %s is shorter than %s: a registry is not to be polled that often", opts.Every, minWatchPeriod)
	}
	// with -o json, one document per line: a consumer reads a round a line
	opts.jsonLines = true
	tick := time.NewTicker(every)
	defer tick.Stop()
	for round := 1; ; round++ {
		if opts.Format != "json" {
			fmt.Fprintf(opts.Out, "%s round %d\n", time.Now().UTC().Format(time.RFC3339), round)
		}
		err := runWatch(ctx, opts)
		var ue usageError
		var ee exitError
		switch {
		case errors.As(err, &ue) || isMissingSetting(err):
			return err
		case errors.As(err, &ee):
			// a difference: reported above; the loop goes on
		case err != nil && ctx.Err() == nil:
			warn(opts.streams, fmt.Sprintf("round %d failed (%s); trying again in %s", round, oneLine(err.Error()), duration.String(every)))
		}
		if opts.Rounds > 0 && round >= opts.Rounds {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
