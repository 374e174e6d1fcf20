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
	"time"

	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// The files of the status page, which publishes write next to the metadata
// and rewrite every time; clients never read them.
const (
	Page = "index.html"
	Data = "status.json"
)

// Files are the status page's files, for a cache policy
// (store.CachePolicy.Rewritten) and for copies.
var Files = []string{Page, Data}

// Status is status.json.
type Status struct {
	Generated  time.Time  `json:"generated"`
	Roles      []Role     `json:"roles"`
	Registries []Registry `json:"registries"`
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
	Host    string    `json:"host"`
	Role    string    `json:"role"`
	Keys    []Key     `json:"keys"`
	History []Version `json:"history"`
}

// Key is one key of a list.
type Key struct {
	KeyID   string `json:"keyid"`
	Expires string `json:"expires,omitempty"`
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
	s := Status{Generated: now.UTC().Truncate(time.Second), Roles: []Role{}, Registries: []Registry{}}
	for _, ro := range r.Roles {
		s.Roles = append(s.Roles, Role{Role: ro.Role, Version: ro.Version, Expires: ro.Expires.UTC().Truncate(time.Second), Due: !now.Before(ro.Expires.Add(-ro.Window)), Threshold: ro.Threshold, Signers: nonNil(ro.Signers)})
	}
	for _, reg := range r.Registries {
		out := Registry{Host: reg.Host, Role: reg.Role, Keys: []Key{}, History: []Version{}}
		for _, k := range reg.Keys {
			key := Key{KeyID: k.KeyID}
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
	return s
}

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

// bar is one role on the expiry timeline.
type bar struct {
	Y, Width float64
	Label    string
	Due      bool
}

// HTML is index.html.
func (s Status) HTML() ([]byte, error) {
	// the timeline: each role's remaining life, on a square-root scale so
	// that a day and a year both show
	longest := 1.0
	for _, r := range s.Roles {
		longest = max(longest, r.Expires.Sub(s.Generated).Hours())
	}
	var bars []bar
	for i, r := range s.Roles {
		left := math.Max(0, r.Expires.Sub(s.Generated).Hours())
		w := 450 * math.Sqrt(left/longest)
		bars = append(bars, bar{Y: float64(i*26 + 8), Width: math.Max(w, 2), Label: fmt.Sprintf("%s v%d — %s", r.Role, r.Version, remaining(r.Expires.Sub(s.Generated))), Due: r.Due})
	}
	var buf bytes.Buffer
	err := page.Execute(&buf, struct {
		Status
		Bars   []bar
		Height int
	}{s, bars, len(bars)*26 + 12})
	return buf.Bytes(), err
}

func remaining(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	return "expires in " + duration.String(d.Round(time.Hour))
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"add":  func(a, b float64) float64 { return a + b },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Key repository status</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1b1b1b; background: #fff; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin-bottom: .25rem; }
.note { background: #f3f6fa; border-left: 4px solid #5b7fa6; padding: .5rem .75rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85em; word-break: break-all; }
.warning { color: #8a1c00; font-weight: 600; }
.due rect { fill: #c0392b; } .ok rect { fill: #4a7ab0; }
svg { width: 100%; height: auto; }
svg text { font: 12px system-ui, sans-serif; fill: #1b1b1b; }
ul.changes { margin: .25rem 0; padding-left: 1.2rem; }
@media (max-width: 40rem) { th:nth-child(4), td:nth-child(4) { display: none; } }
@media print { body { max-width: none; } .note { border: 1px solid #999; } }
</style>
</head>
<body>
<h1>Key repository status</h1>
<p>Generated {{date .Generated}}.</p>
<p class="note">This page is informative only. Clients trust the signed TUF metadata, which they verify against their root of trust, never this page.</p>

<h2>Roles</h2>
<table id="roles">
<tr><th>Role</th><th>Version</th><th>Expires</th><th>Signatures</th></tr>
{{range .Roles}}<tr data-role="{{.Role}}"><td>{{.Role}}</td><td>{{.Version}}</td><td>{{date .Expires}}{{if .Due}} <span class="warning">re-sign now: inside its re-sign window</span>{{end}}</td><td>threshold {{.Threshold}}; signed by {{range $i, $s := .Signers}}{{if $i}}, {{end}}{{$s}}{{end}}</td></tr>
{{end}}</table>

<h3>Expiry timeline</h3>
<svg viewBox="0 0 700 {{.Height}}" role="img" aria-label="Time left before each role expires">
{{range .Bars}}<g class="{{if .Due}}due{{else}}ok{{end}}"><rect x="240" y="{{.Y}}" width="{{.Width}}" height="16" rx="3"></rect><text x="0" y="{{add .Y 12}}">{{.Label}}</text></g>
{{end}}</svg>

<h2>Registries</h2>
{{range .Registries}}<section class="registry" data-host="{{.Host}}">
<h3>{{.Host}} <small>(in {{.Role}})</small></h3>
<table>
<tr><th>Key ID</th><th>Expires</th></tr>
{{range .Keys}}<tr><td><code>{{.KeyID}}</code></td><td>{{if .Expires}}{{.Expires}}{{else}}never{{end}}</td></tr>
{{end}}</table>
<p>History, oldest first:</p>
<ol>
{{range .History}}<li>{{.Role}} v{{.Version}}, signed by {{range $i, $s := .Signers}}{{if $i}}, {{end}}{{$s}}{{end}}<ul class="changes">{{range .Changes}}<li><code>{{.}}</code></li>{{end}}</ul></li>
{{end}}</ol>
</section>
{{end}}
</body>
</html>
`))
