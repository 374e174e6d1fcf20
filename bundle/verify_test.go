package bundle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// realSigned lists the fixtures whose signatures are real.
var realSigned = []string{
	"npm@11.1.0", "pnpm@10.1.0", "pnpm@10.2.0", "pnpm@10.4.0", "pnpm@9.15.5", "tiny-tarball@1.0.0",
}

func realVersion(t testing.TB, id string) Version {
	t.Helper()
	v, err := ParseManifest(readTestdata(t, "npm/"+id+".json"))
	if err != nil {
		t.Fatalf("parse %s: %v", id, err)
	}
	return v
}

func realVerifier(t testing.TB, file string) *Verifier {
	t.Helper()
	p := parseTestdata(t, file)
	v, err := NewVerifier(&p.List)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRealSignaturesVerify(t *testing.T) {
	v := realVerifier(t, "npm/keys.json")
	for _, id := range realSigned {
		t.Run(id, func(t *testing.T) {
			ver := realVersion(t, id)
			// no publish time was given: an expiring key is refused unless that is accepted
			oldKey := strings.HasPrefix(ver.Signatures[0].KeyID, "SHA256:jl3b")
			if _, err := v.Verify(ver); oldKey != errors.Is(err, ErrPublishTimeUnknown) || !oldKey && err != nil {
				t.Fatalf("without a publish time: %v", err)
			}
			ver.AcceptUnknownPublished = true
			res, err := v.Verify(ver)
			if err != nil {
				t.Fatal(err)
			}
			if res.Package != id || len(res.VerifiedBy) != 1 || res.VerifiedBy[0] != ver.Signatures[0].KeyID {
				t.Errorf("result %+v", res)
			}
			// only the old key has an expiry, and no publish time was given
			wantUnchecked := strings.HasPrefix(ver.Signatures[0].KeyID, "SHA256:jl3b")
			if res.ExpiryUnchecked != wantUnchecked {
				t.Errorf("ExpiryUnchecked = %v, want %v", res.ExpiryUnchecked, wantUnchecked)
			}
		})
	}
}

func TestUnsignedFixturesRefused(t *testing.T) {
	v := realVerifier(t, "npm/keys.json")
	for _, id := range []string{"pnpm@10.0.0", "npm@11.0.0", "yarnpkg__cli-dist@4.18.1"} {
		if _, err := v.Verify(realVersion(t, id)); !errors.Is(err, ErrUnsigned) {
			t.Errorf("%s: %v, want ErrUnsigned", id, err)
		}
	}
}

// Corepack 0.30 shipped only the first key, so it refused every version
// signed after the rotation: the failure tufkeys exists to prevent.
func TestCorepack030RefusesRotatedSignature(t *testing.T) {
	v := realVerifier(t, "corepack-0.30.json")
	_, err := v.Verify(realVersion(t, "pnpm@10.1.0"))
	if !errors.Is(err, ErrUnknownKeyID) {
		t.Fatalf("err = %v, want ErrUnknownKeyID", err)
	}
	var uk *UnknownKeyError
	if !errors.As(err, &uk) {
		t.Fatalf("err %T is not an *UnknownKeyError", err)
	}
	if !reflect.DeepEqual(uk.Unknown, []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}) {
		t.Errorf("unknown = %v", uk.Unknown)
	}
	for _, w := range []string{"pnpm@10.1.0", "SHA256:DhQ8", "SHA256:jl3b", "refresh the key bundle", "rotated"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}
	// the version it was released with still verifies
	if _, err := v.Verify(realVersion(t, "tiny-tarball@1.0.0")); err != nil {
		t.Errorf("tiny-tarball with Corepack 0.30 keys: %v", err)
	}
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestOneChangedCharacterFails(t *testing.T) {
	v := realVerifier(t, "npm/keys.json")
	tests := []struct {
		name   string
		change func(*Version)
	}{
		{"integrity", func(ver *Version) { ver.Integrity = flipChar(ver.Integrity, 20) }},
		{"name", func(ver *Version) { ver.Name += "x" }},
		{"version", func(ver *Version) { ver.Version = "10.1.1" }},
		{"signature middle", func(ver *Version) { ver.Signatures[0].Sig = flipChar(ver.Signatures[0].Sig, 30) }},
		{"signature last", func(ver *Version) {
			s := ver.Signatures[0].Sig
			ver.Signatures[0].Sig = flipChar(s, len(s)-3)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver := realVersion(t, "pnpm@10.1.0")
			tt.change(&ver)
			_, err := v.Verify(ver)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		})
	}
}

type testKey struct {
	priv *ecdsa.PrivateKey
	key  Key
}

func newTestKey(t testing.TB, expires string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{KeyID: Fingerprint(&priv.PublicKey), KeyType: ECDSAP256, Scheme: ECDSAP256, Key: base64.StdEncoding.EncodeToString(der)}
	if expires != "" {
		k.Expires = &expires
	}
	return testKey{priv: priv, key: k}
}

func (k testKey) sign(t testing.TB, v Version) Signature {
	t.Helper()
	digest := sha256.Sum256([]byte(v.Name + "@" + v.Version + ":" + v.Integrity))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return Signature{KeyID: k.key.KeyID, Sig: base64.StdEncoding.EncodeToString(sig)}
}

func TestExpiryAndMultipleSignatures(t *testing.T) {
	expiry := "2025-01-29T00:00:00.000Z"
	expiring := newTestKey(t, expiry)
	lasting := newTestKey(t, "")
	outsider := newTestKey(t, "")
	v, err := NewVerifier(&KeyList{Keys: []Key{expiring.key, lasting.key}})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2025, 1, 28, 23, 59, 59, 0, time.UTC)
	atExpiry := time.Date(2025, 1, 29, 0, 0, 0, 0, time.UTC)
	after := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	base := Version{Name: "@scope/pkg", Version: "1.2.3", Integrity: "sha512-" + strings.Repeat("A", 86) + "=="}
	badSig := func(k testKey) func(Version) Signature {
		return func(v Version) Signature {
			s := k.sign(t, v)
			s.Sig = k.sign(t, Version{Name: "other", Version: v.Version, Integrity: v.Integrity}).Sig
			return s
		}
	}
	tests := []struct {
		name       string
		signers    []func(Version) Signature
		published  time.Time
		want       error
		verifiedBy []string
		unchecked  bool
		// acceptUnknown accepts an unknown publish time
		acceptUnknown bool
		wantExpired   int
	}{
		{name: "expiring key before expiry", signers: signers(t, expiring), published: before, verifiedBy: ids(expiring)},
		{name: "expiring key at expiry", signers: signers(t, expiring), published: atExpiry, want: ErrExpiredKey},
		{name: "expiring key after expiry", signers: signers(t, expiring), published: after, want: ErrExpiredKey},
		{name: "expiring key, publish time unknown", signers: signers(t, expiring), want: ErrPublishTimeUnknown},
		{name: "expiring key, publish time unknown and accepted", signers: signers(t, expiring), acceptUnknown: true, verifiedBy: ids(expiring), unchecked: true},
		{name: "expiring and lasting keys, publish time unknown", signers: signers(t, expiring, lasting), verifiedBy: ids(lasting)},
		{name: "expiring and unknown keys, publish time unknown: refresh may help", signers: signers(t, expiring, outsider), want: ErrUnknownKeyID},
		{name: "lasting key long after", signers: signers(t, lasting), published: after, verifiedBy: ids(lasting)},
		{name: "both keys after expiry", signers: signers(t, expiring, lasting), published: after, verifiedBy: ids(lasting), wantExpired: 1},
		{name: "both keys before expiry", signers: signers(t, expiring, lasting), published: before, verifiedBy: ids(expiring, lasting)},
		{name: "trusted and unknown", signers: signers(t, lasting, outsider), published: after, verifiedBy: ids(lasting)},
		{name: "unknown only", signers: signers(t, outsider), published: after, want: ErrUnknownKeyID},
		{name: "expired and unknown: refresh may help", signers: signers(t, expiring, outsider), published: after, want: ErrUnknownKeyID},
		{name: "one trusted signature bad", signers: []func(Version) Signature{signers(t, lasting)[0], badSig(expiring)}, published: before, want: ErrBadSignature},
		{name: "expired key's signature bad", signers: []func(Version) Signature{signers(t, lasting)[0], badSig(expiring)}, published: after, want: ErrBadSignature},
		{name: "no signatures", published: after, want: ErrUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver := base
			ver.Published = tt.published
			ver.AcceptUnknownPublished = tt.acceptUnknown
			for _, s := range tt.signers {
				ver.Signatures = append(ver.Signatures, s(base))
			}
			res, err := v.Verify(ver)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.VerifiedBy, tt.verifiedBy) || res.ExpiryUnchecked != tt.unchecked || len(res.Expired) != tt.wantExpired {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func signers(t *testing.T, keys ...testKey) []func(Version) Signature {
	var out []func(Version) Signature
	for _, k := range keys {
		out = append(out, func(v Version) Signature { return k.sign(t, v) })
	}
	return out
}

func ids(keys ...testKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.key.KeyID)
	}
	return out
}

func TestExpiredKeyMessage(t *testing.T) {
	k := newTestKey(t, "2025-01-29T00:00:00Z")
	v, err := NewVerifier(&KeyList{Keys: []Key{k.key}})
	if err != nil {
		t.Fatal(err)
	}
	ver := Version{Name: "pkg", Version: "1.0.0", Integrity: "sha512-abc", Published: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	ver.Signatures = []Signature{k.sign(t, ver)}
	_, err = v.Verify(ver)
	for _, w := range []string{"pkg@1.0.0", "2025-03-01T00:00:00Z", "expired at 2025-01-29T00:00:00Z", k.key.KeyID} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("message %v lacks %q", err, w)
		}
	}
}

