package repometadata

import (
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Every source the tree embeds is a root that verifies against its own
// threshold, with at least one https URL; Sigstore's public-good root is
// among them, 3 of 5.
func TestEmbeddedSourcesVerify(t *testing.T) {
	srcs := Sources()
	var sigstore bool
	for _, src := range srcs {
		root, err := metadata.Root().FromBytes(src.Root)
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
			t.Errorf("%s: root v%d does not verify against its own threshold: %v", src.Name, root.Signed.Version, err)
		}
		for _, u := range src.Repositories {
			if !strings.HasPrefix(u, "https://") {
				t.Errorf("%s: %s is not an https URL", src.Name, u)
			}
		}
		if src.Name == "sigstore" {
			sigstore = true
			if r := root.Signed.Roles[metadata.ROOT]; r.Threshold != 3 || len(r.KeyIDs) != 5 {
				t.Errorf("sigstore: root threshold %d of %d, want 3 of 5", r.Threshold, len(r.KeyIDs))
			}
		}
	}
	if !sigstore {
		t.Errorf("the tree embeds no sigstore source: %v", srcs)
	}
	// a root that is not signed by its threshold fails the same check
	root, _ := metadata.Root().FromBytes(srcs[len(srcs)-1].Root)
	root.Signatures = root.Signatures[:2]
	if err := root.VerifyDelegate(metadata.ROOT, root); err == nil {
		t.Error("a root with two of its three needed signatures verified")
	}
}
