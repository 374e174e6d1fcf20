// Package bundle is the registry key-bundle format: it parses, validates and
// converts the key lists that registries publish, and verifies package
// signatures with them. It knows nothing of TUF; the signer and client
// packages carry these lists inside TUF targets.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Form names one of the three encodings of a registry key list.
type Form string

const (
	// FormNPM is what a registry serves at /-/npm/v1/keys: {"keys":[…]}.
	FormNPM Form = "npm"
	// FormCorepack is the COREPACK_INTEGRITY_KEYS value: {"npm":[…]}.
	FormCorepack Form = "corepack"
	// FormSigstore is the target form of the public Sigstore TUF repository,
	// which lists each key once per usage.
	FormSigstore Form = "sigstore"
)

// Forms lists every form, in the order help texts show them.
var Forms = []Form{FormNPM, FormCorepack, FormSigstore}

// ParseForm turns a user's --to value into a Form.
func ParseForm(s string) (Form, error) {
	for _, f := range Forms {
		if string(f) == s {
			return f, nil
		}
	}
	return "", errorOf(ErrMalformed, "unknown key-list form %q: use npm, corepack or sigstore", shorten(s, 40))
}

// Limits on input, so that a hostile file cannot make the parser allocate
// without bound. Real lists hold two keys and stay under 1 KiB.
const (
	MaxListBytes = 1 << 20
	MaxKeys      = 256
)

// SignaturesUsage is the Sigstore keyUsage of keys that sign packages; the
// other usage, npm:attestations, plays no part in signature verification.
const SignaturesUsage = "npm:signatures"

const (
	attestationsUsage  = "npm:attestations"
	sigstoreKeyDetails = "PKIX_ECDSA_P256_SHA_256"
)

// ECDSAP256 names ECDSA P-256 with SHA-256, the only key registries sign
// with: a key's keytype and its scheme alike.
const ECDSAP256 = "ecdsa-sha2-nistp256"

// Key is one registry signing key. Expires and ValidFrom keep the text as
// written, so that converting a list and back yields the same bytes.
type Key struct {
	KeyID   string
	KeyType string
	Scheme  string
	Key     string  // base64 SPKI DER
	Expires *string // RFC 3339; nil when the key does not expire
	// ValidFrom is the Sigstore form's validFor.start; the npm and Corepack
	// forms have no place for it.
	ValidFrom *string
}

// KeyList is a registry's key list, independent of its encoding.
type KeyList struct {
	Keys []Key
}

// KeyIDs returns the keyids in list order.
func (l *KeyList) KeyIDs() []string {
	ids := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		ids[i] = k.KeyID
	}
	return ids
}

// Find returns the key with the given keyid.
func (l *KeyList) Find(keyID string) (Key, bool) {
	for _, k := range l.Keys {
		if k.KeyID == keyID {
			return k, true
		}
	}
	return Key{}, false
}

// Parsed is a decoded key list with what decoding had to leave out.
type Parsed struct {
	List KeyList
	Form Form
	// Dropped says, one sentence each, what the source held that the model
	// does not keep (Sigstore entries for usages other than npm:signatures).
	Dropped []string
}

// wire formats; field order is the order registries write them in.
type npmKey struct {
	Expires *string `json:"expires"`
	KeyID   string  `json:"keyid"`
	KeyType string  `json:"keytype"`
	Scheme  string  `json:"scheme"`
	Key     string  `json:"key"`
}

type npmList struct {
	Keys []npmKey `json:"keys"`
}

type corepackList struct {
	NPM []npmKey `json:"npm"`
}

type sigstoreValidFor struct {
	Start *string `json:"start,omitempty"`
	End   *string `json:"end,omitempty"`
}

type sigstorePublicKey struct {
	RawBytes   string           `json:"rawBytes"`
	KeyDetails string           `json:"keyDetails"`
	ValidFor   sigstoreValidFor `json:"validFor"`
}

type sigstoreKey struct {
	KeyID     string            `json:"keyId"`
	KeyUsage  string            `json:"keyUsage"`
	PublicKey sigstorePublicKey `json:"publicKey"`
}

type sigstoreList struct {
	Keys []sigstoreKey `json:"keys"`
}

// Detect tells which form data is in without validating it.
func Detect(data []byte) (Form, error) {
	if len(data) > MaxListBytes {
		return "", errorOf(ErrMalformed, "key list is %d bytes, more than the %d allowed", len(data), MaxListBytes)
	}
	var top map[string]json.RawMessage
	if err := decodeOne(data, &top, false); err != nil {
		return "", fmt.Errorf("key list is not a JSON object: %w", err)
	}
	_, hasKeys := top["keys"]
	_, hasNPM := top["npm"]
	switch {
	case hasKeys && hasNPM:
		return "", errorOf(ErrMalformed, "key list has both \"keys\" and \"npm\": use one form")
	case hasNPM:
		return FormCorepack, nil
	case !hasKeys:
		return "", errorOf(ErrMalformed, "key list has neither \"keys\" nor \"npm\": expected a registry key list, a COREPACK_INTEGRITY_KEYS value or a Sigstore target")
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(top["keys"], &entries); err != nil {
		return "", errorOf(ErrMalformed, "\"keys\" is not a list of objects (%s)", jsonProblem(err))
	}
	for _, e := range entries {
		_, sigstoreID := e["keyId"]
		_, sigstoreKey := e["publicKey"]
		if sigstoreID || sigstoreKey {
			return FormSigstore, nil
		}
	}
	return FormNPM, nil
}

// Parse decodes a key list in any form and validates it.
func Parse(data []byte) (Parsed, error) {
	p, err := Decode(data)
	if err != nil {
		return p, err
	}
	if err := Validate(&p.List); err != nil {
		return p, err
	}
	return p, nil
}

// Decode decodes a key list in any form without validating its keys.
func Decode(data []byte) (Parsed, error) {
	form, err := Detect(data)
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Form: form}
	switch form {
	case FormNPM:
		var l npmList
		if err := decodeStrict(data, &l); err != nil {
			return p, err
		}
		p.List = fromNPMKeys(l.Keys)
	case FormCorepack:
		var l corepackList
		if err := decodeStrict(data, &l); err != nil {
			return p, err
		}
		p.List = fromNPMKeys(l.NPM)
	case FormSigstore:
		var l sigstoreList
		if err := decodeStrict(data, &l); err != nil {
			return p, err
		}
		p.List, p.Dropped, err = fromSigstoreKeys(l.Keys)
		if err != nil {
			return p, err
		}
	}
	if len(p.List.Keys) > MaxKeys {
		return p, errorOf(ErrMalformed, "key list holds %d keys, more than the %d allowed", len(p.List.Keys), MaxKeys)
	}
	return p, nil
}

