// Package client is what package managers call at install time: it keeps
// a verified cache of registry key lists from a tufkeys TUF repository,
// refreshes it when it is older than a max age or when a package is signed
// by a key it does not know (the rotation case), and never uses data that
// does not verify against the trusted root.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/internal/nearest"
	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// Defaults for Options fields left unset.
const (
	DefaultMaxAge         = time.Hour
	DefaultRequestTimeout = 20 * time.Second
	DefaultLockWait       = 2 * time.Minute
	// DefaultRefreshInterval is the least time between two refreshes that
	// what a caller met forces (an unknown keyid, an unknown registry).
	DefaultRefreshInterval = time.Minute
)

var (
	// ErrNoRoot marks a client with no trusted root: none given, none embedded.
	ErrNoRoot = errors.New("no trusted root")
	// ErrNoRepository marks a client with no repository URL.
	ErrNoRepository = errors.New("no repository")
	// ErrUntrusted marks repository data that failed TUF verification:
	// tampered, rolled back, frozen, or signed by the wrong keys.
	ErrUntrusted = errors.New("repository data failed verification")
	// ErrInconsistent marks a repository that does not serve a file its
	// own verified metadata names, or serves it with another length or
	// hash: a publish half done, a broken mirror, or tampering in transit.
	ErrInconsistent = errors.New("repository inconsistent")
	// ErrNoTarget marks a target path the repository's verified metadata
	// does not list.
	ErrNoTarget = errors.New("no such target")
	// ErrNoKeyList marks a registry host the repository has no list for;
	// it is also an ErrNoTarget.
	ErrNoKeyList = fmt.Errorf("no key list for this registry: %w", ErrNoTarget)
	// ErrOffline marks an offline lookup the cache cannot answer.
	ErrOffline = errors.New("offline and not cached")
	// ErrUnsafeCache marks a cache directory that another user owns or
	// may write, or that holds a symbolic link: tufkeys refuses to use it.
	ErrUnsafeCache = errors.New("unsafe cache directory")
)

// Options configure a Client. Unset fields take the documented defaults.
type Options struct {
	// Repositories are tried in order; the first that answers and verifies
	// is used. Default: the URLs embedded in the build.
	Repositories []string
	// TargetBaseURL is where target files are fetched from. Default: the
	// targets/ folder of the repository in use.
	TargetBaseURL string
	// TrustedRoot is the root of trust. Default: the root embedded in the
	// build.
	TrustedRoot []byte
	// CacheDir holds the verified cache. Default:
	// os.UserCacheDir()/tufkeys/<escaped first repository URL>.
	CacheDir string
	// MaxAge is how long the cache answers without asking the network:
	// nil takes DefaultMaxAge, Age(0) asks the network on every call.
	MaxAge *time.Duration
	// Offline forbids network access: the cache answers while its
	// metadata has not expired, whatever its age.
	Offline bool
	// HTTPClient fetches the repository. Default: honours HTTPS_PROXY,
	// NO_PROXY and SSL_CERT_FILE.
	HTTPClient *http.Client
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
	// LockWait bounds how long one call waits, in all, for other processes
	// using the same cache (an update holds it for a few requests).
	// Default: DefaultLockWait.
	LockWait time.Duration
	// Logger gets warnings (network fallbacks, memory cache) and progress.
	Logger *slog.Logger
	// Clock is TUF's reference time; tests move it.
	Clock func() time.Time
	// Sequential turns off overlapping requests, for servers or harnesses
	// that expect one request at a time in the TUF specification's order.
	Sequential bool
	// NoFallback fails a lookup when the repository is unreachable or
	// inconsistent, instead of answering from the unexpired cache with a
	// warning, as the TUF specification's client workflow does.
	NoFallback bool
	// RefreshInterval is the least time between two refreshes forced by
	// an unknown keyid or by a registry the fresh metadata does not list,
	// kept in the cache so that it holds across processes: whoever can
	// make a client meet unknown keyids cannot make it ask the repository
	// on every call. nil takes DefaultRefreshInterval; Age(0) turns it off.
	RefreshInterval *time.Duration
	// AcceptExpired accepts metadata that expired up to this long ago, for
	// air-gapped networks fed by archives that age in transit. It weakens
	// the protection against freeze attacks by as much, is never the
	// default, and is bounded by MaxAcceptExpired.
	AcceptExpired time.Duration
}

