package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

const signPassphrase = "correct horse battery staple"

// signWorkspace is a workspace with root, targets, the bins and one
// registry's key list staged, alice's and bob's keys, in dir.
func signWorkspace(t *testing.T, dir string) {
	t.Helper()
	t.Chdir(dir)
	t.Setenv("TUFKEYS_PASSPHRASE", signPassphrase)
	for _, name := range []string{"alice", "bob", "online"} {
		if code, out, errOut := runCLI(t, "key", "generate", "--out", name); code != exitOK {
			t.Fatalf("generate %s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	keys := filepath.Join(pkgDir, fixtures, "npm/keys.json")
	for _, args := range [][]string{
		{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-key", "bob.pub", "--root-threshold", "2", "--online-key", "online.pub"},
		{"repo", "stage", "--workspace", "ws", "--registry", "registry.example.test", "--keys", keys, "--new"},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args[:2], code, out, errOut)
		}
	}
}

// Off a terminal, repo sign prints what the signature approves before it
// opens the key, never prompts, and a wrong passphrase ends it at once.
func TestRepoSignShowsBeforeItOpensTheKey(t *testing.T) {
	signWorkspace(t, t.TempDir())
	approval := []string{
		"key list registry.example.test (in bins-2c) against the published one:\n  + SHA256:jl3b",
		"staged root v1: 0 of 2 signatures — waiting for alice",
		"staged bins-00 … bins-3f (64 bins) v1: 0 of 2 signatures",
	}
	// off a terminal without --yes: what would be approved, and nothing signed
	code, out, errOut := runCLI(t, "repo", "sign", "--workspace", "ws", "--key", "alice.key")
	if code != exitUsage || !strings.Contains(errOut, "signs only with --yes") || !strings.Contains(out, approval[1]) || strings.Contains(out, "signed ") {
		t.Errorf("off a terminal without --yes: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("TUFKEYS_PASSPHRASE", "wrong")
	code, out, errOut = runCLI(t, "repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key")
	if code != exitFail || !strings.Contains(errOut, "the passphrase does not open alice.key") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a wrong passphrase: exit %d, stderr %q", code, errOut)
	}
	for _, w := range approval {
		if !strings.Contains(out, w) {
			t.Errorf("before the key is opened, stdout lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "signed ") || strings.Contains(out+errOut, "[y/N]") {
		t.Errorf("signed or asked off a terminal:\n%s%s", out, errOut)
	}
	t.Setenv("TUFKEYS_PASSPHRASE", signPassphrase)
	code, out, errOut = runCLI(t, "repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key")
	if code != exitOK || !strings.Contains(out, "signed root v1: 1 of 2 signatures — waiting for bob") || strings.Index(out, "staged root v1") > strings.Index(out, "signed root v1") {
		t.Errorf("off a terminal, no confirmation asked: exit %d\n%s%s", code, out, errOut)
	}
	// for scripts: what is still missing, as problems with a stable code
	args := []string{"repo", "status", "--workspace", "ws", "-o", "json"}
	code, out, _ = runCLI(t, args...)
	status := parseJSON(t, args, out)
	problems, _ := status["problems"].([]any)
	if code != exitOK || len(problems) == 0 || problems[0].(map[string]any)["code"] != "unsigned" {
		t.Errorf("repo status -o json with signatures missing: exit %d\n%s", code, out)
	}
	if n := len(status["staged"].([]any)); n != 66 {
		t.Errorf("JSON has %d staged roles, want one entry per role (root, targets, 64 bins), unfolded for scripts", n)
	}
	if code, out, errOut := runCLI(t, "repo", "sign", "--yes", "--workspace", "ws", "--key", "bob.key"); code != exitOK {
		t.Fatalf("bob signs: exit %d\n%s%s", code, out, errOut)
	}
	for _, extra := range [][]string{{"--dry-run"}, nil} {
		args := append([]string{"repo", "publish", "--workspace", "ws", "--online-key", "online.key", "--to", "public", "-o", "json"}, extra...)
		code, out, errOut := runCLI(t, args...)
		rep := parseJSON(t, args, out)
		if code != exitOK || rep["dry_run"] != (extra != nil) || len(rep["uploaded"].([]any)) != 69 {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// console is the person at a terminal: it reads what the command writes
// there and answers once the question is on the screen.
type console struct {
	t    *testing.T
	mu   sync.Mutex
	seen bytes.Buffer
	tty  *os.File
	done chan struct{}
}

func startAtTerminal(t *testing.T, args ...string) (*console, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(tufkeysBinary(t), args...)
	// the passphrase comes from the terminal, as a person types it
	cmd.Env = withoutEnv(os.Environ(), "TUFKEYS_PASSPHRASE")
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			c.mu.Lock()
			c.seen.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); tty.Close() })
	return c, cmd
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != name {
			out = append(out, e)
		}
	}
	return out
}

// answer waits for the nth appearance of prompt on the screen, then types
// the line.
func (c *console) answer(prompt string, n int, line string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.mu.Lock()
		got := strings.Count(c.seen.String(), prompt)
		c.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q (%d) on the terminal:\n%s", prompt, n, c.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(c.tty, line+"\r")
}

func (c *console) screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen.String()
}

// wait waits for the command and what it wrote.
func (c *console) wait(cmd *exec.Cmd) (int, string) {
	c.t.Helper()
	err := cmd.Wait()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), c.screen()
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return 0, c.screen()
}

// At a terminal, repo sign shows what it approves, asks for a
// confirmation (--yes skips it) and then for the passphrase, and lets a
// mistyped one be typed again: three tries in all.
func TestRepoSignAtATerminal(t *testing.T) {
	signWorkspace(t, t.TempDir())
	sign := []string{"repo", "sign", "--workspace", "ws", "--key", "alice.key"}
	const question, passphrase = "Sign with alice.key? [y/N] ", "Passphrase for alice.key: "

	// declined: nothing signed, no passphrase asked
	c, cmd := startAtTerminal(t, sign...)
	c.answer(question, 1, "n")
	code, screen := c.wait(cmd)
	if code != exitFail || !strings.Contains(screen, "nothing signed: the signature was not confirmed") || strings.Contains(screen, passphrase) {
		t.Errorf("declined: exit %d\n%s", code, screen)
	}
	if i, j := strings.Index(screen, "staged root v1"), strings.Index(screen, question); i < 0 || j < i {
		t.Errorf("the question comes before what it approves:\n%s", screen)
	}

	// confirmed, one mistyped passphrase, then the right one
	c, cmd = startAtTerminal(t, sign...)
	c.answer(question, 1, "y")
	c.answer(passphrase, 1, "wrong")
	c.answer(passphrase, 2, signPassphrase)
	code, screen = c.wait(cmd)
	if code != exitOK || !strings.Contains(screen, "the passphrase does not open alice.key: try again (2 tries left)") || !strings.Contains(screen, "signed root v1: 1 of 2 signatures") {
		t.Errorf("retyped passphrase: exit %d\n%s", code, screen)
	}
	if strings.Contains(screen, signPassphrase) || strings.Contains(screen, "wrong\r") {
		t.Errorf("a passphrase was echoed:\n%s", screen)
	}

	// --yes asks no question; three wrong passphrases end it
	c, cmd = startAtTerminal(t, "repo", "sign", "--workspace", "ws", "--key", "bob.key", "--yes")
	for i := 1; i <= passphraseTries; i++ {
		c.answer("Passphrase for bob.key: ", i, "wrong")
	}
	code, screen = c.wait(cmd)
	if code != exitFail || strings.Contains(screen, "[y/N]") || !strings.Contains(screen, "(1 try left)") || strings.Count(screen, "Passphrase for bob.key") != passphraseTries {
		t.Errorf("--yes with three wrong passphrases: exit %d\n%s", code, screen)
	}
}
