package registry

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrBadAnswer marks a registry answer beyond the bounds tufkeys reads:
// too large or too deeply nested to be a registry document.
var ErrBadAnswer = errors.New("registry answer refused")

// Bounds on the packument, which a registry or a proxy in between can make
// arbitrarily large. A packument is skimmed as a stream in constant
// memory: values are skipped byte by byte, never built, and only short
// strings of the "time" object are kept.
const (
	maxPackument = 256 << 20
	// maxDepth is far beyond any real packument (about 6 levels) and far
	// below what would cost memory.
	maxDepth = 64
	// maxKept bounds a kept string: a version or an RFC 3339 time.
	maxKept = 256
)

// skimmer reads JSON one byte at a time from a bounded stream.
type skimmer struct {
	r    *bufio.Reader
	lim  *io.LimitedReader
	keep strings.Builder
	// depth is how deeply the value being read nests
	depth int
}

func newSkimmer(r io.Reader) *skimmer {
	lim := &io.LimitedReader{R: r, N: maxPackument + 1}
	return &skimmer{r: bufio.NewReaderSize(lim, 32<<10), lim: lim}
}

func (s *skimmer) byte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == io.EOF {
		if s.lim.N <= 0 {
			return 0, fmt.Errorf("the packument is larger than %d MiB: %w", maxPackument>>20, ErrBadAnswer)
		}
		return 0, errors.New("the packument ends early")
	}
	return b, err
}

// token returns the next byte that is not white space.
func (s *skimmer) token() (byte, error) {
	for {
		b, err := s.byte()
		if err != nil || (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
			return b, err
		}
	}
}

func (s *skimmer) expect(want byte) error {
	b, err := s.token()
	if err != nil {
		return err
	}
	if b != want {
		return fmt.Errorf("the packument is not valid JSON: %q where %q belongs", b, want)
	}
	return nil
}

// str reads the rest of a string whose opening quote was read. It returns
// the string when it is at most maxKept bytes long and ok is set; longer
// strings are read to their end and dropped.
func (s *skimmer) str() (value string, ok bool, err error) {
	s.keep.Reset()
	fits := true
	put := func(r rune) {
		if fits && s.keep.Len()+utf8.RuneLen(r) <= maxKept {
			s.keep.WriteRune(r)
		} else {
			fits = false
		}
	}
	for {
		s.plain(&fits)
		b, err := s.byte()
		if err != nil {
			return "", false, err
		}
		switch {
		case b == '"':
			return s.keep.String(), fits, nil
		case b < 0x20:
			return "", false, errors.New("the packument is not valid JSON: a control character in a string")
		case b != '\\':
			if fits && s.keep.Len() < maxKept {
				s.keep.WriteByte(b)
			} else {
				fits = false
			}
			continue
		}
		e, err := s.byte()
		if err != nil {
			return "", false, err
		}
		switch e {
		case '"', '\\', '/':
			put(rune(e))
		case 'b':
			put('\b')
		case 'f':
			put('\f')
		case 'n':
			put('\n')
		case 'r':
			put('\r')
		case 't':
			put('\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return "", false, err
			}
			if utf16.IsSurrogate(r) {
				// a pair when a \uXXXX low half follows; otherwise U+FFFD,
				// and what follows is read on its own, as encoding/json does
				high := r
				r = unicode.ReplacementChar
				if next, _ := s.r.Peek(6); len(next) == 6 && next[0] == '\\' && next[1] == 'u' {
					if low, err := strconv.ParseUint(string(next[2:]), 16, 16); err == nil {
						if pair := utf16.DecodeRune(high, rune(low)); pair != unicode.ReplacementChar {
							r = pair
							s.r.Discard(6)
						}
					}
				}
			}
			put(r)
		default:
			return "", false, fmt.Errorf("the packument is not valid JSON: escape \\%c", e)
		}
	}
}

