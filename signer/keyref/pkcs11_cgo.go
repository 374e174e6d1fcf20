//go:build cgo

package keyref

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"

	"github.com/tufkeys/tufkeys/signer/keyfile"
)

// openPKCS11 opens a key on a hardware token (or SoftHSM) through its
// PKCS#11 module. The session stays open for the life of the process.
func openPKCS11(ref string) (*keyfile.Signer, error) {
	u, err := parsePKCS11(ref)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(u.module); err != nil {
		return nil, fmt.Errorf("the PKCS#11 module %s does not exist: install the token's module, or correct module-path: %w", u.module, ErrKeyUnavailable)
	}
	pin, err := u.pin()
	if err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: u.module, TokenLabel: u.token, Pin: pin, MaxSessions: 2})
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "CKR_PIN_INCORRECT") || strings.Contains(msg, "CKR_PIN_LEN_RANGE"):
			return nil, fmt.Errorf("token %s refused the PIN; tokens lock after a few failures, so tufkeys tried once and stops: check the PIN before you run it again: %w", u.token, ErrWrongPIN)
		case strings.Contains(msg, "CKR_PIN_LOCKED"):
			return nil, fmt.Errorf("token %s is locked after too many wrong PINs: unlock it with its SO PIN or PUK: %w", u.token, ErrWrongPIN)
		case strings.Contains(msg, "could not find PKCS#11 token"):
			return nil, fmt.Errorf("no token labelled %s is present: plug it in, or correct token= in the reference: %w", u.token, ErrKeyUnavailable)
		}
		return nil, fmt.Errorf("open token %s through %s: %w", u.token, u.module, scrub(err, pin))
	}
	var id, label []byte
	if len(u.id) > 0 {
		id = u.id
	}
	if u.object != "" {
		label = []byte(u.object)
	}
	signer, err := ctx.FindKeyPair(id, label)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return nil, fmt.Errorf("find the key on token %s: %w", u.token, scrub(err, pin))
	}
	if signer == nil {
		return nil, fmt.Errorf("token %s holds no key pair with %s: list its keys (pkcs11-tool --list-objects) and correct object= or id=: %w", u.token, describe(u), ErrKeyUnavailable)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the key %s on token %s is not ECDSA P-256: make a P-256 key on the token: %w", describe(u), u.token, ErrWrongKeyType)
	}
	name := u.object
	if name == "" {
		name = u.token
	}
	return keyfile.NewSigner(signer, name)
}

// scrub keeps a PIN out of an error a module may have echoed it into.
func scrub(err error, pin string) error {
	if pin == "" || !strings.Contains(err.Error(), pin) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pin, "(PIN)"))
}
