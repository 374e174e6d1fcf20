package publish_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// A repository in hashed bins (TAP 15): go-tuf's own updater finds each
// key list through its bin; a change to one registry re-signs its bin only
// (and snapshot and timestamp).
func TestHashedBins(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{Bins: 16})
	list := fixture(t, "npm/keys.json")
	var items []workspace.StageItem
	for i := range 40 {
		items = append(items, workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true})
	}
	if _, err := c.WS.StageMany(items); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Publish()
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, c.RepoDir)
	for _, host := range []string{"r0.example.test", "r39.example.test"} {
		got, up, err := fetchWithGoTUF(t, url, rootV(t, c, 1), host+"/keys.json")
		if err != nil || !bytes.Equal(got, list) {
			t.Fatalf("go-tuf reading %s through its bin: %v", host, err)
		}
		if top := up.GetTopLevelTargets(); len(top) != 0 {
			t.Errorf("targets lists %d key lists itself; they belong in bins", len(top))
		}
	}
	// one registry changes: its bin, and nothing else signed offline
	redated := bytes.Replace(list, []byte("2025-01-29T00:00:00.000Z"), []byte("2025-02-28T00:00:00.000Z"), 1)
	res, err := c.WS.Stage("r7.example.test", redated, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := c.WS.Status()
	if len(st.Staged) != 1 || st.Staged[0].Role != res.Role || res.Role[:5] != "bins-" {
		t.Fatalf("staged %+v for one registry's change, want its bin %s alone", st.Staged, res.Role)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	next, err := c.Publish()
	if err != nil {
		t.Fatal(err)
	}
	if next.Targets != rep.Targets {
		t.Errorf("targets went from v%d to v%d for a change in one bin", rep.Targets, next.Targets)
	}
	got, _, err := fetchWithGoTUF(t, url, rootV(t, c, 1), "r7.example.test/keys.json")
	if err != nil || !bytes.Equal(got, redated) {
		t.Fatalf("go-tuf after the change: %v", err)
	}
	// the bins are the targets keys' to sign: the online key alone cannot
	targets, _ := os.ReadFile(filepath.Join(c.RepoDir, fmt.Sprintf("%d.targets.json", next.Targets)))
	md, err := metadata.Targets().FromBytes(targets)
	if err != nil {
		t.Fatal(err)
	}
	b := md.Signed.Delegations.SuccinctRoles
	if b == nil || b.Threshold != 2 || len(b.KeyIDs) != 3 || b.BitLength != 4 {
		t.Errorf("succinct delegation %+v", b)
	}
}

// repo delegate keeps working in bins: the registry's bin delegates to the
// operator's role, and clients walk targets, bin, registry.
func TestDelegateInBins(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{Bins: 16})
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	operator, _ := ceremony.NewKey("operator")
	res, err := c.WS.Delegate(host, []workspace.PublicKey{operator.Public}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delegator[:5] != "bins-" || !res.MovedList {
		t.Fatalf("delegation %+v, want it made by the registry's bin, with the list moved", res)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	// from now on the operator alone stages and signs the registry's list
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(c.Maintainers[0].Signer); err == nil {
		t.Error("a maintainer's key signed the operator's role")
	}
	if _, err := c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	got, _, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json")
	if err != nil || !bytes.Equal(got, fixture(t, "npm/keys.json")) {
		t.Fatalf("go-tuf through targets, bin and registry role: %v", err)
	}
}

// A flat repository moves into bins as a change the maintainers sign, and
// a client that trusted the flat layout follows without a release.
func TestMigrateToBins(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{})
	list := fixture(t, "npm/keys.json")
	for _, h := range []string{host, "other.example.test"} {
		if err := c.StagePublish(h, list, 2); err != nil {
			t.Fatal(err)
		}
	}
	url := serve(t, c.RepoDir)
	before, _, err := fetchWithGoTUF(t, url, rootV(t, c, 1), host+"/keys.json")
	if err != nil || !bytes.Equal(before, list) {
		t.Fatal(err)
	}
	bins, err := c.WS.Migrate(8)
	if err != nil || len(bins) != 8 {
		t.Fatalf("%v, %v", bins, err)
	}
	if _, err := c.WS.Migrate(8); err == nil {
		t.Error("migrated twice")
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{host, "other.example.test"} {
		got, up, err := fetchWithGoTUF(t, url, rootV(t, c, 1), h+"/keys.json")
		if err != nil || !bytes.Equal(got, list) || len(up.GetTopLevelTargets()) != 0 {
			t.Fatalf("%s after the move: %v", h, err)
		}
	}
	if n, _ := c.WS.Bins(); n != 8 {
		t.Errorf("the workspace reports %d bins", n)
	}
}

// A maintainer rotated out of targets no longer signs bins: the bins'
// delegation follows the targets keys, and every bin is signed again.
func TestRotationReachesBins(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{Bins: 4})
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Rotate(workspace.RotateOptions{RemoveRootKeys: []string{"maintainer1"}}); err != nil {
		t.Fatal(err)
	}
	gone := c.Maintainers[0]
	c.Maintainers = c.Maintainers[1:]
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Sign(gone.Signer); err == nil {
		// the old root still needs it for root v2; that is all it signs
		st, _ := c.WS.Status()
		for _, s := range st.Staged {
			for _, th := range s.Thresholds {
				for _, k := range th.Signed {
					if k.Name == "maintainer1" && s.Role != "root" {
						t.Errorf("the rotated-out key signed %s", s.Role)
					}
				}
			}
		}
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	targets, _ := os.ReadFile(filepath.Join(c.RepoDir, "2.targets.json"))
	md, err := metadata.Targets().FromBytes(targets)
	if err != nil {
		t.Fatal(err)
	}
	if ids := md.Signed.Delegations.SuccinctRoles.KeyIDs; len(ids) != 2 {
		t.Errorf("the bins are delegated to %d keys after the rotation, want the 2 left", len(ids))
	}
	got, _, err := fetchWithGoTUF(t, serve(t, c.RepoDir), rootV(t, c, 1), host+"/keys.json")
	if err != nil || !bytes.Equal(got, fixture(t, "npm/keys.json")) {
		t.Fatalf("go-tuf after the rotation: %v", err)
	}
}

// Renewing targets renews the bins, which its keys sign and which expire
// with it.
func TestRenewTargetsRenewsBins(t *testing.T) {
	t.Parallel()
	c := newCeremony(t, ceremony.Options{Bins: 4})
	if err := c.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WS.Renew("targets"); err != nil {
		t.Fatal(err)
	}
	st, _ := c.WS.Status()
	if len(st.Staged) != 5 {
		t.Errorf("renewing targets staged %d roles, want targets and 4 bins", len(st.Staged))
	}
	if _, err := c.WS.Renew("bins-2"); err != nil {
		t.Errorf("renewing one bin: %v", err)
	}
}
