package client_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/mirror"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// forgeEarlierRoot replaces 1.root.json with one that lists an attacker's
// key beside one real signer of root 2, at threshold 1, so that root 2
// chains from it; and 1.targets.json with the same targets signed by the
// attacker. It returns the attacker's keyid.
func forgeEarlierRoot(t *testing.T, w *world) string {
	t.Helper()
	rb2, err := w.c.RootBytes(2)
	if err != nil {
		t.Fatal(err)
	}
	real2, err := metadata.Root().FromBytes(rb2)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attacker, err := metadata.KeyFromPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	attackerID, err := attacker.ID()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	realSigner := real2.Signatures[0].KeyID
	forged := metadata.Root(time.Now().Add(365 * 24 * time.Hour))
	forged.Signed.ConsistentSnapshot = true
	forged.Signed.Keys[attackerID] = attacker
	forged.Signed.Keys[realSigner] = real2.Signed.Keys[realSigner]
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		forged.Signed.Roles[role] = &metadata.Role{KeyIDs: []string{attackerID}, Threshold: 1}
	}
	forged.Signed.Roles[metadata.ROOT].KeyIDs = append(forged.Signed.Roles[metadata.ROOT].KeyIDs, realSigner)
	if _, err := forged.Sign(signer); err != nil {
		t.Fatal(err)
	}
	if err := forged.ToFile(filepath.Join(w.c.RepoDir, "1.root.json"), false); err != nil {
		t.Fatal(err)
	}
	targets, err := metadata.Targets().FromFile(filepath.Join(w.c.RepoDir, "1.targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	targets.ClearSignatures()
	if _, err := targets.Sign(signer); err != nil {
		t.Fatal(err)
	}
	if err := targets.ToFile(filepath.Join(w.c.RepoDir, "1.targets.json"), false); err != nil {
		t.Fatal(err)
	}
	return attackerID
}

// A root older than the client's trusted root is authenticated only from a
// root the client holds: chaining forward proves nothing. A forged root 1
// (with one real signer of root 2) and the targets it "verifies" are
// reported unverified, never as history; mirrors and archives leave the
// forged root out.
func TestHistoryDoesNotTrustEarlierRoots(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	addRootKey(t, w)
	w.publish("npm/keys.json")
	attacker := forgeEarlierRoot(t, w)
	rb2, _ := w.c.RootBytes(2)
	cl, logs := w.client(t.TempDir(), func(o *client.Options) { o.TrustedRoot = rb2 })
	h, err := cl.History(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 {
		t.Fatal("no history")
	}
	var verified int
	for _, e := range h {
		if slices.Contains(e.SignedBy, attacker) || strings.Contains(e.VerifiedBy, "root v1") {
			t.Errorf("claimed under the forged root: %+v", e)
		}
		if e.Role == metadata.TARGETS && e.Version == 1 && (!e.Unverified || e.Keys != nil || !strings.Contains(e.Problem, "cannot be authenticated")) {
			t.Errorf("targets v1, signed under the forged root: %+v", e)
		}
		if e.Problem == "" {
			verified++
		}
	}
	if verified == 0 {
		t.Errorf("the versions signed under root v2 are not shown as verified: %+v", h)
	}
	r, err := mirror.Collect(ctx, cl, w.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if r.Object("1.root.json") != nil || r.Object("2.root.json") == nil {
		t.Errorf("the copy holds the forged root, or lacks the trusted one")
	}
	if !strings.Contains(logs.String(), "cannot authenticate") {
		t.Errorf("no warning about the root left out:\n%s", logs)
	}
}

// history applies the cache's rollback floor, as keys does: against a stale
// copy it refuses instead of listing fewer versions than the client trusts.
func TestHistoryAppliesTheRollbackFloor(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "corepack-0.30.json")
	stale := t.TempDir()
	if out, err := exec.Command("cp", "-a", w.c.RepoDir+"/.", stale).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	w.publish("npm/keys.json")
	dir := t.TempDir()
	cl, _ := w.client(dir)
	if _, err := cl.Keys(ctx, host); err != nil {
		t.Fatal(err)
	}
	staleSrv := newRepoServer(t, stale)
	old, _ := w.client(dir, func(o *client.Options) { o.Repositories = []string{staleSrv.URL} })
	if _, err := old.History(ctx, host); !errors.Is(err, client.ErrRollback) {
		t.Fatalf("history against a stale copy: %v, want ErrRollback", err)
	}
}

// history follows every delegation a lookup follows: a registry delegated
// to its operator below a bin shows the operator's versions too.
func TestHistoryFollowsDelegationsBelowBins(t *testing.T) {
	t.Parallel()
	w := historyWorld(t, 8)
	operator, _ := ceremony.NewKey("operator")
	if _, err := w.c.WS.Delegate(host, []workspace.PublicKey{operator.Public}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.WS.Stage(host, fixture(t, "npm/keys.json"), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Sign(2); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.WS.Sign(operator.Signer); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Publish(); err != nil {
		t.Fatal(err)
	}
	cl, _ := w.client(t.TempDir())
	keys, err := cl.Keys(ctx, host)
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("keys: %v", err)
	}
	h, err := cl.History(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	last := h[len(h)-1]
	if len(h) != 2 || last.Role != host || last.Problem != "" || len(last.Keys) != 2 || !strings.HasPrefix(last.VerifiedBy, "bins-") {
		t.Errorf("history: %+v", h)
	}
}
