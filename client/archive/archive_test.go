package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"reflect"
	"testing"
)

func TestRoundTripIsDeterministic(t *testing.T) {
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
	for in, want := range map[string]string{"keys.tar.gz": "keys.tar.gz", "file:///media/usb/keys.tgz": "/media/usb/keys.tgz", "https://keys.example.test/x.tar.gz": "", "https://keys.example.test/tuf": ""} {
		got, ok := IsArchive(in)
		if got != want || ok != (want != "") {
			t.Errorf("IsArchive(%q) = %q, %v", in, got, ok)
		}
	}
}
