// Package statuspage renders a repository's status for people: a
// self-contained index.html (no script, no external resource, readable on
// a phone, printable) and the status.json it is built from. The page is
// informative; clients trust the signed metadata, never the page.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package statuspage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tufkeys/tufkeys/internal/binfold"
	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// The files of the status page, which publishes write next to the metadata
// and rewrite every time; clients never read them. A repository with more
// than InlineMax registries gets a page per role too, under PageDir, so
// that index.html stays small whatever the number of registries.
const (
	Page    = "index.html"
	Data    = "status.json"
	PageDir = "status/"
)

// InlineMax is the most registries index.html shows in full; above it,
// index.html lists which role holds each registry and links to the role's
// page. ChunkMax is the most registries one role page shows, so that a
// repository without bins splits its one role over several pages.
const (
	InlineMax = 50
	ChunkMax  = 250
)

// Files are the status page's files, for a cache policy
// (store.CachePolicy.Rewritten) and for copies: a name ending in "/" is
// a folder whose every file is one of them.
var Files = []string{Page, Data, PageDir}

// Status is status.json.
type Status struct {
	Generated  time.Time  `json:"generated"`
	Roles      []Role     `json:"roles"`
	Registries []Registry `json:"registries"`
	// Pages are the role pages besides index.html, in role order.
	Pages []string `json:"pages"`
	// Log is the transparency log the root names; null without one.
	Log *Log `json:"log"`
}

// Log is the transparency log's witnessed checkpoint as the publish left
// it.
type Log struct {
	Origin    string    `json:"origin"`
	Size      int64     `json:"size"`
	Witnessed []string  `json:"witnessed"`
	Quorum    int       `json:"quorum"`
	Cosigned  time.Time `json:"cosigned"`
}

// Role is one published role.
type Role struct {
	Role      string    `json:"role"`
	Version   int64     `json:"version"`
	Expires   time.Time `json:"expires"`
	Due       bool      `json:"due"`
	Threshold int       `json:"threshold"`
	Signers   []string  `json:"signers"`
}

// Registry is one registry's current keys and the history of its list.
type Registry struct {
	Host string `json:"host"`
	Role string `json:"role"`
	// Page is the file that shows the registry in full: index.html or one
	// of Pages.
	Page    string    `json:"page"`
	Keys    []Key     `json:"keys"`
	History []Version `json:"history"`
}

// Key is one key of a list.
type Key struct {
	KeyID   string `json:"keyid"`
	Expires string `json:"expires,omitempty"`
	// Expired is set when the key had expired when the page was made.
	Expired bool `json:"expired"`
}

// Version is one version of a registry's key list.
type Version struct {
	Role    string   `json:"role"`
	Version int64    `json:"version"`
	Signers []string `json:"signers"`
	Changes []string `json:"changes"`
}

// FromReport builds the status at now from a workspace's report.
func FromReport(r workspace.PublishedReport, now time.Time) Status {
	// times in the one form of tufkeys' JSON: UTC, whole seconds
	s := Status{Generated: now.UTC().Truncate(time.Second), Roles: []Role{}, Registries: []Registry{}, Pages: []string{}}
	for _, ro := range r.Roles {
		s.Roles = append(s.Roles, Role{Role: ro.Role, Version: ro.Version, Expires: ro.Expires.UTC().Truncate(time.Second), Due: !now.Before(ro.Expires.Add(-ro.Window)), Threshold: ro.Threshold, Signers: nonNil(ro.Signers)})
	}
	for _, reg := range r.Registries {
		out := Registry{Host: reg.Host, Role: reg.Role, Keys: []Key{}, History: []Version{}}
		for _, k := range reg.Keys {
			key := Key{KeyID: k.KeyID, Expired: k.ExpiredAt(now)}
			if k.Expires != nil {
				key.Expires = *k.Expires
			}
			out.Keys = append(out.Keys, key)
		}
		for _, v := range reg.History {
			out.History = append(out.History, Version{Role: v.Role, Version: v.Version, Signers: nonNil(v.Signers), Changes: nonNil(v.Diff.Lines())})
		}
		s.Registries = append(s.Registries, out)
	}
	return Paginated(s)
}

