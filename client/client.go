// Package client is what package managers call at install time: it keeps
// a verified cache of registry key lists from a tufkeys TUF repository,
// refreshes it when it is older than a max age or when a package is signed
// by a key it does not know (the rotation case), and never uses data that
// does not verify against the trusted root.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxAge         = time.Hour
	DefaultRequestTimeout = 20 * time.Second
)

var (
	// ErrNoRoot marks a client with no trusted root: none given, none embedded.
	ErrNoRoot = errors.New("no trusted root")
	// ErrNoRepository marks a client with no repository URL.
	ErrNoRepository = errors.New("no repository")
	// ErrUntrusted marks repository data that failed TUF verification:
	// tampered, rolled back, frozen, or signed by the wrong keys.
	ErrUntrusted = errors.New("repository data failed verification")
	// ErrNoKeyList marks a registry host the repository has no list for.
	ErrNoKeyList = errors.New("no key list for this registry")
	// ErrOffline marks an offline lookup the cache cannot answer.
	ErrOffline = errors.New("offline and not cached")
)

// Options configure a Client. Zero values take the documented defaults.
type Options struct {
	// Repositories are tried in order; the first that answers and verifies
	// is used. Default: the URLs embedded in the build.
	Repositories []string
	// TrustedRoot is the root of trust. Default: the root embedded in the
	// build.
	TrustedRoot []byte
	// CacheDir holds the verified cache. Default:
	// os.UserCacheDir()/tufkeys/<escaped first repository URL>.
	CacheDir string
	// MaxAge is how long the cache answers without asking the network.
	MaxAge time.Duration
	// Offline forbids network access: the cache answers while its
	// metadata has not expired, whatever its age.
	Offline bool
	// HTTPClient fetches the repository. Default: honours HTTPS_PROXY,
	// NO_PROXY and SSL_CERT_FILE.
	HTTPClient *http.Client
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
	// Logger gets warnings (network fallbacks, memory cache) and progress.
	Logger *slog.Logger
	// Clock is TUF's reference time; tests move it.
	Clock func() time.Time
	// Sequential turns off overlapping requests, for servers or harnesses
	// that expect one request at a time in the TUF specification's order.
	Sequential bool
	// AcceptExpired accepts metadata that expired up to this long ago, for
	// air-gapped networks fed by archives that age in transit. It weakens
	// the protection against freeze attacks by as much, is never the
	// default, and is bounded by MaxAcceptExpired.
	AcceptExpired time.Duration
}

// MaxAcceptExpired bounds Options.AcceptExpired.
const MaxAcceptExpired = 90 * 24 * time.Hour

// Client answers for registry key lists from a verified cache.
type Client struct {
	opts  Options
	http  *http.Client
	log   *slog.Logger
	cache *cache // nil when no cache directory is usable

	mu  sync.Mutex
	mem *memoryCache
}

// New checks the options and prepares the cache. It does no network I/O.
func New(opts Options) (*Client, error) {
	if len(opts.TrustedRoot) == 0 {
		opts.TrustedRoot = repometadata.Root()
	}
	if len(opts.TrustedRoot) == 0 {
		return nil, fmt.Errorf("%w: this build embeds no root of trust, so pass --root FILE or set TUFKEYS_ROOT to your repository's root.json", ErrNoRoot)
	}
	if len(opts.Repositories) == 0 {
		opts.Repositories = repometadata.Repositories()
	}
	if len(opts.Repositories) == 0 {
		return nil, fmt.Errorf("%w: this build names no repository, so pass --repo URL or set TUFKEYS_REPO", ErrNoRepository)
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.AcceptExpired < 0 || opts.AcceptExpired > MaxAcceptExpired {
		return nil, fmt.Errorf("accepting metadata expired up to %s ago is beyond the %s allowed: export a fresher archive instead", days(opts.AcceptExpired), days(MaxAcceptExpired))
	}
	if opts.AcceptExpired > 0 {
		opts.Logger.Warn("accepting metadata that expired up to " + days(opts.AcceptExpired) + " ago: protection against freeze attacks is weakened by as much")
	}
	c := &Client{opts: opts, http: opts.HTTPClient, log: opts.Logger}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if _, _, err := verifiedRoot(nil, opts.TrustedRoot, c.refTime()); err != nil {
		return nil, err
	}
	dir := opts.CacheDir
	var err error
	if dir == "" {
		dir, err = DefaultCacheDir(opts.Repositories[0])
	}
	if err == nil {
		cc := &cache{dir: dir}
		if err = cc.prepare(); err == nil {
			c.cache = cc
		}
	}
	if c.cache == nil {
		c.log.Warn("no usable cache directory; keeping verified metadata in memory for this run only, so every run fetches it again", "dir", dir, "reason", err)
	}
	return c, nil
}

// days writes a duration in days when it is a whole number of them.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// defaultHTTPClient honours HTTPS_PROXY and NO_PROXY through the standard
// transport, and SSL_CERT_FILE through the system certificate pool.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: t}
}

func (c *Client) now() time.Time { return c.opts.Clock().UTC() }

// refTime is TUF's reference time for expiry: now, or earlier by the
// accepted expiry.
func (c *Client) refTime() time.Time { return c.now().Add(-c.opts.AcceptExpired) }

// CacheDir is where the cache lives, empty when it is kept in memory.
func (c *Client) CacheDir() string {
	if c.cache == nil {
		return ""
	}
	return c.cache.dir
}

// Keys returns the verified key list of a registry (URL or host).
func (c *Client) Keys(ctx context.Context, registry string) (*bundle.KeyList, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return nil, err
	}
	data, err := c.target(ctx, bundle.TargetName(host), false)
	if err != nil {
		return nil, err
	}
	return parseList(host, data)
}

