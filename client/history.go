package client

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/translog"
)

// HistoryEntry is one version of a registry's key list as the repository
// published it, with what vouched for it.
type HistoryEntry struct {
	// Role and Version are the metadata that listed this key list:
	// targets, a hashed bin, or the registry's delegated role.
	Role    string
	Version int64
	// Expires is that metadata's expiry; the repository records no
	// signing date, and the expiry is the closest it shows.
	Expires time.Time
	// SignedBy are the keyids whose signatures over that metadata verify,
	// under the delegation named by VerifiedBy ("root v3", "targets v5").
	SignedBy   []string
	VerifiedBy string
	// SHA256 names the key list; Keys holds it, and Diff what changed
	// from the entry before.
	SHA256 string
	Keys   []bundle.Key
	Diff   bundle.Diff
	// Problem says why this version could not be verified or read; the
	// entry is kept, never skipped silently. Missing is set when the
	// version is not there at all: a gap, or a copy (mirror, archive)
	// that holds current versions only.
	Problem string
	Missing bool
	// Unverified is set, with the reason in Problem, when the version is
	// signed only under a root (or a delegator signed only under a root)
	// this client cannot authenticate: an earlier root it does not hold.
	// Its key list is not read and nothing of it is claimed, unless the
	// transparency log vouches for it (InLog).
	Unverified bool
	// InLog is set when the key list's entry is proven in the witnessed
	// transparency log the current root names, LogIndex being its place:
	// a version signed under a root this client cannot authenticate is
	// then authenticated by the log. Versions published before the log
	// began are not in it.
	InLog    bool
	LogIndex int64
}

// History reads every version of a registry's key list the repository
// published, oldest first: each version of the metadata that held it is
// verified against the root (for targets) or the delegation (for bins and
// delegated roles) that signs it, and each key list against the hash that
// metadata names. With consistent snapshots every version stays online.
func (c *Client) History(ctx context.Context, registry string) ([]HistoryEntry, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return nil, err
	}
	name := bundle.TargetName(host)
	repo := c.opts.Repositories[0]
	// the root chain, and the current snapshot, verified as a client does
	read, err := c.read(ctx, repo)
	if err != nil {
		return nil, err
	}
	top, get := read.Top, read.Get
	tm := top.TM
	// the rollback floor: nothing older than what this client trusts
	versions := map[string]int64{
		metadata.ROOT: tm.Root.Signed.Version, metadata.TIMESTAMP: tm.Timestamp.Signed.Version, metadata.SNAPSHOT: tm.Snapshot.Signed.Version,
	}
	for file, m := range tm.Snapshot.Signed.Meta {
		versions[strings.TrimSuffix(file, ".json")] = m.Version
	}
	if err := c.notOlderThanTrusted(ctx, repo, versions); err != nil {
		return nil, err
	}
	roots := make([]*metadata.Metadata[metadata.RootType], len(top.Roots))
	for i, vr := range top.Roots {
		roots[i] = vr.MD
	}
	current := func(role string) int64 {
		if m := tm.Snapshot.Signed.Meta[role+".json"]; m != nil {
			return min(m.Version, session.MaxHistory)
		}
		return 0
	}
	h := &history{c: c, get: get, name: name, host: host}
	trustedRoot := top.Chain[0].Signed.Version
	// every targets version, against the authenticated roots
	var parents, unverified, targets []session.Parent
	for v := int64(1); v <= current(metadata.TARGETS); v++ {
		md, e := h.role(metadata.TARGETS, v)
		if md != nil {
			targets = append(targets, session.Parent{Role: metadata.TARGETS, MD: md})
			e.SignedBy, e.VerifiedBy = session.VerifiedUnderRoots(md, roots)
			_, under := session.VerifiedUnderRoots(md, top.Unverified)
			switch {
			case e.VerifiedBy != "":
				parents = append(parents, session.Parent{Role: metadata.TARGETS, MD: md})
			case under != "":
				e.SignedBy, e.Unverified = nil, true
				e.Problem = fmt.Sprintf("signed under %s, older than the root this client trusts (v%d) and not one it holds, so it cannot be authenticated", under, trustedRoot)
				unverified = append(unverified, session.Parent{Role: metadata.TARGETS, MD: md})
				h.unverified = append(h.unverified, pendingVersion{len(h.entries), md})
			default:
				e.Problem = "its signatures do not meet the targets threshold of any root in the chain"
			}
		}
		h.add(e, md)
	}
	// then every version of the roles below that held it, breadth first
	// through the delegations the client follows (bins, roles delegated
	// by targets or by a bin), each against the verified versions of its
	// delegators
	done := map[string]bool{metadata.TARGETS: true}
	queue := h.holders(targets)
	for len(queue) > 0 && len(done) <= session.MaxRoles {
		role := queue[0]
		queue = queue[1:]
		if done[role] {
			continue
		}
		done[role] = true
		var read []session.Parent
		for v := int64(1); v <= current(role); v++ {
			md, e := h.role(role, v)
			if md != nil {
				read = append(read, session.Parent{Role: role, MD: md})
				e.SignedBy, e.VerifiedBy = session.VerifiedUnderDelegators(md, role, parents)
				_, under := session.VerifiedUnderDelegators(md, role, unverified)
				switch {
				case e.VerifiedBy != "":
					parents = append(parents, session.Parent{Role: role, MD: md})
				case under != "":
					e.SignedBy, e.Unverified = nil, true
					e.Problem = "signed under " + under + ", which cannot be authenticated"
					unverified = append(unverified, session.Parent{Role: role, MD: md})
					h.unverified = append(h.unverified, pendingVersion{len(h.entries), md})
				default:
					e.Problem = "its signatures do not meet the threshold of any delegation to " + role
				}
			}
			h.add(e, md)
		}
		queue = append(queue, h.holders(read)...)
	}
	if err := h.fromLog(ctx, tm.Root); err != nil {
		return nil, err
	}
	return h.entries, nil
}

