package bundle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

const (
	keyIDPrefix = "SHA256:"
	// a P-256 SPKI is 91 bytes; anything much longer is not one.
	maxKeyBase64 = 256
)

// Validate checks every rule a key list must meet before anyone trusts it.
// The error names the entry (index and keyid) and the field at fault.
func Validate(l *KeyList) error {
	if len(l.Keys) == 0 {
		return &FieldError{Index: -1, Problem: "holds no keys: a key list needs at least one key"}
	}
	if len(l.Keys) > MaxKeys {
		return &FieldError{Index: -1, Problem: fmt.Sprintf("holds %d keys, more than the %d allowed", len(l.Keys), MaxKeys)}
	}
	seen := make(map[string]int, len(l.Keys))
	for i := range l.Keys {
		k := &l.Keys[i]
		if err := validateKey(i, k); err != nil {
			return err
		}
		if first, dup := seen[k.KeyID]; dup {
			return &FieldError{Index: i, KeyID: k.KeyID, Field: "keyid", Problem: fmt.Sprintf("repeats key %d: each keyid may appear once", first)}
		}
		seen[k.KeyID] = i
	}
	return nil
}

func validateKey(i int, k *Key) error {
	fail := func(field, problem string) error {
		return &FieldError{Index: i, KeyID: k.KeyID, Field: field, Problem: problem}
	}
	if k.KeyType != ECDSAP256 {
		return fail("keytype", fmt.Sprintf("is %q: only %s is supported", shorten(k.KeyType, 40), ECDSAP256))
	}
	if k.Scheme != ECDSAP256 {
		return fail("scheme", fmt.Sprintf("is %q: only %s is supported", shorten(k.Scheme, 40), ECDSAP256))
	}
	pub, err := ParsePublicKey(k.Key)
	if err != nil {
		return fail("key", err.Error())
	}
	want := Fingerprint(pub)
	if k.KeyID != want {
		return fail("keyid", fmt.Sprintf("does not match the key, whose OpenSSH SHA256 fingerprint is %s", want))
	}
	if k.Expires != nil {
		if _, err := parseTime(*k.Expires); err != nil {
			return fail("expires", fmt.Sprintf("is %q: expected an RFC 3339 time or null", shorten(*k.Expires, 40)))
		}
	}
	if k.ValidFrom != nil {
		if _, err := parseTime(*k.ValidFrom); err != nil {
			return fail("validFor.start", fmt.Sprintf("is %q: expected an RFC 3339 time", shorten(*k.ValidFrom, 40)))
		}
	}
	return nil
}

// ExpiredAt reports whether the key had expired at t. A key without an
// expiry, or with one that does not parse (Validate refuses such lists),
// is not expired.
func (k Key) ExpiredAt(t time.Time) bool {
	if k.Expires == nil {
		return false
	}
	exp, err := parseTime(*k.Expires)
	return err == nil && !t.Before(exp)
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// ParsePublicKey decodes a base64 SPKI DER P-256 public key; the standard
// library's parser rejects points that are not on the curve.
func ParsePublicKey(b64 string) (*ecdsa.PublicKey, error) {
	if len(b64) > maxKeyBase64 {
		return nil, fmt.Errorf("is %d characters long: too long for a P-256 public key", len(b64))
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("is not valid base64")
	}
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("is not a valid SPKI public key (a point off the curve is one cause)")
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("is not an ECDSA P-256 public key")
	}
	return pub, nil
}

// Fingerprint is the keyid registries give a key: OpenSSH's SHA256
// fingerprint, the unpadded base64 SHA-256 of the key in SSH wire format.
func Fingerprint(pub *ecdsa.PublicKey) string {
	point, err := pub.ECDH()
	if err != nil {
		// only keys off the curve fail here, and ParsePublicKey refuses them
		return ""
	}
	var wire []byte
	for _, field := range [][]byte{[]byte(ECDSAP256), []byte("nistp256"), point.Bytes()} {
		wire = binary.BigEndian.AppendUint32(wire, uint32(len(field)))
		wire = append(wire, field...)
	}
	sum := sha256.Sum256(wire)
	return keyIDPrefix + base64.RawStdEncoding.EncodeToString(sum[:])
}