// Age is a max age for Options.MaxAge.
func Age(d time.Duration) *time.Duration { return &d }

// MaxAcceptExpired bounds Options.AcceptExpired.
const MaxAcceptExpired = 90 * 24 * time.Hour

// Client answers for registry key lists, and any other target of the
// repository, from a verified cache.
type Client struct {
	opts   Options
	maxAge time.Duration
	// interval is Options.RefreshInterval with its default
	interval time.Duration
	http     *http.Client
	log      *slog.Logger
	cache    cache
	dir      string // empty when the cache is kept in memory
	// memo keeps the answer set as last verified, for a long-lived
	// client's next fresh answer
	memo answerMemo
	// anchor is the sha256 of the trusted root, which an answer set must
	// have been verified from to be read without verifying it again
	anchor string
	// rootChecked verifies the trusted root's signatures once, when the
	// network is first needed; a fresh answer from the cache needs no check
	rootChecked func() error
	// parses, set only by tests, counts the metadata files handed to
	// go-tuf to parse and verify
	parses *parseLog
}

// parseLog counts parses by role and sha256 of the bytes.
type parseLog struct {
	mu    sync.Mutex
	count map[string]int
}

// parsing notes that data, a file of role, is about to be parsed and
// verified.
func (c *Client) parsing(role string, data []byte) {
	if c.parses == nil {
		return
	}
	c.parses.mu.Lock()
	defer c.parses.mu.Unlock()
	c.parses.count[role+" "+session.ObjectName(data)]++
}

// withBuiltinSource fills a root left out with the build's first source
// (a deployment's own, else Sigstore's) and its URLs, and URLs left out
// with those of the source whose root was given, else the deployment's.
func withBuiltinSource(opts Options) Options {
	builtin := repometadata.Sources()
	if len(opts.TrustedRoot) == 0 && len(builtin) > 0 {
		opts.TrustedRoot = builtin[0].Root
		if len(opts.Repositories) == 0 {
			opts.Repositories = builtin[0].Repositories
		}
	}
	for _, src := range builtin {
		if len(opts.Repositories) == 0 && bytes.Equal(src.Root, opts.TrustedRoot) {
			opts.Repositories = src.Repositories
		}
	}
	if len(opts.Repositories) == 0 {
		opts.Repositories = repometadata.Repositories()
	}
	return opts
}

