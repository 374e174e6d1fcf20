package main

import (
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// copyModule copies the module's source (Go files, go.mod, go.sum and
// repo-metadata) to dst, so a test can build it with other embedded files.
func copyModule(t *testing.T, dst string) {
	t.Helper()
	src := filepath.Join(pkgDir, "..", "..")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		keep := strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") ||
			rel == "go.mod" || rel == "go.sum" || strings.HasPrefix(rel, "repo-metadata"+string(filepath.Separator)) ||
			strings.HasPrefix(rel, filepath.Join("cmd", "tufkeys", "internal", "demo", "data"))
		if !keep {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// goEnv holds the go command's cache locations as they were when the tests
// started, before any test moved HOME: builds keep using the warm caches.
var goEnv = func() []string {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return nil
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		return nil
	}
	return []string{"GOCACHE=" + v[0], "GOMODCACHE=" + v[1], "GOPATH=" + v[2]}
}()

// goBuild builds the package pkg of the module at dir into out, static as
// the Dockerfile builds, so that the test binaries share one build cache
// and TestStaticBuild checks what ships.
func goBuild(dir, out, pkg string, flags ...string) error {
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	cmd.Env = append(append(os.Environ(), goEnv...), "CGO_ENABLED=0")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func build(t *testing.T, module string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tufkeys")
	if err := goBuild(module, bin, "./cmd/tufkeys"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// onceBinary is a binary built once per test run, for the tests that run it.
type onceBinary struct {
	once sync.Once
	path string
	err  error
}

// get builds the binary the first time (build writes it to the path it
// is given) and returns its path.
func (b *onceBinary) get(t testing.TB, build func(out string) error) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "tufkeys-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "tufkeys")
		b.err = build(b.path)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// A deployment puts its root.json and repository URLs in repo-metadata/;
// the binary built from that tree needs no flags. The tree as shipped has
// neither, and the binary says what to pass.
func TestEmbeddedRootOfTrust(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	if err := c.StagePublish("registry.example.test", keys, 2); err != nil {
		t.Fatal(err)
	}
	h, err := repohttp.Handler(c.RepoDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	env := []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "XDG_CACHE_HOME=" + t.TempDir()}
	bare := t.TempDir()
	copyModule(t, bare)
	os.Remove(filepath.Join(bare, "repo-metadata", "root.json"))
	os.Remove(filepath.Join(bare, "repo-metadata", "repositories.txt"))
	os.RemoveAll(filepath.Join(bare, "repo-metadata", "sources"))
	cmd := exec.Command(build(t, bare), "keys", "--registry", "registry.example.test")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this build embeds none; pass --root FILE or set TUFKEYS_ROOT") {
		t.Errorf("binary without an embedded root: %v\n%s", err, out)
	}

	deployed := t.TempDir()
	copyModule(t, deployed)
	root, _ := c.RootBytes(1)
	os.WriteFile(filepath.Join(deployed, "repo-metadata", "root.json"), root, 0o644)
	os.WriteFile(filepath.Join(deployed, "repo-metadata", "repositories.txt"), []byte("# test\n"+srv.URL+"\n"), 0o644)
	cmd = exec.Command(build(t, deployed), "keys", "--registry", "registry.example.test", "--format", "corepack")
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), `{"npm":[`) || !strings.Contains(string(out), "SHA256:DhQ8") {
		t.Errorf("binary with an embedded root and no flags: %v\n%s", err, out)
	}
}
