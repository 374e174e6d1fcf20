package session_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/internal/session"
)

// A session is opened only through a client: anything else is refused
// with ErrNoClient, not a panic.
func TestOpenRefusesWhatIsNotAClient(t *testing.T) {
	var nilClient *client.Client
	for _, c := range []any{nil, "https://repo.example.test", struct{}{}, nilClient} {
		if _, err := session.Open(context.Background(), c, "https://repo.example.test"); !errors.Is(err, session.ErrNoClient) {
			t.Errorf("Open(%T): %v, want ErrNoClient", c, err)
		}
	}
}

func TestIsMissing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&metadata.ErrDownloadHTTP{StatusCode: 404}, true},
		{&metadata.ErrDownloadHTTP{StatusCode: 403}, true},
		{&metadata.ErrDownloadHTTP{StatusCode: 410}, true},
		{fmt.Errorf("wrapped: %w", &metadata.ErrDownloadHTTP{StatusCode: 404}), true},
		{&metadata.ErrDownloadHTTP{StatusCode: 500}, false},
		{&metadata.ErrDownloadHTTP{StatusCode: 503}, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := session.IsMissing(tc.err); got != tc.want {
			t.Errorf("IsMissing(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
