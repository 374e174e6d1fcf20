// Package binfold writes sets of hashed bins the way a person reads them:
// 64 bins in one state are one line, and a range names neighbours only.
package binfold

import (
	"fmt"
	"strconv"
	"strings"
)

// Prefix names the bins: bins-00 … bins-3f.
const Prefix = "bins"

// maxRuns bounds how many runs of neighbours one line names; the rest are
// counted, so a line stays short whatever the number of bins.
const maxRuns = 4

// Index returns a bin's number and the width of its hex suffix, or ok
// false for any other role name.
func Index(name string) (n uint64, width int, ok bool) {
	hex, found := strings.CutPrefix(name, Prefix+"-")
	if !found || hex == "" || len(hex) > 8 {
		return 0, 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || strings.ToLower(hex) != hex {
		return 0, 0, false
	}
	return n, len(hex), true
}

// IsBin reports whether name is a hashed bin.
func IsBin(name string) bool {
	_, _, ok := Index(name)
	return ok
}

// Names renders role names in the order given: bins-2c, "bins-00 … bins-3f
// (64 bins)", or "bins-00 … bins-2b, bins-2d … bins-3f (63 bins)". Only
// bins that are neighbours share a range; names that are not bins are
// listed as they are.
func Names(names []string) string {
	var parts []string
	bins := 0
	runs := 0
	more := 0
	for i := 0; i < len(names); {
		n, w, ok := Index(names[i])
		if !ok {
			parts = append(parts, names[i])
			i++
			continue
		}
		j := i + 1
		for j < len(names) {
			m, mw, ok := Index(names[j])
			if !ok || mw != w || m != n+uint64(j-i) {
				break
			}
			j++
		}
		bins += j - i
		runs++
		switch {
		case runs > maxRuns:
			more += j - i
		case j-i == 1:
			parts = append(parts, names[i])
		case j-i == 2:
			parts = append(parts, names[i], names[i+1])
		default:
			parts = append(parts, names[i]+" … "+names[j-1])
		}
		i = j
	}
	s := strings.Join(parts, ", ")
	if more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	if bins > 1 {
		s += fmt.Sprintf(" (%d bins)", bins)
	}
	return s
}

// Group is the roles that share one state.
type Group struct {
	Roles []string
	State string
}

// Names renders the group's roles (see Names).
func (g Group) Names() string { return Names(g.Roles) }

// Fold groups bins that share a state, wherever they stand in the list;
// every other role stays a group of its own. Groups keep the order of
// their first role.
func Fold[T any](items []T, role func(T) string, state func(T) string) []Group {
	var out []Group
	at := map[string]int{}
	for _, it := range items {
		r, s := role(it), state(it)
		if !IsBin(r) {
			out = append(out, Group{Roles: []string{r}, State: s})
			continue
		}
		if i, ok := at[s]; ok {
			out[i].Roles = append(out[i].Roles, r)
			continue
		}
		at[s] = len(out)
		out = append(out, Group{Roles: []string{r}, State: s})
	}
	return out
}
