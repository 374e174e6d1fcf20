package statuspage_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/tufkeys/tufkeys/signer/statuspage"
)

// paint is what Chromium measured for one page.
type paint struct {
	fcp, load float64 // milliseconds from navigation start
	bytes     int
}

var timing = regexp.MustCompile(`fcp=([0-9.]+) load=([0-9.]+) bytes=([0-9]+)`)

// measurePaint opens page (a path on base) in headless Chromium through
// testdata/paint.html, runs times, and returns the median run.
func measurePaint(b *testing.B, chromium, base, page string, runs int) paint {
	b.Helper()
	var got []paint
	for range runs {
		cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir="+b.TempDir(), "--virtual-time-budget=60000",
			"--dump-dom", base+"/paint.html?page="+page)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("chromium: %v", err)
		}
		m := timing.FindSubmatch(out)
		if m == nil {
			b.Fatalf("no paint timing for %s", page)
		}
		var p paint
		fmt.Sscan(string(m[1]), &p.fcp)
		fmt.Sscan(string(m[2]), &p.load)
		fmt.Sscan(string(m[3]), &p.bytes)
		got = append(got, p)
	}
	slices.SortFunc(got, func(x, y paint) int { return int(x.load - y.load) })
	return got[len(got)/2]
}

// writePage renders s into dir, with the paint harness beside it.
func writePage(b *testing.B, s statuspage.Status, dir string) (largestRolePage string) {
	b.Helper()
	files, err := s.Render()
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			b.Fatal(err)
		}
		if f.Name != statuspage.Page && len(f.Data) > size {
			largestRolePage, size = f.Name, len(f.Data)
		}
	}
	harness, err := os.ReadFile(filepath.Join("testdata", "paint.html"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "paint.html"), harness, 0o644); err != nil {
		b.Fatal(err)
	}
	return largestRolePage
}

// BenchmarkStatusPagePaint measures the status page in Chromium, served
// over loopback HTTP: its size, first contentful paint and load at 100
// and at 10,000 registries in 64 bins, the ratio between the two, and
// the single page that held every registry (what tufkeys wrote before
// role pages) at 10,000 as the baseline the role pages replace.
func BenchmarkStatusPagePaint(b *testing.B) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		b.Skip("Chromium is not installed: run scripts/test.sh, which installs it")
	}
	small, large := manyLike(b, 100), manyLike(b, 10000)
	flat := large
	flat.Pages = nil // every registry on index.html
	root := b.TempDir()
	for _, d := range []string{"small", "large", "flat"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	writePage(b, small, filepath.Join(root, "small"))
	rolePage := writePage(b, large, filepath.Join(root, "large"))
	writePage(b, flat, filepath.Join(root, "flat"))
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer srv.Close()
	var s, l, r, f paint
	for b.Loop() {
		s = measurePaint(b, chromium, srv.URL+"/small", "index.html", 3)
		l = measurePaint(b, chromium, srv.URL+"/large", "index.html", 3)
		r = measurePaint(b, chromium, srv.URL+"/large", rolePage, 3)
		f = measurePaint(b, chromium, srv.URL+"/flat", "index.html", 3)
	}
	b.ReportMetric(float64(s.bytes), "index-bytes@100")
	b.ReportMetric(float64(l.bytes), "index-bytes@10000")
	b.ReportMetric(float64(r.bytes), "largest-role-page-bytes@10000")
	b.ReportMetric(float64(f.bytes), "single-page-bytes@10000")
	b.ReportMetric(s.fcp, "fcp-ms@100")
	b.ReportMetric(l.fcp, "fcp-ms@10000")
	b.ReportMetric(l.fcp/s.fcp, "fcp-ratio")
	b.ReportMetric(s.load, "load-ms@100")
	b.ReportMetric(l.load, "load-ms@10000")
	b.ReportMetric(l.load/s.load, "load-ratio")
	b.ReportMetric(r.fcp, "role-page-fcp-ms@10000")
	b.ReportMetric(r.load, "role-page-load-ms@10000")
	b.ReportMetric(f.fcp, "single-page-fcp-ms@10000")
	b.ReportMetric(f.load, "single-page-load-ms@10000")
}
