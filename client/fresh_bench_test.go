package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// BenchmarkFreshKeys is a long-lived client answering Keys from a fresh
// cache, against the least any answer costs: reading the cached key list
// and parsing it. It reports the ratio of time and of bytes allocated, for
// a repository of 1 and of 10,000 registries (target: at most 2 each).
func BenchmarkFreshKeys(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("registries=%d", n), func(b *testing.B) {
			w := newWorld(b, "npm/keys.json")
			if n > 1 {
				list := fixture(b, "npm/keys.json")
				items := make([]workspace.StageItem, n-1)
				for i := range items {
					items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true}
				}
				if _, err := w.c.WS.StageMany(items); err != nil {
					b.Fatal(err)
				}
				if err := w.c.Sign(2); err != nil {
					b.Fatal(err)
				}
				if _, err := w.c.Publish(); err != nil {
					b.Fatal(err)
				}
			}
			cl, _ := w.client(b.TempDir(), func(o *client.Options) { o.MaxAge = client.Age(24 * time.Hour) })
			ctx := context.Background()
			// the first call updates, the second verifies the answer set
			// once and keeps it: what a long-lived client does from then on
			// is what is measured
			for range 2 {
				if _, err := cl.Keys(ctx, host); err != nil {
					b.Fatal(err)
				}
			}
			// the cached key list, as the baseline reads it
			objects, _ := filepath.Glob(filepath.Join(cl.CacheDir(), "objects", "*"))
			var listFile string
			for _, o := range objects {
				if data, err := os.ReadFile(o); err == nil {
					if _, err := bundle.Parse(data); err == nil {
						listFile = o
					}
				}
			}
			if listFile == "" {
				b.Fatal("no cached key list")
			}
			// let the setup's background work end: memory statistics
			// count every goroutine's allocations
			runtime.GC()
			time.Sleep(200 * time.Millisecond)
			run := func(f func() error) (time.Duration, uint64) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				for range 200 {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				return took / 200, (after.TotalAlloc - before.TotalAlloc) / 200
			}
			var tkT, baseT time.Duration
			var tkB, baseB uint64
			for b.Loop() {
				t, a := run(func() error { _, err := cl.Keys(ctx, host); return err })
				tkT, tkB = tkT+t, tkB+a
				t, a = run(func() error {
					data, err := os.ReadFile(listFile)
					if err == nil {
						_, err = bundle.Parse(data)
					}
					return err
				})
				baseT, baseB = baseT+t, baseB+a
			}
			n := float64(b.N)
			b.ReportMetric(float64(tkT.Microseconds())/n, "tufkeys-µs")
			b.ReportMetric(float64(baseT.Microseconds())/n, "baseline-µs")
			b.ReportMetric(float64(tkT)/float64(baseT), "time-ratio")
			b.ReportMetric(float64(tkB)/n, "tufkeys-B")
			b.ReportMetric(float64(baseB)/n, "baseline-B")
			b.ReportMetric(float64(tkB)/float64(baseB), "bytes-ratio")
		})
	}
}