// pendingVersion is a version that could not be authenticated by its
// signatures, for the log to vouch for: the entry it made and its
// metadata.
type pendingVersion struct {
	entry int
	md    *metadata.Metadata[metadata.TargetsType]
}

// fromLog marks each version whose key list the witnessed log holds, and
// authenticates by the log the versions signed under roots this client
// cannot authenticate: their key list, read and checked against the hash
// that the log's entry names, where the entry names the same role and
// version.
func (h *history) fromLog(ctx context.Context, root *metadata.Metadata[metadata.RootType]) error {
	policy, ok, err := translog.FromRootCustom(root.Signed.UnrecognizedFields)
	if err != nil || !ok {
		return err
	}
	fetch := session.NewLogFiles(h.get).Fetch
	raw, err := fetch(ctx, translog.CheckpointName, translog.MaxCheckpoint)
	if err != nil {
		return fmt.Errorf("root v%d names the transparency log %s: %w: %w", root.Signed.Version, policy.Origin, err, ErrNotLogged)
	}
	cp, err := translog.VerifyCheckpoint(policy, raw, h.c.refTime())
	if err != nil {
		return fmt.Errorf("%s: %w: %w", translog.CheckpointName, err, ErrNotLogged)
	}
	for i := range h.entries {
		e := &h.entries[i]
		if e.SHA256 == "" {
			continue
		}
		if _, index, err := translog.Lookup(ctx, fetch, cp, translog.Key{Registry: h.host, Role: e.Role, Version: e.Version, SHA256: e.SHA256}); err == nil {
			e.InLog, e.LogIndex = true, index
		}
	}
	for _, p := range h.unverified {
		e := &h.entries[p.entry]
		tf, ok := p.md.Signed.Targets[h.name]
		if !ok {
			continue
		}
		sum := hex.EncodeToString(tf.Hashes["sha256"])
		// the entry names this very role and version: an old list
		// replayed as a new version has none
		_, index, err := translog.Lookup(ctx, fetch, cp, translog.Key{Registry: h.host, Role: e.Role, Version: e.Version, SHA256: sum})
		if err != nil {
			continue
		}
		data, err := h.get(session.TargetFile(h.name, sum), session.LengthOr(tf.Length, bundle.MaxListBytes))
		if err != nil || tf.VerifyLengthHashes(data) != nil {
			continue
		}
		list, err := bundle.Parse(data)
		if err != nil {
			continue
		}
		e.Keys, e.SHA256, e.InLog, e.LogIndex = list.List.Keys, sum, true, index
		e.Unverified, e.Problem = false, ""
		e.VerifiedBy = fmt.Sprintf("the log %s (entry %d)", policy.Origin, index)
	}
	// the changes from version to version, now that more are known
	var prev *bundle.KeyList
	for i := range h.entries {
		if h.entries[i].Keys == nil {
			continue
		}
		cur := &bundle.KeyList{Keys: h.entries[i].Keys}
		h.entries[i].Diff = bundle.Compare(prev, cur)
		prev = cur
	}
	return nil
}

