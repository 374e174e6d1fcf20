package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// memoryCache stands in for the cache directory when none is usable: the
// verified key lists of this run, with the time they were checked and the
// earliest expiry of the metadata that vouched for them.
type memoryCache struct {
	targets   map[string][]byte
	checkedAt time.Time
	expires   time.Time
}

func (c *Client) memCached(name string, requireFresh bool) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.mem == nil || !c.refTime().Before(c.mem.expires) {
		return nil, false
	}
	if requireFresh && now.Sub(c.mem.checkedAt) >= c.opts.MaxAge {
		return nil, false
	}
	data, ok := c.mem.targets[name]
	return data, ok
}

// refresh runs a TUF update against each repository in turn until one
// succeeds, and returns the requested targets and the repository used.
// Concurrent refreshes of one cache directory, in this process or others,
// take turns under the cache's lock; one that finds the cache freshly
// refreshed by another uses it without asking the network.
func (c *Client) refresh(ctx context.Context, names []string, force bool) (map[string][]byte, string, error) {
	return c.refreshFrom(ctx, c.opts.Repositories, names, force)
}

func (c *Client) refreshFrom(ctx context.Context, repos []string, names []string, force bool) (map[string][]byte, string, error) {
	started := c.now()
	if c.cache != nil {
		unlock, err := c.cache.lock(ctx, true)
		if err != nil {
			return nil, "", err
		}
		defer unlock()
		if st := c.cache.readState(); !force || st.CheckedAt.After(started) {
			if got, ok := c.allCached(names); ok {
				return got, st.Repository, nil
			}
		}
	}
	var failures []string
	var errs []error
	for _, repo := range repos {
		got, err := c.attempt(ctx, repo, names)
		if err == nil {
			if len(failures) > 0 {
				c.log.Warn("used a later repository after earlier ones failed", "repository", redact(repo), "failures", strings.Join(failures, "; "))
			}
			c.log.Info("refreshed", "repository", redact(repo))
			return got, repo, nil
		}
		failures = append(failures, err.Error())
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, "", errs[0]
	}
	return nil, "", fmt.Errorf("every repository failed: %s: %w", strings.Join(failures, "; "), errors.Join(errs...))
}

func (c *Client) allCached(names []string) (map[string][]byte, bool) {
	got := map[string][]byte{}
	for _, n := range names {
		data, ok := c.cachedLocked(n, true)
		if !ok {
			return nil, false
		}
		got[n] = data
	}
	return got, true
}

// unchanged is the common case of a stale cache: no new root, and
// timestamp.json answers 304 Not Modified (or the same bytes). Then the
// cached metadata is still the newest, and the cache answers once it
// verifies again at the current time, which TUF's own workflow would do
// with the same files, without copying them through go-tuf.
func (c *Client) unchanged(f *fetcher, repo string, names []string, nextRoot int64, cachedTimestamp []byte, now time.Time) (map[string][]byte, bool) {
	if c.cache == nil || cachedTimestamp == nil || f.sequential {
		return nil, false
	}
	// verify the cache while the two requests are on the wire
	local := make(chan map[string][]byte, 1)
	go func() {
		got := map[string][]byte{}
		for _, n := range names {
			data, ok := c.cachedLocked(n, false)
			if !ok {
				local <- nil
				return
			}
			got[n] = data
		}
		local <- got
	}()
	root, _ := f.wait(f.url(strconv.FormatInt(nextRoot, 10) + ".root.json"))
	ts, _ := f.wait(f.url("timestamp.json"))
	got := <-local
	switch root.code {
	case http.StatusNotFound, http.StatusForbidden, http.StatusGone:
	default:
		return nil, false
	}
	if got == nil || ts.err != nil || !bytes.Equal(ts.data, cachedTimestamp) {
		return nil, false
	}
	etag := ts.etag
	if etag == "" {
		etag = f.etag
	}
	if err := c.cache.writeState(state{Repository: repo, CheckedAt: now, TimestampETag: etag}); err != nil {
		return nil, false
	}
	return got, true
}

