package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/translog"
)

// Cache files of the transparency log: the newest checkpoint verified,
// and the checkpoints that conflicted with it, kept as evidence.
const (
	logCheckpointFile = "log-checkpoint"
	logEvidenceDir    = "log-evidence"
)

// ErrNotLogged marks a key list or a root that TUF verified but the
// repository's witnessed transparency log does not show: metadata signed
// with valid keys and served to this client alone is refused.
var ErrNotLogged = errors.New("not proven in the repository's witnessed transparency log")

// logCheck requires, from the first root that names a log, that a key
// list's entry is in the log under a checkpoint the quorum of the root's
// witnesses cosigned, the entry naming the list's registry, the role and
// version that list it, and its hash. A list proven once is not proven
// again while the same role version lists the same bytes under a root
// with the same policy.
func (s *workflow) logCheck(targetPath string, by listedBy, data []byte) error {
	host, isList := bundle.HostOfTarget(targetPath)
	if !isList {
		return nil
	}
	policy, ok, err := s.logPolicy()
	if err != nil || !ok {
		return err
	}
	obj := session.ObjectName(data)
	key := translog.Key{Registry: host, Role: by.role, Version: by.version, SHA256: obj}
	proof := policy.Origin + " " + policy.Key + " " + by.role + " " + strconv.FormatInt(by.version, 10) + " " + obj
	if s.state.Logged[targetPath] == proof {
		return nil
	}
	if s.f == nil {
		return errNotCached
	}
	cp, err := s.logCheckpoint(policy)
	if err != nil {
		return err
	}
	_, _, err = translog.Lookup(s.f.ctx, s.logFetch(), cp, key)
	switch {
	case errors.Is(err, translog.ErrNotInLog):
		return fmt.Errorf("%s's key list (sha256 %s, as %s v%d lists it) verified against root v%d but is not proven in the log %s: %w: %w",
			host, obj[:16], by.role, by.version, s.tm.Root.Signed.Version, policy.Origin, err, ErrNotLogged)
	case err != nil:
		// the repository did not serve the log's files: unavailable, as
		// when it does not serve its metadata
		return fmt.Errorf("prove %s's key list in the log %s: %w", host, policy.Origin, err)
	}
	if s.state.Logged == nil {
		s.state.Logged = map[string]string{}
	}
	s.state.Logged[targetPath] = proof
	return s.save()
}

// logPolicy is the log the session's root names, read once per root.
func (s *workflow) logPolicy() (translog.Policy, bool, error) {
	if s.policyOf != s.tm.Root {
		s.policy, s.hasPolicy, s.policyErr = translog.FromRootCustom(s.tm.Root.Signed.UnrecognizedFields)
		if s.policyErr != nil {
			s.policyErr = fmt.Errorf("root v%d: %w", s.tm.Root.Signed.Version, s.policyErr)
		}
		s.policyOf = s.tm.Root
	}
	return s.policy, s.hasPolicy, s.policyErr
}

// logCheckpoint is the log's checkpoint for this session: fetched once,
// cosigned by the quorum and fresh, and consistent with the newest one the
// cache holds, which it then replaces.
func (s *workflow) logCheckpoint(policy translog.Policy) (translog.Checkpoint, error) {
	if s.checkpoint != nil {
		return *s.checkpoint, nil
	}
	// the session's read of the log's files: a root proven in this very
	// update read the checkpoint already
	files := s.logReader()
	raw, read := files.Read[translog.CheckpointName]
	if !read {
		var err error
		raw, err = s.f.download(s.f.url(translog.CheckpointName), translog.MaxCheckpoint)
		if session.IsMissing(err) {
			return translog.Checkpoint{}, fmt.Errorf("root v%d names the transparency log %s, but %s serves no %s: refused until it does: %w",
				s.tm.Root.Signed.Version, policy.Origin, redact(s.repo), translog.CheckpointName, ErrNotLogged)
		}
		if err != nil {
			return translog.Checkpoint{}, s.failedNamed(translog.CheckpointName, err)
		}
		files.Read[translog.CheckpointName] = raw
	}
	// --accept-expired moves the freshness bound as it moves TUF's expiry
	cp, err := translog.VerifyCheckpoint(policy, raw, s.c.refTime())
	if err != nil {
		return cp, fmt.Errorf("%s: %w: %w", translog.CheckpointName, err, ErrNotLogged)
	}
	if prevRaw, err := s.cache.logCheckpoint(); err == nil {
		// the cached checkpoint verified when it was kept, perhaps under
		// an earlier root's policy: the log goes on as the same tree when
		// a root changes its key, origin or witnesses
		prev, err := translog.ReadCheckpoint(policy, prevRaw)
		if err != nil {
			var ok bool
			if prev, ok = translog.PeekTree(prevRaw); ok {
				err = nil
			}
		}
		if err == nil {
			if err := translog.Consistent(s.f.ctx, s.logFetch(), prev, cp); err != nil {
				return cp, s.logConflict(prev, cp, err)
			}
			if cp.Size == prev.Size {
				s.checkpoint = &cp
				return cp, nil
			}
		}
	}
	if err := s.cache.putLogCheckpoint(raw); err != nil {
		return cp, fmt.Errorf("keep the log's checkpoint in the cache: %w", err)
	}
	s.checkpoint = &cp
	return cp, nil
}

