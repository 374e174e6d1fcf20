package logappend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/transparency-dev/tessera/api"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// StoreFetch reads log files from a store, for translog.
func StoreFetch(dst store.Store) translog.Fetch {
	return func(ctx context.Context, name string, max int64) ([]byte, error) {
		data, _, err := dst.Get(ctx, name, max)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", name, translog.ErrMissing)
		}
		return data, err
	}
}

// extension is the tree after an append: its hashes, those of the old
// tree read from verified tiles and the new ones held in memory.
type extension struct {
	old   tlog.HashReader
	base  int64 // stored hash index of the first new hash
	added []tlog.Hash
}

func (x *extension) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var need []int64
	var at []int
	for i, idx := range indexes {
		if idx >= x.base {
			if idx-x.base >= int64(len(x.added)) {
				return nil, fmt.Errorf("hash %d is beyond the log", idx)
			}
			out[i] = x.added[idx-x.base]
			continue
		}
		need = append(need, idx)
		at = append(at, i)
	}
	if len(need) > 0 {
		hs, err := x.old.ReadHashes(need)
		if err != nil {
			return nil, err
		}
		for j, h := range hs {
			out[at[j]] = h
		}
	}
	return out, nil
}

// complete writes the tiles, entry bundles and index files of a pending
// append and returns its checkpoint, cosigned by the witnesses.
func complete(ctx context.Context, dst store.Store, cp translog.Checkpoint, claim *pending, opts Options) (translog.Checkpoint, error) {
	fetch := StoreFetch(dst)
	oldN := cp.Size
	x := &extension{old: translog.Hashes(ctx, fetch, cp), base: tlog.StoredHashIndex(0, oldN)}
	for i, data := range claim.entries {
		hs, err := tlog.StoredHashes(oldN+int64(i), data, x)
		if err != nil {
			return cp, fmt.Errorf("the log in %s does not verify against its checkpoint (%v): %w", dst, err, ErrLogDamaged)
		}
		x.added = append(x.added, hs...)
	}
	newN := oldN + int64(len(claim.entries))
	root, err := tlog.TreeHash(newN, x)
	if err != nil {
		return cp, fmt.Errorf("the log in %s: %v: %w", dst, err, ErrLogDamaged)
	}
	for _, t := range tlog.NewTiles(translog.TileHeight, oldN, newN) {
		data, err := tlog.ReadTileData(t, x)
		if err != nil {
			return cp, fmt.Errorf("the log in %s: %v: %w", dst, err, ErrLogDamaged)
		}
		if err := putOnce(ctx, dst, translog.TilePath(t), data, true); err != nil {
			return cp, err
		}
	}
	if err := writeBundles(ctx, dst, x, oldN, claim.entries); err != nil {
		return cp, err
	}
	for i, data := range claim.entries {
		e, err := translog.ParseEntry(data)
		if err != nil {
			return cp, err
		}
		index := append([]byte(strconv.FormatInt(oldN+int64(i), 10)+"\n"), data...)
		// an index file already there points at an earlier entry of the
		// same file, which clients prove as well as this one
		if err := putOnce(ctx, dst, e.IndexName(), index, false); err != nil {
			return cp, err
		}
		if e.Registry != "" {
			// a hint clients prove, so rewriting it needs no condition
			if err := dst.Put(ctx, translog.LatestName(e.Registry), index, store.Always); err != nil {
				return cp, fmt.Errorf("write %s to %s: %w", translog.LatestName(e.Registry), dst, err)
			}
		}
	}
	signed, err := note.Sign(&note.Note{Text: string(translog.CheckpointText(opts.Policy.Origin, newN, root))}, opts.Signer)
	if err != nil {
		return cp, fmt.Errorf("sign the log's checkpoint: %w", err)
	}
	return cosign(ctx, opts, cp.Size, newN, x, signed)
}

