//go:build !cgo

package keyref

import (
	"fmt"

	"github.com/tufkeys/tufkeys/signer/keyfile"
)

// openPKCS11 needs cgo, which this build was made without.
func openPKCS11(ref string) (*keyfile.Signer, error) {
	if _, err := parsePKCS11(ref); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("pkcs11: keys need a tufkeys built with cgo (CGO_ENABLED=1 and a C compiler); this build signs with key files and awskms:// only: %w", ErrUnsupported)
}
