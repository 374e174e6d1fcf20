package nearest

import (
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	known := []string{"registry.example.test", "registry.other.test", "mirror.example.test", "a.test", "b.test", "c.test"}
	tests := []struct {
		name string
		want []string
	}{
		{"registry.example.tset", []string{"registry.example.test"}},
		{"registy.example.test", []string{"registry.example.test"}},
		{"REGISTRY.EXAMPLE.TEST.", []string{"registry.example.test"}},
		{"registry.exmple.test", []string{"registry.example.test"}},
		{"d.test", []string{"a.test", "b.test", "c.test"}},
		{"a.tset", []string{"a.test"}},
		{"unrelated.host.test", nil},
		{"registry.example.test", nil},
		{strings.Repeat("x", 300), nil},
	}
	for _, tt := range tests {
		if got := Names(tt.name, known); !slices.Equal(got, tt.want) {
			t.Errorf("Names(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPhrase(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "did you mean a?"},
		{[]string{"a", "b", "c"}, "did you mean a, b or c?"},
	} {
		if got := Phrase(tt.in); got != tt.want {
			t.Errorf("Phrase(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
