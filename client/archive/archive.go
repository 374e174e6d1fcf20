// Package archive is the offline form of a repository: one .tar.gz file,
// laid out like the published repository (metadata at the top, key lists
// under targets/), to carry into an air-gapped network. Reading it trusts
// nothing: the client verifies its contents like any mirror's.
package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tufkeys/tufkeys/internal/safefile"
)

// Bounds on what an archive may hold: a repository's metadata and key
// lists are small, and an archive is input from outside. Unpacked, an
// archive may be at most MaxRatio times its packed size (plus a MiB), so
// that a small archive cannot unpack into a large amount of memory:
// repository JSON packs about 3 to 1.
const (
	MaxArchiveBytes  = 64 << 20
	MaxUnpackedBytes = 128 << 20
	MaxFileBytes     = 8 << 20
	MaxFiles         = 100000
	MaxRatio         = 20
)

// ErrMalformed marks an archive that is not a repository archive.
var ErrMalformed = errors.New("malformed archive")

// File is one file of the archive.
type File struct {
	Name string // slash-separated, relative
	Data []byte
}

// epoch is every entry's modification time, so that the same repository
// always makes the same archive.
var epoch = time.Unix(0, 0).UTC()

// Encode writes files as a gzip-compressed tar, sorted by name.
func Encode(files []File) ([]byte, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range sorted {
		if !validName(f.Name) {
			return nil, fmt.Errorf("cannot archive %q: not a relative path inside the repository", f.Name)
		}
		hdr := &tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the archive to path atomically.
func WriteFile(path string, files []File) error {
	data, err := Encode(files)
	if err != nil {
		return err
	}
	return safefile.Write(path, data, 0o644)
}

// ReadFile reads an archive file into a map from name to bytes.
func ReadFile(path string) (map[string][]byte, error) {
	data, err := safefile.Read(path, MaxArchiveBytes)
	if err != nil {
		return nil, fmt.Errorf("read archive %s: %w", path, err)
	}
	files, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return files, nil
}

// Decode reads archive bytes. It refuses anything but regular files under
// relative paths, duplicate names, and sizes beyond the bounds.
func Decode(data []byte) (map[string][]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %w", ErrMalformed)
	}
	defer gz.Close()
	limit := min(int64(MaxUnpackedBytes), int64(len(data))*MaxRatio+1<<20)
	unpacked := &io.LimitedReader{R: gz, N: limit + 1}
	tr := tar.NewReader(unpacked)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if unpacked.N <= 0 {
			return nil, fmt.Errorf("it unpacks to more than %d MiB, beyond what a repository of its size holds: %w", limit>>20, ErrMalformed)
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive (%v): %w", err, ErrMalformed)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("entry %q is not a regular file: %w", hdr.Name, ErrMalformed)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if !validName(name) {
			return nil, fmt.Errorf("entry %q is not a relative path inside the repository: %w", hdr.Name, ErrMalformed)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("entry %q appears twice: %w", name, ErrMalformed)
		}
		if hdr.Size > MaxFileBytes || len(files) >= MaxFiles {
			return nil, fmt.Errorf("entry %q is beyond the archive's bounds: %w", name, ErrMalformed)
		}
		if hdr.Size > unpacked.N {
			return nil, fmt.Errorf("it unpacks to more than %d MiB, beyond what a repository of its size holds: %w", limit>>20, ErrMalformed)
		}
		// the size is bounded above: read into exactly that much
		body := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, body); err != nil {
			return nil, fmt.Errorf("read entry %q: %v: %w", name, err, ErrMalformed)
		}
		files[name] = body
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("the archive is empty: %w", ErrMalformed)
	}
	return files, nil
}

func validName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == name && !strings.HasPrefix(name, "../") && name != ".."
}

// IsArchive tells a repository argument that names an archive file rather
// than a URL: a path, or a file:// URL, ending in .tar.gz or .tgz.
func IsArchive(repo string) (string, bool) {
	p := strings.TrimPrefix(repo, "file://")
	if strings.Contains(p, "://") {
		return "", false
	}
	if strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz") {
		return p, true
	}
	return "", false
}
