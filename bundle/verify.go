package bundle

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Bounds on a version's fields. npm limits names to 214 characters; the
// others leave ample room for real data and refuse absurd input early.
const (
	maxNameLen      = 214
	maxVersionLen   = 256
	maxIntegrityLen = 4096
	maxSignatures   = 32
	maxKeyIDLen     = 128
	maxSignatureLen = 256 // base64 of a DER P-256 signature is at most 96
)

// Signature is one entry of a version document's dist.signatures.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Version is what a signature covers, plus the publish time that decides
// whether a key with an expiry still vouches for it.
type Version struct {
	Name       string
	Version    string
	Integrity  string
	Signatures []Signature
	// Published is when the registry published the version; zero when unknown.
	Published time.Time
	// AcceptUnknownPublished lets a key with an expiry vouch for the
	// version when Published is unknown (the verdict then reports
	// ExpiryUnchecked). Without it such a signature does not count: an
	// unknown time must not revive a retired key.
	AcceptUnknownPublished bool
}

// ID is name@version, the way npm prints a version.
func (v Version) ID() string {
	return shorten(v.Name, maxNameLen) + "@" + shorten(v.Version, maxVersionLen)
}

// Result describes a verified version.
type Result struct {
	Package string
	// VerifiedBy lists the keyids whose signatures verified and counted.
	VerifiedBy []string
	// Expired lists keyids whose signatures verified but whose key had
	// expired when the version was published; they did not count.
	Expired []string
	// Unknown lists keyids of signatures by keys the bundle does not hold.
	Unknown []string
	// ExpiryUnchecked is set when the publish time was unknown, the caller
	// accepted that (Version.AcceptUnknownPublished), and a counted key has
	// an expiry that could therefore not be checked.
	ExpiryUnchecked bool
	// Unchecked lists keyids whose signatures verified but whose key has an
	// expiry while the publish time is unknown; they did not count.
	Unchecked []string
}

type trustedKey struct {
	pub       *ecdsa.PublicKey
	expires   time.Time
	hasExpiry bool
}

// Verifier holds a validated key list, parsed once for many verifications.
type Verifier struct {
	keys map[string]trustedKey
	ids  []string
}

// NewVerifier validates the list and prepares its keys.
func NewVerifier(l *KeyList) (*Verifier, error) {
	if err := Validate(l); err != nil {
		return nil, err
	}
	v := &Verifier{keys: make(map[string]trustedKey, len(l.Keys)), ids: l.KeyIDs()}
	for _, k := range l.Keys {
		pub, err := ParsePublicKey(k.Key)
		if err != nil { // Validate already parsed it; this cannot fail
			return nil, errorOf(ErrMalformed, "key %s", k.KeyID)
		}
		tk := trustedKey{pub: pub}
		if k.Expires != nil {
			tk.expires, _ = parseTime(*k.Expires)
			tk.hasExpiry = true
		}
		v.keys[k.KeyID] = tk
	}
	return v, nil
}

// KeyIDs returns the keyids the verifier trusts, in list order.
func (v *Verifier) KeyIDs() []string { return append([]string(nil), v.ids...) }

// Verify checks a version's signatures: every signature by a trusted key
// must verify, and at least one trusted key that had not expired when the
// version was published must have signed it.
func (v *Verifier) Verify(ver Version) (Result, error) {
	res := Result{Package: ver.ID()}
	if err := checkVersion(ver); err != nil {
		return res, err
	}
	if len(ver.Signatures) == 0 {
		return res, errorOf(ErrUnsigned, "%s carries no registry signature", res.Package)
	}
	digest := sha256.Sum256([]byte(ver.Name + "@" + ver.Version + ":" + ver.Integrity))
	publishKnown := !ver.Published.IsZero()
	var expired, unchecked error
	for _, s := range ver.Signatures {
		key, trusted := v.keys[s.KeyID]
		if !trusted {
			res.Unknown = append(res.Unknown, s.KeyID)
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || !ecdsa.VerifyASN1(key.pub, digest[:], sig) {
			return res, errorOf(ErrBadSignature, "the signature by %s on %s does not verify: the version or its signature was altered", s.KeyID, res.Package)
		}
		switch {
		case !key.hasExpiry:
			res.VerifiedBy = append(res.VerifiedBy, s.KeyID)
		case !publishKnown && ver.AcceptUnknownPublished:
			res.VerifiedBy = append(res.VerifiedBy, s.KeyID)
			res.ExpiryUnchecked = true
		case !publishKnown:
			res.Unchecked = append(res.Unchecked, s.KeyID)
			unchecked = errorOf(ErrPublishTimeUnknown, "%s is signed by key %s, which expires at %s, and its publish time is unknown, so whether that key still vouches for it cannot be checked", res.Package, s.KeyID, key.expires.UTC().Format(time.RFC3339))
		case ver.Published.Before(key.expires):
			res.VerifiedBy = append(res.VerifiedBy, s.KeyID)
		default:
			res.Expired = append(res.Expired, s.KeyID)
			expired = errorOf(ErrExpiredKey, "%s was published at %s, after key %s expired at %s, so that key no longer vouches for it", res.Package, ver.Published.UTC().Format(time.RFC3339), s.KeyID, key.expires.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case len(res.VerifiedBy) > 0:
		return res, nil
	case len(res.Unknown) > 0:
		return res, &UnknownKeyError{Package: res.Package, Unknown: res.Unknown, Known: v.KeyIDs()}
	case unchecked != nil:
		return res, unchecked
	default:
		return res, expired
	}
}

func checkVersion(ver Version) error {
	field := func(name, value string, max int) error {
		if value == "" {
			return errorOf(ErrMalformed, "version document has no %s", name)
		}
		if len(value) > max {
			return errorOf(ErrMalformed, "version document's %s is %d bytes, more than the %d allowed", name, len(value), max)
		}
		return nil
	}
	if err := field("name", ver.Name, maxNameLen); err != nil {
		return err
	}
	if err := field("version", ver.Version, maxVersionLen); err != nil {
		return err
	}
	if err := field("integrity", ver.Integrity, maxIntegrityLen); err != nil {
		return err
	}
	if len(ver.Signatures) > maxSignatures {
		return errorOf(ErrMalformed, "%s carries %d signatures, more than the %d allowed", ver.ID(), len(ver.Signatures), maxSignatures)
	}
	for i, s := range ver.Signatures {
		if s.KeyID == "" || len(s.KeyID) > maxKeyIDLen {
			return errorOf(ErrMalformed, "signature %d of %s has a missing or overlong keyid", i, ver.ID())
		}
		if s.Sig == "" || len(s.Sig) > maxSignatureLen {
			return errorOf(ErrMalformed, "signature %d of %s has a missing or overlong sig", i, ver.ID())
		}
	}
	return nil
}