// writeBundles writes the entry bundles (tlog-tiles) from oldN on, the
// first one completing the partial bundle already there.
func writeBundles(ctx context.Context, dst store.Store, x *extension, oldN int64, entries [][]byte) error {
	const width = 1 << translog.TileHeight
	first := oldN / width
	var all [][]byte
	if oldN%width != 0 {
		name := translog.EntriesPath(first, oldN)
		data, _, err := dst.Get(ctx, name, width*(translog.MaxEntry+2))
		if err != nil {
			return fmt.Errorf("read %s from %s: %w", name, dst, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(data); err != nil || int64(len(b.Entries)) != oldN%width {
			return fmt.Errorf("%s in %s is not the log's entry bundle: %w", name, dst, ErrLogDamaged)
		}
		for j, e := range b.Entries {
			leaf, err := x.ReadHashes([]int64{tlog.StoredHashIndex(0, first*width+int64(j))})
			if err != nil || leaf[0] != tlog.RecordHash(e) {
				return fmt.Errorf("entry %d in %s does not match the log's checkpoint: %w", first*width+int64(j), dst, ErrLogDamaged)
			}
		}
		all = b.Entries
	}
	all = append(all, entries...)
	newN := oldN + int64(len(entries))
	for k := first; k*width < newN; k++ {
		lo := k*width - first*width
		hi := min(lo+width, int64(len(all)))
		var out []byte
		for _, e := range all[lo:hi] {
			out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
			out = append(out, e...)
		}
		if err := putOnce(ctx, dst, translog.EntriesPath(k, newN), out, true); err != nil {
			return err
		}
	}
	return nil
}

// putOnce creates a log file. A file already there with the same bytes is
// what an earlier run of the same append wrote; with other bytes, strict
// files (tiles, bundles) mean the store does not hold this log.
func putOnce(ctx context.Context, dst store.Store, name string, data []byte, strict bool) error {
	err := dst.Put(ctx, name, data, store.Absent)
	if !errors.Is(err, store.ErrChanged) {
		if err != nil {
			return fmt.Errorf("write %s to %s: %w", name, dst, err)
		}
		return nil
	}
	state, _, err := dst.Compare(ctx, name, data)
	if err != nil {
		return fmt.Errorf("read %s from %s: %w", name, dst, err)
	}
	if state == store.Different && strict {
		return fmt.Errorf("%s in %s holds other bytes than this log has there: %w", name, dst, ErrLogDamaged)
	}
	return nil
}

// Refresh has the witnesses cosign the current checkpoint again, so that
// their timestamps tell clients the log is live, and publishes it.
func Refresh(ctx context.Context, dst store.Store, opts Options) (translog.Checkpoint, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cp, tag, err := current(ctx, dst, opts.Policy)
	if err != nil || cp.Size == 0 || opts.DryRun {
		return cp, err
	}
	return resign(ctx, dst, cp, tag, opts)
}

// resign signs the tree of cp under the options' policy, has its
// witnesses cosign it and publishes it in place of the checkpoint tagged
// tag: a refresh, or the first checkpoint under a new policy.
func resign(ctx context.Context, dst store.Store, cp translog.Checkpoint, tag store.Tag, opts Options) (translog.Checkpoint, error) {
	x := &extension{old: translog.Hashes(ctx, StoreFetch(dst), cp), base: tlog.StoredHashIndex(0, cp.Size)}
	signed, err := note.Sign(&note.Note{Text: string(translog.CheckpointText(opts.Policy.Origin, cp.Size, cp.Hash))}, opts.Signer)
	if err != nil {
		return cp, fmt.Errorf("sign the log's checkpoint: %w", err)
	}
	next, err := cosign(ctx, opts, cp.Size, cp.Size, x, signed)
	if err != nil {
		return next, err
	}
	switch err := dst.Put(ctx, translog.CheckpointName, next.Note, tag); {
	case errors.Is(err, store.ErrChanged):
		// a publish extended the log meanwhile, with cosignatures as new
		return Current(ctx, dst, opts.Policy)
	case err != nil:
		return next, fmt.Errorf("publish the log's checkpoint to %s: %w", dst, err)
	}
	return next, nil
}
