// Package repohttp serves a published repository directory over HTTP with
// the headers TUF clients and caches need.
package repohttp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/store"
)

// maxFile bounds what the server reads into memory; repository files
// are metadata and key lists of a few KiB.
const maxFile = 32 << 20

// Handler serves the files under dir read-only. Versioned metadata and
// hash-prefixed targets are cacheable for a year; timestamp.json never is.
// Paths cannot leave dir, directories, hidden files (.git) and anything
// but regular files are not served, and each request is logged in one
// line.
func Handler(dir string, log *slog.Logger) (http.Handler, error) {
	policy := store.DefaultCachePolicy
	policy.Rewritten = statuspage.Files
	return HandlerWithPolicy(dir, log, policy)
}

// HandlerWithPolicy is Handler with the cache life of timestamp.json set.
func HandlerWithPolicy(dir string, log *slog.Logger, policy store.CachePolicy) (http.Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		serve(rec, r, root, policy)
		if log != nil {
			log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.bytes, "duration", time.Since(start).Round(time.Microsecond))
		}
	}), nil
}

func serve(w http.ResponseWriter, r *http.Request, root *os.Root, policy store.CachePolicy) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = statuspage.Page // the status page, when a publish wrote one
	}
	if !fs.ValidPath(name) || hidden(name) {
		http.NotFound(w, r)
		return
	}
	// non-blocking, so that a FIFO or a device placed in the directory
	// answers 404 below instead of holding the request until a writer
	// comes
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			http.NotFound(w, r)
		} else {
			http.Error(w, "cannot read file", http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if info.Size() > maxFile {
		http.Error(w, "file too large", http.StatusInternalServerError)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil || int64(len(data)) > maxFile {
		http.Error(w, "cannot read file", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("Content-Type", store.ContentType(name))
	w.Header().Set("Cache-Control", policy.CacheControl(name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// the status page is static: inline style, no script, no frames, no
	// requests of its own but images of the repository
	w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
	// a content ETag lets clients revalidate timestamp.json with
	// If-None-Match and get 304 Not Modified when it has not changed
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, name, info.ModTime(), bytes.NewReader(data))
}

// ContentSecurityPolicy is what a served repository allows its pages.
const ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// hidden reports a name with a part starting with a dot: a repository
// has none, while .git, a store's lock and editors' files do.
func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}
