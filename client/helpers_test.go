package client_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/syncbuf"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

const host = "registry.example.test"

func fixture(t testing.TB, name string) []byte { return testutil.Fixture(t, name) }

func version(t testing.TB, id string) bundle.Version {
	t.Helper()
	v, err := bundle.ParseManifest(fixture(t, "npm/"+id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// repoServer serves a published repository on loopback, records requests,
// and lets a test play the man in the middle.
type repoServer struct {
	*httptest.Server
	dir string

	mu        sync.Mutex
	log       []string // "GET /path 200"
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newRepoServer(t testing.TB, dir string) *repoServer {
	t.Helper()
	h, err := repohttp.Handler(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &repoServer{dir: dir}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: 200}
		s.mu.Lock()
		icpt := s.intercept
		s.mu.Unlock()
		if icpt == nil || !icpt(rec, r) {
			h.ServeHTTP(rec, r)
		}
		s.mu.Lock()
		s.log = append(s.log, r.Method+" "+r.URL.Path+" "+http.StatusText(rec.status))
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *repoServer) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.intercept = f
	s.mu.Unlock()
}

// takeLog returns the requests since the last call.
func (s *repoServer) takeLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log
	s.log = nil
	return l
}

// world is a published repository, its server, and a clock both sides share.
type world struct {
	t   testing.TB
	c   *ceremony.Ceremony
	srv *repoServer
	now time.Time
	mu  sync.Mutex
}

func newWorld(t testing.TB, list string) *world {
	t.Helper()
	return newWorldWith(t, list, ceremony.Options{})
}

// newWorldWith is newWorld with a ceremony of these options, on the
// world's clock.
func newWorldWith(t testing.TB, list string, opts ceremony.Options) *world {
	t.Helper()
	w := &world{t: t, now: time.Now().UTC()}
	opts.Now = w.clock
	c, err := ceremony.New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	if err := c.StagePublish(host, fixture(t, list), 2); err != nil {
		t.Fatal(err)
	}
	w.srv = newRepoServer(t, c.RepoDir)
	return w
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

// publish stages a list, has two maintainers sign it and publishes it.
func (w *world) publish(list string) {
	w.t.Helper()
	if err := w.c.StagePublish(host, fixture(w.t, list), 2); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) root() []byte {
	w.t.Helper()
	data, err := w.c.RootBytes(1)
	if err != nil {
		w.t.Fatal(err)
	}
	return data
}

func (w *world) client(cacheDir string, mutate ...func(*client.Options)) (*client.Client, *syncbuf.Buffer) {
	w.t.Helper()
	logs := &syncbuf.Buffer{}
	opts := client.Options{
		Repositories:   []string{w.srv.URL},
		TrustedRoot:    w.root(),
		CacheDir:       cacheDir,
		Clock:          w.clock,
		RequestTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, m := range mutate {
		m(&opts)
	}
	cl, err := client.New(opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return cl, logs
}

func contains(t testing.TB, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", words)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
