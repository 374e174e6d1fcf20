package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrUnavailable marks a repository that could not be reached or did not
// answer with the file: the network failed, not the data's trust.
var ErrUnavailable = errors.New("repository unavailable")

var rootProbe = regexp.MustCompile(`/([0-9]+)\.root\.json$`)

// fetcher is the go-tuf Fetcher for one refresh. go-tuf's interface takes
// no context, so the refresh's context lives here. Beyond fetching with a
// bound and a timeout, it overlaps the timestamp request with the probe for
// a new root, revalidates timestamp.json with If-None-Match, and reports
// 403 and 410 on a root probe as 404, because object stores answer 403 for
// objects that do not exist.
type fetcher struct {
	ctx        context.Context
	client     *http.Client
	timeout    time.Duration
	sequential bool
	base       string // the repository URL, for the speculative timestamp

	// conditional timestamp: the cached copy and the ETag it came with
	etag            string
	cachedTimestamp []byte

	mu          sync.Mutex
	spec        chan fetchResult // the overlapping timestamp request, if any
	specStale   bool             // a new root appeared: refetch the timestamp
	newETag     string
	roots       map[int64][]byte // new roots fetched, by version
	unmodified  bool             // timestamp.json answered 304
	requests    int
	bytesServed int64
	last        string // the last file go-tuf asked for, for messages
}

// lastFile names the last file go-tuf asked for.
func (f *fetcher) lastFile() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return path.Base(f.last)
}

type fetchResult struct {
	data []byte
	etag string
	err  error
	code int
}

func newFetcher(ctx context.Context, c *Client, base string, etag string, cachedTimestamp []byte) *fetcher {
	f := &fetcher{
		ctx: ctx, client: c.http, timeout: c.opts.RequestTimeout, sequential: c.opts.Sequential, base: base,
		roots: map[int64][]byte{},
	}
	if etag != "" && cachedTimestamp != nil {
		f.etag, f.cachedTimestamp = etag, cachedTimestamp
	}
	return f
}

func (f *fetcher) timestampURL() string { return strings.TrimSuffix(f.base, "/") + "/timestamp.json" }

// DownloadFile implements go-tuf's Fetcher.
func (f *fetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	f.mu.Lock()
	f.last = urlPath
	f.mu.Unlock()
	if m := rootProbe.FindStringSubmatch(urlPath); m != nil {
		return f.rootProbe(urlPath, m[1], maxLength)
	}
	if urlPath == f.timestampURL() {
		return f.timestamp(maxLength)
	}
	r := f.get(urlPath, maxLength, "")
	return r.data, r.err
}

func (f *fetcher) rootProbe(urlPath, version string, maxLength int64) ([]byte, error) {
	f.mu.Lock()
	if !f.sequential && f.spec == nil {
		f.spec = make(chan fetchResult, 1)
		go func(ch chan fetchResult) { ch <- f.get(f.timestampURL(), timestampMax, f.etag) }(f.spec)
	}
	f.mu.Unlock()
	r := f.get(urlPath, maxLength, "")
	if r.err != nil {
		switch r.code {
		case http.StatusForbidden, http.StatusNotFound, http.StatusGone:
			return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: urlPath}
		}
		return nil, r.err
	}
	v, _ := strconv.ParseInt(version, 10, 64)
	f.mu.Lock()
	f.roots[v] = r.data
	// the timestamp fetched alongside predates the new root: fetch it again
	f.specStale = true
	f.mu.Unlock()
	return r.data, nil
}

// timestampMax bounds the speculative timestamp request; go-tuf's own
// bound for timestamp.json is the same 16 KiB.
const timestampMax = 16 << 10

func (f *fetcher) timestamp(maxLength int64) ([]byte, error) {
	f.mu.Lock()
	spec, stale := f.spec, f.specStale
	f.spec = nil
	f.mu.Unlock()
	var r fetchResult
	if spec != nil {
		r = <-spec
	}
	if spec == nil || stale {
		r = f.get(f.timestampURL(), min(maxLength, timestampMax), f.etag)
	}
	if r.err != nil {
		return nil, r.err
	}
	if int64(len(r.data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("timestamp.json is longer than %d bytes", maxLength)}
	}
	f.mu.Lock()
	f.newETag = r.etag
	f.mu.Unlock()
	return r.data, nil
}

// get fetches one file with the refresh's context, a per-request timeout
// and a bound on its size.
func (f *fetcher) get(rawURL string, maxLength int64, etag string) fetchResult {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "file" {
		return f.getFile(u, maxLength)
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	req.Header.Set("User-Agent", "tufkeys")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && f.ctx.Err() == nil {
			return fetchResult{err: fmt.Errorf("%w: %s did not answer within %s", ErrUnavailable, redact(rawURL), f.timeout)}
		}
		return fetchResult{err: fmt.Errorf("%w: %s: %v", ErrUnavailable, redact(rawURL), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && etag != "" {
		f.mu.Lock()
		f.unmodified = true
		f.mu.Unlock()
		return fetchResult{data: f.cachedTimestamp, etag: etag, code: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return fetchResult{code: resp.StatusCode, err: fmt.Errorf("%w: %w", ErrUnavailable, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: redact(rawURL)})}
	}
	if resp.ContentLength > maxLength {
		return fetchResult{code: resp.StatusCode, err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s announces %d bytes, more than the %d expected", redact(rawURL), resp.ContentLength, maxLength)}}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	f.mu.Lock()
	f.bytesServed += int64(len(data))
	f.mu.Unlock()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && f.ctx.Err() == nil {
			return fetchResult{err: fmt.Errorf("%w: %s stalled: no complete answer within %s", ErrUnavailable, redact(rawURL), f.timeout)}
		}
		return fetchResult{err: fmt.Errorf("%w: read %s: %v", ErrUnavailable, redact(rawURL), err)}
	}
	if int64(len(data)) > maxLength {
		return fetchResult{code: resp.StatusCode, err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s sent more than the %d bytes expected", redact(rawURL), maxLength)}}
	}
	return fetchResult{data: data, etag: resp.Header.Get("ETag"), code: resp.StatusCode}
}

// getFile serves file:// repositories: a mirror on a mounted share.
func (f *fetcher) getFile(u *url.URL, maxLength int64) fetchResult {
	p := path.Clean(u.Path)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return fetchResult{code: http.StatusNotFound, err: fmt.Errorf("%w: %w", ErrUnavailable, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u.String()})}
	}
	if err != nil {
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	defer fh.Close()
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	data, err := io.ReadAll(io.LimitReader(fh, maxLength+1))
	if err != nil {
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	if int64(len(data)) > maxLength {
		return fetchResult{err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than the %d bytes expected", u.String(), maxLength)}}
	}
	return fetchResult{data: bytes.Clone(data), code: http.StatusOK}
}

// redact drops credentials and queries from a URL before it reaches a
// message or a log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the repository"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