func parseList(host string, data []byte) (*bundle.KeyList, error) {
	p, err := bundle.Parse(data)
	if err != nil {
		return nil, invalidList(host, err)
	}
	return &p.List, nil
}

func invalidList(host string, err error) error {
	return fmt.Errorf("the repository's signed key list for %s does not validate (%v): its maintainers must fix it: %w", host, err, ErrUntrusted)
}

// Verdict is a verified version and how the client got there.
type Verdict struct {
	bundle.Result
	// Refreshed is set when an unknown keyid made the client refresh the
	// key list before the version verified.
	Refreshed bool
}

// VerifyVersion verifies a version's registry signatures with the key list
// of a registry. On an unknown keyid it refreshes once, whatever the
// cache's age, and tries again: that is how a rotation reaches clients.
func (c *Client) VerifyVersion(ctx context.Context, registry string, v bundle.Version) (Verdict, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return Verdict{}, err
	}
	name := bundle.TargetName(host)
	data, err := c.target(ctx, name, false)
	if err != nil {
		return Verdict{}, err
	}
	res, err := verifyWith(host, data, v)
	if !errors.Is(err, bundle.ErrUnknownKeyID) || c.opts.Offline {
		return Verdict{Result: res}, err
	}
	c.log.Info("signed by a key the cached list lacks; refreshing the key list", "package", v.ID(), "registry", host)
	fresh, rerr := c.target(ctx, name, true)
	if rerr != nil {
		return Verdict{Result: res}, fmt.Errorf("%w (refreshing the key list failed: %v)", err, rerr)
	}
	res, err = verifyWith(host, fresh, v)
	return Verdict{Result: res, Refreshed: true}, err
}

// verifyWith decodes a key list and lets NewVerifier validate it, once.
func verifyWith(host string, data []byte, v bundle.Version) (bundle.Result, error) {
	p, err := bundle.Decode(data)
	var ver *bundle.Verifier
	if err == nil {
		ver, err = bundle.NewVerifier(&p.List)
	}
	if err != nil {
		return bundle.Result{}, invalidList(host, err)
	}
	return ver.Verify(v)
}

// Refresh brings the cache up to date now, whatever its age: metadata and
// every key list it holds.
func (c *Client) Refresh(ctx context.Context) (string, error) {
	if c.opts.Offline {
		return "", fmt.Errorf("cannot refresh while offline: drop --offline or TUFKEYS_OFFLINE: %w", ErrOffline)
	}
	names := c.cachedNames()
	_, repo, err := c.refresh(ctx, names, true)
	return repo, err
}

func (c *Client) cachedNames() []string {
	if c.cache != nil {
		return c.cache.cachedTargets()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mem == nil {
		return nil
	}
	var names []string
	for n := range c.mem.targets {
		names = append(names, n)
	}
	return names
}

// target returns a verified target's bytes: from the cache when it is
// fresh, else through a refresh, else (network down) from an unexpired
// cache with a warning.
func (c *Client) target(ctx context.Context, name string, force bool) ([]byte, error) {
	if !force {
		if data, ok := c.cached(ctx, name, true); ok {
			return data, nil
		}
	}
	if c.opts.Offline {
		if data, ok := c.cached(ctx, name, false); ok {
			return data, nil
		}
		return nil, fmt.Errorf("no unexpired cached key list %s and --offline forbids fetching it: refresh while online, or import an archive: %w", name, ErrOffline)
	}
	got, _, err := c.refresh(ctx, []string{name}, force)
	if err == nil {
		return got[name], nil
	}
	if errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrUntrusted) {
		if data, ok := c.cached(ctx, name, false); ok {
			c.log.Warn("repository unreachable; using the cached key list, whose metadata has not expired", "target", name, "error", err)
			return data, nil
		}
		return nil, fmt.Errorf("%w, and the cache holds no unexpired copy of %s: check the network or the repository URL, and run tufkeys refresh once it is reachable", err, name)
	}
	return nil, err
}

// cached answers from the cache alone. With requireFresh it answers only
// while the cache is younger than the max age; either way only from
// metadata that verifies and has not expired.
func (c *Client) cached(ctx context.Context, name string, requireFresh bool) ([]byte, bool) {
	if c.cache == nil {
		return c.memCached(name, requireFresh)
	}
	unlock, err := c.cache.lock(ctx, false)
	if err != nil {
		return nil, false
	}
	defer unlock()
	return c.cachedLocked(name, requireFresh)
}

func (c *Client) cachedLocked(name string, requireFresh bool) ([]byte, bool) {
	now := c.now()
	if requireFresh {
		st := c.cache.readState()
		if st.CheckedAt.IsZero() || now.Sub(st.CheckedAt) >= c.opts.MaxAge || st.CheckedAt.After(now.Add(time.Minute)) {
			return nil, false
		}
	}
	l, err := loadVerified(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		return nil, false
	}
	tf, err := l.findTarget(c.cache, name)
	if err != nil {
		return nil, false
	}
	data, err := c.cache.readTarget(name, tf)
	if err != nil {
		return nil, false
	}
	return data, true
}

// ClearCache removes everything the cache holds.
func (c *Client) ClearCache(ctx context.Context) error {
	c.mu.Lock()
	c.mem = nil
	c.mu.Unlock()
	if c.cache == nil {
		return nil
	}
	unlock, err := c.cache.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	for _, name := range []string{stateFile, rootsDir, metadataDir, targetsDir} {
		if err := os.RemoveAll(filepath.Join(c.cache.dir, name)); err != nil {
			return fmt.Errorf("clear the cache: %w", err)
		}
	}
	return c.cache.prepare()
}
