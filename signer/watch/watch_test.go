package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
)

func list(t *testing.T, name string) *bundle.KeyList {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := bundle.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return &p.List
}

func TestMergeKeepsDroppedKeysAndTakesNewOnes(t *testing.T) {
	rotated := list(t, "npm/keys.json")
	old := list(t, "corepack-0.30.json")
	newOnly := &bundle.KeyList{Keys: rotated.Keys[1:]}
	tests := []struct {
		name                string
		published, upstream *bundle.KeyList
		want                []string
		oldExpires          bool
	}{
		{"first list", nil, rotated, rotated.KeyIDs(), true},
		{"rotation", old, rotated, rotated.KeyIDs(), true},
		{"upstream dropped the old key", rotated, newOnly, rotated.KeyIDs(), true},
		{"upstream dropped the old key and never dated it", old, newOnly, rotated.KeyIDs(), false},
	}
	for _, tt := range tests {
		got := Merge(tt.published, tt.upstream)
		if !reflect.DeepEqual(got.KeyIDs(), tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got.KeyIDs(), tt.want)
		}
		if (got.Keys[0].Expires != nil) != tt.oldExpires {
			t.Errorf("%s: old key expires %v", tt.name, got.Keys[0].Expires)
		}
		if err := bundle.Validate(got); err != nil {
			t.Errorf("%s: merged list invalid: %v", tt.name, err)
		}
	}
}

func TestRunNeedsAWorkspaceToStage(t *testing.T) {
	_, err := Run(context.Background(), Options{Host: "registry.example.test", Stage: true})
	if err == nil {
		t.Fatal("staged without a workspace")
	}
	boom := errors.New("registry down")
	_, err = Run(context.Background(), Options{Host: "registry.example.test", Upstream: func(context.Context) (*bundle.KeyList, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("upstream error lost: %v", err)
	}
}
