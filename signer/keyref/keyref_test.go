package keyref_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/internal/harness/testutil"
	"github.com/tufkeys/tufkeys/signer/keyref"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

var ctx = context.Background()

// endpoint is the test run's local-kms, which scripts/test.sh starts.
func endpoint(t *testing.T) string {
	t.Helper()
	e := os.Getenv("TUFKEYS_KMS_ENDPOINT")
	if e == "" {
		t.Skip("TUFKEYS_KMS_ENDPOINT is unset: run scripts/test.sh, which starts a KMS-compatible server")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	return e
}

// newKey makes a key in the KMS, as an administrator would.
func newKey(t *testing.T, ep string, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String("http://" + ep) })
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func TestKMSSignsWhatItsPublicKeyVerifies(t *testing.T) {
	ep := endpoint(t)
	id := newKey(t, ep, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	s, err := keyref.Open(ctx, "awskms://"+ep+"/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignMessage(strings.NewReader("metadata"))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("metadata"))
	if !ecdsa.VerifyASN1(s.Public.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("the KMS signature does not verify with the key's public key")
	}
}

// The scheduled job's online key in KMS: publish and timestamp sign with
// it, and go-tuf's updater accepts the result.
func TestPublishWithKMSOnlineKey(t *testing.T) {
	ep := endpoint(t)
	id := newKey(t, ep, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	online, err := keyref.Open(ctx, "awskms://"+ep+"/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	var maintainers []ceremony.Key
	var pubs []workspace.PublicKey
	for _, n := range []string{"alice", "bob"} {
		k, _ := ceremony.NewKey(n)
		maintainers = append(maintainers, k)
		pubs = append(pubs, k.Public)
	}
	ws, err := workspace.Init(filepath.Join(t.TempDir(), "ws"), workspace.InitOptions{
		RootKeys: pubs, RootThreshold: 2, OnlineKey: workspace.PublicKey{Name: "online", Key: online.Public}, Bins: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", "keys.json"))
	if _, err := ws.Stage("registry.example.test", list, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range maintainers {
		if _, err := ws.Sign(k.Signer); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	if _, err := publish.Publish(ctx, ws, online, dst, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := publish.Timestamp(ctx, ws, online, dst, publish.Options{}); err != nil || rep.Timestamp != 2 {
		t.Fatalf("timestamp with the KMS key: %+v, %v", rep, err)
	}
	if got := readWithGoTUF(t, dir, "registry.example.test/keys.json"); !bytes.Equal(got, list) {
		t.Fatal("go-tuf did not read the list")
	}
}

// readWithGoTUF serves a published directory and reads a target with
// go-tuf's updater, trusting the directory's root v1.
func readWithGoTUF(t *testing.T, dir, target string) []byte {
	t.Helper()
	root, _ := os.ReadFile(filepath.Join(dir, "1.root.json"))
	got, _, err := testutil.GoTUFTarget(t, testutil.Serve(t, dir), root, target)
	if err != nil {
		t.Fatalf("go-tuf: %v", err)
	}
	return got
}

func TestKMSFailures(t *testing.T) {
	ep := endpoint(t)
	p384 := newKey(t, ep, types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify)
	encrypt := newKey(t, ep, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	disabled := newKey(t, ep, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	cfg, _ := config.LoadDefaultConfig(ctx)
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String("http://" + ep) })
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref string
		is        error
		want      string
	}{
		{"not found", "awskms://" + ep + "/00000000-0000-0000-0000-000000000000", keyref.ErrKeyUnavailable, "KMS has no key"},
		{"disabled", "awskms://" + ep + "/" + disabled, keyref.ErrKeyUnavailable, "is disabled"},
		{"wrong curve", "awskms://" + ep + "/" + p384, keyref.ErrWrongKeyType, "not an ECC_NIST_P256 signing key"},
		{"not a signing key", "awskms://" + ep + "/" + encrypt, keyref.ErrWrongKeyType, "not an asymmetric signing key"},
		{"unreachable", "awskms://127.0.0.1:1/some-key", keyref.ErrUnreachable, "cannot reach KMS"},
		{"no key named", "awskms://" + ep + "/", keyref.ErrUnsupported, "names no key"},
		{"token", "pkcs11:token=tufkeys;object=alice", keyref.ErrUnsupported, "pkcs11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := keyref.Open(ctx, tt.ref, nil)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %v mentioning %q", err, tt.is, tt.want)
			}
			if time.Since(start) > 30*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

// local-kms grants every caller everything, so a refusal comes from an
// HTTP server on loopback answering as KMS does to a caller without
// kms:GetPublicKey; the SDK and the explanation are the real ones.
func TestKMSAccessDenied(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("x-amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"AccessDeniedException","message":"User is not authorized to perform: kms:GetPublicKey"}`))
	}))
	defer srv.Close()
	_, err := keyref.Open(ctx, "awskms://"+strings.TrimPrefix(srv.URL, "http://")+"/alias/tufkeys-online", nil)
	if !errors.Is(err, keyref.ErrKeyUnavailable) || !strings.Contains(err.Error(), "they need kms:Sign and kms:GetPublicKey on it") {
		t.Errorf("err = %v", err)
	}
}

func TestKind(t *testing.T) {
	for ref, want := range map[string]string{
		"alice.key":                       "file",
		`C:\keys\alice.key`:               "file",
		"pkcs11:token=tufkeys;object=a":   "token",
		"PKCS11:token=tufkeys":            "token",
		"awskms://127.0.0.1:4599/alias/o": "KMS",
		"awskms:alias/o":                  "file", // not a reference Open accepts as KMS
	} {
		if got := keyref.Kind(ref); got != want {
			t.Errorf("Kind(%q) = %q, want %q", ref, got, want)
		}
	}
}
