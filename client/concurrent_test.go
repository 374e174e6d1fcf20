package client_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
)

// TestMain lets the test binary double as a separate client process for
// the concurrency test.
func TestMain(m *testing.M) {
	if os.Getenv("TUFKEYS_TEST_HELPER") != "" {
		os.Exit(helperProcess())
	}
	os.Exit(m.Run())
}

func helperProcess() int {
	root, err := os.ReadFile(os.Getenv("TUFKEYS_TEST_ROOT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cl, err := client.New(client.Options{
		Repositories: []string{os.Getenv("TUFKEYS_TEST_REPO")},
		TrustedRoot:  root,
		CacheDir:     os.Getenv("TUFKEYS_TEST_CACHE"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if os.Getenv("TUFKEYS_TEST_HELPER") == "refresh" {
		if _, err := cl.Refresh(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	keys, err := cl.Keys(ctx, host)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(len(keys.Keys))
	return 0
}

// Package managers run in parallel in CI: sixteen processes refreshing one
// cache directory at once never corrupt it and never fail because of each
// other.
func TestSixteenProcessesShareOneCache(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "npm/keys.json")
	// slow answers widen the window in which the processes overlap
	w.srv.setIntercept(func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(20 * time.Millisecond)
		return false
	})
	rootFile := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(rootFile, w.root(), 0o600)
	cacheDir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mode := "keys"
			if i%2 == 0 {
				mode = "refresh"
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(),
				"TUFKEYS_TEST_HELPER="+mode,
				"TUFKEYS_TEST_ROOT="+rootFile,
				"TUFKEYS_TEST_REPO="+w.srv.URL,
				"TUFKEYS_TEST_CACHE="+cacheDir,
			)
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "2" {
				errs[i] = fmt.Sprintf("process %d (%s): %v: %s", i, mode, err, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	cl, _ := w.client(cacheDir)
	info, err := cl.CacheInfo(context.Background())
	if err != nil || !info.Verified || !info.Fresh {
		t.Fatalf("cache after the processes: %+v, %v", info, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cacheDir, ".work-*"))
	if len(leftovers) != 0 {
		t.Errorf("work directories left behind: %v", leftovers)
	}
}
