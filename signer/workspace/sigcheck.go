package workspace

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// requirement is one threshold that a staged role must meet. A new root
// has two: the old root's and its own.
type requirement struct {
	label     string
	keyIDs    []string
	threshold int
	keys      map[string]*metadata.Key
}

// requirements lists the thresholds a staged role must meet to publish.
func (s *State) requirements(role string) ([]requirement, error) {
	switch role {
	case metadata.ROOT:
		next := s.Staged.Root
		if next == nil {
			return nil, fmt.Errorf("no root is staged")
		}
		newReq, err := rootRequirement(next, metadata.ROOT, fmt.Sprintf("new root v%d", next.Signed.Version))
		if err != nil {
			return nil, err
		}
		prev := s.Published.Root()
		if prev == nil {
			newReq.label = ""
			return []requirement{newReq}, nil
		}
		oldReq, err := rootRequirement(prev, metadata.ROOT, fmt.Sprintf("old root v%d", prev.Signed.Version))
		if err != nil {
			return nil, err
		}
		return []requirement{oldReq, newReq}, nil
	case metadata.TARGETS:
		root := s.RootInEffect()
		if root == nil {
			return nil, fmt.Errorf("no root is staged or published: %w", ErrUninitialized)
		}
		req, err := rootRequirement(root, metadata.TARGETS, "")
		return []requirement{req}, err
	default:
		parent := s.TargetsInEffect()
		if parent == nil || parent.Signed.Delegations == nil {
			return nil, fmt.Errorf("role %s is not delegated by targets", role)
		}
		if b := parent.Signed.Delegations.SuccinctRoles; b != nil {
			if b.IsDelegatedRole(role) {
				return []requirement{{keyIDs: b.KeyIDs, threshold: b.Threshold, keys: parent.Signed.Delegations.Keys}}, nil
			}
			// a registry delegated from its bin
			if parent = s.roleInEffect(binOf(b, role+"/keys.json")); parent == nil || parent.Signed.Delegations == nil {
				return nil, fmt.Errorf("role %s is not delegated by its bin", role)
			}
		}
		for _, d := range parent.Signed.Delegations.Roles {
			if d.Name == role {
				return []requirement{{keyIDs: d.KeyIDs, threshold: d.Threshold, keys: parent.Signed.Delegations.Keys}}, nil
			}
		}
		return nil, fmt.Errorf("role %s is not delegated by targets", role)
	}
}

func rootRequirement(root *rootMD, role, label string) (requirement, error) {
	r, ok := root.Signed.Roles[role]
	if !ok {
		return requirement{}, fmt.Errorf("root v%d has no %s role", root.Signed.Version, role)
	}
	return requirement{label: label, keyIDs: r.KeyIDs, threshold: r.Threshold, keys: root.Signed.Keys}, nil
}

// canonical is the byte string a role's signatures cover.
func canonical(md any) ([]byte, error) {
	var signed any
	switch m := md.(type) {
	case *rootMD:
		signed = m.Signed
	case *targetsMD:
		signed = m.Signed
	case *snapshotMD:
		signed = m.Signed
	case *timestampMD:
		signed = m.Signed
	default:
		return nil, fmt.Errorf("cannot sign %T", md)
	}
	return cjson.EncodeCanonical(signed)
}

// verifySignature checks one signature the way TUF clients do.
func verifySignature(key *metadata.Key, payload, sig []byte) bool {
	pub, err := key.ToPublicKey()
	if err != nil {
		return false
	}
	hash := crypto.SHA256
	if _, ok := pub.(ed25519.PublicKey); ok {
		hash = crypto.Hash(0)
	}
	v, err := signature.LoadVerifier(pub, hash)
	if err != nil {
		return false
	}
	return v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil
}

// Threshold is one threshold of a staged role and how far it is met.
type Threshold struct {
	Label     string // "old root v1", "new root v2", or empty
	Threshold int
	Signed    []KeyName
	Missing   []KeyName
}

// Met reports whether enough keys signed.
func (t Threshold) Met() bool { return len(t.Signed) >= t.Threshold }

// RoleCheck is a staged role's signature count.
type RoleCheck struct {
	Role       string
	Version    int64
	Expires    time.Time
	Thresholds []Threshold
	// Invalid lists signature files that do not verify over the staged
	// bytes: the file changed after they were made, or they are forged.
	Invalid []KeyName
}

