package logappend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

func entries(from, n int) []translog.Entry {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var out []translog.Entry
	for i := from; i < from+n; i++ {
		host := fmt.Sprintf("r%d.example.test", i)
		out = append(out, translog.KeyListEntry(host, "bins-00", 1, []byte("list of "+host), []string{fmt.Sprintf("%064x", i)}, now))
	}
	return out
}

func options(t *testing.T, log witnesstest.Log) logappend.Options {
	t.Helper()
	signer, err := logappend.NoteSigner(log.Key, log.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return logappend.Options{Policy: log.Policy, Signer: signer}
}

// Appends across tile boundaries give checkpoints that the witnesses
// cosign, that extend each other, and under which every entry is proven.
func TestAppendIsWitnessedAndProven(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := witnesstest.Get(t).NewLog(t, 2)
	dst := &store.Dir{Root: t.TempDir()}
	opts := options(t, log)
	var prev translog.Checkpoint
	total := 0
	for _, n := range []int{3, 300, 1, 253} {
		res, err := logappend.Append(ctx, dst, entries(total, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if res.Appended != n || res.Checkpoint.Size != int64(total) {
			t.Fatalf("appended %d, size %d; want %d, %d", res.Appended, res.Checkpoint.Size, n, total)
		}
		if len(res.Checkpoint.Witnessed) != 3 {
			t.Errorf("cosigned by %v, want all three witnesses", res.Checkpoint.Witnessed)
		}
		raw, _, err := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := translog.VerifyCheckpoint(log.Policy, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		fetch := logappend.StoreFetch(dst)
		if err := translog.Consistent(ctx, fetch, prev, cp); err != nil {
			t.Fatalf("size %d does not extend size %d: %v", cp.Size, prev.Size, err)
		}
		prev = cp
	}
	// entries appended again are not logged twice
	res, err := logappend.Append(ctx, dst, entries(0, 10), opts)
	if err != nil || res.Appended != 0 || res.Checkpoint.Size != int64(total) {
		t.Fatalf("appending logged entries again: %+v, %v", res, err)
	}
	fetch := logappend.StoreFetch(dst)
	for _, i := range []int{0, 2, 3, 255, 256, 302, 303, total - 1} {
		e := entries(i, 1)[0]
		got, index, err := translog.Lookup(ctx, fetch, prev, e.Key())
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if index != int64(i) || got.Registry != e.Registry {
			t.Errorf("entry %d found at %d as %s", i, index, got.Registry)
		}
	}
	e := translog.KeyListEntry("never.example.test", "bins-00", 1, []byte("x"), nil, time.Now())
	if _, _, err := translog.Lookup(ctx, fetch, prev, e.Key()); !errors.Is(err, translog.ErrNotInLog) {
		t.Errorf("an entry never logged: %v, want ErrNotInLog", err)
	}
}

// A publish killed after claiming its entries is finished by the next
// publisher, which then adds its own.
func TestUnfinishedAppendIsFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := witnesstest.Get(t).NewLog(t, 2)
	dir := t.TempDir()
	opts := options(t, log)
	// the first publisher dies once it has written its claim
	dying := &failAfter{Store: &store.Dir{Root: dir}, name: "log/pending/0"}
	if _, err := logappend.Append(ctx, dying, entries(0, 5), opts); !errors.Is(err, errKilled) {
		t.Fatalf("the dying publish: %v", err)
	}
	res, err := logappend.Append(ctx, &store.Dir{Root: dir}, entries(5, 2), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished != 5 || res.Appended != 2 || res.Checkpoint.Size != 7 {
		t.Fatalf("finished %d, appended %d, size %d; want 5, 2, 7", res.Finished, res.Appended, res.Checkpoint.Size)
	}
}

// A publish killed after its tiles, its index files and the witnesses'
// cosignatures, just before its checkpoint, is finished by the next one:
// the witnesses, who saw that checkpoint already, cosign it again.
func TestAppendKilledBeforeItsCheckpointIsFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := witnesstest.Get(t).NewLog(t, 2)
	dir := t.TempDir()
	opts := options(t, log)
	if _, err := logappend.Append(ctx, &store.Dir{Root: dir}, entries(0, 3), opts); err != nil {
		t.Fatal(err)
	}
	dying := &failOn{Store: &store.Dir{Root: dir}, name: translog.CheckpointName}
	if _, err := logappend.Append(ctx, dying, entries(3, 4), opts); !errors.Is(err, errKilled) {
		t.Fatalf("the dying publish: %v", err)
	}
	res, err := logappend.Append(ctx, &store.Dir{Root: dir}, entries(7, 1), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished != 4 || res.Appended != 1 || res.Checkpoint.Size != 8 || len(res.Checkpoint.Witnessed) != 3 {
		t.Fatalf("finished %d, appended %d, size %d, witnessed %v", res.Finished, res.Appended, res.Checkpoint.Size, res.Checkpoint.Witnessed)
	}
}

// failOn fails the write of one name, writing nothing, as a publish killed
// just before it.
type failOn struct {
	store.Store
	name string
}

func (f *failOn) Put(ctx context.Context, name string, data []byte, tag store.Tag) error {
	if name == f.name {
		return errKilled
	}
	return f.Store.Put(ctx, name, data, tag)
}

// Fewer than the quorum: the checkpoint is not published.
func TestNoQuorumPublishesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := witnesstest.Get(t)
	log := set.NewLog(t, 2)
	dst := &store.Dir{Root: t.TempDir()}
	opts := options(t, log)
	if _, err := logappend.Append(ctx, dst, entries(0, 2), opts); err != nil {
		t.Fatal(err)
	}
	// two witnesses stop answering: one left, two needed
	opts.Policy.Witnesses = []translog.Witness{set.Witnesses[0], {Key: set.Witnesses[1].Key, URL: "http://127.0.0.1:1"}, {Key: set.Witnesses[2].Key, URL: "http://127.0.0.1:1"}}
	before, _, _ := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	_, err := logappend.Append(ctx, dst, entries(2, 1), opts)
	if !errors.Is(err, logappend.ErrNoQuorum) {
		t.Fatalf("got %v, want ErrNoQuorum", err)
	}
	for _, w := range []string{"1 of 3 witnesses cosigned, 2 needed", set.Witnesses[1].Name(), "no answer"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q: %v", w, err)
		}
	}
	after, _, _ := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	if string(before) != string(after) {
		t.Error("the checkpoint changed without the quorum")
	}
}

var errKilled = errors.New("killed")

type failAfter struct {
	store.Store
	name string
}

func (f *failAfter) Put(ctx context.Context, name string, data []byte, tag store.Tag) error {
	if err := f.Store.Put(ctx, name, data, tag); err != nil {
		return err
	}
	if name == f.name {
		return errKilled
	}
	return nil
}

// The log on S3 (versitygw): conditional writes keep the claim and the
// checkpoint safe there as in a directory.
func TestAppendOnS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := s3test.Get(t)
	log := witnesstest.Get(t).NewLog(t, 2)
	dst, _ := srv.Store(t)
	opts := options(t, log)
	for i, n := range []int{2, 300} {
		res, err := logappend.Append(ctx, dst, entries(i*1000, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Appended != n {
			t.Fatalf("appended %d, want %d", res.Appended, n)
		}
	}
	raw, _, err := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := translog.VerifyCheckpoint(log.Policy, raw, time.Now())
	if err != nil || cp.Size != 302 {
		t.Fatalf("checkpoint of size %d: %v", cp.Size, err)
	}
	e := entries(1000+299, 1)[0]
	if _, _, err := translog.Lookup(ctx, logappend.StoreFetch(dst), cp, e.Key()); err != nil {
		t.Fatal(err)
	}
}

// Two publishers appending at once never fork the log: both sets of
// entries end up in one history that the witnesses cosigned.
func TestConcurrentAppendsDoNotFork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := witnesstest.Get(t).NewLog(t, 2)
	dir := t.TempDir()
	opts := options(t, log)
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := logappend.Append(ctx, &store.Dir{Root: dir}, entries(i*100, 20), opts)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	dst := &store.Dir{Root: dir}
	raw, _, err := dst.Get(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := translog.VerifyCheckpoint(log.Policy, raw, time.Now())
	if err != nil || cp.Size != 40 {
		t.Fatalf("checkpoint of size %d, want 40: %v", cp.Size, err)
	}
	for _, i := range []int{0, 19, 100, 119} {
		e := entries(i, 1)[0]
		if _, _, err := translog.Lookup(ctx, logappend.StoreFetch(dst), cp, e.Key()); err != nil {
			t.Errorf("entry of r%d: %v", i, err)
		}
	}
}
