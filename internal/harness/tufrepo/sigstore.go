package tufrepo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Shaped is a repository shaped as Sigstore's public-good one, built with
// go-tuf's metadata API alone (nothing of tufkeys' signer): five root and
// targets keyholders with a threshold of three, ECDSA P-256 keys in PEM
// form carrying tuf-on-ci's fields, an online key for snapshot and
// timestamp, and a terminating delegation named after a registry's host,
// to a key the registry's operator holds, that lists the host's keys.json
// in the Sigstore key-list form.
type Shaped struct {
	*Repo
	// Holders sign root and targets, Threshold of them at a time.
	Holders   []signature.Signer
	Threshold int
	Host      string
}

// tuf-on-ci's fields, as the public-good repository carries them.
const (
	fieldOwner     = "x-tuf-on-ci-keyowner"
	fieldOnlineURI = "x-tuf-on-ci-online-uri"
	fieldExpiry    = "x-tuf-on-ci-expiry-period"
	fieldSigning   = "x-tuf-on-ci-signing-period"
)

// NewShaped builds and publishes the repository in dir, as of now, with
// list as host's keys.json.
func NewShaped(dir string, now time.Time, host string, list []byte) (*Shaped, error) {
	expires := now.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	r := &Repo{Dir: dir, Expires: expires, Targets: map[string]*metadata.Metadata[metadata.TargetsType]{}, Signers: map[string][]signature.Signer{}}
	s := &Shaped{Repo: r, Threshold: 3, Host: host}
	r.Root = metadata.Root(expires)
	r.Root.Signed.ConsistentSnapshot = true
	r.Root.Signed.UnrecognizedFields = map[string]any{fieldExpiry: 365, fieldSigning: 60}
	for i := range 5 {
		signer, key, err := pemKey(map[string]any{fieldOwner: fmt.Sprintf("@holder%d", i+1)})
		if err != nil {
			return nil, err
		}
		s.Holders = append(s.Holders, signer)
		for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
			if err := r.Root.Signed.AddKey(key, role); err != nil {
				return nil, err
			}
		}
	}
	r.Root.Signed.Roles[metadata.ROOT].Threshold, r.Root.Signed.Roles[metadata.TARGETS].Threshold = 3, 3
	r.Signers[metadata.ROOT], r.Signers[metadata.TARGETS] = s.Holders[:3], s.Holders[:3]
	online, key, err := pemKey(map[string]any{fieldOnlineURI: "gcpkms:projects/example/locations/global/keyRings/root/cryptoKeys/timestamp/cryptoKeyVersions/1"})
	if err != nil {
		return nil, err
	}
	for _, role := range []string{metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := r.Root.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
		r.Signers[role] = []signature.Signer{online}
	}
	top := metadata.Targets(expires)
	top.Signed.UnrecognizedFields = map[string]any{fieldExpiry: 365, fieldSigning: 60}
	r.Targets[metadata.TARGETS] = top
	// the registry's role: named after its host, all its paths, terminating,
	// signed by the operator's online key alone
	operator, opKey, err := pemKey(map[string]any{fieldOnlineURI: "awskms:///arn:aws:kms:us-east-1:000000000000:key/operator"})
	if err != nil {
		return nil, err
	}
	top.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	top.Signed.Delegations.Roles = []metadata.DelegatedRole{{Name: host, Threshold: 1, Terminating: true, Paths: []string{host + "/*"}, KeyIDs: []string{}}}
	if err := top.Signed.AddKey(opKey, host); err != nil {
		return nil, err
	}
	r.Signers[host] = []signature.Signer{operator}
	r.Targets[host] = metadata.Targets(now.Add(182 * 24 * time.Hour).UTC().Truncate(time.Second))
	r.Targets[host].Signed.UnrecognizedFields = map[string]any{fieldExpiry: 182, fieldSigning: 30}
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, err
	}
	r.Snapshot, r.Timestamp = metadata.Snapshot(expires), metadata.Timestamp(expires)
	if err := r.writeRoot(); err != nil {
		return nil, err
	}
	if err := r.AddTarget(host, host+"/keys.json", list); err != nil {
		return nil, err
	}
	return s, r.Publish(metadata.TARGETS, host)
}

// pemKey is a new ECDSA P-256 key in the PEM form tuf-on-ci writes, with
// fields added after its keyid is taken from the bare key, as go-tuf
// signs.
func pemKey(fields map[string]any) (signature.Signer, *metadata.Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	s, err := signature.LoadSigner(priv, crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	// go-tuf keeps the keyid it computes first: that of the bare key
	if _, err := key.ID(); err != nil {
		return nil, nil, err
	}
	key.UnrecognizedFields = fields
	return s, key, nil
}

// RotateRoot publishes the next root with two of the five keyholders
// replaced by new ones, signed by the old threshold and the new, and
// targets signed again by the new holders.
func (s *Shaped) RotateRoot() error {
	old := slices.Clone(s.Holders[:s.Threshold])
	for i := range 2 {
		leaving := s.Holders[i]
		pub, _ := leaving.PublicKey()
		k, _ := metadata.KeyFromPublicKey(pub)
		id, _ := k.ID()
		for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
			if err := s.Root.Signed.RevokeKey(id, role); err != nil {
				return err
			}
		}
		signer, key, err := pemKey(map[string]any{fieldOwner: fmt.Sprintf("@new%d", i+1)})
		if err != nil {
			return err
		}
		for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
			if err := s.Root.Signed.AddKey(key, role); err != nil {
				return err
			}
		}
		s.Holders[i] = signer
	}
	s.Signers[metadata.ROOT], s.Signers[metadata.TARGETS] = s.Holders[:s.Threshold], s.Holders[:s.Threshold]
	s.Root.Signed.Version++
	if err := s.writeRoot(old...); err != nil {
		return err
	}
	// the targets keys changed with root's: the new holders sign targets
	return s.Publish(metadata.TARGETS)
}
