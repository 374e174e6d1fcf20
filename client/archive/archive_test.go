package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/internal/harness/memtest"
)

func TestRoundTripIsDeterministic(t *testing.T) {
	t.Parallel()
	files := []File{{"timestamp.json", []byte("{}")}, {"1.root.json", []byte(`{"r":1}`)}, {"targets/registry.example.test/ab.keys.json", []byte("k")}}
	a, err := Encode(files)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encode([]File{files[2], files[0], files[1]})
	if !bytes.Equal(a, b) {
		t.Error("the same files in another order make another archive")
	}
	got, err := Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"timestamp.json": []byte("{}"), "1.root.json": []byte(`{"r":1}`), "targets/registry.example.test/ab.keys.json": []byte("k")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %v", got)
	}
}

func rawArchive(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			tw.Write(make([]byte, h.Size))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestDecodeRefusals(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"not gzip":      []byte("plain text"),
		"empty":         rawArchive(t),
		"escaping path": rawArchive(t, &tar.Header{Name: "../etc/passwd", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}),
		"absolute path": rawArchive(t, &tar.Header{Name: "/etc/passwd", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}),
		"symlink":       rawArchive(t, &tar.Header{Name: "1.root.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}),
		"duplicate":     rawArchive(t, &tar.Header{Name: "a.json", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}, &tar.Header{Name: "a.json", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}),
		"oversized":     rawArchive(t, &tar.Header{Name: "big.json", Typeflag: tar.TypeReg, Size: MaxFileBytes + 1, Mode: 0o644}),
	}
	for name, data := range tests {
		if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIsArchive(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"keys.tar.gz": "keys.tar.gz", "file:///media/usb/keys.tgz": "/media/usb/keys.tgz", "https://keys.example.test/x.tar.gz": "", "https://keys.example.test/tuf": ""} {
		got, ok := IsArchive(in)
		if got != want || ok != (want != "") {
			t.Errorf("IsArchive(%q) = %q, %v", in, got, ok)
		}
	}
}

// A small archive that unpacks into gigabytes is refused after unpacking
// what an archive of its size may hold, not what fits the overall bound.
func TestGzipBombStaysBounded(t *testing.T) {
	t.Parallel()
	// gzip members concatenate into one stream: one entry's body of
	// zeros, packed once, follows each packed header
	pack := func(data []byte) []byte {
		var buf bytes.Buffer
		gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		gz.Write(data)
		gz.Close()
		return buf.Bytes()
	}
	size := int64(MaxFileBytes - 512)
	body := pack(make([]byte, size))
	var buf bytes.Buffer
	for i := 0; buf.Len() < 1200<<10; i++ {
		var hdr bytes.Buffer
		tw := tar.NewWriter(&hdr)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%d.targets.json", i), Typeflag: tar.TypeReg, Size: size, Mode: 0o644})
		tw.Flush()
		buf.Write(pack(hdr.Bytes()))
		buf.Write(body)
	}
	bomb := buf.Bytes()
	const bound = 32 << 20
	var err error
	peak := memtest.PeakHeap(func() { _, err = Decode(bomb) })
	t.Logf("a %.1f MB archive cost %.1f MiB of heap before it was refused", float64(len(bomb))/1e6, float64(peak)/(1<<20))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "unpacks to more than 24 MiB") {
		t.Errorf("err = %v", err)
	}
	if peak > bound {
		t.Errorf("the bomb cost %d MiB, more than the bound of %d MiB", peak>>20, bound>>20)
	}
}
