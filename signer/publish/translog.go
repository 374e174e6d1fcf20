package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/mod/sumdb/note"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// LogOptions is what a publish needs for a root that names a
// transparency log.
type LogOptions struct {
	// Key is the log's online signing key (Ed25519).
	Key *keyfile.Signer
	// Others are more log keys: the publish of a root that changes the
	// log key logs that root under the old key and goes on with the new
	// one, so it needs both.
	Others []*keyfile.Signer
	// Witness asks witnesses to cosign; nil speaks HTTP.
	Witness logappend.WitnessClient
}

// signerFor is the note signer of the key that p names.
func (o *LogOptions) signerFor(p translog.Policy) (note.Signer, error) {
	if o == nil {
		return nil, ErrNoLogKey
	}
	var first error
	for _, k := range append([]*keyfile.Signer{o.Key}, o.Others...) {
		if k == nil {
			continue
		}
		s, err := logappend.NoteSigner(k, p)
		if err == nil {
			return s, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return nil, ErrNoLogKey
	}
	return nil, first
}

// ErrNoLogKey marks a publish of a root that names a log, without the
// log's key.
var ErrNoLogKey = errors.New("publishing needs the transparency log's key")

// LogReport says what a publish did to the log.
type LogReport struct {
	Origin    string
	Size      int64
	Appended  int
	Witnessed []string
	Quorum    int
	Cosigned  time.Time
}

// logEntries is the key lists of every role version of the release, as
// log entries, but those logged says the log holds already: an entry
// binds a list to the role version that publishes it, so a list signed
// again into a later version is logged again, and an old list replayed
// as a new version has no entry.
func logEntries(ws *workspace.Workspace, rel *workspace.Release, now time.Time, logged func(file string) bool) ([]translog.Entry, error) {
	var out []translog.Entry
	add := func(role string, md *metadata.Metadata[metadata.TargetsType]) error {
		if logged(workspace.VersionedFile(md.Signed.Version, role)) {
			return nil
		}
		for _, name := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
			host, ok := bundle.HostOfTarget(name)
			if !ok {
				continue
			}
			data, err := ws.ReadTarget(name, md.Signed.Targets[name])
			if err != nil {
				return err
			}
			parsed, err := bundle.Decode(data)
			if err != nil {
				return fmt.Errorf("the key list of %s: %w", host, err)
			}
			out = append(out, translog.KeyListEntry(host, role, md.Signed.Version, data, parsed.List.KeyIDs(), now))
		}
		return nil
	}
	for _, role := range slices.Sorted(maps.Keys(rel.Delegated)) {
		if err := add(role, rel.Delegated[role]); err != nil {
			return nil, err
		}
	}
	return out, add(metadata.TARGETS, rel.Targets)
}

// logStep is one append under one policy.
type logStep struct {
	policy  translog.Policy
	entries []translog.Entry
	// roots are the root versions whose checkpoint (RootCheckpointName)
	// this step keeps: those whose previous root names this policy
	roots []int64
}

// logSteps plans the appends of a release. Root v is logged under the
// policy of root v-1 when that root names a log, because that is the
// policy a client still at v-1 checks v against; a root after one that
// names no log is logged under the newest policy; key lists go last,
// under the newest policy.
func logSteps(ws *workspace.Workspace, rel *workspace.Release, logged func(string) bool) ([]logStep, error) {
	newest, hasNewest, err := rel.LogPolicy()
	if err != nil {
		return nil, err
	}
	var steps []logStep
	push := func(p translog.Policy, e []translog.Entry, root int64) {
		if n := len(steps); n == 0 || !steps[n-1].policy.SameLog(p) {
			steps = append(steps, logStep{policy: p})
		}
		st := &steps[len(steps)-1]
		st.entries = append(st.entries, e...)
		if root > 0 {
			st.roots = append(st.roots, root)
		}
	}
	now := ws.Now()
	var prev *translog.Policy
	for i, data := range rel.RootBytes {
		v := int64(i + 1)
		p, has, err := translog.FromRootCustom(rel.Roots[i].Signed.UnrecognizedFields)
		if err != nil {
			return nil, fmt.Errorf("root v%d: %w", v, err)
		}
		if !logged(workspace.VersionedFile(v, metadata.ROOT)) {
			entry := []translog.Entry{translog.RootEntry(v, data, now)}
			switch {
			case prev != nil:
				push(*prev, entry, v)
			case hasNewest:
				push(newest, entry, 0)
			}
		}
		prev = nil
		if has {
			prev = &p
		}
	}
	if hasNewest {
		lists, err := logEntries(ws, rel, now, logged)
		if err != nil {
			return nil, err
		}
		if len(lists) > 0 || len(steps) == 0 || !steps[len(steps)-1].policy.SameLog(newest) {
			push(newest, lists, 0)
		}
	}
	return steps, nil
}

