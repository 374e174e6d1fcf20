package workspace_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/binfold"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

const host = "registry.example.test"

func fixture(t testing.TB, name string) []byte { return testutil.Fixture(t, name) }

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"365d", 365 * 24 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"-3d", 0, false},
		{"5000d", 0, false},
		{"soon", 0, false},
		{"-1h", 0, false},
		{"1ns", 0, false},
		{"59m", 0, false},
		{"1h", time.Hour, true},
	}
	for _, tt := range tests {
		got, err := workspace.ParsePeriod(tt.in)
		if (err == nil) != tt.ok || (tt.ok && time.Duration(got) != tt.want) {
			t.Errorf("ParsePeriod(%q) = %v, %v", tt.in, time.Duration(got), err)
		}
	}
	if s := workspace.Period(90 * 24 * time.Hour).String(); s != "90d" {
		t.Errorf("String = %q", s)
	}
}

func keys(t *testing.T, names ...string) []ceremony.Key {
	t.Helper()
	var out []ceremony.Key
	for _, n := range names {
		k, err := ceremony.NewKey(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// A short expiry chosen with the default re-sign window is due half way
// through its life, not from the start.
func TestShortExpiryShortensTheWindow(t *testing.T) {
	t.Parallel()
	ks := keys(t, "alice", "online")
	w, err := workspace.Init(t.TempDir(), workspace.InitOptions{RootKeys: []workspace.PublicKey{ks[0].Public}, RootThreshold: 1, OnlineKey: ks[1].Public,
		Expiry: workspace.Periods{Timestamp: workspace.Period(6 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Config.ResignWindow.Timestamp; got != workspace.Period(3*time.Hour) {
		t.Errorf("timestamp re-sign window %s, want 3h", got)
	}
	if got := w.Config.ResignWindow.Targets; got != workspace.DefaultResignWindow.Targets {
		t.Errorf("targets re-sign window %s, want the default", got)
	}
}

func TestInitRefusals(t *testing.T) {
	t.Parallel()
	ks := keys(t, "alice", "bob", "online")
	pubs := []workspace.PublicKey{ks[0].Public, ks[1].Public}
	tests := []struct {
		name string
		opts workspace.InitOptions
		want string
	}{
		{"no root keys", workspace.InitOptions{RootThreshold: 1, OnlineKey: ks[2].Public}, "no root keys"},
		{"threshold zero", workspace.InitOptions{RootKeys: pubs, OnlineKey: ks[2].Public}, "root threshold 0 must be between 1 and the number of root keys (2)"},
		{"threshold above keys", workspace.InitOptions{RootKeys: pubs, RootThreshold: 3, OnlineKey: ks[2].Public}, "between 1 and the number of root keys (2)"},
		{"no online key", workspace.InitOptions{RootKeys: pubs, RootThreshold: 2}, "no online key"},
		{"online key is a root key", workspace.InitOptions{RootKeys: pubs, RootThreshold: 2, OnlineKey: ks[0].Public}, "use a separate key"},
		{"key twice", workspace.InitOptions{RootKeys: append(pubs, ks[0].Public), RootThreshold: 2, OnlineKey: ks[2].Public}, "listed twice"},
		{"window as long as the expiry", workspace.InitOptions{RootKeys: pubs, RootThreshold: 2, OnlineKey: ks[2].Public,
			Expiry: workspace.Periods{Timestamp: workspace.Period(6 * time.Hour)}, ResignWindow: workspace.Periods{Timestamp: workspace.Period(6 * time.Hour)}},
			"the timestamp re-sign window of 6h is not shorter than its expiry of 6h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := workspace.Init(dir, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if _, err := workspace.Open(dir); !errors.Is(err, workspace.ErrNotWorkspace) {
				t.Errorf("a refused init left a workspace behind: %v", err)
			}
		})
	}
	dir := t.TempDir()
	if _, err := workspace.Init(dir, workspace.InitOptions{RootKeys: pubs, RootThreshold: 2, OnlineKey: ks[2].Public}); err != nil {
		t.Fatal(err)
	}
	if _, err := workspace.Init(dir, workspace.InitOptions{RootKeys: pubs, RootThreshold: 2, OnlineKey: ks[2].Public}); err == nil || !strings.Contains(err.Error(), "already a tufkeys workspace") {
		t.Errorf("second init: %v", err)
	}
}

func TestOpenNonWorkspace(t *testing.T) {
	t.Parallel()
	_, err := workspace.Open(t.TempDir())
	if !errors.Is(err, workspace.ErrNotWorkspace) {
		t.Errorf("err = %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Two maintainers sign separate clones; git merges their signatures without
// a conflict and the merged workspace is ready to publish.
func TestSignaturesFromSeparateClonesMerge(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	origin := c.WS.Dir
	git(t, origin, "init", "-q")
	git(t, origin, "add", "-A")
	git(t, origin, "commit", "-qm", "stage the rotated list")
	base := t.TempDir()
	var clones []string
	for i, name := range []string{"alice", "bob"} {
		dir := filepath.Join(base, name)
		git(t, base, "clone", "-q", origin, dir)
		ws, err := workspace.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ws.Sign(c.Maintainers[i].Signer); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "-qm", name+" signs")
		clones = append(clones, dir)
	}
	git(t, clones[0], "pull", "-q", "--no-rebase", clones[1], "HEAD")
	ws, err := workspace.Open(clones[0])
	if err != nil {
		t.Fatal(err)
	}
	st, err := ws.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Staged) != 1 || !st.Staged[0].Ready() {
		t.Fatalf("after the merge: %+v", st.Staged)
	}
}

func TestStatusCheckProblems(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	st, err := c.WS.Status()
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Problems(); len(p) != 0 {
		t.Fatalf("fresh repository has problems: %v", p)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(c.Maintainers[2].Signer); err != nil {
		t.Fatal(err)
	}
	// the timestamp (1 day, window 12 hours) is due 13 hours later
	c.WS.Now = func() time.Time { return now.Add(13 * time.Hour) }
	st, err = c.WS.Status()
	if err != nil {
		t.Fatal(err)
	}
	problems := problemText(st.Problems())
	for _, w := range []string{"targets v2 is staged but not yet signed: waiting for maintainer1", "timestamp v1 expires at", "within its re-sign window of 12h"} {
		if !strings.Contains(problems, w) {
			t.Errorf("problems lack %q:\n%s", w, problems)
		}
	}
	if len(st.Bundles) != 1 || len(st.Bundles[0].Diff.Added) != 2 {
		t.Errorf("bundle changes %+v", st.Bundles)
	}
}

// A publish that wrote the workspace's history but stopped before removing
// the staged copy leaves nothing staged behind.
func TestStagedCopyOfPublishedVersionIsNotStaged(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(c.WS.Dir, "staged", "targets.json")
	leftover, err := os.ReadFile(staged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, leftover, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := c.WS.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Staged.Empty() {
		t.Errorf("published version counts as staged: %v", st.Staged.Roles())
	}
}

func TestRotateRefusals(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts workspace.RotateOptions
		want string
	}{
		{"nothing", workspace.RotateOptions{}, "nothing to change"},
		{"unknown key", workspace.RotateOptions{RemoveRootKeys: []string{"mallory"}}, `cannot remove root key "mallory"`},
		{"threshold above keys", workspace.RotateOptions{RootThreshold: 4}, "root threshold 4 must be between 1 and the number of root keys (3)"},
		{"removing below threshold", workspace.RotateOptions{RemoveRootKeys: []string{"maintainer1", "maintainer2"}}, "root threshold 2 must be between 1 and the number of root keys (1)"},
		{"online key as root key", workspace.RotateOptions{OnlineKey: &c.Maintainers[0].Public}, "is also a root key"},
	}
	for _, tt := range tests {
		_, err := c.WS.Rotate(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// Replacing the online key is a root change: the old key can no longer
// publish, the new one can.
func TestOnlineKeyRotation(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	next := keys(t, "online-2")[0]
	res, err := c.WS.Rotate(workspace.RotateOptions{OnlineKey: &next.Public})
	if err != nil {
		t.Fatal(err)
	}
	if res.RootVersion != 2 || res.TargetsVersion != 0 {
		t.Errorf("rotate result %+v", res)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err == nil || !strings.Contains(err.Error(), "online is not the online key of root v2") {
		t.Fatalf("publish with the old online key: %v", err)
	}
	c.Online = next
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
}

// Many registries stage in one change; one refused list stages none.
func TestStageMany(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list := fixture(t, "npm/keys.json")
	var items []workspace.StageItem
	for i := range 30 {
		items = append(items, workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true})
	}
	bad := append(items[:len(items):len(items)], workspace.StageItem{Registry: "bad.example.test", List: []byte(`{"keys":[]}`), New: true})
	if _, err := c.WS.StageMany(bad); err == nil || !strings.Contains(err.Error(), "bad.example.test is not valid") {
		t.Fatalf("a batch with a bad list: %v", err)
	}
	if st, _ := c.WS.Status(); len(st.Bundles) != 0 {
		t.Fatalf("a refused batch staged %d lists", len(st.Bundles))
	}
	res, err := c.WS.StageMany(items)
	if err != nil || len(res) != 30 {
		t.Fatalf("%d results, %v", len(res), err)
	}
	st, err := c.WS.Status()
	if err != nil || len(st.Bundles) != 30 {
		t.Fatalf("%d staged lists, %v", len(st.Bundles), err)
	}
	for _, r := range res {
		if r.Role != "targets" || r.Version != 1 || r.Unchanged {
			t.Errorf("%s staged in %s v%d (unchanged %v), want all in one targets v1", r.Host, r.Role, r.Version, r.Unchanged)
		}
	}
	again, err := c.WS.StageMany(items[:2])
	if err != nil || !again[0].Unchanged || !again[1].Unchanged {
		t.Errorf("staging the same lists again: %+v, %v", again, err)
	}
}

// BenchmarkStageMany reports the cost per registry of staging 10,000 key
// lists in one call against staging 100: staging is linear when the ratio
// is near 1 (target: at most 1.5).
func BenchmarkStageMany(b *testing.B) {
	list, err := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", "keys.json"))
	if err != nil {
		b.Fatal(err)
	}
	perRegistry := func(n int) time.Duration {
		c, err := ceremony.New(b.TempDir(), ceremony.Options{})
		if err != nil {
			b.Fatal(err)
		}
		items := make([]workspace.StageItem, n)
		for i := range items {
			items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true}
		}
		start := time.Now()
		if _, err := c.WS.StageMany(items); err != nil {
			b.Fatal(err)
		}
		return time.Since(start) / time.Duration(n)
	}
	var small, large time.Duration
	for b.Loop() {
		small += perRegistry(100)
		large += perRegistry(10000)
	}
	b.ReportMetric(float64(small)/float64(b.N), "ns/registry@100")
	b.ReportMetric(float64(large)/float64(b.N), "ns/registry@10000")
	b.ReportMetric(float64(large)/float64(small), "ratio")
}

// Bins waiting for the same signers are one problem, not sixteen.
func TestBinsProblemsGrouped(t *testing.T) {
	t.Parallel()
	ks := keys(t, "alice", "online")
	w, err := workspace.Init(t.TempDir(), workspace.InitOptions{RootKeys: []workspace.PublicKey{ks[0].Public}, RootThreshold: 1, OnlineKey: ks[1].Public, Bins: 16})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Status()
	if err != nil {
		t.Fatal(err)
	}
	problems := st.Problems()
	if len(problems) != 3 || !strings.Contains(problems[2].Message, "bins-0 … bins-f (16 bins) v1 is staged but not yet signed") || problems[2].Code != workspace.ProblemUnsigned {
		t.Errorf("problems: %q", problems)
	}
	if lines := workspace.Lines(st.Staged); len(lines) != 3 || !strings.HasPrefix(lines[2], "bins-0 … bins-f (16 bins) v1: 0 of 1 signatures") {
		t.Errorf("lines: %q", lines)
	}
}

// A contributor who adds .pub files to the workspace cannot relabel who
// signed, nor put escape bytes on the status page: names pass repo init's
// check, and a key two files hold has no name.
func TestSignerNamesAreCheckedAndUnique(t *testing.T) {
	t.Parallel()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	keysDir := filepath.Join(c.WS.Dir, "keys")
	m1, err := os.ReadFile(filepath.Join(keysDir, "maintainer1.pub"))
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := os.ReadFile(filepath.Join(keysDir, "maintainer2.pub"))
	os.WriteFile(filepath.Join(keysDir, "ceo.pub"), m1, 0o644)
	os.WriteFile(filepath.Join(keysDir, "evil\x1b[31mred.pub"), m2, 0o644)
	rep, err := c.WS.Report()
	if err != nil {
		t.Fatal(err)
	}
	var signers []string
	for _, r := range rep.Roles {
		signers = append(signers, r.Signers...)
	}
	all := strings.Join(signers, " ")
	if strings.Contains(all, "ceo") || strings.Contains(all, "maintainer1") || strings.Contains(all, "\x1b") || strings.Contains(all, "evil") {
		t.Errorf("signers as the page shows them: %q", signers)
	}
	if !strings.Contains(all, "maintainer2") {
		t.Errorf("the checked, unique name is gone: %q", signers)
	}
}

// The bins the workspace names are the ones every report folds.
func TestBinPrefixIsTheFoldedOne(t *testing.T) {
	t.Parallel()
	if workspace.BinPrefix != binfold.Prefix {
		t.Errorf("workspace names bins %q, binfold folds %q", workspace.BinPrefix, binfold.Prefix)
	}
}

// problemText is the problems' messages, one per line.
func problemText(ps []workspace.Problem) string {
	var lines []string
	for _, p := range ps {
		lines = append(lines, p.Message)
	}
	return strings.Join(lines, "\n")
}

// One command reads the clock once: the roles it writes expire together
// even when the clock moves while it works, so that bins written together
// fold into one line.
func TestOneCommandOneExpiry(t *testing.T) {
	t.Parallel()
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		tick = tick.Add(time.Second)
		return tick
	}
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 8, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.WS.Status()
	if err != nil {
		t.Fatal(err)
	}
	expiries := map[time.Time][]string{}
	for _, r := range st.Staged {
		if strings.HasPrefix(r.Role, "bins-") {
			expiries[r.Expires] = append(expiries[r.Expires], r.Role)
		}
	}
	if len(st.Staged) < 8 || len(expiries) != 1 {
		t.Fatalf("init wrote the bins with %d expiries: %v", len(expiries), expiries)
	}
}
