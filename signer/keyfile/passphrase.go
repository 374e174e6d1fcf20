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

// The passphrases of the online keys, each in a variable of its own so
// that a publish opens keys with different passphrases unattended; each
// falls back to TUFKEYS_PASSPHRASE.
const (
	EnvOnlinePassphrase = "TUFKEYS_ONLINE_PASSPHRASE"
	EnvLogPassphrase    = "TUFKEYS_LOG_PASSPHRASE"
)

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
func EnvOrTerminal(what string) Passphrase { return EnvOrTerminalFrom(what) }

// EnvOrTerminalFrom is EnvOrTerminal reading the first of vars that is
// set, then TUFKEYS_PASSPHRASE, before it asks on the terminal.
func EnvOrTerminalFrom(what string, vars ...string) Passphrase {
	vars = append(vars, EnvPassphrase)
	return func(confirm bool) ([]byte, error) {
		if p, ok := FromEnv(vars...); ok {
			return []byte(p), nil
		}
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("no passphrase for %s: set %s or run in a terminal: %w", what, vars[0], ErrNoPassphrase)
		}
		defer tty.Close()
		return prompt(tty, int(tty.Fd()), what, confirm)
	}
}

// FromEnv is the first of the variables that is set.
func FromEnv(vars ...string) (string, bool) {
	for _, v := range vars {
		if p, ok := os.LookupEnv(v); ok {
			return p, true
		}
	}
	return "", false
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
