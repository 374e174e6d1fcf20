//go:build cgo

package keyref_test

import (
	"bytes"
	"crypto/elliptic"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/keyref"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
)

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	tokenLabel    = "tufkeys"
	tokenPIN      = "1234"
)

var (
	tokenOnce sync.Once
	tokenErr  error
)

// token initialises one SoftHSM2 token for the test run, in a temporary
// directory, with ECDSA P-256 keys alice, bob and dave and an RSA key.
func token(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Skip("SoftHSM2 is not installed: run scripts/test.sh, which installs it")
	}
	tokenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tufkeys-softhsm-")
		if err != nil {
			tokenErr = err
			return
		}
		conf := filepath.Join(dir, "softhsm2.conf")
		os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
		os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
		os.Setenv("SOFTHSM2_CONF", conf)
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", tokenLabel, "--pin", tokenPIN, "--so-pin", "5678").CombinedOutput()
		if err != nil {
			tokenErr = errors.New(string(out))
			return
		}
		ctx, err := crypto11.Configure(&crypto11.Config{Path: softhsmModule, TokenLabel: tokenLabel, Pin: tokenPIN})
		if err != nil {
			tokenErr = err
			return
		}
		defer ctx.Close()
		for i, name := range []string{"alice", "bob", "dave"} {
			if _, err := ctx.GenerateECDSAKeyPairWithLabel([]byte{byte(i + 1)}, []byte(name), elliptic.P256()); err != nil {
				tokenErr = err
				return
			}
		}
		if _, err := ctx.GenerateRSAKeyPairWithLabel([]byte{9}, []byte("rsa"), 2048); err != nil {
			tokenErr = err
		}
	})
	if tokenErr != nil {
		t.Fatalf("SoftHSM2 token: %v", tokenErr)
	}
}

func tokenRef(object string) string {
	return "pkcs11:token=" + tokenLabel + ";object=" + object + "?module-path=" + softhsmModule
}

// A ceremony where two maintainers sign with keys on a token and a third
// with a key file, then a rotation that replaces the file key by a token
// key; go-tuf's updater accepts each result.
func TestTokenCeremony(t *testing.T) {
	token(t)
	t.Setenv(keyref.EnvPKCS11PIN, tokenPIN)
	alice, err := keyref.Open(ctx, tokenRef("alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := keyref.Open(ctx, "pkcs11:token="+tokenLabel+";id=%02?module-path="+softhsmModule, nil)
	if err != nil {
		t.Fatal(err)
	}
	carol, _ := ceremony.NewKey("carol")
	online, _ := ceremony.NewKey("online")
	pubs := []workspace.PublicKey{{Name: "alice", Key: alice.Public}, {Name: "bob", Key: bob.Public}, carol.Public}
	ws, err := workspace.Init(filepath.Join(t.TempDir(), "ws"), workspace.InitOptions{RootKeys: pubs, RootThreshold: 2, OnlineKey: online.Public, Bins: 4})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := os.ReadFile(filepath.Join("..", "..", "bundle", "testdata", "npm", "keys.json"))
	if _, err := ws.Stage("registry.example.test", list, nil); err != nil {
		t.Fatal(err)
	}
	for _, signer := range []string{"alice", "carol"} {
		s := alice
		if signer == "carol" {
			s = carol.Signer
		}
		if _, err := ws.Sign(s); err != nil {
			t.Fatalf("%s signs: %v", signer, err)
		}
	}
	dir := t.TempDir()
	dst, _ := store.NewDir(dir)
	if _, err := publish.Publish(ctx, ws, online.Signer, dst, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readWithGoTUF(t, dir, "registry.example.test/keys.json"); !bytes.Equal(got, list) {
		t.Fatal("go-tuf did not read the list the token keys signed")
	}
	// carol's file key leaves; dave's token key takes its place
	dave, err := keyref.Open(ctx, tokenRef("dave"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Rotate(workspace.RotateOptions{RemoveRootKeys: []string{"carol"}, AddRootKeys: []workspace.PublicKey{{Name: "dave", Key: dave.Public}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Sign(alice); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Sign(bob); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Sign(dave); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Publish(ctx, ws, online.Signer, dst, publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readWithGoTUF(t, dir, "registry.example.test/keys.json"); !bytes.Equal(got, list) {
		t.Fatal("go-tuf after the rotation to a token key")
	}
}

func TestTokenFailures(t *testing.T) {
	token(t)
	tests := []struct {
		name, ref, pin string
		is             error
		want           string
	}{
		{"missing module", "pkcs11:token=" + tokenLabel + ";object=alice?module-path=/nonexistent/libnothing.so", tokenPIN, keyref.ErrKeyUnavailable, "the PKCS#11 module /nonexistent/libnothing.so does not exist"},
		{"object not found", tokenRef("nobody"), tokenPIN, keyref.ErrKeyUnavailable, "holds no key pair with object=nobody"},
		{"wrong key type", tokenRef("rsa"), tokenPIN, keyref.ErrWrongKeyType, "is not ECDSA P-256"},
		{"no module named", "pkcs11:token=" + tokenLabel + ";object=alice", tokenPIN, keyref.ErrUnsupported, "add ?module-path="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(keyref.EnvPKCS11PIN, tt.pin)
			_, err := keyref.Open(ctx, tt.ref, nil)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.is, tt.want)
			}
			if strings.Contains(err.Error(), tt.pin) && len(tt.pin) > 0 {
				t.Errorf("the error shows the PIN: %v", err)
			}
		})
	}
}

// A wrong PIN, in a process of its own (a module logged in once stays
// logged in for the process): one attempt, one sentence, no PIN shown,
// and the token still opens with the right PIN afterwards.
func TestTokenWrongPIN(t *testing.T) {
	if ref := os.Getenv("TUFKEYS_TEST_OPEN"); ref != "" {
		// the child: the parent's token (SOFTHSM2_CONF), one attempt
		_, err := keyref.Open(ctx, ref, nil)
		if err != nil {
			os.Stdout.WriteString("ERROR " + err.Error() + "\n")
			if errors.Is(err, keyref.ErrWrongPIN) {
				os.Stdout.WriteString("WRONG-PIN\n")
			}
		}
		return
	}
	token(t)
	openRef := func(ref, pin string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTokenWrongPIN$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TUFKEYS_TEST_OPEN="+ref, keyref.EnvPKCS11PIN+"="+pin)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	open := func(pin string) string { return openRef(tokenRef("alice"), pin) }
	out := open("0000")
	if !strings.Contains(out, "WRONG-PIN") || !strings.Contains(out, "refused the PIN; tokens lock after a few failures, so tufkeys tried once") || strings.Contains(out, "0000") {
		t.Errorf("a wrong PIN:\n%s", out)
	}
	if out := open(tokenPIN); strings.Contains(out, "ERROR") {
		t.Errorf("the right PIN after one wrong one:\n%s", out)
	}
	// the PIN file a reference names comes before the variable
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte(tokenPIN+"\n"), 0o600)
	ref := "pkcs11:token=" + tokenLabel + ";object=alice?module-path=" + softhsmModule + "&pin-source=file:" + pinFile
	if out := openRef(ref, "0000"); strings.Contains(out, "ERROR") {
		t.Errorf("pin-source:\n%s", out)
	}
}
