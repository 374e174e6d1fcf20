package bundle

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/tufkeys/tufkeys/internal/redact"
)

// TargetName is the TUF target that holds a registry's key list; registries
// are indexed by host, the naming the public Sigstore repository uses.
func TargetName(host string) string { return host + targetSuffix }

const targetSuffix = "/keys.json"

// HostOfTarget is the registry host whose key list a target path names,
// or ok false for any other target.
func HostOfTarget(name string) (host string, ok bool) {
	host, ok = strings.CutSuffix(name, targetSuffix)
	return host, ok && host != ""
}

const maxHostLen = 253 + 6

// RegistryHost turns a registry URL or a bare host into the host that
// indexes its key list: lower case, an IP address in its shortest form
// (IPv6 in brackets), with the port, without leading zeros, only when it
// is not the scheme's default. Ports do not change whose keys sign a registry's
// packages, but two registries on one host differ by port.
func RegistryHost(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", errorOf(ErrMalformed, "the registry is empty: give a registry URL or host such as registry.example.test")
	}
	if len(in) > 2048 {
		return "", errorOf(ErrMalformed, "the registry %q is too long to be a URL or host", shorten(redact.URL(in), 60))
	}
	if ip := net.ParseIP(in); ip != nil && ip.To4() == nil {
		// a bare IPv6 address, as the host names below print it unbracketed
		in = "[" + in + "]"
	}
	if !strings.Contains(in, "://") {
		in = "https://" + in
	}
	u, err := url.Parse(in)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", errorOf(ErrMalformed, "%q is not a registry URL or host: use a form such as https://registry.example.test/ or registry.example.test", shorten(redact.URL(s), 60))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", errorOf(ErrMalformed, "registry %q uses scheme %q: only http and https registries exist", shorten(redact.URL(s), 60), shorten(u.Scheme, 20))
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); ip != nil {
		// one address, one spelling: 0:0::1 and ::1 are the same registry
		host = ip.String()
	}
	port := u.Port()
	if port == "" && strings.HasSuffix(u.Host, ":") {
		return "", errorOf(ErrMalformed, "%q ends in a colon with no port: give the port or drop the colon", shorten(redact.URL(s), 60))
	}
	if port != "" {
		// one port, one spelling: 0443 is 443
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", errorOf(ErrMalformed, "%q has port %q, not one from 1 to 65535", shorten(redact.URL(s), 60), shorten(port, 10))
		}
		port = strconv.Itoa(n)
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if !validHostname(host) {
		return "", errorOf(ErrMalformed, "%q is not a valid registry host name", shorten(u.Hostname(), 60))
	}
	switch ip := net.ParseIP(host); {
	case port != "":
		host = net.JoinHostPort(host, port)
	case ip != nil && ip.To4() == nil:
		// bracketed with or without a port, so that the name reads back
		// as a host wherever it is given again
		host = "[" + host + "]"
	}
	if len(host) > maxHostLen {
		return "", errorOf(ErrMalformed, "registry host %q is too long", shorten(host, 60))
	}
	return host, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
