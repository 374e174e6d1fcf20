//go:build !tufkeys_client

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/internal/repohttp"
	"github.com/tufkeys/tufkeys/store"
)

type serveOptions struct {
	streams
	Dir   string
	Addr  string
	Cache *store.CachePolicy
	// Listening, when set, is told the address once the server accepts
	// connections (tests listen on port 0).
	Listening func(addr string)
}

func newServeCommand(std streams) *cobra.Command {
	opts := serveOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "serve DIR [--addr 127.0.0.1:8080]",
		Short: "Serve a published repository directory over HTTP",
		Long: `Serve a published repository directory read-only, with Cache-Control
"` + store.CacheImmutable + `" for versioned metadata and hash-prefixed
key lists, "` + store.CacheControl("timestamp.json") + `" for timestamp.json and the status page
(--timestamp-max-age changes it), Content-Type application/json and an ETag
for conditional requests. It prints the URL it serves first, then one log
line per request on standard error. SIGINT or SIGTERM shuts it down cleanly.`,
		Example: `  tufkeys serve ./public --addr 127.0.0.1:8080`,
		Args:    exactArgs(1, "one DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().Var(&cacheLife{&opts.Cache}, "timestamp-max-age", "how long CDNs and proxies may cache timestamp.json, e.g. 1m; 0 never (default 1m)")
	return cmd
}

func runServe(ctx context.Context, opts serveOptions) error {
	info, err := os.Stat(opts.Dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%s is not a directory: give the directory repo publish --to wrote", opts.Dir)
	}
	log := slog.New(slog.NewTextHandler(opts.Err, nil))
	h, err := repohttp.HandlerWithPolicy(opts.Dir, log, *pagePolicy(opts.Cache))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(opts.Out, "serving %s at http://%s/ (SIGINT or SIGTERM stops it)\n", opts.Dir, ln.Addr())
	if opts.Listening != nil {
		opts.Listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
