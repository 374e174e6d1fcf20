package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildThin builds the thin client as scripts/build-client.sh does: static,
// stripped, with the tufkeys_client tag.
func buildThin(t testing.TB, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-tags", "tufkeys_client", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/tufkeys")
	cmd.Dir = filepath.Join(pkgDir, "..", "..")
	cmd.Env = append(append(os.Environ(), goEnv...), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the thin client: %v\n%s", err, b)
	}
}

// buildHello builds the baseline: a Go program that prints one line.
func buildHello(t testing.TB, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "hello")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	bin := filepath.Join(dir, "hello-bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(append(os.Environ(), goEnv...), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, b)
	}
	return bin
}

// BenchmarkThinClientProcess runs a fresh tufkeys keys process of the thin
// client (fresh cache, no network) against a Go program that only prints a
// line, process against process, interleaved, in the same run; it reports
// both, their ratio, and the thin binary's size.
func BenchmarkThinClientProcess(b *testing.B) {
	dir := b.TempDir()
	thin := filepath.Join(dir, "tufkeys")
	buildThin(b, thin)
	hello := buildHello(b, dir)
	fi, _ := os.Stat(thin)
	_, repo, root := published(b, "npm/keys.json")
	cache := filepath.Join(dir, "cache")
	args := []string{"keys", "--registry", "registry.example.test", "--repo", repo, "--root", root, "--cache", cache, "-o", "json"}
	if out, err := exec.Command(thin, args...).CombinedOutput(); err != nil {
		b.Fatalf("fill the cache: %v\n%s", err, out)
	}
	run := func(bin string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", bin, err, out)
		}
		return time.Since(start)
	}
	var thinTotal, helloTotal time.Duration
	b.ResetTimer()
	for range b.N {
		helloTotal += run(hello)
		thinTotal += run(thin, args...)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(thinTotal.Microseconds())/n, "thin-µs/op")
	b.ReportMetric(float64(helloTotal.Microseconds())/n, "hello-µs/op")
	b.ReportMetric(float64(thinTotal)/float64(helloTotal), "ratio")
	b.ReportMetric(float64(fi.Size())/1e6, "MB")
}
