package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/translog"
)

// want is what one call needs from the repository.
type want struct {
	names []string
	// force asks the network whatever the answer set's age
	force bool
	// stopAtMissing ends the update at the first name the repository does
	// not list; otherwise such names are dropped and reported
	stopAtMissing bool
	// noFallback fails instead of answering from the cache when the
	// repository is unreachable or inconsistent
	noFallback bool
	// repos overrides the client's repositories
	repos []string
}

// outcome is what an update or the answer set gave.
type outcome struct {
	repo    string
	got     map[string][]byte
	dropped []string
	// fromCache is set when fresh cached metadata answered, without the network
	fromCache bool
}

// obtain answers from the answer set while it is fresh, else updates from
// the repositories; when the network is down or the repository is
// inconsistent, an unexpired answer set still answers, with a warning.
func (c *Client) obtain(ctx context.Context, w want) (outcome, error) {
	ctx = withLockDeadline(ctx, c.opts.LockWait)
	if !w.force {
		if out, ok, err := c.answer(ctx, w.names, true); ok {
			return out, err
		}
	}
	// an update that completes while this one waits for the lock answers
	// for both
	generation := c.cache.record(answerRecord).Generation
	if c.opts.Offline {
		if out, ok, err := c.answer(ctx, w.names, false); ok {
			return out, err
		}
		return outcome{}, fmt.Errorf("the cache holds no unexpired copy of %s and offline mode forbids fetching it: refresh while online, or import an archive: %w", strings.Join(w.names, ", "), ErrOffline)
	}
	// the trusted root's own signatures, before anything is asked of a
	// repository under it: once per client
	if err := c.rootChecked(); err != nil {
		return outcome{}, err
	}
	out, err := c.update(ctx, w, generation)
	if err == nil || errors.Is(err, ErrUntrusted) || errors.Is(err, ErrNoTarget) || w.noFallback || c.opts.NoFallback {
		return out, err
	}
	what := ""
	switch {
	case errors.Is(err, ErrInconsistent):
		what = "the repository is inconsistent"
	case errors.Is(err, ErrUnavailable):
		what = "the repository is unreachable"
	default:
		return out, err
	}
	if cached, ok, cerr := c.answer(ctx, w.names, false); ok && cerr == nil {
		c.log.Warn(what+"; answering from the cache, whose metadata verified together and has not expired", "error", err)
		return cached, nil
	}
	if len(w.names) == 0 {
		return out, err
	}
	return out, fmt.Errorf("%w, and the cache holds no unexpired copy of %s: check the network or the repository URL, and refresh once it answers", err, strings.Join(w.names, ", "))
}

// answer answers from the answer set alone, under the shared lock. ok is
// false when the set cannot answer for every name: missing, stale when
// fresh is required, expired, or no longer verifying.
func (c *Client) answer(ctx context.Context, names []string, fresh bool) (outcome, bool, error) {
	unlock, err := c.cache.lock(ctx, false)
	if err != nil {
		return outcome{}, false, nil
	}
	defer unlock()
	return c.answerLocked(names, fresh)
}

func (c *Client) answerLocked(names []string, fresh bool) (outcome, bool, error) {
	set := c.cache.record(answerRecord)
	if set.CheckedAt.IsZero() {
		return outcome{}, false, nil
	}
	now := c.now()
	if fresh && (now.Sub(set.CheckedAt) >= c.maxAge || set.CheckedAt.After(now.Add(time.Minute))) {
		return outcome{}, false, nil
	}
	c.memo.mu.Lock()
	defer c.memo.mu.Unlock()
	if out, ok := c.fastAnswer(set, names); ok {
		return out, true, nil
	}
	s := c.memo.reuse(c, set)
	if s == nil {
		var err error
		if s, err = c.openSet(set); err != nil {
			c.memo.forget()
			return outcome{}, false, nil
		}
		c.memo.keep(set, s)
	}
	out := outcome{repo: set.Repository, got: map[string][]byte{}, fromCache: true}
	for _, name := range names {
		data, err := c.memo.target(s, name)
		if errors.Is(err, errNoTarget) && fresh {
			// fresh verified metadata that lists no such target is an answer
			return out, true, ErrNoTarget
		}
		if err != nil {
			return outcome{}, false, nil
		}
		out.got[name] = data
	}
	return out, true, nil
}

// openSet verifies an answer set's top-level metadata against the newest
// trusted root at the reference time, without the network.
func (c *Client) openSet(set record) (*workflow, error) {
	tm, _, err := verifiedRoot(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		return nil, err
	}
	data, err := c.cache.object(set.Timestamp)
	if err != nil {
		return nil, err
	}
	if _, err := tm.UpdateTimestamp(data); err != nil {
		return nil, err
	}
	if data, err = c.cache.object(set.Snapshot); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateSnapshot(data, true); err != nil {
		return nil, err
	}
	s := &workflow{c: c, cache: c.cache, tm: tm, repo: set.Repository, sources: []record{set}, loaded: map[string]string{}}
	if _, err := s.role(metadata.TARGETS, metadata.ROOT); err != nil {
		return nil, err
	}
	return s, nil
}

