package translog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the tlog-tiles height: 256 hashes a tile.
const TileHeight = 8

// Fetch reads a file of the repository (a name such as log/checkpoint),
// at most max bytes; errors.Is(err, ErrMissing) when it is not there.
type Fetch func(ctx context.Context, name string, max int64) ([]byte, error)

// ErrMissing is what a Fetch returns for a file that is not there.
var ErrMissing = errors.New("no such file in the log")

// TilePath is the file of a hash tile.
func TilePath(t tlog.Tile) string {
	return Dir + layout.TilePath(uint64(t.L), uint64(t.N), partial(t.W))
}

// EntriesPath is the file of the entry bundle with index n of a tree of
// the given size.
func EntriesPath(n, size int64) string {
	w := size - n*(1<<TileHeight)
	return Dir + layout.EntriesPath(uint64(n), partial(int(min(w, 1<<TileHeight))))
}

func partial(w int) uint8 {
	if w >= 1<<TileHeight {
		return 0
	}
	return uint8(w)
}

type tileReader struct {
	ctx   context.Context
	fetch Fetch
	// err is the first failure to fetch a tile: a network failure is
	// reported as itself, not as a proof that failed
	err error
}

func (r *tileReader) Height() int { return TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.fetch(r.ctx, TilePath(t), int64(t.W)*tlog.HashSize)
		if err != nil {
			err = fmt.Errorf("read %s: %w", TilePath(t), err)
			if r.err == nil {
				r.err = err
			}
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s holds %d bytes, not %d: %w", TilePath(t), len(data), t.W*tlog.HashSize, ErrNotInLog)
		}
		out[i] = data
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// unavailable is the reader's fetch failure when it was not a missing
// file (which a log that lacks a tile gives, and which fails the proof).
func (r *tileReader) unavailable() error {
	if r.err != nil && !errors.Is(r.err, ErrMissing) {
		return r.err
	}
	return nil
}

// Hashes reads the log's hashes from its tiles, each tile verified against
// the checkpoint as it is read.
func Hashes(ctx context.Context, fetch Fetch, cp Checkpoint) tlog.HashReader {
	hr, _ := hashes(ctx, fetch, cp)
	return hr
}

func hashes(ctx context.Context, fetch Fetch, cp Checkpoint) (tlog.HashReader, *tileReader) {
	r := &tileReader{ctx: ctx, fetch: fetch}
	return tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Hash}, r), r
}

// MaxIndexFile bounds an index file: a number, a newline and an entry.
const MaxIndexFile = MaxEntry + 32

// Lookup finds the entry of k (a registry's key list as a role's version
// published it; a root when k.Registry is empty) in the log under cp and
// proves it is there: the registry's latest file or the entry's index
// file says where, the tiles prove it. Its failures wrap ErrNotInLog.
func Lookup(ctx context.Context, fetch Fetch, cp Checkpoint, k Key) (Entry, int64, error) {
	return LookupBelow(ctx, fetch, cp, k, cp.Size)
}

// LookupBelow is Lookup for an entry that must also be among the first
// limit entries of the log: under a smaller checkpoint that cp extends.
func LookupBelow(ctx context.Context, fetch Fetch, cp Checkpoint, k Key, limit int64) (Entry, int64, error) {
	limit = min(limit, cp.Size)
	if k.Registry != "" {
		// a hint: used when it names this very file, proven like any other
		if index, entry, err := readIndexFile(ctx, fetch, LatestName(k.Registry)); err == nil {
			if e, err := ParseEntry(entry); err == nil && k.Matches(e) && index < limit {
				if err := ProveEntry(ctx, fetch, cp, index, entry); err == nil {
					return e, index, nil
				}
			}
		}
	}
	name := IndexName(k)
	index, entry, err := readIndexFile(ctx, fetch, name)
	if errors.Is(err, ErrMissing) {
		return Entry{}, 0, fmt.Errorf("the log has no entry for it (no %s): %w: %w", name, ErrMissing, ErrNotInLog)
	}
	if err != nil {
		return Entry{}, 0, err
	}
	if index >= limit {
		return Entry{}, 0, fmt.Errorf("its entry %d is beyond the witnessed checkpoint of size %d: %w", index, limit, ErrNotInLog)
	}
	if err := ProveEntry(ctx, fetch, cp, index, entry); err != nil {
		return Entry{}, 0, err
	}
	e, err := ParseEntry(entry)
	if err != nil {
		return Entry{}, 0, fmt.Errorf("entry %d: %v: %w", index, err, ErrNotInLog)
	}
	if !k.Matches(e) {
		return Entry{}, 0, fmt.Errorf("entry %d is about another file or version (%s v%d): %w", index, e.Role, e.Version, ErrNotInLog)
	}
	return e, index, nil
}

// readIndexFile reads "INDEX\nENTRY", unverified.
func readIndexFile(ctx context.Context, fetch Fetch, name string) (int64, []byte, error) {
	data, err := fetch(ctx, name, MaxIndexFile)
	if err != nil {
		return 0, nil, err
	}
	index, entry, ok := splitIndexFile(data)
	if !ok {
		return 0, nil, fmt.Errorf("%s is not an index file: %w", name, ErrNotInLog)
	}
	return index, entry, nil
}

func splitIndexFile(data []byte) (int64, []byte, bool) {
	num, raw, ok := strings.Cut(string(data), "\n")
	index, err := strconv.ParseInt(num, 10, 64)
	return index, []byte(raw), ok && err == nil && index >= 0
}