// Paginated is s with each registry given its page and s.Pages listed
// anew.
func Paginated(s Status) Status {
	s.Pages = []string{}
	s.Registries = slices.Clone(s.Registries)
	for i := range s.Registries {
		s.Registries[i].Page = Page
	}
	s.paginate()
	return s
}

// paginate gives each registry its page: index.html while there are few,
// otherwise its role's page (split in chunks of ChunkMax registries).
func (s *Status) paginate() {
	if len(s.Registries) <= InlineMax {
		return
	}
	var order []string
	byRole := map[string][]int{}
	for i, reg := range s.Registries {
		if _, seen := byRole[reg.Role]; !seen {
			order = append(order, reg.Role)
		}
		byRole[reg.Role] = append(byRole[reg.Role], i)
	}
	for n, role := range order {
		regs := byRole[role]
		base := role
		if !safeName.MatchString(role) {
			base = fmt.Sprintf("role-%d", n+1)
		}
		for part := 0; part*ChunkMax < len(regs); part++ {
			name := PageDir + base + ".html"
			if len(regs) > ChunkMax {
				name = fmt.Sprintf("%s%s-%d.html", PageDir, base, part+1)
			}
			s.Pages = append(s.Pages, name)
			for _, i := range regs[part*ChunkMax : min(len(regs), (part+1)*ChunkMax)] {
				s.Registries[i].Page = name
			}
		}
	}
}

// safeName is a role name that can be a file name as it is.
var safeName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// JSON is status.json.
func (s Status) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	return append(data, '\n'), err
}

// File is one file of the page.
type File struct {
	Name string
	Data []byte
}

// Render is the page: the role pages (s.Pages, in order), then index.html.
// A role page holds no time of its own, so a role that did not change
// renders the same bytes and a publish can leave it in place.
func (s Status) Render() ([]File, error) {
	var files []File
	byPage := s.byPage()
	for _, name := range s.Pages {
		var buf bytes.Buffer
		if err := rolePage.Execute(&buf, struct {
			Title      string
			Registries []Registry
		}{pageTitle(name), byPage[name]}); err != nil {
			return nil, err
		}
		files = append(files, File{Name: name, Data: buf.Bytes()})
	}
	index, err := s.HTML()
	if err != nil {
		return nil, err
	}
	return append(files, File{Name: Page, Data: index}), nil
}

// byPage groups the registries by the page that shows them, in one pass.
func (s Status) byPage() map[string][]Registry {
	out := map[string][]Registry{}
	for _, reg := range s.Registries {
		out[reg.Page] = append(out[reg.Page], reg)
	}
	return out
}

// pageTitle is a role page's name without its folder and extension.
func pageTitle(name string) string {
	return strings.TrimSuffix(strings.TrimPrefix(name, PageDir), ".html")
}

// roleRow is one row of the roles table: the roles that share a state.
type roleRow struct {
	Role
	Names string
	Roles string // space-separated, for data-roles
}

// directoryRow is one line of the registry directory: a page and the
// hosts it shows.
type directoryRow struct {
	Page, Title string
	Hosts       []string
}

// bar is one row on the expiry timeline.
type bar struct {
	Y, Width float64
	Label    string
	Due      bool
}

