package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/ceremony"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/statuspage"
)

const host = "registry.example.test"

// published is a repository taken through the January 2025 rotation, in
// bins, published at a time when targets and its bins are inside their
// re-sign window: the page must warn about them.
func published(t *testing.T) (dir string) {
	t.Helper()
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Now: clock, Bins: 4})
	if err != nil {
		t.Fatal(err)
	}
	fixture := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if err := c.StagePublish(host, fixture("corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish(host, fixture("npm/keys.json"), 2); err != nil {
		t.Fatal(err)
	}
	if err := c.StagePublish("proxy.example.test", fixture("corepack-0.30.json"), 2); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(80 * 24 * time.Hour) // targets (90d) is due, root (365d) is not
	mu.Unlock()
	if _, err := publish.Timestamp(context.Background(), c.WS, c.Online.Signer, c.Store, publish.Options{StatusPage: true}); err != nil {
		t.Fatal(err)
	}
	return c.RepoDir
}

func TestStatusPage(t *testing.T) {
	dir := published(t)
	data, err := os.ReadFile(filepath.Join(dir, statuspage.Data))
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Roles []struct {
			Role    string   `json:"role"`
			Due     bool     `json:"due"`
			Signers []string `json:"signers"`
		} `json:"roles"`
		Registries []struct {
			Host    string                       `json:"host"`
			Keys    []struct{ KeyID string }     `json:"keys"`
			History []struct{ Changes []string } `json:"history"`
		} `json:"registries"`
	}
	if err := json.Unmarshal(data, &status); err != nil {
		t.Fatal(err)
	}
	due := map[string]bool{}
	for _, r := range status.Roles {
		due[r.Role] = r.Due
	}
	if len(status.Roles) != 8 || !due["targets"] || due["root"] || len(status.Registries) != 2 {
		t.Fatalf("status: %s", data)
	}
	if h := status.Registries[1]; h.Host != host || len(h.Keys) != 2 || len(h.History) != 2 {
		t.Errorf("registry %+v", h)
	}
	page, err := os.ReadFile(filepath.Join(dir, statuspage.Page))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, banned := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(html, banned) {
			t.Errorf("the page has %q: it must stand alone", banned)
		}
	}
	for _, want := range []string{"informative only", "<svg", "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "proxy.example.test", "maintainer1"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// The page rendered by a real browser: screenshots at desktop and phone
// widths, and the rendered DOM holds every role, registry and keyid, and
// the warning on the role inside its re-sign window. TUFKEYS_SCREENSHOT
// names a file to keep the desktop screenshot in (scripts/screenshot.sh).
func TestStatusPageInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("Chromium is not installed: run scripts/test.sh, which installs it")
	}
	dir := published(t)
	url := "file://" + filepath.Join(dir, statuspage.Page)
	browser := func(args ...string) []byte {
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
		out, err := exec.Command(chromium, append(append(base, args...), url)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return out
	}
	dom := string(browser("--dump-dom"))
	status, _ := os.ReadFile(filepath.Join(dir, statuspage.Data))
	var s struct {
		Roles      []struct{ Role string } `json:"roles"`
		Registries []struct {
			Host string
			Keys []struct{ KeyID string }
		} `json:"registries"`
	}
	json.Unmarshal(status, &s)
	for _, r := range s.Roles {
		if !strings.Contains(dom, fmt.Sprintf(`data-role="%s"`, r.Role)) {
			t.Errorf("the rendered page lacks role %s", r.Role)
		}
	}
	for _, reg := range s.Registries {
		if !strings.Contains(dom, fmt.Sprintf(`data-host="%s"`, reg.Host)) {
			t.Errorf("the rendered page lacks registry %s", reg.Host)
		}
		for _, k := range reg.Keys {
			if !strings.Contains(dom, k.KeyID) {
				t.Errorf("the rendered page lacks keyid %s", k.KeyID)
			}
		}
	}
	targetsRow := dom[strings.Index(dom, `data-role="targets"`):]
	targetsRow = targetsRow[:strings.Index(targetsRow, "</tr>")]
	if !strings.Contains(targetsRow, "inside its re-sign window") {
		t.Errorf("the targets row carries no warning: %s", targetsRow)
	}
	rootRow := dom[strings.Index(dom, `data-role="root"`):]
	if rootRow = rootRow[:strings.Index(rootRow, "</tr>")]; strings.Contains(rootRow, "re-sign window") {
		t.Errorf("the root row warns: %s", rootRow)
	}
	for _, size := range []struct{ name, window string }{{"desktop", "1280,1600"}, {"phone", "390,1800"}} {
		shot := filepath.Join(t.TempDir(), size.name+".png")
		browser("--screenshot="+shot, "--window-size="+size.window, "--hide-scrollbars")
		fi, err := os.Stat(shot)
		if err != nil || fi.Size() < 10000 {
			t.Errorf("%s screenshot: %v", size.name, err)
		}
		if keep := os.Getenv("TUFKEYS_SCREENSHOT"); keep != "" && size.name == "desktop" {
			data, _ := os.ReadFile(shot)
			if err := os.WriteFile(keep, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
