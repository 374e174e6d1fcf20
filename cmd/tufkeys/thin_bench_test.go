package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// goBuildThin builds the thin client as scripts/build-client.sh does:
// static, stripped, with the tufkeys_client tag.
func goBuildThin(out string) error {
	return goBuild(filepath.Join(pkgDir, "..", ".."), out, "./cmd/tufkeys", "-tags", "tufkeys_client", "-trimpath", "-ldflags=-s -w")
}

// buildHello builds the baseline: a Go program that prints one line.
func buildHello(t testing.TB, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "hello")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	bin := filepath.Join(dir, "hello-bin")
	if err := goBuild(src, bin, ".", "-trimpath", "-ldflags=-s -w"); err != nil {
		t.Fatal(err)
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
	if err := goBuildThin(thin); err != nil {
		b.Fatal(err)
	}
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
