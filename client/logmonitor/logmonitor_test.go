package logmonitor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/logmonitor"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/translog"
)

// The monitor as a library: a clean log gives no finding; a stray entry
// and a logged root the repository does not serve give typed findings; a
// repository with no log is ErrNoLog.
func TestRunFindings(t *testing.T) {
	ctx := context.Background()
	log := witnesstest.Get(t).NewLog(t, 2)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("registry.example.test", testutil.Fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	root, _ := c.RootBytes(1)
	url := testutil.Serve(t, c.RepoDir)
	newClient := func() *client.Client {
		cl, err := client.New(client.Options{TrustedRoot: root, Repositories: []string{url}, CacheDir: t.TempDir(), MaxAge: client.Age(0)})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	rep, err := logmonitor.Run(ctx, logmonitor.Options{Client: newClient()})
	if err != nil || len(rep.Findings) != 0 || rep.Next.Size != 2 {
		t.Fatalf("a clean log: %v, findings %v, size %d", err, rep.Findings, rep.Next.Size)
	}
	signer, _ := logappend.NoteSigner(log.Key, log.Policy)
	stray := translog.KeyListEntry("other.example.test", "bins-1", 7, []byte("never published"), nil, time.Now())
	if _, err := logappend.Append(ctx, c.Store, []translog.Entry{stray}, logappend.Options{Policy: log.Policy, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Rotate(workspace.RotateOptions{RemoveLog: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(c.RepoDir, "2.root.json"))
	rep, err = logmonitor.Run(ctx, logmonitor.Options{Client: newClient(), State: rep.Next})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[logmonitor.Kind]bool{}
	for _, f := range rep.Findings {
		kinds[f.Kind] = true
	}
	if !kinds[logmonitor.EntryNotPublished] || !kinds[logmonitor.RootNotServed] {
		t.Errorf("findings %v: want a stray entry and a logged root the repository does not serve", rep.Findings)
	}
	// a repository whose root names no log has nothing to monitor
	plain, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.StagePublish("registry.example.test", testutil.Fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	proot, _ := plain.RootBytes(1)
	pc, _ := client.New(client.Options{TrustedRoot: proot, Repositories: []string{testutil.Serve(t, plain.RepoDir)}, CacheDir: t.TempDir()})
	if _, err := logmonitor.Run(ctx, logmonitor.Options{Client: pc}); !errors.Is(err, logmonitor.ErrNoLog) {
		t.Errorf("no log: %v, want ErrNoLog", err)
	}
}
