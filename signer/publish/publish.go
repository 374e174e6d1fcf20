// Package publish puts a workspace's signed metadata online: it signs
// snapshot and timestamp with the online key and writes a consistent-
// snapshot repository to a storage backend, in an order that lets a reader
// see the old repository or the new one, never a mix.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

var (
	// ErrWrongOnlineKey marks an online key the root does not name.
	ErrWrongOnlineKey = errors.New("wrong online key")
	// ErrConflict marks a published file that exists with other content.
	ErrConflict = store.ErrConflict
	// ErrStaleWorkspace marks a workspace older than what the store serves.
	ErrStaleWorkspace = errors.New("workspace is behind the repository")
	// ErrBusy marks a publish that kept losing to other writers.
	ErrBusy = errors.New("repository busy")
	// ErrNotPublishedThere marks a destination that does not serve the
	// workspace's release, which a timestamp run needs.
	ErrNotPublishedThere = errors.New("the release is not published there")
	// ErrOtherRepository marks a destination that serves metadata of
	// another repository, or no TUF metadata.
	ErrOtherRepository = errors.New("the destination serves another repository")
)

// maxTimestamp bounds the timestamp read back from the store.
const (
	maxTimestamp = 16 << 10
	maxSnapshot  = 2 << 20
)

// Options tune a publish.
type Options struct {
	// DryRun lists what would be uploaded and changes nothing.
	DryRun bool
	// Progress, when set, gets one line per file uploaded or skipped.
	Progress io.Writer
	// MoveOrigin publishes to a destination other than the workspace's
	// origin and makes it the origin.
	MoveOrigin bool
	// VerifyAll compares every file of the release with the store, also
	// those the workspace's last publish to this origin put there: for
	// repairing a store someone changed.
	VerifyAll bool
	// StatusPage writes index.html and status.json next to the metadata
	// after the release (repo publish and repo timestamp do).
	StatusPage bool
	// Log signs and witnesses the transparency log, for a root that names
	// one.
	Log *LogOptions
}

// Report says what a publish did.
type Report struct {
	Uploaded []string // in upload order; with DryRun, what would be uploaded
	Skipped  int      // files already there with the same content
	Root     int64
	Targets  int64
	Snapshot int64
	// Timestamp is the timestamp version the store now serves.
	Timestamp int64
	NewRoles  []string
	// Resigned is set when snapshot and timestamp were signed anew; a
	// publish of what the store already serves signs nothing.
	Resigned bool
	// PageError says why the status page could not be written, if so.
	PageError string
	// Log is set when the root names a transparency log; LogError says
	// why a timestamp run's witnesses did not cosign again.
	Log      *LogReport
	LogError string
}

// writeStatusPage writes index.html, status.json and the role pages next
// to the metadata: the repository as the workspace published it, for
// people to read. Role pages come first so that index.html never links to
// a page not yet written, and a role page that did not change is left in
// place (at 64 bins a publish changes one or two of them).
func writeStatusPage(ctx context.Context, ws *workspace.Workspace, dst store.Store, log *LogReport) error {
	r, err := ws.Report()
	if err != nil {
		return err
	}
	s := statuspage.FromReport(r, ws.Now())
	if log != nil && !log.Cosigned.IsZero() {
		s.Log = &statuspage.Log{Origin: log.Origin, Size: log.Size, Witnessed: log.Witnessed, Quorum: log.Quorum, Cosigned: log.Cosigned.UTC()}
	}
	data, err := s.JSON()
	if err != nil {
		return err
	}
	files, err := s.Render()
	if err != nil {
		return err
	}
	index := files[len(files)-1]
	for _, f := range files[:len(files)-1] {
		state, _, err := dst.Compare(ctx, f.Name, f.Data)
		if err != nil {
			return err
		}
		if state == store.Same {
			continue
		}
		if err := dst.Put(ctx, f.Name, f.Data, store.Always); err != nil {
			return err
		}
	}
	if err := dst.Put(ctx, statuspage.Data, data, store.Always); err != nil {
		return err
	}
	return dst.Put(ctx, index.Name, index.Data, store.Always)
}

