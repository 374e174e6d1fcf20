package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

const (
	benchRegistries = 50
	benchVersions   = 20
)

// BenchmarkIncrementalPublish measures, against the real S3 server, a
// publish that changes one registry in a repository holding 50 registries
// and 20 published versions, and in the same run a naive upload of every
// file of that repository. Run it with scripts/bench.sh, which starts the
// server.
func BenchmarkIncrementalPublish(b *testing.B) {
	srv := s3test.Get(b)
	ctx := context.Background()
	s3, _ := srv.Store(b)
	c, err := ceremony.New(b.TempDir(), ceremony.Options{})
	if err != nil {
		b.Fatal(err)
	}
	lists := [][]byte{fixture(b, "npm/keys.json"), fixture(b, "corepack-0.30.json")}
	dropNew := []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}
	host := func(i int) string { return fmt.Sprintf("registry%02d.example.test", i) }
	// history: every file ever published, kept in a local directory too
	history, err := store.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	// the history directory is another destination: a checkout of the
	// workspace of its own publishes there, leaving the origin to s3
	histDir := filepath.Join(b.TempDir(), "checkout")
	publishHistory := func() {
		os.RemoveAll(histDir)
		if err := os.CopyFS(histDir, os.DirFS(c.WS.Dir)); err != nil {
			b.Fatal(err)
		}
		ws, err := workspace.Open(histDir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := publish.Publish(ctx, ws, c.Online.Signer, history, publish.Options{MoveOrigin: true}); err != nil {
			b.Fatal(err)
		}
	}
	state := make([]int, benchRegistries) // which list each registry has
	change := func(i int) {
		r := i % benchRegistries
		state[r] = 1 - state[r]
		var remove []string
		if state[r] == 1 {
			remove = dropNew
		}
		if _, err := c.WS.Stage(host(r), lists[state[r]], remove); err != nil {
			b.Fatal(err)
		}
	}
	publishBoth := func() publish.Report {
		if err := c.Sign(2); err != nil {
			b.Fatal(err)
		}
		rep, err := publish.Publish(ctx, c.WS, c.Online.Signer, s3, publish.Options{})
		if err != nil {
			b.Fatal(err)
		}
		publishHistory()
		return rep
	}
	for r := range benchRegistries {
		if _, err := c.WS.Stage(host(r), lists[0], nil); err != nil {
			b.Fatal(err)
		}
	}
	publishBoth()
	for v := 1; v < benchVersions; v++ {
		change(v)
		publishBoth()
	}
	var incTime, naiveTime time.Duration
	var incObjects, naiveObjects int
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		change(benchVersions + i)
		if err := c.Sign(2); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := publish.Publish(ctx, c.WS, c.Online.Signer, s3, publish.Options{})
		if err != nil {
			b.Fatal(err)
		}
		incTime += time.Since(start)
		incObjects += len(rep.Uploaded)
		b.StopTimer()
		publishHistory()
		naive, _ := srv.Store(b)
		b.StartTimer()
		start = time.Now()
		n, err := uploadEverything(ctx, history.Root, naive)
		if err != nil {
			b.Fatal(err)
		}
		naiveTime += time.Since(start)
		naiveObjects += n
	}
	n := float64(b.N)
	b.ReportMetric(float64(incObjects)/n, "incremental-objects")
	b.ReportMetric(float64(incTime.Milliseconds())/n, "incremental-ms")
	b.ReportMetric(float64(naiveObjects)/n, "naive-objects")
	b.ReportMetric(float64(naiveTime.Milliseconds())/n, "naive-ms")
	b.ReportMetric(float64(incTime)/float64(naiveTime), "time-ratio")
}

// uploadEverything is the naive publish: every file of the repository's
// history, whether or not the store has it, with the same eight requests
// in flight as a real publish.
func uploadEverything(ctx context.Context, dir string, dst store.Store) (int, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, 8)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, p := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := os.ReadFile(p)
			if err == nil {
				rel, _ := filepath.Rel(dir, p)
				err = dst.Put(ctx, filepath.ToSlash(rel), data, store.Always)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return len(names), errors.Join(errs...)
}

// BenchmarkPublishAtScale publishes a repository of 100 and of 10,000
// registries in 64 bins to the real S3 server, then changes one registry
// and publishes again. It reports, per registry, what the first publish
// costs, and what the re-publish costs in store requests and time: the
// re-publish must not grow with the number of registries (ratio 1).
func BenchmarkPublishAtScale(b *testing.B) {
	srv := s3test.Get(b)
	ctx := context.Background()
	list := fixture(b, "npm/keys.json")
	redated := bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
	type cost struct {
		firstPerRegistry time.Duration
		firstObjects     int
		again            time.Duration
		againRequests    int
		withPage         time.Duration
		pageBytes        int
	}
	measure := func(n int) cost {
		c, err := ceremony.New(b.TempDir(), ceremony.Options{Bins: 64})
		if err != nil {
			b.Fatal(err)
		}
		items := make([]workspace.StageItem, n)
		for i := range items {
			items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true}
		}
		if _, err := c.WS.StageMany(items); err != nil {
			b.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			b.Fatal(err)
		}
		s3, _ := srv.Store(b)
		var out cost
		start := time.Now()
		rep, err := publish.Publish(ctx, c.WS, c.Online.Signer, s3, publish.Options{})
		if err != nil {
			b.Fatal(err)
		}
		out.firstPerRegistry = time.Since(start) / time.Duration(n)
		out.firstObjects = len(rep.Uploaded)
		if _, err := c.WS.Stage("r0.example.test", redated, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			b.Fatal(err)
		}
		counted := &countingStore{Store: s3}
		start = time.Now()
		if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, counted, publish.Options{}); err != nil {
			b.Fatal(err)
		}
		out.again, out.againRequests = time.Since(start), counted.n
		// the CLI also writes the status page, which lists every registry
		if _, err := c.WS.Stage("r0.example.test", list, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, s3, publish.Options{StatusPage: true}); err != nil {
			b.Fatal(err)
		}
		out.withPage = time.Since(start)
		for _, name := range []string{statuspage.Page, statuspage.Data} {
			data, _, err := s3.Get(ctx, name, 1<<30)
			if err != nil {
				b.Fatal(err)
			}
			out.pageBytes += len(data)
		}
		return out
	}
	var small, large cost
	for b.Loop() {
		small, large = measure(100), measure(10000)
	}
	b.ReportMetric(float64(small.firstPerRegistry.Microseconds()), "first-µs/registry@100")
	b.ReportMetric(float64(large.firstPerRegistry.Microseconds()), "first-µs/registry@10000")
	b.ReportMetric(float64(small.firstObjects), "first-objects@100")
	b.ReportMetric(float64(large.firstObjects), "first-objects@10000")
	b.ReportMetric(float64(small.againRequests), "republish-requests@100")
	b.ReportMetric(float64(large.againRequests), "republish-requests@10000")
	b.ReportMetric(float64(small.again.Milliseconds()), "republish-ms@100")
	b.ReportMetric(float64(large.again.Milliseconds()), "republish-ms@10000")
	b.ReportMetric(float64(large.againRequests)/float64(small.againRequests), "requests-ratio")
	b.ReportMetric(float64(small.withPage.Milliseconds()), "republish-with-page-ms@100")
	b.ReportMetric(float64(large.withPage.Milliseconds()), "republish-with-page-ms@10000")
	b.ReportMetric(float64(small.pageBytes), "page-bytes@100")
	b.ReportMetric(float64(large.pageBytes), "page-bytes@10000")
}