// New checks the options and prepares the cache. It does no network I/O.
func New(opts Options) (*Client, error) {
	if len(opts.TrustedRoot) == 0 || len(opts.Repositories) == 0 {
		// the build's sources fill in what the caller left out
		opts = withBuiltinSource(opts)
	}
	if len(opts.TrustedRoot) == 0 {
		return nil, fmt.Errorf("%w: none was given and this build embeds none", ErrNoRoot)
	}
	if len(opts.Repositories) == 0 {
		return nil, fmt.Errorf("%w: none was given and this build names none", ErrNoRepository)
	}
	c := &Client{maxAge: DefaultMaxAge, interval: DefaultRefreshInterval}
	if opts.RefreshInterval != nil {
		if *opts.RefreshInterval < 0 {
			return nil, fmt.Errorf("a refresh interval of %s is negative: use 0 to refresh on every unknown keyid", *opts.RefreshInterval)
		}
		c.interval = *opts.RefreshInterval
	}
	if opts.MaxAge != nil {
		if *opts.MaxAge < 0 {
			return nil, fmt.Errorf("a max age of %s is negative: use 0 to ask the repository on every lookup", *opts.MaxAge)
		}
		c.maxAge = *opts.MaxAge
	}
	if opts.LockWait <= 0 {
		opts.LockWait = DefaultLockWait
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
		return nil, fmt.Errorf("accepting metadata expired up to %s ago is beyond the %s allowed: export a fresher archive instead", duration.Words(opts.AcceptExpired), duration.Words(MaxAcceptExpired))
	}
	if opts.AcceptExpired > 0 {
		opts.Logger.Warn("accepting metadata that expired up to " + duration.Words(opts.AcceptExpired) + " ago: protection against freeze attacks is weakened by as much")
	}
	c.opts, c.http, c.log = opts, opts.HTTPClient, opts.Logger
	c.anchor = session.ObjectName(opts.TrustedRoot)
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	// the root's form only here: its signatures are verified once, before
	// the first request to a repository (rootChecked), and a fresh answer
	// recorded under these very bytes (its anchor) was verified with them
	if err := rootForm(opts.TrustedRoot); err != nil {
		return nil, err
	}
	c.rootChecked = sync.OnceValue(func() error {
		_, _, err := verifiedRoot(nil, opts.TrustedRoot, c.refTime())
		return err
	})
	dir := opts.CacheDir
	var err error
	if dir == "" {
		dir, err = DefaultCacheDir(opts.Repositories[0])
	}
	if err == nil {
		d := &diskCache{dir: dir, wait: opts.LockWait}
		err = d.prepare()
		if errors.Is(err, ErrUnsafeCache) {
			return nil, err
		}
		if err == nil {
			c.cache, c.dir = d, dir
		}
	}
	if c.cache == nil {
		c.log.Warn("no usable cache directory; keeping verified metadata in memory for this run only, so every run fetches it again", "dir", dir, "reason", err)
		c.cache = newMemoryCache()
	}
	return c, nil
}

// rootForm checks that data looks like TUF root metadata: a JSON object
// whose signed part is of type root, version 1 or more.
func rootForm(data []byte) error {
	var md struct {
		Signed struct {
			Type    string `json:"_type"`
			Version int64  `json:"version"`
		} `json:"signed"`
		Signatures []json.RawMessage `json:"signatures"`
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return &RootError{"it is a PEM file, such as a key"}
	}
	if err := json.Unmarshal(data, &md); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return &RootError{fmt.Sprintf("it is not JSON (a syntax error at byte %d)", syntax.Offset)}
		}
		return &RootError{"its JSON does not have the form of TUF metadata"}
	}
	if md.Signed.Type != metadata.ROOT || md.Signed.Version < 1 {
		return &RootError{fmt.Sprintf("it is not root metadata of version 1 or more (type %q, version %d)", safeText(md.Signed.Type), md.Signed.Version)}
	}
	return nil
}

// ErrBadRoot marks a trusted root that is not TUF root metadata.
var ErrBadRoot = errors.New("the trusted root is not TUF root metadata")

// RootError says why the trusted root given is not TUF root metadata.
type RootError struct{ Reason string }

func (e *RootError) Error() string { return "the trusted root is not TUF root metadata: " + e.Reason }
func (e *RootError) Unwrap() error { return ErrBadRoot }

// safeText bounds a value read from a file before a message repeats it.
func safeText(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
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

// Repositories are the repository URLs the client reads, in order.
func (c *Client) Repositories() []string { return slices.Clone(c.opts.Repositories) }

// CacheDir is where the cache lives, empty when it is kept in memory.
func (c *Client) CacheDir() string { return c.dir }

// Keys returns the verified key list of a registry (URL or host).
func (c *Client) Keys(ctx context.Context, registry string) (*bundle.KeyList, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return nil, err
	}
	data, err := c.keyList(ctx, host, false)
	if err != nil {
		return nil, err
	}
	return parseList(host, data)
}

