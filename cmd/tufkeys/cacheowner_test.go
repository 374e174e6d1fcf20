package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// Two local users, as separate processes: the attacker prepares a cache
// the victim is pointed at (a shared, world-writable directory), filled
// with metadata that verifies. The victim's tufkeys refuses it at once,
// without reading it and without waiting on its lock.
func TestCacheOfAnotherLocalUser(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv to run tufkeys as two other users")
	}
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	// a directory both users reach, as /tmp is
	shared, err := os.MkdirTemp("", "tufkeys-users-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o1777)
	bin := filepath.Join(shared, "tufkeys")
	data, err := os.ReadFile(tufkeysBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	rootCopy := filepath.Join(shared, "root.json")
	rb, _ := os.ReadFile(root)
	os.WriteFile(rootCopy, rb, 0o644)

	const attacker, victim = 61001, 61002
	as := func(uid int, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id := strconv.Itoa(uid)
		cmd := exec.CommandContext(ctx, setpriv, append([]string{"--reuid", id, "--regid", id, "--clear-groups", bin}, args...)...)
		cmd.Env = []string{"HOME=" + shared, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("uid %d: tufkeys %v hung", uid, args)
		}
		return exitStatus(t, err), string(out)
	}
	trap := filepath.Join(shared, "cache")
	flags := func(cache string) []string {
		return []string{"--registry", "registry.example.test", "--repo", repo, "--root", rootCopy, "--cache", cache}
	}
	if code, out := as(attacker, append([]string{"keys"}, flags(trap)...)...); code != 0 {
		t.Fatalf("the attacker's own run: exit %d\n%s", code, out)
	}
	if err := os.Chmod(trap, 0o777); err != nil {
		t.Fatal(err)
	}
	// and holds its lock, which once hung the victim
	holder := flock.New(filepath.Join(trap, "lock"))
	if err := holder.Lock(); err != nil {
		t.Fatal(err)
	}
	defer holder.Unlock()
	code, out := as(victim, append([]string{"keys"}, flags(trap)...)...)
	if code != exitFail || !strings.Contains(out, "belongs to uid 61001, not to this user (uid 61002)") || strings.Contains(out, "SHA256:") {
		t.Errorf("the victim used the attacker's cache: exit %d\n%s", code, out)
	}
	t.Logf("the victim was told: %s", out)
	if lines := strings.Count(strings.TrimSpace(out), "\n"); lines != 0 {
		t.Errorf("the refusal is %d lines, want one sentence:\n%s", lines+1, out)
	}
	// the victim's own cache, opened to everyone, is refused as well
	own := filepath.Join(shared, "own")
	if code, out := as(victim, append([]string{"keys"}, flags(own)...)...); code != 0 {
		t.Fatalf("the victim's own cache: exit %d\n%s", code, out)
	}
	os.Chmod(own, 0o757)
	if code, out := as(victim, append([]string{"keys"}, flags(own)...)...); code != exitFail || !strings.Contains(out, "may be written by other users (mode 0757)") {
		t.Errorf("a world-writable cache of the victim's own: exit %d\n%s", code, out)
	}
}
