package publish_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/witnesstest"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/translog"
)

func loggedCeremony(t *testing.T) (*ceremony.Ceremony, witnesstest.Log, witnesstest.Set) {
	t.Helper()
	set := witnesstest.Get(t)
	log := set.NewLog(t, 2)
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 4, Log: &log.Policy, LogKey: log.Key})
	if err != nil {
		t.Fatal(err)
	}
	return c, log, set
}

// A publish logs root v1 and every key list before uploading them, and the
// scheduled timestamp has the witnesses cosign again; each entry is proven
// under the checkpoint the repository serves.
func TestPublishLogsEveryRootAndKeyList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, log, _ := loggedCeremony(t)
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	// a dry run, with no key opened, says what it would log and writes
	// nothing
	rep, err := publish.Publish(ctx, c.WS, nil, c.Store, publish.Options{DryRun: true})
	if err != nil || rep.Log == nil || rep.Log.Appended != 2 {
		t.Fatalf("dry run: %+v, %v", rep.Log, err)
	}
	if _, err := os.Stat(filepath.Join(c.RepoDir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dry run wrote the log: %v", err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(c.RepoDir, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := translog.VerifyCheckpoint(log.Policy, raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// one publish: root v1 and the key list
	if cp.Size != 2 {
		t.Fatalf("log size %d, want 2 (root v1 and the key list)", cp.Size)
	}
	fetch := logappend.StoreFetch(c.Store)
	list := fixture(t, "npm/keys.json")
	// the latest file says which role version published the list; the
	// lookup proves that exact entry
	latest, err := fetch(ctx, translog.LatestName(host), translog.MaxIndexFile)
	if err != nil {
		t.Fatal(err)
	}
	_, hinted, _ := strings.Cut(string(latest), "\n")
	he, err := translog.ParseEntry([]byte(hinted))
	if err != nil {
		t.Fatal(err)
	}
	key := translog.Key{Registry: host, Role: he.Role, Version: he.Version, SHA256: translog.KeyListEntry(host, "", 0, list, nil, time.Now()).SHA256}
	e, _, err := translog.Lookup(ctx, fetch, cp, key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Role, "bins-") || e.Version < 1 || len(e.KeyIDs) == 0 {
		t.Errorf("the key list's entry: %+v", e)
	}
	root1, err := c.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	// the log is extra to TUF: go-tuf's own updater reads the repository
	if got, _, err := fetchWithGoTUF(t, serve(t, c.RepoDir), root1, host+"/keys.json"); err != nil || string(got) != string(list) {
		t.Errorf("go-tuf reading the logged repository: %v", err)
	}
	if _, _, err := translog.Lookup(ctx, fetch, cp, translog.RootEntry(1, root1, time.Now()).Key()); err != nil {
		t.Errorf("root v1: %v", err)
	}
	// the scheduled job refreshes the cosignatures, the size stays
	time.Sleep(1100 * time.Millisecond) // cosignature timestamps have seconds
	opts := c.PublishOptions()
	opts.StatusPage = true
	rep, err = publish.Timestamp(ctx, c.WS, c.Online.Signer, c.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	// the status page shows the log's witnessed checkpoint
	page, err := os.ReadFile(filepath.Join(c.RepoDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "Every key list and root is in the log <code>"+log.Policy.Origin+"</code>: 2 entries, the checkpoint cosigned by witness1.example.test, witness2.example.test, witness3.example.test (quorum 2)") {
		t.Errorf("the status page does not show the log:\n%s", page)
	}
	again, err := os.ReadFile(filepath.Join(c.RepoDir, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := translog.VerifyCheckpoint(log.Policy, again, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if cp2.Size != cp.Size || !cp2.Cosigned.After(cp.Cosigned) || rep.Log == nil || rep.Log.Size != 2 {
		t.Errorf("after the timestamp job: size %d, cosigned %s (was %s), report %+v", cp2.Size, cp2.Cosigned, cp.Cosigned, rep.Log)
	}
}

// Without the log key, or without the quorum, nothing of the release goes
// live: the timestamp clients read stays as it was.
func TestPublishWithoutTheLogPublishesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _, set := loggedCeremony(t)
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	timestamp := func() string {
		data, err := os.ReadFile(filepath.Join(c.RepoDir, "timestamp.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	before := timestamp()
	if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, c.Store, publish.Options{}); !errors.Is(err, publish.ErrNoLogKey) {
		t.Fatalf("without the log key: %v, want ErrNoLogKey", err)
	}
	refusing := refuse{set.Witnesses[1].URL: true, set.Witnesses[2].URL: true}
	opts := c.PublishOptions()
	opts.Log.Witness = refusing
	_, err := publish.Publish(ctx, c.WS, c.Online.Signer, c.Store, opts)
	if !errors.Is(err, logappend.ErrNoQuorum) {
		t.Fatalf("with one witness of the two needed: %v, want ErrNoQuorum", err)
	}
	if timestamp() != before {
		t.Error("timestamp.json changed though the witnesses refused")
	}
	if _, err := os.Stat(filepath.Join(c.RepoDir, "targets", host)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key list was uploaded though the witnesses refused: %v", err)
	}
	// once the witnesses answer, the same publish completes
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if timestamp() == before {
		t.Error("the publish did not go live once the witnesses answered")
	}
}

// refuse is the real HTTP witness client, except for the witnesses it
// names, which fail as an unreachable witness does.
type refuse map[string]bool

func (r refuse) AddCheckpoint(ctx context.Context, url string, old int64, proof []tlog.Hash, cp []byte) ([]byte, error) {
	if r[url] {
		return nil, errors.New("connection refused")
	}
	return logappend.HTTPWitness{}.AddCheckpoint(ctx, url, old, proof, cp)
}

// tuf-js, npm's TUF client, reads a repository with a log as any other:
// the log is extra to TUF.
func TestTufJSReadsALoggedRepository(t *testing.T) {
	t.Parallel()
	modules := testutil.Tool(t, "TUFKEYS_TEST_TUFJS", "tuf-js")
	c, _, _ := loggedCeremony(t)
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, err := c.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"meta", "targets"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "meta", "root.json"), root, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "tufjs-fetch.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, serve(t, c.RepoDir), dir, host+"/keys.json")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tuf-js: %v: %s", err, stderr.String())
	}
	if string(out) != string(fixture(t, "npm/keys.json")) {
		t.Errorf("tuf-js read other bytes than the key list:\n%s", out)
	}
}

// The scheduled timestamp is re-signed even when the witnesses do not
// cosign again (a witness outage must not expire the repository in a
// day); the report says so, and the checkpoint keeps its cosignatures.
func TestTimestampGoesOutWithoutTheWitnesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, log, set := loggedCeremony(t)
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() string {
		data, err := os.ReadFile(filepath.Join(c.RepoDir, "log", "checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	before, ts := checkpoint(), string(readFile(t, filepath.Join(c.RepoDir, "timestamp.json")))
	opts := c.PublishOptions()
	opts.Log.Witness = refuse{set.Witnesses[0].URL: true, set.Witnesses[1].URL: true, set.Witnesses[2].URL: true}
	rep, err := publish.Timestamp(ctx, c.WS, c.Online.Signer, c.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.LogError, "0 of 3 witnesses cosigned") || rep.Log == nil || rep.Log.Size != 2 || len(rep.Log.Witnessed) != 3 {
		t.Errorf("report: %+v, log %+v", rep.LogError, rep.Log)
	}
	if checkpoint() != before {
		t.Error("the checkpoint changed without the witnesses")
	}
	if string(readFile(t, filepath.Join(c.RepoDir, "timestamp.json"))) == ts {
		t.Error("the timestamp was not re-signed")
	}
	if _, err := translog.VerifyCheckpoint(log.Policy, []byte(before), time.Now()); err != nil {
		t.Errorf("the kept checkpoint: %v", err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
