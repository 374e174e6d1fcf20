//go:build tufkeys_client

package main

import (
	"github.com/spf13/cobra"
)

// newWatchCommand is the thin client's watch: the transparency-log
// monitor alone. The registry watcher stages changes in a workspace, which
// the thin client does not link.
func newWatchCommand(std streams) *cobra.Command {
	opts := watchLogOptions{streams: std}
	var log bool
	cmd := &cobra.Command{
		Use:   "watch --log [--registry URL] [client flags]",
		Short: "Monitor the repository's transparency log",
		Long: `Verify the repository's transparency log from the state the last run saved,
check every root and registry it names against what the repository serves,
show the new entries, and exit 3 on anything that should not be (see
tufkeys watch --help in the full tool). This build monitors the log only:
the registry watcher, which stages changes, is in the full tufkeys.`,
		Example: `  tufkeys watch --log --repo https://keys.example.test/tuf`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !log {
				return usagef("this build of tufkeys watches the transparency log only: pass --log (the registry watcher is in the full tufkeys)")
			}
			return runWatchLog(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&log, "log", false, "monitor the repository's transparency log: verify it from the last run's state, show new entries, exit 3 on anything unexpected")
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "narrow the checks to this registry, and check its logged keys against its own endpoint")
	cmd.Flags().StringVar(&opts.LogState, "log-state", "", "where --log keeps its state between runs (default: the cache directory)")
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}
