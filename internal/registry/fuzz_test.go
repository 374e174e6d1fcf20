package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// jsonTime is what encoding/json reads as time[version] of a packument:
// the oracle the skimmer must agree with.
func jsonTime(doc []byte, version string) (time.Time, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return time.Time{}, false
	}
	var times map[string]json.RawMessage
	if raw, ok := top["time"]; !ok || json.Unmarshal(raw, &times) != nil {
		return time.Time{}, false
	}
	raw, ok := times[version]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return time.Time{}, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// FuzzPackumentTime checks the skimmer against encoding/json: the same
// time, or both give none. The one allowed difference is a refusal by the
// skimmer's bounds (ErrBadAnswer: nesting, size, an overlong time), which
// encoding/json does not have.
func FuzzPackumentTime(f *testing.F) {
	for _, seed := range []string{
		`{"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`,
		`{"deprecated":null,"versions":{"1.0.0":{"a":[1,-2.5e3,true,false,null,"s\"\\\u00e9"]}},"time":{"created":"2020-01-01T00:00:00Z","1.0.0":"2025-01-22T10:00:00.000Z"}}`,
		`{"t\u0069me":{"1.0.0":"2025-01-22T10:00:00+01:00"}}`,
		`{"x":"\ud83d\ude00\ud800\u0041","time":{"1.0.0":"2025-01-22T10:00:00Z"},"time":{"1.0.0":null}}`,
		`{"n":[0,1E2,-0.0e-1,{}],"time":{"1.0.0":"2025-01-22T10:00:00Z","1.0.0":"2024-01-22T10:00:00Z"}}`,
		` {"time" : { "1.0.0" : "2025-01-22T10:00:00.123456789Z" } } `,
		`{"n":01}`, `[1]`, `null`, `{"time":null}`, `{"time":{"1.0.0":7}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := packumentTime(bytes.NewReader(doc), "1.0.0")
		want, ok := jsonTime(doc, "1.0.0")
		switch {
		case err != nil && errors.Is(err, ErrBadAnswer):
		case err == nil && !ok:
			t.Fatalf("the skimmer read %v where encoding/json reads no time", got)
		case err != nil && ok:
			t.Fatalf("the skimmer refused (%v) where encoding/json reads %v", err, want)
		case err == nil && !got.Equal(want):
			t.Fatalf("the skimmer read %v, encoding/json %v", got, want)
		}
	})
}
