package translog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// CustomKey is the field of root.json's signed custom object that holds
// the policy: {"custom": {"tufkeys_log": Policy}}.
const CustomKey = "tufkeys_log"

// DefaultMaxAge is how old the newest cosignature a client accepts may be
// when the policy names no bound: a week, so that a repository whose
// scheduled timestamp job runs daily stays fresh with room to spare.
const DefaultMaxAge = 7 * 24 * time.Hour

// Policy is the log a root names and who must witness it.
type Policy struct {
	// Origin is the log's name, the first line of its checkpoints.
	Origin string `json:"origin"`
	// Key is the log's note verifier key (Ed25519), named Origin.
	Key       string    `json:"key"`
	Witnesses []Witness `json:"witnesses"`
	// Quorum is how many of Witnesses must cosign a checkpoint.
	Quorum int `json:"quorum"`
	// MaxAge bounds the age of a checkpoint's newest quorum cosignature,
	// as a Go duration; empty: DefaultMaxAge.
	MaxAge string `json:"max_age,omitempty"`
}

// Witness is one witness of the policy.
type Witness struct {
	// Key is the witness's note verifier key; its name is the witness's.
	Key string `json:"key"`
	// URL is where it takes add-checkpoint requests (C2SP tlog-witness).
	URL string `json:"url"`
}

// Errors of policies.
var (
	ErrBadPolicy = errors.New("the root's transparency log policy is not valid")
)

// Check validates a policy as a root ceremony writes it and a client reads
// it.
func (p Policy) Check() error {
	if p.Origin == "" || len(p.Origin) > 200 || strings.ContainsAny(p.Origin, " \n+") {
		return fmt.Errorf("origin %q: give a name without spaces or '+', such as keys.example.test/log: %w", p.Origin, ErrBadPolicy)
	}
	v, err := note.NewVerifier(p.Key)
	if err != nil {
		return fmt.Errorf("the log key is not a note verifier key (%v): %w", err, ErrBadPolicy)
	}
	if v.Name() != p.Origin {
		return fmt.Errorf("the log key is named %q, not the origin %q: %w", v.Name(), p.Origin, ErrBadPolicy)
	}
	if len(p.Witnesses) > 32 {
		return fmt.Errorf("%d witnesses, above 32: %w", len(p.Witnesses), ErrBadPolicy)
	}
	names, keys := map[string]bool{}, map[string]string{}
	for _, w := range p.Witnesses {
		wv, err := fnote.NewVerifierForCosignatureV1(w.Key)
		if err != nil {
			return fmt.Errorf("witness key %q is not a cosignature verifier key (%v): %w", shorten(w.Key), err, ErrBadPolicy)
		}
		if names[wv.Name()] {
			return fmt.Errorf("witness %s is named twice: %w", wv.Name(), ErrBadPolicy)
		}
		names[wv.Name()] = true
		// one key holder counts once toward the quorum, whatever names
		// its key is given
		material := keyMaterial(w.Key)
		if other, dup := keys[material]; dup {
			return fmt.Errorf("witnesses %s and %s have the same public key, so one key holder would count twice toward the quorum; give each witness its own key: %w", other, wv.Name(), ErrBadPolicy)
		}
		keys[material] = wv.Name()
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("witness %s has URL %q; give an http(s) URL: %w", wv.Name(), w.URL, ErrBadPolicy)
		}
	}
	if p.Quorum < 1 || p.Quorum > len(p.Witnesses) {
		return fmt.Errorf("a quorum of %d with %d witnesses; give 1 to %d: %w", p.Quorum, len(p.Witnesses), len(p.Witnesses), ErrBadPolicy)
	}
	if _, err := p.maxAge(); err != nil {
		return err
	}
	return nil
}

func (p Policy) maxAge() (time.Duration, error) {
	if p.MaxAge == "" {
		return DefaultMaxAge, nil
	}
	d, err := time.ParseDuration(p.MaxAge)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("max_age %q is not a positive duration such as 168h: %w", p.MaxAge, ErrBadPolicy)
	}
	return d, nil
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// FromCustom reads the policy from a root's signed custom field; ok is
// false when the root names no log.
func FromCustom(custom any) (p Policy, ok bool, err error) {
	m, isMap := custom.(map[string]any)
	if custom == nil || (isMap && m[CustomKey] == nil) {
		return Policy{}, false, nil
	}
	if !isMap {
		return Policy{}, false, fmt.Errorf("custom is not an object: %w", ErrBadPolicy)
	}
	raw, err := json.Marshal(m[CustomKey])
	if err != nil {
		return Policy{}, false, fmt.Errorf("%v: %w", err, ErrBadPolicy)
	}
	if err := strictUnmarshal(raw, &p); err != nil {
		return Policy{}, false, fmt.Errorf("%v: %w", err, ErrBadPolicy)
	}
	if err := p.Check(); err != nil {
		return Policy{}, false, err
	}
	return p, true, nil
}

// FromRootCustom reads the policy from a root's unrecognized signed
// fields, as go-tuf keeps them.
func FromRootCustom(unrecognized map[string]any) (Policy, bool, error) {
	return FromCustom(unrecognized["custom"])
}

// SetRootCustom writes the policy into a root's unrecognized signed fields,
// keeping whatever else custom holds; nil removes it.
func SetRootCustom(unrecognized map[string]any, p *Policy) (map[string]any, error) {
	if unrecognized == nil {
		unrecognized = map[string]any{}
	}
	custom, _ := unrecognized["custom"].(map[string]any)
	if custom == nil {
		custom = map[string]any{}
	}
	if p == nil {
		delete(custom, CustomKey)
	} else {
		if err := p.Check(); err != nil {
			return nil, err
		}
		raw, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		custom[CustomKey] = v
	}
	if len(custom) == 0 {
		delete(unrecognized, "custom")
	} else {
		unrecognized["custom"] = custom
	}
	return unrecognized, nil
}

func (p Policy) logVerifier() (note.Verifier, error) {
	return note.NewVerifier(p.Key)
}

func (p Policy) witnessVerifiers() ([]note.Verifier, error) {
	out := make([]note.Verifier, 0, len(p.Witnesses))
	for _, w := range p.Witnesses {
		v, err := fnote.NewVerifierForCosignatureV1(w.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// WitnessName is the name in a witness's key.
func (w Witness) Name() string {
	name, _, _ := strings.Cut(w.Key, "+")
	return name
}

// keyMaterial is a note verifier key without its name and hash: the
// public key itself ("name+hash+base64", where base64 may hold '+').
func keyMaterial(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) < 3 {
		return vkey
	}
	return parts[2]
}

// SameLog reports whether a checkpoint verifies under q exactly when it
// verifies under p: the same origin, log key, witnesses and quorum.
func (p Policy) SameLog(q Policy) bool {
	if p.Origin != q.Origin || p.Key != q.Key || p.Quorum != q.Quorum || len(p.Witnesses) != len(q.Witnesses) {
		return false
	}
	have := map[string]bool{}
	for _, w := range p.Witnesses {
		have[w.Key] = true
	}
	for _, w := range q.Witnesses {
		if !have[w.Key] {
			return false
		}
	}
	return true
}
