package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/bits"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/marked"
	redactURL "github.com/tufkeys/tufkeys/internal/redact"
	"github.com/tufkeys/tufkeys/translog"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client/archive"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/safefile"
)

// ErrUnavailable marks a repository that could not be reached or did not
// answer with the file: the network failed, not the data's trust.
var ErrUnavailable = errors.New("repository unavailable")

// fetchError is a file the repository did not serve, in tufkeys' words,
// and go-tuf's ErrDownloadHTTP to the updater, which tells a missing next
// root from a failure by it.
type fetchError struct {
	msg  string
	http *metadata.ErrDownloadHTTP
}

func (e *fetchError) Error() string   { return e.msg }
func (e *fetchError) Unwrap() []error { return []error{e.http, ErrUnavailable} }

func httpStatusError(url string, code int) error {
	return &fetchError{fmt.Sprintf("%s answered HTTP %d (%s)", url, code, http.StatusText(code)), &metadata.ErrDownloadHTTP{StatusCode: code, URL: url}}
}

func missingError(url, why string) error {
	return &fetchError{fmt.Sprintf("%s is missing (%s)", url, why), &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: url}}
}

// pathless is an os error without the path the message already names.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var rootProbe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`/([0-9]+)\.root\.json$`) })

// Bounds for requests started before go-tuf asks, equal to go-tuf's own
// defaults for each kind of file.
const (
	rootMax      = session.RootMax
	timestampMax = session.TimestampMax
	snapshotMax  = session.SnapshotMax
	targetsMax   = session.TargetsMax
)

