package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistryHost(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"registry.example.test", "registry.example.test"},
		{"https://registry.example.test/", "registry.example.test"},
		{"https://Registry.Example.Test:443/some/path", "registry.example.test"},
		{"http://registry.example.test:80", "registry.example.test"},
		{"http://127.0.0.1:4873/", "127.0.0.1:4873"},
		{"registry.example.test:8443", "registry.example.test:8443"},
		{"https://[::1]:8443/", "[::1]:8443"},
		{"https://[0:0::1]:08443/", "[::1]:8443"},
		{"[::1]", "[::1]"},
		{"::1", "[::1]"},
		{"http://[::1]/", "[::1]"},
		{"registry.example.test:0443", "registry.example.test"},
		{"https://REGISTRY.example.test:00443/", "registry.example.test"},
		{"http://127.0.0.1:0080", "127.0.0.1"},
	}
	for _, tt := range tests {
		got, err := RegistryHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("RegistryHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		// a host name as printed is given back as the same host
		if again, err := RegistryHost(got); err != nil || again != got {
			t.Errorf("RegistryHost(%q) = %q, %v; not the same host", got, again, err)
		}
	}
	for _, bad := range []string{"", "ftp://registry.example.test", "https://user:pw@registry.example.test", "bad_host!", "https://", "-lead.example.test", "registry.example.test:0", "registry.example.test:65536", "registry.example.test:", "[fe80::1%25eth0]"} {
		if got, err := RegistryHost(bad); !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("RegistryHost(%q) = %q, %v; want ErrMalformed, credentials unprinted", bad, got, err)
		}
	}
}

func TestCompare(t *testing.T) {
	old := parseTestdata(t, "corepack-0.30.json").List
	rotated := parseTestdata(t, "npm/keys.json").List
	d := Compare(&old, &rotated)
	if len(d.Added) != 1 || d.Added[0].KeyID[:11] != "SHA256:DhQ8" || len(d.Removed) != 0 || len(d.ExpiryChanged) != 1 {
		t.Fatalf("diff %+v", d)
	}
	lines := d.Lines()
	want := []string{
		"+ SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U (never expires)",
		"~ SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA expires null -> 2025-01-29T00:00:00.000Z",
	}
	if len(lines) != len(want) || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("lines %q", lines)
	}
	back := Compare(&rotated, &old)
	if len(back.Removed) != 1 || !Compare(&old, &old).Empty() {
		t.Errorf("reverse diff %+v", back)
	}
}
