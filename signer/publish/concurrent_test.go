package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

// raceRounds is how often each race below is run: a lost update showed
// within a few dozen rounds before publishing wrote conditionally, so the
// full count (100) runs by hand and in the scheduled soak; CI runs
// TUFKEYS_TEST_ROUNDS of them.
func raceRounds() int { return testutil.Rounds(100) }

// destination is a store and the URL clients read it at.
type destination struct {
	dst store.Store
	url string
}

func destinations(t *testing.T, c *ceremony.Ceremony) map[string]func(t *testing.T) destination {
	return map[string]func(t *testing.T) destination{
		"dir": func(t *testing.T) destination {
			return destination{c.Store, serve(t, c.RepoDir)}
		},
		"s3": func(t *testing.T) destination {
			srv := s3test.Get(t)
			st, prefix := srv.Store(t)
			return destination{st, srv.PublicURL(prefix)}
		},
	}
}

// checkout copies a workspace, as a second machine's git checkout of it.
// Files are hard-linked, not copied: the workspace replaces files by
// renaming new ones over them, never writes into them, so the two
// checkouts stay apart.
func checkout(t *testing.T, ws *workspace.Workspace, dir string) *workspace.Workspace {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(ws.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ws.Dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		return os.Link(p, filepath.Join(dir, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := workspace.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return other
}

// Two scheduled timestamp runs at once, from two checkouts of one
// workspace: both succeed, one after the other, and no update is lost.
func TestConcurrentTimestampRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for kind, open := range destinations(t, nil) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newCeremony(t, ceremony.Options{})
			if kind == "dir" {
				open = destinations(t, c)[kind]
			}
			dest := open(t)
			if _, err := c.WS.Stage(host, fixture(t, "corepack-0.30.json"), nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Sign(2); err != nil {
				t.Fatal(err)
			}
			first, err := publish.Publish(ctx, c.WS, c.Online.Signer, dest.dst, publish.Options{})
			if err != nil {
				t.Fatal(err)
			}
			other := checkout(t, c.WS, filepath.Join(t.TempDir(), "checkout"))
			root := rootV(t, c, 1)
			version := first.Timestamp
			for round := range raceRounds() {
				var reps [2]publish.Report
				var errs [2]error
				var wg sync.WaitGroup
				for i, ws := range []*workspace.Workspace{c.WS, other} {
					wg.Go(func() {
						reps[i], errs[i] = publish.Timestamp(ctx, ws, c.Online.Signer, dest.dst, publish.Options{})
					})
				}
				wg.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("round %d: %v; %v", round, errs[0], errs[1])
				}
				if reps[0].Timestamp == reps[1].Timestamp || reps[0].Snapshot == reps[1].Snapshot {
					t.Fatalf("round %d: both runs published timestamp v%d, snapshot v%d/v%d", round, reps[0].Timestamp, reps[0].Snapshot, reps[1].Snapshot)
				}
				version += 2
				up := readWithGoTUF(t, dest.url, root, round)
				if _, err := up.GetTargetInfo(host + "/keys.json"); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if got := up.GetTrustedMetadataSet().Timestamp.Signed.Version; got != version {
					t.Fatalf("round %d: the repository serves timestamp v%d, want v%d: an update was lost", round, got, version)
				}
			}
		})
	}
}

// A maintainer publishes a new release while the scheduled job re-signs
// the timestamp from a checkout that does not have it yet: the publish
// always lands; the job lands before it or stops, never rolling the
// release back.
func TestPublishRacesScheduledTimestamp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for kind, open := range destinations(t, nil) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newCeremony(t, ceremony.Options{})
			if kind == "dir" {
				open = destinations(t, c)[kind]
			}
			dest := open(t)
			if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, dest.dst, publish.Options{}); err != nil {
				t.Fatal(err)
			}
			list := fixture(t, "npm/keys.json")
			const expiry = "2025-01-29T00:00:00.000Z"
			if !bytes.Contains(list, []byte(expiry)) {
				t.Fatal("the fixture's first key no longer expires on " + expiry)
			}
			root := rootV(t, c, 1)
			jobDir := filepath.Join(t.TempDir(), "job")
			stopped := 0
			for round := range raceRounds() {
				job := checkout(t, c.WS, jobDir)
				// each release re-dates the old key: one registry, a new
				// key list every round, a workspace that stays small
				redated := time.Date(2025, 1, 29+round, 0, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000Z")
				if _, err := c.WS.Stage(host, bytes.Replace(list, []byte(expiry), []byte(redated), 1), nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Sign(2); err != nil {
					t.Fatal(err)
				}
				var pub publish.Report
				var pubErr, jobErr error
				var wg sync.WaitGroup
				wg.Go(func() {
					pub, pubErr = publish.Publish(ctx, c.WS, c.Online.Signer, dest.dst, publish.Options{})
				})
				wg.Go(func() {
					// start the job at a different point of the publish
					// each round
					time.Sleep(time.Duration(round%8) * time.Millisecond)
					_, jobErr = publish.Timestamp(ctx, job, c.Online.Signer, dest.dst, publish.Options{})
				})
				wg.Wait()
				if pubErr != nil {
					t.Fatalf("round %d: publish: %v", round, pubErr)
				}
				if jobErr != nil {
					if !errors.Is(jobErr, publish.ErrStaleWorkspace) {
						t.Fatalf("round %d: the timestamp job failed other than by refusing a rollback: %v", round, jobErr)
					}
					stopped++
				}
				up := readWithGoTUF(t, dest.url, root, round)
				if got := up.GetTrustedMetadataSet().Targets[metadata.TARGETS].Signed.Version; got != pub.Targets {
					t.Fatalf("round %d: the repository serves targets v%d, not the new release's v%d", round, got, pub.Targets)
				}
			}
			t.Logf("the timestamp job ran first %d times and stopped %d times", raceRounds()-stopped, stopped)
		})
	}
}

// readWithGoTUF refreshes go-tuf's updater, trusting root, against url.
func readWithGoTUF(t *testing.T, url string, root []byte, round int) *updater.Updater {
	t.Helper()
	up, err := testutil.GoTUF(t, url, root)
	if err != nil {
		t.Fatalf("round %d: go-tuf cannot read the repository: %v", round, err)
	}
	return up
}
