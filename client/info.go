package client

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// RoleInfo is one cached role's version and expiry.
type RoleInfo struct {
	Role    string
	Version int64
	Expires time.Time
}

// CacheInfo describes what the cache holds.
type CacheInfo struct {
	Dir        string // empty when the cache is kept in memory
	Repository string // the repository of the last refresh
	CheckedAt  time.Time
	// Fresh is set while the cache answers without the network.
	Fresh bool
	// Verified is set when the cached metadata verifies and has not
	// expired; Problem says why not otherwise.
	Verified bool
	Problem  string
	Roles    []RoleInfo
	KeyLists []string // target names, e.g. registry.example.test/keys.json
}

// CacheInfo reports on the cache without touching the network.
func (c *Client) CacheInfo(ctx context.Context) (CacheInfo, error) {
	unlock, err := c.cache.lock(ctx, false)
	if err != nil {
		return CacheInfo{}, err
	}
	defer unlock()
	set := c.cache.record(answerRecord)
	now := c.now()
	info := CacheInfo{Dir: c.dir, Repository: set.Repository, CheckedAt: set.CheckedAt, KeyLists: slices.Sorted(maps.Keys(set.Targets))}
	if c.dir == "" {
		info.Problem = "no usable cache directory: the cache lives in memory for one run"
	}
	if set.CheckedAt.IsZero() {
		if info.Problem == "" {
			info.Problem = "never refreshed"
		}
		return info, nil
	}
	s, err := c.openSet(set)
	if err != nil {
		info.Problem = err.Error()
		return info, nil
	}
	info.Verified = true
	info.Fresh = now.Sub(set.CheckedAt) < c.maxAge
	tm := s.tm
	info.Roles = []RoleInfo{
		{metadata.ROOT, tm.Root.Signed.Version, tm.Root.Signed.Expires},
		{metadata.TIMESTAMP, tm.Timestamp.Signed.Version, tm.Timestamp.Signed.Expires},
		{metadata.SNAPSHOT, tm.Snapshot.Signed.Version, tm.Snapshot.Signed.Expires},
		{metadata.TARGETS, tm.Targets[metadata.TARGETS].Signed.Version, tm.Targets[metadata.TARGETS].Signed.Expires},
	}
	return info, nil
}
