package client

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
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
}

// maxHistory bounds the versions of one role that History reads.
const maxHistory = 10000

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
	f := newFetcher(ctx, c, repo)
	f.sequential = true
	if err := f.openArchive(); err != nil {
		return nil, err
	}
	get := func(file string, max int64) ([]byte, error) {
		data, err := f.download(f.url(file), max)
		if err != nil {
			return nil, explain(repo, file, err)
		}
		return data, nil
	}
	// the root chain, and the current snapshot, verified as a client does
	top, err := c.topLevel(repo, f, get)
	if err != nil {
		return nil, err
	}
	tm := top.tm
	var roots []*metadata.Metadata[metadata.RootType]
	for _, data := range top.roots[:len(top.roots)-len(top.chain)] {
		md, err := metadata.Root().FromBytes(data)
		if err != nil {
			return nil, err
		}
		roots = append(roots, md)
	}
	roots = append(roots, top.chain...)
	current := func(role string) int64 {
		if m := tm.Snapshot.Signed.Meta[role+".json"]; m != nil {
			return min(m.Version, maxHistory)
		}
		return 0
	}
	h := &history{c: c, get: get, name: name, host: host}
	// every targets version, against the root chain
	var targets []parent
	for v := int64(1); v <= current(metadata.TARGETS); v++ {
		md, e := h.role(metadata.TARGETS, v)
		if md != nil {
			e.SignedBy, e.VerifiedBy = verifiedUnderRoots(md, roots)
			if e.VerifiedBy == "" {
				e.Problem = "its signatures do not meet the targets threshold of any root in the chain"
			} else {
				targets = append(targets, parent{metadata.TARGETS, md})
			}
		}
		h.add(e, md)
	}
	// then every version of the bins and delegated roles that held it,
	// against the verified delegations that sign them: a bin under some
	// targets version, the registry's role under targets or a bin
	parents := slices.Clone(targets)
	for _, role := range h.holders(targets) {
		for v := int64(1); v <= current(role); v++ {
			md, e := h.role(role, v)
			if md != nil {
				e.SignedBy, e.VerifiedBy = verifiedUnderDelegators(md, role, parents)
				if e.VerifiedBy == "" {
					e.Problem = "its signatures do not meet the threshold of any delegation to " + role
				} else {
					parents = append(parents, parent{role, md})
				}
			}
			h.add(e, md)
		}
	}
	return h.entries, nil
}

// parent is a verified version of a role that may delegate.
type parent struct {
	role string
	md   *metadata.Metadata[metadata.TargetsType]
}

type history struct {
	c          *Client
	get        func(string, int64) ([]byte, error)
	name, host string
	entries    []HistoryEntry
	last       string
	prev       *bundle.KeyList
}

// role reads one version of a role; a version that is missing or not
// metadata is an entry with its problem.
func (h *history) role(role string, v int64) (*metadata.Metadata[metadata.TargetsType], HistoryEntry) {
	e := HistoryEntry{Role: role, Version: v}
	file := strconv.FormatInt(v, 10) + "." + role + ".json"
	data, err := h.get(file, targetsMax)
	if isMissing(err) {
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
		dir, base := path.Split(h.name)
		data, err := h.get("targets/"+dir+sum+"."+base, lengthOr(tf.Length, bundle.MaxListBytes))
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

// holders are the roles besides targets that ever held the registry's
// list: its bin in any version of targets that delegates to bins, and the
// registry's own role wherever it is delegated.
func (h *history) holders(targets []parent) []string {
	var out []string
	for _, p := range targets {
		d := p.md.Signed.Delegations
		if d == nil {
			continue
		}
		if d.SuccinctRoles != nil {
			if bin := d.SuccinctRoles.GetRolesForTarget(h.name)[0].Name; !slices.Contains(out, bin) {
				out = append(out, bin)
			}
		}
		for _, r := range d.Roles {
			if r.Name == h.host && !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// verifiedUnderRoots names the roots whose targets keys sign md: the
// repository records no date, so the roots that would accept it are what
// the history can show; the signers are counted under the newest.
func verifiedUnderRoots(md *metadata.Metadata[metadata.TargetsType], roots []*metadata.Metadata[metadata.RootType]) ([]string, string) {
	var versions []int64
	var signed []string
	for _, r := range roots {
		if r.VerifyDelegate(metadata.TARGETS, md) == nil {
			versions = append(versions, r.Signed.Version)
			signed = signers(md, r.Signed.Roles[metadata.TARGETS].KeyIDs, r.Signed.Keys)
		}
	}
	switch {
	case len(versions) == 0:
		return nil, ""
	case len(versions) == 1:
		return signed, fmt.Sprintf("root v%d", versions[0])
	case versions[len(versions)-1]-versions[0] == int64(len(versions)-1):
		return signed, fmt.Sprintf("roots v%d–v%d", versions[0], versions[len(versions)-1])
	}
	names := make([]string, len(versions))
	for i, v := range versions {
		names[i] = "v" + strconv.FormatInt(v, 10)
	}
	return signed, "roots " + strings.Join(names, ", ")
}

// verifiedUnderDelegators finds the newest verified delegator version
// whose delegation to role signs md.
func verifiedUnderDelegators(md *metadata.Metadata[metadata.TargetsType], role string, parents []parent) ([]string, string) {
	for i := len(parents) - 1; i >= 0; i-- {
		p := parents[i]
		d := p.md.Signed.Delegations
		if d == nil || p.md.VerifyDelegate(role, md) != nil {
			continue
		}
		var ids []string
		if d.SuccinctRoles != nil && d.SuccinctRoles.IsDelegatedRole(role) {
			ids = d.SuccinctRoles.KeyIDs
		}
		for _, r := range d.Roles {
			if r.Name == role {
				ids = r.KeyIDs
			}
		}
		return signers(md, ids, d.Keys), fmt.Sprintf("%s v%d", p.role, p.md.Signed.Version)
	}
	return nil, ""
}

// signers are the keyids among ids whose signature over md verifies.
func signers(md *metadata.Metadata[metadata.TargetsType], ids []string, keys map[string]*metadata.Key) []string {
	payload, err := cjson.EncodeCanonical(md.Signed)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range md.Signatures {
		k, ok := keys[s.KeyID]
		if !ok || !slices.Contains(ids, s.KeyID) || slices.Contains(out, s.KeyID) {
			continue
		}
		pub, err := k.ToPublicKey()
		if err != nil {
			continue
		}
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			continue
		}
		if v.VerifySignature(bytes.NewReader(s.Signature), bytes.NewReader(payload)) == nil {
			out = append(out, s.KeyID)
		}
	}
	return out
}
