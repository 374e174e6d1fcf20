package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tufkeys serve, run as a process, prints the URL it serves first, logs
// each request and stops cleanly on SIGTERM and SIGINT.
func TestServeStopsOnSignals(t *testing.T) {
	bin := tufkeysBinary(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "timestamp.json"), []byte("{}"), 0o644)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd := exec.Command(bin, "serve", dir, "--addr", "127.0.0.1:0")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first, _ := bufio.NewReader(stdout).ReadString('\n')
		m := regexp.MustCompile(`^serving \S+ at http://(127\.0\.0\.1:[0-9]+)/ \(SIGINT or SIGTERM stops it\)\n$`).FindStringSubmatch(first)
		if m == nil {
			cmd.Process.Kill()
			t.Fatalf("first line %q does not give the URL", first)
		}
		addr := m[1]
		lines := bufio.NewScanner(stderr)
		resp, err := http.Get("http://" + addr + "/timestamp.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !lines.Scan() || !strings.Contains(lines.Text(), "path=/timestamp.json status=200") {
			t.Errorf("request log line: %q", lines.Text())
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() {
			for lines.Scan() {
			}
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: exit %v", sig, err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: the server did not stop", sig)
		}
	}
}
