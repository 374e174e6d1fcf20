package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/registry"
)

// PackageOptions tune VerifyPackage.
type PackageOptions struct {
	// KeysHosts are the registries whose key lists verify the version:
	// for a proxy, the origin's (and the proxy's, when it re-signs).
	// Default: the host of the registry the version is fetched from.
	KeysHosts []string
	// Published overrides the publish time the registry gives.
	Published time.Time
	// AcceptUnknownPublished lets a key with an expiry vouch for the
	// version when its publish time cannot be read (the verdict then says
	// ExpiryUnchecked). Off, such a version is refused with
	// bundle.ErrPublishTimeUnknown.
	AcceptUnknownPublished bool
}

// PackageVerdict is a verified package version.
type PackageVerdict struct {
	Verdict
	// PublishNote says why the publish time is unknown, when it is.
	PublishNote string
}

// VerifyPackage fetches a version's document and publish time from the
// registry at registryURL and verifies its signatures with the verified
// key lists, refreshing them once on an unknown keyid. Nothing the
// registry sends is trusted: the signatures decide, and the registry's
// answers are read within bounds.
func (c *Client) VerifyPackage(ctx context.Context, registryURL, name, version string, opts PackageOptions) (PackageVerdict, error) {
	rc, err := registry.New(registryURL, c.http, c.opts.RequestTimeout)
	if err != nil {
		return PackageVerdict{}, err
	}
	ver, note, err := rc.Version(ctx, name, version)
	if err != nil {
		return PackageVerdict{}, err
	}
	if !opts.Published.IsZero() {
		ver.Published, note = opts.Published, ""
	}
	ver.AcceptUnknownPublished = opts.AcceptUnknownPublished
	hosts := opts.KeysHosts
	if len(hosts) == 0 {
		hosts = []string{registryURL}
	}
	v, err := c.VerifyVersion(ctx, ver, hosts...)
	if errors.Is(err, bundle.ErrPublishTimeUnknown) && note != "" {
		err = fmt.Errorf("%w (%s)", err, note)
	}
	return PackageVerdict{Verdict: v, PublishNote: note}, err
}
