package main

import (
	"os"
	"testing"

	"github.com/tufkeys/tufkeys/client"
)

// TestMain keeps the build's sources (Sigstore's public-good repository)
// out of the tests: a command run without --root and --repo finds none,
// so no test reaches beyond loopback; a test that means a built-in source
// sets builtinSources itself.
func TestMain(m *testing.M) {
	builtinSources = func() []client.Source { return nil }
	os.Exit(m.Run())
}
