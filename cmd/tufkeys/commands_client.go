//go:build tufkeys_client

package main

// maintainerCommands: the thin client has none (scripts/build-client.sh).
func maintainerCommands() []namedCommand { return nil }

// maintainerUsage: the thin client meets no signer package's error.
func maintainerUsage(error) bool { return false }

// maintainerHint: the thin client meets no signer package's error.
func maintainerHint(error) string { return "" }
