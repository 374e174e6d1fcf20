package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

// exampleRepository publishes a repository with the registry's key list
// and serves it; the example's root.json is its root v1.
func exampleRepository(dir string) (url string, root []byte, stop func()) {
	c, err := ceremony.New(dir, ceremony.Options{})
	if err != nil {
		panic(err)
	}
	keys, _ := os.ReadFile(filepath.Join("..", "bundle", "testdata", "npm", "keys.json"))
	if err := c.StagePublish("registry.example.test", keys, 2); err != nil {
		panic(err)
	}
	h, _ := repohttp.Handler(c.RepoDir, nil)
	srv := httptest.NewServer(h)
	root, _ = c.RootBytes(1)
	return srv.URL, root, srv.Close
}

// A tool asks for a registry's verified keys.
func ExampleClient_Keys() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	repo, root, stop := exampleRepository(dir)
	defer stop()

	cl, err := client.New(client.Options{
		Repositories: []string{repo},
		TrustedRoot:  root,
		CacheDir:     filepath.Join(dir, "cache"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, err := cl.Keys(context.Background(), "registry.example.test")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys.KeyIDs())
	// Output: [SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U]
}

// A tool verifies a package version as the registry serves it.
func ExampleClient_VerifyPackage() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	repo, root, stop := exampleRepository(dir)
	defer stop()
	doc, _ := os.ReadFile(filepath.Join("..", "bundle", "testdata", "npm", "pnpm@10.1.0.json"))
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/pnpm/10.1.0"):
			w.Write(doc)
		case strings.HasSuffix(r.URL.Path, "/pnpm"):
			fmt.Fprint(w, `{"time":{"10.1.0":"2025-01-22T10:00:00.000Z"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer registry.Close()

	cl, _ := client.New(client.Options{Repositories: []string{repo}, TrustedRoot: root, CacheDir: filepath.Join(dir, "cache")})
	v, err := cl.VerifyPackage(context.Background(), registry.URL, "pnpm", "10.1.0", client.PackageOptions{
		KeysHosts: []string{"registry.example.test"}, // the registry is a proxy of this one
	})
	fmt.Println(v.Package, v.VerifiedBy, err)
	// Output: pnpm@10.1.0 [SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U] <nil>
}
