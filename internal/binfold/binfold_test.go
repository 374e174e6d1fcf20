package binfold

import (
	"fmt"
	"strings"
	"testing"
)

func bins(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("bins-%02x", i))
	}
	return out
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestNames(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"one bin", []string{"bins-2c"}, "bins-2c"},
		{"all 64", bins(0, 63), "bins-00 … bins-3f (64 bins)"},
		{"a gap", join(bins(0, 0x2b), bins(0x2d, 63)), "bins-00 … bins-2b, bins-2d … bins-3f (63 bins)"},
		{"two that are not neighbours", []string{"bins-21", "bins-3f"}, "bins-21, bins-3f (2 bins)"},
		{"two neighbours", []string{"bins-21", "bins-22"}, "bins-21, bins-22 (2 bins)"},
		{"many runs are counted", []string{"bins-01", "bins-03", "bins-05", "bins-07", "bins-09", "bins-0b"}, "bins-01, bins-03, bins-05, bins-07 and 2 more (6 bins)"},
		{"other roles as they are", []string{"root", "targets"}, "root, targets"},
		{"widths differ", []string{"bins-0f", "bins-010"}, "bins-0f, bins-010 (2 bins)"},
		{"not a bin", []string{"bins-xy", "bins-"}, "bins-xy, bins-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Names(tt.names); got != tt.want {
				t.Errorf("Names(%v) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}

// A line about 65,536 bins in alternating states is still short.
func TestNamesStayShort(t *testing.T) {
	var odd []string
	for i := 1; i < 65536; i += 2 {
		odd = append(odd, fmt.Sprintf("bins-%04x", i))
	}
	if got := Names(odd); len(got) > 100 || !strings.Contains(got, "(32768 bins)") {
		t.Errorf("Names of 32768 odd bins = %q", got)
	}
}

func TestFold(t *testing.T) {
	type role struct{ name, state string }
	items := []role{{"root", "v1"}, {"targets", "v1"}}
	for i := 0; i < 64; i++ {
		s := "v1"
		if i == 0x2c {
			s = "v3"
		}
		items = append(items, role{fmt.Sprintf("bins-%02x", i), s})
	}
	items = append(items, role{"snapshot", "v3"})
	got := Fold(items, func(r role) string { return r.name }, func(r role) string { return r.state })
	var lines []string
	for _, g := range got {
		lines = append(lines, g.Names()+" "+g.State)
	}
	want := []string{"root v1", "targets v1", "bins-00 … bins-2b, bins-2d … bins-3f (63 bins) v1", "bins-2c v3", "snapshot v3"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Fold:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