// attempt is one TUF update from one repository, through go-tuf's updater,
// in a work directory that holds a copy of the cache: only when every step
// verifies does the result replace the cache, so a failed or hostile
// update leaves the cache as it was.
func (c *Client) attempt(ctx context.Context, repo string, names []string) (map[string][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	now := c.now()
	var prev state
	var cachedTimestamp []byte
	if c.cache != nil {
		prev = c.cache.readState()
		if prev.Repository == repo && prev.TimestampETag != "" {
			cachedTimestamp, _ = c.cache.read(metadataDir, "timestamp.json")
		}
	}
	f := newFetcher(ctx, c, repo, prev.TimestampETag, cachedTimestamp)
	if err := f.openArchive(); err != nil {
		return nil, err
	}
	f.wanted = names
	if c.cache != nil {
		f.have = c.cache.versions(names)
	}
	// the requests start before the root chain is verified: which root to
	// probe for is a guess from the cache's file names, and go-tuf asks
	// again for anything else
	nextRoot := c.guessNextRoot()
	f.begin(nextRoot)
	rootBytes, tm, err := verifiedRoot(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		return nil, err
	}
	if cachedTimestamp != nil && !signedTimestamp(tm.Root, cachedTimestamp) {
		// a 304 would hand go-tuf a cached copy that does not verify
		f.dropConditional()
		cachedTimestamp = nil
	}
	if tm.Root.Signed.Version+1 == nextRoot {
		if got, ok := c.unchanged(f, repo, names, nextRoot, cachedTimestamp, now); ok {
			return got, nil
		}
	}
	var work string
	if c.cache != nil {
		if work, err = os.MkdirTemp(c.cache.dir, ".work-"); err != nil {
			return nil, fmt.Errorf("prepare the cache: %w", err)
		}
		defer os.RemoveAll(work)
		if err := c.cache.copyInto(work); err != nil {
			return nil, fmt.Errorf("prepare the cache: %w", err)
		}
	}
	cfg, err := config.New(repo, rootBytes)
	if err != nil {
		return nil, fmt.Errorf("repository URL %s: %w", redact(repo), err)
	}
	cfg.Fetcher = f
	if work == "" {
		cfg.DisableLocalCache = true
	} else {
		cfg.LocalMetadataDir = filepath.Join(work, metadataDir)
		cfg.LocalTargetsDir = filepath.Join(work, targetsDir)
	}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, explain(repo, err, f)
	}
	up.UnsafeSetRefTime(c.refTime())
	if err := up.Refresh(); err != nil {
		return nil, explain(repo, err, f)
	}
	got := map[string][]byte{}
	for _, name := range names {
		info, err := up.GetTargetInfo(name)
		if err != nil {
			if strings.Contains(err.Error(), "not found") && !errors.Is(err, &metadata.ErrRepository{}) {
				return nil, fmt.Errorf("the repository at %s has no key list %s: check the registry host (--registry or --keys-host): %w", redact(repo), name, ErrNoKeyList)
			}
			return nil, explain(repo, err, f)
		}
		var data []byte
		if work != "" {
			_, data, _ = up.FindCachedTarget(info, "")
		}
		if data == nil {
			if _, data, err = up.DownloadTarget(info, "", ""); err != nil {
				return nil, explain(repo, err, f)
			}
		}
		if _, err := parseList(strings.TrimSuffix(name, "/keys.json"), data); err != nil {
			return nil, err
		}
		got[name] = data
	}
	trusted := up.GetTrustedMetadataSet()
	if work == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mem == nil {
			c.mem = &memoryCache{targets: map[string][]byte{}}
		}
		for n, d := range got {
			c.mem.targets[n] = d
		}
		c.mem.checkedAt = now
		c.mem.expires = earliestExpiry(trusted.Timestamp.Signed.Expires, trusted.Snapshot.Signed.Expires, trusted.Targets[metadata.TARGETS].Signed.Expires, trusted.Root.Signed.Expires)
		return got, nil
	}
	st := state{Repository: repo, CheckedAt: now, TimestampETag: f.newETag}
	if err := c.cache.commit(work, f.roots, st); err != nil {
		return nil, fmt.Errorf("save the verified metadata in %s: %w", c.cache.dir, err)
	}
	return got, nil
}

func earliestExpiry(ts ...time.Time) time.Time {
	min := ts[0]
	for _, t := range ts[1:] {
		if t.Before(min) {
			min = t
		}
	}
	return min
}

// explain turns go-tuf's errors into one sentence that says what happened
// and what it means, keeping the error kinds for errors.Is.
func explain(repo string, err error, f *fetcher) error {
	r := redact(repo)
	file := "a file"
	if name := f.lastFile(); name != "" && name != "." {
		file = name
	}
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		return fmt.Errorf("the repository at %s serves expired metadata (%v): a freeze attack, or a repository whose timestamp is no longer re-signed; refusing it: %w", r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		return fmt.Errorf("the repository at %s serves older metadata than this client has already verified (%v): a rollback attack or a stale mirror; refusing it: %w", r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return fmt.Errorf("metadata from %s lacks the signatures the trusted root requires (%v): tampered, or signed by keys outside the root of trust; refusing it: %w", r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		return fmt.Errorf("%s from %s does not match the length or hash its signed metadata lists (%v): tampered in transit or on the server; refusing it: %w", file, r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrDownloadLengthMismatch{}):
		return fmt.Errorf("%s sent more data than its signed metadata allows (%v); refusing it: %w", r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrRepository{}), errors.Is(err, &metadata.ErrValue{}), errors.Is(err, &metadata.ErrType{}):
		return fmt.Errorf("the repository at %s serves metadata that does not verify (%v); refusing it: %w", r, err, ErrUntrusted)
	}
	return fmt.Errorf("the update from %s failed and its data is not used (%v): %w", r, err, ErrUntrusted)
}

// guessNextRoot is the root version the update will probe for, read from
// file names alone.
func (c *Client) guessNextRoot() int64 {
	var trusted struct {
		Signed struct{ Version int64 } `json:"signed"`
	}
	json.Unmarshal(c.opts.TrustedRoot, &trusted)
	v := trusted.Signed.Version
	if c.cache != nil {
		for {
			if _, err := os.Stat(c.cache.path(rootsDir, strconv.FormatInt(v+1, 10)+".root.json")); err != nil {
				break
			}
			v++
		}
	}
	return v + 1
}

// signedTimestamp reports whether cached timestamp bytes parse and carry
// the root's timestamp signatures, so that revalidating them makes sense.
func signedTimestamp(root *metadata.Metadata[metadata.RootType], data []byte) bool {
	ts, err := metadata.Timestamp().FromBytes(data)
	return err == nil && root.VerifyDelegate(metadata.TIMESTAMP, ts) == nil
}
