package bundle

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// fuzzParse checks the property every parser must have: no panic on any
// input, every error is ErrMalformed, and whatever is accepted converts to
// every form and back unchanged.
func fuzzParse(t *testing.T, data []byte) {
	p, err := Parse(data)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error is not ErrMalformed: %v", err)
		}
		return
	}
	for _, form := range Forms {
		enc, err := Encode(&p.List, form)
		if err != nil {
			t.Fatalf("encode accepted list as %s: %v", form, err)
		}
		back, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse %s form: %v\n%s", form, err, enc)
		}
		want := p.List
		if form != FormSigstore {
			want = withoutValidFrom(want)
		}
		if !reflect.DeepEqual(back.List, want) {
			t.Fatalf("%s round trip changed the list:\n%+v\n%+v", form, want, back.List)
		}
	}
}

func withoutValidFrom(l KeyList) KeyList {
	out := KeyList{Keys: append([]Key(nil), l.Keys...)}
	for i := range out.Keys {
		out.Keys[i].ValidFrom = nil
	}
	return out
}

func seedInvalid(f *testing.F) {
	for _, name := range []string{"duplicate-keyid", "key-off-curve", "keyid-mismatch", "trailing-data", "expires-number"} {
		f.Add(readTestdata(f, "invalid/"+name+".json"))
	}
}

func FuzzParseNPM(f *testing.F) {
	f.Add(readTestdata(f, "npm/keys.json"))
	seedInvalid(f)
	f.Fuzz(fuzzParse)
}

func FuzzParseCorepack(f *testing.F) {
	f.Add(readTestdata(f, "corepack-0.30.json"))
	p := parseTestdata(f, "npm/keys.json")
	enc, err := Encode(&p.List, FormCorepack)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Fuzz(fuzzParse)
}

func FuzzParseSigstore(f *testing.F) {
	f.Add(readTestdata(f, "sigstore-keys.json"))
	f.Add(readTestdata(f, "invalid/sigstore-bad-details.json"))
	f.Fuzz(fuzzParse)
}

// FuzzVerify feeds arbitrary version documents and publish times to a
// verifier holding the real keys. Beyond not panicking, a document that
// verifies must carry a signature by a trusted key over exactly its
// name, version and integrity, so it may only differ from a real fixture
// in fields the signature does not cover.
func FuzzVerify(f *testing.F) {
	for _, id := range realSigned {
		f.Add(readTestdata(f, "npm/"+id+".json"), int64(0))
	}
	f.Add(readTestdata(f, "npm/tiny-tarball@1.0.0.json"), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC).Unix())
	real := map[string]Version{}
	for _, id := range realSigned {
		v := realVersion(f, id)
		real[v.Name+"@"+v.Version+":"+v.Integrity] = v
	}
	v := realVerifier(f, "npm/keys.json")
	f.Fuzz(func(t *testing.T, doc []byte, published int64) {
		ver, err := ParseManifest(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if published != 0 {
			ver.Published = time.Unix(published, 0)
		}
		res, err := v.Verify(ver)
		if err != nil {
			for _, kind := range []error{ErrMalformed, ErrUnknownKeyID, ErrBadSignature, ErrExpiredKey, ErrPublishTimeUnknown, ErrUnsigned} {
				if errors.Is(err, kind) {
					return
				}
			}
			t.Fatalf("error of no known kind: %v", err)
		}
		if _, ok := real[ver.Name+"@"+ver.Version+":"+ver.Integrity]; !ok {
			t.Fatalf("verified a version no real key signed: %+v (%+v)", ver, res)
		}
	})
}
