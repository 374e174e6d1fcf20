package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fixture(t *testing.T, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return m
}

// fakeRegistry serves version documents in the registry's form and
// packuments whose "time" comes after a large "versions" object.
func fakeRegistry(t *testing.T, published map[string]string, ids ...string) *httptest.Server {
	docs := map[string]any{}
	packuments := map[string]string{}
	for _, id := range ids {
		f := fixture(t, id)
		name, version := f["name"].(string), f["version"].(string)
		doc := map[string]any{"name": name, "version": version, "dist": map[string]any{"integrity": f["integrity"], "shasum": f["shasum"], "signatures": f["signatures"]}}
		docs["/"+strings.ReplaceAll(name, "/", "%2F")+"/"+version] = doc
		filler := strings.Repeat(`"x",`, 50000)
		timeObj, _ := json.Marshal(map[string]string{version: published[name+"@"+version], "created": "2020-01-01T00:00:00Z"})
		packuments["/"+strings.ReplaceAll(name, "/", "%2F")] = `{"name":"` + name + `","versions":{"big":[` + filler + `"y"]},"time":` + string(timeObj) + `}`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if d, ok := docs[p]; ok {
			json.NewEncoder(w).Encode(d)
			return
		}
		if pk, ok := packuments[p]; ok {
			w.Write([]byte(pk))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVersionWithPublishTime(t *testing.T) {
	srv := fakeRegistry(t, map[string]string{"pnpm@10.1.0": "2025-01-22T10:00:00.000Z"}, "pnpm@10.1.0")
	c, err := New(srv.URL+"/", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v, note, err := c.Version(context.Background(), "pnpm", "10.1.0")
	if err != nil || note != "" {
		t.Fatalf("%v, note %q", err, note)
	}
	if v.Name != "pnpm" || len(v.Signatures) != 1 || !v.Published.Equal(time.Date(2025, 1, 22, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("version %+v", v)
	}
	if _, _, err := c.Version(context.Background(), "pnpm", "99.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing version: %v", err)
	}
}

func TestScopedPackageAndMissingTime(t *testing.T) {
	srv := fakeRegistry(t, map[string]string{}, "yarnpkg__cli-dist@4.18.1")
	c, _ := New(srv.URL, nil, 5*time.Second)
	v, note, err := c.Version(context.Background(), "@yarnpkg/cli-dist", "4.18.1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "@yarnpkg/cli-dist" || !v.Published.IsZero() || !strings.Contains(note, "publish time unknown") {
		t.Errorf("version %+v, note %q", v, note)
	}
}

func TestSplitSpec(t *testing.T) {
	tests := []struct{ in, name, version string }{
		{"pnpm@10.1.0", "pnpm", "10.1.0"},
		{"@yarnpkg/cli-dist@4.18.1", "@yarnpkg/cli-dist", "4.18.1"},
	}
	for _, tt := range tests {
		n, v, err := SplitSpec(tt.in)
		if err != nil || n != tt.name || v != tt.version {
			t.Errorf("SplitSpec(%q) = %q %q %v", tt.in, n, v, err)
		}
	}
	for _, bad := range []string{"pnpm", "@scope/pkg", "pnpm@", "@pnpm"} {
		if _, _, err := SplitSpec(bad); err == nil {
			t.Errorf("SplitSpec(%q) accepted", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	project := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NPM_CONFIG_USERCONFIG", "")
	t.Setenv("npm_config_registry", "")
	t.Setenv("NPM_CONFIG_REGISTRY", "")
	// no npm on PATH: nothing is assumed
	t.Setenv("PATH", t.TempDir())
	if _, err := Resolve("", project); !errors.Is(err, ErrNoRegistry) {
		t.Fatalf("nothing configured: %v", err)
	}
	// npm's own default, as the npm on PATH reports it (a stand-in npm)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\n[ \"$*\" = \"config get registry\" ] && echo https://default.example.test/\n"), 0o755)
	t.Setenv("PATH", bin)
	if got, err := Resolve("", project); got != "https://default.example.test/" || err != nil {
		t.Errorf("npm's default: %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\necho 'not a url'\n"), 0o755)
	if _, err := Resolve("", project); !errors.Is(err, ErrNoRegistry) {
		t.Errorf("npm answering no URL: %v", err)
	}
	os.WriteFile(filepath.Join(home, ".npmrc"), []byte("; comment\nregistry=https://${REG_HOST}/\n"), 0o600)
	t.Setenv("REG_HOST", "user.example.test")
	if got, _ := Resolve("", project); got != "https://user.example.test/" {
		t.Errorf("user .npmrc: %q", got)
	}
	os.WriteFile(filepath.Join(project, ".npmrc"), []byte("registry = \"https://project.example.test/\"\n"), 0o600)
	if got, _ := Resolve("", project); got != "https://project.example.test/" {
		t.Errorf("project .npmrc: %q", got)
	}
	// from inside the project, as npm finds it: the nearest package.json
	sub := filepath.Join(project, "packages", "app", "src")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(project, "package.json"), []byte("{}"), 0o644)
	if got, _ := Resolve("", sub); got != "https://project.example.test/" {
		t.Errorf("from a subdirectory: %q", got)
	}
	t.Setenv("npm_config_registry", "https://env.example.test/")
	if got, _ := Resolve("", project); got != "https://env.example.test/" {
		t.Errorf("environment: %q", got)
	}
	if got, _ := Resolve("https://flag.example.test/", project); got != "https://flag.example.test/" {
		t.Errorf("flag: %q", got)
	}
}

// A cloned project's .npmrc cannot make tufkeys send one of the user's
// variables to a host the project chooses, or print it: ${...} there is
// refused, naming the file; the user's own .npmrc still expands. No URL
// tufkeys requests or prints carries credentials.
func TestProjectCannotLeakVariables(t *testing.T) {
	home, project := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NPM_CONFIG_USERCONFIG", "")
	t.Setenv("npm_config_registry", "")
	t.Setenv("NPM_CONFIG_REGISTRY", "")
	t.Setenv("CI_SECRET", "s3cr3t-value")
	os.WriteFile(filepath.Join(project, "package.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(project, ".npmrc"), []byte("registry=https://collector.example.test/${CI_SECRET}/\n"), 0o600)
	got, err := Resolve("", project)
	if !errors.Is(err, ErrProjectExpansion) || got != "" {
		t.Fatalf("project .npmrc with ${...}: %q, %v", got, err)
	}
	if !strings.Contains(err.Error(), filepath.Join(project, ".npmrc")) || !strings.Contains(err.Error(), "npm_config_registry") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the refusal: %v", err)
	}
	// the user's own configuration may use variables, and its credentials stay home
	user := filepath.Join(t.TempDir(), "npmrc")
	os.WriteFile(user, []byte("registry=https://me:${CI_SECRET}@registry.example.test/npm/?token=${CI_SECRET}\n"), 0o600)
	t.Setenv("NPM_CONFIG_USERCONFIG", user)
	os.Remove(filepath.Join(project, ".npmrc"))
	if got, err := Resolve("", project); err != nil || got != "https://registry.example.test/npm/" {
		t.Errorf("user .npmrc: %q, %v", got, err)
	}
	// a URL typed with credentials is neither sent nor printed
	var mu sync.Mutex
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen += r.Header.Get("Authorization") + r.URL.RawQuery
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	withSecret := strings.Replace(srv.URL, "http://", "http://me:s3cr3t-value@", 1) + "/?token=s3cr3t-value"
	c, err := New(withSecret, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Version(context.Background(), "pkg", "1.0.0")
	mu.Lock()
	defer mu.Unlock()
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || seen != "" {
		t.Errorf("credentials sent (%q) or printed: %v", seen, err)
	}
	if _, err := New("https://me:s3cr3t-value@bad host/?t=s3cr3t-value", nil, time.Second); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a bad URL printed its credentials: %v", err)
	}
}