// update runs the TUF client workflow against each repository in turn
// until one succeeds. Updates of one cache, in this process or others,
// take turns under the exclusive lock; one that finds the answer set
// renewed by another while it waited answers from it.
func (c *Client) update(ctx context.Context, w want, generation int64) (outcome, error) {
	unlock, err := c.cache.lock(ctx, true)
	if err != nil {
		return outcome{}, err
	}
	defer unlock()
	if set := c.cache.record(answerRecord); !w.force || set.Generation != generation {
		if out, ok, err := c.answerLocked(w.names, true); ok {
			return out, err
		}
	}
	var failures []string
	var errs []error
	var last outcome
	repos := c.opts.Repositories
	if w.repos != nil {
		repos = w.repos
	}
	for _, repo := range repos {
		out, err := c.attempt(ctx, repo, w)
		if err == nil {
			if len(failures) > 0 {
				c.log.Warn("used a later repository after earlier ones failed", "repository", redact(repo), "failures", strings.Join(failures, "; "))
			}
			c.log.Info("refreshed", "repository", redact(repo))
			return out, nil
		}
		if errors.Is(err, ErrNoTarget) {
			// verified metadata said so; a mirror serves the same metadata
			return out, err
		}
		last = out
		failures = append(failures, err.Error())
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return last, errs[0]
	}
	return last, fmt.Errorf("every repository failed: %s: %w", strings.Join(failures, "; "), errors.Join(errs...))
}

// attempt is one update from one repository. Each role is kept in the
// trusted state as soon as it verifies. Once the top-level metadata has
// verified and each requested target has been found or found missing, the
// metadata becomes the answer set, with the target files that verified
// with it and the earlier answers that still verify against it.
func (c *Client) attempt(ctx context.Context, repo string, w want) (outcome, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	now := c.now()
	out := outcome{repo: repo, got: map[string][]byte{}}
	state := c.cache.record(trustedRecord).clone()
	f := newFetcher(ctx, c, repo)
	if err := f.openArchive(); err != nil {
		return out, err
	}
	if state.TimestampFrom == repo && state.TimestampETag != "" {
		if data, err := c.cache.object(state.Timestamp); err == nil {
			f.etag, f.cachedTimestamp = state.TimestampETag, data
		}
	}
	f.have, f.wanted, f.consistent = state.clone(), w.names, !state.NotConsistent
	nextRoot := c.guessNextRoot()
	f.expectLog = c.rootsNameALog(nextRoot)
	if f.expectLog {
		if raw, err := c.cache.logCheckpoint(); err == nil {
			f.cachedLogSize, _ = translog.PeekSize(raw)
		}
	}
	// the first requests go out while the root chain verifies: which root
	// to probe for is read from the stored roots' names, unverified, and
	// the walk asks for any other itself
	f.begin(nextRoot)
	tm, _, err := verifiedRoot(c.cache, c.opts.TrustedRoot, c.refTime())
	if err != nil {
		return out, err
	}
	f.mu.Lock()
	f.consistent = tm.Root.Signed.ConsistentSnapshot
	f.mu.Unlock()
	s := &workflow{c: c, cache: c.cache, tm: tm, f: f, repo: repo, state: state, sources: []record{state}, loaded: map[string]string{}}
	if err := s.refreshMetadata(); err != nil {
		return out, err
	}
	targets := map[string]string{}
	var failure error
	for _, name := range w.names {
		data, err := s.target(name)
		if errors.Is(err, errNoTarget) && !w.stopAtMissing {
			out.dropped = append(out.dropped, name)
			continue
		}
		if errors.Is(err, errNoTarget) {
			failure = ErrNoTarget
			break
		}
		if err != nil {
			failure = err
			break
		}
		out.got[name] = data
		targets[name] = session.ObjectName(data)
	}
	if errors.Is(failure, ErrUnavailable) || errors.Is(failure, ErrInconsistent) {
		// the answer set stays as it was, so that it can answer with a
		// warning as when the metadata itself cannot be fetched
		return out, failure
	}
	prev := c.cache.record(answerRecord)
	s.f, s.sources = nil, []record{prev}
	for name := range prev.Targets {
		if _, done := targets[name]; done || slices.Contains(out.dropped, name) {
			continue
		}
		if data, err := s.target(name); err == nil {
			targets[name] = session.ObjectName(data)
		}
	}
	next := s.answerSet(now, prev.Generation+1, targets)
	if err := c.cache.putRecord(answerRecord, next); err != nil {
		return out, fmt.Errorf("keep the verified metadata in the cache: %w", err)
	}
	if s.wrote || !prev.sameObjects(next) {
		c.cache.collect()
	}
	return out, failure
}

