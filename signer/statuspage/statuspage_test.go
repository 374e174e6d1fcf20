package statuspage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/statuspage"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
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
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Now: clock, Bins: 64})
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
	if len(status.Roles) != 68 || !due["targets"] || due["root"] || len(status.Registries) != 2 {
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
	for _, banned := range []string{"<script", "src=", `href="http`, `href="//`, "@import", "url("} {
		if strings.Contains(html, banned) {
			t.Errorf("the page has %q: it must stand alone", banned)
		}
	}
	for _, want := range []string{"informative only", "<svg", "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "proxy.example.test", "maintainer1", `2025-01-29T00:00:00.000Z <span class="warning">expired</span>`, "(64 bins)"} {
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
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile(`data-roles="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		for _, r := range strings.Fields(m[1]) {
			if rows[r] {
				t.Errorf("role %s is on two rows", r)
			}
			rows[r] = true
		}
	}
	for _, r := range s.Roles {
		if !rows[r.Role] {
			t.Errorf("the rendered page lacks role %s", r.Role)
		}
	}
	if !strings.Contains(dom, `id="warning"`) || !strings.Contains(dom, "targets") {
		t.Error("the page does not lead with a warning about the roles inside their re-sign window")
	}
	if strings.Index(dom, `data-host=`) > strings.Index(dom, `id="roles"`) {
		t.Error("the page does not lead with the registries")
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
	targetsRow := dom[strings.Index(dom, `data-roles="targets"`):]
	targetsRow = targetsRow[:strings.Index(targetsRow, "</tr>")]
	if !strings.Contains(targetsRow, "inside its re-sign window") {
		t.Errorf("the targets row carries no warning: %s", targetsRow)
	}
	rootRow := dom[strings.Index(dom, `data-roles="root"`):]
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

// many publishes n registries in bins (or in targets when bins is 0) with
// the status page, and returns the repository directory and status.json.
func many(t testing.TB, n, bins int, dst func(store.Store) store.Store) (string, statuspage.Status) {
	t.Helper()
	// one clock reading for the whole ceremony: bins written at init and
	// the bins staged a second later are then in one state, as the tests
	// of folding expect, whatever second the test starts in
	now := time.Now()
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: bins, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	items := make([]workspace.StageItem, n)
	for i := range items {
		items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: list, New: true}
	}
	if _, err := c.WS.StageMany(items); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	var s store.Store = c.Store
	if dst != nil {
		s = dst(c.Store)
	}
	if _, err := publish.Publish(context.Background(), c.WS, c.Online.Signer, s, publish.Options{StatusPage: true}); err != nil {
		t.Fatal(err)
	}
	return c.RepoDir, readStatus(t, c.RepoDir)
}

func readStatus(t testing.TB, dir string) statuspage.Status {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, statuspage.Data))
	if err != nil {
		t.Fatal(err)
	}
	var s statuspage.Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// manyLike is a report of n registries spread over 64 bins, each shaped
// as the one registry of a real published repository (its keys, its
// history, its signers): the page's size at scale without publishing
// 10,000 lists in a unit test (TestStatusPageLayout publishes for real).
func manyLike(t testing.TB, n int) statuspage.Status {
	t.Helper()
	_, one := many(t, 1, 64, nil)
	reg := one.Registries[0]
	s := one
	s.Registries = nil
	s.Pages = nil
	for i := range n {
		r := reg
		r.Host = fmt.Sprintf("r%d.example.test", i)
		r.Role = fmt.Sprintf("bins-%02x", i%64)
		s.Registries = append(s.Registries, r)
	}
	return statuspage.Paginated(s)
}

// At 10,000 registries in 64 bins index.html stays under 2 MB: it names
// the page of every registry, and each bin's page shows its registries in
// full. The 64 bins, in one state, are one row of the roles table.
func TestStatusPageAt10000Registries(t *testing.T) {
	s := manyLike(t, 10000)
	files, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	index := files[len(files)-1]
	if index.Name != statuspage.Page {
		t.Fatalf("the last file is %s, want index.html", index.Name)
	}
	t.Logf("index.html: %d bytes; %d role pages", len(index.Data), len(s.Pages))
	if len(index.Data) > 2<<20 {
		t.Errorf("index.html is %d bytes at 10,000 registries, above 2 MB", len(index.Data))
	}
	if len(s.Pages) != 64 || len(files) != 65 {
		t.Fatalf("%d role pages and %d files, want one page per bin", len(s.Pages), len(files))
	}
	html := string(index.Data)
	if rows := strings.Count(html, "<tr data-roles="); rows != 5 {
		t.Errorf("%d rows in the roles table, want root, targets, the 64 bins as one, snapshot and timestamp: %v", rows, roleStates(s.Roles))
	}
	if !strings.Contains(html, "bins-00 … bins-3f (64 bins)") {
		t.Error("the bins are not folded into one row")
	}
	pages := map[string]string{}
	for i, name := range s.Pages {
		if files[i].Name != name {
			t.Fatalf("file %d is %s, want %s", i, files[i].Name, name)
		}
		if len(files[i].Data) > 2<<20 {
			t.Errorf("%s is %d bytes", name, len(files[i].Data))
		}
		if !strings.Contains(html, `href="`+name+`"`) {
			t.Errorf("index.html does not link to %s", name)
		}
		pages[name] = string(files[i].Data)
	}
	for _, reg := range s.Registries {
		if reg.Page != statuspage.PageDir+reg.Role+".html" {
			t.Fatalf("%s in %s is shown on %s", reg.Host, reg.Role, reg.Page)
		}
		if !strings.Contains(pages[reg.Page], `data-host="`+reg.Host+`"`) || !strings.Contains(html, reg.Host+",") && !strings.Contains(html, reg.Host+"<") {
			t.Fatalf("%s is missing from its page or from index.html", reg.Host)
		}
	}
}

// Few registries stay on index.html; a role holding more than ChunkMax is
// split over pages, each registry on exactly one.
func TestStatusPageLayout(t *testing.T) {
	_, inline := many(t, statuspage.InlineMax, 4, nil)
	if len(inline.Pages) != 0 || inline.Registries[0].Page != statuspage.Page {
		t.Errorf("%d registries: pages %v, first on %s", statuspage.InlineMax, inline.Pages, inline.Registries[0].Page)
	}
	dir, split := many(t, 2*statuspage.ChunkMax+1, 0, nil)
	want := []string{"status/targets-1.html", "status/targets-2.html", "status/targets-3.html"}
	if !slices.Equal(split.Pages, want) {
		t.Fatalf("pages %v, want %v", split.Pages, want)
	}
	shown := map[string]int{}
	for _, name := range split.Pages {
		data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		for _, reg := range split.Registries {
			if strings.Contains(string(data), `data-host="`+reg.Host+`"`) {
				shown[reg.Host]++
			}
		}
	}
	for _, reg := range split.Registries {
		if shown[reg.Host] != 1 {
			t.Errorf("%s is shown on %d pages", reg.Host, shown[reg.Host])
		}
	}
}

// A publish that changes one registry rewrites that registry's role page
// and index.html, and leaves the other role pages in place.
func TestStatusPageRewritesOnlyChangedRoles(t *testing.T) {
	c, err := ceremony.New(t.TempDir(), ceremony.Options{Bins: 64})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", "keys.json"))
	old, _ := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "corepack-0.30.json"))
	items := make([]workspace.StageItem, 200)
	for i := range items {
		items[i] = workspace.StageItem{Registry: fmt.Sprintf("r%d.example.test", i), List: old, New: true}
	}
	if _, err := c.WS.StageMany(items); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, c.Store, publish.Options{StatusPage: true}); err != nil {
		t.Fatal(err)
	}
	before := readStatus(t, c.RepoDir)
	if _, err := c.WS.Stage("r7.example.test", list, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	rec := &testutil.RecordingStore{Store: c.Store}
	if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, rec, publish.Options{StatusPage: true}); err != nil {
		t.Fatal(err)
	}
	var changed string
	for _, reg := range before.Registries {
		if reg.Host == "r7.example.test" {
			changed = reg.Page
		}
	}
	var pagesWritten []string
	puts := rec.Puts()
	for _, name := range puts {
		if strings.HasPrefix(name, statuspage.PageDir) {
			pagesWritten = append(pagesWritten, name)
		}
	}
	if !slices.Equal(pagesWritten, []string{changed}) {
		t.Errorf("the second publish wrote role pages %v, want only %s", pagesWritten, changed)
	}
	if n := len(puts); n < 2 || puts[n-1] != statuspage.Page || puts[n-2] != statuspage.Data {
		t.Errorf("writes end with %v, want status.json then index.html", puts[max(0, n-3):])
	}
	page, _ := os.ReadFile(filepath.Join(c.RepoDir, filepath.FromSlash(changed)))
	if !strings.Contains(string(page), "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA") {
		t.Errorf("%s does not show the new key", changed)
	}
}

func roleStates(roles []statuspage.Role) map[string][]string {
	out := map[string][]string{}
	for _, r := range roles {
		k := fmt.Sprintf("v%d %s %d %v", r.Version, r.Expires.Format(time.RFC3339), r.Threshold, r.Signers)
		out[k] = append(out[k], r.Role)
	}
	return out
}