// ParseIndexFile reads an index or latest file's index, unverified: for
// fetching the proof's tiles ahead.
func ParseIndexFile(data []byte) (int64, bool) {
	index, _, ok := splitIndexFile(data)
	return index, ok
}

// ProofTiles lists the tiles a proof of the entry at index under a tree of
// size needs, for fetching them ahead; nothing is verified.
func ProofTiles(size, index int64) []string {
	if index >= size || size <= 0 {
		return nil
	}
	rec := &tileRecorder{}
	tlog.ProveRecord(size, index, tlog.TileHashReader(tlog.Tree{N: size}, rec))
	return rec.names
}

// ConsistencyTiles lists the tiles a proof that the tree of size extends
// the tree of size old needs, for fetching them ahead.
func ConsistencyTiles(size, old int64) []string {
	if old <= 0 || old >= size {
		return nil
	}
	rec := &tileRecorder{}
	tlog.ProveTree(size, old, tlog.TileHashReader(tlog.Tree{N: size}, rec))
	return rec.names
}

type tileRecorder struct{ names []string }

func (r *tileRecorder) Height() int { return TileHeight }
func (r *tileRecorder) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	for _, t := range tiles {
		r.names = append(r.names, TilePath(t))
	}
	return nil, errors.New("recorded")
}
func (r *tileRecorder) SaveTiles([]tlog.Tile, [][]byte) {}

// ProveEntry checks that entry is the record at index of the tree of cp.
func ProveEntry(ctx context.Context, fetch Fetch, cp Checkpoint, index int64, entry []byte) error {
	hr, tr := hashes(ctx, fetch, cp)
	proof, err := tlog.ProveRecord(cp.Size, index, hr)
	if u := tr.unavailable(); err != nil && u != nil {
		return u
	}
	if err != nil {
		return fmt.Errorf("prove entry %d under the checkpoint of size %d: %v: %w", index, cp.Size, err, ErrNotInLog)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Hash, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("entry %d does not match the witnessed log: %v: %w", index, err, ErrNotInLog)
	}
	return nil
}

// Consistent checks that next extends prev, reading proof tiles under
// next. A smaller next is a rollback; the same size with another hash, or
// a proof that fails, is a fork.
func Consistent(ctx context.Context, fetch Fetch, prev, next Checkpoint) error {
	switch {
	case next.Size < prev.Size:
		return fmt.Errorf("size %d after size %d: %w", next.Size, prev.Size, ErrRollback)
	case next.Size == prev.Size && next.Hash != prev.Hash:
		return fmt.Errorf("two checkpoints of size %d with different hashes: %w", next.Size, ErrFork)
	case next.Size == prev.Size || prev.Size == 0:
		return nil
	}
	hr, tr := hashes(ctx, fetch, next)
	proof, err := tlog.ProveTree(next.Size, prev.Size, hr)
	if u := tr.unavailable(); err != nil && u != nil {
		return u
	}
	if err != nil {
		return fmt.Errorf("prove size %d extends size %d: %v: %w", next.Size, prev.Size, err, ErrFork)
	}
	if err := tlog.CheckTree(proof, next.Size, next.Hash, prev.Size, prev.Hash); err != nil {
		return fmt.Errorf("size %d does not extend size %d: %v: %w", next.Size, prev.Size, err, ErrFork)
	}
	return nil
}

// MaxBundle bounds an entry bundle: 256 entries and their lengths.
const MaxBundle = (1 << TileHeight) * (MaxEntry + 2)

// VerifyBundle checks that the entry bundle with index n holds exactly the
// log's entries there under cp, each matching its leaf hash.
func VerifyBundle(ctx context.Context, fetch Fetch, cp Checkpoint, n int64, data []byte) error {
	entries, err := bundleEntries(data)
	if err != nil {
		return fmt.Errorf("entry bundle %d: %v: %w", n, err, ErrNotInLog)
	}
	b := api.EntryBundle{Entries: entries}
	first := n << TileHeight
	want := min(cp.Size-first, 1<<TileHeight)
	if int64(len(b.Entries)) != want {
		return fmt.Errorf("entry bundle %d holds %d entries, not %d: %w", n, len(b.Entries), want, ErrNotInLog)
	}
	indexes := make([]int64, len(b.Entries))
	for i := range b.Entries {
		indexes[i] = tlog.StoredHashIndex(0, first+int64(i))
	}
	hr, tr := hashes(ctx, fetch, cp)
	leaves, err := hr.ReadHashes(indexes)
	if u := tr.unavailable(); err != nil && u != nil {
		return u
	}
	if err != nil {
		return fmt.Errorf("entry bundle %d: %v: %w", n, err, ErrNotInLog)
	}
	for i, e := range b.Entries {
		if tlog.RecordHash(e) != leaves[i] {
			return fmt.Errorf("entry %d does not match the witnessed log: %w", first+int64(i), ErrNotInLog)
		}
	}
	return nil
}

// Files lists the hash tiles and entry bundles of a tree of this size: every
// file a monitor reads, and a mirror copies.
func Files(size int64) []string {
	var out []string
	for _, t := range tlog.NewTiles(TileHeight, 0, size) {
		out = append(out, TilePath(t))
	}
	for n := int64(0); n<<TileHeight < size; n++ {
		out = append(out, EntriesPath(n, size))
	}
	return out
}

func bundleEntries(data []byte) ([][]byte, error) {
	var b api.EntryBundle
	err := b.UnmarshalText(data)
	return b.Entries, err
}