// rootsNameALog hints, unverified, that the newest root at hand names a
// transparency log, for fetching its files ahead.
func (c *Client) rootsNameALog(nextRoot int64) bool {
	newest := c.opts.TrustedRoot
	if v := nextRoot - 1; v > 0 {
		if data, err := c.cache.root(v); err == nil {
			newest = data
		}
	}
	return bytes.Contains(newest, []byte(`"`+translog.CustomKey+`"`))
}

// guessNextRoot is the root version an update will probe for first, read
// from the trusted root's version and the stored roots' names alone.
func (c *Client) guessNextRoot() int64 {
	var trusted struct {
		Signed struct{ Version int64 } `json:"signed"`
	}
	json.Unmarshal(c.opts.TrustedRoot, &trusted)
	v := trusted.Signed.Version
	for c.cache.hasRoot(v + 1) {
		v++
	}
	return v + 1
}

// explain turns go-tuf's errors into one sentence that says what happened
// and what it means, keeping the error kinds for errors.Is.
func explain(repo, file string, err error) error {
	return explainWith(repo, file, err, nil, time.Time{}, 0)
}

// explainWith is explain with the update's trusted metadata, so that an
// expiry is told with the role's own expiry time, how long ago that was
// and how long past expiry the caller accepted.
func explainWith(repo, file string, err error, tm *trustedmetadata.TrustedMetadata, now time.Time, accepted time.Duration) error {
	r := redact(repo)
	var expired *metadata.ErrExpiredMetadata
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrInconsistent), errors.Is(err, ErrUntrusted):
		return err
	case errors.As(err, &expired):
		e := &ExpiredError{Repository: r, Role: expiredRole(expired.Msg, file)}
		e.Expires, e.Now, e.Accepted = expiryOf(tm, e.Role), now, accepted
		return e
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		return fmt.Errorf("the repository at %s serves older metadata in %s than this client has already verified (%v): a rollback attack or a stale mirror; refusing it: %w", r, file, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return fmt.Errorf("%s from %s lacks the signatures the trusted root requires (%v): tampered, or signed by keys outside the root of trust; refusing it: %w", file, r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrDownloadLengthMismatch{}):
		return fmt.Errorf("%s from %s is longer than any such file may be (%v); refusing it: %w", file, r, err, ErrUntrusted)
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		return fmt.Errorf("the repository at %s is inconsistent: %s does not match the length or hash its signed metadata lists (%v): a publish half done, a broken mirror, or tampering in transit: %w", r, file, err, ErrInconsistent)
	case errors.Is(err, &metadata.ErrRepository{}), errors.Is(err, &metadata.ErrValue{}), errors.Is(err, &metadata.ErrType{}):
		return fmt.Errorf("the repository at %s serves %s, which does not verify (%v); refusing it: %w", r, file, err, ErrUntrusted)
	}
	return fmt.Errorf("the update from %s failed at %s and its data is not used (%v): %w", r, file, err, ErrUntrusted)
}

// answerMemo is the answer set a long-lived client verified last: while
// the cache's records name the same objects, no newer root has arrived and
// nothing it holds has expired, the next answer is read from memory
// instead of verifying the same metadata again. Objects are named by their
// hash and never change, so the same record means the same bytes.
type answerMemo struct {
	mu      sync.Mutex
	set     record
	root    int64
	s       *workflow
	targets map[string][]byte
	// what fastAnswer read, for the same set
	fastSet record
	fastGot map[string][]byte
}

func (m *answerMemo) forget() { m.s, m.targets = nil, nil }

func (m *answerMemo) keep(set record, s *workflow) {
	m.set, m.s, m.root, m.targets = set, s, s.tm.Root.Signed.Version, map[string][]byte{}
}

// reuse returns the kept session when it still stands for set.
func (m *answerMemo) reuse(c *Client, set record) *workflow {
	if m.s == nil || set.Generation != m.set.Generation || set.Repository != m.set.Repository || !set.CheckedAt.Equal(m.set.CheckedAt) || !set.sameObjects(m.set) {
		return nil
	}
	if c.cache.hasRoot(m.root + 1) {
		// a newer root arrived: answers are checked against it
		return nil
	}
	ref := c.refTime()
	tm := m.s.tm
	if !ref.Before(tm.Root.Signed.Expires) || !ref.Before(tm.Timestamp.Signed.Expires) || !ref.Before(tm.Snapshot.Signed.Expires) {
		return nil
	}
	for _, md := range tm.Targets {
		if !ref.Before(md.Signed.Expires) {
			return nil
		}
	}
	return m.s
}