// plain consumes the buffered run of string bytes that need no decoding,
// keeping what fits: most of a packument's bytes, taken without a call
// per byte.
func (s *skimmer) plain(fits *bool) {
	buf, _ := s.r.Peek(s.r.Buffered())
	n := 0
	for n < len(buf) && buf[n] != '"' && buf[n] != '\\' && buf[n] >= 0x20 {
		n++
	}
	if *fits && s.keep.Len()+n <= maxKept {
		s.keep.Write(buf[:n])
	} else if n > 0 {
		*fits = false
	}
	s.r.Discard(n)
}

func (s *skimmer) hex4() (rune, error) {
	var digits [4]byte
	for i := range digits {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		digits[i] = b
	}
	n, err := strconv.ParseUint(string(digits[:]), 16, 16)
	if err != nil {
		return 0, errors.New("the packument is not valid JSON: a bad \\u escape")
	}
	return rune(n), nil
}

// value reads one JSON value whose first byte is first, keeping nothing:
// it validates as encoding/json does, so that a document the skimmer
// reads is one encoding/json reads the same way. Nesting is bounded by
// maxDepth, so the recursion is too.
func (s *skimmer) value(first byte) error {
	switch {
	case first == '{':
		return s.nested(func() error {
			return s.members(func(_ string, _ bool, b byte) (bool, error) { return false, s.value(b) })
		})
	case first == '[':
		return s.nested(s.elements)
	case first == '"':
		_, _, err := s.str()
		return err
	case first == 't':
		return s.literal("rue")
	case first == 'f':
		return s.literal("alse")
	case first == 'n':
		return s.literal("ull")
	case first == '-' || first >= '0' && first <= '9':
		return s.number(first)
	}
	return fmt.Errorf("the packument is not valid JSON: unexpected %q", first)
}

// nested runs read one level deeper, within maxDepth.
func (s *skimmer) nested(read func() error) error {
	if s.depth++; s.depth > maxDepth {
		return fmt.Errorf("the packument nests deeper than %d levels: %w", maxDepth, ErrBadAnswer)
	}
	err := read()
	s.depth--
	return err
}

// elements reads the elements of an array whose '[' was read.
func (s *skimmer) elements() error {
	b, err := s.token()
	if err != nil || b == ']' {
		return err
	}
	for {
		if err := s.value(b); err != nil {
			return err
		}
		switch b, err = s.token(); {
		case err != nil:
			return err
		case b == ']':
			return nil
		case b != ',':
			return fmt.Errorf("the packument is not valid JSON: %q after an element", b)
		}
		if b, err = s.token(); err != nil {
			return err
		}
	}
}

// literal reads the rest of true, false or null.
func (s *skimmer) literal(rest string) error {
	for i := range len(rest) {
		b, err := s.byte()
		if err != nil {
			return err
		}
		if b != rest[i] {
			return fmt.Errorf("the packument is not valid JSON: unexpected %q in a literal", b)
		}
	}
	return nil
}

// number reads the rest of a number (JSON's grammar: -?(0|[1-9][0-9]*)
// (.[0-9]+)?([eE][+-]?[0-9]+)?) and leaves the byte after it unread.
func (s *skimmer) number(first byte) error {
	bad := errors.New("the packument is not valid JSON: a malformed number")
	next := func() (byte, bool) {
		buf, err := s.r.Peek(1)
		if err != nil {
			return 0, false
		}
		return buf[0], true
	}
	digits := func(atLeastOne bool) error {
		n := 0
		for b, ok := next(); ok && b >= '0' && b <= '9'; b, ok = next() {
			s.r.Discard(1)
			n++
		}
		if atLeastOne && n == 0 {
			if _, ok := next(); !ok {
				_, err := s.byte() // says why: the end, or the size bound
				return err
			}
			return bad
		}
		return nil
	}
	if first == '-' {
		b, err := s.byte()
		if err != nil {
			return err
		}
		if b < '0' || b > '9' {
			return bad
		}
		first = b
	}
	if first != '0' {
		if err := digits(false); err != nil {
			return err
		}
	}
	if b, ok := next(); ok && b == '.' {
		s.r.Discard(1)
		if err := digits(true); err != nil {
			return err
		}
	}
	if b, ok := next(); ok && (b == 'e' || b == 'E') {
		s.r.Discard(1)
		if b, ok := next(); ok && (b == '+' || b == '-') {
			s.r.Discard(1)
		}
		if err := digits(true); err != nil {
			return err
		}
	}
	return nil
}

