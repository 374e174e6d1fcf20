// Package logappend extends a repository's transparency log (package
// translog) as a publish does: it appends entries, signs the checkpoint
// with the log key, has the root's witnesses cosign it, and publishes it
// only with the quorum.
//
// Two publishers never fork the log: an append is first claimed by a
// pending file (log/pending/SIZE, created only if absent, signed by the
// log key) that holds the entries; whoever finds a claim at the log's
// current size finishes it, so a publish killed at any point leaves a
// log that the next publish completes, and tiles, written only if absent
// or identical, are never replaced.
package logappend

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// Errors of appends.
var (
	// ErrNoQuorum marks a checkpoint fewer than the quorum of witnesses
	// cosigned: nothing was published.
	ErrNoQuorum = errors.New("too few witnesses cosigned the log's checkpoint")
	// ErrLogDamaged marks a log in the store that does not verify.
	ErrLogDamaged = errors.New("the repository's transparency log does not verify")
	// ErrLogKey marks a log key that cannot sign for the policy.
	ErrLogKey = errors.New("the log key does not match the root's log policy")
)

// NoteSigner signs checkpoints with an Ed25519 online key as the log
// named origin; it fails when the key is not the policy's log key.
func NoteSigner(k *keyfile.Signer, p translog.Policy) (note.Signer, error) {
	pub, ok := k.Public.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an Ed25519 key; a log key signs notes, which take Ed25519: %w", k.Name, ErrLogKey)
	}
	vkey, err := note.NewEd25519VerifierKey(p.Origin, pub)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrLogKey)
	}
	if vkey != p.Key {
		return nil, fmt.Errorf("%s is not the log key the root names for %s: %w", k.Name, p.Origin, ErrLogKey)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return noteSigner{k: k, name: p.Origin, hash: v.KeyHash()}, nil
}

// VerifierKey is the note verifier key of an Ed25519 public key as the
// log named origin, for the root's policy.
func VerifierKey(origin string, pub any) (string, error) {
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("a log key must be Ed25519: %w", ErrLogKey)
	}
	return note.NewEd25519VerifierKey(origin, k)
}

type noteSigner struct {
	k    *keyfile.Signer
	name string
	hash uint32
}

func (s noteSigner) Name() string    { return s.name }
func (s noteSigner) KeyHash() uint32 { return s.hash }
func (s noteSigner) Sign(msg []byte) ([]byte, error) {
	return s.k.SignMessage(bytes.NewReader(msg))
}

// Options of an append.
type Options struct {
	Policy translog.Policy
	Signer note.Signer
	// Witness asks one witness to cosign; nil uses HTTP.
	Witness WitnessClient
	Now     func() time.Time
	DryRun  bool
	// Previous is the policy the log was kept under until now, when a
	// root changed it: the log's checkpoint may still be signed under
	// it, and the append goes on from that tree under Policy.
	Previous *translog.Policy
}

// Result says what an append did.
type Result struct {
	// Appended counts the entries this call added; Finished counts those
	// of another publisher's unfinished append it completed.
	Appended, Finished int
	Checkpoint         translog.Checkpoint
}

const maxAttempts = 5

// maxPending bounds a pending file: 10,000 registries' entries and more.
const maxPending = 64 << 20

// Append adds the entries the log does not hold yet and publishes a
// checkpoint cosigned by the quorum. With nothing to add it leaves the
// log as it is.
func Append(ctx context.Context, dst store.Store, entries []translog.Entry, opts Options) (Result, error) {
	var res Result
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for attempt := 1; ; attempt++ {
		cp, tag, switching, done, err := logState(ctx, dst, entries, opts)
		if done || err != nil {
			return res, err
		}
		res.Checkpoint = cp
		// a claim at the current size is an append someone started:
		// finish it before adding ours
		claim, err := readPending(ctx, dst, claimPolicy(opts, switching), cp.Size)
		if err != nil {
			return res, err
		}
		if claim != nil && opts.DryRun {
			// another publisher's append is due first; a dry run only says so
			res.Finished = len(claim.entries)
			return res, nil
		}
		mine := false
		if claim == nil {
			var lost bool
			claim, lost, done, err = claimOurs(ctx, dst, entries, cp, tag, switching, opts, &res)
			if done || err != nil {
				return res, err
			}
			if lost {
				continue // another publisher claimed this size first
			}
			mine = true
		}
		next, err := complete(ctx, dst, cp, claim, opts)
		if err != nil {
			return res, err
		}
		if retry, err := putCheckpoint(ctx, dst, next, tag, attempt); err != nil || retry {
			if err != nil {
				return res, err
			}
			continue
		}
		res.Checkpoint = next
		if mine {
			res.Appended += len(claim.entries)
			return res, nil
		}
		res.Finished += len(claim.entries)
	}
}

