package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/marked"
	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// Source is one TUF repository a client trusts: a root of trust and the
// URLs of the repository and its mirrors.
type Source = repometadata.Source

// BuiltinSources are the sources this build embeds, in the order they are
// asked: a deployment's own first, then Sigstore's public-good repository.
func BuiltinSources() []Source { return repometadata.Sources() }

// ErrNoSource marks a registry that no source's verified metadata lists.
var ErrNoSource = fmt.Errorf("no source lists this registry: %w", ErrNoKeyList)

// Sources are several TUF repositories asked in order, each with its own
// client and verified cache. A registry is answered by the first source
// whose verified metadata lists its key list (the standard TUF delegation
// search, in each source); a later source that lists it too is reported,
// never merged.
type Sources struct {
	list []SourceClient
}

// SourceClient is one source and its client.
type SourceClient struct {
	Source Source
	Client *Client
}

// NewSources makes a client for each source, with the options of base but
// the source's root and URLs. Each keeps its own cache: with base.CacheDir
// set and more than one source, a directory of that name under it; else
// the cache base names, or the default one per repository.
func NewSources(base Options, sources []Source) (*Sources, error) {
	if len(sources) == 0 {
		return nil, fmt.Errorf("%w: none was given and this build embeds none", ErrNoRoot)
	}
	s := &Sources{}
	seen := map[string]bool{}
	for _, src := range sources {
		if !sourceName().MatchString(src.Name) || seen[src.Name] {
			return nil, fmt.Errorf("the source name %q is not a unique name of letters, digits, '.', '_' and '-'", src.Name)
		}
		seen[src.Name] = true
		opts := base
		opts.TrustedRoot, opts.Repositories = src.Root, src.Repositories
		if base.CacheDir != "" && len(sources) > 1 {
			opts.CacheDir = filepath.Join(base.CacheDir, src.Name)
		}
		if opts.Logger != nil {
			opts.Logger = opts.Logger.With("source", src.Name)
		}
		c, err := New(opts)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		s.list = append(s.list, SourceClient{Source: src, Client: c})
	}
	return s, nil
}

// OneSource is the sources of one client: a root and URLs given by the
// caller, which replace the build's.
func OneSource(name string, c *Client) *Sources {
	return &Sources{list: []SourceClient{{Source: Source{Name: name, Root: c.opts.TrustedRoot, Repositories: c.Repositories()}, Client: c}}}
}

var sourceName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// Clients lists the sources in the order they are asked.
func (s *Sources) Clients() []SourceClient { return slices.Clone(s.list) }

// For returns the source that answers for a registry (URL or host): the
// first whose verified metadata lists its key list. A source that cannot
// say (unreachable with no unexpired cache, refused metadata) stops the
// search with its error: a later source never answers because an earlier
// one was blocked. A later source whose cache already lists the registry
// is reported in a warning.
func (s *Sources) For(ctx context.Context, registry string) (SourceClient, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return SourceClient{}, err
	}
	if len(s.list) == 1 {
		return s.list[0], nil
	}
	var asked []string
	for i, sc := range s.list {
		_, err := sc.Client.keyList(ctx, host, false)
		// offline, a source whose cache holds nothing for the host has no
		// say: the cache is all it has, and what is there verified
		if errors.Is(err, ErrNoTarget) || sc.Client.opts.Offline && errors.Is(err, ErrOffline) {
			asked = append(asked, sc.Source.Name)
			continue
		}
		if err != nil {
			return sc, fmt.Errorf("source %s: %w", sc.Source.Name, err)
		}
		for _, later := range s.list[i+1:] {
			if later.Client.cachedLists(ctx, bundle.TargetName(host)) {
				sc.Client.log.Warn("two sources list this registry; the first answers, and their lists are never merged",
					"registry", host, "answers", sc.Source.Name, "also", later.Source.Name)
			}
		}
		return sc, nil
	}
	return SourceClient{}, marked.Errorf(ErrNoSource, "no source lists a key list for %s (asked %s)", host, strings.Join(asked, ", "))
}

// cachedLists reports, without the network, whether the verified
// metadata the cache holds lists the target.
func (c *Client) cachedLists(ctx context.Context, targetPath string) bool {
	_, ok, err := c.answer(ctx, []string{targetPath}, false)
	return ok && err == nil
}

// Registries lists the registries the verified metadata names: key lists
// in the targets metadata the cache holds (with hashed bins, those of the
// bins fetched so far) and delegations named after a host.
func (c *Client) Registries(ctx context.Context) []string { return c.registries(ctx, true) }

// delegatedHosts are the hosts of the delegations whose paths are HOST/*.
func delegatedHosts(d *metadata.Delegations) []string {
	var out []string
	for _, r := range d.Roles {
		for _, p := range r.Paths {
			if host, ok := strings.CutSuffix(p, "/*"); ok && !strings.ContainsAny(host, "*?/[") {
				if _, err := bundle.RegistryHost(host); err == nil {
					out = append(out, host)
				}
			}
		}
	}
	return out
}
