package corepack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFindTarget(t *testing.T) {
	project := t.TempDir()
	sub := filepath.Join(project, "packages", "app")
	os.MkdirAll(sub, 0o755)
	// the nearest package.json without packageManager is passed over, as Corepack does
	os.WriteFile(filepath.Join(sub, "package.json"), []byte(`{"name":"app"}`), 0o644)
	os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"packageManager":"pnpm@10.1.0"}`), 0o644)
	hashed := t.TempDir()
	os.WriteFile(filepath.Join(hashed, "package.json"), []byte(`{"packageManager":"pnpm@10.1.0+sha512.abc"}`), 0o644)
	berry := t.TempDir()
	os.WriteFile(filepath.Join(berry, "package.json"), []byte(`{"packageManager":"yarn@4.5.0"}`), 0o644)
	none := t.TempDir()
	tests := []struct {
		argv []string
		dir  string
		want string // package@version, empty: not known
	}{
		{[]string{"corepack", "pnpm@10.1.0", "install"}, none, "pnpm@10.1.0"},
		{[]string{"/usr/bin/corepack", "npm@11.1.0", "--version"}, none, "npm@11.1.0"},
		{[]string{"corepack", "yarn@1.22.22"}, none, "yarn@1.22.22"},
		{[]string{"corepack", "yarn@4.5.0"}, none, ""},
		{[]string{"corepack", "pnpm@10", "install"}, none, ""},
		{[]string{"corepack", "pnpm@latest"}, none, ""},
		{[]string{"corepack", "enable"}, project, ""},
		{[]string{"corepack", "pnpm", "install"}, sub, "pnpm@10.1.0"},
		{[]string{"pnpm", "install"}, sub, "pnpm@10.1.0"},
		{[]string{"pnpx", "x"}, sub, "pnpm@10.1.0"},
		{[]string{"yarn", "install"}, sub, ""},
		{[]string{"pnpm", "install"}, hashed, ""},
		{[]string{"yarn"}, berry, ""},
		{[]string{"pnpm", "install"}, none, ""},
		{[]string{"make", "pnpm@10.1.0"}, none, ""},
	}
	for _, tt := range tests {
		got, ok := FindTarget(tt.argv, tt.dir)
		if (tt.want == "") == ok || (ok && got.ID() != tt.want) {
			t.Errorf("FindTarget(%v) = %+v, %v; want %q", tt.argv, got, ok, tt.want)
		}
	}
}

func TestFailedKeyIDs(t *testing.T) {
	stderr, err := os.ReadFile(filepath.Join("testdata", "corepack-unknown-keyid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := FailedKeyIDs(stderr); !reflect.DeepEqual(got, []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}) {
		t.Errorf("keyids: %v", got)
	}
	for _, other := range []string{"", "Error: Signature does not match", "Cannot find matching keyid: {not json}"} {
		if got := FailedKeyIDs([]byte(other)); got != nil {
			t.Errorf("%q: %v", other, got)
		}
	}
}

func TestValueNeverEmpty(t *testing.T) {
	if _, err := Value(nil); err == nil {
		t.Error("a value from no list")
	}
	env, inherited, set := Environ([]string{"A=1", EnvKeys + "=", "B=2"}, `{"npm":[{"keyid":"x"}]}`)
	if !set || inherited != "" || len(env) != 3 || !strings.HasPrefix(env[2], EnvKeys+`={"npm"`) {
		t.Errorf("Environ: %v %q %v", env, inherited, set)
	}
	if !SkipsCheck("") || !SkipsCheck("0") || SkipsCheck(`{"npm":[]}`) {
		t.Error("SkipsCheck")
	}
}

func TestLookPathSkipsShimDirectories(t *testing.T) {
	shims, real := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(shims, ShimMarker), nil, 0o644)
	for _, d := range []string{shims, real} {
		os.WriteFile(filepath.Join(d, "corepack"), []byte("#!/bin/sh\n"), 0o755)
	}
	got, err := LookPath("corepack", strings.Join([]string{shims, shims, real}, string(os.PathListSeparator)))
	if err != nil || got != filepath.Join(real, "corepack") {
		t.Errorf("LookPath: %q, %v", got, err)
	}
	if _, err := LookPath("corepack", shims); err == nil {
		t.Error("found the shim itself")
	}
}
