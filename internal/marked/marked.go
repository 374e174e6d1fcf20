// Package marked makes errors that test as a sentinel with errors.Is but
// read as one sentence, without the sentinel's words appended to it.
package marked

import "fmt"

type markedError struct {
	err  error
	kind error
}

// Errorf formats like fmt.Errorf (with %w) and marks the result as kind.
func Errorf(kind error, format string, args ...any) error {
	return &markedError{fmt.Errorf(format, args...), kind}
}

func (e *markedError) Error() string   { return e.err.Error() }
func (e *markedError) Unwrap() []error { return []error{e.err, e.kind} }
