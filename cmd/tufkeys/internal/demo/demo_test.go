package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDemoTellsTheWholeStory(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"verifies tiny-tarball@1.0.0",
		"refuses pnpm@10.1.0, signed by the new key SHA256:DhQ8",
		"two of three sign",
		"with no new release and no manual step, refreshes on the unknown keyid and verifies pnpm@10.1.0",
		"a new client refuses the swapped keys.json",
		"refuses a pnpm@10.1.0 signed with the attacker's key",
		"ceremony (watcher, stage, 2 signatures, publish): ",
		"delegated to the operator (it signs, publish): ",
		"exec hands Corepack the key at the first call",
		"the rotated list is logged, cosigned, then published",
		"the client refuses it (not in the witnessed log)",
		"they must log it where all see it",
		"log monitor reads the log and flags SHA256:",
		"every step behaved as stated",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "FAIL") || strings.Count(text, " ok ") != 17 {
		t.Errorf("not seventeen ok steps:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if len(line) > 200 {
			t.Errorf("a line of %d characters: %s", len(line), line)
		}
	}
}