// fetcher fetches the files of one update, with the update's context, a
// timeout per request and a bound on each file's size. Unless the client
// is sequential, it does not make the update wait for requests one after
// another when they can overlap:
//
//   - the first root probe and timestamp.json start together;
//   - as soon as a root, timestamp, snapshot or targets file arrives, the
//     file it points to starts downloading, unless the cache holds it;
//   - timestamp.json is revalidated with If-None-Match.
//
// Speculation only decides when a file is requested: the update verifies
// every byte it uses exactly as if it had asked for the file itself, and
// no URL is requested twice in one update.
type fetcher struct {
	ctx         context.Context
	log         *slog.Logger
	client      *http.Client
	timeout     time.Duration
	sequential  bool
	base        string
	targetsBase string

	// conditional timestamp: the trusted copy and the ETag it came with
	etag            string
	cachedTimestamp []byte
	// what the trusted state holds, unverified, so speculation skips it
	have   record
	wanted []string // target names this update needs
	// consistent is the trusted root's consistent_snapshot, for guessing
	// file names ahead
	consistent bool
	// archive holds the files of an archive repository, read once
	archive map[string][]byte
	// expectLog hints, from the roots at hand and unverified, that the
	// repository has a transparency log: its checkpoint and the wanted
	// registries' latest entries are asked for with the timestamp, and
	// the proof's tiles as soon as both have arrived
	expectLog   bool
	logSize     int64
	latestIndex map[string]int64
	// cachedLogSize is the size of the checkpoint the cache holds, whose
	// consistency proof's tiles are fetched ahead too
	cachedLogSize int64

	mu        sync.Mutex
	ahead     map[string]*early // requests started before the update asked
	requested map[string]bool   // every URL requested in this update
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

func newFetcher(ctx context.Context, c *Client, base string) *fetcher {
	base = strings.TrimSuffix(base, "/")
	if _, isArchive := archive.IsArchive(base); !isArchive && !strings.Contains(base, "://") {
		// a plain path names a directory, as file:// does
		if abs, err := filepath.Abs(base); err == nil {
			base = "file://" + filepath.ToSlash(abs)
		}
	}
	targets := base + "/targets"
	if c.opts.TargetBaseURL != "" {
		targets = strings.TrimSuffix(c.opts.TargetBaseURL, "/")
	}
	return &fetcher{
		ctx: ctx, log: c.log, client: c.http, timeout: c.opts.RequestTimeout, sequential: c.opts.Sequential,
		base: base, targetsBase: targets, ahead: map[string]*early{}, requested: map[string]bool{},
	}
}

func (f *fetcher) url(name string) string { return f.base + "/" + name }

// targetURL is where a target file is: prefixed with one of its hashes
// when the repository takes consistent snapshots (sha256 when listed).
func (f *fetcher) targetURL(targetPath string, tf *metadata.TargetFiles, consistent bool) string {
	dir, base := path.Split(targetPath)
	if consistent {
		alg := "sha256"
		if _, ok := tf.Hashes[alg]; !ok {
			algs := make([]string, 0, len(tf.Hashes))
			for a := range tf.Hashes {
				algs = append(algs, a)
			}
			sort.Strings(algs)
			if len(algs) > 0 {
				alg = algs[0]
			}
		}
		if sum := tf.Hashes[alg]; len(sum) > 0 {
			base = hex.EncodeToString(sum) + "." + base
		}
	}
	return f.targetsBase + "/" + escapePath(dir+base)
}

// escapePath escapes each segment of a target path for a URL.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// openArchive reads the repository when it is an archive file.
func (f *fetcher) openArchive() error {
	p, ok := archive.IsArchive(f.base)
	if !ok {
		return nil
	}
	files, err := archive.ReadFile(p)
	if errors.Is(err, archive.ErrMalformed) || errors.Is(err, safefile.ErrTooLarge) {
		// not a network that is down but input that is wrong: no fallback
		return fmt.Errorf("%s is not a repository archive (%w): check the file, or export it again: %w", p, err, ErrUntrusted)
	}
	if err != nil {
		return marked.Errorf(ErrUnavailable, "the archive %s cannot be read (%w)", p, pathless(err))
	}
	f.archive = files
	return nil
}

// begin starts the update's first two requests.
func (f *fetcher) begin(nextRoot int64) {
	if f.sequential {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startLocked(f.url(session.RootName(nextRoot)), rootMax, conditional{})
	f.startLocked(f.url("timestamp.json"), timestampMax, conditional{f.etag, f.cachedTimestamp})
	if f.expectLog {
		f.startLocked(f.url(translog.CheckpointName), translog.MaxCheckpoint, conditional{})
		for _, want := range f.wanted {
			if host, ok := bundle.HostOfTarget(want); ok {
				f.startLocked(f.url(translog.LatestName(host)), translog.MaxIndexFile, conditional{})
			}
		}
	}
}

// followLog starts the tiles of the proofs a log file makes computable:
// when the checkpoint's size and a wanted registry's latest index are
// both known. f.mu is held.
func (f *fetcher) followLog(u string, data []byte) {
	switch {
	case u == f.url(translog.CheckpointName):
		n, ok := translog.PeekSize(data)
		if !ok {
			return
		}
		f.logSize = n
	case strings.HasPrefix(u, f.url(translog.Dir+"latest/")):
		index, ok := translog.ParseIndexFile(data)
		if !ok {
			return
		}
		if f.latestIndex == nil {
			f.latestIndex = map[string]int64{}
		}
		f.latestIndex[u] = index
	default:
		return
	}
	if f.logSize == 0 {
		return
	}
	for _, name := range translog.ConsistencyTiles(f.logSize, f.cachedLogSize) {
		f.startLocked(f.url(name), 1<<translog.TileHeight*32, conditional{})
	}
	for _, index := range f.latestIndex {
		for _, name := range translog.ProofTiles(f.logSize, index) {
			f.startLocked(f.url(name), 1<<translog.TileHeight*32, conditional{})
		}
	}
}

// startLocked starts a request ahead of the update, unless this update
// has requested the URL already; f.mu is held.
func (f *fetcher) startLocked(u string, max int64, cond conditional) {
	if f.requested[u] {
		return
	}
	f.requested[u] = true
	e := &early{done: make(chan struct{})}
	f.ahead[u] = e
	go func() {
		e.res = f.get(u, max, cond)
		// what this file points to is requested before the update hears
		// of it, so the update never asks for it a second time
		f.followUp(u, e.res)
		close(e.done)
	}()
}

// fetch returns a file: the request started ahead for it, or a new one.
func (f *fetcher) fetch(u string, max int64, cond conditional) fetchResult {
	f.mu.Lock()
	e, ok := f.ahead[u]
	if ok {
		delete(f.ahead, u)
	}
	f.requested[u] = true
	f.mu.Unlock()
	var r fetchResult
	if ok {
		select {
		case <-e.done:
			r = e.res
		case <-f.ctx.Done():
			return fetchResult{err: marked.Errorf(ErrUnavailable, "the update stopped before %s arrived (%v)", redact(u), f.ctx.Err())}
		}
	} else {
		r = f.get(u, max, cond)
		f.followUp(u, r)
	}
	if r.err == nil && int64(len(r.data)) > max {
		r.err = &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than the %d bytes expected", redact(u), max)}
	}
	return r
}

// download fetches a file and returns its bytes or why not.
func (f *fetcher) download(u string, max int64) ([]byte, error) {
	r := f.fetch(u, max, conditional{})
	return r.data, r.err
}

// timestamp fetches timestamp.json, revalidating the trusted copy.
func (f *fetcher) timestamp() ([]byte, string, error) {
	r := f.fetch(f.url("timestamp.json"), timestampMax, conditional{f.etag, f.cachedTimestamp})
	return r.data, r.etag, r.err
}

// followUp starts the download a newly arrived file points to.
func (f *fetcher) followUp(u string, r fetchResult) {
	if f.sequential || r.err != nil || r.code != http.StatusOK && r.code != http.StatusNotModified {
		return
	}
	name := path.Base(u)
	if f.expectLog && strings.Contains(u, "/"+translog.Dir) {
		f.mu.Lock()
		f.followLog(u, r.data)
		f.mu.Unlock()
		return
	}
	if m := rootProbe().FindStringSubmatch(u); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		f.mu.Lock()
		f.startLocked(f.url(session.RootName(v+1)), rootMax, conditional{})
		f.mu.Unlock()
		return
	}
	var doc struct {
		Signed struct {
			Meta    map[string]struct{ Version int64 } `json:"meta"`
			Targets map[string]struct {
				Length int64             `json:"length"`
				Hashes map[string]string `json:"hashes"`
			} `json:"targets"`
		} `json:"signed"`
	}
	if json.Unmarshal(r.data, &doc) != nil {
		return
	}
	versioned := func(role string, v int64) string {
		if f.consistent {
			return fmt.Sprintf("%d.%s.json", v, role)
		}
		return role + ".json"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case name == "timestamp.json":
		if v := doc.Signed.Meta["snapshot.json"].Version; v > 0 && v != f.have.Versions[metadata.SNAPSHOT] {
			f.startLocked(f.url(versioned(metadata.SNAPSHOT, v)), snapshotMax, conditional{})
		}
	case strings.HasSuffix(name, "snapshot.json"):
		if v := doc.Signed.Meta["targets.json"].Version; v > 0 && v != f.have.Versions[metadata.TARGETS] {
			f.startLocked(f.url(versioned(metadata.TARGETS, v)), targetsMax, conditional{})
		}
		// the bin of each wanted path, together with targets.json, when
		// the snapshot lists hashed bins: named as TAP 15 names them
		for _, bin := range guessBins(doc.Signed.Meta, f.wanted) {
			if v := doc.Signed.Meta[bin+".json"].Version; v != f.have.Versions[bin] {
				f.startLocked(f.url(versioned(bin, v)), targetsMax, conditional{})
			}
		}
	case name != "timestamp.json" && !strings.HasSuffix(name, ".root.json"):
		// targets.json or a delegated role, a bin among them: the wanted
		// key lists it names start downloading
		for _, want := range f.wanted {
			t, ok := doc.Signed.Targets[want]
			sum := t.Hashes["sha256"]
			if !ok || sum == "" || sum == f.have.Targets[want] || t.Length <= 0 || t.Length > targetsMax {
				continue
			}
			raw, err := hex.DecodeString(sum)
			if err != nil {
				continue
			}
			tf := &metadata.TargetFiles{Length: t.Length, Hashes: metadata.Hashes{"sha256": raw}}
			f.startLocked(f.targetURL(want, tf, f.consistent), t.Length, conditional{})
		}
	}
}

// get fetches one file with the update's context, a per-request timeout
// and a bound on its size.
func (f *fetcher) get(rawURL string, maxLength int64, cond conditional) fetchResult {
	f.log.Debug("request", "url", redact(rawURL))
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
		return fetchResult{err: marked.Errorf(ErrUnavailable, "%s is not a URL to fetch: %v", redact(rawURL), err)}
	}
	req.Header.Set("User-Agent", "tufkeys")
	if cond.etag != "" && cond.cached != nil {
		req.Header.Set("If-None-Match", cond.etag)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && f.ctx.Err() == nil {
			return fetchResult{err: marked.Errorf(ErrUnavailable, "%s did not answer within %s", redact(rawURL), f.timeout)}
		}
		return fetchResult{err: marked.Errorf(ErrUnavailable, "%s cannot be reached (%v)", redact(rawURL), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && cond.etag != "" && cond.cached != nil {
		return fetchResult{data: cond.cached, etag: cond.etag, code: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return fetchResult{code: resp.StatusCode, err: httpStatusError(redact(rawURL), resp.StatusCode)}
	}
	if resp.ContentLength > maxLength {
		return fetchResult{code: resp.StatusCode, err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s announces %d bytes, more than the %d expected", redact(rawURL), resp.ContentLength, maxLength)}}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && f.ctx.Err() == nil {
			return fetchResult{err: marked.Errorf(ErrUnavailable, "%s stalled: no complete answer within %s", redact(rawURL), f.timeout)}
		}
		return fetchResult{err: marked.Errorf(ErrUnavailable, "the answer from %s broke off (%v)", redact(rawURL), err)}
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
		return fetchResult{code: http.StatusNotFound, err: missingError(rawURL, "the archive holds no such file")}
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
		return fetchResult{code: http.StatusNotFound, err: missingError(u.String(), "no such file")}
	}
	if err != nil {
		return fetchResult{err: marked.Errorf(ErrUnavailable, "%s cannot be opened (%v)", u, pathless(err))}
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxLength+1))
	if err != nil {
		return fetchResult{err: marked.Errorf(ErrUnavailable, "%s cannot be read (%v)", u, pathless(err))}
	}
	if int64(len(data)) > maxLength {
		return fetchResult{err: &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than the %d bytes expected", u.String(), maxLength)}}
	}
	return fetchResult{data: bytes.Clone(data), code: http.StatusOK}
}

// redact drops credentials and queries from a URL before it reaches a
// message or a log.
func redact(raw string) string { return redactURL.URL(raw) }

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// binName matches the snapshot entry of a hashed bin: PREFIX-HEX.json.
var binName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.+)-([0-9a-f]+)\.json$`) })

// guessBins names the bins that would hold the wanted paths, from the
// snapshot alone, before targets.json says how it delegates: a group of
// PREFIX-HEX entries whose count is a power of two and whose suffixes are
// as long as TAP 15 makes them. A wrong guess costs one request, whose
// answer is never used unless verified metadata names it.
func guessBins(meta map[string]struct{ Version int64 }, wanted []string) []string {
	if len(wanted) == 0 {
		return nil
	}
	groups := map[string][]string{}
	for name := range meta {
		if m := binName().FindStringSubmatch(name); m != nil {
			groups[m[1]] = append(groups[m[1]], m[2])
		}
	}
	var out []string
	for prefix, suffixes := range groups {
		n := len(suffixes)
		if n < 2 || n&(n-1) != 0 {
			continue
		}
		b := &metadata.SuccinctRoles{NamePrefix: prefix, BitLength: bits.TrailingZeros(uint(n))}
		if suffixLen, _ := b.GetSuffixLen(); len(suffixes[0]) != suffixLen {
			continue
		}
		for _, w := range wanted {
			if bin := b.GetRolesForTarget(w)[0].Name; !slices.Contains(out, bin) {
				if _, ok := meta[bin+".json"]; ok {
					out = append(out, bin)
				}
			}
		}
	}
	return out
}