// keyList is target for a registry's key list, with the key-list kind of
// error when the repository has none. A registry that fresh metadata does
// not list makes one forced refresh, within the refresh interval, so that
// a registry the maintainers just added is found at once.
func (c *Client) keyList(ctx context.Context, host string, force bool) ([]byte, error) {
	name := bundle.TargetName(host)
	w := want{names: []string{name}, force: force, stopAtMissing: true}
	if force {
		c.markForced()
	}
	out, err := c.obtain(ctx, w)
	if errors.Is(err, ErrNoTarget) && out.fromCache && !c.opts.Offline {
		if ok, _ := c.mayForce(); ok {
			c.log.Info("the fresh metadata lists no such registry; refreshing once", "registry", host)
			c.markForced()
			w.force = true
			out, err = c.obtain(ctx, w)
		}
	}
	if errors.Is(err, ErrNoTarget) {
		msg := fmt.Sprintf("the repository at %s has no key list for %s", redact(out.repo), host)
		if p := nearest.Phrase(nearest.Names(host, c.verifiedRegistries(ctx))); p != "" {
			msg += " (" + p + ")"
		}
		return nil, marked.Errorf(ErrNoKeyList, "%s", msg)
	}
	if err != nil {
		return nil, err
	}
	return out.got[name], nil
}

// mayForce reports whether a refresh forced by what a caller met may run
// now, and when the repository was last asked (a forced refresh, or an
// update whose answer the cache holds: metadata fetched seconds ago has
// nothing newer to say). A last time in the future (a clock set back)
// allows it: a wrong clock must not block refreshes for good.
func (c *Client) mayForce() (bool, time.Time) {
	last := c.cache.record(forcedRecord).CheckedAt
	if checked := c.cache.record(answerRecord).CheckedAt; checked.After(last) {
		last = checked
	}
	now := c.now()
	if last.IsZero() || last.After(now) || now.Sub(last) >= c.interval {
		return true, last
	}
	return false, last
}

// markForced records that a forced refresh runs now.
func (c *Client) markForced() {
	if err := c.cache.putRecord(forcedRecord, record{CheckedAt: c.now()}); err != nil {
		c.log.Warn("cannot record the refresh in the cache", "error", err)
	}
}

// TUF is the TUF layer beneath the key lists, for tools that need more of
// the repository than its key lists: any target file, an update of the
// metadata alone, the metadata the client trusts, a whole verified
// repository (which mirrors copy).
type TUF struct{ c *Client }

// TUF returns the client's TUF layer: the same cache, options and trust.
func (c *Client) TUF() TUF { return TUF{c} }

// Target returns a target file of the repository, verified against its
// signed length and hashes.
func (t TUF) Target(ctx context.Context, targetPath string) ([]byte, error) {
	got, err := t.Targets(ctx, []string{targetPath})
	if err != nil {
		return nil, err
	}
	return got[0], nil
}

// Targets returns target files in order, from one update: it stops at the
// first that fails and returns, with the error, those before it.
func (t TUF) Targets(ctx context.Context, paths []string) ([][]byte, error) {
	c := t.c
	out, err := c.obtain(ctx, want{names: paths, stopAtMissing: true})
	var got [][]byte
	for _, p := range paths {
		data, ok := out.got[p]
		if !ok {
			break
		}
		got = append(got, data)
	}
	if errors.Is(err, ErrNoTarget) {
		err = fmt.Errorf("the repository at %s lists no target %s: %w", redact(out.repo), paths[len(got)], ErrNoTarget)
	}
	return got, err
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
	// RefreshedRecently is set when an unknown keyid found the key list
	// refreshed within the refresh interval, so it was not refreshed again.
	RefreshedRecently bool
}