type history struct {
	c          *Client
	get        func(string, int64) ([]byte, error)
	name, host string
	entries    []HistoryEntry
	last       string
	prev       *bundle.KeyList
	unverified []pendingVersion
}

// role reads one version of a role; a version that is missing or not
// metadata is an entry with its problem.
func (h *history) role(role string, v int64) (*metadata.Metadata[metadata.TargetsType], HistoryEntry) {
	e := HistoryEntry{Role: role, Version: v}
	file := strconv.FormatInt(v, 10) + "." + role + ".json"
	data, err := h.get(file, targetsMax)
	if session.IsMissing(err) {
		e.Problem, e.Missing = file+" is not in this repository: a gap in its history, or a copy that holds current versions only", true
		return nil, e
	}
	if err != nil {
		e.Problem = "cannot read it: " + err.Error()
		return nil, e
	}
	md, err := metadata.Targets().FromBytes(data)
	if err != nil || md.Signed.Version != v {
		e.Problem = "it is not " + role + " metadata of that version"
		return nil, e
	}
	e.Expires = md.Signed.Expires
	return md, e
}

// add records an entry when its key list differs from the last one, or
// when it has a problem; metadata versions that carried the same list
// again add nothing.
func (h *history) add(e HistoryEntry, md *metadata.Metadata[metadata.TargetsType]) {
	if md != nil && e.Problem == "" {
		tf, ok := md.Signed.Targets[h.name]
		if !ok {
			return
		}
		sum := hex.EncodeToString(tf.Hashes["sha256"])
		if sum == h.last {
			return
		}
		e.SHA256 = sum
		data, err := h.get(session.TargetFile(h.name, sum), session.LengthOr(tf.Length, bundle.MaxListBytes))
		switch {
		case err != nil:
			e.Problem = "cannot read its key list: " + err.Error()
		case tf.VerifyLengthHashes(data) != nil:
			e.Problem = "its key list does not match the length and hash the metadata names: tampered or damaged"
		default:
			p, err := bundle.Parse(data)
			if err != nil {
				e.Problem = "its key list is not valid: " + err.Error()
				break
			}
			e.Keys = p.List.Keys
			e.Diff = bundle.Compare(h.prev, &p.List)
			h.prev, h.last = &p.List, sum
		}
	}
	if e.Problem != "" || e.SHA256 != "" {
		h.entries = append(h.entries, e)
	}
}

// holders are the roles the given versions delegate the registry's list
// to: its bin where they delegate to hashed bins, and every role whose
// delegated paths cover the list's name, as a client's lookup follows them.
func (h *history) holders(versions []session.Parent) []string {
	var out []string
	for _, p := range versions {
		d := p.MD.Signed.Delegations
		if d == nil {
			continue
		}
		if d.SuccinctRoles != nil {
			if bin := d.SuccinctRoles.GetRolesForTarget(h.name)[0].Name; !slices.Contains(out, bin) {
				out = append(out, bin)
			}
		}
		for _, r := range d.Roles {
			if ok, err := r.IsDelegatedPath(h.name); err == nil && ok && !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	return out
}