// logConflict keeps both checkpoints of a rollback or a fork in the cache
// and names them: the evidence to take to the repository's maintainers and
// the witnesses.
func (s *workflow) logConflict(prev, next translog.Checkpoint, cause error) error {
	var names []string
	for _, cp := range []translog.Checkpoint{prev, next} {
		// hex, not the hash's base64, which may hold a slash
		name, err := s.cache.keepEvidence(strconv.FormatInt(cp.Size, 10)+"-"+hex.EncodeToString(cp.Hash[:8])+".checkpoint", cp.Note)
		if err != nil {
			return fmt.Errorf("%w (and the evidence could not be kept: %v): %w", cause, err, ErrNotLogged)
		}
		names = append(names, name)
	}
	return fmt.Errorf("the repository's log conflicts with the one this cache saw (%w): refused; both checkpoints are kept as evidence in %s and %s: %w", cause, names[0], names[1], ErrNotLogged)
}

// logFetch reads log files from the repository this session updates
// from, each once, in the words and with the kind of any file the
// repository did not serve.
func (s *workflow) logFetch() translog.Fetch { return s.logReader().Fetch }

// logReader is the session's reader of log files, made on first use.
func (s *workflow) logReader() *session.LogFiles {
	if s.logFiles == nil {
		s.logFiles = session.NewLogFiles(func(name string, max int64) ([]byte, error) {
			data, err := s.f.download(s.f.url(name), max)
			if err != nil && !session.IsMissing(err) {
				return nil, explainWith(s.repo, name, err, s.tm, s.c.now(), s.c.opts.AcceptExpired)
			}
			return data, err
		})
	}
	return s.logFiles
}

// logFiles reads the log's files through this fetcher.
func (f *fetcher) logFiles() *session.LogFiles {
	return session.NewLogFiles(func(name string, max int64) ([]byte, error) { return f.download(f.url(name), max) })
}

// Log is the transparency log the trusted root names, after a refresh,
// with a reader of its files at the repository that answered: for
// monitors, which read the whole log. ok is false when the root names
// none.
func (t TUF) Log(ctx context.Context) (policy translog.Policy, fetch translog.Fetch, ok bool, err error) {
	c := t.c
	repo := c.opts.Repositories[0]
	if !c.opts.Offline {
		if repo, err = t.RefreshMetadata(ctx); err != nil {
			return policy, nil, false, err
		}
	}
	trusted, err := c.trustedMetadata(ctx)
	if err != nil {
		return policy, nil, false, err
	}
	root, err := metadata.Root().FromBytes(trusted[metadata.ROOT])
	if err != nil {
		return policy, nil, false, err
	}
	policy, ok, err = translog.FromRootCustom(root.Signed.UnrecognizedFields)
	if err != nil || !ok {
		return policy, nil, ok, err
	}
	f := newFetcher(ctx, c, repo)
	f.sequential = true
	if err := f.openArchive(); err != nil {
		return policy, nil, false, err
	}
	return policy, f.logFiles().Fetch, true, nil
}

// rootLogged requires, when prev (the root before version) names a
// transparency log, that the new root's entry is proven in that log
// under prev's policy: a root that removes the log, or names another log
// key, origin, witnesses or quorum, is public in the old log before this
// client takes it. From the new root on, its own policy applies.
func (s *workflow) rootLogged(prev *metadata.Metadata[metadata.RootType], version int64, data []byte) error {
	policy, ok, err := translog.FromRootCustom(prev.Signed.UnrecognizedFields)
	if err != nil {
		return fmt.Errorf("root v%d: %w", prev.Signed.Version, err)
	}
	if !ok {
		return nil
	}
	_, err = translog.ProveRoot(s.f.ctx, s.logFetch(), policy, version, session.ObjectName(data))
	switch {
	case errors.Is(err, translog.ErrNotInLog), errors.Is(err, translog.ErrMissing):
		return fmt.Errorf("root v%d of %s is signed by the root threshold but is not proven in the transparency log %s that root v%d names, so it may have been shown to this client alone; refusing it until the log's witnesses have seen it: %w: %w",
			version, redact(s.repo), policy.Origin, prev.Signed.Version, err, ErrNotLogged)
	case err != nil:
		return fmt.Errorf("prove root v%d in the log %s: %w", version, policy.Origin, err)
	}
	return nil
}

// warnLogDropped warns, once, when the root walk went from a root that
// names a transparency log to one that names none: the drop itself was
// proven in the log, but key lists are no longer checked against one.
func (s *workflow) warnLogDropped(start *metadata.Metadata[metadata.RootType]) {
	if start == s.tm.Root {
		return
	}
	before, had, _ := translog.FromRootCustom(start.Signed.UnrecognizedFields)
	if _, has, _ := translog.FromRootCustom(s.tm.Root.Signed.UnrecognizedFields); had && !has {
		s.c.log.Warn("the repository's new root no longer names a transparency log: the change is in the old log, but key lists are from now on checked by TUF alone",
			"repository", redact(s.repo), "root", s.tm.Root.Signed.Version, "log", before.Origin)
	}
}
