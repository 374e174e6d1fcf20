package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// registryWithPackument serves tiny-tarball@1.0.0 (signed by the key that
// expired in the January 2025 rotation) and answers its packument with
// status and body.
func registryWithPackument(t *testing.T, status int, body string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(pkgDir, fixtures, "npm", "tiny-tarball@1.0.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	json.Unmarshal(raw, &f)
	doc, _ := json.Marshal(map[string]any{"name": f["name"], "version": f["version"], "dist": map[string]any{"integrity": f["integrity"], "signatures": f["signatures"]}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tiny-tarball/1.0.0":
			w.Write(doc)
		case "/tiny-tarball":
			w.WriteHeader(status)
			w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A signature by a key with an expiry needs a publish time: an unknown one
// is a refusal naming why, unless the caller accepts it with the flag, and
// then the verdict says so. A proxy that hides the time cannot revive the
// key the rotation retired.
func TestVerifyRefusesUnknownPublishTime(t *testing.T) {
	clearClientEnv(t)
	_, repo, root := published(t, "npm/keys.json")
	flags := []string{"--repo", repo, "--root", root, "--cache", t.TempDir(), "--keys-host", "registry.example.test"}
	before := `{"time":{"1.0.0":"2015-03-24T00:12:24.039Z"}}`
	after := `{"time":{"1.0.0":"2025-03-24T00:12:24.039Z"}}`
	tests := []struct {
		name    string
		status  int
		body    string
		accept  bool
		code    int
		wantOut string
		wantErr string
	}{
		{name: "published before the expiry", status: 200, body: before, wantOut: "verified tiny-tarball@1.0.0: signed by SHA256:jl3b"},
		{name: "a null member before time", status: 200, body: `{"deprecated":null,"n":12345,"ok":true,"time":{"1.0.0":"2015-03-24T00:12:24.039Z"}}`, wantOut: "verified tiny-tarball@1.0.0"},
		{name: "published after the expiry", status: 200, body: after, code: exitFail, wantErr: "after key SHA256:jl3b"},
		{name: "packument missing", status: 404, body: "", code: exitFail, wantErr: "its publish time is unknown"},
		{name: "packument fails", status: 500, body: "oops", code: exitFail, wantErr: "its publish time is unknown"},
		{name: "packument not JSON", status: 200, body: "<html>", code: exitFail, wantErr: "its publish time is unknown"},
		{name: "empty time", status: 200, body: `{"time":{}}`, code: exitFail, wantErr: "lists no time for 1.0.0"},
		{name: "garbage time", status: 200, body: `{"time":{"1.0.0":"soon"}}`, code: exitFail, wantErr: "not an RFC 3339 time"},
		{name: "unknown, accepted", status: 404, body: "", accept: true, wantOut: "publish time unknown and accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"verify", "tiny-tarball@1.0.0", "--registry", registryWithPackument(t, tt.status, tt.body)}, flags...)
			if tt.accept {
				args = append(args, "--accept-unknown-publish-time")
			}
			code, out, errOut := runCLI(t, args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if tt.code == exitFail && !strings.Contains(errOut, "--accept-unknown-publish-time") && strings.Contains(errOut, "unknown") {
				t.Errorf("the refusal does not say how to accept it: %s", errOut)
			}
		})
	}
	// the opt-out is a flag only: the environment cannot turn it on
	t.Setenv("TUFKEYS_ACCEPT_UNKNOWN_PUBLISH_TIME", "1")
	code, _, errOut := runCLI(t, append([]string{"verify", "tiny-tarball@1.0.0", "--registry", registryWithPackument(t, 404, "")}, flags...)...)
	if code != exitFail || !strings.Contains(errOut, "publish time is unknown") {
		t.Fatalf("the variable accepted an unknown publish time: exit %d, %s", code, errOut)
	}
}
