package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
)

// WithExtraKey is a key list with one more key, made here (a key of the
// attacker's, in the log's attack tests), and that key's keyid.
func WithExtraKey(t testing.TB, list []byte) ([]byte, string) {
	t.Helper()
	p, err := bundle.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	k := p.List.Keys[len(p.List.Keys)-1]
	k.KeyID, k.Key, k.Expires = bundle.Fingerprint(&priv.PublicKey), base64.StdEncoding.EncodeToString(der), nil
	p.List.Keys = append(p.List.Keys, k)
	out, err := bundle.Encode(&p.List, bundle.FormNPM)
	if err != nil {
		t.Fatal(err)
	}
	return out, k.KeyID
}
