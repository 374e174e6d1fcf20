package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/tufkeys/tufkeys/client/internal/session"
)

func init() { session.Register(openSession) }

// openSession opens a reading of repo for a copy (client/mirror): the
// whole root chain, the timestamp and the snapshot verified against the
// client's trusted root, and the other files read one after another,
// since a copy reads every file anyway.
func openSession(ctx context.Context, cl any, repo string) (*session.Session, error) {
	c, ok := cl.(*Client)
	if !ok || c == nil {
		return nil, fmt.Errorf("%T: %w", cl, session.ErrNoClient)
	}
	ctx, cancel := context.WithCancel(ctx)
	s, err := c.read(ctx, repo)
	if err != nil {
		cancel()
		return nil, err
	}
	s.Close = cancel
	return s, nil
}

// read fetches and verifies repo's top-level metadata, for History and
// for copies.
func (c *Client) read(ctx context.Context, repo string) (*session.Session, error) {
	f := newFetcher(ctx, c, repo)
	f.sequential = true
	if err := f.openArchive(); err != nil {
		return nil, err
	}
	get := func(name string, max int64) ([]byte, error) {
		data, err := f.download(f.url(name), max)
		if err != nil {
			return nil, explain(repo, name, err)
		}
		return data, nil
	}
	top, err := c.topLevel(repo, f, get)
	if err != nil {
		return nil, err
	}
	return &session.Session{
		Repo:    repo,
		Top:     top,
		Get:     get,
		Explain: func(file string, err error) error { return explain(repo, file, err) },
		RefTime: c.refTime(),
		Log:     c.log,
		NotOlderThanTrusted: func(ctx context.Context, versions map[string]int64) error {
			return c.notOlderThanTrusted(ctx, repo, versions)
		},
		FillCache: func(ctx context.Context, names []string) error {
			w := want{names: names, force: true, stopAtMissing: true, repos: []string{repo}}
			_, err := c.update(ctx, w, c.cache.record(answerRecord).Generation)
			return err
		},
		Close: func() {},
	}, nil
}

// ErrRollback marks a repository older than what this client already
// trusts: a stale mirror, or a replay of old metadata.
var ErrRollback = fmt.Errorf("older than what this client trusts: %w", ErrUntrusted)

// notOlderThanTrusted refuses a repository, read for a copy or a history,
// that any role of the client's trusted state is newer than: a mirror or
// an archive made from it would hand clients metadata they must refuse.
func (c *Client) notOlderThanTrusted(ctx context.Context, repo string, collected map[string]int64) error {
	trusted, err := c.trustedMetadata(ctx)
	if err != nil {
		return err
	}
	// top-level roles first, in the order the workflow verifies them
	order := func(role string) int {
		if i := slices.Index(session.TopLevelRoles, role); i >= 0 {
			return i
		}
		return len(session.TopLevelRoles)
	}
	roles := slices.SortedFunc(maps.Keys(trusted), func(a, b string) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, role := range roles {
		var md struct {
			Signed struct {
				Version int64 `json:"version"`
			} `json:"signed"`
		}
		if json.Unmarshal(trusted[role], &md) != nil {
			continue
		}
		if have, ok := collected[role]; ok && have < md.Signed.Version {
			return fmt.Errorf("%s serves %s v%d, older than v%d which this client already trusts: refusing to copy it; use an up-to-date source: %w", redact(repo), role, have, md.Signed.Version, ErrRollback)
		}
	}
	return nil
}

// earlierRoots fetches the roots older than the trusted one, which a
// mirror serves to clients that embed them. Nothing newer signs an older
// root, so chaining one forward to the trusted root authenticates nothing
// (a forged root 1 listing one real signer of root 2 chains): an earlier
// root is authenticated only when it is byte for byte a root this client
// already trusts (its trusted root, a root it verified into its cache).
// The others come back apart, parsed, as unverified: reported, never used
// to verify, never copied.
func (c *Client) earlierRoots(get func(string, int64) ([]byte, error), trusted int64) (authentic []session.VersionedRoot, unverified []*metadata.Metadata[metadata.RootType]) {
	embedded := c.opts.TrustedRoot
	for v := int64(1); v < trusted; v++ {
		data, err := get(session.RootName(v), rootMax)
		if err != nil {
			continue // a gap in the source
		}
		known, _ := c.cache.root(v)
		if (known != nil && bytes.Equal(data, known)) || (len(embedded) > 0 && bytes.Equal(data, embedded)) {
			if md, err := metadata.Root().FromBytes(data); err == nil && md.Signed.Version == v {
				authentic = append(authentic, session.VersionedRoot{Version: v, Data: data, MD: md})
				continue
			}
		}
		if md, err := metadata.Root().FromBytes(data); err == nil && md.Signed.Version == v {
			unverified = append(unverified, md)
		}
	}
	return authentic, unverified
}

// topLevel fetches and verifies a repository's top-level metadata for
// copies and History: the whole root chain, the timestamp, and the
// snapshot it names.
func (c *Client) topLevel(repo string, f *fetcher, get func(string, int64) ([]byte, error)) (*session.TopLevel, error) {
	tm, err := trustedmetadata.New(c.opts.TrustedRoot)
	if err != nil {
		return nil, &RootError{fmt.Sprintf("it does not verify as TUF root metadata (%v)", err)}
	}
	tm.RefTime = c.refTime()
	trusted := tm.Root.Signed.Version
	earlier, unverified := c.earlierRoots(get, trusted)
	top := &session.TopLevel{TM: tm, Roots: append(earlier, session.VersionedRoot{Version: trusted, Data: c.opts.TrustedRoot, MD: tm.Root}), Unverified: unverified, Chain: []*metadata.Metadata[metadata.RootType]{tm.Root}}
	for v := trusted + 1; v < trusted+maxRootRotations; v++ {
		data, err := f.download(f.url(session.RootName(v)), rootMax)
		if session.IsMissing(err) {
			break
		}
		if err != nil {
			return nil, explain(repo, session.RootName(v), err)
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			return nil, explain(repo, session.RootName(v), err)
		}
		top.Roots = append(top.Roots, session.VersionedRoot{Version: v, Data: data, MD: tm.Root})
		top.Chain = append(top.Chain, tm.Root)
	}
	if top.Timestamp, err = get("timestamp.json", timestampMax); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateTimestamp(top.Timestamp); err != nil {
		return nil, explain(repo, "timestamp.json", err)
	}
	meta := tm.Timestamp.Signed.Meta["snapshot.json"]
	if meta == nil {
		return nil, fmt.Errorf("the timestamp of %s names no snapshot; refusing it: %w", redact(repo), ErrUntrusted)
	}
	top.SnapshotName = fmt.Sprintf("%d.snapshot.json", meta.Version)
	if top.Snapshot, err = get(top.SnapshotName, session.LengthOr(meta.Length, snapshotMax)); err != nil {
		return nil, err
	}
	if _, err := tm.UpdateSnapshot(top.Snapshot, false); err != nil {
		return nil, explain(repo, top.SnapshotName, err)
	}
	return top, nil
}
