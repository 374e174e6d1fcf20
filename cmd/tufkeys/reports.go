package main

// The JSON documents commands print with --format json (-o json). Field
// names are snake_case; every field is always present, null when it has no
// value and an empty list when a list has no items; times are RFC 3339 in
// UTC to the second (jsonTime). Each document has a JSON Schema under
// docs/schemas/, which the tests validate every command's output against
// and the README's field tables are generated from.

import (
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

// jsonTime is a time in the one form every document uses: RFC 3339, UTC,
// whole seconds.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Truncate(time.Second).Format(time.RFC3339) + `"`), nil
}

// timeOrNull is t, or null for the zero time.
func timeOrNull(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	j := jsonTime(t)
	return &j
}

// orNull is s, or null for the empty string.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// verifyReport is verify's verdict.
type verifyReport struct {
	Package         string   `json:"package"`
	Verified        bool     `json:"verified"`
	KeysHost        *string  `json:"keys_host"`
	SignedBy        []string `json:"signed_by"`
	IgnoredExpired  []string `json:"ignored_expired"`
	IgnoredUnknown  []string `json:"ignored_unknown"`
	ExpiryUnchecked bool     `json:"expiry_unchecked"`
	Refreshed       bool     `json:"refreshed"`
	Note            *string  `json:"note"`
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
	Dir        *string      `json:"dir"`
	InMemory   bool         `json:"in_memory"`
	Repository *string      `json:"repository"`
	CheckedAt  *jsonTime    `json:"checked_at"`
	Fresh      bool         `json:"fresh"`
	Verified   bool         `json:"verified"`
	Problem    *string      `json:"problem"`
	Roles      []roleReport `json:"roles"`
	KeyLists   []string     `json:"key_lists"`
}

type roleReport struct {
	Role    string   `json:"role"`
	Version int64    `json:"version"`
	Expires jsonTime `json:"expires"`
}

func newCacheReport(info client.CacheInfo) cacheReport {
	r := cacheReport{Dir: orNull(info.Dir), InMemory: info.Dir == "", Repository: orNull(info.Repository), CheckedAt: timeOrNull(info.CheckedAt), Fresh: info.Fresh, Verified: info.Verified, Problem: orNull(info.Problem), Roles: []roleReport{}, KeyLists: nonNil(info.KeyLists)}
	for _, ro := range info.Roles {
		r.Roles = append(r.Roles, roleReport{ro.Role, ro.Version, jsonTime(ro.Expires)})
	}
	return r
}

// copyReport is mirror, export and import.
type copyReport struct {
	Source string `json:"source"`
	// SourceName is the built-in source copied, when the copy is of one
	SourceName  *string  `json:"source_name"`
	Destination string   `json:"destination"`
	DryRun      bool     `json:"dry_run"`
	Root        int64    `json:"root"`
	Targets     int64    `json:"targets"`
	KeyLists    []string `json:"key_lists"`
	Copied      []string `json:"copied"`
	Unchanged   int      `json:"unchanged"`
	Files       int      `json:"files"`
	Next        *string  `json:"next"`
}

// watchReport is watch.
type watchReport struct {
	Registry   string   `json:"registry"`
	Same       bool     `json:"same"`
	Keys       int      `json:"registry_keys"`
	Added      []string `json:"added"`
	Redated    []string `json:"redated"`
	Suspicious []string `json:"suspicious"`
	Staged     *string  `json:"staged"`
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