// members walks the members of an object whose '{' was read, calling each
// with the member's key (ok unset when too long to keep) and the first byte
// of its value; each must consume the whole value.
func (s *skimmer) members(each func(key string, ok bool, first byte) (stop bool, err error)) error {
	b, err := s.token()
	if err != nil || b == '}' {
		return err
	}
	for {
		if b != '"' {
			return fmt.Errorf("the packument is not valid JSON: %q where a key belongs", b)
		}
		key, ok, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		first, err := s.token()
		if err != nil {
			return err
		}
		if stop, err := each(key, ok, first); stop || err != nil {
			return err
		}
		switch b, err = s.token(); {
		case err != nil:
			return err
		case b == '}':
			return nil
		case b != ',':
			return fmt.Errorf("the packument is not valid JSON: %q after a member", b)
		}
		if b, err = s.token(); err != nil {
			return err
		}
	}
}

// end checks that nothing but white space follows the document.
func (s *skimmer) end() error {
	for {
		b, err := s.r.ReadByte()
		switch {
		case err == io.EOF && s.lim.N <= 0:
			return fmt.Errorf("the packument is larger than %d MiB: %w", maxPackument>>20, ErrBadAnswer)
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		case b != ' ' && b != '\t' && b != '\n' && b != '\r':
			return errors.New("the packument is not valid JSON: data after its end")
		}
	}
}

// packumentTime reads time[version] from a packument stream. It reads the
// whole document, as encoding/json would: a document that is not valid
// JSON gives no time, and when a member repeats, the last one counts.
func packumentTime(r io.Reader, version string) (time.Time, error) {
	s := newSkimmer(r)
	if err := s.expect('{'); err != nil {
		if errors.Is(err, ErrBadAnswer) {
			return time.Time{}, err
		}
		return time.Time{}, errors.New("the packument is not a JSON object")
	}
	s.depth = 1
	// what the last "time" member, and its last member for the version, said
	var (
		raw                      string
		sawTime, isTimes         bool
		found, isString, tooLong bool
	)
	err := s.members(func(key string, ok bool, first byte) (bool, error) {
		if !ok || key != "time" {
			return false, s.value(first)
		}
		sawTime, isTimes, found, isString = true, first == '{', false, false
		if first != '{' {
			return false, s.value(first)
		}
		return false, s.nested(func() error {
			return s.members(func(key string, ok bool, first byte) (bool, error) {
				if !ok || key != version {
					return false, s.value(first)
				}
				found, isString, tooLong, raw = true, first == '"', false, ""
				if first != '"' {
					return false, s.value(first)
				}
				value, fits, err := s.str()
				if err != nil {
					return true, err
				}
				raw, tooLong = validUTF8(value), !fits
				return false, nil
			})
		})
	})
	if err == nil {
		err = s.end()
	}
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("read the packument: %w", err)
	case !sawTime:
		return time.Time{}, errors.New("the packument has no time field")
	case !isTimes:
		return time.Time{}, errors.New("the packument's time is not an object of times")
	case !found:
		return time.Time{}, fmt.Errorf("the packument lists no time for %s", version)
	case !isString:
		return time.Time{}, fmt.Errorf("the packument's time for %s is not a string", version)
	case tooLong:
		return time.Time{}, fmt.Errorf("the packument's time for %s is longer than %d bytes, not a time: %w", version, maxKept, ErrBadAnswer)
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("the packument's time for %s is %q, not an RFC 3339 time", version, raw)
	}
	return t, nil
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as
// encoding/json does when it decodes a string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}