// logState reads the log's checkpoint, under the append's policy or the
// previous one (switching); done is set for a rerun of a publish whose log
// steps went further, under a later policy, when what this step logs is
// all there.
func logState(ctx context.Context, dst store.Store, entries []translog.Entry, opts Options) (cp translog.Checkpoint, tag store.Tag, switching, done bool, err error) {
	cp, tag, switching, err = currentOrPrevious(ctx, dst, opts)
	if errors.Is(err, ErrLogDamaged) {
		if todo, merr := missing(ctx, dst, entries); merr == nil && len(todo) == 0 {
			return cp, tag, false, true, nil
		}
	}
	return cp, tag, switching, false, err
}

// claimPolicy is the policy a pending claim at the current size is signed
// under: the previous one while the log switches.
func claimPolicy(opts Options, switching bool) translog.Policy {
	if switching {
		return *opts.Previous
	}
	return opts.Policy
}

// claimOurs claims the log's next size for the entries it does not hold
// yet. done is set when there is nothing to append (res says what a dry
// run would append, or holds the checkpoint re-signed under a new policy);
// lost when another publisher claimed the size first.
func claimOurs(ctx context.Context, dst store.Store, entries []translog.Entry, cp translog.Checkpoint, tag store.Tag, switching bool, opts Options, res *Result) (claim *pending, lost, done bool, err error) {
	todo, err := missing(ctx, dst, entries)
	if err == nil && len(todo) == 0 && switching && !opts.DryRun {
		// nothing to add, but the tree goes on under the new policy
		res.Checkpoint, err = resign(ctx, dst, cp, tag, opts)
		return nil, false, true, err
	}
	if err != nil || len(todo) == 0 || opts.DryRun {
		res.Appended = len(todo)
		return nil, false, true, err
	}
	if claim, err = makePending(opts, cp.Size, todo); err != nil {
		return nil, false, true, err
	}
	switch err := dst.Put(ctx, pendingName(cp.Size), claim.raw, store.Absent); {
	case errors.Is(err, store.ErrChanged):
		return nil, true, false, nil
	case err != nil:
		return nil, false, true, fmt.Errorf("claim the log's next entries in %s: %w", dst, err)
	}
	return claim, false, false, nil
}