// Publish signs snapshot and timestamp with the online key and writes the
// release: key lists, delegated metadata, targets, every root, snapshot,
// timestamp. Files already published with the same bytes are skipped, so a
// publish that stopped half way completes when run again. With
// Options.DryRun, online may be nil: nothing is signed or written, and the
// key need not be opened (no passphrase is asked).
func Publish(ctx context.Context, ws *workspace.Workspace, online *keyfile.Signer, dst store.Store, opts Options) (Report, error) {
	rel, err := ws.Release(true)
	if err != nil {
		return Report{}, err
	}
	var files []store.Object
	for _, t := range allTargets(rel) {
		data, err := ws.ReadTarget(t.name, t.info)
		if err != nil {
			return Report{}, err
		}
		files = append(files, object(workspace.TargetPath(t.name, t.info), data, store.PhaseTargets))
	}
	for _, role := range slices.Sorted(maps.Keys(rel.Delegated)) {
		files = append(files, object(workspace.VersionedFile(rel.Delegated[role].Signed.Version, role), rel.DelegatedBytes[role], store.PhaseDelegated))
	}
	files = append(files, object(workspace.VersionedFile(rel.Targets.Signed.Version, metadata.TARGETS), rel.TargetsBytes, store.PhaseTargetsMeta))
	for i, data := range rel.RootBytes {
		files = append(files, object(workspace.VersionedFile(int64(i+1), metadata.ROOT), data, store.PhaseRoot))
	}
	return finish(ctx, ws, rel, online, dst, files, len(rel.NewRoles) > 0, opts)
}

// Timestamp re-signs snapshot and timestamp for the published release, for
// a scheduled job. It refuses when the store serves newer metadata than
// the workspace knows, which would roll clients back.
func Timestamp(ctx context.Context, ws *workspace.Workspace, online *keyfile.Signer, dst store.Store, opts Options) (Report, error) {
	rel, err := ws.Release(false)
	if err != nil {
		return Report{}, err
	}
	var required []store.Object
	for _, role := range slices.Sorted(maps.Keys(rel.Delegated)) {
		required = append(required, object(workspace.VersionedFile(rel.Delegated[role].Signed.Version, role), rel.DelegatedBytes[role], store.PhaseDelegated))
	}
	required = append(required, object(workspace.VersionedFile(rel.Targets.Signed.Version, metadata.TARGETS), rel.TargetsBytes, store.PhaseTargetsMeta))
	for _, f := range required {
		state, _, err := dst.Compare(ctx, f.Name, f.Data)
		if err != nil {
			return Report{}, storeError(dst, f.Name, err)
		}
		if state != store.Same {
			return Report{}, fmt.Errorf("%s does not serve this workspace's %s: %w", dst, f.Name, ErrNotPublishedThere)
		}
	}
	return finish(ctx, ws, rel, online, dst, nil, true, opts)
}

// finish publishes a release in steps: check the online key and the
// origin, read what the destination serves, log the release, upload its
// files, then write snapshot and timestamp (and the status page).
func finish(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, online *keyfile.Signer, dst store.Store, files []store.Object, resign bool, opts Options) (Report, error) {
	origin := Origin(dst)
	if err := checkPublish(ws, rel, online, origin, opts); err != nil {
		return Report{}, err
	}
	// read before writing anything: a store that serves someone else's
	// repository, or newer metadata than the workspace knows, is refused
	remote, err := readRemote(ctx, dst, rel)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Root: rel.Root().Signed.Version, Targets: rel.Targets.Signed.Version, NewRoles: rel.NewRoles}
	// the log first: without the witnesses' quorum nothing of the release
	// is uploaded, so no key list goes live outside the log. The scheduled
	// timestamp (files nil) adds nothing to the log: witnesses that do not
	// cosign again must not stop it, or a witness outage would expire the
	// repository in a day; the checkpoint keeps its cosignatures, and the
	// report says so
	refresh := files == nil
	if rep.Log, err = appendLog(ctx, ws, rel, dst, opts, refresh); err != nil {
		if !refresh || !errors.Is(err, logappend.ErrNoQuorum) {
			return rep, err
		}
		rep.LogError = err.Error()
	}
	if err := upload(ctx, ws, rel, dst, files, origin, opts, &rep); err != nil {
		return rep, err
	}
	return releaseWithRetries(ctx, ws, rel, online, dst, remote, resign, origin, opts, rep)
}

