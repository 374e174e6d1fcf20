// Package witnessd runs a transparency-log witness from
// transparency-dev/witness on loopback: for tufkeys demo, and for the tests
// through the tufkeys-witness command. It keeps what it saw in memory and
// makes no request of its own: no feeders, no distributors.
package witnessd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/witness/persistence/inmemory"
	"github.com/transparency-dev/witness/witness"
	"golang.org/x/mod/sumdb/note"
)

// Options of a witness.
type Options struct {
	// Listen is a loopback address; empty takes a free port.
	Listen string
	// SigningKey is the witness's note signing key (note.GenerateKey).
	SigningKey string
	// LogVerifier finds the verifier key of the log with this origin;
	// false: the witness does not follow that log.
	LogVerifier func(origin string) (note.Verifier, bool, error)
}

// Server is a running witness.
type Server struct {
	URL string
	srv *http.Server
}

// Start starts a witness; Close stops it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s is not a loopback address: this witness listens on loopback only", opts.Listen)
	}
	if opts.LogVerifier == nil {
		return nil, errors.New("a witness needs the logs it follows")
	}
	signer, err := fnote.NewSignerForCosignatureV1(opts.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("the witness's signing key: %w", err)
	}
	w, err := witness.New(ctx, witness.Opts{
		Persistence: inmemory.New(),
		Signers:     []note.Signer{signer},
		VerifierForLog: func(_ context.Context, origin string) (note.Verifier, bool, error) {
			return opts.LogVerifier(origin)
		},
	})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", witness.NewHTTPHandler(w).AddCheckpoint)
	s := &Server{URL: "http://" + l.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go s.srv.Serve(l)
	return s, nil
}

// Close stops the witness.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops the witness once its requests are answered.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
