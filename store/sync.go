package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrConflict marks an immutable object that exists with other content.
var ErrConflict = errors.New("published object differs")

// Object is one file of a repository to put in a store. Objects of a lower
// phase are all in place before any object of a higher phase is written,
// so that readers see the old repository or the new one, never a mix.
type Object struct {
	Name  string
	Data  []byte
	Phase int
	// IfMatch, when set, is the tag the store must still hold for a
	// replaceable object to be replaced (Absent: not there): the tag of
	// what the writer checked before deciding to replace it. Unset, the
	// tag seen just before the write is used.
	IfMatch Tag
}

// Phases of a TUF repository write: key lists, delegated metadata, targets,
// roots, snapshot, timestamp, and last the status page, which describes
// the metadata already in place.
const (
	PhaseTargets = iota
	PhaseDelegated
	PhaseTargetsMeta
	PhaseRoot
	PhaseSnapshot
	PhaseTimestamp
	PhasePage
)

// SyncOptions tune a Sync.
type SyncOptions struct {
	// DryRun lists what would be written and writes nothing.
	DryRun bool
	// Progress, when set, is told of every object: "uploaded", "would
	// upload" or "unchanged". It may be called from several goroutines.
	Progress func(verb, name string)
}

// SyncReport says what a Sync did.
type SyncReport struct {
	Uploaded []string // in phase order; with DryRun, what would be uploaded
	Skipped  int      // objects already there with the same bytes
}

// syncWorkers bounds the requests in flight within one phase.
const syncWorkers = 8

// Sync writes the objects phase by phase, each phase concurrently. An
// object already there with the same bytes is skipped; an immutable object
// there with other bytes is never overwritten and stops the sync before
// anything of a later phase is written. Objects must be sorted by phase.
func Sync(ctx context.Context, store Store, objs []Object, opts SyncOptions) (SyncReport, error) {
	var rep SyncReport
	for start := 0; start < len(objs); {
		end := start
		for end < len(objs) && objs[end].Phase == objs[start].Phase {
			end++
		}
		phase := objs[start:end]
		outcome := make([]string, len(phase))
		errs := make([]error, len(phase))
		sem := make(chan struct{}, syncWorkers)
		var wg sync.WaitGroup
		for i, o := range phase {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				outcome[i], errs[i] = syncOne(ctx, store, o, opts)
			}()
		}
		wg.Wait()
		for i, o := range phase {
			switch outcome[i] {
			case "unchanged":
				rep.Skipped++
			case "uploaded", "would upload":
				rep.Uploaded = append(rep.Uploaded, o.Name)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return rep, err
		}
		start = end
	}
	return rep, nil
}

func syncOne(ctx context.Context, store Store, o Object, opts SyncOptions) (string, error) {
	state, tag, err := store.Compare(ctx, o.Name, o.Data)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", store, o.Name, err)
	}
	verb := "uploaded"
	switch {
	case state == Same:
		verb = "unchanged"
	case state == Different && Immutable(o.Name):
		return "", conflict(store, o.Name)
	case opts.DryRun:
		verb = "would upload"
	default:
		switch {
		case Immutable(o.Name):
			tag = Absent
		case o.IfMatch != Always:
			tag = o.IfMatch
		}
		err := store.Put(ctx, o.Name, o.Data, tag)
		if errors.Is(err, ErrChanged) && Immutable(o.Name) {
			// another writer created it meanwhile: fine if with these bytes
			if state, _, err = store.Compare(ctx, o.Name, o.Data); err == nil && state != Same {
				return "", conflict(store, o.Name)
			}
			verb = "unchanged"
		}
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", store, o.Name, err)
		}
	}
	if opts.Progress != nil {
		opts.Progress(verb, o.Name)
	}
	return verb, nil
}

func conflict(store Store, name string) error {
	return fmt.Errorf("%s already holds a different %s; published files never change, so this is not the same repository, or someone altered it: %w", store, name, ErrConflict)
}
