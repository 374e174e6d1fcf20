package main

import (
	"strings"
	"testing"
)

// No failing key reference prints its PIN or other query values: every
// failure path of tufkeys key public (which opens references as repo sign
// and repo publish do), with a PIN no message could contain by chance.
func TestKeyReferencesNeverEchoSecrets(t *testing.T) {
	const pin = "P1N-7f3a9c"
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	for _, ref := range []string{
		"PKCS11:token=t;object=o?module-path=/nonexistent/module.so&pin-value=" + pin,
		"Pkcs11:token=t;object=o?module-path=/nonexistent/module.so&pin-value=" + pin,
		"pkcs11:token=t;object=o?module-path=/nonexistent/module.so&pin-value:" + pin,
		"pkcs11:token=t;object=o?pin-value=" + pin,
		"pkcs11:token=t?module-path=/nonexistent/module.so&pin-value=" + pin,
		"pkcs11:token=t;object=o?module-path=/nonexistent/module.so&pin-value=" + pin + "%zz",
		"pkcs11:token=t;object=o;" + pin + "?module-path=/nonexistent/module.so",
		"pkcs1l:token=t;object=o?module-path=/nonexistent/module.so&pin-value=" + pin,
		"token=t;object=o?module-path=/nonexistent/module.so&pin-value=" + pin,
		"AWSKMS://me:" + pin + "@127.0.0.1:1/alias/online?token=" + pin,
		"awskms://?token=" + pin,
		"file:///keys/online.key?pin=" + pin,
	} {
		code, out, errOut := runCLI(t, "key", "public", "--key", ref)
		if code == exitOK {
			t.Errorf("%q: opened", ref)
		}
		if strings.Contains(out+errOut, pin) || strings.Contains(out+errOut, "7f3a9c") {
			t.Errorf("a message shows the PIN:\n%s%s", out, errOut)
		}
	}
}
