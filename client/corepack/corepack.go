// Package corepack hands verified key lists to Corepack, failing closed:
// Corepack reads an empty COREPACK_INTEGRITY_KEYS (or "0") as "skip the
// integrity check", so a value is only ever built from verified lists that
// hold at least one key, and a child is only ever started with one.
package corepack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
)

// Variables Corepack reads.
const (
	// EnvKeys holds the keys Corepack verifies package managers with.
	EnvKeys = "COREPACK_INTEGRITY_KEYS"
	// EnvRegistry is the registry Corepack fetches package managers from.
	EnvRegistry = "COREPACK_NPM_REGISTRY"
)

// ErrNoKeys marks verified lists that hold no key: handing them over would
// turn Corepack's check off.
var ErrNoKeys = errors.New("no verified key to hand over")

// VerifiedList returns the verified key lists of the registry hosts,
// merged (a key listed twice appears once, the earlier expiry holds), with
// the merge's notes. It refuses a merged list without keys.
func VerifiedList(ctx context.Context, cl *client.Client, hosts []string) (*bundle.KeyList, []string, error) {
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("no registry named: %w", ErrNoKeys)
	}
	merged, notes, err := cl.MergedKeys(ctx, hosts)
	if err != nil {
		return nil, nil, err
	}
	if len(merged.Keys) == 0 {
		return nil, nil, fmt.Errorf("the verified key list of %s holds no key, and an empty list turns Corepack's check off: %w", strings.Join(hosts, ", "), ErrNoKeys)
	}
	return merged, notes, nil
}

// Value is the COREPACK_INTEGRITY_KEYS value of a list with keys.
func Value(list *bundle.KeyList) (string, error) {
	if list == nil || len(list.Keys) == 0 {
		return "", ErrNoKeys
	}
	out, err := bundle.Encode(list, bundle.FormCorepack)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(out))
	if v == "" || v == "0" {
		return "", ErrNoKeys
	}
	return v, nil
}

// SkipsCheck reports a COREPACK_INTEGRITY_KEYS value with which Corepack
// verifies nothing.
func SkipsCheck(value string) bool { return value == "" || value == "0" }

// Environ returns environ with COREPACK_INTEGRITY_KEYS set to value, every
// inherited setting of it removed. inherited is the value it had, and set
// whether it had one.
func Environ(environ []string, value string) (out []string, inherited string, set bool) {
	out = make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, EnvKeys+"="); ok {
			inherited, set = v, true
			continue
		}
		out = append(out, kv)
	}
	return append(out, EnvKeys+"="+value), inherited, set
}
