package translog

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// MonitorState is what a monitor keeps between runs: the checkpoint it
// verified last, and each registry's newest entry so far.
type MonitorState struct {
	Origin     string            `json:"origin"`
	Size       int64             `json:"size"`
	Checkpoint string            `json:"checkpoint"`
	Latest     map[string]string `json:"latest"`
}

// Indexed is an entry with its place in the log.
type Indexed struct {
	Index int64
	Entry Entry
}

// Followed is what a monitor run read.
type Followed struct {
	Checkpoint Checkpoint
	// Previous is the checkpoint of the state the run started from.
	Previous Checkpoint
	New      []Indexed
}

// maxFollow bounds the entries one run reads, so that a huge log cannot
// exhaust the monitor; a run reads at most this many and the next goes on.
const maxFollow = 1 << 20

// Follow verifies the log incrementally from a saved state: the newest
// checkpoint (quorum and fresh), its consistency with the state's, and
// every entry added since, each bundle checked against the tree. The
// returned state is the one to save; on a fork or rollback it is the
// given state, unchanged, and the error says which.
func Follow(ctx context.Context, fetch Fetch, p Policy, st MonitorState, now time.Time) (Followed, MonitorState, error) {
	var out Followed
	raw, err := fetch(ctx, CheckpointName, MaxCheckpoint)
	if err != nil {
		return out, st, fmt.Errorf("read the log's checkpoint: %w", err)
	}
	cp, err := VerifyCheckpoint(p, raw, now)
	if err != nil {
		return out, st, err
	}
	out.Checkpoint = cp
	if st.Origin != p.Origin {
		st = MonitorState{Origin: p.Origin}
	}
	prev := Empty()
	if st.Checkpoint != "" {
		if prev, err = ReadCheckpoint(p, []byte(st.Checkpoint)); err != nil {
			return out, st, fmt.Errorf("the saved state's checkpoint: %w", err)
		}
	}
	out.Previous = prev
	if err := Consistent(ctx, fetch, prev, cp); err != nil {
		return out, st, err
	}
	next := MonitorState{Origin: p.Origin, Size: cp.Size, Checkpoint: string(cp.Note), Latest: map[string]string{}}
	for k, v := range st.Latest {
		next.Latest[k] = v
	}
	if cp.Size-prev.Size > maxFollow {
		return out, st, fmt.Errorf("the log grew by %d entries since the saved state, above the %d one run reads", cp.Size-prev.Size, maxFollow)
	}
	for n := prev.Size >> TileHeight; n<<TileHeight < cp.Size; n++ {
		name := EntriesPath(n, cp.Size)
		data, err := fetch(ctx, name, MaxBundle)
		if err != nil {
			return out, st, fmt.Errorf("read %s: %w", name, err)
		}
		if err := VerifyBundle(ctx, fetch, cp, n, data); err != nil {
			return out, st, err
		}
		entries, _ := bundleEntries(data)
		for i, raw := range entries {
			index := n<<TileHeight + int64(i)
			if index < prev.Size {
				continue
			}
			e, err := ParseEntry(raw)
			if err != nil {
				return out, st, fmt.Errorf("entry %d: %w", index, err)
			}
			out.New = append(out.New, Indexed{index, e})
			key := e.Registry
			if key == "" {
				key = "root"
			}
			next.Latest[key] = e.SHA256
		}
	}
	return out, next, nil
}

// Empty is the checkpoint of a log with no entries yet.
func Empty() Checkpoint {
	h, _ := tlog.TreeHash(0, nil)
	return Checkpoint{Hash: h}
}
