//go:build !tufkeys_client

package main

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/store/s3"
)

// addStoreFlags are the flags of every command that writes a repository.
func addStoreFlags(f *pflag.FlagSet, o *s3.Options) {
	f.StringVar(&o.EndpointURL, "endpoint-url", "", "S3-compatible endpoint, e.g. http://127.0.0.1:7070")
	f.BoolVar(&o.PathStyle, "path-style", false, "address S3 buckets by path (most S3-compatible stores need it)")
	f.StringVar(&o.Region, "region", "", "S3 region (default: from the AWS configuration)")
	f.Var(&cacheLife{&o.Cache}, "timestamp-max-age", "how long CDNs and proxies may cache timestamp.json, e.g. 1m; 0 never (default 1m)")
}

// cacheLife is --timestamp-max-age: a duration, 0 for never cached.
type cacheLife struct{ p **store.CachePolicy }

func (c *cacheLife) String() string {
	if c.p == nil || *c.p == nil {
		return ""
	}
	return duration.String((*c.p).TimestampMaxAge)
}

func (c *cacheLife) Set(s string) error {
	d, err := duration.Parse(s)
	if err != nil {
		return err
	}
	*c.p = &store.CachePolicy{TimestampMaxAge: d}
	return nil
}

func (c *cacheLife) Type() string { return "duration" }

// pagePolicy is the cache policy p (nil: the default) with the status
// page among the files rewritten in place.
func pagePolicy(p *store.CachePolicy) *store.CachePolicy {
	policy := store.DefaultCachePolicy
	if p != nil {
		policy = *p
	}
	policy.Rewritten = statuspage.Files
	return &policy
}

// openDestination opens the store a destination names: s3://BUCKET/PREFIX,
// or else a local directory.
func openDestination(ctx context.Context, dest string, opts s3.Options) (store.Store, error) {
	if rest, ok := strings.CutPrefix(dest, "s3://"); ok {
		opts.Cache = pagePolicy(opts.Cache)
		return s3.Open(ctx, rest, opts)
	}
	return store.NewDir(dest)
}