// Ready reports whether every threshold is met.
func (c RoleCheck) Ready() bool {
	for _, t := range c.Thresholds {
		if !t.Met() {
			return false
		}
	}
	return true
}

// MissingSigners lists, once each, the keys that could still sign.
func (c RoleCheck) MissingSigners() []KeyName {
	seen := map[string]bool{}
	var out []KeyName
	for _, t := range c.Thresholds {
		if t.Met() {
			continue
		}
		for _, k := range t.Missing {
			if !seen[k.ID] {
				seen[k.ID] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// Line is the one-line summary the CLI prints, e.g.
// "targets v3: 2 of 2 signatures — ready to publish".
func (c RoleCheck) Line() string {
	var parts []string
	for _, t := range c.Thresholds {
		p := fmt.Sprintf("%d of %d signatures", len(t.Signed), t.Threshold)
		if len(t.Signed) > t.Threshold {
			// "3 of 2" reads as a miscount
			p = fmt.Sprintf("%d signatures, %d needed", len(t.Signed), t.Threshold)
		}
		if t.Label != "" {
			p = t.Label + " " + p
		}
		parts = append(parts, p)
	}
	line := fmt.Sprintf("%s v%d: %s", c.Role, c.Version, strings.Join(parts, ", "))
	if c.Ready() {
		line += " — ready to publish"
	} else {
		line += " — waiting for " + joinRefs(c.MissingSigners())
	}
	if len(c.Invalid) > 0 {
		line += fmt.Sprintf("; ignored signatures that do not match the staged file: %s", joinRefs(c.Invalid))
	}
	return line
}

// checkRole counts the valid signatures of a staged role and returns them,
// ready to attach.
func (w *Workspace) checkRole(st *State, role string, names map[string]string) (RoleCheck, []metadata.Signature, error) {
	md, version, expires := st.stagedRole(role)
	if md == nil {
		return RoleCheck{}, nil, fmt.Errorf("%s is not staged", role)
	}
	reqs, err := st.requirements(role)
	if err != nil {
		return RoleCheck{}, nil, err
	}
	payload, err := canonical(md)
	if err != nil {
		return RoleCheck{}, nil, err
	}
	check := RoleCheck{Role: role, Version: version, Expires: expires}
	valid := map[string]bool{}
	var sigs []metadata.Signature
	for _, id := range slices.Sorted(maps.Keys(st.Staged.Signatures[role])) {
		sig := st.Staged.Signatures[role][id]
		key := findKey(reqs, id)
		if key == nil || !verifySignature(key, payload, sig) {
			check.Invalid = append(check.Invalid, KeyName{ID: id, Name: names[id]})
			continue
		}
		valid[id] = true
		sigs = append(sigs, metadata.Signature{KeyID: id, Signature: sig})
	}
	for _, r := range reqs {
		t := Threshold{Label: r.label, Threshold: r.threshold}
		for _, id := range r.keyIDs {
			ref := KeyName{ID: id, Name: names[id]}
			if valid[id] {
				t.Signed = append(t.Signed, ref)
			} else {
				t.Missing = append(t.Missing, ref)
			}
		}
		check.Thresholds = append(check.Thresholds, t)
	}
	return check, sigs, nil
}

func findKey(reqs []requirement, id string) *metadata.Key {
	for _, r := range reqs {
		for _, k := range r.keyIDs {
			if k == id {
				return r.keys[id]
			}
		}
	}
	return nil
}

// stagedRole returns a staged role's metadata, version and expiry.
func (s *State) stagedRole(role string) (any, int64, time.Time) {
	switch role {
	case metadata.ROOT:
		if s.Staged.Root != nil {
			return s.Staged.Root, s.Staged.Root.Signed.Version, s.Staged.Root.Signed.Expires
		}
	case metadata.TARGETS:
		if s.Staged.Targets != nil {
			return s.Staged.Targets, s.Staged.Targets.Signed.Version, s.Staged.Targets.Signed.Expires
		}
	default:
		if md, ok := s.Staged.Delegated[role]; ok {
			return md, md.Signed.Version, md.Signed.Expires
		}
	}
	return nil, 0, time.Time{}
}
