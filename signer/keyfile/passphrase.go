package keyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// EnvPassphrase names the environment variable that holds the passphrase
// for unattended use (the online key in a scheduled job).
const EnvPassphrase = "TUFKEYS_PASSPHRASE"

// ErrNoPassphrase marks a run with neither the variable nor a terminal.
var ErrNoPassphrase = errors.New("no passphrase")

// StaticPassphrase returns a fixed passphrase, for tests and for callers
// that obtained it elsewhere.
func StaticPassphrase(p string) Passphrase {
	return func(bool) ([]byte, error) { return []byte(p), nil }
}

// EnvOrTerminal takes the passphrase from TUFKEYS_PASSPHRASE when it is set,
// and otherwise asks on the controlling terminal without echo. It never
// prints or logs the passphrase. what names the key in the prompt.
func EnvOrTerminal(what string) Passphrase {
	return func(confirm bool) ([]byte, error) {
		if p, ok := os.LookupEnv(EnvPassphrase); ok {
			return []byte(p), nil
		}
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("no passphrase for %s: set %s or run in a terminal: %w", what, EnvPassphrase, ErrNoPassphrase)
		}
		defer tty.Close()
		return prompt(tty, int(tty.Fd()), what, confirm)
	}
}

func prompt(tty io.Writer, fd int, what string, confirm bool) ([]byte, error) {
	fmt.Fprintf(tty, "Passphrase for %s: ", what)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if !confirm {
		return first, nil
	}
	fmt.Fprintf(tty, "Repeat the passphrase: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if !bytes.Equal(first, second) {
		return nil, errors.New("the two passphrases differ: run the command again")
	}
	return first, nil
}
