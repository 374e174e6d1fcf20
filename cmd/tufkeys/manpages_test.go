package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"
)

// TestManPages writes a man page per command, generated from the commands:
// into TUFKEYS_MAN_DIR when set (scripts/man.sh sets it), else into a
// temporary directory, to check them. The generator lives in a test so that
// the binary does not carry it (and its start-up cost) for every run.
func TestManPages(t *testing.T) {
	dir := os.Getenv("TUFKEYS_MAN_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, func() {})
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "TUFKEYS", Section: "1", Source: "tufkeys " + buildVersion().Version}
	if err := doc.GenManTree(root, header, dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"tufkeys.1", "tufkeys-keys.1", "tufkeys-repo-publish.1", "tufkeys-verify.1"} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || !strings.Contains(string(data), ".TH \"TUFKEYS\"") {
			t.Errorf("%s: %v", page, err)
		}
	}
}
