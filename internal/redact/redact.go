// Package redact removes what a URL may carry that is nobody's business:
// credentials in its userinfo, tokens in its query or fragment. Every URL a
// message prints goes through it.
package redact

import (
	"net/url"
	"strings"
)

// URL is raw without userinfo, query and fragment. A string that does not
// parse as a URL is cut the same way by hand.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Opaque == "" {
		u.User = nil
		u.RawQuery, u.ForceQuery = "", false
		u.Fragment, u.RawFragment = "", ""
		return u.String()
	}
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		start := 0
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			start = j + 3
		}
		s = s[:start] + s[i+1:]
	}
	return s
}
