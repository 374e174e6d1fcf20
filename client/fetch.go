package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
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

	"github.com/tufkeys/tufkeys/client/archive"
)

// ErrUnavailable marks a repository that could not be reached or did not
// answer with the file: the network failed, not the data's trust.
var ErrUnavailable = errors.New("repository unavailable")

var rootProbe = regexp.MustCompile(`/([0-9]+)\.root\.json$`)

// Bounds for requests started before go-tuf asks, equal to go-tuf's own
// defaults for each kind of file.
const (
	rootMax      = 512000
	timestampMax = 16 << 10
	snapshotMax  = 2000000
	targetsMax   = 5000000
)

// fetcher is the go-tuf Fetcher for one update. go-tuf's interface takes no
// context, so the update's context lives here. Beyond fetching with a bound
// and a timeout, it does not make go-tuf wait for requests one after
// another when they can overlap:
//
//   - the first root probe and timestamp.json start together, before go-tuf
//     asks for either (a timestamp fetched before a new root appears is
//     discarded and fetched again);
//   - as soon as a timestamp, snapshot or targets file arrives, the file it
//     points to starts downloading, if the cache lacks that version;
//   - timestamp.json is revalidated with If-None-Match.
//
// Speculation only decides when a file is requested: go-tuf verifies every
// byte it uses, exactly as if it had asked for the file itself. Root probes
// answered 403 or 410 count as 404, because object stores answer 403 for
// objects that do not exist.
type fetcher struct {
	ctx        context.Context
	client     *http.Client
	timeout    time.Duration
	sequential bool
	base       string

	// conditional timestamp: the cached copy and the ETag it came with
	etag            string
	cachedTimestamp []byte
	// what the cache already holds, so speculation skips it
	have   cachedVersions
	wanted []string // target names this update needs
	// archive holds the files of an archive repository, read once
	archive map[string][]byte

	mu      sync.Mutex
	ahead   map[string]*early // requests started before go-tuf asked
	newETag string
	roots   map[int64][]byte // new roots fetched, by version
	last    string           // the last file go-tuf asked for, for messages
}

type early struct {
	done chan struct{}
	res  fetchResult
}

// conditional is a revalidation: the ETag to send and the cached bytes
// that a 304 answer stands for.
type conditional struct {
	etag   string
	cached []byte
}

type fetchResult struct {
	data []byte
	etag string
	err  error
	code int
}

// cachedVersions is what the cache holds, read without verification: it
// only steers speculation.
type cachedVersions struct {
	snapshot int64
	targets  int64
	hashes   map[string]string // target name -> sha256 of the cached copy
}

func newFetcher(ctx context.Context, c *Client, base string, etag string, cachedTimestamp []byte) *fetcher {
	f := &fetcher{
		ctx: ctx, client: c.http, timeout: c.opts.RequestTimeout, sequential: c.opts.Sequential,
		base: strings.TrimSuffix(base, "/"), roots: map[int64][]byte{}, ahead: map[string]*early{},
	}
	if etag != "" && cachedTimestamp != nil {
		f.etag, f.cachedTimestamp = etag, cachedTimestamp
	}
	return f
}

func (f *fetcher) url(name string) string { return f.base + "/" + name }

// openArchive reads the repository when it is an archive file.
func (f *fetcher) openArchive() error {
	p, ok := archive.IsArchive(f.base)
	if !ok {
		return nil
	}
	files, err := archive.ReadFile(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	f.archive = files
	return nil
}

// lastFile names the last file go-tuf asked for.
func (f *fetcher) lastFile() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return path.Base(f.last)
}

// begin starts the update's first two requests.
func (f *fetcher) begin(nextRoot int64) {
	if f.sequential {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startLocked(f.url(strconv.FormatInt(nextRoot, 10)+".root.json"), rootMax, conditional{})
	f.startLocked(f.url("timestamp.json"), timestampMax, conditional{f.etag, f.cachedTimestamp})
}

// startLocked starts a request ahead of go-tuf; f.mu is held.
func (f *fetcher) startLocked(u string, max int64, cond conditional) {
	if _, ok := f.ahead[u]; ok {
		return
	}
	e := &early{done: make(chan struct{})}
	f.ahead[u] = e
	go func() {
		e.res = f.get(u, max, cond)
		close(e.done)
		f.followUp(u, e.res)
	}()
}

// dropConditional stops revalidating timestamp.json against the cached
// copy, and forgets an answer already obtained that way.
func (f *fetcher) dropConditional() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.etag != "" {
		delete(f.ahead, f.url("timestamp.json"))
	}
	f.etag, f.cachedTimestamp = "", nil
}

// wait waits for a request started ahead and leaves it for go-tuf.
func (f *fetcher) wait(u string) (fetchResult, bool) {
	f.mu.Lock()
	e, ok := f.ahead[u]
	f.mu.Unlock()
	if !ok {
		return fetchResult{}, false
	}
	select {
	case <-e.done:
		return e.res, true
	case <-f.ctx.Done():
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, f.ctx.Err())}, true
	}
}

// take is wait that also hands the result over, once.
func (f *fetcher) take(u string) (fetchResult, bool) {
	r, ok := f.wait(u)
	if ok {
		f.mu.Lock()
		delete(f.ahead, u)
		f.mu.Unlock()
	}
	return r, ok
}