// VerifyVersion verifies a version's registry signatures with the key
// lists of the registries (URLs or hosts), merged (bundle.Merge) when
// there are several: for a registry proxy that re-signs what it serves,
// the origin's keys and the proxy's, each verified. On an unknown keyid it
// refreshes once, whatever the cache's age (within the refresh interval),
// and tries again: that is how a rotation reaches clients.
func (c *Client) VerifyVersion(ctx context.Context, v bundle.Version, registries ...string) (Verdict, error) {
	if len(registries) == 0 {
		return Verdict{}, fmt.Errorf("no registry to verify %s with: %w", v.ID(), ErrNoKeyList)
	}
	hosts := make([]string, len(registries))
	for i, r := range registries {
		host, err := bundle.RegistryHost(r)
		if err != nil {
			return Verdict{}, err
		}
		hosts[i] = host
	}
	verify := func(force bool) (bundle.Result, error) {
		lists := make([]*bundle.KeyList, len(hosts))
		for i, host := range hosts {
			data, err := c.keyList(ctx, host, force)
			if err != nil {
				return bundle.Result{}, err
			}
			p, err := bundle.Decode(data)
			if err != nil {
				return bundle.Result{}, invalidList(host, err)
			}
			lists[i] = &p.List
		}
		merged, _, err := bundle.Merge(lists...)
		var ver *bundle.Verifier
		if err == nil {
			ver, err = bundle.NewVerifier(merged)
		}
		if err != nil {
			return bundle.Result{}, invalidList(strings.Join(hosts, ", "), err)
		}
		return ver.Verify(v)
	}
	res, err := verify(false)
	if !errors.Is(err, bundle.ErrUnknownKeyID) || c.opts.Offline {
		return Verdict{Result: res}, err
	}
	if ok, last := c.mayForce(); !ok {
		return Verdict{Result: res, RefreshedRecently: true}, fmt.Errorf("%w (the key list was refreshed %s ago, within the refresh interval of %s, so it was not refreshed again)", err, c.now().Sub(last).Round(time.Second), c.interval)
	}
	c.log.Info("signed by a key the cached list lacks; refreshing the key list", "package", v.ID(), "registry", strings.Join(hosts, ", "))
	res, rerr := verify(true)
	if rerr != nil && !errors.Is(rerr, bundle.ErrUnknownKeyID) && !errors.Is(rerr, bundle.ErrBadSignature) && !errors.Is(rerr, bundle.ErrExpiredKey) && !errors.Is(rerr, bundle.ErrUnsigned) {
		return Verdict{Result: res}, fmt.Errorf("%w (refreshing the key list failed: %v)", err, rerr)
	}
	return Verdict{Result: res, Refreshed: true}, rerr
}

// FollowRotation is the refresh on an unknown keyid for a consumer that
// verifies by itself (Corepack): keyIDs are the keys it met and the lists
// lacked. It reports whether the registries' verified lists hold one of
// them, after one refresh, under the refresh interval, when none of them
// does yet.
func (c *Client) FollowRotation(ctx context.Context, registries, keyIDs []string) (bool, error) {
	holds := func(force bool) (bool, error) {
		for _, r := range registries {
			host, err := bundle.RegistryHost(r)
			if err != nil {
				return false, err
			}
			data, err := c.keyList(ctx, host, force)
			if err != nil {
				return false, err
			}
			list, err := parseList(host, data)
			if err != nil {
				return false, err
			}
			for _, k := range list.Keys {
				if slices.Contains(keyIDs, k.KeyID) {
					return true, nil
				}
			}
		}
		return false, nil
	}
	if ok, err := holds(false); ok || err != nil || c.opts.Offline {
		return ok, err
	}
	if ok, last := c.mayForce(); !ok {
		c.log.Info("the key list was refreshed recently; not refreshing again", "ago", c.now().Sub(last).Round(time.Second).String())
		return false, nil
	}
	c.log.Info("a consumer met a key the list lacks; refreshing the key list", "keyids", strings.Join(keyIDs, ", "))
	return holds(true)
}

// RefreshResult is what a refresh did.
type RefreshResult struct {
	// Repository is the repository that answered.
	Repository string
	// Dropped are the cached target files the repository no longer lists.
	Dropped []string
}

