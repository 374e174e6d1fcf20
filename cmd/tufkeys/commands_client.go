//go:build tufkeys_client

package main

// maintainerCommands: the thin client has none of the maintainers'
// commands (scripts/build-client.sh), and the log monitor of watch.
func maintainerCommands() []namedCommand {
	return []namedCommand{{"watch", newWatchCommand}}
}

// maintainerUsage: the thin client meets no signer package's error.
func maintainerUsage(error) bool { return false }

// maintainerHint: the thin client meets no signer package's error.
func maintainerHint(error) string { return "" }
