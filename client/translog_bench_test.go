package client_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// BenchmarkLogCost measures what the transparency log adds to a lookup, in
// the same run, on the same 64-bin repository with and without a log (and
// go-tuf's plain updater on the one without, the ratio the other
// benchmarks hold): a cold lookup (empty cache), a stale one (the cache is
// past its max age and the registry's own list changed, so the log grew
// and the new list needs its proof and the checkpoint its consistency
// proof), and a fresh one (answered from the cache). TUFKEYS_BENCH_SIZES
// overrides the sizes (default 1,10000).
func BenchmarkLogCost(b *testing.B) {
	set := witnesstest.Get(b)
	sizes := benchSizes(1, 10000)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("registries=%d", n), func(b *testing.B) {
			plain := manyWorld(b, n, workspace.DefaultBins)
			log := set.NewLog(b, 2)
			logged := manyWorld(b, n, workspace.DefaultBins, func(o *ceremony.Options) { o.Log, o.LogKey = &log.Policy, log.Key })
			worlds := []*world{plain, logged}
			meters := []*meter{metered(plain), metered(logged)}
			type cost struct {
				d          time.Duration
				req, bytes int64
			}
			var cold, stale, fresh [2]cost
			var baseline time.Duration
			flip := false
			for b.Loop() {
				flip = !flip
				for i, w := range worlds {
					b.StopTimer()
					cache := b.TempDir()
					b.StartTimer()
					cl, _ := w.client(cache, func(o *client.Options) { o.MaxAge, o.Clock = client.Age(time.Hour), time.Now })
					d, req, by, err := measure(meters[i], func() error { _, err := cl.Keys(ctx, host); return err })
					if err != nil {
						b.Fatal(err)
					}
					cold[i] = cost{cold[i].d + d, cold[i].req + req, cold[i].bytes + by}
					d, req, by, err = measure(meters[i], func() error { _, err := cl.Keys(ctx, host); return err })
					if err != nil {
						b.Fatal(err)
					}
					fresh[i] = cost{fresh[i].d + d, fresh[i].req + req, fresh[i].bytes + by}
					b.StopTimer()
					list := fixture(b, "npm/keys.json")
					if flip {
						list = bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
					} else {
						list = bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-03-28T00:00:00.000Z"), 1)
					}
					if err := w.c.StagePublish(host, list, 2); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					staleCl, _ := w.client(cache, func(o *client.Options) { o.MaxAge, o.Clock = client.Age(0), time.Now })
					d, req, by, err = measure(meters[i], func() error { _, err := staleCl.Keys(ctx, host); return err })
					if err != nil {
						b.Fatal(err)
					}
					stale[i] = cost{stale[i].d + d, stale[i].req + req, stale[i].bytes + by}
				}
				b.StopTimer()
				metaDir, targetsDir := b.TempDir(), b.TempDir()
				b.StartTimer()
				d, _, _, err := measure(meters[0], func() error { return baselineFetch(plain, metaDir, targetsDir) })
				if err != nil {
					b.Fatal(err)
				}
				baseline += d
			}
			it := float64(b.N)
			for _, m := range []struct {
				name string
				c    [2]cost
			}{{"cold", cold}, {"stale", stale}, {"fresh", fresh}} {
				b.ReportMetric(float64(m.c[0].d.Microseconds())/it/1000, m.name+"-ms")
				b.ReportMetric(float64(m.c[1].d.Microseconds())/it/1000, m.name+"-log-ms")
				b.ReportMetric(float64(m.c[0].bytes)/it, m.name+"-B")
				b.ReportMetric(float64(m.c[1].bytes)/it, m.name+"-log-B")
				b.ReportMetric(float64(m.c[1].bytes-m.c[0].bytes)/it, m.name+"-log-extra-B")
				b.ReportMetric(float64(m.c[0].req)/it, m.name+"-req")
				b.ReportMetric(float64(m.c[1].req)/it, m.name+"-log-req")
			}
			b.ReportMetric(float64(cold[0].d)/float64(baseline), "cold-ratio-gotuf")
			b.ReportMetric(float64(cold[1].d)/float64(baseline), "cold-log-ratio-gotuf")
		})
	}
}
