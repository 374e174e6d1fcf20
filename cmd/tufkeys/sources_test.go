package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
)

// twoSources makes the build's sources a tufkeys repository listing
// registry.example.test ("deployment") and a Sigstore-shaped one listing
// shaped.example.test and, when both is set, registry.example.test too
// ("sigstore"), on loopback.
func twoSources(t *testing.T, both bool) (deployment, sigstore string) {
	t.Helper()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("registry.example.test", mustRead(t, filepath.Join(pkgDir, fixtures, "corepack-0.30.json")), 2); err != nil {
		t.Fatal(err)
	}
	p, _ := bundle.Parse(mustRead(t, filepath.Join(pkgDir, fixtures, "npm/keys.json")))
	list, _ := bundle.Encode(&p.List, bundle.FormSigstore)
	s, err := tufrepo.NewShaped(t.TempDir(), time.Now(), "shaped.example.test", list)
	if err != nil {
		t.Fatal(err)
	}
	if both {
		if err := s.Delegate("targets", "registry.example.test", []string{"registry.example.test/*"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddTarget("registry.example.test", "registry.example.test/keys.json", list); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish("targets", "registry.example.test"); err != nil {
			t.Fatal(err)
		}
	}
	deployment, sigstore = testutil.Serve(t, c.RepoDir), testutil.Serve(t, s.Dir)
	dRoot, _ := c.RootBytes(1)
	sRoot, _ := s.RootBytes(1)
	builtinSources = func() []client.Source {
		return []client.Source{
			{Name: "deployment", Root: dRoot, Repositories: []string{deployment}},
			{Name: "sigstore", Root: sRoot, Repositories: []string{sigstore}},
		}
	}
	t.Cleanup(func() { builtinSources = func() []client.Source { return nil } })
	return deployment, sigstore
}

// With two sources built in, each registry is answered by the first that
// lists it; sources lists both and names a registry both list; export
// writes an archive per source, import puts each into its source's cache,
// and the keys are read offline from either; a source's archive mirrors
// against the root it chains to, and --source-repo points a source at
// that mirror.
func TestTwoSources(t *testing.T) {
	clearClientEnv(t)
	twoSources(t, true)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	steps := []struct {
		args []string
		code int
		want []string
	}{
		// the deployment answers for the host both list: its one key
		{[]string{"keys", "--registry", "registry.example.test", "-o", "json"}, exitOK, []string{"SHA256:jl3b"}},
		{[]string{"keys", "--registry", "shaped.example.test"}, exitOK, []string{"SHA256:DhQ8"}},
		{[]string{"keys", "--registry", "none.example.test"}, exitFail, []string{"no source lists a key list for none.example.test"}},
		{[]string{"sources"}, exitOK, []string{"deployment", "sigstore", "registry.example.test is listed by deployment and sigstore: deployment answers"}},
		{[]string{"export", "--to", "keys.tar.gz"}, exitOK, []string{"exported deployment", "exported sigstore"}},
		{[]string{"export", "--to", "-"}, exitUsage, []string{"name one with --source"}},
		{[]string{"keys", "--registry", "shaped.example.test", "--source-repo", "nowhere=https://mirror.example.test/"}, exitUsage, []string{"not a source of this build"}},
		{[]string{"keys", "--registry", "shaped.example.test", "--source-repo", "sigstore=htp://x"}, exitUsage, []string{"not a repository URL"}},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.args...)
		if code != s.code {
			t.Fatalf("%v: exit %d, want %d\n%s%s", s.args, code, s.code, out, errOut)
		}
		for _, w := range s.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v: lacks %q\n%s%s", s.args, w, out, errOut)
			}
		}
	}
	if _, out, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "-o", "json"); strings.Contains(out, "SHA256:DhQ8") {
		t.Errorf("the lists of two sources were merged:\n%s%s", out, errOut)
	}
	// inside an air gap: both archives imported, each into its source
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, errOut := runCLI(t, "import", "keys-deployment.tar.gz", "keys-sigstore.tar.gz")
	if code != exitOK || !strings.Contains(out, "(source deployment)") || !strings.Contains(out, "(source sigstore)") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	for host, key := range map[string]string{"registry.example.test": "SHA256:jl3b", "shaped.example.test": "SHA256:DhQ8"} {
		if code, out, errOut := runCLI(t, "keys", "--registry", host, "--offline"); code != exitOK || !strings.Contains(out, key) {
			t.Errorf("%s offline after the import: exit %d\n%s%s", host, code, out, errOut)
		}
	}
	// the Sigstore archive mirrored, and the source read from the mirror
	if code, out, errOut := runCLI(t, "mirror", "--from", "keys-sigstore.tar.gz", "--to", "www"); code != exitOK {
		t.Fatalf("mirror: exit %d\n%s%s", code, out, errOut)
	}
	mirrorURL := testutil.Serve(t, filepath.Join(dir, "www"))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if code, out, errOut := runCLI(t, "keys", "--registry", "shaped.example.test", "--source-repo", "sigstore="+mirrorURL); code != exitOK || !strings.Contains(out, "SHA256:DhQ8") {
		t.Errorf("through the mirror: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat("keys-sigstore.tar.gz"); err != nil {
		t.Error(err)
	}
}
