package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
)

// suite plays the conformance suite: a repository on loopback that logs
// requests and can fail on purpose, and the client's directories.
type suite struct {
	t        *testing.T
	repo     *tufrepo.Repo
	srv      *httptest.Server
	meta     string
	targets  string
	mu       sync.Mutex
	requests []string
	fail     func(path string) int // status to answer instead, or 0
}

func newSuite(t *testing.T) *suite {
	dir := t.TempDir()
	r, err := tufrepo.New(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{t: t, repo: r, meta: filepath.Join(t.TempDir(), "metadata"), targets: t.TempDir()}
	files := http.FileServer(http.Dir(dir))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, req.URL.Path)
		fail := s.fail
		s.mu.Unlock()
		if fail != nil {
			if code := fail(req.URL.Path); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *suite) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// cli runs the conformance client as the suite would, with the
// environment given.
func (s *suite) cli(env map[string]string, args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, errOut.String()
}

func (s *suite) init() {
	s.t.Helper()
	root, err := s.repo.RootBytes(1)
	if err != nil {
		s.t.Fatal(err)
	}
	rootFile := filepath.Join(s.t.TempDir(), "initial_root.json")
	if err := os.WriteFile(rootFile, root, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if code, errOut := s.cli(nil, "--metadata-dir", s.meta, "init", rootFile); code != 0 {
		s.t.Fatalf("init: exit %d: %s", code, errOut)
	}
	if got := s.taken(); len(got) != 0 {
		s.t.Errorf("init made requests: %v", got)
	}
}

func (s *suite) refresh(env map[string]string) (int, string) {
	return s.cli(env, "--metadata-url", s.srv.URL, "--metadata-dir", s.meta, "refresh")
}

func (s *suite) download(names ...string) (int, string) {
	args := []string{"--metadata-url", s.srv.URL, "--metadata-dir", s.meta}
	for _, n := range names {
		args = append(args, "--target-name", n)
	}
	args = append(args, "--target-dir", s.targets, "--target-base-url", s.srv.URL+"/targets", "download")
	return s.cli(nil, args...)
}

// version reads a role's version from the metadata directory, 0 when the
// client trusts none.
func (s *suite) version(role string) int64 {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.meta, url.PathEscape(role)+".json"))
	if err != nil {
		return 0
	}
	var md struct {
		Signed struct{ Version int64 } `json:"signed"`
	}
	if err := json.Unmarshal(data, &md); err != nil {
		s.t.Fatal(err)
	}
	return md.Signed.Version
}

