package redact

import (
	"strings"
	"testing"
)

func TestURLDropsSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://registry.example.test/", "https://registry.example.test/"},
		{"https://user:s3cret@registry.example.test/npm/?token=s3cret#s3cret", "https://registry.example.test/npm/"},
		{"user:s3cret@registry.example.test", "registry.example.test"},
		{"https://us%zzer:s3cret@registry.example.test/?a=s3cret", "https://registry.example.test/"},
		{"http://[::1:s3cret@bad/?s3cret", "http://bad/"},
	}
	for _, tt := range tests {
		got := URL(tt.in)
		if got != tt.want || strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
