package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/signer/watch"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// exitDiffers is watch's exit status when the lists differ.
const exitDiffers = 3

type watchOptions struct {
	streams
	Client    clientFlags
	Registry  string
	Workspace string
	Stage     bool
	Format    string
}

func newWatchCommand(std streams) *cobra.Command {
	opts := watchOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "watch --registry URL --repo URL [--workspace W --stage]",
		Short: "Compare a registry's live key list with the published one",
		Long: `Fetch the registry's live key list (/-/npm/v1/keys), validate it, and compare it
with the list the TUF repository publishes for that registry, verified.

Exit status: 0 when they match, 3 when they differ (the difference is
printed), 1 on error.

With --stage, stage the change in the workspace for the maintainers to sign:
new keys and expiry changes only. A key that disappeared upstream is reported
as suspicious and kept: registries have omitted live keys by mistake. A
maintainer who confirms the removal stages it with repo stage --remove-key.`,
		Example: `  tufkeys watch --registry https://registry.example.test/ --repo https://keys.example.test/tuf
  tufkeys watch --registry https://registry.example.test/ --workspace ceremony --stage`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runWatch(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "registry URL (default: npm_config_registry, then .npmrc)")
	cmd.Flags().StringVar(&opts.Workspace, "workspace", "", "ceremony workspace to stage the change in")
	cmd.Flags().BoolVar(&opts.Stage, "stage", false, "stage new keys and expiry changes for signing")
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

func runWatch(ctx context.Context, opts watchOptions) error {
	if opts.Stage && opts.Workspace == "" {
		return usagef("--stage needs --workspace: the workspace to stage the change in")
	}
	reg, host, err := resolveRegistry(opts.Registry)
	if err != nil {
		return err
	}
	rc, err := registry.New(reg, nil, 30*time.Second)
	if err != nil {
		return usageError{err}
	}
	co, err := opts.Client.options(opts.streams)
	if err != nil {
		return err
	}
	// the comparison is with what the repository publishes now
	co.MaxAge = client.Age(0)
	cl, err := client.New(co)
	if err != nil {
		return err
	}
	wo := watch.Options{
		Host:     host,
		Upstream: rc.KeyList,
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
			r.Staged = fmt.Sprintf("%s v%d", res.Staged.Role, res.Staged.Version)
		}
		if err := writeJSON(opts.Out, r); err != nil {
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