// checkPublish refuses a publish with no online key or another key than
// the root's online key, or to a destination other than the workspace's
// origin (unless it moves there).
func checkPublish(ws *workspace.Workspace, rel *workspace.Release, online *keyfile.Signer, origin string, opts Options) error {
	root := rel.Root()
	if online == nil && !opts.DryRun {
		return errors.New("publishing needs the online key")
	}
	for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if online != nil && !slices.Contains(root.Signed.Roles[role].KeyIDs, online.KeyID) {
			return fmt.Errorf("%s is not the online key of root v%d, which names %v for %s: %w",
				online.Name, root.Signed.Version, root.Signed.Roles[role].KeyIDs, role, ErrWrongOnlineKey)
		}
	}
	if opts.MoveOrigin {
		return nil
	}
	return ws.CheckOrigin(origin)
}

// upload puts the release's files in place, in order. What the last
// publish to this origin put there is there: published files never
// change, so only what this release adds is compared, and a publish costs
// what changed, not the repository's size.
func upload(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, dst store.Store, files []store.Object, origin string, opts Options, rep *Report) error {
	if !opts.VerifyAll && ws.Config.Origin == origin {
		kept := files[:0]
		for _, f := range files {
			if rel.Prior[f.Name] {
				rep.Skipped++
				continue
			}
			kept = append(kept, f)
		}
		files = kept
	}
	sr, err := store.Sync(ctx, dst, files, store.SyncOptions{DryRun: opts.DryRun, Progress: progress(opts)})
	rep.Uploaded, rep.Skipped = sr.Uploaded, rep.Skipped+sr.Skipped
	return err
}

// releaseWithRetries writes snapshot and timestamp. Another publish or
// scheduled timestamp run may write them at the same time. Both writes are
// conditional: the snapshot is created only under a version nobody holds
// yet, and timestamp.json replaced only while it is the one read before.
// The loser reads the repository again and takes the next versions; a
// release older than what the winner published is refused there.
func releaseWithRetries(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, online *keyfile.Signer, dst store.Store, remote remoteState, resign bool, origin string, opts Options, rep Report) (Report, error) {
	for attempt := 1; ; attempt++ {
		err := release(ctx, ws, rel, online, dst, remote, resign, opts, &rep)
		if err == nil && !opts.DryRun {
			err = ws.SetOrigin(origin)
		}
		if err == nil && !opts.DryRun && opts.StatusPage {
			// informative only: a page that cannot be written does not
			// undo the release
			if perr := writeStatusPage(ctx, ws, dst, rep.Log); perr != nil {
				rep.PageError = perr.Error()
			}
		}
		if !errors.Is(err, store.ErrChanged) {
			return rep, err
		}
		if attempt == maxAttempts {
			return rep, fmt.Errorf("another publish to %s changed the repository %d times while this one ran (%v): run again once it is done: %w", dst, maxAttempts, err, ErrBusy)
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "retrying: %v\n", err)
		}
		if remote, err = readRemote(ctx, dst, rel); err != nil {
			return rep, err
		}
	}
}

// Origin names a destination as the workspace records it: S3 by bucket
// and prefix, a directory by its absolute path.
func Origin(dst store.Store) string {
	if d, ok := dst.(*store.Dir); ok {
		if abs, err := filepath.Abs(d.Root); err == nil {
			return abs
		}
	}
	return dst.String()
}