// target answers from the memo, looking up what it does not hold yet.
func (m *answerMemo) target(s *workflow, name string) ([]byte, error) {
	if data, ok := m.targets[name]; ok && s == m.s {
		return data, nil
	}
	data, err := s.target(name)
	if err == nil && s == m.s {
		m.targets[name] = data
	}
	return data, err
}

// fastAnswer, called with c.memo.mu held, answers from the answer set without verifying its signatures
// again, as a fresh answer in a new process: the set was written only
// after it verified from root to key list, under the trusted root the
// client still holds (Anchor), and every file it names is read by its
// sha256, which verified metadata gave. It does not answer when any role
// of the set has expired, when a newer root has arrived since (its keys
// may revoke the set's), or when it does not name every path asked for:
// the full check decides those.
func (c *Client) fastAnswer(set record, names []string) (outcome, bool) {
	if set.Expires.IsZero() || set.RootVersion == 0 || set.Anchor != c.anchor {
		return outcome{}, false
	}
	if !c.refTime().Before(set.Expires) || c.cache.hasRoot(set.RootVersion+1) {
		return outcome{}, false
	}
	// a long-lived client keeps what it read, for the same set
	m := &c.memo
	if m.fastGot == nil || !sameSet(m.fastSet, set) {
		m.fastSet, m.fastGot = set, map[string][]byte{}
	}
	out := outcome{repo: set.Repository, got: map[string][]byte{}, fromCache: true}
	for _, name := range names {
		if data, ok := m.fastGot[name]; ok {
			out.got[name] = data
			continue
		}
		obj, ok := set.Targets[name]
		if !ok {
			return outcome{}, false
		}
		data, err := c.cache.object(obj)
		if err != nil {
			return outcome{}, false
		}
		out.got[name], m.fastGot[name] = data, data
	}
	return out, true
}

// sameSet reports whether two reads of the answer set found the same set.
func sameSet(a, b record) bool {
	return a.Generation == b.Generation && a.Repository == b.Repository && a.CheckedAt.Equal(b.CheckedAt) && a.sameObjects(b)
}

// ErrExpired marks metadata past its expiry: a freeze attack, or a
// repository whose timestamp is no longer re-signed. It is an ErrUntrusted.
var ErrExpired = fmt.Errorf("expired metadata: %w", ErrUntrusted)

// ExpiredError names the role that expired, and when, if known.
type ExpiredError struct {
	Repository string
	Role       string
	Expires    time.Time     // zero when the update did not keep the role
	Now        time.Time     // when it was checked
	Accepted   time.Duration // how long past expiry the caller accepted
}

func (e *ExpiredError) Error() string {
	when := "has expired"
	if !e.Expires.IsZero() {
		when = "expired at " + e.Expires.UTC().Format(time.RFC3339)
		if !e.Now.IsZero() && e.Now.After(e.Expires) {
			when += ", " + duration.Words(e.Now.Sub(e.Expires).Truncate(time.Minute)) + " ago"
		}
	}
	if e.Accepted > 0 {
		when += ", more than the " + duration.Words(e.Accepted) + " accepted"
	}
	return fmt.Sprintf("the repository at %s serves %s metadata that %s: a freeze attack, or a repository no longer re-signed; refusing it", e.Repository, e.Role, when)
}

func (e *ExpiredError) Unwrap() error { return ErrExpired }

// expiredRole reads the role from go-tuf's message ("timestamp.json is
// expired", "new bins-2c is expired"), which names the role that expired
// even when the update was loading another.
func expiredRole(msg, file string) string {
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "final "), "new ")
	if role, ok := strings.CutSuffix(msg, " is expired"); ok {
		return strings.TrimSuffix(role, ".json")
	}
	name := strings.TrimSuffix(file, ".json")
	if v, rest, ok := strings.Cut(name, "."); ok && strings.Trim(v, "0123456789") == "" {
		name = rest
	}
	return name
}

func expiryOf(tm *trustedmetadata.TrustedMetadata, role string) time.Time {
	if tm == nil {
		return time.Time{}
	}
	switch role {
	case metadata.ROOT:
		if tm.Root != nil {
			return tm.Root.Signed.Expires
		}
	case metadata.TIMESTAMP:
		if tm.Timestamp != nil {
			return tm.Timestamp.Signed.Expires
		}
	case metadata.SNAPSHOT:
		if tm.Snapshot != nil {
			return tm.Snapshot.Signed.Expires
		}
	default:
		if t, ok := tm.Targets[role]; ok && t != nil {
			return t.Signed.Expires
		}
	}
	return time.Time{}
}
