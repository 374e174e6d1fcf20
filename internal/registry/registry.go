// Package registry reads what verification needs from a package registry:
// a version's document and its publish time, and which registry the user
// has configured for npm. It trusts nothing it reads: signatures are
// checked against key lists from the TUF repository.
package registry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/redact"
)

var (
	// ErrNoRegistry marks a machine with no registry configured.
	ErrNoRegistry = errors.New("no registry configured")
	// ErrNoKeyEndpoint marks a registry that serves no key list.
	ErrNoKeyEndpoint = errors.New("no key endpoint")
	// ErrNotFound marks a package or version the registry does not have.
	ErrNotFound = errors.New("package version not found")
)

// Limits on what is read from a registry. A full packument of a popular
// package runs to tens of megabytes; it is skimmed as a stream (see
// packument.go).
const (
	maxVersionDoc = bundle.MaxManifestBytes
)

// ErrProjectExpansion marks a project's .npmrc whose registry= line asks
// for an environment variable: a cloned project must not choose which of
// the user's variables tufkeys sends where, or prints.
var ErrProjectExpansion = errors.New("a project's .npmrc may not expand variables in its registry")

// Resolve picks the registry URL: the flag, else npm_config_registry, else
// the .npmrc of the project dir is in (found as npm finds it), else the
// user's .npmrc, else npm's own default as the npm on PATH reports it. No
// registry is written into tufkeys: without npm or any of these, it says
// how to name one. ${VAR} in a registry= line is expanded only from the user's own
// .npmrc; a project's is refused. The URL comes back without userinfo,
// query or fragment: tufkeys needs a registry's address, never its
// credentials.
func Resolve(flag, dir string) (string, error) {
	if flag != "" {
		return strip(flag), nil
	}
	for _, name := range []string{"npm_config_registry", "NPM_CONFIG_REGISTRY"} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return strip(v), nil
		}
	}
	user := os.Getenv("NPM_CONFIG_USERCONFIG")
	if user == "" {
		if home, err := os.UserHomeDir(); err == nil {
			user = filepath.Join(home, ".npmrc")
		}
	}
	if dir != "" {
		project := filepath.Join(projectDir(dir), ".npmrc")
		if !sameFile(project, user) {
			v, ok, err := npmrcRegistry(project, false)
			if err != nil {
				return "", err
			}
			if ok {
				return strip(v), nil
			}
		}
	}
	if user != "" {
		if v, ok, err := npmrcRegistry(user, true); err != nil || ok {
			return strip(v), err
		}
	}
	// npm's own default, as the npm on PATH reports it: the registry a
	// machine with npm and no configuration uses
	return NPMDefault()
}

// NPMDefault asks the npm on PATH for the registry it uses when nothing
// configures one (npm config get registry), run outside any project with
// a timeout; ErrNoRegistry when there is no npm or no http(s) answer.
// Tests replace it, so that they never learn a real registry's address.
var NPMDefault = npmConfigGet

func npmConfigGet() (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", ErrNoRegistry
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "config", "get", "registry")
	// outside any project: a project's .npmrc was read above, by its rules
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: 4096}
	if err := cmd.Run(); err != nil {
		return "", ErrNoRegistry
	}
	v := strings.TrimSpace(out.String())
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(v, " \n") {
		return "", ErrNoRegistry
	}
	return strip(v), nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// strip drops userinfo, query and fragment from a registry URL.
func strip(raw string) string { return redact.URL(strings.TrimSpace(raw)) }

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}

// projectDir is the project a directory belongs to, as npm finds it: the
// nearest directory, dir or a parent, that holds package.json or
// node_modules; dir itself when none does.
func projectDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for d := abs; ; {
		for _, marker := range []string{"package.json", "node_modules"} {
			if _, err := os.Stat(filepath.Join(d, marker)); err == nil {
				return d
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return abs
		}
		d = parent
	}
}

var envRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`) })

// npmrcRegistry reads the registry= line of an .npmrc. With expand, ${VAR}
// is expanded the way npm does (the user's own file); without, a line that
// asks for it is refused, naming the file.
func npmrcRegistry(path string, expand bool) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	found := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "registry" {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		if !expand && strings.Contains(value, "${") {
			return "", false, fmt.Errorf("%s sets registry= with ${...}, which tufkeys expands only from your own npm configuration: set npm_config_registry, or the registry= line of your user .npmrc: %w", path, ErrProjectExpansion)
		}
		found = envRef().ReplaceAllStringFunc(value, func(ref string) string {
			return os.Getenv(envRef().FindStringSubmatch(ref)[1])
		})
	}
	return found, found != "", nil
}

// SplitSpec splits NAME@VERSION; scoped names keep their leading @.
func SplitSpec(spec string) (name, version string, err error) {
	i := strings.LastIndex(spec, "@")
	if i <= 0 || i == len(spec)-1 {
		return "", "", fmt.Errorf("%q is not NAME@VERSION: give an exact version, such as pnpm@10.1.0", spec)
	}
	return spec[:i], spec[i+1:], nil
}

// Client fetches from one registry.
type Client struct {
	Base    *url.URL
	HTTP    *http.Client
	Timeout time.Duration
}

// New parses the registry URL.
func New(registry string, hc *http.Client, timeout time.Duration) (*Client, error) {
	if !strings.Contains(registry, "://") {
		registry = "https://" + registry
	}
	u, err := url.Parse(registry)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%q is not a registry URL such as https://registry.example.test/", redact.URL(registry))
	}
	// tufkeys never authenticates to a registry: credentials are not sent
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	if hc == nil {
		hc = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return &Client{Base: u, HTTP: hc, Timeout: timeout}, nil
}

// packagePath is a package's path on the registry: scoped names keep the
// @ and escape the slash.
func packagePath(name string) string {
	return strings.ReplaceAll(url.PathEscape(name), "%40", "@")
}

// url joins escaped path parts to the registry URL, which may have a path
// of its own (a proxy serving several registries).
func (c *Client) url(parts ...string) string {
	base := *c.Base
	base.RawQuery, base.Fragment = "", ""
	return strings.TrimSuffix(base.String(), "/") + "/" + strings.Join(parts, "/")
}

func (c *Client) get(ctx context.Context, rawURL string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tufkeys")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("cannot reach the registry at %s: %w", c.Base.Host, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		cancel()
		return nil, nil, ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("the registry at %s answered %s for %s", c.Base.Host, resp.Status, rawURL)
	}
	return resp, cancel, nil
}

// Version fetches a version's document and, from the packument, its
// publish time. A publish time that cannot be read is left zero and the
// reason returned as a note: verification then refuses a signature by a
// key with an expiry, unless the caller accepts an unknown time.
func (c *Client) Version(ctx context.Context, name, version string) (bundle.Version, string, error) {
	// the two requests do not depend on each other: overlap them
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	type publishTime struct {
		at  time.Time
		err error
	}
	pt := make(chan publishTime, 1)
	go func() {
		at, err := c.publishTime(ctx, name, version)
		pt <- publishTime{at, err}
	}()
	resp, cancel, err := c.get(ctx, c.url(packagePath(name), url.PathEscape(version)))
	if errors.Is(err, ErrNotFound) {
		return bundle.Version{}, "", fmt.Errorf("%w: the registry at %s has no %s@%s", ErrNotFound, c.Base.Host, name, version)
	}
	if err != nil {
		return bundle.Version{}, "", err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxVersionDoc+1))
	resp.Body.Close()
	cancel()
	if err != nil {
		return bundle.Version{}, "", fmt.Errorf("read %s@%s from the registry: %w", name, version, err)
	}
	v, err := bundle.ParseManifest(data)
	if err != nil {
		return bundle.Version{}, "", fmt.Errorf("the registry's document for %s@%s: %w", name, version, err)
	}
	if v.Name != name || v.Version != version {
		return bundle.Version{}, "", fmt.Errorf("the registry answered for %s@%s with a document for %s: refusing it", name, version, v.ID())
	}
	published := <-pt
	if errors.Is(published.err, ErrBadAnswer) {
		// not a registry's mistake but a hostile answer: say so
		return bundle.Version{}, "", fmt.Errorf("refusing what %s sent for %s: %w", c.Base.Host, name, published.err)
	}
	if published.err != nil {
		return v, fmt.Sprintf("publish time unknown (%v)", published.err), nil
	}
	v.Published = published.at
	return v, "", nil
}

// publishTime streams the packument and keeps only time[version].
func (c *Client) publishTime(ctx context.Context, name, version string) (time.Time, error) {
	resp, cancel, err := c.get(ctx, c.url(packagePath(name)))
	if err != nil {
		return time.Time{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	return packumentTime(resp.Body, version)
}

// KeyList fetches and validates the registry's live key list from
// /-/npm/v1/keys. A list that does not validate is an error: it is never
// passed on.
func (c *Client) KeyList(ctx context.Context) (*bundle.KeyList, error) {
	resp, cancel, err := c.get(ctx, c.url("-", "npm", "v1", "keys"))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("the registry at %s serves no key list at /-/npm/v1/keys: %w", c.Base.Host, ErrNoKeyEndpoint)
	}
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, bundle.MaxListBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the key list of %s: %w", c.Base.Host, err)
	}
	if len(data) > bundle.MaxListBytes {
		return nil, fmt.Errorf("the key list of %s is larger than %d bytes: refusing it", c.Base.Host, bundle.MaxListBytes)
	}
	p, err := bundle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the key list the registry at %s serves is not valid: %w", c.Base.Host, err)
	}
	return &p.List, nil
}
