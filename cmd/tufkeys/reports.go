package main

// The JSON documents commands print with --format json (-o json). Field
// names are snake_case; times are RFC 3339 in UTC; a field that does not
// apply is left out, except lists, which are always present. The README's
// "JSON output" section lists them; tests parse each.

import (
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

// verifyReport is verify's verdict.
type verifyReport struct {
	Package         string   `json:"package"`
	Verified        bool     `json:"verified"`
	KeysHost        string   `json:"keys_host,omitempty"`
	SignedBy        []string `json:"signed_by"`
	IgnoredExpired  []string `json:"ignored_expired"`
	IgnoredUnknown  []string `json:"ignored_unknown"`
	ExpiryUnchecked bool     `json:"expiry_unchecked"`
	Refreshed       bool     `json:"refreshed"`
	Note            string   `json:"note,omitempty"`
}

func newVerifyReport(res bundle.Result) verifyReport {
	return verifyReport{Package: res.Package, Verified: true, SignedBy: nonNil(res.VerifiedBy), IgnoredExpired: nonNil(res.Expired), IgnoredUnknown: nonNil(res.Unknown), ExpiryUnchecked: res.ExpiryUnchecked}
}

// refreshReport is refresh's result.
type refreshReport struct {
	Repository string   `json:"repository"`
	Dropped    []string `json:"dropped"`
}

// cacheReport is cache info.
type cacheReport struct {
	Dir        string       `json:"dir"`
	InMemory   bool         `json:"in_memory"`
	Repository string       `json:"repository,omitempty"`
	CheckedAt  *time.Time   `json:"checked_at,omitempty"`
	Fresh      bool         `json:"fresh"`
	Verified   bool         `json:"verified"`
	Problem    string       `json:"problem,omitempty"`
	Roles      []roleReport `json:"roles"`
	KeyLists   []string     `json:"key_lists"`
}

type roleReport struct {
	Role    string    `json:"role"`
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

func newCacheReport(info client.CacheInfo) cacheReport {
	r := cacheReport{Dir: info.Dir, InMemory: info.Dir == "", Repository: info.Repository, Fresh: info.Fresh, Verified: info.Verified, Problem: info.Problem, Roles: []roleReport{}, KeyLists: nonNil(info.KeyLists)}
	if !info.CheckedAt.IsZero() {
		at := info.CheckedAt.UTC()
		r.CheckedAt = &at
	}
	for _, ro := range info.Roles {
		r.Roles = append(r.Roles, roleReport{ro.Role, ro.Version, ro.Expires.UTC()})
	}
	return r
}

// copyReport is mirror, export and import.
type copyReport struct {
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	DryRun      bool     `json:"dry_run,omitempty"`
	Root        int64    `json:"root"`
	Targets     int64    `json:"targets"`
	KeyLists    []string `json:"key_lists"`
	Copied      []string `json:"copied"`
	Unchanged   int      `json:"unchanged"`
	Files       int      `json:"files"`
	Next        string   `json:"next,omitempty"`
}

// watchReport is watch.
type watchReport struct {
	Registry   string   `json:"registry"`
	Same       bool     `json:"same"`
	Keys       int      `json:"registry_keys"`
	Added      []string `json:"added"`
	Redated    []string `json:"redated"`
	Suspicious []string `json:"suspicious"`
	Staged     string   `json:"staged,omitempty"`
}

// keyIDs lists the keys' ids, an empty list for none.
func keyIDs(keys []bundle.Key) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.KeyID)
	}
	return out
}

// redatedIDs lists the ids of the keys whose expiry a diff changes.
func redatedIDs(d bundle.Diff) []string {
	out := make([]string, 0, len(d.ExpiryChanged))
	for _, c := range d.ExpiryChanged {
		out = append(out, c.KeyID)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