// followUp starts the download a newly arrived file points to.
func (f *fetcher) followUp(u string, r fetchResult) {
	if f.sequential || r.err != nil || r.code != http.StatusOK {
		return
	}
	var doc struct {
		Signed struct {
			Meta    map[string]struct{ Version int64 } `json:"meta"`
			Targets map[string]struct {
				Hashes map[string]string `json:"hashes"`
			} `json:"targets"`
		} `json:"signed"`
	}
	if json.Unmarshal(r.data, &doc) != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch name := path.Base(u); {
	case name == "timestamp.json":
		if v := doc.Signed.Meta["snapshot.json"].Version; v > 0 && v != f.have.snapshot {
			f.startLocked(f.url(fmt.Sprintf("%d.snapshot.json", v)), snapshotMax, conditional{})
		}
	case strings.HasSuffix(name, ".snapshot.json"):
		if v := doc.Signed.Meta["targets.json"].Version; v > 0 && v != f.have.targets {
			f.startLocked(f.url(fmt.Sprintf("%d.targets.json", v)), targetsMax, conditional{})
		}
	case strings.HasSuffix(name, ".targets.json"):
		for _, want := range f.wanted {
			t, ok := doc.Signed.Targets[want]
			sum := t.Hashes["sha256"]
			if !ok || sum == "" || sum == f.have.hashes[want] {
				continue
			}
			if _, err := hex.DecodeString(sum); err != nil {
				continue
			}
			dir, base := path.Split(want)
			f.startLocked(f.url("targets/"+dir+sum+"."+base), targetsMax, conditional{})
		}
	}
}

// DownloadFile implements go-tuf's Fetcher.
func (f *fetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	f.mu.Lock()
	f.last = urlPath
	f.mu.Unlock()
	r, ok := f.take(urlPath)
	if !ok {
		var cond conditional
		if urlPath == f.url("timestamp.json") {
			f.mu.Lock()
			cond = conditional{f.etag, f.cachedTimestamp}
			f.mu.Unlock()
		}
		r = f.get(urlPath, maxLength, cond)
	}
	if r.err == nil && int64(len(r.data)) > maxLength {
		r.err = &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than the %d bytes expected", redact(urlPath), maxLength)}
	}
	m := rootProbe.FindStringSubmatch(urlPath)
	switch {
	case m != nil && r.err != nil && (r.code == http.StatusForbidden || r.code == http.StatusNotFound || r.code == http.StatusGone):
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: urlPath}
	case r.err != nil:
		return nil, r.err
	case m != nil:
		v, _ := strconv.ParseInt(m[1], 10, 64)
		f.mu.Lock()
		f.roots[v] = r.data
		// whatever was fetched ahead predates the new root: fetch it again
		f.ahead = map[string]*early{}
		f.mu.Unlock()
	case urlPath == f.url("timestamp.json"):
		f.mu.Lock()
		f.newETag = r.etag
		f.mu.Unlock()
	}
	return r.data, nil
}

// get fetches one file with the update's context, a per-request timeout
// and a bound on its size.
func (f *fetcher) get(rawURL string, maxLength int64, cond conditional) fetchResult {
	if f.archive != nil {
		return f.getArchived(rawURL, maxLength)
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "file" {
		return getFile(u, maxLength)
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	req.Header.Set("User-Agent", "tufkeys")
	if cond.etag != "" && cond.cached != nil {
		req.Header.Set("If-None-Match", cond.etag)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && f.ctx.Err() == nil {
			return fetchResult{err: fmt.Errorf("%w: %s did not answer within %s", ErrUnavailable, redact(rawURL), f.timeout)}
		}
		return fetchResult{err: fmt.Errorf("%w: %s: %v", ErrUnavailable, redact(rawURL), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && cond.etag != "" && cond.cached != nil {
		return fetchResult{data: cond.cached, etag: cond.etag, code: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return fetchResult{code: resp.StatusCode, err: fmt.Errorf("%w: %w", ErrUnavailable, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: redact(rawURL)})}
	}
	if resp.ContentLength > maxLength {
		return fetchResult{code: resp.StatusCode, err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s announces %d bytes, more than the %d expected", redact(rawURL), resp.ContentLength, maxLength)}}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
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

// getArchived serves a file of an archive repository.
func (f *fetcher) getArchived(rawURL string, maxLength int64) fetchResult {
	data, ok := f.archive[strings.TrimPrefix(rawURL, f.base+"/")]
	if !ok {
		return fetchResult{code: http.StatusNotFound, err: fmt.Errorf("%w: %w", ErrUnavailable, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: rawURL})}
	}
	if int64(len(data)) > maxLength {
		return fetchResult{err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than the %d bytes expected", rawURL, maxLength)}}
	}
	return fetchResult{data: data, code: http.StatusOK}
}

// getFile serves file:// repositories: a mirror on a mounted share.
func getFile(u *url.URL, maxLength int64) fetchResult {
	fh, err := os.Open(path.Clean(u.Path))
	if errors.Is(err, os.ErrNotExist) {
		return fetchResult{code: http.StatusNotFound, err: fmt.Errorf("%w: %w", ErrUnavailable, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u.String()})}
	}
	if err != nil {
		return fetchResult{err: fmt.Errorf("%w: %v", ErrUnavailable, err)}
	}
	defer fh.Close()
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
