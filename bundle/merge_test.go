package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	rotated := parseTestdata(t, "npm/keys.json").List  // old key expires 2025-01-29, new never
	old := parseTestdata(t, "corepack-0.30.json").List // old key, never expires
	tests := []struct {
		name      string
		lists     []*KeyList
		keys      int
		oldExpiry string
		notes     int
	}{
		{"one list", []*KeyList{&rotated}, 2, "2025-01-29T00:00:00.000Z", 0},
		{"the earlier expiry holds, listed first", []*KeyList{&rotated, &old}, 2, "2025-01-29T00:00:00.000Z", 0},
		{"the earlier expiry holds, listed second", []*KeyList{&old, &rotated}, 2, "2025-01-29T00:00:00.000Z", 1},
		{"same list twice", []*KeyList{&old, &old}, 1, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes, err := Merge(tt.lists...)
			if err != nil || len(got.Keys) != tt.keys || len(notes) != tt.notes {
				t.Fatalf("%d keys, notes %q, %v", len(got.Keys), notes, err)
			}
			k, _ := got.Find("SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA")
			if exp := expiryText(k.Expires); (tt.oldExpiry == "" && k.Expires != nil) || (tt.oldExpiry != "" && exp != tt.oldExpiry) {
				t.Errorf("old key expires %s, want %q", exp, tt.oldExpiry)
			}
		})
	}
	forged := parseTestdata(t, "corepack-0.30.json").List
	forged.Keys[0].Key = rotated.Keys[1].Key
	if _, _, err := Merge(&old, &forged); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "names two different keys") {
		t.Errorf("one keyid, two keys: %v", err)
	}
}