// maxAttempts bounds how often a publish that lost a race to another
// writer tries again.
const maxAttempts = 5

// release signs and writes snapshot and timestamp as remote, what the
// store served when last read, requires. It fails with store.ErrChanged
// when another writer changed the store since.
func release(ctx context.Context, ws *workspace.Workspace, rel *workspace.Release, online *keyfile.Signer, dst store.Store, remote remoteState, resign bool, opts Options, rep *Report) error {
	now := ws.Now().UTC()
	want := snapshotMeta(rel)
	var snapVersion, tsVersion int64
	var snapBytes, tsBytes []byte
	var err error
	switch {
	case !resign && remote.snapshotMeta != nil && sameMeta(remote.snapshotMeta, want) && now.Before(remote.timestampExpires):
		// the store already serves this release with a live timestamp
		rep.Snapshot, rep.Timestamp = remote.snapshot, remote.timestamp
		return nil
	case !resign && reusable(ctx, dst, rel, want, remote, now):
		// a new destination gets the same snapshot and timestamp as the
		// last one, so that every copy of the repository is identical
		snapVersion, tsVersion = rel.Snapshot.Signed.Version, rel.Timestamp.Signed.Version
		snapBytes, tsBytes = rel.SnapshotBytes, rel.TimestampBytes
	default:
		resign = true
		snapVersion, err = freeSnapshotVersion(ctx, dst, max(snapshotVersion(rel.Snapshot), remote.snapshot)+1)
		if err != nil {
			return err
		}
		snap := metadata.Snapshot(now.Add(ws.Config.Expiry.For(metadata.SNAPSHOT)).Truncate(time.Second))
		snap.Signed.Version = snapVersion
		snap.Signed.Meta = want
		if snapBytes, err = sign(snap, online); err != nil {
			return err
		}
		ts := metadata.Timestamp(now.Add(ws.Config.Expiry.For(metadata.TIMESTAMP)).Truncate(time.Second))
		tsVersion = max(timestampVersion(rel.Timestamp), remote.timestamp) + 1
		ts.Signed.Version = tsVersion
		ts.Signed.Meta = map[string]*metadata.MetaFiles{
			workspace.RoleFile(metadata.SNAPSHOT): metaFile(snapVersion, snapBytes),
		}
		if tsBytes, err = sign(ts, online); err != nil {
			return err
		}
	}
	rep.Snapshot, rep.Timestamp, rep.Resigned = snapVersion, tsVersion, resign
	report := progress(opts)
	put := func(name string, data []byte, ifMatch store.Tag) error {
		verb := "would upload"
		if !opts.DryRun {
			if err := dst.Put(ctx, name, data, ifMatch); err != nil {
				return storeError(dst, name, err)
			}
			verb = "uploaded"
		}
		rep.Uploaded = append(rep.Uploaded, name)
		if report != nil {
			report(verb, name)
		}
		return nil
	}
	snapName := workspace.VersionedFile(snapVersion, metadata.SNAPSHOT)
	state, _, err := dst.Compare(ctx, snapName, snapBytes)
	if err != nil {
		return storeError(dst, snapName, err)
	}
	switch state {
	case store.Same:
		rep.Skipped++
	case store.Different:
		// taken since freeSnapshotVersion looked: another writer's
		return fmt.Errorf("%s: %s was created by another writer: %w", dst, snapName, store.ErrChanged)
	default:
		if err := put(snapName, snapBytes, store.Absent); err != nil {
			return err
		}
	}
	if err := put(workspace.RoleFile(metadata.TIMESTAMP), tsBytes, remote.tag); err != nil {
		return err
	}
	if opts.DryRun || !resign {
		return nil
	}
	return ws.Record(rel, snapBytes, tsBytes)
}

