package translog_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

type testLog struct {
	log   witnesstest.Log
	dir   string
	dst   *store.Dir
	opts  logappend.Options
	fetch translog.Fetch
}

func newLog(t *testing.T, n int) *testLog {
	t.Helper()
	l := &testLog{log: witnesstest.Get(t).NewLog(t, 2), dir: t.TempDir()}
	l.dst = &store.Dir{Root: l.dir}
	signer, err := logappend.NoteSigner(l.log.Key, l.log.Policy)
	if err != nil {
		t.Fatal(err)
	}
	l.opts = logappend.Options{Policy: l.log.Policy, Signer: signer}
	l.fetch = logappend.StoreFetch(l.dst)
	l.add(t, 0, n)
	return l
}

func entry(i int) translog.Entry {
	host := fmt.Sprintf("r%d.example.test", i)
	return translog.KeyListEntry(host, "bins-00", 1, []byte("list of "+host), nil, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
}

func (l *testLog) add(t *testing.T, from, n int) translog.Checkpoint {
	t.Helper()
	var es []translog.Entry
	for i := from; i < from+n; i++ {
		es = append(es, entry(i))
	}
	res, err := logappend.Append(context.Background(), l.dst, es, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	return res.Checkpoint
}

func (l *testLog) checkpoint(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(l.dir, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// keepSigs is the checkpoint with only the signatures whose names pass.
func keepSigs(t *testing.T, raw []byte, keep func(name string) bool) []byte {
	t.Helper()
	text, sigs, _ := strings.Cut(string(raw), "\n\n")
	var b strings.Builder
	b.WriteString(text + "\n\n")
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		name := strings.Fields(line)[1]
		if keep(name) {
			b.WriteString(line + "\n")
		}
	}
	return []byte(b.String())
}

func TestCheckpointAttacks(t *testing.T) {
	t.Parallel()
	l := newLog(t, 3)
	raw := l.checkpoint(t)
	now := time.Now()
	if _, err := translog.VerifyCheckpoint(l.log.Policy, raw, now); err != nil {
		t.Fatalf("the honest checkpoint: %v", err)
	}
	w0 := l.log.Policy.Witnesses[0].Name()
	// a witness the root does not name signs too
	skey, _, err := note.GenerateKey(nil, "stranger.example.test")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	one := keepSigs(t, raw, func(n string) bool { return n == l.log.Policy.Origin || n == w0 })
	strangerSigned, err := note.Sign(mustOpen(t, one, l.log.Policy), stranger)
	if err != nil {
		t.Fatal(err)
	}
	otherPolicy := l.log.Policy
	otherPolicy.Origin = "other.example.test/log"
	cases := []struct {
		name   string
		policy translog.Policy
		raw    []byte
		now    time.Time
		want   error
	}{
		{"one cosignature of the two needed", l.log.Policy, one, now, translog.ErrNotWitnessed},
		{"a second cosignature by a witness the root does not name", l.log.Policy, append(one, strangerSigned[len(strangerSigned)-strings.Index(reverse(string(strangerSigned)), "\n—")-1:]...), now, translog.ErrNotWitnessed},
		{"no log signature", l.log.Policy, keepSigs(t, raw, func(n string) bool { return n != l.log.Policy.Origin }), now, translog.ErrBadCheckpoint},
		{"another log's policy", otherPolicy, raw, now, translog.ErrBadCheckpoint},
		{"cosignatures older than a week (a freeze)", l.log.Policy, raw, now.Add(8 * 24 * time.Hour), translog.ErrStale},
		{"not a note", l.log.Policy, []byte("hello\n"), now, translog.ErrBadCheckpoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := translog.VerifyCheckpoint(c.policy, c.raw, c.now)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func mustOpen(t *testing.T, raw []byte, p translog.Policy) *note.Note {
	t.Helper()
	v, err := note.NewVerifier(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Two histories signed by the same log key are a fork, whatever their
// sizes; an older checkpoint after a newer one is a rollback; and the real
// witnesses, having cosigned one history, refuse the other.
func TestForkAndRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	honest := newLog(t, 4)
	old, err := translog.VerifyCheckpoint(honest.log.Policy, honest.checkpoint(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next := honest.add(t, 4, 3)
	if err := translog.Consistent(ctx, honest.fetch, next, old); !errors.Is(err, translog.ErrRollback) {
		t.Errorf("older after newer: %v, want ErrRollback", err)
	}
	// the same log key signs a second history, cosigned here by witnesses
	// of its own (in-process signers: the real ones would refuse it)
	forged := &testLog{log: honest.log, dir: t.TempDir()}
	forged.dst = &store.Dir{Root: forged.dir}
	forged.fetch = logappend.StoreFetch(forged.dst)
	forged.opts = honest.opts
	forged.opts.Policy.Witnesses, forged.opts.Witness = witnesstest.InProcess(t, 2)
	var es []translog.Entry
	for i := 100; i < 107; i++ {
		es = append(es, entry(i))
	}
	res, err := logappend.Append(ctx, forged.dst, es, forged.opts)
	if err != nil {
		t.Fatal(err)
	}
	fork := res.Checkpoint
	if fork.Size != next.Size {
		t.Fatalf("fork of size %d, want %d", fork.Size, next.Size)
	}
	if err := translog.Consistent(ctx, forged.fetch, old, fork); !errors.Is(err, translog.ErrFork) {
		t.Errorf("a larger checkpoint of another history: %v, want ErrFork", err)
	}
	if err := translog.Consistent(ctx, forged.fetch, next, fork); !errors.Is(err, translog.ErrFork) {
		t.Errorf("two checkpoints of one size: %v, want ErrFork", err)
	}
	// offered to the witnesses that cosigned the honest history
	for _, w := range honest.log.Policy.Witnesses {
		_, err := logappend.HTTPWitness{}.AddCheckpoint(ctx, w.URL, next.Size, nil, logSigned(t, fork.Note, honest.log.Policy))
		if err == nil {
			t.Errorf("witness %s cosigned a fork", w.Name())
		}
	}
}

// logSigned is a checkpoint with the log's signature alone.
func logSigned(t *testing.T, raw []byte, p translog.Policy) []byte {
	return keepSigs(t, raw, func(n string) bool { return n == p.Origin })
}

// A tampered tile, index file or entry fails the proof.
func TestTamperedLogFailsTheProof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t, 5)
	cp, err := translog.VerifyCheckpoint(l.log.Policy, l.checkpoint(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := entry(2)
	if _, _, err := translog.Lookup(ctx, l.fetch, cp, e.Key()); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(l.dir, filepath.FromSlash(e.IndexName()))
	latest := filepath.Join(l.dir, filepath.FromSlash(translog.LatestName(e.Registry)))
	tile := filepath.Join(l.dir, "log", "tile", "0", "000.p", "5")
	// the registry's latest file says the same as its index file: each
	// tampering below applies to both, as the client reads either
	cases := []struct {
		name   string
		file   string
		tamper func([]byte) []byte
	}{
		{"a hash in the tile", tile, func(b []byte) []byte { b[70] ^= 1; return b }},
		{"the entry in the index file", index, func(b []byte) []byte { return []byte(strings.Replace(string(b), "bins-00", "bins-01", 1)) }},
		{"the index", index, func(b []byte) []byte { return append([]byte("3"), b[1:]...) }},
		{"an index beyond the checkpoint", index, func(b []byte) []byte { return append([]byte("9"), b[1:]...) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := []string{c.file}
			if c.file == index {
				files = append(files, latest)
			}
			for _, f := range files {
				orig, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(f, orig, 0o644)
				if err := os.WriteFile(f, c.tamper([]byte(string(orig))), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := translog.Lookup(ctx, l.fetch, cp, e.Key()); !errors.Is(err, translog.ErrNotInLog) {
				t.Fatalf("got %v, want ErrNotInLog", err)
			}
		})
	}
}

// A tile that cannot be fetched (the network, not the log) is reported as
// that failure, not as an entry missing from the log: the caller may try
// another repository; a tile the log lacks fails the proof.
func TestUnreachableTilesAreNotAProofFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t, 5)
	cp, err := translog.VerifyCheckpoint(l.log.Policy, l.checkpoint(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := entry(3)
	for _, c := range []struct {
		name   string
		fail   error
		logged bool
	}{
		{"the network", errors.New("connection reset"), false},
		{"a tile the log lacks", fmt.Errorf("log/tile/0/000.p/5: %w", translog.ErrMissing), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fetch := func(ctx context.Context, name string, max int64) ([]byte, error) {
				if strings.HasPrefix(name, "log/tile/0/") {
					return nil, c.fail
				}
				return l.fetch(ctx, name, max)
			}
			_, _, err := translog.Lookup(ctx, fetch, cp, e.Key())
			if errors.Is(err, translog.ErrNotInLog) != c.logged || (!c.logged && !errors.Is(err, c.fail)) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// One key holder counts once toward a quorum: two witnesses with the same
// public key under two names are refused, as are other bad policies.
func TestPolicyRefusesDuplicateWitnessKeys(t *testing.T) {
	t.Parallel()
	_, vkey, err := note.GenerateKey(nil, "w1.example.test")
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := note.GenerateKey(nil, "w2.example.test")
	// the same public key under another name
	raw, err := base64.StdEncoding.DecodeString(strings.SplitN(vkey, "+", 3)[2])
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := note.NewEd25519VerifierKey("w9.example.test", ed25519.PublicKey(raw[1:]))
	if err != nil {
		t.Fatal(err)
	}
	_, logKey, _ := note.GenerateKey(nil, "log.example.test/p")
	for _, tc := range []struct {
		name      string
		witnesses []translog.Witness
		want      string
	}{
		{"distinct keys", []translog.Witness{{Key: vkey, URL: "http://a.example.test"}, {Key: other, URL: "http://b.example.test"}}, ""},
		{"one key, two names", []translog.Witness{{Key: vkey, URL: "http://a.example.test"}, {Key: renamed, URL: "http://b.example.test"}}, "same public key"},
		{"one name twice", []translog.Witness{{Key: vkey, URL: "http://a.example.test"}, {Key: vkey, URL: "http://b.example.test"}}, "named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := translog.Policy{Origin: "log.example.test/p", Key: logKey, Witnesses: tc.witnesses, Quorum: 2}
			err := p.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, translog.ErrBadPolicy)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
