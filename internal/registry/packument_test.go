package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/internal/harness/memtest"
)

func TestPackumentTime(t *testing.T) {
	deep := func(n int) string {
		return `{"versions":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `,"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`
	}
	tests := []struct {
		name, doc, want, err string
		bad                  bool
	}{
		{name: "plain", doc: `{"name":"x","time":{"created":"2020-01-01T00:00:00Z","1.0.0":"2025-01-22T10:00:00.000Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "after large values", doc: `{"versions":{"1.0.0":{"a":[1,-2.5e3,true,false,null,"s\"\\\u00e9"]}},"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "escaped key", doc: `{"t\u0069me":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "surrogate pair before", doc: `{"x":"\ud83d\ude00","time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "as deep as allowed", doc: deep(maxDepth - 1), want: "2025-01-22T10:00:00Z"},
		{name: "too deep", doc: deep(maxDepth + 1), err: "nests deeper than 64 levels", bad: true},
		{name: "no time", doc: `{"name":"x"}`, err: "has no time field"},
		{name: "no such version", doc: `{"time":{"2.0.0":"2025-01-22T10:00:00Z"}}`, err: "lists no time for 1.0.0"},
		{name: "time not an object", doc: `{"time":[]}`, err: "not an object of times"},
		{name: "time too long", doc: `{"time":{"1.0.0":"` + strings.Repeat("9", maxKept+1) + `"}}`, err: "longer than 256 bytes", bad: true},
		{name: "null before", doc: `{"deprecated":null,"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "literals and numbers before", doc: `{"a":true,"b":false,"c":12345,"d":-0.5e+10,"e":[0,1E2,null],"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "literals inside time", doc: `{"time":{"x":null,"y":7,"1.0.0":"2025-01-22T10:00:00Z","z":true}}`, want: "2025-01-22T10:00:00Z"},
		{name: "last time wins", doc: `{"time":{"1.0.0":"2020-01-01T00:00:00Z"},"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "last version wins", doc: `{"time":{"1.0.0":"2020-01-01T00:00:00Z","1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "lone surrogate before", doc: `{"x":"\ud800\u0041","time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, want: "2025-01-22T10:00:00Z"},
		{name: "version time not a string", doc: `{"time":{"1.0.0":null}}`, err: "is not a string"},
		{name: "later time not an object", doc: `{"time":{"1.0.0":"2025-01-22T10:00:00Z"},"time":7}`, err: "not an object of times"},
		{name: "leading zero", doc: `{"n":01,"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, err: "not valid JSON"},
		{name: "bare minus", doc: `{"n":-,"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, err: "malformed number"},
		{name: "misspelt literal", doc: `{"n":nul,"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, err: "not valid JSON"},
		{name: "missing comma in array", doc: `{"n":[1 2],"time":{"1.0.0":"2025-01-22T10:00:00Z"}}`, err: "after an element"},
		{name: "data after the end", doc: `{"time":{"1.0.0":"2025-01-22T10:00:00Z"}} x`, err: "data after its end"},
		{name: "not a time", doc: `{"time":{"1.0.0":"yesterday"}}`, err: `is "yesterday", not an RFC 3339 time`},
		{name: "not an object", doc: `[1]`, err: "not a JSON object"},
		{name: "truncated", doc: `{"versions":{"a":"b`, err: "ends early"},
		{name: "garbage", doc: `{"versions":<html>}`, err: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := packumentTime(strings.NewReader(tt.doc), "1.0.0")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || errors.Is(err, ErrBadAnswer) != tt.bad {
					t.Fatalf("err = %v, want %q (refused: %v)", err, tt.err, tt.bad)
				}
				return
			}
			if err != nil || got.UTC().Format(time.RFC3339) != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// hostile serves a version document and, as the packument, size bytes
// made of head, then body repeated, then tail: generated as it is sent,
// so the server holds only one chunk.
func hostile(t *testing.T, head, body, tail string, size int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/1.0.0") {
			fmt.Fprint(w, `{"name":"pkg","version":"1.0.0","dist":{"integrity":"sha512-AAAA","signatures":[]}}`)
			return
		}
		io.WriteString(w, head)
		chunk := strings.Repeat(body, (64<<10)/len(body))
		for sent := len(head); sent < size; sent += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, tail)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A registry, or a proxy in between, that answers with 64 MiB of nesting
// or a 64 MiB time object costs a bounded amount of memory and is
// refused or read in full, never decoded whole.
func TestHostilePackumentsStayBounded(t *testing.T) {
	// four times the bound: an answer read whole would cost at least
	// that much heap
	const size = 64 << 20
	const bound = 16 << 20 // the stated bound: 16 MiB of heap
	tests := []struct {
		name             string
		head, body, tail string
		err              string
	}{
		{name: "nesting", head: "{\"versions\":", body: "[", err: "nests deeper than 64 levels"},
		{name: "time map", head: `{"time":{`, body: `"0.0.0-0000000":"2020-01-01T00:00:00.000Z",`, tail: `"1.0.0":"2025-01-22T10:00:00.000Z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(hostile(t, tt.head, tt.body, tt.tail, size), nil, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			var v, note, verr = any(nil), "", error(nil)
			peak := memtest.PeakHeap(func() {
				var got any
				got, note, verr = c.Version(context.Background(), "pkg", "1.0.0")
				v = got
			})
			t.Logf("peak heap %.1f MiB for a %d MiB answer", float64(peak)/(1<<20), size>>20)
			if peak > bound {
				t.Errorf("the answer cost %d MiB of heap, more than the bound of %d MiB", peak>>20, bound>>20)
			}
			if tt.err != "" {
				if !errors.Is(verr, ErrBadAnswer) || !strings.Contains(verr.Error(), tt.err) {
					t.Errorf("err = %v (note %q), want a refusal saying %q", verr, note, tt.err)
				}
				return
			}
			if verr != nil || note != "" {
				t.Errorf("got %v, note %q, err %v", v, note, verr)
			}
		})
	}
}
