// Package nearest finds the names a mistyped one was probably meant to be.
package nearest

import (
	"cmp"
	"slices"
	"strings"
)

// maxNames bounds how many suggestions one message carries.
const maxNames = 3

// maxCompared bounds the length of the names compared, so that a long
// argument cannot make the comparison expensive.
const maxCompared = 256

// Names returns up to three of known closest to name in edit distance
// (insertions, deletions, substitutions and swaps of neighbours), those
// at the smallest distance found, and only those a typo could explain: at most a quarter of the
// name's length away, and at least 2.
func Names(name string, known []string) []string {
	name = strings.ToLower(name)
	if len(name) > maxCompared {
		return nil
	}
	limit := max(2, len(name)/4)
	type candidate struct {
		name string
		d    int
	}
	var found []candidate
	for _, k := range known {
		if len(k) > maxCompared || k == name {
			continue
		}
		if d := distance(name, strings.ToLower(k)); d <= limit {
			found = append(found, candidate{k, d})
		}
	}
	slices.SortStableFunc(found, func(a, b candidate) int {
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range found[:min(len(found), maxNames)] {
		if c.d > found[0].d {
			// a closer name is there: the farther ones are noise
			break
		}
		out = append(out, c.name)
	}
	return out
}

// distance is the optimal string alignment distance between a and b.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Phrase renders suggestions for a message: `did you mean a or b?`, or
// empty for none.
func Phrase(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "did you mean " + names[0] + "?"
	}
	return "did you mean " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + "?"
}
