package repohttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serveDir(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"1.root.json":    `{"signed":{}}`,
		"timestamp.json": `{"signed":{"v":1}}`,
		"targets/registry.example.test/" + strings.Repeat("ab", 32) + ".keys.json": `{"keys":[]}`,
		".git/config":     "[remote]",
		".tufkeys.lock":   "",
		"targets/.hidden": "x",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(t.TempDir(), "secret"), []byte("x"), 0o600)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := Handler(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, &logs
}

func TestHeaders(t *testing.T) {
	srv, logs := serveDir(t)
	tests := []struct {
		path, cache string
	}{
		{"/1.root.json", "public, max-age=31536000, immutable"},
		{"/timestamp.json", "public, max-age=60"},
		{"/targets/registry.example.test/" + strings.Repeat("ab", 32) + ".keys.json", "public, max-age=31536000, immutable"},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != tt.cache || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("ETag") == "" ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: %d, headers %v", tt.path, resp.StatusCode, resp.Header)
		}
	}
	if n := strings.Count(logs.String(), "msg=request"); n != len(tests) {
		t.Errorf("%d log lines for %d requests:\n%s", n, len(tests), logs)
	}
}

func TestConditionalRequest(t *testing.T) {
	srv, _ := serveDir(t)
	resp, err := http.Get(srv.URL + "/timestamp.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/timestamp.json", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation answered %d, want 304", again.StatusCode)
	}
}

func TestRefusals(t *testing.T) {
	srv, _ := serveDir(t)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 404},
		{"GET", "/targets/", 404},
		{"GET", "/../secret", 404},
		{"GET", "/%2e%2e/secret", 404},
		{"GET", "/missing.json", 404},
		{"GET", "/.git/config", 404},
		{"GET", "/.tufkeys.lock", 404},
		{"GET", "/targets/.hidden", 404},
		{"GET", "/fifo.json", 404}, // answered at once, not when a writer comes
		{"PUT", "/1.root.json", 405},
		{"DELETE", "/timestamp.json", 405},
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}
