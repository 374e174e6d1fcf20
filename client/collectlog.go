package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// collectLog copies the transparency log with a repository whose root
// names one: the checkpoint, every tile and entry bundle, and the index
// file of every key list and root copied, each verified against the
// witnessed checkpoint. A mirror or an archive then lets clients and
// monitors verify the log offline exactly as at the origin.
func (c *Client) collectLog(ctx context.Context, repo string, root *metadata.Metadata[metadata.RootType], get func(string, int64) ([]byte, error), r *Repository) error {
	policy, ok, err := translog.FromRootCustom(root.Signed.UnrecognizedFields)
	if err != nil {
		return fmt.Errorf("root v%d of %s: %v: %w", root.Signed.Version, redact(repo), err, ErrUntrusted)
	}
	if !ok {
		return nil
	}
	raw, err := get(translog.CheckpointName, translog.MaxCheckpoint)
	if err != nil {
		return err
	}
	cp, err := translog.VerifyCheckpoint(policy, raw, c.refTime())
	if err != nil {
		return fmt.Errorf("%s of %s: %w: %w", translog.CheckpointName, redact(repo), err, ErrNotLogged)
	}
	logFiles := newLogFiles(get)
	fetch, fetched := logFiles.fetch, logFiles.read
	var files []store.Object
	for _, name := range translog.Files(cp.Size) {
		max := int64(translog.MaxBundle)
		if !strings.HasPrefix(name, translog.Dir+"tile/entries/") {
			max = 256 * 32
		}
		data, err := fetch(ctx, name, max)
		if err != nil {
			return fmt.Errorf("copy the log of %s: %w", redact(repo), err)
		}
		files = append(files, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
	}
	for n := int64(0); n<<translog.TileHeight < cp.Size; n++ {
		if err := translog.VerifyBundle(ctx, fetch, cp, n, fetched[translog.EntriesPath(n, cp.Size)]); err != nil {
			return fmt.Errorf("the log of %s: %w: %w", redact(repo), err, ErrNotLogged)
		}
	}
	currentRoot := rootName(root.Signed.Version)
	for _, o := range r.Objects {
		registry, sum, ok := loggedFile(o)
		if !ok {
			continue
		}
		// what clients read now must be in the log; earlier versions are
		// when the log already ran, and copied without it otherwise
		required := o.Name == currentRoot || (registry != "" && r.current[bundle.TargetName(registry)] == sum)
		_, _, err := translog.Lookup(ctx, fetch, cp, registry, sum)
		if err != nil && !required && errors.Is(err, translog.ErrMissing) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s of %s is not proven in its log %s: %w: %w", o.Name, redact(repo), policy.Origin, err, ErrNotLogged)
		}
		name := translog.IndexName(registry, sum)
		if data, ok := fetched[name]; ok {
			files = append(files, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
		}
		if latest, ok := fetched[translog.LatestName(registry)]; ok && registry != "" && required {
			files = append(files, store.Object{Name: translog.LatestName(registry), Data: latest, Phase: store.PhaseTargets, IfMatch: store.Always})
		}
	}
	slices.SortStableFunc(files, func(a, b store.Object) int { return strings.Compare(a.Name, b.Name) })
	// the checkpoint goes in place before the metadata that needs it
	files = append(files, store.Object{Name: translog.CheckpointName, Data: raw, Phase: store.PhaseTargetsMeta, IfMatch: store.Always})
	r.Objects = append(r.Objects, files...)
	return nil
}

// loggedFile names the log entry a copied file has: a key list by its
// registry and hash, a root by its hash.
func loggedFile(o store.Object) (registry, sum string, ok bool) {
	if rootProbe().MatchString("/" + o.Name) {
		return "", objectName(o.Data), true
	}
	rest, isTarget := strings.CutPrefix(o.Name, "targets/")
	if !isTarget {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 || !strings.HasSuffix(rest, ".keys.json") {
		return "", "", false
	}
	return rest[:i], objectName(o.Data), true
}
