package corepack

import (
	"errors"
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
	// JSON.parse reads the exact key, and the last of duplicates
	cased := t.TempDir()
	os.WriteFile(filepath.Join(cased, "package.json"), []byte(`{"PackageManager":"pnpm@9.0.0","packageManager":"pnpm@10.1.0"}`), 0o644)
	dup := t.TempDir()
	os.WriteFile(filepath.Join(dup, "package.json"), []byte(`{"packageManager":"pnpm@9.0.0","packageManager":"pnpm@10.1.0"}`), 0o644)
	onlyCased := t.TempDir()
	os.WriteFile(filepath.Join(onlyCased, "package.json"), []byte(`{"PackageManager":"pnpm@9.0.0"}`), 0o644)
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
		{[]string{"pnpm", "install"}, cased, "pnpm@10.1.0"},
		{[]string{"pnpm", "install"}, dup, "pnpm@10.1.0"},
		{[]string{"pnpm", "install"}, onlyCased, ""},
	}
	for _, tt := range tests {
		got, ok, err := FindTarget(tt.argv, tt.dir)
		if err != nil || (tt.want == "") == ok || (ok && got.ID() != tt.want) {
			t.Errorf("FindTarget(%v) = %+v, %v; want %q", tt.argv, got, ok, tt.want)
		}
	}
}

// A package.json on the way that Corepack would stop at (too large, not
// JSON, too deep, a packageManager that is no string) is a refusal, never
// a fall-through to a parent directory's field.
func TestFindTargetUnreadableManifest(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)
	for name, body := range map[string]string{
		"over 1 MiB":    `{"packageManager":"pnpm@9.0.0","pad":"` + strings.Repeat("x", 1<<20) + `"}`,
		"not JSON":      `{"packageManager":`,
		"nested deeply": `{"packageManager":"pnpm@9.0.0","x":` + deep + `}`,
		"not an object": `["pnpm@9.0.0"]`,
		"not a string":  `{"packageManager":["pnpm@9.0.0"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			os.WriteFile(filepath.Join(parent, "package.json"), []byte(`{"packageManager":"pnpm@10.1.0"}`), 0o644)
			child := filepath.Join(parent, "child")
			os.Mkdir(child, 0o755)
			os.WriteFile(filepath.Join(child, "package.json"), []byte(body), 0o644)
			got, ok, err := FindTarget([]string{"pnpm", "install"}, child)
			if !errors.Is(err, ErrManifest) || ok {
				t.Errorf("got %+v, %v, %v; want ErrManifest", got, ok, err)
			}
		})
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