// freeSnapshotVersion skips snapshot versions that a publish which stopped
// after writing its snapshot left behind, unreferenced: their names are
// taken and published names never change.
func freeSnapshotVersion(ctx context.Context, dst store.Store, v int64) (int64, error) {
	for {
		state, _, err := dst.Compare(ctx, workspace.VersionedFile(v, metadata.SNAPSHOT), nil)
		if err != nil {
			return 0, storeError(dst, "snapshot", err)
		}
		if state == store.Missing {
			return v, nil
		}
		v++
	}
}

// reusable tells whether the workspace's last snapshot and timestamp fit
// this release and may go to a store that lacks them.
func reusable(ctx context.Context, dst store.Store, rel *workspace.Release, want map[string]*metadata.MetaFiles, remote remoteState, now time.Time) bool {
	if rel.Snapshot == nil || rel.Timestamp == nil || rel.SnapshotBytes == nil || rel.TimestampBytes == nil {
		return false
	}
	if !sameMeta(rel.Snapshot.Signed.Meta, want) || !now.Before(rel.Timestamp.Signed.Expires) || rel.Timestamp.Signed.Version <= remote.timestamp {
		return false
	}
	state, _, err := dst.Compare(ctx, workspace.VersionedFile(rel.Snapshot.Signed.Version, metadata.SNAPSHOT), rel.SnapshotBytes)
	return err == nil && state != store.Different
}

// snapshotMeta is what the snapshot of a release lists: the version,
// length and hash of targets and of every delegated role.
func snapshotMeta(rel *workspace.Release) map[string]*metadata.MetaFiles {
	meta := map[string]*metadata.MetaFiles{
		workspace.RoleFile(metadata.TARGETS): metaFile(rel.Targets.Signed.Version, rel.TargetsBytes),
	}
	for role, md := range rel.Delegated {
		meta[workspace.RoleFile(role)] = metaFile(md.Signed.Version, rel.DelegatedBytes[role])
	}
	return meta
}

func sameMeta(a, b map[string]*metadata.MetaFiles) bool {
	if len(a) != len(b) {
		return false
	}
	for name, m := range a {
		o, ok := b[name]
		if !ok || o.Version != m.Version || o.Length != m.Length || !o.Hashes.Equal(m.Hashes) {
			return false
		}
	}
	return true
}

// progress reports each object on opts.Progress, one line at a time.
func progress(opts Options) func(verb, name string) {
	if opts.Progress == nil {
		return nil
	}
	var mu sync.Mutex
	return func(verb, name string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(opts.Progress, "%s %s\n", verb, name)
	}
}

func storeError(dst store.Store, name string, err error) error {
	return fmt.Errorf("%s: %s: %w", dst, name, err)
}

type target struct {
	name string
	info *metadata.TargetFiles
}

func allTargets(rel *workspace.Release) []target {
	var out []target
	add := func(md *metadata.Metadata[metadata.TargetsType]) {
		for _, name := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
			out = append(out, target{name, md.Signed.Targets[name]})
		}
	}
	for _, role := range slices.Sorted(maps.Keys(rel.Delegated)) {
		add(rel.Delegated[role])
	}
	add(rel.Targets)
	return out
}

func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	m := metadata.MetaFile(version)
	m.Length = int64(len(data))
	m.Hashes = metadata.Hashes{"sha256": sum[:]}
	return m
}

func object(name string, data []byte, phase int) store.Object {
	return store.Object{Name: name, Data: data, Phase: phase}
}

func snapshotVersion(md *metadata.Metadata[metadata.SnapshotType]) int64 {
	if md == nil {
		return 0
	}
	return md.Signed.Version
}

func timestampVersion(md *metadata.Metadata[metadata.TimestampType]) int64 {
	if md == nil {
		return 0
	}
	return md.Signed.Version
}

