// Command witness is a transparency-log witness for tufkeys' tests and
// demos, built from transparency-dev/witness: it cosigns checkpoints of the
// logs listed in a file (one note verifier key per line, read again on every
// request so that a test can add the log it just made), keeps what it saw in
// memory, listens on loopback only and makes no request of its own: no
// feeders, no distributors.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/witness/persistence/inmemory"
	"github.com/transparency-dev/witness/witness"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	name := flag.String("name", "witness.example.test", "the witness's name in its note key")
	keyFile := flag.String("key-file", "", "the witness's note signing key; made when missing, with its verifier key next to it as FILE.pub")
	logsFile := flag.String("logs", "", "file of note verifier keys of the logs to witness, one per line")
	addrFile := flag.String("addr-file", "", "where to write the URL it serves, once it listens")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := run(*listen, *name, *keyFile, *logsFile, *addrFile); err != nil {
		fmt.Fprintln(os.Stderr, "witness:", err)
		os.Exit(1)
	}
}

func run(listen, name, keyFile, logsFile, addrFile string) error {
	if keyFile == "" || logsFile == "" {
		return errors.New("give -key-file and -logs")
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; this witness is for tests and listens on loopback only", listen)
	}
	skey, err := loadKey(keyFile, name)
	if err != nil {
		return err
	}
	signer, err := f_note.NewSignerForCosignatureV1(skey)
	if err != nil {
		return fmt.Errorf("the key in %s: %w", keyFile, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	w, err := witness.New(ctx, witness.Opts{
		Persistence: inmemory.New(),
		Signers:     []note.Signer{signer},
		VerifierForLog: func(_ context.Context, origin string) (note.Verifier, bool, error) {
			return logVerifier(logsFile, origin)
		},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", witness.NewHTTPHandler(w).AddCheckpoint)
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte("http://"+l.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadKey reads the witness's signing key, or makes one and writes it with
// its verifier key.
func loadKey(path, name string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	return skey, os.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644)
}

// logVerifier finds the verifier key of the log with this origin in the
// logs file: a note verifier key's name is the log's origin.
func logVerifier(path, origin string) (note.Verifier, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || !strings.HasPrefix(line, origin+"+") {
			continue
		}
		v, err := note.NewVerifier(line)
		if err != nil || v.Name() != origin {
			continue
		}
		return v, true, nil
	}
	return nil, false, sc.Err()
}
