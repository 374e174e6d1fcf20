package client_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

const (
	oldKey = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"
	newKey = "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"
)

// januaryRotation takes a repository through the January 2025 rotation:
// the old key; both keys, the old one re-dated; a root rotation; the old
// key removed.
func januaryRotation(t *testing.T, w *world) {
	t.Helper()
	w.publish("npm/keys.json")
	addRootKey(t, w)
	full := string(fixture(t, "npm/keys.json"))
	newOnly := strings.Replace(full, strings.SplitN(strings.SplitN(full, "[", 2)[1], "},", 2)[0]+"},", "", 1)
	if _, err := w.c.WS.Stage(host, []byte(newOnly), []string{oldKey}); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Publish(); err != nil {
		t.Fatal(err)
	}
}

// addRootKey publishes root v2: a fourth maintainer's key added to root.
func addRootKey(t *testing.T, w *world) {
	t.Helper()
	fourth, _ := ceremony.NewKey("maintainer4")
	if _, err := w.c.WS.Rotate(workspace.RotateOptions{AddRootKeys: []workspace.PublicKey{fourth.Public}}); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Publish(); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryOfARotation(t *testing.T) {
	t.Parallel()
	for _, bins := range []int{0, 8} {
		t.Run(map[int]string{0: "flat", 8: "bins"}[bins], func(t *testing.T) {
			w := historyWorld(t, bins)
			januaryRotation(t, w)
			cl, _ := w.client(t.TempDir())
			h, err := cl.History(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 3 {
				t.Fatalf("%d entries: %+v", len(h), h)
			}
			for i, e := range h {
				if e.Problem != "" || e.VerifiedBy == "" || len(e.SignedBy) < 2 {
					t.Errorf("entry %d: %+v", i, e)
				}
			}
			if d := h[0].Diff; len(d.Added) != 1 || d.Added[0].KeyID != oldKey {
				t.Errorf("first: %+v", d)
			}
			if d := h[1].Diff; len(d.Added) != 1 || d.Added[0].KeyID != newKey || len(d.ExpiryChanged) != 1 {
				t.Errorf("the rotation: %+v", d)
			}
			if d := h[2].Diff; len(d.Removed) != 1 || d.Removed[0].KeyID != oldKey {
				t.Errorf("the removal: %+v", d)
			}
			if bins > 0 && !strings.HasPrefix(h[0].Role, "bins-") {
				t.Errorf("in bins, the list is carried by %s", h[0].Role)
			}
			// in bins, every version names the targets versions that
			// delegate to it, oldest first, in one form, and later list
			// versions never name older delegators
			if bins > 0 {
				form := regexp.MustCompile(`^targets v([0-9]+)(–v[0-9]+|(, v[0-9]+)*)$`)
				last := 0
				for i, e := range h {
					m := form.FindStringSubmatch(e.VerifiedBy)
					if m == nil {
						t.Fatalf("entry %d verified by %q", i, e.VerifiedBy)
					}
					first, _ := strconv.Atoi(m[1])
					if first < last {
						t.Errorf("entry %d verified by %q after one under targets v%d", i, e.VerifiedBy, last)
					}
					last = first
				}
			}
			// the last list verified under the root in effect then
			if bins == 0 && h[2].VerifiedBy != "roots v1–v2" {
				t.Errorf("the removal verified by %s, want roots v1–v2 (the rotation kept the targets keys)", h[2].VerifiedBy)
			}
		})
	}
}

// A tampered historical key list is reported, not skipped.
func TestHistoryReportsATamperedList(t *testing.T) {
	t.Parallel()
	w := historyWorld(t, 0)
	januaryRotation(t, w)
	lists, _ := filepath.Glob(filepath.Join(w.c.RepoDir, "targets", host, "*.keys.json"))
	var first string
	for _, l := range lists {
		if data, _ := os.ReadFile(l); !strings.Contains(string(data), newKey) {
			first = l
		}
	}
	if err := os.WriteFile(first, []byte(`{"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cl, _ := w.client(t.TempDir())
	h, err := cl.History(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || !strings.Contains(h[0].Problem, "does not match the length and hash the metadata names") {
		t.Fatalf("history: %+v", h)
	}
	if h[1].Problem != "" || h[2].Problem != "" {
		t.Errorf("later versions: %+v", h[1:])
	}
}

// historyWorld is a world that starts from the old key alone.
func historyWorld(t *testing.T, bins int) *world {
	t.Helper()
	if bins == 0 {
		return newWorld(t, "corepack-0.30.json")
	}
	w := &world{t: t, now: time.Now().UTC()}
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Now: w.clock, Bins: bins})
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	if err := c.StagePublish(host, fixture(t, "corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	w.srv = newRepoServer(t, c.RepoDir)
	return w
}
