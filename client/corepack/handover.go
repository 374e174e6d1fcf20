package corepack

import (
	"context"
	"errors"
	"fmt"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

// ErrRefused marks a package manager version tufkeys verified and refused
// before the hand-over: it never reaches Corepack.
var ErrRefused = errors.New("refused before the hand-over")

// verdicts are the refusals of a version, as opposed to failures to read it.
var verdicts = []error{bundle.ErrUnknownKeyID, bundle.ErrBadSignature, bundle.ErrExpiredKey, bundle.ErrPublishTimeUnknown, bundle.ErrUnsigned}

// Check verifies the version Corepack is about to fetch from registryURL
// with the hosts' verified lists, refreshing them (under the client's
// refresh interval) when it is signed by a key they lack: so the lists
// handed over next hold the key a rotation introduced. A refusal is
// ErrRefused; a registry that cannot be read is returned as it is, for the
// caller to leave the decision to Corepack, which verifies with the same
// verified lists.
func Check(ctx context.Context, cl *client.Client, registryURL string, hosts []string, t Target) (refreshed bool, err error) {
	v, err := cl.VerifyPackage(ctx, registryURL, t.Package, t.Version, client.PackageOptions{KeysHosts: hosts})
	for _, verdict := range verdicts {
		if errors.Is(err, verdict) {
			return v.Refreshed, fmt.Errorf("%s (%s): %w: %w", t.ID(), t.From, ErrRefused, err)
		}
	}
	return v.Refreshed, err
}
