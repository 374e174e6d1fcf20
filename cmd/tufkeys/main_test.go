package main

import (
	"os"
	"testing"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/registry"
)

// TestMain keeps the build's sources (Sigstore's public-good repository)
// out of the tests: a command run without --root and --repo finds none,
// so no test reaches beyond loopback; a test that means a built-in source
// sets builtinSources itself.
func TestMain(m *testing.M) {
	builtinSources = func() []client.Source { return nil }
	// and npm's default registry too: a test names its loopback registry
	registry.NPMDefault = func() (string, error) { return "", registry.ErrNoRegistry }
	os.Exit(m.Run())
}
