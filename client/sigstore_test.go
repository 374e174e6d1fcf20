package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/internal/harness/tufrepo"
)

// sigstoreList is the registry's list in the Sigstore form, each key
// listed for both usages, as the public-good repository carries it.
func sigstoreList(t *testing.T) []byte {
	t.Helper()
	p, err := bundle.Parse(fixture(t, "npm/keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := bundle.Encode(&p.List, bundle.FormSigstore)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("npm:attestations")) {
		t.Fatal("the Sigstore form lacks the attestations usage")
	}
	return data
}

// shaped is a Sigstore-shaped repository built with go-tuf's metadata API,
// served on loopback, and its root v1.
func shaped(t *testing.T) (*tufrepo.Shaped, *repoServer, []byte) {
	t.Helper()
	s, err := tufrepo.NewShaped(t.TempDir(), time.Now(), host, sigstoreList(t))
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.RootBytes(1)
	if err != nil {
		t.Fatal(err)
	}
	return s, newRepoServer(t, s.Dir), root
}

func shapedClient(t *testing.T, root []byte, repos ...string) *client.Client {
	t.Helper()
	cl, err := client.New(client.Options{TrustedRoot: root, Repositories: repos, CacheDir: t.TempDir(), RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// tufkeys reads a repository it did not write, shaped as Sigstore's
// public-good one (tuf-on-ci fields, PEM ECDSA keys, 3 of 5, a terminating
// delegation named after the host, the Sigstore form with both usages),
// and agrees with go-tuf's updater on every case: what verifies, and what
// each refuses.
func TestSigstoreShapedRepositories(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *tufrepo.Shaped)
		target string
		// ok: both read the list; else the error tufkeys gives
		ok   bool
		want error
	}{
		{name: "as published", ok: true},
		{name: "root rotated from 3 of 5 to 3 of 5", change: func(t *testing.T, s *tufrepo.Shaped) {
			if err := s.RotateRoot(); err != nil {
				t.Fatal(err)
			}
		}, ok: true},
		{name: "root rotated, signed by two new keyholders alone", change: func(t *testing.T, s *tufrepo.Shaped) {
			// only two of the old keyholders sign: the old threshold is unmet
			if err := s.RotateRoot(); err != nil {
				t.Fatal(err)
			}
			s.Root.ClearSignatures()
			for _, h := range s.Holders[:2] {
				if _, err := s.Root.Sign(h); err != nil {
					t.Fatal(err)
				}
			}
			data, _ := s.Root.ToBytes(true)
			os.WriteFile(filepath.Join(s.Dir, "2.root.json"), data, 0o644)
		}, want: client.ErrUntrusted},
		{name: "expired timestamp", change: func(t *testing.T, s *tufrepo.Shaped) {
			s.Timestamp.Signed.Expires = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
			if err := s.PublishTimestamp(); err != nil {
				t.Fatal(err)
			}
		}, want: client.ErrExpired},
		{name: "a host the delegation does not cover", target: "other.example.test", want: client.ErrNoKeyList},
		{name: "a target with a wrong hash", change: func(t *testing.T, s *tufrepo.Shaped) {
			files, _ := filepath.Glob(filepath.Join(s.Dir, "targets", host, "*.keys.json"))
			for _, f := range files {
				data, _ := os.ReadFile(f)
				os.WriteFile(f, bytes.Replace(data, []byte("npm:signatures"), []byte("npm:signaturez"), 1), 0o644)
			}
		}, want: client.ErrInconsistent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, srv, root := shaped(t)
			if tc.change != nil {
				tc.change(t, s)
			}
			registry := host
			if tc.target != "" {
				registry = tc.target
			}
			keys, err := shapedClient(t, root, srv.URL).Keys(context.Background(), registry)
			got, _, gerr := testutil.GoTUFTarget(t, srv.URL, root, registry+"/keys.json")
			switch {
			case tc.ok:
				if err != nil || gerr != nil {
					t.Fatalf("tufkeys: %v; go-tuf: %v", err, gerr)
				}
				if len(keys.Keys) != 2 || !bytes.Equal(got, sigstoreList(t)) {
					t.Errorf("tufkeys read %d keys (want the two signing keys, attestations left out); go-tuf read %d bytes", len(keys.Keys), len(got))
				}
			default:
				if !errors.Is(err, tc.want) {
					t.Errorf("tufkeys: %v, want %v", err, tc.want)
				}
				if gerr == nil {
					t.Errorf("go-tuf read it, tufkeys refused it: %v", err)
				}
			}
		})
	}
}

// A source's mirrors are tried in order: the first down, the second
// answers.
func TestSigstoreShapedMirror(t *testing.T) {
	t.Parallel()
	_, srv, root := shaped(t)
	cl := shapedClient(t, root, "http://127.0.0.1:1", srv.URL)
	if keys, err := cl.Keys(context.Background(), host); err != nil || len(keys.Keys) != 2 {
		t.Fatalf("through the mirror: %v", err)
	}
}

// Two sources: the first whose verified metadata lists a registry answers;
// one that lists it too is reported, never merged; a registry only the
// second lists is answered by the second; one neither lists is refused.
func TestSources(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json") // tufkeys' own repository: the pre-rotation list
	s, srv, root := shaped(t)
	if err := s.AddTarget(host, host+"/keys.json", sigstoreList(t)); err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	base := client.Options{CacheDir: t.TempDir(), Clock: w.clock, RequestTimeout: 2 * time.Second, Logger: textLogger(logs)}
	srcs, err := client.NewSources(base, []client.Source{
		{Name: "deployment", Root: w.root(), Repositories: []string{w.srv.URL}},
		{Name: "sigstore", Root: root, Repositories: []string{srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc, err := srcs.For(ctx, host)
	if err != nil || sc.Source.Name != "deployment" {
		t.Fatalf("the first source should answer: %v, %s", err, sc.Source.Name)
	}
	keys, err := sc.Client.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 1 {
		t.Fatalf("the deployment's list (one key): %v", err)
	}
	// the second source learns of the host (its cache now lists it)
	if _, err := srcs.Clients()[1].Client.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	if sc, err = srcs.For(ctx, host); err != nil || sc.Source.Name != "deployment" {
		t.Fatalf("again: %v", err)
	}
	if !strings.Contains(logs.String(), "two sources list this registry") {
		t.Errorf("the duplicate was not reported:\n%s", logs)
	}
	// each source keeps its own cache
	for _, name := range []string{"deployment", "sigstore"} {
		if _, err := os.Stat(filepath.Join(base.CacheDir, name)); err != nil {
			t.Errorf("no cache of its own for %s: %v", name, err)
		}
	}
	if _, err := srcs.For(ctx, "none.example.test"); !errors.Is(err, client.ErrNoSource) || !errors.Is(err, client.ErrNoKeyList) {
		t.Errorf("a registry no source lists: %v", err)
	}
}

func textLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// tufjsShaped builds a Sigstore-shaped repository with tuf-js's models
// (testdata/tufjs-shaped.js), an implementation that is neither tufkeys'
// nor go-tuf's, and returns its directory and root v1.
func tufjsShaped(t *testing.T, rotate bool) (string, []byte) {
	t.Helper()
	modules := testutil.Tool(t, "TUFKEYS_TEST_TUFJS", "tuf-js")
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(list, sigstoreList(t), 0o644)
	args := []string{filepath.Join("testdata", "tufjs-shaped.js"), dir, host, list}
	if rotate {
		args = append(args, "rotate")
	}
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tufjs-shaped.js: %v\n%s", err, out)
	}
	root, err := os.ReadFile(filepath.Join(dir, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, root
}

// The same shape built by tuf-js: tufkeys and go-tuf read it alike, as
// published and after a 3-of-5 to 3-of-5 root rotation, and refuse alike a
// host it does not delegate and a target whose bytes do not match.
func TestTufJSBuiltRepositories(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		rotate bool
		target string
		tamper bool
		want   error
	}{
		{name: "as published"},
		{name: "root rotated from 3 of 5 to 3 of 5", rotate: true},
		{name: "a host the delegation does not cover", target: "other.example.test", want: client.ErrNoKeyList},
		{name: "a target with a wrong hash", tamper: true, want: client.ErrInconsistent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := tufjsShaped(t, tc.rotate)
			if tc.tamper {
				files, _ := filepath.Glob(filepath.Join(dir, "targets", host, "*.keys.json"))
				for _, f := range files {
					data, _ := os.ReadFile(f)
					os.WriteFile(f, bytes.Replace(data, []byte("npm:signatures"), []byte("npm:signaturez"), 1), 0o644)
				}
			}
			srv := newRepoServer(t, dir)
			registry := host
			if tc.target != "" {
				registry = tc.target
			}
			cl := shapedClient(t, root, srv.URL)
			keys, err := cl.Keys(context.Background(), registry)
			got, _, gerr := testutil.GoTUFTarget(t, srv.URL, root, registry+"/keys.json")
			if tc.want == nil {
				if err != nil || gerr != nil || len(keys.Keys) != 2 || !bytes.Equal(got, sigstoreList(t)) {
					t.Fatalf("tufkeys: %v; go-tuf: %v", err, gerr)
				}
				if tc.rotate {
					info, err := cl.CacheInfo(context.Background())
					if err != nil || len(info.Roles) == 0 || info.Roles[0].Version != 2 {
						t.Errorf("the client did not walk to root v2: %+v, %v", info.Roles, err)
					}
				}
				return
			}
			if !errors.Is(err, tc.want) || gerr == nil {
				t.Errorf("tufkeys: %v (want %v); go-tuf: %v", err, tc.want, gerr)
			}
		})
	}
}
