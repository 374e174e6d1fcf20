// Package mirror copies a verified repository: to a directory or a bucket,
// for a mirror that clients use like the origin, or into one archive file
// for an air-gapped network. Mirrors need no trust of their own: clients
// verify everything, and so does the copy.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/archive"
	"github.com/tufkeys/tufkeys/store"
)

// Mirror verifies the repository at from against the client's trusted root
// and writes it to store in the order publishing does (key lists,
// delegated metadata, targets, roots, snapshot, timestamp, then the status
// page when the source has one), skipping files
// the store already holds with the same bytes. The store never serves a
// mix of two versions, and a mirror of a mirror is a mirror like any other.
//
// A mirror never goes backwards: when the store already serves this
// repository at a newer version than the source, nothing is written and
// the error matches ErrDestinationNewer. The new timestamp replaces only
// the one checked, so a second mirror run racing this one cannot slip an
// older one in between.
func Mirror(ctx context.Context, cl *client.Client, from string, dst store.Store, opts store.SyncOptions) (*Repository, store.SyncReport, error) {
	repo, err := Collect(ctx, cl, from)
	if err != nil {
		return nil, store.SyncReport{}, err
	}
	tag, err := checkDestination(ctx, dst, repo)
	if err != nil {
		return repo, store.SyncReport{}, err
	}
	objects := make([]store.Object, len(repo.Objects))
	for i, f := range repo.Objects {
		objects[i] = store.Object{Name: f.Name, Data: f.Data, Phase: f.Phase}
		if f.Name == timestampFile {
			objects[i].IfMatch = tag
		}
	}
	// the page goes last, once the metadata it describes is in place
	rep, err := store.Sync(ctx, dst, objects, opts)
	return repo, rep, err
}

// ErrDestinationNewer marks a mirror destination that serves newer
// metadata of the repository than the source: copying would roll back
// every client that reads the destination.
var ErrDestinationNewer = errors.New("the destination is newer than the source")

const (
	timestampFile = "timestamp.json"
	maxTimestamp  = 1 << 20
)

// checkDestination reads what the store serves and refuses a copy that
// would replace newer metadata by older: a later root, or a timestamp,
// signed by the newest root's timestamp keys, of a higher version or
// naming a higher snapshot. It returns the tag of the timestamp it
// checked. A timestamp that no root of the repository signed is not this
// repository's, and is refused as well: the destination is wrong.
func checkDestination(ctx context.Context, dst store.Store, repo *Repository) (store.Tag, error) {
	next := fmt.Sprintf("%d.root.json", repo.RootVersion+1)
	switch state, _, err := dst.Compare(ctx, next, nil); {
	case err != nil:
		return "", fmt.Errorf("%s: %s: %w", dst, next, err)
	case state != store.Missing:
		return "", fmt.Errorf("%s serves %s, a root newer than the source's v%d: refusing to copy an older repository over it; mirror from an up-to-date source: %w", dst, next, repo.RootVersion, ErrDestinationNewer)
	}
	data, tag, err := dst.Get(ctx, timestampFile, maxTimestamp)
	if errors.Is(err, store.ErrNotFound) {
		return store.Absent, nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", dst, timestampFile, err)
	}
	have, err := metadata.Timestamp().FromBytes(data)
	if err != nil {
		return "", fmt.Errorf("%s serves a %s that is not TUF metadata (%v): check the destination", dst, timestampFile, err)
	}
	ours, roots := repo.timestamp, repo.rootMetadata()
	newest := roots[len(roots)-1]
	if newest.VerifyDelegate(metadata.TIMESTAMP, have) == nil {
		snap := func(ts *metadata.Metadata[metadata.TimestampType]) int64 {
			if m := ts.Signed.Meta["snapshot.json"]; m != nil {
				return m.Version
			}
			return 0
		}
		if have.Signed.Version > ours.Signed.Version || snap(have) > snap(ours) {
			return "", fmt.Errorf("%s serves timestamp v%d (snapshot v%d), newer than the source's v%d (snapshot v%d): refusing to roll the mirror back; the source is stale or not the origin: mirror from an up-to-date source: %w",
				dst, have.Signed.Version, snap(have), ours.Signed.Version, snap(ours), ErrDestinationNewer)
		}
		return tag, nil
	}
	// signed under an older root, before the timestamp keys changed:
	// clients drop such a timestamp themselves once they see the new root
	for _, root := range roots[:len(roots)-1] {
		if root.VerifyDelegate(metadata.TIMESTAMP, have) == nil {
			return tag, nil
		}
	}
	return "", fmt.Errorf("%s serves a %s that no root of this repository signed: it holds another repository; check the destination", dst, timestampFile)
}

// Export verifies the repository at from and writes it to one .tar.gz
// file, atomically.
func Export(ctx context.Context, cl *client.Client, from, out string) (*Repository, error) {
	repo, files, err := collectFiles(ctx, cl, from)
	if err != nil {
		return nil, err
	}
	return repo, archive.WriteFile(out, files)
}

// ExportTo is Export to a stream, such as standard output. Nothing is
// written unless the whole repository verified.
func ExportTo(ctx context.Context, cl *client.Client, from string, w io.Writer) (*Repository, error) {
	repo, files, err := collectFiles(ctx, cl, from)
	if err != nil {
		return nil, err
	}
	data, err := archive.Encode(files)
	if err != nil {
		return nil, err
	}
	_, err = w.Write(data)
	return repo, err
}

func collectFiles(ctx context.Context, cl *client.Client, from string) (*Repository, []archive.File, error) {
	repo, err := Collect(ctx, cl, from)
	if err != nil {
		return nil, nil, err
	}
	var files []archive.File
	for _, o := range repo.Objects {
		files = append(files, archive.File{Name: o.Name, Data: o.Data})
	}
	return repo, files, nil
}
