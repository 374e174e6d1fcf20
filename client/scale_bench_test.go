package client_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// scaleWorld is a repository of n registries, flat (bins 0) or in bins,
// served with benchDelay on every request.
func scaleWorld(b *testing.B, n, bins int) (*world, *meter) {
	w := manyWorld(b, n, bins)
	return w, metered(w)
}

// BenchmarkScale measures one install's cost as the repository grows, in
// the flat layout and in 64 hashed bins, against go-tuf's plain updater on
// the same repository in the same run: a cold lookup, and a refresh after
// another registry's list changed. TUFKEYS_BENCH_SIZES overrides the sizes
// (default 1,100,10000).
func BenchmarkScale(b *testing.B) {
	sizes := benchSizes(1, 100, 10000)
	for _, n := range sizes {
		for _, bins := range []int{0, workspace.DefaultBins} {
			layout := "flat"
			if bins > 0 {
				layout = fmt.Sprintf("bins%d", bins)
			}
			b.Run(fmt.Sprintf("registries=%d/%s", n, layout), func(b *testing.B) {
				w, m := scaleWorld(b, n, bins)
				var cold totals
				var refreshBytes, refreshReq int64
				var peak uint64
				other := "r0.example.test"
				if n == 1 {
					other = host
				}
				flip := false
				for b.Loop() {
					b.StopTimer()
					cacheDir, metaDir, targetsDir := b.TempDir(), b.TempDir(), b.TempDir()
					cl, _ := w.client(cacheDir, func(o *client.Options) { o.MaxAge, o.Clock = client.Age(0), time.Now })
					runtime.GC()
					var before runtime.MemStats
					runtime.ReadMemStats(&before)
					b.StartTimer()
					d, req, by, err := measure(m, func() error { _, err := cl.Keys(ctx, host); return err })
					if err != nil {
						b.Fatal(err)
					}
					var after runtime.MemStats
					runtime.ReadMemStats(&after)
					if after.HeapInuse > before.HeapInuse {
						peak = max(peak, after.HeapInuse-before.HeapInuse)
					}
					cold.tk, cold.tkReq, cold.tkBytes = cold.tk+d, cold.tkReq+req, cold.tkBytes+by
					d, req, by, err = measure(m, func() error { return baselineFetch(w, metaDir, targetsDir) })
					if err != nil {
						b.Fatal(err)
					}
					cold.base, cold.baseReq, cold.baseBytes = cold.base+d, cold.baseReq+req, cold.baseBytes+by
					cold.iterations++
					// another registry's list changes
					b.StopTimer()
					list := fixture(b, "npm/keys.json")
					if flip = !flip; flip {
						list = bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
					}
					if _, err := w.c.WS.Stage(other, list, nil); err != nil {
						b.Fatal(err)
					}
					if err := w.c.Sign(2); err != nil {
						b.Fatal(err)
					}
					if _, err := w.c.Publish(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					_, req, by, err = measure(m, func() error { _, err := cl.Keys(ctx, host); return err })
					if err != nil {
						b.Fatal(err)
					}
					refreshBytes, refreshReq = refreshBytes+by, refreshReq+req
				}
				it := float64(cold.iterations)
				b.ReportMetric(float64(cold.tk.Milliseconds())/it, "cold-ms")
				b.ReportMetric(float64(cold.base.Milliseconds())/it, "gotuf-cold-ms")
				b.ReportMetric(float64(cold.tk)/float64(cold.base), "cold-ratio")
				b.ReportMetric(float64(cold.tkBytes)/it, "cold-B")
				b.ReportMetric(float64(cold.baseBytes)/it, "gotuf-cold-B")
				b.ReportMetric(float64(refreshBytes)/it, "refresh-B")
				b.ReportMetric(float64(refreshReq)/it, "refresh-req")
				b.ReportMetric(float64(peak)/(1<<20), "cold-heap-MiB")
			})
		}
	}
}
