package bundle

import (
	"errors"
	"fmt"
	"strings"
)

// Each verdict that a caller may want to act on has its own value, so that
// callers branch with errors.Is instead of matching messages. A client, for
// example, refreshes its key bundle on ErrUnknownKeyID and on nothing else.
var (
	// ErrMalformed marks input that cannot be used at all: a key list or a
	// version document that does not parse or does not validate.
	ErrMalformed = errors.New("malformed input")
	// ErrUnknownKeyID marks a version signed only by keys the bundle does not
	// hold: the usual sign that the registry rotated its key.
	ErrUnknownKeyID = errors.New("signed by an unknown key")
	// ErrBadSignature marks a signature by a trusted key that does not
	// verify: the version or its signature was tampered with.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrExpiredKey marks a version whose only valid signatures are by keys
	// that had expired when it was published.
	ErrExpiredKey = errors.New("signing key expired")
	// ErrPublishTimeUnknown marks a version whose only valid signatures
	// are by keys with an expiry while its publish time is unknown: whether
	// those keys still vouch for it cannot be checked, so they do not.
	ErrPublishTimeUnknown = errors.New("publish time unknown")
	// ErrUnsigned marks a version that carries no signature at all.
	ErrUnsigned = errors.New("version is not signed")
)

// FieldError names the key-list entry and the field that failed validation.
type FieldError struct {
	Index   int    // position of the entry in the list, from 0; -1 for the list itself
	KeyID   string // the entry's keyid as written, possibly empty
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("key list: %s", e.Problem)
	}
	id := e.KeyID
	if id == "" {
		id = "no keyid"
	}
	return fmt.Sprintf("key %d (%s): %s %s", e.Index, shorten(id, 80), e.Field, e.Problem)
}

func (e *FieldError) Unwrap() error { return ErrMalformed }

// UnknownKeyError lists what a caller needs to fix an unknown-keyid refusal:
// which keyids signed the version and which keyids the bundle holds.
type UnknownKeyError struct {
	Package string   // name@version
	Unknown []string // keyids that signed the version but are not in the bundle
	Known   []string // keyids the bundle holds
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("%s is signed only by %s, which the key bundle does not hold (it holds %s): refresh the key bundle, the registry may have rotated its key",
		e.Package, joinIDs(e.Unknown), joinIDs(e.Known))
}

func (e *UnknownKeyError) Unwrap() error { return ErrUnknownKeyID }

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "no keys"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = shorten(id, 80)
	}
	return strings.Join(parts, ", ")
}

// shorten bounds attacker-controlled text before it reaches a message.
func shorten(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// kindError is a message that belongs to one of the error kinds above
// without repeating the kind's own text at its end.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorOf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
