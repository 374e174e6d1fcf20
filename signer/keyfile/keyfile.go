// Package keyfile creates and opens the maintainers' key files: a private
// key encrypted at rest in cosign's format (scrypt and NaCl secretbox over
// PKCS #8, PEM type "ENCRYPTED SIGSTORE PRIVATE KEY"), so existing cosign
// keys work too, and its public key in PEM.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package keyfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/internal/safefile"
)

// Key types a maintainer may generate.
const (
	TypeECDSAP256 = "ecdsa-p256"
	TypeEd25519   = "ed25519"
)

const (
	pemEncrypted       = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemEncryptedCosign = "ENCRYPTED COSIGN PRIVATE KEY" // cosign before 2.0
	pemPublic          = "PUBLIC KEY"
	maxKeyFile         = 64 << 10
)

var (
	// ErrWrongPassphrase marks a key file that the passphrase does not open.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrNotAKey marks a file that holds no key tufkeys can use.
	ErrNotAKey = errors.New("not a key file")
	// ErrUnencrypted marks a private key stored unencrypted; it is also
	// an ErrNotAKey.
	ErrUnencrypted = fmt.Errorf("an unencrypted private key: %w", ErrNotAKey)
	// ErrNoKeyFile marks a key file that does not exist.
	ErrNoKeyFile = errors.New("no such key file")
	// ErrKeyExists marks a key generation that would replace a file.
	ErrKeyExists = errors.New("the key file exists")
)

// Passphrase supplies the passphrase for a key file; confirm asks for it
// twice, when a new key is being encrypted.
type Passphrase func(confirm bool) ([]byte, error)

// Generated names the files Generate wrote.
type Generated struct {
	PrivatePath string
	PublicPath  string
	KeyID       string // the TUF keyid of the public key
}

// Generate creates a key pair and writes NAME.key (encrypted) and NAME.pub.
// It refuses to overwrite either file: a lost private key cannot be undone.
func Generate(name, keyType string, pass Passphrase) (Generated, error) {
	return generate(name, keyType, pass, encrypted.Standard)
}

func generate(name, keyType string, pass Passphrase, kdf encrypted.KDFParameterStrength) (Generated, error) {
	g := Generated{PrivatePath: name + ".key", PublicPath: name + ".pub"}
	for _, p := range []string{g.PrivatePath, g.PublicPath} {
		if _, err := os.Lstat(p); err == nil {
			return g, fmt.Errorf("%s already exists: %w", p, ErrKeyExists)
		}
	}
	var priv crypto.Signer
	var err error
	switch keyType {
	case TypeECDSAP256, "":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case TypeEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return g, fmt.Errorf("key type %q is not supported: use %s or %s", keyType, TypeECDSAP256, TypeEd25519)
	}
	if err != nil {
		return g, fmt.Errorf("generate key: %w", err)
	}
	passphrase, err := pass(true)
	if err != nil {
		return g, err
	}
	if len(passphrase) == 0 {
		return g, errors.New("the passphrase is empty: a key file must be encrypted, so choose a passphrase")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return g, fmt.Errorf("encode private key: %w", err)
	}
	sealed, err := encrypted.EncryptWithCustomKDFParameters(der, passphrase, kdf)
	if err != nil {
		return g, fmt.Errorf("encrypt private key: %w", err)
	}
	pubPEM, err := EncodePublic(priv.Public())
	if err != nil {
		return g, err
	}
	if g.KeyID, err = KeyID(priv.Public()); err != nil {
		return g, err
	}
	if err := safefile.Write(g.PrivatePath, pem.EncodeToMemory(&pem.Block{Type: pemEncrypted, Bytes: sealed}), 0o600); err != nil {
		return g, err
	}
	if err := safefile.Write(g.PublicPath, pubPEM, 0o644); err != nil {
		os.Remove(g.PrivatePath)
		return g, err
	}
	return g, nil
}

