package keyref

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"golang.org/x/term"
)

// EnvPKCS11PIN holds a token's PIN for unattended use.
const EnvPKCS11PIN = "TUFKEYS_PKCS11_PIN"

var (
	// ErrWrongPIN marks a PIN the token refused. tufkeys never tries a
	// PIN twice: tokens lock after a few failures.
	ErrWrongPIN = errors.New("PIN refused")
	// ErrNoPIN marks a token key with no PIN anywhere.
	ErrNoPIN = errors.New("no PIN")
)

// pkcs11URI is an RFC 7512 reference to a key on a token:
// pkcs11:token=NAME;object=LABEL;id=%01?module-path=/path/lib.so&pin-source=FILE
type pkcs11URI struct {
	token, object, module, pinValue, pinSource string
	id                                         []byte
}

func parsePKCS11(ref string) (pkcs11URI, error) {
	var u pkcs11URI
	rest := strings.TrimPrefix(ref, "pkcs11:")
	path, query, _ := strings.Cut(rest, "?")
	attr := func(part string) (string, string, error) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			// the part may be a PIN with its = mistyped: not shown
			return "", "", fmt.Errorf("an attribute of the pkcs11: reference is not attribute=value: %w", ErrUnsupported)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return "", "", fmt.Errorf("%s has a bad percent-encoding in the key reference: %w", k, ErrUnsupported)
		}
		return k, val, nil
	}
	for _, part := range strings.Split(path, ";") {
		if part == "" {
			continue
		}
		k, v, err := attr(part)
		if err != nil {
			return u, err
		}
		switch k {
		case "token":
			u.token = v
		case "object":
			u.object = v
		case "id":
			u.id = []byte(v)
		}
	}
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, v, err := attr(part)
		if err != nil {
			return u, err
		}
		switch k {
		case "module-path":
			u.module = v
		case "pin-value":
			u.pinValue = v
		case "pin-source":
			u.pinSource = strings.TrimPrefix(v, "file:")
		}
	}
	switch {
	case u.module == "":
		return u, fmt.Errorf("the pkcs11: reference names no module: add ?module-path=/path/to/the/token/module.so: %w", ErrUnsupported)
	case u.object == "" && len(u.id) == 0:
		return u, fmt.Errorf("the pkcs11: reference names no key: add object=LABEL or id=%%NN: %w", ErrUnsupported)
	}
	return u, nil
}

// pin finds the token's PIN: in the reference, in the file it names, in
// TUFKEYS_PKCS11_PIN, or asked on the terminal without echo. It is never
// printed, logged or put in an error.
func (u pkcs11URI) pin() (string, error) {
	switch {
	case u.pinValue != "":
		return u.pinValue, nil
	case u.pinSource != "":
		data, err := os.ReadFile(u.pinSource)
		if err != nil {
			return "", fmt.Errorf("cannot read the PIN file the reference names (pin-source): %w", ErrNoPIN)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	if p, ok := os.LookupEnv(EnvPKCS11PIN); ok {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no PIN for token %s: set %s, or run in a terminal: %w", u.token, EnvPKCS11PIN, ErrNoPIN)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "PIN for token %s: ", u.token)
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", fmt.Errorf("read the PIN: %w", ErrNoPIN)
	}
	return string(p), nil
}

// describe names the key a reference points at, for messages.
func describe(u pkcs11URI) string {
	if u.object != "" {
		return "object=" + u.object
	}
	return fmt.Sprintf("id=%x", u.id)
}
