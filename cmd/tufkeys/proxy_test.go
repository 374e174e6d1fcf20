package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// A registry proxy that re-signs what it serves with a key of its own:
// the origin's and the proxy's verified key lists, merged, verify what
// it serves, and Corepack gets both in one value.
func TestRegistryProxyThatResigns(t *testing.T) {
	clearClientEnv(t)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	proxyKeyID := bundle.Fingerprint(&priv.PublicKey)
	proxyList, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"expires": nil, "keyid": proxyKeyID, "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": base64.StdEncoding.EncodeToString(der),
	}}})
	origin, _ := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm/keys.json"))
	c, err := ceremony.New(t.TempDir(), ceremony.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for host, list := range map[string][]byte{"registry.example.test": origin, "proxy.example.test": proxyList} {
		if _, err := c.WS.Stage(host, list, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	h, _ := repohttp.Handler(c.RepoDir, nil)
	repoSrv := httptest.NewServer(h)
	defer repoSrv.Close()
	root := filepath.Join(t.TempDir(), "root.json")
	rb, _ := c.RootBytes(1)
	os.WriteFile(root, rb, 0o644)

	// the proxy serves a version signed by its own key only
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	digest := sha256.Sum256([]byte("pkg@1.0.0:" + integrity))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	doc, _ := json.Marshal(map[string]any{"name": "pkg", "version": "1.0.0", "dist": map[string]any{"integrity": integrity,
		"signatures": []map[string]string{{"keyid": proxyKeyID, "sig": base64.StdEncoding.EncodeToString(sig)}}}})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pkg/1.0.0":
			w.Write(doc)
		case "/pkg":
			w.Write([]byte(`{"time":{"1.0.0":"2026-01-01T00:00:00Z"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer proxy.Close()

	flags := []string{"--repo", repoSrv.URL, "--root", root, "--cache", t.TempDir()}
	code, out, errOut := runCLI(t, append([]string{"verify", "pkg@1.0.0", "--registry", proxy.URL, "--keys-host", "registry.example.test"}, flags...)...)
	if code != exitFail || !strings.Contains(errOut, proxyKeyID) {
		t.Errorf("the origin's keys alone: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, append([]string{"verify", "pkg@1.0.0", "--registry", proxy.URL, "--keys-host", "registry.example.test", "--keys-host", "proxy.example.test"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "verified pkg@1.0.0: signed by "+proxyKeyID) {
		t.Errorf("merged lists: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("TUFKEYS_REGISTRY", "registry.example.test,proxy.example.test")
	code, out, errOut = runCLI(t, append([]string{"keys", "-o", "corepack"}, flags...)...)
	var value struct {
		NPM []struct {
			KeyID string `json:"keyid"`
		} `json:"npm"`
	}
	if err := json.Unmarshal([]byte(out), &value); code != exitOK || err != nil || len(value.NPM) != 3 || value.NPM[2].KeyID != proxyKeyID {
		t.Errorf("keys for both registries: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	// the README's CI job behind the proxy, as written: npm's registry is
	// the proxy, TUFKEYS_REGISTRY names whose lists verify, and verify
	// fetches from the proxy (it once resolved the two hosts as one URL)
	t.Setenv("npm_config_registry", proxy.URL+"/")
	if code, out, errOut := runCLI(t, append([]string{"verify", "pkg@1.0.0"}, flags...)...); code != exitOK || !strings.Contains(out, "verified pkg@1.0.0: signed by "+proxyKeyID) {
		t.Errorf("the README's proxy job, verify: exit %d\n%s%s", code, out, errOut)
	}
	// with one host it verifies with that list, from the proxy, not around it
	t.Setenv("TUFKEYS_REGISTRY", "registry.example.test")
	if code, out, errOut := runCLI(t, append([]string{"verify", "pkg@1.0.0"}, flags...)...); code != exitFail || !strings.Contains(errOut, proxyKeyID) {
		t.Errorf("one host: exit %d\n%s%s", code, out, errOut)
	}
	// and exec hands Corepack both lists, in one value
	t.Setenv("TUFKEYS_REGISTRY", "registry.example.test,proxy.example.test")
	code, out, errOut = runCLI(t, append(append([]string{"exec"}, flags...), "--", "sh", "-c", `printf %s "$COREPACK_INTEGRITY_KEYS"`)...)
	if err := json.Unmarshal([]byte(out), &value); code != exitOK || err != nil || len(value.NPM) != 3 {
		t.Errorf("exec with both registries: exit %d, %v\n%s%s", code, err, out, errOut)
	}
}
