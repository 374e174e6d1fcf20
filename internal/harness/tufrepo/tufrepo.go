// Package tufrepo builds plain TUF repositories in a directory for tests:
// any target path, delegations of any shape, and files a test may then
// break on purpose. Each role has one Ed25519 key; every file is signed and
// written as a consistent-snapshot repository, with the metadata at the
// top and the targets under targets/.
package tufrepo

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Repo is a repository being built.
type Repo struct {
	Dir       string
	Expires   time.Time
	Root      *metadata.Metadata[metadata.RootType]
	Timestamp *metadata.Metadata[metadata.TimestampType]
	Snapshot  *metadata.Metadata[metadata.SnapshotType]
	Targets   map[string]*metadata.Metadata[metadata.TargetsType]
	// Signers sign each role; a test may remove one to publish a role
	// that does not verify.
	Signers map[string][]signature.Signer
}

// New makes root v1 with one key per top-level role, empty targets, and
// publishes it.
func New(dir string, now time.Time) (*Repo, error) {
	r := &Repo{
		Dir:     dir,
		Expires: now.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second),
		Targets: map[string]*metadata.Metadata[metadata.TargetsType]{},
		Signers: map[string][]signature.Signer{},
	}
	r.Root = metadata.Root(r.Expires)
	for _, role := range []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		key, err := r.newKey(role)
		if err != nil {
			return nil, err
		}
		if err := r.Root.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
	}
	r.Targets[metadata.TARGETS] = metadata.Targets(r.Expires)
	r.Snapshot = metadata.Snapshot(r.Expires)
	r.Timestamp = metadata.Timestamp(r.Expires)
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, err
	}
	if err := r.writeRoot(); err != nil {
		return nil, err
	}
	return r, r.Publish(metadata.TARGETS)
}

func (r *Repo) newKey(role string) (*metadata.Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	r.Signers[role] = append(r.Signers[role], s)
	return metadata.KeyFromPublicKey(pub)
}

// RootBytes reads a published root.
func (r *Repo) RootBytes(v int64) ([]byte, error) {
	return os.ReadFile(filepath.Join(r.Dir, strconv.FormatInt(v, 10)+".root.json"))
}

// RotateKeys gives a top-level role a new key in place of its old ones
// and publishes the next root, signed by the old and the new root keys.
func (r *Repo) RotateKeys(role string) error {
	old := r.Signers[metadata.ROOT]
	for _, id := range r.Root.Signed.Roles[role].KeyIDs {
		if err := r.Root.Signed.RevokeKey(id, role); err != nil {
			return err
		}
	}
	r.Signers[role] = nil
	key, err := r.newKey(role)
	if err != nil {
		return err
	}
	if err := r.Root.Signed.AddKey(key, role); err != nil {
		return err
	}
	r.Root.Signed.Version++
	return r.writeRoot(old...)
}

func (r *Repo) writeRoot(extra ...signature.Signer) error {
	r.Root.ClearSignatures()
	signers := append(append([]signature.Signer{}, extra...), r.Signers[metadata.ROOT]...)
	seen := map[string]bool{}
	for _, s := range signers {
		pub, _ := s.PublicKey()
		k, _ := metadata.KeyFromPublicKey(pub)
		id, _ := k.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := r.Root.Sign(s); err != nil {
			return err
		}
	}
	data, err := r.Root.ToBytes(true)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Dir, strconv.FormatInt(r.Root.Signed.Version, 10)+".root.json"), data, 0o644)
}

// AddTarget puts a target file under a targets role; Publish makes it
// visible.
func (r *Repo) AddTarget(role, targetPath string, data []byte) error {
	tf, err := metadata.TargetFile().FromBytes(targetPath, data, "sha256")
	if err != nil {
		return err
	}
	r.Targets[role].Signed.Targets[targetPath] = tf
	dir, base := path.Split(targetPath)
	p := filepath.Join(r.Dir, "targets", filepath.FromSlash(dir), hex.EncodeToString(tf.Hashes["sha256"])+"."+base)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// Delegate makes delegator delegate paths to a role with a new key of its
// own; a role delegated twice gets a second key from the second delegator.
func (r *Repo) Delegate(delegator, role string, paths []string) error {
	d := r.Targets[delegator]
	if d.Signed.Delegations == nil {
		d.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	}
	d.Signed.Delegations.Roles = append(d.Signed.Delegations.Roles, metadata.DelegatedRole{Name: role, Threshold: 1, Paths: paths, KeyIDs: []string{}})
	key, err := r.newKey(role)
	if err != nil {
		return err
	}
	if err := d.Signed.AddKey(key, role); err != nil {
		return err
	}
	if _, ok := r.Targets[role]; !ok {
		r.Targets[role] = metadata.Targets(r.Expires)
	}
	return nil
}

// Publish bumps, signs and writes the targets roles named, then a new
// snapshot and timestamp naming them.
func (r *Repo) Publish(roles ...string) error {
	for _, role := range roles {
		md := r.Targets[role]
		if _, err := os.Stat(r.rolePath(role, md.Signed.Version)); err == nil {
			md.Signed.Version++
		}
		if err := sign(md, r.Signers[role]); err != nil {
			return err
		}
		data, err := md.ToBytes(true)
		if err != nil {
			return err
		}
		if err := os.WriteFile(r.rolePath(role, md.Signed.Version), data, 0o644); err != nil {
			return err
		}
	}
	for role, md := range r.Targets {
		r.Snapshot.Signed.Meta[role+".json"] = metadata.MetaFile(md.Signed.Version)
	}
	return r.PublishSnapshot()
}

// PublishSnapshot bumps, signs and writes the snapshot and the timestamp.
func (r *Repo) PublishSnapshot() error {
	if _, err := os.Stat(r.rolePath(metadata.SNAPSHOT, r.Snapshot.Signed.Version)); err == nil {
		r.Snapshot.Signed.Version++
	}
	if err := sign(r.Snapshot, r.Signers[metadata.SNAPSHOT]); err != nil {
		return err
	}
	data, err := r.Snapshot.ToBytes(true)
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.rolePath(metadata.SNAPSHOT, r.Snapshot.Signed.Version), data, 0o644); err != nil {
		return err
	}
	r.Timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.Snapshot.Signed.Version)
	return r.PublishTimestamp()
}

// PublishTimestamp bumps, signs and writes the timestamp alone.
func (r *Repo) PublishTimestamp() error {
	if _, err := os.Stat(filepath.Join(r.Dir, "timestamp.json")); err == nil {
		r.Timestamp.Signed.Version++
	}
	if err := sign(r.Timestamp, r.Signers[metadata.TIMESTAMP]); err != nil {
		return err
	}
	data, err := r.Timestamp.ToBytes(true)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Dir, "timestamp.json"), data, 0o644)
}

func (r *Repo) rolePath(role string, v int64) string {
	return filepath.Join(r.Dir, fmt.Sprintf("%d.%s.json", v, url.PathEscape(role)))
}

func sign[T metadata.Roles](md *metadata.Metadata[T], signers []signature.Signer) error {
	md.ClearSignatures()
	for _, s := range signers {
		if _, err := md.Sign(s); err != nil {
			return err
		}
	}
	return nil
}