// decodeStrict refuses unknown fields: a field we do not know would be lost
// on conversion.
func decodeStrict(data []byte, v any) error {
	if err := decodeOne(data, v, true); err != nil {
		return fmt.Errorf("key list does not match its form: %w", err)
	}
	return nil
}

// decodeOne decodes exactly one JSON value: trailing bytes could hide a
// second value that another parser would read instead.
func decodeOne(data []byte, v any, disallowUnknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if disallowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return errorOf(ErrMalformed, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorOf(ErrMalformed, "data after its closing brace")
	}
	return nil
}

func jsonProblem(err error) string {
	return shorten(strings.TrimPrefix(err.Error(), "json: "), 120)
}

func fromNPMKeys(in []npmKey) KeyList {
	l := KeyList{Keys: make([]Key, 0, len(in))}
	for _, k := range in {
		l.Keys = append(l.Keys, Key{KeyID: k.KeyID, KeyType: k.KeyType, Scheme: k.Scheme, Key: k.Key, Expires: k.Expires})
	}
	return l
}

func fromSigstoreKeys(in []sigstoreKey) (KeyList, []string, error) {
	var l KeyList
	var dropped []string
	signing := map[string]bool{}
	for _, k := range in {
		if k.KeyUsage == SignaturesUsage {
			signing[k.KeyID] = true
		}
	}
	for i, k := range in {
		switch k.KeyUsage {
		case SignaturesUsage:
		case attestationsUsage:
			if !signing[k.KeyID] {
				signing[k.KeyID] = true // say it once
				dropped = append(dropped, fmt.Sprintf("key %s is listed only for %s and was left out: it does not sign packages", shorten(k.KeyID, 80), attestationsUsage))
			}
			continue
		default:
			return l, nil, &FieldError{Index: i, KeyID: k.KeyID, Field: "keyUsage", Problem: fmt.Sprintf("is %q: expected %s or %s", shorten(k.KeyUsage, 40), SignaturesUsage, attestationsUsage)}
		}
		if k.PublicKey.KeyDetails != sigstoreKeyDetails {
			return l, nil, &FieldError{Index: i, KeyID: k.KeyID, Field: "publicKey.keyDetails", Problem: fmt.Sprintf("is %q: only %s is supported", shorten(k.PublicKey.KeyDetails, 40), sigstoreKeyDetails)}
		}
		l.Keys = append(l.Keys, Key{
			KeyID:     k.KeyID,
			KeyType:   ECDSAP256,
			Scheme:    ECDSAP256,
			Key:       k.PublicKey.RawBytes,
			Expires:   k.PublicKey.ValidFor.End,
			ValidFrom: k.PublicKey.ValidFor.Start,
		})
	}
	return l, dropped, nil
}

// Encode writes the list in the given form. The npm and Sigstore forms are
// indented like the files registries serve; the Corepack form is one line,
// because it is meant for an environment variable. Encoding to the npm or
// Corepack form drops ValidFrom, which they cannot express.
func Encode(l *KeyList, form Form) ([]byte, error) {
	var v any
	indent := true
	switch form {
	case FormNPM:
		v = npmList{Keys: toNPMKeys(l.Keys)}
	case FormCorepack:
		v = corepackList{NPM: toNPMKeys(l.Keys)}
		indent = false
	case FormSigstore:
		v = sigstoreList{Keys: toSigstoreKeys(l.Keys)}
	default:
		return nil, errorOf(ErrMalformed, "unknown key-list form %q", shorten(string(form), 40))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode key list: %w", err)
	}
	return buf.Bytes(), nil
}

func toNPMKeys(in []Key) []npmKey {
	out := make([]npmKey, 0, len(in))
	for _, k := range in {
		out = append(out, npmKey{Expires: k.Expires, KeyID: k.KeyID, KeyType: k.KeyType, Scheme: k.Scheme, Key: k.Key})
	}
	return out
}

// toSigstoreKeys lists each key for both npm usages, as the public Sigstore
// repository does, so that tools reading attestations find it too.
func toSigstoreKeys(in []Key) []sigstoreKey {
	out := make([]sigstoreKey, 0, 2*len(in))
	for _, k := range in {
		for _, usage := range []string{SignaturesUsage, attestationsUsage} {
			out = append(out, sigstoreKey{
				KeyID:    k.KeyID,
				KeyUsage: usage,
				PublicKey: sigstorePublicKey{
					RawBytes:   k.Key,
					KeyDetails: sigstoreKeyDetails,
					ValidFor:   sigstoreValidFor{Start: k.ValidFrom, End: k.Expires},
				},
			})
		}
	}
	return out
}