// loggedBefore says which files the log already holds without asking the
// store: those the workspace's last publish to this origin put online,
// when a root it published named a log (that publish logged them before
// uploading them, as far as the log needed them). A publish then asks the
// store about what it adds, not about every key list of the repository.
func loggedBefore(ws *workspace.Workspace, rel *workspace.Release, dst store.Store, opts Options) func(string) bool {
	none := func(string) bool { return false }
	published := rel.Roots
	if slices.Contains(rel.NewRoles, metadata.ROOT) {
		published = published[:len(published)-1]
	}
	if opts.VerifyAll || ws.Config.Origin != Origin(dst) || len(published) == 0 {
		return none
	}
	// a publish under any root that named a log logged what it put
	// online, where the log needed it
	for _, root := range published {
		if _, ok, err := translog.FromRootCustom(root.Signed.UnrecognizedFields); err == nil && ok {
			return func(file string) bool { return rel.Prior[file] }
		}
	}
	return none
}

// appendLog logs the release before any of it is uploaded, so that a key
// list never goes live outside the log: without the witnesses' quorum the
// publish stops here. Each root version is logged under its previous
// root's policy and the checkpoint that holds it is kept, so a root that
// changes or removes the log is public in the old log before any client
// takes it; the log then goes on, the same tree, under the new policy.
func appendLog(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, dst store.Store, opts Options, refresh bool) (*LogReport, error) {
	policy, ok, err := rel.LogPolicy()
	if err != nil {
		return nil, err
	}
	if refresh {
		if !ok {
			return nil, nil
		}
		lo, err := appendOptions(policy, ws, rel, opts)
		if err != nil {
			return nil, err
		}
		rep := &LogReport{Origin: policy.Origin, Quorum: policy.Quorum}
		cp, err := logappend.Refresh(ctx, dst, lo)
		if errors.Is(err, logappend.ErrNoQuorum) {
			// the checkpoint the store keeps, with its older cosignatures
			if cur, cerr := logappend.Current(ctx, dst, policy); cerr == nil {
				cp = cur
			}
		}
		rep.Size, rep.Witnessed, rep.Cosigned = cp.Size, cp.Witnessed, cp.Cosigned
		return rep, err
	}
	steps, err := logSteps(ws, rel, loggedBefore(ws, rel, dst, opts))
	if err != nil || len(steps) == 0 {
		return nil, err
	}
	var rep *LogReport
	var previous *translog.Policy
	for _, st := range steps {
		lo, err := appendOptions(st.policy, ws, rel, opts)
		if err != nil {
			return nil, err
		}
		lo.Previous = previous
		res, err := logappend.Append(ctx, dst, st.entries, lo)
		rep = &LogReport{Origin: st.policy.Origin, Quorum: st.policy.Quorum, Size: res.Checkpoint.Size, Appended: res.Appended + res.Finished,
			Witnessed: res.Checkpoint.Witnessed, Cosigned: res.Checkpoint.Cosigned}
		if err != nil {
			return rep, err
		}
		if !opts.DryRun {
			for _, v := range st.roots {
				if err := logappend.KeepRootCheckpoint(ctx, dst, v, res.Checkpoint); err != nil {
					return rep, err
				}
			}
		}
		p := st.policy
		previous = &p
	}
	return rep, nil
}

// appendOptions are the options of an append under policy p.
func appendOptions(p translog.Policy, ws *workspace.Workspace, rel *workspace.Release, opts Options) (logappend.Options, error) {
	lo := logappend.Options{Policy: p, Now: ws.Now, DryRun: opts.DryRun}
	if opts.DryRun && (opts.Log == nil || opts.Log.Key == nil) {
		// a dry run signs nothing, so it needs no key to say what it would log
		return lo, nil
	}
	signer, err := opts.Log.signerFor(p)
	if errors.Is(err, ErrNoLogKey) {
		return lo, fmt.Errorf("root v%d's release is logged in the transparency log %s: %w", rel.Root().Signed.Version, p.Origin, ErrNoLogKey)
	}
	if err != nil {
		return lo, fmt.Errorf("%w (a publish that changes the log key gives both the old and the new key)", err)
	}
	lo.Signer = signer
	lo.Witness = opts.Log.Witness
	return lo, nil
}
