package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// liveRegistry serves /-/npm/v1/keys with whatever the test sets.
type liveRegistry struct {
	*httptest.Server
	body   atomic.Pointer[[]byte]
	status atomic.Int32
}

func newLiveRegistry(t *testing.T) *liveRegistry {
	r := &liveRegistry{}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/-/npm/v1/keys" {
			http.NotFound(w, req)
			return
		}
		w.WriteHeader(int(r.status.Load()))
		if b := r.body.Load(); b != nil {
			w.Write(*b)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *liveRegistry) serve(t *testing.T, fixtureName string) {
	data, err := os.ReadFile(filepath.Join(pkgDir, fixtures, fixtureName))
	if err != nil {
		data = []byte(fixtureName) // raw text for malformed answers
	}
	r.body.Store(&data)
}

// newOnlyList is the rotated list without the old key.
func newOnlyList(t *testing.T) string {
	p, err := bundle.Parse(mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")))
	if err != nil {
		t.Fatal(err)
	}
	p.List.Keys = p.List.Keys[1:]
	out, _ := bundle.Encode(&p.List, bundle.FormNPM)
	return string(out)
}

func mustRead(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCLIWatch(t *testing.T) {
	tests := []struct {
		name      string
		published string // fixture published for the registry's host
		upstream  string // fixture or raw body the registry serves
		status    int
		stage     bool
		down      bool
		code      int
		want      []string
	}{
		{name: "same", published: "npm/keys.json", upstream: "npm/keys.json", code: exitOK, want: []string{"matches the published one (2 keys)"}},
		{name: "key added", published: "corepack-0.30.json", upstream: "npm/keys.json", code: exitDiffers, want: []string{"differs", "+ SHA256:DhQ8", "~ SHA256:jl3b", "expires null -> 2025-01-29T00:00:00.000Z"}},
		{name: "key added, staged", published: "corepack-0.30.json", upstream: "npm/keys.json", stage: true, code: exitDiffers, want: []string{"+ SHA256:DhQ8", "in targets v2 for signing (new keys and expiry changes only)"}},
		{name: "key removed", published: "npm/keys.json", upstream: "NEW-ONLY", code: exitDiffers, want: []string{"- SHA256:jl3b", "SUSPICIOUS", "--remove-key SHA256:jl3b"}},
		{name: "key removed, not staged", published: "npm/keys.json", upstream: "NEW-ONLY", stage: true, code: exitDiffers, want: []string{"SUSPICIOUS", "nothing staged: the registry only dropped keys"}},
		{name: "registry down", published: "npm/keys.json", down: true, code: exitFail, want: []string{"cannot reach the registry"}},
		{name: "malformed response", published: "npm/keys.json", upstream: "<html>maintenance</html>", code: exitFail, want: []string{"is not valid", "not a JSON object"}},
		{name: "list fails validation", published: "npm/keys.json", upstream: "invalid/keyid-mismatch.json", code: exitFail, want: []string{"is not valid", "keyid does not match"}},
		{name: "registry error", published: "npm/keys.json", upstream: "npm/keys.json", status: 502, code: exitFail, want: []string{"answered 502"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearClientEnv(t)
			reg := newLiveRegistry(t)
			host, _ := bundle.RegistryHost(reg.URL)
			c, err := ceremony.New(t.TempDir(), ceremony.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.StagePublish(host, mustRead(t, filepath.Join(pkgDir, fixtures, tt.published)), 2); err != nil {
				t.Fatal(err)
			}
			h, _ := repohttp.Handler(c.RepoDir, nil)
			repo := httptest.NewServer(h)
			defer repo.Close()
			root := filepath.Join(t.TempDir(), "root.json")
			rb, _ := c.RootBytes(1)
			os.WriteFile(root, rb, 0o644)
			if tt.upstream == "NEW-ONLY" {
				b := []byte(newOnlyList(t))
				reg.body.Store(&b)
			} else {
				reg.serve(t, tt.upstream)
			}
			if tt.status != 0 {
				reg.status.Store(int32(tt.status))
			}
			registryURL := reg.URL
			if tt.down {
				registryURL = "http://127.0.0.1:1"
			}
			args := []string{"watch", "--registry", registryURL, "--repo", repo.URL, "--root", root, "--cache", t.TempDir()}
			if tt.stage {
				args = append(args, "--workspace", c.WS.Dir, "--stage")
			}
			code, out, errOut := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
			if tt.stage && tt.name == "key added, staged" {
				st, err := c.WS.Status()
				if err != nil || len(st.Bundles) != 1 || len(st.Bundles[0].Diff.Added) != 1 || len(st.Bundles[0].Diff.Removed) != 0 {
					t.Errorf("staged change %+v, %v", st.Bundles, err)
				}
			}
		})
	}
}

// watch --every runs as a loop: each round reports, a failed round does
// not end it, and a difference names the commands that stage, sign and
// publish it.
func TestWatchLoop(t *testing.T) {
	clearClientEnv(t)
	// round 1 matches; then the registry fails once; then it rotates
	var rounds atomic.Int32
	old, rotated := mustRead(t, filepath.Join(pkgDir, fixtures, "corepack-0.30.json")), mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch rounds.Add(1) {
		case 1:
			w.Write(old)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.Write(rotated)
		}
	}))
	defer reg.Close()
	host, _ := bundle.RegistryHost(reg.URL)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, old, 2); err != nil {
		t.Fatal(err)
	}
	h, _ := repohttp.Handler(c.RepoDir, nil)
	repo := httptest.NewServer(h)
	defer repo.Close()
	root := filepath.Join(t.TempDir(), "root.json")
	rb, _ := c.RootBytes(1)
	os.WriteFile(root, rb, 0o644)
	var out, errb strings.Builder
	opts := watchOptions{streams: streams{Out: &out, Err: &errb}, Registry: reg.URL, Every: "1s", Rounds: 3,
		Client: clientFlags{Repos: []string{repo.URL}, Root: root, Cache: t.TempDir()}}
	if err := runWatchLoop(context.Background(), opts); err != nil {
		t.Fatalf("loop: %v\n%s%s", err, out.String(), errb.String())
	}
	got := out.String()
	for _, want := range []string{"round 1", "matches the published one", "round 3", "+ SHA256:DhQ8", "stage:   tufkeys watch --registry " + reg.URL, "sign:    tufkeys repo sign", "publish: tufkeys repo publish"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(errb.String(), "round 2 failed") {
		t.Errorf("the failed round is not reported:\n%s", errb.String())
	}
	// -o json: one document per line, each a whole JSON document
	out.Reset()
	opts.Format, opts.Rounds = "json", 2
	if err := runWatchLoop(context.Background(), opts); err != nil {
		t.Fatalf("loop -o json: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Errorf("-o json printed %d lines for 2 rounds:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(l), &doc); err != nil || doc["registry"] == nil {
			t.Errorf("not a JSON document on one line: %q (%v)", l, err)
		}
	}
	if err := runWatchLoop(context.Background(), watchOptions{Every: "10ms"}); err == nil || !strings.Contains(err.Error(), "shorter than") {
		t.Errorf("a period too short: %v", err)
	}
}

