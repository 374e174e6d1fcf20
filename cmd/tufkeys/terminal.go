//go:build !tufkeys_client

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminal is the controlling terminal, where a maintainer answers
// questions; what is asked there never mixes with the command's output.
type terminal struct {
	f *os.File
	r *bufio.Reader
}

// openTerminal opens the controlling terminal; it fails off a terminal (a
// CI job, a pipe with no terminal behind it), where nothing is asked.
func openTerminal() (*terminal, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &terminal{f: f, r: bufio.NewReaderSize(f, 256)}, nil
}

func (t *terminal) Close() error { return t.f.Close() }

// isTerminal reports standard input read from a terminal: a person is
// there to answer.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// maxAnswer bounds what is read as one answer.
const maxAnswer = 64

// Confirm asks a yes-or-no question; only y or yes is a yes.
func (t *terminal) Confirm(question string) (bool, error) {
	fmt.Fprint(t.f, question)
	line, err := t.r.ReadSlice('\n')
	if err != nil && len(line) == 0 {
		fmt.Fprintln(t.f)
		return false, fmt.Errorf("no answer on the terminal: %w", ErrNotConfirmed)
	}
	if len(line) > maxAnswer {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// Say tells the person at the terminal something, on a line of its own.
func (t *terminal) Say(msg string) { fmt.Fprintf(t.f, "tufkeys: %s\n", msg) }
