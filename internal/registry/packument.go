package registry

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
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
				// the low half follows as its own \uXXXX
				if a, err := s.byte(); err != nil || a != '\\' {
					return "", false, errors.New("the packument is not valid JSON: a lone surrogate")
				}
				if u, err := s.byte(); err != nil || u != 'u' {
					return "", false, errors.New("the packument is not valid JSON: a lone surrogate")
				}
				low, err := s.hex4()
				if err != nil {
					return "", false, err
				}
				r = utf16.DecodeRune(r, low)
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

// skip reads one value whose first byte is first, keeping nothing: nesting
// is counted, not stacked, and bounded by maxDepth.
func (s *skimmer) skip(first byte) error {
	depth := 0
	b := first
	for {
		switch b {
		case '{', '[':
			if depth++; depth > maxDepth {
				return fmt.Errorf("the packument nests deeper than %d levels: %w", maxDepth, ErrBadAnswer)
			}
		case '}', ']':
			depth--
		case '"':
			if _, _, err := s.str(); err != nil {
				return err
			}
		case ',', ':', ' ', '\t', '\n', '\r':
		default:
			// a number or a literal: its bytes carry no structure
			if !strings.ContainsRune("-0123456789.eE+truefalsn", rune(b)) {
				return fmt.Errorf("the packument is not valid JSON: unexpected %q", b)
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if b, err = s.byte(); err != nil {
			return err
		}
	}
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

// packumentTime reads time[version] from a packument stream.
func packumentTime(r io.Reader, version string) (time.Time, error) {
	s := newSkimmer(r)
	if err := s.expect('{'); err != nil {
		return time.Time{}, errors.New("the packument is not a JSON object")
	}
	var raw string
	found, sawTime := false, false
	err := s.members(func(key string, ok bool, first byte) (bool, error) {
		if !ok || key != "time" {
			return false, s.skip(first)
		}
		sawTime = true
		if first != '{' {
			return true, errors.New("the packument's time is not an object of times")
		}
		return true, s.members(func(key string, ok bool, first byte) (bool, error) {
			if !ok || key != version || first != '"' {
				return false, s.skip(first)
			}
			value, fits, err := s.str()
			if err != nil {
				return true, err
			}
			if !fits {
				return true, fmt.Errorf("the packument's time for %s is longer than %d bytes, not a time", version, maxKept)
			}
			raw, found = value, true
			return true, nil
		})
	})
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("read the packument: %w", err)
	case !sawTime:
		return time.Time{}, errors.New("the packument has no time field")
	case !found:
		return time.Time{}, fmt.Errorf("the packument lists no time for %s", version)
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("the packument's time for %s is %q, not an RFC 3339 time", version, raw)
	}
	return t, nil
}
