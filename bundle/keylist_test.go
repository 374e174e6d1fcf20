package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseTestdata(t testing.TB, name string) Parsed {
	t.Helper()
	p, err := Parse(readTestdata(t, name))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return p
}

func TestDetect(t *testing.T) {
	tests := []struct {
		file string
		want Form
	}{
		{"npm/keys.json", FormNPM},
		{"corepack-0.30.json", FormCorepack},
		{"sigstore-keys.json", FormSigstore},
	}
	for _, tt := range tests {
		got, err := Detect(readTestdata(t, tt.file))
		if err != nil || got != tt.want {
			t.Errorf("Detect(%s) = %q, %v; want %q", tt.file, got, err, tt.want)
		}
	}
}

func TestParseRealKeys(t *testing.T) {
	p := parseTestdata(t, "npm/keys.json")
	want := []string{"SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}
	if !reflect.DeepEqual(p.List.KeyIDs(), want) {
		t.Fatalf("keyids = %v, want %v", p.List.KeyIDs(), want)
	}
	if p.List.Keys[0].Expires == nil || *p.List.Keys[0].Expires != "2025-01-29T00:00:00.000Z" {
		t.Errorf("old key expires = %v", p.List.Keys[0].Expires)
	}
	if p.List.Keys[1].Expires != nil {
		t.Errorf("new key expires = %q, want null", *p.List.Keys[1].Expires)
	}
}

// The real list must survive every conversion and come back byte for byte.
func TestRoundTripFromNPM(t *testing.T) {
	orig := readTestdata(t, "npm/keys.json")
	p := parseTestdata(t, "npm/keys.json")
	for _, via := range Forms {
		t.Run(string(via), func(t *testing.T) {
			encoded, err := Encode(&p.List, via)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(encoded)
			if err != nil {
				t.Fatalf("parse %s form: %v\n%s", via, err, encoded)
			}
			if back.Form != via {
				t.Errorf("detected %s, want %s", back.Form, via)
			}
			if len(back.Dropped) != 0 {
				t.Errorf("dropped %v", back.Dropped)
			}
			npm, err := Encode(&back.List, FormNPM)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(npm), bytes.TrimSpace(orig)) {
				t.Errorf("npm -> %s -> npm changed the list:\n%s", via, npm)
			}
		})
	}
}

func TestSigstoreForm(t *testing.T) {
	orig := readTestdata(t, "sigstore-keys.json")
	p := parseTestdata(t, "sigstore-keys.json")
	if len(p.List.Keys) != 2 {
		t.Fatalf("kept %d keys, want the 2 npm:signatures entries", len(p.List.Keys))
	}
	// sigstore -> sigstore keeps everything, validFor.start included
	again, err := Encode(&p.List, FormSigstore)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(again), bytes.TrimSpace(orig)) {
		t.Errorf("sigstore -> sigstore changed the list:\n%s", again)
	}
	// the npm form has no place for validFor.start; everything else stays
	viaNPM, err := Encode(&p.List, FormNPM)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(viaNPM), bytes.TrimSpace(readTestdata(t, "npm/keys.json"))) {
		t.Errorf("sigstore -> npm differs from the registry's list:\n%s", viaNPM)
	}
}

func TestSigstoreAttestationOnlyKeyIsDropped(t *testing.T) {
	data := strings.Replace(string(readTestdata(t, "sigstore-keys.json")), `"keyUsage": "npm:signatures"`, `"keyUsage": "npm:attestations"`, 1)
	p, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.List.Keys) != 1 || len(p.Dropped) != 1 || !strings.Contains(p.Dropped[0], "SHA256:jl3b") {
		t.Fatalf("keys %v, dropped %v: want the old key dropped and said so", p.List.KeyIDs(), p.Dropped)
	}
}

func TestInvalidKeyLists(t *testing.T) {
	tests := []struct {
		file string
		want []string // every fragment must appear in the message
	}{
		{"empty", []string{"holds no keys"}},
		{"keytype-rsa", []string{"key 0", "SHA256:DhQ8", "keytype", "rsa-sha256"}},
		{"scheme-ed25519", []string{"key 0", "scheme", "ed25519"}},
		{"key-not-base64", []string{"key 0", "key is not valid base64"}},
		{"key-not-spki", []string{"key 0", "not a valid SPKI"}},
		{"key-p384", []string{"key 0", "not an ECDSA P-256"}},
		{"key-too-long", []string{"key 0", "too long"}},
		{"key-off-curve", []string{"key 0", "off the curve"}},
		{"keyid-mismatch", []string{"key 0", "SHA256:jl3b", "keyid does not match", "SHA256:DhQ8"}},
		{"keyid-hex-digest", []string{"key 0", "keyid does not match"}},
		{"expires-not-rfc3339", []string{"key 0", "expires", "RFC 3339"}},
		{"expires-number", []string{"expires"}},
		{"duplicate-keyid", []string{"key 2", "SHA256:DhQ8", "repeats key 0"}},
		{"unknown-field", []string{"unknown field", "comment"}},
		{"trailing-data", []string{"after its closing brace"}},
		{"both-forms", []string{"both"}},
		{"neither-form", []string{"neither"}},
		{"not-json", []string{"not a JSON object"}},
		{"sigstore-bad-details", []string{"key 0", "keyDetails", "PKIX_ED25519"}},
		{"sigstore-bad-usage", []string{"key 0", "keyUsage", "pypi:signatures"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Parse(readTestdata(t, filepath.Join("invalid", tt.file+".json")))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	huge := bytes.Repeat([]byte(" "), MaxListBytes+1)
	if _, err := Parse(huge); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized list: %v", err)
	}
	entry := `{"expires":null,"keyid":"x","keytype":"x","scheme":"x","key":"x"},`
	many := `{"keys":[` + strings.Repeat(entry, MaxKeys) + strings.TrimSuffix(entry, ",") + `]}`
	if _, err := Parse([]byte(many)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many keys: %v", err)
	}
}

func TestParseForm(t *testing.T) {
	for _, f := range Forms {
		if got, err := ParseForm(string(f)); err != nil || got != f {
			t.Errorf("ParseForm(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseForm("yaml"); err == nil || !strings.Contains(err.Error(), "npm, corepack or sigstore") {
		t.Errorf("ParseForm(yaml) = %v", err)
	}
}
