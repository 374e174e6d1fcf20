package client_test

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
)

// benchDelay is the fixed latency the benchmark server adds to every
// request, standing in for a round trip to a distant repository.
const benchDelay = 20 * time.Millisecond

// meter counts what the repository served.
type meter struct {
	requests atomic.Int64
	bytes    atomic.Int64
}

type countingWriter struct {
	http.ResponseWriter
	m *meter
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.m.bytes.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

func (c countingWriter) WriteHeader(code int) { c.ResponseWriter.WriteHeader(code) }

func benchWorld(b *testing.B) (*world, *meter) {
	w := newWorld(b, "npm/keys.json")
	return w, metered(w)
}

// metered adds benchDelay to every request of w's server and counts what
// it serves.
func metered(w *world) *meter {
	m := &meter{}
	inner := w.srv.Config.Handler
	w.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		m.requests.Add(1)
		time.Sleep(benchDelay)
		inner.ServeHTTP(countingWriter{rw, m}, r)
	})
	return m
}

// measure runs f and returns its wall time and what it cost the server.
func measure(m *meter, f func() error) (time.Duration, int64, int64, error) {
	m.requests.Store(0)
	m.bytes.Store(0)
	start := time.Now()
	err := f()
	return time.Since(start), m.requests.Load(), m.bytes.Load(), err
}

// baselineFetch is go-tuf's plain updater doing what a client must: a
// refresh and the key list, over a cache directory of its own.
func baselineFetch(w *world, metaDir, targetsDir string) error {
	return baselineFetchFrom(w.srv.URL, w.root(), metaDir, targetsDir, host+"/keys.json")
}

type totals struct {
	tk, base           time.Duration
	tkReq, baseReq     int64
	tkBytes, baseBytes int64
	iterations         int64
}

func (t *totals) report(b *testing.B) {
	n := float64(t.iterations)
	b.ReportMetric(float64(t.tk.Milliseconds())/n, "tufkeys-ms")
	b.ReportMetric(float64(t.base.Milliseconds())/n, "baseline-ms")
	b.ReportMetric(float64(t.tk)/float64(t.base), "ratio")
	b.ReportMetric(float64(t.tkReq)/n, "tufkeys-req")
	b.ReportMetric(float64(t.baseReq)/n, "baseline-req")
	b.ReportMetric(float64(t.tkBytes)/n, "tufkeys-B")
	b.ReportMetric(float64(t.baseBytes)/n, "baseline-B")
}

// BenchmarkRefresh compares tufkeys with go-tuf's plain updater on the same
// loopback repository, in the same run, for the four situations a client
// meets at install time. ratio is tufkeys' wall time over the baseline's.
func BenchmarkRefresh(b *testing.B) {
	scenarios := []struct {
		name string
		// warm fills both caches before the measured fetch; change alters
		// the repository between warming and fetching
		warm, change bool
		maxAge       time.Duration
	}{
		{name: "cold", maxAge: time.Hour},
		{name: "fresh", warm: true, maxAge: time.Hour},
		{name: "stale-unchanged", warm: true, maxAge: time.Nanosecond},
		{name: "changed", warm: true, change: true, maxAge: time.Nanosecond},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			w, m := benchWorld(b)
			var t totals
			flip := false
			for b.Loop() {
				b.StopTimer()
				cacheDir, metaDir, targetsDir := b.TempDir(), b.TempDir(), b.TempDir()
				cl, _ := w.client(cacheDir, func(o *client.Options) { o.MaxAge, o.Clock = client.Age(sc.maxAge), time.Now })
				if sc.warm {
					if _, err := cl.Keys(ctx, host); err != nil {
						b.Fatal(err)
					}
					if err := baselineFetch(w, metaDir, targetsDir); err != nil {
						b.Fatal(err)
					}
				}
				if sc.change {
					list, remove := "corepack-0.30.json", []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}
					if flip {
						list, remove = "npm/keys.json", nil
					}
					flip = !flip
					if _, err := w.c.WS.Stage(host, fixture(b, list), remove); err != nil {
						b.Fatal(err)
					}
					if err := w.c.Sign(2); err != nil {
						b.Fatal(err)
					}
					if _, err := w.c.Publish(); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				d, req, by, err := measure(m, func() error { _, err := cl.Keys(ctx, host); return err })
				if err != nil {
					b.Fatal(err)
				}
				t.tk += d
				t.tkReq += req
				t.tkBytes += by
				d, req, by, err = measure(m, func() error { return baselineFetch(w, metaDir, targetsDir) })
				if err != nil {
					b.Fatal(err)
				}
				t.base += d
				t.baseReq += req
				t.baseBytes += by
				t.iterations++
			}
			t.report(b)
		})
	}
}

// benchSizes are the repository sizes a benchmark runs at:
// TUFKEYS_BENCH_SIZES (e.g. "1,100") or the defaults.
func benchSizes(defaults ...int) []int {
	s := os.Getenv("TUFKEYS_BENCH_SIZES")
	if s == "" {
		return defaults
	}
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			sizes = append(sizes, n)
		}
	}
	return sizes
}

// baselineFetchFrom is go-tuf's plain updater reading target from any
// repository and root: a refresh, then the target unless the cache holds
// it already.
func baselineFetchFrom(url string, root []byte, metaDir, targetsDir, target string) error {
	cfg, err := config.New(url, root)
	if err != nil {
		return err
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = metaDir, targetsDir
	up, err := updater.New(cfg)
	if err != nil {
		return err
	}
	if err := up.Refresh(); err != nil {
		return err
	}
	info, err := up.GetTargetInfo(target)
	if err != nil {
		return err
	}
	if _, data, _ := up.FindCachedTarget(info, ""); data != nil {
		return nil
	}
	_, _, err = up.DownloadTarget(info, "", "")
	return err
}

// BenchmarkSigstoreShaped compares a cold lookup in a Sigstore-shaped
// repository (a terminating delegation named after the host; no
// transparency log) with go-tuf's plain updater reading the same target,
// in the same run: tufkeys-req must not exceed baseline-req.
func BenchmarkSigstoreShaped(b *testing.B) {
	s, err := tufrepo.NewShaped(b.TempDir(), time.Now(), host, fixture(b, "npm/keys.json"))
	if err != nil {
		b.Fatal(err)
	}
	root, _ := s.RootBytes(1)
	srv := newRepoServer(b, s.Dir)
	m := metered(&world{srv: srv})
	var t totals
	for b.Loop() {
		b.StopTimer()
		cl, err := client.New(client.Options{TrustedRoot: root, Repositories: []string{srv.URL}, CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		metaDir, targetsDir := b.TempDir(), b.TempDir()
		b.StartTimer()
		d, req, by, err := measure(m, func() error { _, err := cl.Keys(ctx, host); return err })
		if err != nil {
			b.Fatal(err)
		}
		t.tk, t.tkReq, t.tkBytes = t.tk+d, t.tkReq+req, t.tkBytes+by
		d, req, by, err = measure(m, func() error { return baselineFetchFrom(srv.URL, root, metaDir, targetsDir, host+"/keys.json") })
		if err != nil {
			b.Fatal(err)
		}
		t.base, t.baseReq, t.baseBytes = t.base+d, t.baseReq+req, t.baseBytes+by
		t.iterations++
	}
	t.report(b)
	if t.tkReq > t.baseReq {
		b.Errorf("tufkeys made %d requests, go-tuf %d", t.tkReq, t.baseReq)
	}
}