// HTML is index.html.
func (s Status) HTML() ([]byte, error) {
	groups := binfold.Fold(s.Roles, func(r Role) string { return r.Role }, func(r Role) string {
		return fmt.Sprintf("%d|%s|%t|%d|%s", r.Version, r.Expires, r.Due, r.Threshold, strings.Join(r.Signers, ","))
	})
	byName := map[string]Role{}
	for _, r := range s.Roles {
		byName[r.Role] = r
	}
	var rows []roleRow
	var due []string
	for _, g := range groups {
		row := roleRow{Role: byName[g.Roles[0]], Names: g.Names(), Roles: strings.Join(g.Roles, " ")}
		rows = append(rows, row)
	}
	for _, r := range s.Roles {
		if r.Due {
			due = append(due, r.Role)
		}
	}
	// the timeline: each row's remaining life, on a square-root scale so
	// that a day and a year both show
	longest := 1.0
	for _, r := range rows {
		longest = max(longest, r.Expires.Sub(s.Generated).Hours())
	}
	var bars []bar
	for i, r := range rows {
		left := math.Max(0, r.Expires.Sub(s.Generated).Hours())
		w := 420 * math.Sqrt(left/longest)
		bars = append(bars, bar{Y: float64(i*26 + 8), Width: math.Max(w, 2), Label: fmt.Sprintf("%s v%d — %s", shortNames(r.Names), r.Version, remaining(r.Expires.Sub(s.Generated))), Due: r.Due})
	}
	var directory []directoryRow
	byPage := s.byPage()
	for _, name := range s.Pages {
		row := directoryRow{Page: name, Title: pageTitle(name)}
		for _, reg := range byPage[name] {
			row.Hosts = append(row.Hosts, reg.Host)
		}
		directory = append(directory, row)
	}
	var inline []Registry
	if len(s.Pages) == 0 {
		inline = s.Registries
	}
	warning := ""
	if len(due) > 0 {
		warning = fmt.Sprintf("%s inside %s re-sign window: re-sign %s now.", binfold.Names(due), pick(len(due) == 1, "its", "their"), pick(len(due) == 1, "it", "them"))
	}
	var buf bytes.Buffer
	err := page.Execute(&buf, struct {
		Status
		Warning   string
		Rows      []roleRow
		Bars      []bar
		Height    int
		Inline    []Registry
		Directory []directoryRow
	}{s, warning, rows, bars, len(bars)*26 + 12, inline, directory})
	return buf.Bytes(), err
}

func pick(one bool, a, b string) string {
	if one {
		return a
	}
	return b
}

// shortNames keeps a timeline label inside its column: a long folded
// name becomes its count of bins (the table above names them).
func shortNames(names string) string {
	if len(names) <= 24 {
		return names
	}
	if i := strings.LastIndex(names, " ("); i >= 0 && strings.HasSuffix(names, " bins)") {
		return names[i+2 : len(names)-1]
	}
	return names[:23] + "…"
}

func remaining(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	return "expires in " + duration.String(d.Round(time.Hour))
}

const style = `<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1b1b1b; background: #fff; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin-bottom: .25rem; }
.note { background: #f3f6fa; border-left: 4px solid #5b7fa6; padding: .5rem .75rem; }
.alert { background: #fdf0ed; border-left: 4px solid #c0392b; padding: .5rem .75rem; color: #8a1c00; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
td.hosts { font-size: .8rem; color: #333; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85em; word-break: break-all; }
.warning { color: #8a1c00; font-weight: 600; }
.due rect { fill: #c0392b; } .ok rect { fill: #4a7ab0; }
svg { width: 100%; height: auto; }
/* on a narrow screen the timeline keeps its size, and scrolls, so that its
   labels stay readable instead of shrinking with the drawing */
.timeline { overflow-x: auto; }
.timeline svg { min-width: 700px; }
svg text { font: 12px system-ui, sans-serif; fill: #1b1b1b; }
ul.changes { margin: .25rem 0; padding-left: 1.2rem; }
@media (max-width: 40rem) { #roles th:nth-child(4), #roles td:nth-child(4) { display: none; } }
@media print { body { max-width: none; } .note { border: 1px solid #999; } }
</style>`

const note = `<p class="note">This page is informative only. Clients trust the signed TUF metadata, which they verify against their root of trust, never this page.</p>`

