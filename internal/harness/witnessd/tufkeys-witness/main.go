// Command tufkeys-witness is the witness scripts/witness-server.sh runs for
// the tests: package witnessd, following the logs whose note verifier keys
// a file lists (one per line, read again on every request, so that a test
// can add the log it just made), on loopback only.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tufkeys/tufkeys/internal/harness/witnessd"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	name := flag.String("name", "witness.example.test", "the witness's name in its note key")
	keyFile := flag.String("key-file", "", "the witness's note signing key; made when missing, with its verifier key next to it as FILE.pub")
	logsFile := flag.String("logs", "", "file of note verifier keys of the logs to witness, one per line")
	addrFile := flag.String("addr-file", "", "where to write the URL it serves, once it listens")
	flag.Parse()
	if err := run(*listen, *name, *keyFile, *logsFile, *addrFile); err != nil {
		fmt.Fprintln(os.Stderr, "tufkeys-witness:", err)
		os.Exit(1)
	}
}

func run(listen, name, keyFile, logsFile, addrFile string) error {
	if keyFile == "" || logsFile == "" {
		return errors.New("give -key-file and -logs")
	}
	skey, err := loadKey(keyFile, name)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := witnessd.Start(ctx, witnessd.Options{Listen: listen, SigningKey: skey, LogVerifier: func(origin string) (note.Verifier, bool, error) {
		return logVerifier(logsFile, origin)
	}})
	if err != nil {
		return err
	}
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(s.URL+"\n"), 0o644); err != nil {
			return err
		}
	}
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Shutdown(shut)
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
// logs file: a note verifier key's name is the log's origin. The last
// line for an origin wins, as a witness operator replaces a log's key
// when its root rotates it.
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
	var found note.Verifier
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, origin+"+") {
			continue
		}
		if v, err := note.NewVerifier(line); err == nil && v.Name() == origin {
			found = v
		}
	}
	return found, found != nil, sc.Err()
}
