package translog

import (
	"context"
	"errors"
	"fmt"
)

// RootProof is what proved a root version in the log.
type RootProof struct {
	Entry Entry
	Index int64
	// Witnessed is the checkpoint, verified under the previous root's
	// policy, whose tree holds the entry.
	Witnessed Checkpoint
	// Current is the log's checkpoint as served, which extends Witnessed;
	// it is verified only when it is Witnessed.
	Current Checkpoint
}

// ProveRoot proves that a root version's file is in the log that prev,
// the policy of the root before it, names: its entry (role root, that
// version and hash) sits in a tree that prev's log key signed and prev's
// quorum of witnesses cosigned. That tree is the log's checkpoint when it
// verifies under prev; otherwise, after the root changed the log's key,
// origin or witnesses, the checkpoint the publisher kept when it logged
// the root (RootCheckpointName), which the log's checkpoint must extend.
// The proof reads tiles under the log's checkpoint only, which every copy
// of the log holds. Failures to prove wrap ErrNotInLog; files the
// repository does not serve wrap ErrMissing.
func ProveRoot(ctx context.Context, fetch Fetch, prev Policy, version int64, sha256Hex string) (RootProof, error) {
	var out RootProof
	raw, err := fetch(ctx, CheckpointName, MaxCheckpoint)
	if err != nil {
		return out, fmt.Errorf("read %s: %w", CheckpointName, err)
	}
	cur, ok := PeekTree(raw)
	if !ok {
		return out, fmt.Errorf("%s is not a checkpoint: %w", CheckpointName, ErrNotInLog)
	}
	witnessed, verr := VerifyWitnessed(prev, raw)
	if verr != nil {
		handoff, err := fetch(ctx, RootCheckpointName(version), MaxCheckpoint)
		if errors.Is(err, ErrMissing) {
			return out, fmt.Errorf("the log's checkpoint does not verify under the previous root's policy (%v) and there is no %s: %w: %w", verr, RootCheckpointName(version), err, ErrNotInLog)
		}
		if err != nil {
			return out, fmt.Errorf("read %s: %w", RootCheckpointName(version), err)
		}
		if witnessed, err = VerifyWitnessed(prev, handoff); err != nil {
			return out, fmt.Errorf("%s: %w: %w", RootCheckpointName(version), err, ErrNotInLog)
		}
		if err := Consistent(ctx, fetch, witnessed, cur); err != nil {
			if errors.Is(err, ErrRollback) || errors.Is(err, ErrFork) {
				return out, fmt.Errorf("the log's checkpoint does not extend %s: %w: %w", RootCheckpointName(version), err, ErrNotInLog)
			}
			return out, err
		}
	} else {
		cur = witnessed
	}
	e, index, err := LookupBelow(ctx, fetch, cur, RootKey(version, sha256Hex), witnessed.Size)
	if err != nil {
		return out, err
	}
	return RootProof{Entry: e, Index: index, Witnessed: witnessed, Current: cur}, nil
}