func TestMalformedVersionsRefused(t *testing.T) {
	v := realVerifier(t, "npm/keys.json")
	good := realVersion(t, "pnpm@10.1.0")
	tests := []struct {
		name   string
		change func(*Version)
	}{
		{"no name", func(v *Version) { v.Name = "" }},
		{"no integrity", func(v *Version) { v.Integrity = "" }},
		{"overlong version", func(v *Version) { v.Version = strings.Repeat("1", 300) }},
		{"empty keyid", func(v *Version) { v.Signatures[0].KeyID = "" }},
		{"overlong sig", func(v *Version) { v.Signatures[0].Sig = strings.Repeat("A", 1000) }},
		{"too many signatures", func(v *Version) {
			for range 40 {
				v.Signatures = append(v.Signatures, v.Signatures[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver := good
			ver.Signatures = append([]Signature(nil), good.Signatures...)
			tt.change(&ver)
			if _, err := v.Verify(ver); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseManifestForms(t *testing.T) {
	flat := realVersion(t, "pnpm@10.1.0")
	registry := `{"name":"pnpm","version":"10.1.0","dist":{"integrity":"` + flat.Integrity +
		`","shasum":"ab79","signatures":[{"keyid":"` + flat.Signatures[0].KeyID + `","sig":"` + flat.Signatures[0].Sig + `"}]},"description":"x"}`
	got, err := ParseManifest([]byte(registry))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, flat) {
		t.Errorf("registry form %+v != flat form %+v", got, flat)
	}
	bad := []struct{ name, doc string }{
		{"not json", "name: pnpm"},
		{"trailing", `{"name":"a","version":"1","integrity":"x"} {}`},
		{"both places", `{"name":"a","version":"1","integrity":"x","dist":{"integrity":"x"}}`},
		{"signatures not a list", `{"name":"a","version":"1","integrity":"x","signatures":"x"}`},
		{"no version", `{"name":"a","integrity":"x"}`},
	}
	for _, tt := range bad {
		if _, err := ParseManifest([]byte(tt.doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", tt.name, err)
		}
	}
}

// validFor.start of the Sigstore form is kept, not enforced: the npm and
// Corepack forms cannot say it, so a list handed to Corepack could not
// honour it anyway, and a key's start says when the registry began signing
// with it, not which versions it may vouch for; the retirement that
// matters is the expiry (validFor.end), which is enforced. A version
// published before its key's start verifies, one after its end does not.
func TestValidForStartIsNotEnforced(t *testing.T) {
	p := parseTestdata(t, "npm/keys.json")
	future := "2099-01-01T00:00:00.000Z"
	for i := range p.List.Keys {
		p.List.Keys[i].ValidFrom = &future
	}
	v, err := NewVerifier(&p.List)
	if err != nil {
		t.Fatal(err)
	}
	ver := realVersion(t, "pnpm@10.1.0")
	ver.Published = time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC)
	if _, err := v.Verify(ver); err != nil {
		t.Errorf("a version published before its key's validFor.start: %v", err)
	}
	// the Sigstore form keeps the start through a round trip
	data, err := Encode(&p.List, FormSigstore)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil || back.List.Keys[0].ValidFrom == nil || *back.List.Keys[0].ValidFrom != future {
		t.Errorf("validFor.start lost: %v", err)
	}
}
