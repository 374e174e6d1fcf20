package apicheck

import (
	"os/exec"
	"strings"
	"testing"
)

// The client side and store link no object store's SDK: only store/s3
// does, so tools that embed the client, and the thin client, stay small.
func TestClientLinksNoObjectStoreSDK(t *testing.T) {
	for _, pkg := range []string{"./client", "./client/mirror", "./client/corepack", "./store"} {
		out, err := exec.Command("go", "list", "-deps", "../../"+strings.TrimPrefix(pkg, "./")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/aws/") || strings.HasPrefix(dep, "github.com/ThalesGroup/") || strings.Contains(dep, "tufkeys/signer") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