// publishTarget publishes new content for a target of the top-level role.
func (s *suite) publishTarget(targetPath, content string) {
	s.t.Helper()
	if err := s.repo.AddTarget(metadata.TARGETS, targetPath, []byte(content)); err != nil {
		s.t.Fatal(err)
	}
	if err := s.repo.Publish(metadata.TARGETS); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) roleFiles() []string {
	entries, _ := os.ReadDir(s.meta)
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestInitRefreshDownload(t *testing.T) {
	s := newSuite(t)
	s.init()
	if code, errOut := s.refresh(nil); code != 0 {
		t.Fatalf("refresh: exit %d: %s", code, errOut)
	}
	// sequential, in the specification's order
	want := []string{"/2.root.json", "/timestamp.json", "/1.snapshot.json", "/1.targets.json"}
	if got := s.taken(); !slices.Equal(got, want) {
		t.Errorf("refresh requests %v, want %v", got, want)
	}
	for _, name := range []string{"root.json", "timestamp.json", "snapshot.json", "targets.json"} {
		want, _ := os.ReadFile(filepath.Join(s.repo.Dir, map[string]string{"root.json": "1.root.json", "timestamp.json": "timestamp.json", "snapshot.json": "1.snapshot.json", "targets.json": "1.targets.json"}[name]))
		got, err := os.ReadFile(filepath.Join(s.meta, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not the repository's file byte for byte: %v", name, err)
		}
	}

	s.publishTarget("dir/file.txt", "v1")
	if code, errOut := s.download("dir/file.txt"); code != 0 {
		t.Fatalf("download: exit %d: %s", code, errOut)
	}
	stored := filepath.Join(s.targets, url.QueryEscape("dir/file.txt"))
	if data, err := os.ReadFile(stored); err != nil || string(data) != "v1" {
		t.Fatalf("downloaded %q, %v", data, err)
	}
	s.taken()
	// unchanged: not downloaded again
	if code, errOut := s.download("dir/file.txt"); code != 0 {
		t.Fatalf("second download: exit %d: %s", code, errOut)
	}
	for _, p := range s.taken() {
		if strings.HasPrefix(p, "/targets/") {
			t.Errorf("downloaded the unchanged target again: %s", p)
		}
	}
	// changed: downloaded again, into the same file
	s.publishTarget("dir/file.txt", "v2")
	if code, errOut := s.download("dir/file.txt"); code != 0 {
		t.Fatalf("download after a change: exit %d: %s", code, errOut)
	}
	if data, _ := os.ReadFile(stored); string(data) != "v2" {
		t.Errorf("after the change the file holds %q", data)
	}
	if code, _ := s.download("dir/missing.txt"); code != 1 {
		t.Errorf("a missing target: exit %d, want 1", code)
	}
}

// A root rotation interrupted by a failing snapshot keeps the new root;
// the next refresh completes it.
func TestRootRotationInterrupted(t *testing.T) {
	s := newSuite(t)
	s.init()
	if code, errOut := s.refresh(nil); code != 0 {
		t.Fatalf("refresh: %s", errOut)
	}
	if err := s.repo.RotateKeys(metadata.SNAPSHOT); err != nil {
		t.Fatal(err)
	}
	if err := s.repo.Publish(metadata.TARGETS); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.fail = func(p string) int {
		if strings.HasSuffix(p, ".snapshot.json") {
			return http.StatusNotFound
		}
		return 0
	}
	s.mu.Unlock()
	if code, _ := s.refresh(nil); code != 1 {
		t.Fatalf("refresh with the snapshot missing: exit %d, want 1", code)
	}
	if v := s.version(metadata.ROOT); v != 2 {
		t.Errorf("root.json is v%d after root v2 verified, want v2", v)
	}
	if v := s.version(metadata.TIMESTAMP); v != 2 {
		t.Errorf("timestamp.json is v%d, want the verified v2", v)
	}
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	if code, errOut := s.refresh(nil); code != 0 {
		t.Fatalf("refresh after the snapshot appeared: %s", errOut)
	}
	if v := s.version(metadata.SNAPSHOT); v != 2 {
		t.Errorf("snapshot.json v%d, want v2", v)
	}
}

func TestRollbackRefused(t *testing.T) {
	s := newSuite(t)
	s.init()
	old, err := os.ReadFile(filepath.Join(s.repo.Dir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.repo.PublishTimestamp(); err != nil {
		t.Fatal(err)
	}
	if code, errOut := s.refresh(nil); code != 0 {
		t.Fatalf("refresh: %s", errOut)
	}
	if err := os.WriteFile(filepath.Join(s.repo.Dir, "timestamp.json"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	code, errOut := s.refresh(nil)
	if code != 1 || !strings.Contains(errOut, "rollback") {
		t.Errorf("timestamp v1 after v2: exit %d %q", code, errOut)
	}
	if v := s.version(metadata.TIMESTAMP); v != 2 {
		t.Errorf("timestamp.json v%d after the rollback, want v2", v)
	}
	if got := s.roleFiles(); !slices.Equal(got, []string{"root.json", "snapshot.json", "targets.json", "timestamp.json"}) {
		t.Errorf("metadata directory holds %v", got)
	}
}

// FAKETIME moves the client's clock as libfaketime moves the C library's.
func TestFakeTimeExpiresTheRoot(t *testing.T) {
	s := newSuite(t)
	s.init()
	if code, errOut := s.refresh(map[string]string{"FAKETIME": "+1d"}); code != 0 {
		t.Fatalf("a day on: %s", errOut)
	}
	if code, errOut := s.refresh(map[string]string{"FAKETIME": "+40d"}); code != 1 || !strings.Contains(errOut, "expired") {
		t.Errorf("forty days on, past every expiry: exit %d %q", code, errOut)
	}
	if code, errOut := s.refresh(map[string]string{"FAKETIME": "next week"}); code != 1 || !strings.Contains(errOut, "FAKETIME") {
		t.Errorf("unreadable FAKETIME: exit %d %q", code, errOut)
	}
}

func TestFakeClock(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want time.Duration // from now, for offsets
		abs  bool          // 2030-01-01 00:00:00 local time
	}{
		{"+97667615", 97667615 * time.Second, false},
		{"-2d", -48 * time.Hour, false},
		{"+365d", 365 * 24 * time.Hour, false},
		{"+1.5h", 90 * time.Minute, false},
		{"2030-01-01 00:00:00", 0, true},
		{"@2030-01-01 00:00:00", 0, true},
	} {
		clock, err := fakeClock(tc.spec, time.Now())
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		got := clock()
		if tc.abs {
			want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.Local)
			if d := got.Sub(want); d < 0 || d > time.Second {
				t.Errorf("%q: %v, want %v", tc.spec, got, want)
			}
			continue
		}
		if d := got.Sub(time.Now().Add(tc.want)); d < -time.Second || d > time.Second {
			t.Errorf("%q: off by %v", tc.spec, d)
		}
	}
	for _, bad := range []string{"tomorrow", "+5w", "2030-01-01"} {
		if _, err := fakeClock(bad, time.Now()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
