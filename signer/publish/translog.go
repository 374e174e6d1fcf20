package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

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
	// Witness asks witnesses to cosign; nil speaks HTTP.
	Witness logappend.WitnessClient
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

// logEntries is every root version and key list of the release, as log
// entries, but those logged says the log holds already; the log appends
// the others it does not hold yet.
func logEntries(ws *workspace.Workspace, rel *workspace.Release, now time.Time, logged func(file string) bool) ([]translog.Entry, error) {
	var out []translog.Entry
	for i, data := range rel.RootBytes {
		if !logged(workspace.VersionedFile(int64(i+1), metadata.ROOT)) {
			out = append(out, translog.RootEntry(int64(i+1), data, now))
		}
	}
	add := func(role string, md *metadata.Metadata[metadata.TargetsType]) error {
		for _, name := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
			host, ok := bundle.HostOfTarget(name)
			if !ok || logged(workspace.TargetPath(name, md.Signed.Targets[name])) {
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

// loggedBefore says which files the log already holds without asking the
// store: those the workspace's last publish to this origin put online, when
// the root it published under named this same log (that publish logged
// them before uploading them). A publish then asks the store about what it
// adds, not about every key list of the repository.
func loggedBefore(ws *workspace.Workspace, rel *workspace.Release, dst store.Store, policy translog.Policy, opts Options) func(string) bool {
	none := func(string) bool { return false }
	published := rel.Roots
	if slices.Contains(rel.NewRoles, metadata.ROOT) {
		published = published[:len(published)-1]
	}
	if opts.VerifyAll || ws.Config.Origin != Origin(dst) || len(published) == 0 {
		return none
	}
	was, ok, err := translog.FromRootCustom(published[len(published)-1].Signed.UnrecognizedFields)
	if err != nil || !ok || was.Origin != policy.Origin || was.Key != policy.Key {
		return none
	}
	return func(file string) bool { return rel.Prior[file] }
}

// appendLog logs the release before any of it is uploaded, so that a key
// list never goes live outside the log: without the witnesses' quorum the
// publish stops here.
func appendLog(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, dst store.Store, opts Options, refresh bool) (*LogReport, error) {
	policy, ok, err := rel.LogPolicy()
	if err != nil || !ok {
		return nil, err
	}
	hasKey := opts.Log != nil && opts.Log.Key != nil
	if !hasKey && !opts.DryRun {
		return nil, fmt.Errorf("root v%d names the transparency log %s: %w", rel.Root().Signed.Version, policy.Origin, ErrNoLogKey)
	}
	// a dry run signs nothing, so it needs no key to say what it would log
	lo := logappend.Options{Policy: policy, Now: ws.Now, DryRun: opts.DryRun}
	if hasKey {
		if lo.Signer, err = logappend.NoteSigner(opts.Log.Key, policy); err != nil {
			return nil, err
		}
		lo.Witness = opts.Log.Witness
	}
	rep := &LogReport{Origin: policy.Origin, Quorum: policy.Quorum}
	if refresh {
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
	entries, err := logEntries(ws, rel, ws.Now(), loggedBefore(ws, rel, dst, policy, opts))
	if err != nil {
		return nil, err
	}
	res, err := logappend.Append(ctx, dst, entries, lo)
	rep.Size, rep.Appended, rep.Witnessed, rep.Cosigned = res.Checkpoint.Size, res.Appended+res.Finished, res.Checkpoint.Witnessed, res.Checkpoint.Cosigned
	return rep, err
}
