// Package witnesstest connects tests to the witnesses that scripts/test.sh
// starts once per run (internal/harness/witnessd on loopback, scripts/witness-server.sh),
// and makes log keys for tests.
package witnesstest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	fnote "github.com/transparency-dev/formats/note"

	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/translog"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Set is the running witnesses.
type Set struct {
	Witnesses []translog.Witness
	logs      string
}

// Get returns the witnesses, or skips the test (fails it under
// TUFKEYS_TEST_REQUIRE_TOOLS) when scripts/witness-server.sh did not run.
func Get(t testing.TB) Set {
	t.Helper()
	list, logs := os.Getenv("TUFKEYS_TEST_WITNESSES"), os.Getenv("TUFKEYS_TEST_WITNESS_LOGS")
	if list == "" || logs == "" {
		if os.Getenv("TUFKEYS_TEST_REQUIRE_TOOLS") != "" {
			t.Fatal("TUFKEYS_TEST_WITNESSES is unset: scripts/test.sh starts the witnesses (scripts/witness-server.sh)")
		}
		t.Skip("TUFKEYS_TEST_WITNESSES is unset: run scripts/test.sh, which starts three witnesses for these tests")
	}
	s := Set{logs: logs}
	for _, item := range strings.Split(list, ";") {
		url, key, ok := strings.Cut(strings.TrimSpace(item), " ")
		if !ok {
			t.Fatalf("TUFKEYS_TEST_WITNESSES item %q is not \"URL KEY\"", item)
		}
		s.Witnesses = append(s.Witnesses, translog.Witness{URL: url, Key: key})
	}
	return s
}

var mu sync.Mutex

// Follow has the witnesses witness the log with this verifier key.
func (s Set) Follow(t testing.TB, vkey string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	f, err := os.OpenFile(s.logs, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(vkey + "\n"); err != nil {
		t.Fatal(err)
	}
}

// FollowKeyFile has the witnesses witness the log of origin whose key's
// public half is in pubFile (as tufkeys key generate writes it).
func (s Set) FollowKeyFile(t testing.TB, origin, pubFile string) {
	t.Helper()
	pub, err := keyfile.ReadPublic(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := logappend.VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	s.Follow(t, vkey)
}

// Log is a test log: its key and a policy naming the witnesses.
type Log struct {
	Key    *keyfile.Signer
	Priv   ed25519.PrivateKey
	Policy translog.Policy
}

var unsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// NewLog makes a log key with a fresh origin, followed by the witnesses,
// and a policy with them all and the given quorum.
func (s Set) NewLog(t testing.TB, quorum int) Log {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	origin := "log.example.test/" + strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-") + "-" + hex.EncodeToString(b)
	vkey, err := logappend.VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyfile.NewSigner(priv, "log")
	if err != nil {
		t.Fatal(err)
	}
	s.Follow(t, vkey)
	return Log{Key: k, Priv: priv, Policy: translog.Policy{Origin: origin, Key: vkey, Witnesses: s.Witnesses, Quorum: quorum}}
}

// InProcess are witnesses (tlog-cosignature signers) in this process that
// cosign whatever they are sent, with the client that asks them: for a
// second history signed by a log key, as colluding witnesses would sign
// it, which the real witnesses refuse.
func InProcess(t testing.TB, n int) ([]translog.Witness, logappend.WitnessClient) {
	t.Helper()
	c := cosigner{}
	var ws []translog.Witness
	for i := range n {
		skey, vkey, err := note.GenerateKey(nil, fmt.Sprintf("inprocess%d.example.test", i))
		if err != nil {
			t.Fatal(err)
		}
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://inprocess%d.example.test", i)
		c[url] = s
		ws = append(ws, translog.Witness{Key: vkey, URL: url})
	}
	return ws, c
}

type cosigner map[string]note.Signer

func (c cosigner) AddCheckpoint(_ context.Context, url string, _ int64, _ []tlog.Hash, checkpoint []byte) ([]byte, error) {
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	signed, err := note.Sign(&note.Note{Text: text + "\n"}, c[url])
	if err != nil {
		return nil, err
	}
	_, sig, _ := strings.Cut(string(signed), "\n\n")
	return []byte(sig), nil
}
