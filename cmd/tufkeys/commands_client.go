//go:build tufkeys_client

package main

// maintainerCommands: the thin client has none (scripts/build-client.sh).
func maintainerCommands() []namedCommand { return nil }

// maintainerHint: the thin client meets no signer package's error.
func maintainerHint(error) string { return "" }