// Refresh brings the cache up to date now, whatever its age: metadata and
// every key list it holds. Key lists the repository no longer lists leave
// the cache and are reported.
func (c *Client) Refresh(ctx context.Context) (RefreshResult, error) {
	if c.opts.Offline {
		return RefreshResult{}, fmt.Errorf("cannot refresh while offline: %w", ErrOffline)
	}
	names := slices.Sorted(maps.Keys(c.cache.record(answerRecord).Targets))
	out, err := c.obtain(ctx, want{names: names, force: true, noFallback: true})
	if len(out.dropped) > 0 {
		c.log.Warn("the repository no longer lists these cached target files; dropped them", "targets", strings.Join(out.dropped, ", "))
	}
	return RefreshResult{Repository: out.repo, Dropped: out.dropped}, err
}

// RefreshMetadata runs the TUF update of the repository's metadata now,
// whatever the cache's age, and fetches no target file.
func (t TUF) RefreshMetadata(ctx context.Context) (string, error) {
	c := t.c
	if c.opts.Offline {
		return "", fmt.Errorf("cannot refresh while offline: %w", ErrOffline)
	}
	out, err := c.obtain(ctx, want{force: true, noFallback: true})
	return out.repo, err
}

// TrustedMetadata returns the metadata the client trusts now, by role
// name: the newest verified root, and the newest verified timestamp,
// snapshot, targets and delegated roles, as the TUF specification's
// client workflow keeps them, byte for byte.
func (t TUF) TrustedMetadata(ctx context.Context) (map[string][]byte, error) {
	return t.c.trustedMetadata(ctx)
}

func (c *Client) trustedMetadata(ctx context.Context) (map[string][]byte, error) {
	unlock, err := c.cache.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, root, err := verifiedRoot(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{metadata.ROOT: root}
	state := c.cache.record(trustedRecord)
	named := map[string]string{metadata.TIMESTAMP: state.Timestamp, metadata.SNAPSHOT: state.Snapshot}
	maps.Copy(named, state.Roles)
	for role, obj := range named {
		if data, err := c.cache.object(obj); err == nil {
			out[role] = data
		}
	}
	return out, nil
}

// verifiedRegistries lists the registries named in the verified metadata
// the cache holds: with bins, those of the bins fetched so far, which are
// the registries this client used before, the likeliest meant by a typo.
func (c *Client) verifiedRegistries(ctx context.Context) []string {
	return c.registries(ctx, false)
}

// registries lists the hosts of the key lists the cached targets metadata
// names and, with delegated, of the delegations named after a host
// (paths HOST/*), reading the trusted metadata once.
func (c *Client) registries(ctx context.Context, delegated bool) []string {
	trusted, err := c.trustedMetadata(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for role, data := range trusted {
		if role == metadata.ROOT || role == metadata.TIMESTAMP || role == metadata.SNAPSHOT {
			continue
		}
		md, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(data)
		if err != nil {
			continue
		}
		for name := range md.Signed.Targets {
			if host, ok := bundle.HostOfTarget(name); ok {
				out = append(out, host)
			}
		}
		if delegated && md.Signed.Delegations != nil {
			out = append(out, delegatedHosts(md.Signed.Delegations)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ClearCache removes everything the cache holds.
func (c *Client) ClearCache(ctx context.Context) error {
	unlock, err := c.cache.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	return c.cache.clear()
}

// MergedKeys returns the verified key lists of several registries (URLs or
// hosts) merged into one: a key listed twice appears once, and where the
// lists disagree on its expiry the earlier holds, so that no list extends
// another's trust. The notes say where they disagreed.
func (c *Client) MergedKeys(ctx context.Context, registries []string) (*bundle.KeyList, []string, error) {
	lists := make([]*bundle.KeyList, 0, len(registries))
	for _, r := range registries {
		list, err := c.Keys(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		lists = append(lists, list)
	}
	return bundle.Merge(lists...)
}
