package publish_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

const host = "registry.example.test"

func fixture(t testing.TB, name string) []byte { return testutil.Fixture(t, name) }

func newCeremony(t *testing.T, opts ceremony.Options) *ceremony.Ceremony {
	t.Helper()
	c, err := ceremony.New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serve serves the published directory the way tufkeys serve does.
func serve(t *testing.T, dir string) string { return testutil.Serve(t, dir) }

// fetchWithGoTUF reads a target with go-tuf's own updater, trusting root.
func fetchWithGoTUF(t *testing.T, url string, root []byte, target string) ([]byte, *updater.Updater, error) {
	return testutil.GoTUFTarget(t, url, root, target)
}

func rootV(t *testing.T, c *ceremony.Ceremony, v int) []byte {
	t.Helper()
	data, err := c.RootBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The ceremony of the README: three maintainers, threshold 2; the npm keys
// staged for a registry; two sign, the third is away; publish; go-tuf's
// updater reads the list back byte for byte.
func TestCeremonyPublishesWhatGoTUFReads(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	keys := fixture(t, "npm/keys.json")
	res, err := c.WS.Stage(host, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Role != metadata.TARGETS || res.Version != 1 || len(res.Diff.Added) != 2 {
		t.Errorf("stage result %+v", res)
	}
	for _, k := range c.Maintainers[:2] {
		sr, err := c.WS.Sign(k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.Signed) != 1 || sr.Signed[0] != metadata.TARGETS {
			t.Errorf("%s signed %v, want targets (root kept its signatures)", k.Public.Name, sr.Signed)
		}
	}
	rep, err := c.Publish()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Root != 1 || rep.Targets != 1 || rep.Snapshot != 1 || rep.Timestamp != 1 {
		t.Errorf("report %+v", rep)
	}
	url := serve(t, c.RepoDir)
	got, _, err := fetchWithGoTUF(t, url, rootV(t, c, 1), host+"/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, keys) {
		t.Fatalf("go-tuf downloaded different bytes:\n%s", got)
	}
	st, err := c.WS.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Staged) != 0 || len(st.Problems()) != 0 {
		t.Errorf("after publish: staged %v, problems %v", st.Staged, st.Problems())
	}
}

func TestPublishOrderAndIdempotence(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	rec := &testutil.RecordingStore{Store: c.Store}
	rep, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, rec, publish.Options{StatusPage: true})
	if err != nil {
		t.Fatal(err)
	}
	// the status page comes after the metadata it describes
	want := []string{"targets/" + host + "/", "2.targets.json", "2.snapshot.json", "timestamp.json", "status.json", "index.html"}
	puts := rec.Puts()
	if len(puts) != len(want) {
		t.Fatalf("uploaded %v, want %d files", puts, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(puts[i], w) {
			t.Errorf("upload %d is %s, want %s…", i, puts[i], w)
		}
	}
	if rep.Skipped != 1 { // 1.root.json was already there
		t.Errorf("skipped %d, want 1", rep.Skipped)
	}
	again, err := c.Publish()
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Uploaded) != 0 || again.Resigned || again.Timestamp != rep.Timestamp {
		t.Errorf("publishing the same release again: %+v", again)
	}
}

// The same release published to a second, empty store arrives there byte
// for byte as in the first: mirrors and origins stay identical.
func TestPublishSameReleaseToAnotherStore(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	other, err := store.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = publish.Publish(context.Background(), c.WS, c.Online.Signer, other, publish.Options{})
	var oe *workspace.OriginError
	if !errors.Is(err, workspace.ErrNotOrigin) || !errors.As(err, &oe) || oe.Dest != other.Root {
		t.Fatalf("publish to a second destination: %v", err)
	}
	if entries, _ := os.ReadDir(other.Root); len(entries) != 0 {
		t.Errorf("the refused publish wrote %d files", len(entries))
	}
	// moving the origin on purpose copies the release as it is
	rep, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, other, publish.Options{MoveOrigin: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.WS.Config.Origin != other.Root {
		t.Errorf("origin %q", c.WS.Config.Origin)
	}
	if _, err := publish.Timestamp(context.Background(), c.WS, c.Online.Signer, c.Store, publish.Options{}); !errors.Is(err, workspace.ErrNotOrigin) {
		t.Errorf("repo timestamp to the old origin: %v", err)
	}
	if rep.Resigned || len(rep.Uploaded) != 5 {
		t.Errorf("report %+v", rep)
	}
	for _, name := range []string{"timestamp.json", "1.snapshot.json", "1.targets.json", "1.root.json"} {
		a, _ := os.ReadFile(filepath.Join(c.RepoDir, name))
		b, _ := os.ReadFile(filepath.Join(other.Root, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the stores", name)
		}
	}
}

// A client that holds only root v1 walks v1 -> v2 -> v3 and trusts the
// keys of v3.
func TestRootRotationWalkedFromV1(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	fourth, err := ceremony.NewKey("maintainer4")
	if err != nil {
		t.Fatal(err)
	}
	// v2 adds a fourth maintainer
	if _, err := c.WS.Rotate(workspace.RotateOptions{AddRootKeys: []workspace.PublicKey{fourth.Public}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	// v3 removes the first and raises the threshold to 3 of 3; the first
	// leaves targets as well
	res, err := c.WS.Rotate(workspace.RotateOptions{RemoveRootKeys: []string{"maintainer1"}, RootThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AlsoTargets) != 1 || !strings.Contains(res.AlsoTargets[0], "maintainer1") || res.TargetsVersion == 0 {
		t.Errorf("rotate: %+v", res)
	}
	gone := c.Maintainers[0]
	c.Maintainers = append(c.Maintainers[1:], fourth)
	for _, k := range c.Maintainers {
		if _, err := c.WS.Sign(k.Signer); err != nil && !errors.Is(err, workspace.ErrUnauthorizedKey) {
			t.Fatal(err)
		}
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(gone.Signer); !errors.Is(err, workspace.ErrUnauthorizedKey) {
		t.Errorf("the maintainer rotated out signed a key list: %v", err)
	}
	// the rotated list goes out under root v3
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	got, up, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 3 {
		t.Errorf("client trusts root v%d, want v3", v)
	}
	if !bytes.Equal(got, fixture(t, "npm/keys.json")) {
		t.Errorf("downloaded %s", got)
	}
	root := up.GetTrustedMetadataSet().Root.Signed.Roles[metadata.ROOT]
	if root.Threshold != 3 || len(root.KeyIDs) != 3 {
		t.Errorf("root role %+v", root)
	}
}

// The operator of a registry signs its own key list through a delegated role.
func TestDelegatedRegistryRole(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	operator, err := ceremony.NewKey("operator")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WS.Delegate("https://"+host+"/", []workspace.PublicKey{operator.Public}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !res.MovedList || res.RoleVersion != 1 || res.TargetsVersion != 2 {
		t.Errorf("delegate result %+v", res)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); !errors.Is(err, workspace.ErrBelowThreshold) {
		t.Fatalf("publish before the operator signed: %v", err)
	}
	if _, err := c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	// the operator now rotates alone; the maintainers' keys may not sign it
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(c.Maintainers[0].Signer); !errors.Is(err, workspace.ErrUnauthorizedKey) {
		t.Errorf("maintainer signing the delegated role: %v", err)
	}
	if _, err := c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Publish()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.NewRoles) != 1 || rep.NewRoles[0] != host {
		t.Errorf("new roles %v", rep.NewRoles)
	}
	got, _, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fixture(t, "npm/keys.json")) {
		t.Errorf("downloaded %s", got)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	rotated := func(t *testing.T) []byte { return fixture(t, "npm/keys.json") }
	tests := []struct {
		name  string
		run   func(t *testing.T, c *ceremony.Ceremony) error
		is    error
		words []string
	}{
		{
			name: "below threshold",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Sign(1); err != nil {
					t.Fatal(err)
				}
				_, err := c.Publish()
				return err
			},
			is:    workspace.ErrBelowThreshold,
			words: []string{"targets v2: 1 of 2 signatures", "waiting for maintainer2", "maintainer3"},
		},
		{
			name: "unauthorized key",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				stranger, _ := ceremony.NewKey("stranger")
				_, err := c.WS.Sign(stranger.Signer)
				return err
			},
			is:    workspace.ErrUnauthorizedKey,
			words: []string{"stranger", "may sign nothing staged", "targets v2 needs maintainer1"},
		},
		{
			name: "tampered staged file",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Sign(2); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(c.WS.Dir, "staged", "targets.json")
				data, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(data, []byte(`"version": 2`), []byte(`"version": 3`), 1), 0o644)
				_, err := c.Publish()
				return err
			},
			is:    workspace.ErrBelowThreshold,
			words: []string{"0 of 2", "do not match the staged file", "maintainer1", "maintainer2"},
		},
		{
			name: "tampered key list",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				files, _ := filepath.Glob(filepath.Join(c.WS.Dir, "targets", host, "*.keys.json"))
				for _, f := range files {
					os.WriteFile(f, fixture(t, "corepack-0.30.json"), 0o644)
				}
				_, err := c.WS.Sign(c.Maintainers[0].Signer)
				return err
			},
			words: []string{"refusing to sign targets", "does not match the hash"},
		},
		{
			name: "expired published root",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Sign(2); err != nil {
					t.Fatal(err)
				}
				c.WS.Now = func() time.Time { return time.Now().Add(400 * 24 * time.Hour) }
				_, err := c.Publish()
				return err
			},
			is:    workspace.ErrExpired,
			words: []string{"root v1 expired at"},
		},
		{
			name: "invalid key list",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				_, err := c.WS.Stage(host, fixture(t, "invalid/keyid-mismatch.json"), nil)
				return err
			},
			words: []string{"key list for registry.example.test is not valid", "keyid does not match"},
		},
		{
			name: "dropped key without --remove-key",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if err := c.StagePublish(host, rotated(t), 2); err != nil {
					t.Fatal(err)
				}
				newOnly := `{"keys":[` + strings.SplitN(strings.SplitN(string(rotated(t)), "},", 2)[1], "]", 2)[0] + `]}`
				_, err := c.WS.Stage(host, []byte(newOnly), nil)
				return err
			},
			is:    workspace.ErrKeyDropped,
			words: []string{"drops SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"},
		},
		{
			name: "wrong online key",
			run: func(t *testing.T, c *ceremony.Ceremony) error {
				if _, err := c.WS.Stage(host, rotated(t), nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Sign(2); err != nil {
					t.Fatal(err)
				}
				_, err := publish.Publish(context.Background(), c.WS, c.Maintainers[0].Signer, c.Store, publish.Options{})
				return err
			},
			is:    publish.ErrWrongOnlineKey,
			words: []string{"maintainer1 is not the online key of root v1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCeremony(t, ceremony.Options{})
			if _, err := c.Publish(); err != nil {
				t.Fatal(err)
			}
			err := tt.run(t, c)
			if err == nil {
				t.Fatal("not refused")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDroppedKeyAllowedWhenNamed(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	newOnly := strings.Replace(string(fixture(t, "npm/keys.json")), strings.SplitN(strings.SplitN(string(fixture(t, "npm/keys.json")), "[", 2)[1], "},", 2)[0]+"},", "", 1)
	res, err := c.WS.Stage(host, []byte(newOnly), []string{"SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diff.Removed) != 1 {
		t.Errorf("diff %+v", res.Diff)
	}
	if _, err := c.WS.Stage(host, []byte(newOnly), []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"}); err == nil {
		t.Error("--remove-key of a key the list keeps was accepted")
	}
}

// A staged key list edited by hand past repo stage, dropping a published
// key, is refused at signing; the same drop asked for with --remove-key is
// shown to each signer and signed into the metadata.
func TestSignersSeeWhatTheySign(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	full := fixture(t, "npm/keys.json")
	if err := c.StagePublish(host, full, 2); err != nil {
		t.Fatal(err)
	}
	oldKey, liveKey := "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"
	newOnly := []byte(strings.Replace(string(full), strings.SplitN(strings.SplitN(string(full), "[", 2)[1], "},", 2)[0]+"},", "", 1))

	// by hand: a re-dated list goes through repo stage, then the file and
	// its entry in staged/targets.json are swapped for a list without the
	// old key
	redated := bytes.Replace(full, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
	if _, err := c.WS.Stage(host, redated, nil); err != nil {
		t.Fatal(err)
	}
	stagedPath := filepath.Join(c.WS.Dir, "staged", "targets.json")
	staged, err := metadata.Targets().FromFile(stagedPath)
	if err != nil {
		t.Fatal(err)
	}
	tf, _ := metadata.TargetFile().FromBytes(host+"/keys.json", newOnly, "sha256")
	staged.Signed.Targets[host+"/keys.json"] = tf
	if err := staged.ToFile(stagedPath, true); err != nil {
		t.Fatal(err)
	}
	listPath := filepath.Join(c.WS.Dir, workspace.TargetPath(host+"/keys.json", tf))
	os.MkdirAll(filepath.Dir(listPath), 0o755)
	if err := os.WriteFile(listPath, newOnly, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.WS.Sign(c.Maintainers[0].Signer)
	if !errors.Is(err, workspace.ErrKeyDropped) || !strings.Contains(err.Error(), "drops "+oldKey+", which the published list has, and no removal of it was recorded") {
		t.Fatalf("signing a hand-edited list that drops a key: %v", err)
	}
	status, err := c.WS.Status()
	if err != nil {
		t.Fatal(err)
	}
	if problems := problemText(status.Problems()); !strings.Contains(problems, "with no removal recorded") {
		t.Errorf("status does not warn of the drop:\n%s", problems)
	}

	// through repo stage --remove-key, the drop is shown and signed
	if _, err := c.WS.Stage(host, newOnly, []string{oldKey}); err != nil {
		t.Fatal(err)
	}
	res, err := c.WS.Sign(c.Maintainers[0].Signer)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Host != host {
		t.Fatalf("the signer was shown %+v", res.Changes)
	}
	if lines := strings.Join(res.Changes[0].Lines(), "\n"); !strings.Contains(lines, "- "+oldKey) || !strings.Contains(lines, "its removal recorded") || strings.Contains(lines, liveKey) {
		t.Errorf("the signer was shown:\n%s", lines)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	_, up, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := up.GetTargetInfo(host + "/keys.json")
	var custom struct {
		Tufkeys struct {
			RemovedKeys []string `json:"removed_keys"`
		} `json:"tufkeys"`
	}
	if info.Custom == nil || json.Unmarshal(*info.Custom, &custom) != nil || !slices.Equal(custom.Tufkeys.RemovedKeys, []string{oldKey}) {
		t.Errorf("the published metadata does not record the removal: %v", info.Custom)
	}
}

func TestSigningTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	k := c.Maintainers[0].Signer
	if _, err := c.WS.Sign(k); err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(c.WS.Dir, "staged", "signatures", "targets", k.KeyID+".json")
	before, err := os.ReadFile(sigFile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WS.Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(sigFile)
	if len(res.Signed) != 0 || len(res.Already) != 1 || !bytes.Equal(before, after) {
		t.Errorf("second signing: %+v, file changed %v", res, !bytes.Equal(before, after))
	}
	if line := res.Checks[0].Line(); !strings.Contains(line, "targets v2: 1 of 2 signatures — waiting for maintainer2") {
		t.Errorf("line %q", line)
	}
}

// re-signing the timestamp keeps clients current without the maintainers.
func TestTimestampResign(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(3 * 24 * time.Hour)
	c.WS.Now = func() time.Time { return later }
	rep, err := publish.Timestamp(context.Background(), c.WS, c.Online.Signer, c.Store, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Snapshot != 2 || rep.Timestamp != 2 || len(rep.Uploaded) != 2 {
		t.Errorf("report %+v", rep)
	}
	ts, err := metadata.Timestamp().FromFile(filepath.Join(c.RepoDir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Signed.Expires.After(later) {
		t.Errorf("timestamp expires %s, not after %s", ts.Signed.Expires, later)
	}
	if _, _, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json"); err != nil {
		t.Fatal(err)
	}
}

// A publish that fails after any number of uploads leaves a repository that
// go-tuf reads as the old one or the new one, and running it again
// completes it.
func TestInterruptedPublishNeverShowsAMix(t *testing.T) {
	t.Parallel()
	old := fixture(t, "corepack-0.30.json")
	oldNPM := []byte(nil)
	for failAfter := 0; ; failAfter++ {
		c := newCeremony(t, ceremony.Options{})
		if err := c.StagePublish(host, old, 2); err != nil {
			t.Fatal(err)
		}
		if oldNPM == nil {
			var err error
			if oldNPM, err = readPublished(c); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			t.Fatal(err)
		}
		failing := &failingStore{Store: c.Store, left: failAfter}
		_, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, failing, publish.Options{})
		url := serve(t, c.RepoDir)
		got, _, ferr := fetchWithGoTUF(t, url, rootV(t, c, 1), host+"/keys.json")
		if ferr != nil {
			t.Fatalf("after failing at upload %d, go-tuf cannot read the repository: %v", failAfter, ferr)
		}
		if !bytes.Equal(got, oldNPM) && !bytes.Equal(got, fixture(t, "npm/keys.json")) {
			t.Fatalf("after failing at upload %d, go-tuf reads neither list: %s", failAfter, got)
		}
		if err == nil {
			if !bytes.Equal(got, fixture(t, "npm/keys.json")) {
				t.Fatal("completed publish serves the old list")
			}
			if failAfter < 3 {
				t.Fatalf("publish finished with only %d uploads", failAfter)
			}
			return
		}
		if _, err := c.Publish(); err != nil {
			t.Fatalf("publish again after failing at upload %d: %v", failAfter, err)
		}
		got, _, err = fetchWithGoTUF(t, url, rootV(t, c, 1), host+"/keys.json")
		if err != nil || !bytes.Equal(got, fixture(t, "npm/keys.json")) {
			t.Fatalf("after the second publish: %v, %s", err, got)
		}
	}
}

func readPublished(c *ceremony.Ceremony) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(c.RepoDir, "targets", host, "*.keys.json"))
	if err != nil || len(files) != 1 {
		return nil, errors.New("expected one published list")
	}
	return os.ReadFile(files[0])
}

type failingStore struct {
	store.Store
	mu   sync.Mutex
	left int
}

var errInjected = errors.New("injected upload failure")

func (f *failingStore) Put(ctx context.Context, name string, data []byte, ifMatch store.Tag) error {
	f.mu.Lock()
	if f.left == 0 {
		f.mu.Unlock()
		return errInjected
	}
	f.left--
	f.mu.Unlock()
	return f.Store.Put(ctx, name, data, ifMatch)
}

// A scheduled job whose workspace checkout is older than what the store
// serves must not re-sign a snapshot that rolls clients back.
func TestTimestampRefusesAStaleWorkspace(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(t.TempDir(), "stale")
	if err := os.CopyFS(stale, os.DirFS(c.WS.Dir)); err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	old, err := workspace.Open(stale)
	if err != nil {
		t.Fatal(err)
	}
	_, err = publish.Timestamp(context.Background(), old, c.Online.Signer, c.Store, publish.Options{})
	if !errors.Is(err, publish.ErrStaleWorkspace) || !strings.Contains(err.Error(), "git pull") {
		t.Fatalf("err = %v", err)
	}
}

// Ed25519 keys work for maintainers and for the online key alike.
func TestEd25519Keys(t *testing.T) {
	t.Parallel()
	var keys []ceremony.Key
	for _, name := range []string{"alice", "bob", "online"} {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ceremony.KeyFrom(priv, name)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	dir := t.TempDir()
	ws, err := workspace.Init(filepath.Join(dir, "ws"), workspace.InitOptions{
		RootKeys: []workspace.PublicKey{keys[0].Public, keys[1].Public}, RootThreshold: 2, OnlineKey: keys[2].Public,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:2] {
		if _, err := ws.Sign(k.Signer); err != nil {
			t.Fatal(err)
		}
	}
	repoDir := filepath.Join(dir, "repo")
	dst, _ := store.NewDir(repoDir)
	if _, err := publish.Publish(context.Background(), ws, keys[2].Signer, dst, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	root, _ := os.ReadFile(filepath.Join(repoDir, "1.root.json"))
	got, _, err := fetchWithGoTUF(t, serve(t, repoDir), root, host+"/keys.json")
	if err != nil || !bytes.Equal(got, fixture(t, "npm/keys.json")) {
		t.Fatalf("go-tuf read: %v", err)
	}
}

// countingStore counts the requests a publish makes of the store.
type countingStore struct {
	store.Store
	mu sync.Mutex
	n  int
}

func (c *countingStore) count() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *countingStore) Get(ctx context.Context, name string, max int64) ([]byte, store.Tag, error) {
	c.count()
	return c.Store.Get(ctx, name, max)
}

func (c *countingStore) Put(ctx context.Context, name string, data []byte, ifMatch store.Tag) error {
	c.count()
	return c.Store.Put(ctx, name, data, ifMatch)
}

func (c *countingStore) Compare(ctx context.Context, name string, data []byte) (store.State, store.Tag, error) {
	c.count()
	return c.Store.Compare(ctx, name, data)
}

// A re-publish after one change asks the store about what the release
// adds, not about every file of the repository; --verify-all asks about
// everything.
func TestRepublishCostFollowsTheChange(t *testing.T) {
	t.Parallel()
	list := fixture(t, "npm/keys.json")
	requests := func(registries int) (changed, all int) {
		c := newCeremony(t, ceremony.Options{})
		for i := range registries {
			if _, err := c.WS.Stage(fmt.Sprintf("r%d.example.test", i), list, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Sign(2); err != nil {
			t.Fatal(err)
		}
		counted := &countingStore{Store: c.Store}
		if _, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, counted, publish.Options{}); err != nil {
			t.Fatal(err)
		}
		redated := bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
		if _, err := c.WS.Stage("r0.example.test", redated, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			t.Fatal(err)
		}
		counted.n = 0
		if _, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, counted, publish.Options{}); err != nil {
			t.Fatal(err)
		}
		changed = counted.n
		counted.n = 0
		if _, err := publish.Timestamp(context.Background(), c.WS, c.Online.Signer, counted, publish.Options{VerifyAll: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, counted, publish.Options{VerifyAll: true}); err != nil {
			t.Fatal(err)
		}
		return changed, counted.n
	}
	small, smallAll := requests(2)
	large, largeAll := requests(40)
	t.Logf("store requests for a re-publish after one change: %d with 2 registries, %d with 40; with --verify-all %d and %d", small, large, smallAll, largeAll)
	if small != large {
		t.Errorf("a re-publish after one change made %d store requests with 2 registries and %d with 40", small, large)
	}
	if largeAll <= smallAll {
		t.Errorf("--verify-all compared %d files with 40 registries, %d with 2: it skipped some", largeAll, smallAll)
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

// A key of no role is told who may sign, each key named once: roles that
// need the same keys are named together.
func TestUnauthorizedKeyNamesEachSignerOnce(t *testing.T) {
	t.Parallel()
	// a new repository: root, targets and the bins all staged, all
	// needing the same three maintainers
	c := newCeremony(t, ceremony.Options{Bins: 4})
	stranger, _ := ceremony.NewKey("stranger")
	_, err := c.WS.Sign(stranger.Signer)
	if !errors.Is(err, workspace.ErrUnauthorizedKey) {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	if n := strings.Count(msg, "maintainer1"); n != 1 || !strings.Contains(msg, "root v1, targets v1, bins-0") || !strings.Contains(msg, " need maintainer1") {
		t.Errorf("maintainer1 named %d times:\n%s", n, msg)
	}
}

// The history the status page shows marks a signer whose key holds no
// role any more: a reader does not take it for a current maintainer.
func TestHistoryMarksRemovedSigners(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Rotate(workspace.RotateOptions{RemoveRootKeys: []string{"maintainer1"}}); err != nil {
		t.Fatal(err)
	}
	// the old root's threshold and the new one's: all three maintainers
	for _, k := range c.Maintainers {
		if _, err := c.WS.Sign(k.Signer); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	rep, err := c.WS.Report()
	if err != nil {
		t.Fatal(err)
	}
	var signers []string
	for _, reg := range rep.Registries {
		for _, v := range reg.History {
			signers = append(signers, v.Signers...)
		}
	}
	if !slices.Contains(signers, "maintainer1 (key since removed)") || !slices.Contains(signers, "maintainer2") {
		t.Errorf("history signers %v: want maintainer1 marked as removed, maintainer2 not", signers)
	}
}