// putCheckpoint publishes the new checkpoint in place of the one tagged
// tag; retry is set when another publisher extended the log meanwhile.
func putCheckpoint(ctx context.Context, dst store.Store, next translog.Checkpoint, tag store.Tag, attempt int) (retry bool, err error) {
	switch err := dst.Put(ctx, translog.CheckpointName, next.Note, tag); {
	case errors.Is(err, store.ErrChanged):
		if attempt == maxAttempts {
			return false, fmt.Errorf("another publisher kept extending the log of %s: run again once it is done: %w", dst, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("publish the log's checkpoint to %s: %w", dst, err)
	}
	return false, nil
}

// Current is the log's checkpoint as the store holds it, signed by the
// log key (witness quorum not required); a store without a log has the
// empty tree.
func Current(ctx context.Context, dst store.Store, p translog.Policy) (translog.Checkpoint, error) {
	cp, _, err := current(ctx, dst, p)
	return cp, err
}

// currentOrPrevious is the log's checkpoint read under the append's
// policy, else under the previous one (switching is then set).
func currentOrPrevious(ctx context.Context, dst store.Store, opts Options) (cp translog.Checkpoint, tag store.Tag, switching bool, err error) {
	cp, tag, err = current(ctx, dst, opts.Policy)
	if err != nil && errors.Is(err, ErrLogDamaged) && opts.Previous != nil {
		if pcp, ptag, perr := current(ctx, dst, *opts.Previous); perr == nil {
			return pcp, ptag, true, nil
		}
	}
	return cp, tag, false, err
}

// KeepRootCheckpoint keeps cp, the checkpoint that holds the entry of root
// version and verifies under the policy of the root before it, as
// translog.RootCheckpointName(version): how clients still at that root
// prove the new one once the log goes on under another policy. A file
// already there stays.
func KeepRootCheckpoint(ctx context.Context, dst store.Store, version int64, cp translog.Checkpoint) error {
	name := translog.RootCheckpointName(version)
	if len(cp.Note) == 0 {
		if _, _, err := dst.Get(ctx, name, translog.MaxCheckpoint); err != nil {
			return fmt.Errorf("root v%d is in the log, but %s is not in %s and the log has moved on to another policy: %w", version, name, dst, ErrLogDamaged)
		}
		return nil
	}
	err := dst.Put(ctx, name, cp.Note, store.Absent)
	if err != nil && !errors.Is(err, store.ErrChanged) {
		return fmt.Errorf("write %s to %s: %w", name, dst, err)
	}
	return nil
}

func current(ctx context.Context, dst store.Store, p translog.Policy) (translog.Checkpoint, store.Tag, error) {
	raw, tag, err := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	if errors.Is(err, store.ErrNotFound) {
		return translog.Empty(), store.Absent, nil
	}
	if err != nil {
		return translog.Checkpoint{}, "", fmt.Errorf("read the log's checkpoint from %s: %w", dst, err)
	}
	cp, err := translog.ReadCheckpoint(p, raw)
	if err != nil {
		return cp, "", fmt.Errorf("%s serves a log checkpoint that the root's log key did not sign (%v): %w", dst, err, ErrLogDamaged)
	}
	return cp, tag, nil
}

// missing is the entries whose index file is not in the store yet.
func missing(ctx context.Context, dst store.Store, entries []translog.Entry) ([]translog.Entry, error) {
	var out []translog.Entry
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.IndexName()
		if seen[name] {
			continue
		}
		seen[name] = true
		_, _, err := dst.Get(ctx, name, translog.MaxIndexFile)
		if errors.Is(err, store.ErrNotFound) {
			out = append(out, e)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", name, dst, err)
		}
	}
	return out, nil
}

type pending struct {
	from    int64
	entries [][]byte
	raw     []byte
}

func pendingName(size int64) string { return translog.Dir + "pending/" + strconv.FormatInt(size, 10) }

const pendingHeader = "tufkeys log append v1"

func makePending(opts Options, from int64, entries []translog.Entry) (*pending, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\nfrom %d\n", pendingHeader, opts.Policy.Origin, from)
	p := &pending{from: from}
	for _, e := range entries {
		data, err := e.Marshal()
		if err != nil {
			return nil, err
		}
		p.entries = append(p.entries, data)
		b.WriteString(base64.StdEncoding.EncodeToString(data))
		b.WriteByte('\n')
	}
	raw, err := note.Sign(&note.Note{Text: b.String()}, opts.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign the log's pending entries: %w", err)
	}
	p.raw = raw
	return p, nil
}

func readPending(ctx context.Context, dst store.Store, p translog.Policy, size int64) (*pending, error) {
	raw, _, err := dst.Get(ctx, pendingName(size), maxPending)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", pendingName(size), dst, err)
	}
	v, err := note.NewVerifier(p.Key)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%s in %s is not signed by the log key (%v): %w", pendingName(size), dst, err, ErrLogDamaged)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 4 || lines[0] != pendingHeader || lines[1] != p.Origin || lines[2] != "from "+strconv.FormatInt(size, 10) {
		return nil, fmt.Errorf("%s in %s is not an append from size %d: %w", pendingName(size), dst, size, ErrLogDamaged)
	}
	out := &pending{from: size, raw: raw}
	for _, l := range lines[3:] {
		data, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %v: %w", pendingName(size), dst, err, ErrLogDamaged)
		}
		if _, err := translog.ParseEntry(data); err != nil {
			return nil, fmt.Errorf("%s in %s: %v: %w", pendingName(size), dst, err, ErrLogDamaged)
		}
		out.entries = append(out.entries, data)
	}
	return out, nil
}
