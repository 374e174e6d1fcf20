package mirror

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/internal/redact"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// collectLog copies the transparency log with a repository whose root
// names one: the checkpoint, every tile and entry bundle, and the index
// file of every key list and root copied, each verified against the
// witnessed checkpoint. A mirror or an archive then lets clients and
// monitors verify the log offline exactly as at the origin.
func collectLog(ctx context.Context, s *session.Session, root *metadata.Metadata[metadata.RootType], get func(string, int64) ([]byte, error), r *Repository) error {
	policy, ok, err := translog.FromRootCustom(root.Signed.UnrecognizedFields)
	if err != nil {
		return fmt.Errorf("root v%d of %s: %v: %w", root.Signed.Version, redact.URL(s.Repo), err, client.ErrUntrusted)
	}
	if !ok {
		return nil
	}
	raw, err := get(translog.CheckpointName, translog.MaxCheckpoint)
	if err != nil {
		return err
	}
	cp, err := translog.VerifyCheckpoint(policy, raw, s.RefTime)
	if err != nil {
		return fmt.Errorf("%s of %s: %w: %w", translog.CheckpointName, redact.URL(s.Repo), err, client.ErrNotLogged)
	}
	logFiles := session.NewLogFiles(get)
	fetch, fetched := logFiles.Fetch, logFiles.Read
	var files []store.Object
	for _, name := range translog.Files(cp.Size) {
		max := int64(translog.MaxBundle)
		if !strings.HasPrefix(name, translog.Dir+"tile/entries/") {
			max = 256 * 32
		}
		data, err := fetch(ctx, name, max)
		if err != nil {
			return fmt.Errorf("copy the log of %s: %w", redact.URL(s.Repo), err)
		}
		files = append(files, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
	}
	for n := int64(0); n<<translog.TileHeight < cp.Size; n++ {
		if err := translog.VerifyBundle(ctx, fetch, cp, n, fetched[translog.EntriesPath(n, cp.Size)]); err != nil {
			return fmt.Errorf("the log of %s: %w: %w", redact.URL(s.Repo), err, client.ErrNotLogged)
		}
	}
	for _, k := range loggedKeys(r) {
		_, _, err := translog.Lookup(ctx, fetch, cp, k.Key)
		if err != nil && !k.required && errors.Is(err, translog.ErrMissing) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s of %s is not proven in its log %s: %w: %w", k.file, redact.URL(s.Repo), policy.Origin, err, client.ErrNotLogged)
		}
		name := translog.IndexName(k.Key)
		if data, ok := fetched[name]; ok {
			files = append(files, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
		}
		if k.afterLog {
			// the checkpoint that proves a root to a client at the one
			// before, where the publisher kept one
			name := translog.RootCheckpointName(k.Version)
			if data, err := fetch(ctx, name, translog.MaxCheckpoint); err == nil {
				files = append(files, store.Object{Name: name, Data: data, Phase: store.PhaseTargets})
			} else if !errors.Is(err, translog.ErrMissing) {
				return fmt.Errorf("copy the log of %s: %w", redact.URL(s.Repo), err)
			}
		}
		if latest, ok := fetched[translog.LatestName(k.Registry)]; ok && k.Registry != "" && k.required {
			files = append(files, store.Object{Name: translog.LatestName(k.Registry), Data: latest, Phase: store.PhaseTargets, IfMatch: store.Always})
		}
	}
	slices.SortStableFunc(files, func(a, b store.Object) int { return strings.Compare(a.Name, b.Name) })
	// the checkpoint goes in place before the metadata that needs it
	files = append(files, store.Object{Name: translog.CheckpointName, Data: raw, Phase: store.PhaseTargetsMeta, IfMatch: store.Always})
	r.Objects = append(r.Objects, files...)
	return nil
}

// loggedKey is the log entry a copied file has, and whether clients
// require it: the current key lists, and roots after one that names a
// log. Earlier versions are from when the log already ran, or are copied
// without it.
type loggedKey struct {
	translog.Key
	file     string
	required bool
	// afterLog marks a root whose previous root names a log, or may: the
	// publisher kept the checkpoint that logged it (RootCheckpointName)
	afterLog bool
}

// loggedKeys lists the log entries of the copied roots and of the key
// lists each copied targets version lists.
func loggedKeys(r *Repository) []loggedKey {
	var out []loggedKey
	newest := map[string]int64{}
	for _, p := range r.verified {
		newest[p.Role] = max(newest[p.Role], p.MD.Signed.Version)
	}
	roots := r.roots // oldest first
	for i, vr := range roots {
		prevLogged, prevKnown := false, i > 0 && roots[i-1].Version == vr.Version-1
		if prevKnown {
			_, prevLogged, _ = translog.FromRootCustom(roots[i-1].MD.Signed.UnrecognizedFields)
		}
		// a root after one the copy lacks may follow a log too
		afterLog := prevLogged || !prevKnown && vr.Version > 1
		out = append(out, loggedKey{Key: translog.RootKey(vr.Version, session.ObjectName(vr.Data)), file: session.RootName(vr.Version), required: prevLogged || vr.Version == r.RootVersion, afterLog: afterLog})
	}
	for _, l := range r.verified {
		for _, t := range slices.Sorted(maps.Keys(l.MD.Signed.Targets)) {
			host, ok := bundle.HostOfTarget(t)
			if !ok {
				continue
			}
			sum := hex.EncodeToString(l.MD.Signed.Targets[t].Hashes["sha256"])
			k := translog.Key{Registry: host, Role: l.Role, Version: l.MD.Signed.Version, SHA256: sum}
			out = append(out, loggedKey{Key: k, file: t, required: l.MD.Signed.Version == newest[l.Role] && r.current[t] == sum})
		}
	}
	return out
}
