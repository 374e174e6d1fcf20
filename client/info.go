package client

import (
	"context"
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
	if c.cache == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		info := CacheInfo{Problem: "no usable cache directory: the cache lives in memory for one run"}
		if c.mem != nil {
			info.CheckedAt = c.mem.checkedAt
			for n := range c.mem.targets {
				info.KeyLists = append(info.KeyLists, n)
			}
		}
		return info, nil
	}
	unlock, err := c.cache.lock(ctx, false)
	if err != nil {
		return CacheInfo{}, err
	}
	defer unlock()
	st := c.cache.readState()
	now := c.now()
	info := CacheInfo{Dir: c.cache.dir, Repository: st.Repository, CheckedAt: st.CheckedAt, KeyLists: c.cache.cachedTargets()}
	if st.CheckedAt.IsZero() {
		info.Problem = "never refreshed"
		return info, nil
	}
	l, err := loadVerified(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		info.Problem = err.Error()
		return info, nil
	}
	info.Verified = true
	info.Fresh = now.Sub(st.CheckedAt) < c.opts.MaxAge
	tm := l.tm
	info.Roles = []RoleInfo{
		{metadata.ROOT, tm.Root.Signed.Version, tm.Root.Signed.Expires},
		{metadata.TIMESTAMP, tm.Timestamp.Signed.Version, tm.Timestamp.Signed.Expires},
		{metadata.SNAPSHOT, tm.Snapshot.Signed.Version, tm.Snapshot.Signed.Expires},
		{metadata.TARGETS, tm.Targets[metadata.TARGETS].Signed.Version, tm.Targets[metadata.TARGETS].Signed.Expires},
	}
	return info, nil
}
