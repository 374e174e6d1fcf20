// Package demo replays the January 2025 registry key rotation on loopback:
// a throwaway signing ceremony publishes the old key list, a client meets a
// package signed with the new key and refuses it, the maintainers publish
// the rotated list, the same client picks it up by itself, and a man in the
// middle cannot slip his own key in.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/repohttp"
)

//go:embed data/*.json
var data embed.FS

// host is the registry the demo's keys are published for; the demo never
// contacts it.
const host = "registry.example.test"

// ErrStep marks a step that did not behave as the story says it must.
var ErrStep = errors.New("demo step failed")

type story struct {
	out  io.Writer
	step int
}

func (s *story) ok(format string, args ...any) {
	s.step++
	fmt.Fprintf(s.out, "%2d. ok    %s\n", s.step, fmt.Sprintf(format, args...))
}

func (s *story) fail(format string, args ...any) error {
	s.step++
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(s.out, "%2d. FAIL  %s\n", s.step, msg)
	return fmt.Errorf("step %d: %s: %w", s.step, msg, ErrStep)
}

func read(name string) []byte {
	b, err := data.ReadFile("data/" + name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

func version(name string) (bundle.Version, error) {
	return bundle.ParseManifest(read(name))
}

func short(id string) string {
	if len(id) > 11 {
		return id[:11] + "…"
	}
	return id
}

// Run tells the story on out and returns an error unless every step behaved
// as stated. It needs no network beyond loopback and leaves nothing behind.
func Run(ctx context.Context, out io.Writer) error {
	s := &story{out: out}
	dir, err := os.MkdirTemp("", "tufkeys-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "The January 2025 registry key rotation, replayed on loopback")

	c, err := ceremony.New(dir, ceremony.Options{})
	if err != nil {
		return s.fail("signing ceremony: %v", err)
	}
	s.ok("ceremony: three maintainer keys (any two of them sign) and an online key; root v1 signed by maintainer1 and maintainer2")
	if err := c.StagePublish(host, read("pre-rotation-keys.json"), 2); err != nil {
		return s.fail("publish the pre-rotation list: %v", err)
	}
	mitm := &atomic.Pointer[[]byte]{}
	url, stop, err := serve(c.RepoDir, mitm)
	if err != nil {
		return s.fail("serve the repository: %v", err)
	}
	defer stop()
	s.ok("published the key list as it was before the rotation (old key %s only) and serving it at %s", short("SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"), url)

	root, err := c.RootBytes(1)
	if err != nil {
		return s.fail("read root v1: %v", err)
	}
	// the client's clock runs ahead when the story moves on: the rotation
	// comes minutes after the refusal, beyond the refresh interval
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	newClient := func() (*client.Client, error) {
		cache, err := os.MkdirTemp(dir, "cache-")
		if err != nil {
			return nil, err
		}
		return client.New(client.Options{
			Repositories: []string{url}, TrustedRoot: root, CacheDir: cache, Clock: clock,
			RequestTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}
	cl, err := newClient()
	if err != nil {
		return s.fail("start a client: %v", err)
	}
	tiny, _ := version("tiny-tarball@1.0.0.json")
	v, err := cl.VerifyVersion(ctx, tiny, host)
	if err != nil {
		return s.fail("the client should verify tiny-tarball@1.0.0, but: %v", err)
	}
	s.ok("the client (root v1 embedded, nothing else) verifies tiny-tarball@1.0.0: signed by %s", short(v.VerifiedBy[0]))

	pnpm, _ := version("pnpm@10.1.0.json")
	_, err = cl.VerifyVersion(ctx, pnpm, host)
	if !errors.Is(err, bundle.ErrUnknownKeyID) {
		return s.fail("the client should refuse pnpm@10.1.0 with an unknown-keyid error, but got: %v", err)
	}
	s.ok("the client refuses pnpm@10.1.0, signed by the new key %s that the published list lacks: Corepack's \"Cannot find matching keyid\"", short(pnpm.Signatures[0].KeyID))

	res, err := c.WS.Stage(host, read("rotated-keys.json"), nil)
	if err != nil {
		return s.fail("stage the rotated list: %v", err)
	}
	if err := c.Sign(2); err != nil {
		return s.fail("sign: %v", err)
	}
	rep, err := c.Publish()
	if err != nil {
		return s.fail("publish the rotated list: %v", err)
	}
	changes := strings.Join(res.Diff.Lines(), "; ")
	for _, id := range []string{"SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U", "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"} {
		changes = strings.ReplaceAll(changes, id, short(id))
	}
	s.ok("the maintainers stage the rotated list (%s), two of three sign, and publish targets v%d", changes, rep.Targets)
	ahead.Add(int64(client.DefaultRefreshInterval))

	v, err = cl.VerifyVersion(ctx, pnpm, host)
	if err != nil || !v.Refreshed {
		return s.fail("the same client should verify pnpm@10.1.0 after refreshing by itself, but: refreshed=%v, %v", v.Refreshed, err)
	}
	s.ok("the same client, with no new release and no manual step, refreshes on the unknown keyid and verifies pnpm@10.1.0: signed by %s", short(v.VerifiedBy[0]))

	attacker, forgedList, forged, err := forge(pnpm)
	if err != nil {
		return s.fail("forge: %v", err)
	}
	mitm.Store(&forgedList)
	s.ok("a man in the middle now swaps every keys.json the server sends for a list holding his own key %s", short(attacker))

	fresh, err := newClient()
	if err != nil {
		return s.fail("start a second client: %v", err)
	}
	_, err = fresh.Keys(ctx, host)
	if !errors.Is(err, client.ErrInconsistent) || errors.Is(err, client.ErrUnavailable) {
		return s.fail("a new client should refuse the swapped keys.json, but got: %v", err)
	}
	s.ok("a new client refuses the swapped keys.json: it does not match the hash the maintainers signed")

	_, err = cl.VerifyVersion(ctx, forged, host)
	if !errors.Is(err, bundle.ErrUnknownKeyID) {
		return s.fail("the client should refuse the attacker's pnpm@10.1.0, but got: %v", err)
	}
	s.ok("the first client refuses a pnpm@10.1.0 signed with the attacker's key, even after the refresh it triggers")

	fmt.Fprintln(out, "the rotation's path on this machine, a client cache filled five minutes before (the watcher's")
	fmt.Fprintln(out, "interval, the maintainers' signatures and the CDN life of timestamp.json come on top: see the README):")
	if err := ceremonyMode(ctx, s, dir); err != nil {
		return err
	}
	if err := operatorMode(ctx, s, dir); err != nil {
		return err
	}
	fmt.Fprintln(out, "and if the maintainers themselves, or whoever holds all their keys, turn against one user:")
	if err := transparency(ctx, s, dir); err != nil {
		return err
	}
	fmt.Fprintln(out, "every step behaved as stated")
	return nil
}

// serve serves the repository on loopback; while swap holds a list, every
// key list the server sends is replaced by it.
func serve(dir string, swap *atomic.Pointer[[]byte]) (string, func(), error) {
	h, err := repohttp.Handler(dir, nil)
	if err != nil {
		return "", nil, err
	}
	return listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if list := swap.Load(); list != nil && strings.HasSuffix(r.URL.Path, ".keys.json") {
			w.Header().Set("Content-Type", "application/json")
			w.Write(*list)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// listen serves h on a loopback port until stop is called.
func listen(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: h}
	go srv.Serve(ln)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// forge makes the attacker's key list and a version signed with it.
func forge(real bundle.Version) (string, []byte, bundle.Version, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, bundle.Version{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", nil, bundle.Version{}, err
	}
	id := bundle.Fingerprint(&priv.PublicKey)
	list := &bundle.KeyList{Keys: []bundle.Key{{KeyID: id, KeyType: bundle.ECDSAP256, Scheme: bundle.ECDSAP256, Key: base64.StdEncoding.EncodeToString(der)}}}
	encoded, err := bundle.Encode(list, bundle.FormNPM)
	if err != nil {
		return "", nil, bundle.Version{}, err
	}
	forged := bundle.Version{Name: real.Name, Version: real.Version, Integrity: "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))}
	digest := sha256.Sum256([]byte(forged.Name + "@" + forged.Version + ":" + forged.Integrity))
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return "", nil, bundle.Version{}, err
	}
	forged.Signatures = []bundle.Signature{{KeyID: id, Sig: base64.StdEncoding.EncodeToString(sig)}}
	return id, encoded, forged, nil
}
