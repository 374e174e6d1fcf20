package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/logmonitor"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/witnessd"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/internal/repohttp"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// transparency shows what the log adds to threshold signing: a maintainer
// group holding every key signs a list with an extra key and serves it to
// one client only; the client refuses it, as it is not in the witnessed
// log; once the attacker logs it to get past that, the monitor flags the
// key the registry does not serve.
func transparency(ctx context.Context, s *story, dir string) error {
	dir = filepath.Join(dir, "transparency")
	const origin = "keys.example.test/log"
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	logKey, err := keyfile.NewSigner(priv, "log")
	if err != nil {
		return err
	}
	vkey, err := logappend.VerifierKey(origin, pub)
	if err != nil {
		return err
	}
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	policy := translog.Policy{Origin: origin, Key: vkey, Quorum: 2}
	for i := range 3 {
		skey, wkey, err := note.GenerateKey(nil, fmt.Sprintf("witness%d.example.test", i+1))
		if err != nil {
			return err
		}
		w, err := witnessd.Start(ctx, witnessd.Options{SigningKey: skey, LogVerifier: func(o string) (note.Verifier, bool, error) { return logV, o == origin, nil }})
		if err != nil {
			return s.fail("start witness %d: %v", i+1, err)
		}
		defer w.Close()
		policy.Witnesses = append(policy.Witnesses, translog.Witness{Key: wkey, URL: w.URL})
	}
	c, err := ceremony.New(dir, ceremony.Options{Bins: 4, Log: &policy, LogKey: logKey})
	if err != nil {
		return s.fail("signing ceremony with a log: %v", err)
	}
	honest := read("rotated-keys.json")
	if err := c.StagePublish(host, honest, 2); err != nil {
		return s.fail("publish with the log: %v", err)
	}
	s.ok("a root naming a transparency log and three witnesses (transparency-dev/witness on loopback, any two cosign): the rotated list is logged, cosigned, then published")

	// the victim's server sends the attacker's metadata; the log files
	// come from where the attacker chooses
	logFrom := &atomic.Pointer[string]{}
	public := c.RepoDir
	logFrom.Store(&public)
	victim := filepath.Join(dir, "victim")
	if err := os.CopyFS(victim, os.DirFS(c.RepoDir)); err != nil {
		return err
	}
	victimURL, stop, err := serveSplit(victim, logFrom)
	if err != nil {
		return err
	}
	defer stop()
	root, err := c.RootBytes(1)
	if err != nil {
		return err
	}
	newClient := func() (*client.Client, error) {
		cache, err := os.MkdirTemp(dir, "cache-")
		if err != nil {
			return nil, err
		}
		return client.New(client.Options{Repositories: []string{victimURL}, TrustedRoot: root, CacheDir: cache,
			RequestTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}

	// the attacker: every maintainer key, the online key and the log key;
	// a list with a key of their own, published for the victim alone
	attackerKey, evilList, _, err := forge(bundle.Version{})
	if err != nil {
		return err
	}
	evil, err := withKeysOf(honest, evilList)
	if err != nil {
		return err
	}
	attackerWS := filepath.Join(dir, "attacker")
	if err := os.CopyFS(attackerWS, os.DirFS(c.WS.Dir)); err != nil {
		return err
	}
	ac := *c
	if ac.WS, err = workspace.Open(attackerWS); err != nil {
		return err
	}
	if _, err := ac.WS.Stage(host, evil, nil); err != nil {
		return s.fail("the attacker's stage: %v", err)
	}
	if err := publishForVictim(ctx, s, &ac, victim, "the attacker's list"); err != nil {
		return err
	}
	victimLog := victim
	cl, err := newClient()
	if err != nil {
		return err
	}
	_, err = cl.Keys(ctx, host)
	if !errors.Is(err, client.ErrNotLogged) {
		return s.fail("the victim should refuse the attacker's list as not in the log, but got: %v", err)
	}
	s.ok("the maintainers, all keys in hand, sign a list with their own key %s for one client only: TUF verifies it, the client refuses it (not in the witnessed log)", short(attackerKey))

	logFrom.Store(&victimLog)
	if _, err := cl.Keys(ctx, host); err != nil {
		return s.fail("once logged, the attacker's list passes the client, but: %v", err)
	}
	s.ok("to get past the client they must log it where all see it (the witnesses cosign no other history); the client then takes it")

	regURL, stopReg, err := fakeRegistryKeys(honest)
	if err != nil {
		return err
	}
	defer stopReg()
	flagged, err := monitorFlags(ctx, policy, victimLog, regURL)
	if err != nil {
		return s.fail("the monitor: %v", err)
	}
	if !slices.Contains(flagged, attackerKey) {
		return s.fail("the monitor should flag %s, but flagged %v", attackerKey, flagged)
	}
	s.ok("the maintainers' log monitor reads the log and flags %s: the registry does not serve it at its own endpoint", short(attackerKey))
	return dropTheLog(ctx, s, dir, &ac, victim, logFrom, cl, c.RepoDir)
}

// publishForVictim has every maintainer key sign what the attacker staged
// and publishes it where only the victim reads.
func publishForVictim(ctx context.Context, s *story, ac *ceremony.Ceremony, victim, what string) error {
	if err := ac.Sign(3); err != nil {
		return s.fail("the attacker's signatures on %s: %v", what, err)
	}
	victimStore, err := store.NewDir(victim)
	if err != nil {
		return err
	}
	opts := ac.PublishOptions()
	opts.MoveOrigin = true
	if _, err := publish.Publish(ctx, ac.WS, ac.Online.Signer, victimStore, opts); err != nil {
		return s.fail("the attacker's publish of %s: %v", what, err)
	}
	return nil
}

// dropTheLog shows the root's side of the log: the maintainers, every TUF
// key in hand, rotate the root to drop the log for one client; the client
// refuses the rotation until it is in the log its root names, and once it
// is, the monitor flags a logged root the repository does not serve.
func dropTheLog(ctx context.Context, s *story, dir string, ac *ceremony.Ceremony, victim string, logFrom *atomic.Pointer[string], cl *client.Client, public string) error {
	unlogged := filepath.Join(dir, "victim-log-before")
	if err := os.CopyFS(filepath.Join(unlogged, "log"), os.DirFS(filepath.Join(victim, "log"))); err != nil {
		return err
	}
	if _, err := ac.WS.Rotate(workspace.RotateOptions{RemoveLog: true}); err != nil {
		return s.fail("the attacker's root rotation: %v", err)
	}
	if err := publishForVictim(ctx, s, ac, victim, "root v2"); err != nil {
		return err
	}
	logFrom.Store(&unlogged)
	if _, err := cl.Refresh(ctx); !errors.Is(err, client.ErrNotLogged) {
		return s.fail("the victim should refuse root v2 as not in the log its root v1 names, but got: %v", err)
	}
	s.ok("the maintainers, every TUF key in hand, sign root v2 without the log for one client: the client refuses it, as root v1 names a log that does not hold it")
	logFrom.Store(&victim)
	if _, err := cl.Refresh(ctx); err != nil {
		return s.fail("once logged, root v2 passes the client, but: %v", err)
	}
	// the monitor reads the log everyone sees against the repository
	// everyone reads, which never served root v2
	honestView := public
	view := &atomic.Pointer[string]{}
	view.Store(&victim)
	url, stop, err := serveSplit(honestView, view)
	if err != nil {
		return err
	}
	defer stop()
	root, err := ac.RootBytes(1)
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp(dir, "monitor-")
	if err != nil {
		return err
	}
	mc, err := client.New(client.Options{Repositories: []string{url}, TrustedRoot: root, CacheDir: cache,
		RequestTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	rep, err := logmonitor.Run(ctx, logmonitor.Options{Client: mc})
	if err != nil {
		return s.fail("the monitor: %v", err)
	}
	if !slices.ContainsFunc(rep.Findings, func(f logmonitor.Finding) bool { return f.Kind == logmonitor.RootNotServed }) {
		return s.fail("the monitor should flag the logged root v2 the repository does not serve, but found %v", rep.Findings)
	}
	s.ok("to get past the client they must log root v2 where all see it; the monitor then flags a logged root the repository does not serve")
	return nil
}

// monitorFlags runs the monitor's checks over the log in dir: the keyids
// logged for the registry that its endpoint does not serve.
func monitorFlags(ctx context.Context, p translog.Policy, dir, regURL string) ([]string, error) {
	fetch := logappend.StoreFetch(&store.Dir{Root: dir})
	followed, _, err := translog.Follow(ctx, fetch, p, translog.MonitorState{}, time.Now())
	if err != nil {
		return nil, err
	}
	rc, err := registry.New(regURL, nil, 5*time.Second)
	if err != nil {
		return nil, err
	}
	live, err := rc.KeyList(ctx)
	if err != nil {
		return nil, err
	}
	var flagged []string
	for _, e := range followed.New {
		for _, id := range e.Entry.KeyIDs {
			if e.Entry.Registry == host && !slices.ContainsFunc(live.Keys, func(k bundle.Key) bool { return k.KeyID == id }) {
				flagged = append(flagged, id)
			}
		}
	}
	return flagged, nil
}

// serveSplit serves the repository in dir, and the log's files from the
// directory logFrom names.
func serveSplit(dir string, logFrom *atomic.Pointer[string]) (string, func(), error) {
	h, err := repohttp.Handler(dir, nil)
	if err != nil {
		return "", nil, err
	}
	return listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/log/") {
			http.ServeFile(w, r, filepath.Join(*logFrom.Load(), filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// fakeRegistryKeys serves the registry's key endpoint with list.
func fakeRegistryKeys(list []byte) (string, func(), error) {
	keys := &atomic.Pointer[[]byte]{}
	keys.Store(&list)
	return fakeRegistry(keys)
}

// withKeysOf is list with the keys of extra added.
func withKeysOf(list, extra []byte) ([]byte, error) {
	a, err := bundle.Parse(list)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Parse(extra)
	if err != nil {
		return nil, err
	}
	a.List.Keys = append(a.List.Keys, b.List.Keys...)
	return bundle.Encode(&a.List, bundle.FormNPM)
}
