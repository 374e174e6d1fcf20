package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/client"
)

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != exitOK || !strings.HasPrefix(out, "tufkeys ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "sources built in: none") {
		t.Errorf("--version: exit %d\n%s", code, out)
	}
	code, text, _ := runCLI(t, "version")
	if code != exitOK || text != out {
		t.Errorf("version and --version differ:\n%s\n%s", text, out)
	}
	code, out, _ = runCLI(t, "version", "-o", "json")
	checkJSON(t, []string{"version"}, out)
	var v struct {
		Version   string    `json:"version"`
		GoVersion string    `json:"go_version"`
		Root      *struct{} `json:"embedded_root"`
		Repos     []string  `json:"embedded_repositories"`
		Sources   []any     `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &v); code != exitOK || err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go1.") || v.Root != nil || v.Repos == nil || v.Sources == nil {
		t.Errorf("version -o json: exit %d, %v\n%s", code, err, out)
	}
}

// A declared variable fills its flag when the command line leaves it out;
// the command line wins; a flag no variable names reads nothing.
func TestFlagsFromEnvironment(t *testing.T) {
	clearClientEnv(t)
	t.Setenv("TUFKEYS_WORKSPACE", t.TempDir())
	code, _, errOut := runCLI(t, "repo", "status")
	if code != exitFail || !strings.Contains(errOut, "run tufkeys repo init there first") || !strings.Contains(errOut, t.TempDir()[:5]) {
		t.Errorf("TUFKEYS_WORKSPACE: exit %d, %q", code, errOut)
	}
	// output format is the caller's: no variable changes what a script parses
	t.Setenv("TUFKEYS_FORMAT", "json")
	if code, out, _ := runCLI(t, "version"); code != exitOK || !strings.HasPrefix(out, "tufkeys ") {
		t.Errorf("TUFKEYS_FORMAT was read: exit %d\n%s", code, out)
	}
	t.Setenv("TUFKEYS_MAX_AGE", "-5s")
	if code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test"); code != exitUsage || !strings.Contains(errOut, "TUFKEYS_MAX_AGE") {
		t.Errorf("a bad TUFKEYS_MAX_AGE: exit %d, %q", code, errOut)
	}
	t.Setenv("TUFKEYS_MAX_AGE", "")
	code, out, _ := runCLI(t, "keys", "--help")
	if !strings.Contains(out, "(env TUFKEYS_REGISTRY)") || !strings.Contains(out, "-o, --format") {
		t.Errorf("keys --help does not name the variables and -o:\n%s", out)
	}
}

// Shell completion: the scripts, registry hosts from the cache, and the
// values of enumerated flags.
func TestCompletion(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	cache := t.TempDir()
	if code, _, errOut := runCLI(t, "keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache); code != exitOK {
		t.Fatal(errOut)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out, _ := runCLI(t, "completion", shell); code != exitOK || !strings.Contains(out, "tufkeys") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
	code, out, _ := runCLI(t, "__complete", "keys", "--repo", repo, "--root", root, "--cache", cache, "--registry", "reg")
	if code != exitOK || !strings.Contains(out, "registry.example.test\n") {
		t.Errorf("registry completion: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "__complete", "keys", "-o", "")
	for _, v := range []string{"table", "json", "corepack"} {
		if code != exitOK || !strings.Contains(out, v+"\n") {
			t.Errorf("--format completion lacks %s:\n%s", v, out)
		}
	}
}

// The build the Dockerfile and scripts/build-with-root.sh make is static:
// no dynamic loader, so it runs FROM scratch.
func TestStaticBuild(t *testing.T) {
	bin := tufkeysBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader")
		}
	}
	dockerfile, _ := os.ReadFile(filepath.Join(pkgDir, "..", "..", "Dockerfile"))
	script, _ := os.ReadFile(filepath.Join(pkgDir, "..", "..", "scripts", "build-client.sh"))
	if !strings.Contains(string(dockerfile), "scripts/build-client.sh") || !strings.Contains(string(script), "CGO_ENABLED=0 go build -tags tufkeys_client -trimpath") || !strings.Contains(string(dockerfile), "FROM scratch") {
		t.Error("the Dockerfile no longer builds what this test checks")
	}
}

// The build's sources: Sigstore's public-good repository as the tree
// ships it, behind a deployment's own.
func TestVersionNamesTheBuiltInSources(t *testing.T) {
	builtinSources = client.BuiltinSources
	t.Cleanup(func() { builtinSources = func() []client.Source { return nil } })
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.Contains(out, "sources built in: sigstore (root v") || !strings.Contains(out, "; https://") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "version", "-o", "json")
	checkJSON(t, []string{"version"}, out)
	var v struct {
		Sources []struct {
			Name string `json:"name"`
			Root *struct {
				Version int64 `json:"version"`
			} `json:"root"`
			Repos []string `json:"repositories"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Sources) == 0 || v.Sources[len(v.Sources)-1].Name != "sigstore" || v.Sources[len(v.Sources)-1].Root == nil || v.Sources[len(v.Sources)-1].Root.Version < 1 {
		t.Errorf("version -o json: %v\n%s", err, out)
	}
}
