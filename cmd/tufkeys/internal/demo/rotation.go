package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/corepack"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/signer/watch"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// fakeRegistry serves, on loopback, the registry's key endpoint (the list
// the swap holds) and pnpm@10.1.0's version document.
func fakeRegistry(keys *atomic.Pointer[[]byte]) (string, func(), error) {
	doc := read("pnpm@10.1.0.json")
	return listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/-/npm/v1/keys":
			w.Write(*keys.Load())
		case "/pnpm/10.1.0":
			w.Write(doc)
		default:
			http.NotFound(w, r)
		}
	}))
}

// measureRotation times the path of a rotation in one deployment mode, from
// the registry's first signature with the new key to a client verifying it:
// the registry starts serving the rotated list; publish brings it to the
// repository (the watcher, two maintainers and a publish; or the operator
// signing its own delegated list); then a client whose cache was filled
// five minutes earlier, fresh for the hour, hands Corepack the rotated list
// on the first call (tufkeys exec's check of the version it will fetch).
func measureRotation(ctx context.Context, s *story, dir, mode string, setup func(*ceremony.Ceremony) error, publish func(c *ceremony.Ceremony, regURL string, cl *client.Client) error) error {
	work, err := os.MkdirTemp(dir, "mode-")
	if err != nil {
		return err
	}
	c, err := ceremony.New(work, ceremony.Options{})
	if err != nil {
		return s.fail("%s: ceremony: %v", mode, err)
	}
	if err := setup(c); err != nil {
		return s.fail("%s: publish the pre-rotation list: %v", mode, err)
	}
	url, stop, err := serve(c.RepoDir, &atomic.Pointer[[]byte]{})
	if err != nil {
		return s.fail("%s: serve: %v", mode, err)
	}
	defer stop()
	keys := &atomic.Pointer[[]byte]{}
	pre := read("pre-rotation-keys.json")
	keys.Store(&pre)
	regURL, stopReg, err := fakeRegistry(keys)
	if err != nil {
		return s.fail("%s: registry: %v", mode, err)
	}
	defer stopReg()
	root, _ := c.RootBytes(1)
	cache, _ := os.MkdirTemp(work, "cache-")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clientAt := func(offset time.Duration) (*client.Client, error) {
		return client.New(client.Options{Repositories: []string{url}, TrustedRoot: root, CacheDir: cache, RequestTimeout: 5 * time.Second,
			Logger: quiet, Clock: func() time.Time { return time.Now().Add(offset) }})
	}
	// the cache was filled five minutes ago
	early, err := clientAt(-5 * time.Minute)
	if err == nil {
		_, err = early.Keys(ctx, host)
	}
	if err != nil {
		return s.fail("%s: fill the cache: %v", mode, err)
	}
	cl, err := clientAt(0)
	if err != nil {
		return s.fail("%s: client: %v", mode, err)
	}

	start := time.Now()
	rotated := read("rotated-keys.json")
	keys.Store(&rotated) // the registry's first signature with the new key
	if err := publish(c, regURL, cl); err != nil {
		return s.fail("%s: %v", mode, err)
	}
	published := time.Since(start)
	target, _, _ := corepack.FindTarget([]string{"corepack", "pnpm@10.1.0"}, work)
	refreshed, err := corepack.Check(ctx, cl, regURL, []string{host}, target)
	if err != nil || !refreshed {
		return s.fail("%s: the hand-over should verify pnpm@10.1.0 after a refresh, but: refreshed=%v, %v", mode, refreshed, err)
	}
	list, _, err := corepack.VerifiedList(ctx, cl, []string{host})
	if err != nil || !holds(list, "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U") {
		return s.fail("%s: the list handed to Corepack lacks the new key: %v", mode, err)
	}
	total := time.Since(start)
	s.ok("%s: %s from the first new-key signature to a verifying client (published at %s); exec hands Corepack the key at the first call",
		mode, total.Round(time.Millisecond), published.Round(time.Millisecond))
	return nil
}

func holds(l *bundle.KeyList, keyid string) bool {
	for _, k := range l.Keys {
		if k.KeyID == keyid {
			return true
		}
	}
	return false
}

// ceremonyMode: the watcher stages what the registry added, two of three
// maintainers sign, the online key publishes.
func ceremonyMode(ctx context.Context, s *story, dir string) error {
	return measureRotation(ctx, s, dir, "ceremony (watcher, stage, 2 signatures, publish)",
		func(c *ceremony.Ceremony) error { return c.StagePublish(host, read("pre-rotation-keys.json"), 2) },
		func(c *ceremony.Ceremony, regURL string, cl *client.Client) error {
			rc, err := registry.New(regURL, nil, 5*time.Second)
			if err != nil {
				return err
			}
			res, err := watch.Run(ctx, watch.Options{Host: host, Upstream: rc.KeyList, Workspace: c.WS, Stage: true,
				Published: func(ctx context.Context, h string) (*bundle.KeyList, error) { return cl.Keys(ctx, h) }})
			if err != nil {
				return fmt.Errorf("watch: %w", err)
			}
			if res.Staged == nil {
				return fmt.Errorf("the watcher staged nothing")
			}
			if err := c.Sign(2); err != nil {
				return err
			}
			_, err = c.Publish()
			return err
		})
}

// operatorMode: the maintainers delegated the registry's list to its
// operator once; the operator signs each new list itself.
func operatorMode(ctx context.Context, s *story, dir string) error {
	operator, err := ceremony.NewKey("operator")
	if err != nil {
		return err
	}
	return measureRotation(ctx, s, dir, "delegated to the operator (it signs, publish)",
		func(c *ceremony.Ceremony) error {
			if _, err := c.WS.Delegate(host, []workspace.PublicKey{operator.Public}, 1); err != nil {
				return err
			}
			if _, err := c.WS.Stage(host, read("pre-rotation-keys.json"), nil); err != nil {
				return err
			}
			if err := c.Sign(2); err != nil {
				return err
			}
			if _, err := c.WS.Sign(operator.Signer); err != nil {
				return err
			}
			_, err := c.Publish()
			return err
		},
		func(c *ceremony.Ceremony, _ string, _ *client.Client) error {
			if _, err := c.WS.Stage(host, read("rotated-keys.json"), nil); err != nil {
				return err
			}
			if _, err := c.WS.Sign(operator.Signer); err != nil {
				return err
			}
			_, err := c.Publish()
			return err
		})
}
