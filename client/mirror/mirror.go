// Package mirror copies a verified repository: to a directory or a bucket,
// for a mirror that clients use like the origin, or into one archive file
// for an air-gapped network. Mirrors need no trust of their own: clients
// verify everything, and so does the copy.
package mirror

import (
	"context"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/archive"
	"github.com/tufkeys/tufkeys/internal/storage"
)

// Mirror verifies the repository at from against the client's trusted root
// and writes it to store in the order publishing does (key lists,
// delegated metadata, targets, roots, snapshot, timestamp), skipping files
// the store already holds with the same bytes. The store never serves a
// mix of two versions, and a mirror of a mirror is a mirror like any other.
func Mirror(ctx context.Context, cl *client.Client, from string, store storage.Store, opts storage.SyncOptions) (*client.Repository, storage.SyncReport, error) {
	repo, err := cl.Collect(ctx, from)
	if err != nil {
		return nil, storage.SyncReport{}, err
	}
	rep, err := storage.Sync(ctx, store, repo.Objects, opts)
	return repo, rep, err
}

// Export verifies the repository at from and writes it to one .tar.gz
// file, atomically.
func Export(ctx context.Context, cl *client.Client, from, out string) (*client.Repository, error) {
	repo, err := cl.Collect(ctx, from)
	if err != nil {
		return nil, err
	}
	files := make([]archive.File, len(repo.Objects))
	for i, o := range repo.Objects {
		files[i] = archive.File{Name: o.Name, Data: o.Data}
	}
	return repo, archive.WriteFile(out, files)
}