// sign signs the canonical form of a snapshot or timestamp with the online
// key and attaches the signature under the root's keyid for it, instead of
// go-tuf's Metadata.Sign, which derives the keyid itself and appends
// duplicates.
func sign[T metadata.Roles](md *metadata.Metadata[T], online *keyfile.Signer) ([]byte, error) {
	if online == nil {
		// a dry run, which never opens the key: what would be uploaded
		// is listed, never written
		md.Signatures = []metadata.Signature{}
		return md.ToBytes(true)
	}
	payload, err := cjson.EncodeCanonical(md.Signed)
	if err != nil {
		return nil, err
	}
	sig, err := online.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("sign with the online key: %w", err)
	}
	md.Signatures = []metadata.Signature{{KeyID: online.KeyID, Signature: sig}}
	return md.ToBytes(true)
}

// remoteState is what the store serves now.
type remoteState struct {
	// tag is timestamp.json's as read: a write of a new timestamp
	// succeeds only while the store still holds this one
	tag              store.Tag
	timestamp        int64
	timestampExpires time.Time
	snapshot         int64
	// snapshotMeta is the served snapshot's meta, when it could be read and
	// verified; nil otherwise.
	snapshotMeta map[string]*metadata.MetaFiles
}

// readRemote reads the store's timestamp, if any, and checks that this
// repository's online key signed it: a store with someone else's
// repository in it is the wrong --to.
func readRemote(ctx context.Context, dst store.Store, rel *workspace.Release) (remoteState, error) {
	data, tag, err := dst.Get(ctx, workspace.RoleFile(metadata.TIMESTAMP), maxTimestamp)
	if errors.Is(err, store.ErrNotFound) {
		return remoteState{tag: store.Absent}, nil
	}
	if err != nil {
		return remoteState{}, storeError(dst, "timestamp.json", err)
	}
	ts, err := metadata.Timestamp().FromBytes(data)
	if err != nil {
		return remoteState{}, fmt.Errorf("%s serves a timestamp.json that is not TUF metadata (%v): %w", dst, err, ErrOtherRepository)
	}
	for _, root := range rel.Roots {
		if root.VerifyDelegate(metadata.TIMESTAMP, ts) != nil {
			continue
		}
		r := remoteState{tag: tag, timestamp: ts.Signed.Version, timestampExpires: ts.Signed.Expires}
		if m := ts.Signed.Meta[workspace.RoleFile(metadata.SNAPSHOT)]; m != nil {
			r.snapshot = m.Version
			r.snapshotMeta, err = checkRemoteSnapshot(ctx, dst, rel, m)
		}
		return r, err
	}
	return remoteState{}, fmt.Errorf("%s serves a timestamp.json that no online key of this repository signed: %w", dst, ErrOtherRepository)
}

// checkRemoteSnapshot reads the served snapshot and refuses to publish over
// a store that serves newer metadata than the workspace knows: the publish
// would roll clients back. It returns the snapshot's meta when the snapshot
// matches what the timestamp lists and the online key signed it.
func checkRemoteSnapshot(ctx context.Context, dst store.Store, rel *workspace.Release, want *metadata.MetaFiles) (map[string]*metadata.MetaFiles, error) {
	data, _, err := dst.Get(ctx, workspace.VersionedFile(want.Version, metadata.SNAPSHOT), maxSnapshot)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeError(dst, "snapshot", err)
	}
	if want.VerifyLengthHashes(data) != nil {
		return nil, nil
	}
	snap, err := metadata.Snapshot().FromBytes(data)
	if err != nil || rel.Root().VerifyDelegate(metadata.SNAPSHOT, snap) != nil {
		return nil, nil
	}
	known := map[string]int64{workspace.RoleFile(metadata.TARGETS): rel.Targets.Signed.Version}
	for role, md := range rel.Delegated {
		known[workspace.RoleFile(role)] = md.Signed.Version
	}
	for name, m := range snap.Signed.Meta {
		if m.Version > known[name] {
			return nil, fmt.Errorf("%s serves %s v%d, newer than this workspace knows (v%d): update the workspace (git pull) first: %w", dst, name, m.Version, known[name], ErrStaleWorkspace)
		}
	}
	return snap.Signed.Meta, nil
}
