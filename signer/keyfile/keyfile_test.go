package keyfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

func TestGenerateAndOpen(t *testing.T) {
	for _, typ := range []string{TypeECDSAP256, TypeEd25519} {
		t.Run(typ, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "alice")
			g, err := generate(name, typ, StaticPassphrase("correct horse"), encrypted.Legacy)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := os.ReadFile(g.PrivatePath)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(priv), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
				t.Errorf("private key file is not in cosign's encrypted format:\n%s", priv)
			}
			if fi, _ := os.Stat(g.PrivatePath); fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
			}
			pub, err := ReadPublic(g.PublicPath)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := KeyID(pub)
			s, err := Open(g.PrivatePath, StaticPassphrase("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID != g.KeyID || id != g.KeyID || s.Name != "alice" {
				t.Errorf("keyids %s %s %s, name %s", s.KeyID, id, g.KeyID, s.Name)
			}
			sig, err := s.SignMessage(strings.NewReader("payload"))
			if err != nil || len(sig) == 0 {
				t.Fatalf("sign: %v", err)
			}
		})
	}
}

func TestWrongPassphrase(t *testing.T) {
	name := filepath.Join(t.TempDir(), "bob")
	g, err := generate(name, TypeECDSAP256, StaticPassphrase("right"), encrypted.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(g.PrivatePath, StaticPassphrase("wrong"))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("err = %v, want ErrWrongPassphrase", err)
	}
	if !strings.Contains(err.Error(), "the passphrase does not open") || strings.Contains(err.Error(), "wrong\"") {
		t.Errorf("message %q", err)
	}
}

// A key made by cosign (sigstore's own encoder) opens with tufkeys.
func TestOpensCosignKey(t *testing.T) {
	privPEM, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), func(bool) ([]byte, error) { return []byte("cosign-pass"), nil })
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(path, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, StaticPassphrase("cosign-pass")); err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	g, err := generate(filepath.Join(dir, "carol"), TypeECDSAP256, StaticPassphrase("p"), encrypted.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generate(filepath.Join(dir, "carol"), TypeECDSAP256, StaticPassphrase("p"), encrypted.Legacy); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := generate(filepath.Join(dir, "dave"), TypeECDSAP256, StaticPassphrase(""), encrypted.Legacy); err == nil || !strings.Contains(err.Error(), "passphrase is empty") {
		t.Errorf("empty passphrase: %v", err)
	}
	if _, err := generate(filepath.Join(dir, "erin"), "rsa", StaticPassphrase("p"), encrypted.Legacy); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("rsa: %v", err)
	}
	if _, err := Open(g.PublicPath, StaticPassphrase("p")); !errors.Is(err, ErrNotAKey) || !strings.Contains(err.Error(), "is a public key") {
		t.Errorf("open public key: %v", err)
	}
	if _, err := ReadPublic(g.PrivatePath); !errors.Is(err, ErrNotAKey) || !strings.Contains(err.Error(), "is a private key") {
		t.Errorf("read private as public: %v", err)
	}
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plainDER, _ := x509.MarshalPKCS8PrivateKey(raw)
	plain := filepath.Join(dir, "plain.key")
	os.WriteFile(plain, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: plainDER}), 0o600)
	if _, err := Open(plain, StaticPassphrase("p")); !errors.Is(err, ErrNotAKey) || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("unencrypted key: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.key"), StaticPassphrase("p")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing key: %v", err)
	}
}
