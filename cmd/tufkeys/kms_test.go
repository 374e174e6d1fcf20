package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// The scheduled job with its online key in KMS, through the CLI: the
// public key comes from key public, the job never holds key material.
func TestCLIKMSOnlineKey(t *testing.T) {
	ep := os.Getenv("TUFKEYS_KMS_ENDPOINT")
	if ep == "" {
		t.Skip("TUFKEYS_KMS_ENDPOINT is unset: run scripts/test.sh, which starts a KMS-compatible server")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	cfg, _ := config.LoadDefaultConfig(context.Background())
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String("http://" + ep) })
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	ref := "awskms://" + ep + "/" + *out.KeyMetadata.KeyId
	t.Chdir(t.TempDir())
	t.Setenv("TUFKEYS_PASSPHRASE", "kms test")
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"key", "generate", "--out", "alice"}, "wrote alice.key"},
		{[]string{"key", "public", "--key", ref, "--out", "online.pub"}, "wrote online.pub; keyid"},
		{[]string{"repo", "init", "--workspace", "ws", "--root-key", "alice.pub", "--root-threshold", "1", "--online-key", "online.pub", "--bins", "4"}, "staged root v1"},
		{[]string{"repo", "sign", "--yes", "--workspace", "ws", "--key", "alice.key"}, "signed root v1"},
		{[]string{"repo", "publish", "--workspace", "ws", "--online-key", ref, "--to", "public"}, "published root v1, targets v1, bins-0 … bins-3 (4 bins) v1, snapshot v1, timestamp v1 to public (8 files uploaded, 0 unchanged)"},
		{[]string{"repo", "timestamp", "--workspace", "ws", "--online-key", ref, "--to", "public"}, "re-signed snapshot v2 and timestamp v2"},
	}
	for _, s := range steps {
		code, stdout, stderr := runCLI(t, s.args...)
		if code != exitOK || !strings.Contains(stdout, s.want) {
			t.Fatalf("%v: exit %d\n%s%s", s.args[:2], code, stdout, stderr)
		}
	}
	// repo keys says the online key is a KMS key, and never shows the reference
	_, keys, _ := runCLI(t, "repo", "keys", "--workspace", "ws")
	for _, l := range strings.Split(keys, "\n") {
		if strings.HasPrefix(l, "online ") && (!strings.HasSuffix(strings.TrimSpace(l), "KMS") || !strings.Contains(l, "snapshot, timestamp")) {
			t.Errorf("repo keys: %q", l)
		}
	}
	if strings.Contains(keys, ep) || !strings.Contains(keys, "online ") {
		t.Errorf("repo keys:\n%s", keys)
	}
	code, _, stderr := runCLI(t, "repo", "timestamp", "--workspace", "ws", "--online-key", "awskms://"+ep+"/no-such-key", "--to", "public")
	if code != exitFail || !strings.Contains(stderr, "KMS has no key no-such-key") {
		t.Errorf("a missing KMS key: exit %d %q", code, stderr)
	}
}

// A build without cgo signs with files and KMS keys, and says in one
// sentence that token keys need cgo.
func TestStaticBuildRefusesTokens(t *testing.T) {
	bin := tufkeysBinary(t)
	out, err := exec.Command(bin, "key", "public", "--key", "pkcs11:token=tufkeys;object=alice?module-path=/usr/lib/softhsm/libsofthsm2.so").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pkcs11: keys need a tufkeys built with cgo") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("%v\n%s", err, out)
	}
}