// EncodePublic writes a public key as PEM.
func EncodePublic(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// KeyID is the TUF keyid of a public key: the SHA-256 of its canonical
// TUF key object.
func KeyID(pub crypto.PublicKey) (string, error) {
	k, err := TUFKey(pub)
	if err != nil {
		return "", err
	}
	return k.ID()
}

// TUFKey turns a public key into a TUF key entry, refusing types that
// tufkeys does not sign with.
func TUFKey(pub crypto.PublicKey) (*metadata.Key, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key on %s: only P-256 is supported: %w", p.Curve.Params().Name, ErrNotAKey)
		}
	case ed25519.PublicKey:
	default:
		return nil, marked.Errorf(ErrNotAKey, "%T: only ECDSA P-256 and Ed25519 keys are supported", pub)
	}
	return metadata.KeyFromPublicKey(pub)
}

// ReadPublic reads a PEM public key file.
func ReadPublic(path string) (crypto.PublicKey, error) {
	data, err := safefile.Read(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	return ParsePublic(path, data)
}

// ParsePublic parses PEM public key bytes; name is used in errors.
func ParsePublic(name string, data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemPublic {
		if block != nil && strings.Contains(block.Type, "PRIVATE") {
			return nil, marked.Errorf(ErrNotAKey, "%s is a private key: pass the .pub file, and keep the private key to yourself", name)
		}
		return nil, marked.Errorf(ErrNotAKey, "%s is not a PEM public key", name)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, marked.Errorf(ErrNotAKey, "%s holds an unreadable public key", name)
	}
	if _, err := TUFKey(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return pub, nil
}

// Signer is an opened private key, ready to sign metadata.
type Signer struct {
	signature.Signer
	KeyID  string
	Public crypto.PublicKey
	Name   string // the file's base name without extension, for messages
}

// Open decrypts a private key file with the passphrase.
func Open(path string, pass Passphrase) (*Signer, error) {
	data, err := safefile.Read(path, maxKeyFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("key file %s does not exist: %w", path, ErrNoKeyFile)
		}
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, marked.Errorf(ErrNotAKey, "%s is not a PEM key file", path)
	}
	switch block.Type {
	case pemEncrypted, pemEncryptedCosign:
	case "PRIVATE KEY", "EC PRIVATE KEY":
		return nil, marked.Errorf(ErrUnencrypted, "%s holds an unencrypted private key, and tufkeys only uses keys encrypted at rest", path)
	case pemPublic:
		return nil, marked.Errorf(ErrNotAKey, "%s is a public key: pass the private .key file", path)
	default:
		return nil, marked.Errorf(ErrNotAKey, "%s holds a PEM %q block, not an encrypted private key", path, block.Type)
	}
	passphrase, err := pass(false)
	if err != nil {
		return nil, err
	}
	der, err := encrypted.Decrypt(block.Bytes, passphrase)
	if err != nil {
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("the passphrase does not open %s: check TUFKEYS_PASSPHRASE or retype it: %w", path, ErrWrongPassphrase)
		}
		return nil, marked.Errorf(ErrNotAKey, "%s is not a readable encrypted key (%v)", path, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, marked.Errorf(ErrNotAKey, "%s decrypts to something that is not a PKCS #8 private key", path)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, marked.Errorf(ErrNotAKey, "%s holds a key that cannot sign", path)
	}
	return NewSigner(priv, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
}

// NewSigner wraps a private key for signing TUF metadata.
func NewSigner(priv crypto.Signer, name string) (*Signer, error) {
	id, err := KeyID(priv.Public())
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadSigner(priv, crypto.SHA256)
	if err != nil {
		// a key held elsewhere (a KMS, a token): it signs a digest
		if _, ok := priv.Public().(*ecdsa.PublicKey); !ok {
			return nil, marked.Errorf(ErrNotAKey, "%s: a key held outside a file must be ECDSA P-256 here", name)
		}
		s = remoteSigner{priv}
	}
	return &Signer{Signer: s, KeyID: id, Public: priv.Public(), Name: name}, nil
}

// remoteSigner signs TUF metadata with a crypto.Signer whose private key
// this process never holds: ECDSA P-256 over SHA-256, the signature in DER,
// as TUF's ecdsa-sha2-nistp256 scheme takes it.
type remoteSigner struct{ crypto.Signer }

func (r remoteSigner) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return r.Signer.Public(), nil
}

func (r remoteSigner) SignMessage(message io.Reader, _ ...signature.SignOption) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, err
	}
	return r.Signer.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
}