// watch follows a built-in source's verified list instead of the
// registry's TLS-only endpoint: the rotation the registry's operator
// signed into the (Sigstore-shaped) source is staged for the
// organization's maintainers; a list that does not verify stages nothing.
func TestWatchFollowsASource(t *testing.T) {
	clearClientEnv(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const host = "registry.example.test"
	p, _ := bundle.Parse(mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")))
	list, _ := bundle.Encode(&p.List, bundle.FormSigstore)
	shaped, err := tufrepo.NewShaped(t.TempDir(), time.Now(), host, list)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := shaped.RootBytes(1)
	upstream := testutil.Serve(t, shaped.Dir)
	builtinSources = func() []client.Source {
		return []client.Source{{Name: "sigstore", Root: rb, Repositories: []string{upstream}}}
	}
	t.Cleanup(func() { builtinSources = func() []client.Source { return nil } })

	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, mustRead(t, filepath.Join(pkgDir, fixtures, "corepack-0.30.json")), 2); err != nil {
		t.Fatal(err)
	}
	repo := testutil.Serve(t, c.RepoDir)
	root := filepath.Join(t.TempDir(), "root.json")
	orgRoot, _ := c.RootBytes(1)
	os.WriteFile(root, orgRoot, 0o644)
	args := []string{"watch", "--registry", host, "--upstream-source", "sigstore", "--repo", repo, "--root", root, "--cache", t.TempDir(), "--workspace", c.WS.Dir, "--stage"}
	code, out, errOut := runCLI(t, args...)
	if code != exitDiffers || !strings.Contains(out, "+ SHA256:DhQ8") || !strings.Contains(out, "staged "+host+"/keys.json") {
		t.Fatalf("following the source: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "watch", "--registry", host, "--upstream-source", "nowhere", "--repo", repo, "--root", root); code != exitUsage || !strings.Contains(errOut, "not a source of this build") {
		t.Errorf("an unknown source: exit %d\n%s", code, errOut)
	}
	// the source's list tampered with: refused, nothing more staged
	files, _ := filepath.Glob(filepath.Join(shaped.Dir, "targets", host, "*.keys.json"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		os.WriteFile(f, bytes.Replace(data, []byte("npm:signatures"), []byte("npm:signaturez"), 1), 0o644)
	}
	fresh, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.StagePublish(host, mustRead(t, filepath.Join(pkgDir, fixtures, "corepack-0.30.json")), 2); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, errOut = runCLI(t, "watch", "--registry", host, "--upstream-source", "sigstore", "--repo", testutil.Serve(t, fresh.RepoDir), "--root", filepath.Join(fresh.WS.Dir, "published", "1.root.json"), "--workspace", fresh.WS.Dir, "--stage")
	if code != exitFail || strings.Contains(out, "staged") {
		t.Errorf("a tampered source: exit %d\n%s%s", code, out, errOut)
	}
	if st, err := fresh.WS.Status(); err != nil || len(st.Bundles) != 0 {
		t.Errorf("something was staged from a tampered source: %+v, %v", st.Bundles, err)
	}
}

// watch --stage stages changes to registries the repository publishes,
// never a new one: a typo in a job's registry list adds nothing.
func TestWatchStagesNoNewRegistry(t *testing.T) {
	clearClientEnv(t)
	reg := newLiveRegistry(t)
	reg.serve(t, "npm/keys.json")
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("published.example.test", mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")), 2); err != nil {
		t.Fatal(err)
	}
	repo := testutil.Serve(t, c.RepoDir)
	code, out, errOut := runCLI(t, "watch", "--registry", reg.URL, "--repo", repo, "--root", filepath.Join(c.WS.Dir, "published", "1.root.json"), "--cache", t.TempDir(), "--workspace", c.WS.Dir, "--stage")
	if code != exitFail || !strings.Contains(errOut, "publishes no key list for") || !strings.Contains(errOut, "--new") {
		t.Errorf("a registry the repository does not publish: exit %d\n%s%s", code, out, errOut)
	}
	if st, err := c.WS.Status(); err != nil || len(st.Bundles) != 0 {
		t.Errorf("staged %+v, %v", st.Bundles, err)
	}
}
