package store

import (
	"context"
	"strings"
)

// Options configure object-store destinations; directories ignore them.
type Options struct {
	// EndpointURL points at an S3-compatible store instead of AWS.
	EndpointURL string
	// PathStyle addresses buckets as ENDPOINT/BUCKET rather than as a
	// host name, as most S3-compatible stores need.
	PathStyle bool
	// Region overrides the region from the AWS configuration.
	Region string
	// Cache decides the Cache-Control of what is written to S3 (a
	// directory's server decides its own). Nil: DefaultCachePolicy.
	Cache *CachePolicy
}

// Open returns the store a destination names: s3://BUCKET/PREFIX, or else a
// local directory.
func Open(ctx context.Context, dest string, opts Options) (Store, error) {
	if rest, ok := strings.CutPrefix(dest, "s3://"); ok {
		return OpenS3(ctx, rest, opts)
	}
	return NewDir(dest)
}
