package session

import (
	"bytes"
	"crypto"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Parent is a verified version of a role that may delegate.
type Parent struct {
	Role string
	MD   *metadata.Metadata[metadata.TargetsType]
}

// VerifiedUnderRoots names the roots whose targets keys sign md: the
// repository records no date, so the roots that would accept it are what
// the history can show; the signers are counted under the newest.
func VerifiedUnderRoots(md *metadata.Metadata[metadata.TargetsType], roots []*metadata.Metadata[metadata.RootType]) ([]string, string) {
	var versions []int64
	var signed []string
	for _, r := range roots {
		if r.VerifyDelegate(metadata.TARGETS, md) == nil {
			versions = append(versions, r.Signed.Version)
			signed = signers(md, r.Signed.Roles[metadata.TARGETS].KeyIDs, r.Signed.Keys)
		}
	}
	if len(versions) == 0 {
		return nil, ""
	}
	if len(versions) == 1 {
		return signed, versionsLabel("root", versions)
	}
	return signed, versionsLabel("roots", versions)
}

// versionsLabel names the versions of a role that authorize an entry, in
// one form for roots and delegators alike, oldest first: "targets v3",
// "roots v1–v3", "targets v1, v4".
func versionsLabel(role string, versions []int64) string {
	switch {
	case len(versions) == 1:
		return fmt.Sprintf("%s v%d", role, versions[0])
	case versions[len(versions)-1]-versions[0] == int64(len(versions)-1):
		return fmt.Sprintf("%s v%d–v%d", role, versions[0], versions[len(versions)-1])
	}
	names := make([]string, len(versions))
	for i, v := range versions {
		names[i] = "v" + strconv.FormatInt(v, 10)
	}
	return role + " " + strings.Join(names, ", ")
}

// VerifiedUnderDelegators finds the verified delegator versions whose
// delegation to role signs md; the signers are those the newest of them
// names.
func VerifiedUnderDelegators(md *metadata.Metadata[metadata.TargetsType], role string, parents []Parent) ([]string, string) {
	type match struct {
		role    string
		version int64
	}
	var matches []match
	var signed []string
	name := ""
	for _, p := range parents {
		d := p.MD.Signed.Delegations
		if d == nil || p.MD.VerifyDelegate(role, md) != nil {
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
		matches = append(matches, match{p.Role, p.MD.Signed.Version})
		signed, name = signers(md, ids, d.Keys), p.Role
	}
	// the versions of the newest delegator that signs it (a bin's list is
	// delegated by targets only, a registry's own role perhaps by a bin)
	var versions []int64
	for _, m := range matches {
		if m.role == name {
			versions = append(versions, m.version)
		}
	}
	if len(versions) == 0 {
		return nil, ""
	}
	slices.Sort(versions)
	return signed, versionsLabel(name, versions)
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
