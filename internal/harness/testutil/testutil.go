// Package testutil holds what the tests of every package share: the
// fixtures under bundle/testdata, a loopback server of a published
// repository, and go-tuf's own updater reading what tufkeys publishes.
// Only tests import it; a test of the thin client checks that no command
// links it.
package testutil

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// ModuleRoot is the directory of the module's go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Fixture reads a file under bundle/testdata.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ModuleRoot(), "bundle", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Serve serves a published repository directory on loopback, as tufkeys
// serve does, until the test ends, and returns its URL.
func Serve(t testing.TB, dir string) string {
	t.Helper()
	h, err := repohttp.Handler(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// GoTUF is go-tuf's own updater, trusting root, refreshed against url,
// with its metadata and targets in temporary directories.
func GoTUF(t testing.TB, url string, root []byte) (*updater.Updater, error) {
	t.Helper()
	cfg, err := config.New(url, root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = t.TempDir(), t.TempDir()
	up, err := updater.New(cfg)
	if err != nil {
		return nil, err
	}
	return up, up.Refresh()
}

// GoTUFTarget reads a target with go-tuf's own updater, trusting root.
func GoTUFTarget(t testing.TB, url string, root []byte, target string) ([]byte, *updater.Updater, error) {
	t.Helper()
	up, err := GoTUF(t, url, root)
	if err != nil {
		return nil, up, err
	}
	info, err := up.GetTargetInfo(target)
	if err != nil {
		return nil, up, err
	}
	_, data, err := up.DownloadTarget(info, filepath.Join(t.TempDir(), "target"), "")
	return data, up, err
}

// Rounds is how many rounds a soak loop runs: full, unless
// TUFKEYS_TEST_ROUNDS names fewer (CI sets 10, so that a run on two cores
// stays within minutes; a run by hand, or the scheduled soak, keeps the
// full count), or -short asks for a quick run (3).
func Rounds(full int) int {
	if v, err := strconv.Atoi(os.Getenv("TUFKEYS_TEST_ROUNDS")); err == nil && v > 0 {
		return min(v, full)
	}
	if testing.Short() {
		return min(3, full)
	}
	return full
}

// Tool is the path a variable of scripts/test.sh names (a program, a
// package or a folder it installed). Outside scripts/test.sh a test that
// needs it is skipped; inside it, which sets TUFKEYS_TEST_REQUIRE_TOOLS,
// its absence fails the test.
func Tool(t testing.TB, variable, what string) string {
	t.Helper()
	if p := os.Getenv(variable); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TUFKEYS_TEST_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s (%s) is missing: scripts/test.sh installs it", what, variable)
	}
	t.Skipf("%s is unset: run scripts/test.sh, which installs %s", variable, what)
	return ""
}
