// Package watch compares a registry's live key list with the list the TUF
// repository publishes for it, and stages what the registry added or
// re-dated for the maintainers to sign. A key that disappeared upstream is
// reported as suspicious and kept: in January 2025 the registry's endpoint
// omitted its old key by mistake, and a watcher that followed it blindly
// would have broken every package signed with that key.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package watch

import (
	"context"
	"errors"
	"fmt"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// ErrNoWorkspace marks a request to stage without a workspace to stage in.
var ErrNoWorkspace = errors.New("staging needs a workspace")

// Options wire the watcher to its two sources and, to stage, a workspace.
type Options struct {
	// Host is the registry host whose list is compared.
	Host string
	// Upstream fetches and validates the registry's live list.
	Upstream func(ctx context.Context) (*bundle.KeyList, error)
	// Published returns the list the repository publishes for the host,
	// verified with TUF; nil, nil when it publishes none.
	Published func(ctx context.Context, host string) (*bundle.KeyList, error)
	// Workspace receives the staged change when Stage is set.
	Workspace *workspace.Workspace
	Stage     bool
}

// Result is what the watcher found and did.
type Result struct {
	Host string
	// Diff is from the published list to the registry's.
	Diff bundle.Diff
	// Upstream is the registry's list, as fetched.
	Upstream *bundle.KeyList
	// Staged is set when a change was staged.
	Staged *workspace.StageResult
}

// Same reports whether the registry serves what the repository publishes.
func (r Result) Same() bool { return r.Diff.Empty() }

// Suspicious lists published keys the registry no longer serves.
func (r Result) Suspicious() []bundle.Key { return r.Diff.Removed }

// Run compares, and stages when asked: new keys and expiry changes only.
func Run(ctx context.Context, opts Options) (Result, error) {
	res := Result{Host: opts.Host}
	if opts.Stage && opts.Workspace == nil {
		return res, ErrNoWorkspace
	}
	up, err := opts.Upstream(ctx)
	if err != nil {
		return res, err
	}
	res.Upstream = up
	published, err := opts.Published(ctx, opts.Host)
	if err != nil {
		return res, fmt.Errorf("read the published list for %s: %w", opts.Host, err)
	}
	res.Diff = bundle.Compare(published, up)
	if !opts.Stage || len(res.Diff.Added) == 0 && len(res.Diff.ExpiryChanged) == 0 {
		return res, nil
	}
	if published == nil {
		// a typo in a job's registry list must not add a registry
		return res, fmt.Errorf("the repository publishes no key list for %s, and the watcher stages changes only to the registries it publishes: %w", opts.Host, ErrNotPublished)
	}
	merged := Merge(published, up)
	data, err := bundle.Encode(merged, bundle.FormNPM)
	if err != nil {
		return res, err
	}
	items, err := opts.Workspace.StageMany([]workspace.StageItem{{Registry: opts.Host, List: data}})
	if err != nil {
		return res, fmt.Errorf("stage the change for %s: %w", opts.Host, err)
	}
	res.Staged = &items[0]
	return res, nil
}

// ErrNotPublished marks a registry the repository publishes no list for,
// which watch does not add.
var ErrNotPublished = errors.New("the registry is not published")

// Merge is the list to stage: every published key, re-dated as the
// registry now dates it, then the keys the registry added. Keys the
// registry dropped stay until a maintainer removes them.
func Merge(published, upstream *bundle.KeyList) *bundle.KeyList {
	if published == nil {
		return &bundle.KeyList{Keys: append([]bundle.Key(nil), upstream.Keys...)}
	}
	out := &bundle.KeyList{}
	for _, k := range published.Keys {
		if u, ok := upstream.Find(k.KeyID); ok {
			k.Expires = u.Expires
		}
		out.Keys = append(out.Keys, k)
	}
	for _, k := range upstream.Keys {
		if _, ok := published.Find(k.KeyID); !ok {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}
