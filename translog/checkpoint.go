package translog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// CheckpointName is the log's newest checkpoint in the repository.
const CheckpointName = Dir + "checkpoint"

// MaxCheckpoint bounds a checkpoint note: its text and a signature per
// witness.
const MaxCheckpoint = 64 << 10

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Size int64
	Hash tlog.Hash
	// Note is the checkpoint as served, with its signatures.
	Note []byte
	// Witnessed names the policy's witnesses whose cosignature verified,
	// sorted, and Cosigned is when the quorum-th newest of them signed:
	// the time by which the quorum had seen this checkpoint.
	Witnessed []string
	Cosigned  time.Time
}

// Errors of checkpoints and proofs. Each names what failed closed.
var (
	ErrBadCheckpoint = errors.New("the log's checkpoint does not verify")
	ErrNotWitnessed  = errors.New("the log's checkpoint is not cosigned by the quorum of witnesses")
	ErrStale         = errors.New("the log's witness cosignatures are older than allowed")
	ErrRollback      = errors.New("the log's checkpoint is older than one already seen")
	ErrFork          = errors.New("the log forked: two checkpoints that do not extend each other")
	ErrNotInLog      = errors.New("not in the transparency log")
)

// VerifyCheckpoint checks a checkpoint note against the policy: the log's
// signature, its origin, and cosignatures (C2SP tlog-cosignature) by at
// least the quorum of the policy's witnesses, the quorum-th newest no
// older than the policy's MaxAge at now. Signatures by keys the policy
// does not name are ignored.
func VerifyCheckpoint(p Policy, raw []byte, now time.Time) (Checkpoint, error) {
	cp, err := VerifyWitnessed(p, raw)
	if err != nil {
		return cp, err
	}
	maxAge, err := p.maxAge()
	if err != nil {
		return cp, err
	}
	if cp.Cosigned.Before(now.Add(-maxAge)) {
		return cp, fmt.Errorf("the quorum last cosigned at %s, more than %s before %s: the log or its witnesses are not being refreshed, or an old checkpoint is being replayed: %w",
			cp.Cosigned.UTC().Format(time.RFC3339), maxAge, now.UTC().Format(time.RFC3339), ErrStale)
	}
	return cp, nil
}

// verifySigned checks the log's signature and reads the cosignatures, with
// no quorum or freshness requirement (for publishers and monitors).
func verifySigned(p Policy, raw []byte) (Checkpoint, error) {
	var cp Checkpoint
	if len(raw) > MaxCheckpoint {
		return cp, fmt.Errorf("%d bytes, above %d: %w", len(raw), MaxCheckpoint, ErrBadCheckpoint)
	}
	logV, err := p.logVerifier()
	if err != nil {
		return cp, fmt.Errorf("%v: %w", err, ErrBadPolicy)
	}
	witnesses, err := p.witnessVerifiers()
	if err != nil {
		return cp, fmt.Errorf("%v: %w", err, ErrBadPolicy)
	}
	n, err := note.Open(raw, note.VerifierList(append([]note.Verifier{logV}, witnesses...)...))
	if err != nil {
		return cp, fmt.Errorf("%v: %w", err, ErrBadCheckpoint)
	}
	signedByLog := false
	var times []time.Time
	for _, s := range n.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			signedByLog = true
			continue
		}
		for _, w := range witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() && !slices.Contains(cp.Witnessed, s.Name) {
				t, err := fnote.CoSigV1Timestamp(s)
				if err != nil {
					continue
				}
				cp.Witnessed = append(cp.Witnessed, s.Name)
				times = append(times, t)
			}
		}
	}
	if !signedByLog {
		return cp, fmt.Errorf("no signature by the log key %s: %w", logV.Name(), ErrBadCheckpoint)
	}
	var c flog.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return cp, fmt.Errorf("%v: %w", err, ErrBadCheckpoint)
	}
	if c.Origin != p.Origin {
		return cp, fmt.Errorf("origin %q, not the root's %q: %w", c.Origin, p.Origin, ErrBadCheckpoint)
	}
	if len(c.Hash) != tlog.HashSize || c.Size > 1<<40 {
		return cp, fmt.Errorf("size %d, hash of %d bytes: %w", c.Size, len(c.Hash), ErrBadCheckpoint)
	}
	cp.Size = int64(c.Size)
	copy(cp.Hash[:], c.Hash)
	cp.Note = slices.Clone(raw)
	slices.Sort(cp.Witnessed)
	if p.Quorum > 0 && len(times) >= p.Quorum {
		slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
		cp.Cosigned = times[p.Quorum-1]
	}
	return cp, nil
}

// ReadCheckpoint checks the log's signature alone: what a publisher reads
// back before extending the log, and a monitor before judging quorum.
func ReadCheckpoint(p Policy, raw []byte) (Checkpoint, error) { return verifySigned(p, raw) }

// CheckpointText is the body of a checkpoint (C2SP tlog-checkpoint).
func CheckpointText(origin string, size int64, hash tlog.Hash) []byte {
	return flog.Checkpoint{Origin: origin, Size: uint64(size), Hash: hash[:]}.Marshal()
}

// PeekSize reads a checkpoint's size without verifying anything: for
// fetching the proof's tiles ahead.
func PeekSize(raw []byte) (int64, bool) {
	cp, ok := PeekTree(raw)
	return cp.Size, ok
}

// VerifyWitnessed checks a checkpoint's log signature and the quorum of
// its witnesses' cosignatures, whatever their age: a checkpoint the quorum cosigned proves forever that its
// entries are public, which is all a proof of a root version needs.
func VerifyWitnessed(p Policy, raw []byte) (Checkpoint, error) {
	cp, err := verifySigned(p, raw)
	if err != nil {
		return cp, err
	}
	if len(cp.Witnessed) < p.Quorum {
		return cp, fmt.Errorf("%d of the %d needed (%v): %w", len(cp.Witnessed), p.Quorum, cp.Witnessed, ErrNotWitnessed)
	}
	return cp, nil
}

// PeekTree reads a checkpoint's size and hash without verifying any
// signature: the tree a proof reads its tiles under, when what the proof
// trusts is another checkpoint this one must extend.
func PeekTree(raw []byte) (Checkpoint, bool) {
	text, _, ok := strings.Cut(string(raw), "\n\n")
	var c flog.Checkpoint
	if !ok || len(raw) > MaxCheckpoint {
		return Checkpoint{}, false
	}
	if _, err := c.Unmarshal([]byte(text + "\n")); err != nil || c.Size > 1<<40 || len(c.Hash) != tlog.HashSize {
		return Checkpoint{}, false
	}
	cp := Checkpoint{Size: int64(c.Size), Note: slices.Clone(raw)}
	copy(cp.Hash[:], c.Hash)
	return cp, true
}