// registrySections shows registries in full: their keys and history.
const registrySections = `{{define "registries"}}{{range .}}<section class="registry" id="{{.Host}}" data-host="{{.Host}}">
<h3>{{.Host}} <small>(in {{.Role}})</small></h3>
<table>
<tr><th>Key ID</th><th>Expires</th></tr>
{{range .Keys}}<tr><td><code>{{.KeyID}}</code></td><td>{{if .Expires}}{{.Expires}}{{if .Expired}} <span class="warning">expired</span>{{end}}{{else}}never{{end}}</td></tr>
{{end}}</table>
<p>History, oldest first:</p>
<ol>
{{range .History}}<li>{{.Role}} v{{.Version}}, signed by {{range $i, $s := .Signers}}{{if $i}}, {{end}}{{$s}}{{end}}<ul class="changes">{{range .Changes}}<li><code>{{.}}</code></li>{{end}}</ul></li>
{{end}}</ol>
</section>
{{end}}{{end}}`

var funcs = template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"add":  func(a, b float64) float64 { return a + b },
	"join": func(s []string) string { return strings.Join(s, ", ") },
}

var rolePage = template.Must(template.Must(template.New("role").Funcs(funcs).Parse(registrySections)).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Key repository status: {{.Title}}</title>
` + style + `
</head>
<body>
<h1>Registries in {{.Title}}</h1>
<p><a href="../index.html">Back to the repository's status</a>, which says when this page was generated.</p>
` + note + `
{{template "registries" .Registries}}
</body>
</html>
`))

var page = template.Must(template.Must(template.New("page").Funcs(funcs).Parse(registrySections)).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Key repository status</title>
` + style + `
</head>
<body>
<h1>Key repository status</h1>
<p>Generated {{date .Generated}}: {{len .Registries}} {{if eq (len .Registries) 1}}registry{{else}}registries{{end}}, {{len .Roles}} roles.</p>
{{if .Warning}}<p class="alert" id="warning">{{.Warning}}</p>
{{end}}` + note + `

<h2>Registries</h2>
{{if .Directory}}<p>Each registry is shown in full, keys and history, on its role's page; find a host with your browser's search.</p>
<table id="directory">
<tr><th>Page</th><th>Registries</th><th>Hosts</th></tr>
{{range .Directory}}<tr data-page="{{.Page}}"><td><a href="{{.Page}}">{{.Title}}</a></td><td>{{len .Hosts}}</td><td class="hosts">{{join .Hosts}}</td></tr>
{{end}}</table>
{{else}}{{template "registries" .Inline}}{{end}}
{{with .Log}}<h2>Transparency log</h2>
<p id="log">Every key list and root is in the log <code>{{.Origin}}</code>: {{.Size}} {{if eq .Size 1}}entry{{else}}entries{{end}}, the checkpoint cosigned by {{join .Witnessed}} (quorum {{.Quorum}}) at {{date .Cosigned}}.</p>
{{end}}<h2>Roles</h2>
<p>Roles that share a version, expiry and signers share a row.</p>
<table id="roles">
<tr><th>Role</th><th>Version</th><th>Expires</th><th>Signatures</th></tr>
{{range .Rows}}<tr data-roles="{{.Roles}}"><td>{{.Names}}</td><td>{{.Version}}</td><td>{{date .Expires}}{{if .Due}} <span class="warning">re-sign now: inside its re-sign window</span>{{end}}</td><td>threshold {{.Threshold}}; signed by {{range $i, $s := .Signers}}{{if $i}}, {{end}}{{$s}}{{end}}</td></tr>
{{end}}</table>

<h3>Expiry timeline</h3>
<div class="timeline"><svg viewBox="0 0 700 {{.Height}}" role="img" aria-label="Time left before each role expires">
{{range .Bars}}<g class="{{if .Due}}due{{else}}ok{{end}}"><rect x="270" y="{{.Y}}" width="{{.Width}}" height="16" rx="3"></rect><text x="0" y="{{add .Y 12}}">{{.Label}}</text></g>
{{end}}</svg></div>
</body>
</html>
`))
