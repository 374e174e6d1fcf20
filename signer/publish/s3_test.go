package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/store/s3"
)

func clientFor(t *testing.T, url string, root []byte) *client.Client {
	t.Helper()
	cl, err := client.New(client.Options{Repositories: []string{url}, TrustedRoot: root, CacheDir: t.TempDir(), RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func realVersion(t *testing.T, id string) bundle.Version {
	t.Helper()
	v, err := bundle.ParseManifest(fixture(t, "npm/"+id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Publish to a real S3 server, then a client reads the bucket over plain
// HTTP, as it would through a CDN, and verifies a package.
func TestPublishToS3(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	ctx := context.Background()
	dst, prefix := srv.Store(t)
	c := newCeremony(t, ceremony.Options{})
	if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Sign(2); err != nil {
		t.Fatal(err)
	}
	dry, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{DryRun: true})
	if err != nil || len(dry.Uploaded) != 5 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if _, _, err := dst.Get(ctx, "timestamp.json", 1<<16); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the dry run uploaded: %v", err)
	}
	rep, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{StatusPage: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Uploaded) != 5 {
		t.Errorf("uploaded %v", rep.Uploaded)
	}
	url := srv.PublicURL(prefix)
	root, _ := c.RootBytes(1)
	res, err := clientFor(t, url, root).VerifyVersion(ctx, realVersion(t, "pnpm@10.1.0"), host)
	if err != nil || res.VerifiedBy[0] != "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U" {
		t.Fatalf("client over the bucket's HTTP URL: %v", err)
	}
	headers := map[string]string{
		"timestamp.json": "public, max-age=60",
		"1.root.json":    store.CacheImmutable,
		"1.targets.json": store.CacheImmutable,
	}
	for name, cache := range headers {
		resp, err := http.Get(url + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != cache || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d, Cache-Control %q, Content-Type %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
		}
	}
	// the status page, for people, with its own type and a short cache life
	for name, ctype := range map[string]string{"index.html": "text/html; charset=utf-8", "status.json": "application/json"} {
		resp, err := http.Get(url + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype || resp.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("%s: %d, %v", name, resp.StatusCode, resp.Header)
		}
	}
	again, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{})
	if err != nil || len(again.Uploaded) != 0 {
		t.Errorf("a second publish with no change uploaded %v (%v)", again.Uploaded, err)
	}
}

// A publish to S3 that fails after any number of uploads never leaves a
// bucket in which a client refresh fails or sees a mix, and running it
// again completes it.
func TestInterruptedS3Publish(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	ctx := context.Background()
	for failAfter := 0; ; failAfter++ {
		dst, prefix := srv.Store(t)
		c := newCeremony(t, ceremony.Options{})
		if _, err := c.WS.Stage(host, fixture(t, "corepack-0.30.json"), nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			t.Fatal(err)
		}
		if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Sign(2); err != nil {
			t.Fatal(err)
		}
		_, perr := publish.Publish(ctx, c.WS, c.Online.Signer, &failingStore{Store: dst, left: failAfter}, publish.Options{})
		root, _ := c.RootBytes(1)
		keys, err := clientFor(t, srv.PublicURL(prefix), root).Keys(ctx, host)
		if err != nil {
			t.Fatalf("failing at upload %d: a client refresh fails: %v", failAfter, err)
		}
		if n := len(keys.Keys); n != 1 && n != 2 {
			t.Fatalf("failing at upload %d: the client sees %d keys", failAfter, n)
		}
		if perr == nil {
			if len(keys.Keys) != 2 {
				t.Fatal("a completed publish serves the old list")
			}
			return
		}
		if !errors.Is(perr, errInjected) {
			t.Fatalf("failing at upload %d: %v", failAfter, perr)
		}
		if _, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{}); err != nil {
			t.Fatalf("publishing again after failing at upload %d: %v", failAfter, err)
		}
		if keys, err := clientFor(t, srv.PublicURL(prefix), root).Keys(ctx, host); err != nil || len(keys.Keys) != 2 {
			t.Fatalf("after publishing again: %v", err)
		}
	}
}

// A versioned file already in the bucket with other bytes is never
// overwritten.
func TestS3NeverOverwritesPublishedFiles(t *testing.T) {
	t.Parallel()
	srv := s3test.Get(t)
	ctx := context.Background()
	dst, _ := srv.Store(t)
	if err := dst.Put(ctx, "1.root.json", []byte(`{"not":"this repository"}`), store.Always); err != nil {
		t.Fatal(err)
	}
	c := newCeremony(t, ceremony.Options{})
	_, err := publish.Publish(ctx, c.WS, c.Online.Signer, dst, publish.Options{})
	if !errors.Is(err, publish.ErrConflict) || !strings.Contains(err.Error(), "already holds a different 1.root.json") {
		t.Fatalf("err = %v", err)
	}
	got, _, _ := dst.Get(ctx, "1.root.json", 1<<16)
	if !bytes.Equal(got, []byte(`{"not":"this repository"}`)) {
		t.Error("the existing file was overwritten")
	}
}

func TestS3Errors(t *testing.T) {
	srv := s3test.Get(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T) (store.Store, error)
		is    error
		words []string
	}{
		{
			name: "wrong credentials",
			setup: func(t *testing.T) (store.Store, error) {
				t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
				return s3.Open(ctx, srv.Bucket+"/x", srv.Options())
			},
			is:    s3.ErrAccessDenied,
			words: []string{"refused the credentials", "AWS_ACCESS_KEY_ID"},
		},
		{
			name: "missing bucket",
			setup: func(t *testing.T) (store.Store, error) {
				return s3.Open(ctx, "no-such-bucket-here/x", srv.Options())
			},
			is:    s3.ErrNoBucket,
			words: []string{"bucket no-such-bucket-here does not exist"},
		},
		{
			name: "no credentials",
			setup: func(t *testing.T) (store.Store, error) {
				t.Setenv("AWS_ACCESS_KEY_ID", "")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "")
				t.Setenv("AWS_PROFILE", "")
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
				t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
				t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
				return s3.Open(ctx, srv.Bucket+"/x", srv.Options())
			},
			is:    s3.ErrNoCredentials,
			words: []string{"no AWS credentials for s3://" + srv.Bucket + "/x: set AWS_ACCESS_KEY_ID"},
		},
		{
			name: "unreachable endpoint",
			setup: func(t *testing.T) (store.Store, error) {
				return s3.Open(ctx, srv.Bucket+"/x", s3.Options{EndpointURL: "http://127.0.0.1:1", PathStyle: true})
			},
			is:    s3.ErrUnreachable,
			words: []string{"cannot reach the S3 endpoint", "check the endpoint URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// the store is checked when opened, before any publish
			_, err := tt.setup(t)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Count(err.Error(), "s3://") > 1 {
				t.Errorf("the error repeats the destination: %q", err)
			}
		})
	}
}
