//go:build !tufkeys_client

package main

import (
	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/cmd/tufkeys/internal/demo"
)

func newDemoCommand(std streams) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Replay the January 2025 key rotation on loopback, no setup",
		Long: `Run the whole story on loopback, with no setup and no network beyond it: a
throwaway signing ceremony publishes the registry's key list as it was before
the January 2025 rotation; a client verifies a package signed with the old key
and refuses one signed with the new key (Corepack's failure); the maintainers
publish the rotated list; the same client picks it up by itself and verifies
the package; a man in the middle then swaps the key list and is refused.
Then the transparency log: with three witnesses on loopback, a maintainer
group holding every key signs a list with a key of its own for one client;
the client refuses it (not in the witnessed log); once they log it to get
past that, the monitor flags the key the registry does not serve.

Exit status 0 only if every step behaved as stated.`,
		Example: `  go run ./cmd/tufkeys demo`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo.Run(cmd.Context(), std.Out)
		},
	}
}
