package workspace

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/signer/keyfile"
)

// PublicKey is a maintainer's or operator's public key with the name that
// messages use for it (the file name without .pub: alice.pub is alice).
type PublicKey struct {
	Name string
	Key  crypto.PublicKey
}

// KeyName is a key with the name the workspace gives it, as status
// lines show it.
type KeyName struct {
	ID   string
	Name string
}

func (k KeyName) String() string {
	short := k.ID
	if len(short) > 12 {
		short = short[:12]
	}
	if k.Name == "" {
		return short
	}
	return k.Name + " (" + short + ")"
}

var keyNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// addKey records a public key under keys/NAME.pub and returns its keyid.
// A name already taken by a different key is refused.
func (w *Workspace) addKey(k PublicKey) (string, error) {
	if !keyNameRe.MatchString(k.Name) {
		return "", marked.Errorf(ErrInvalid, "key name %q must be letters, digits, dots, dashes or underscores: rename the .pub file", k.Name)
	}
	id, err := keyfile.KeyID(k.Key)
	if err != nil {
		return "", err
	}
	pem, err := keyfile.EncodePublic(k.Key)
	if err != nil {
		return "", err
	}
	rel := path.Join(keysDir, k.Name+".pub")
	if old, err := os.ReadFile(w.path(rel)); err == nil {
		if bytes.Equal(old, pem) {
			return id, nil
		}
		return "", marked.Errorf(ErrInvalid, "the workspace already has a different key named %s: rename the .pub file", k.Name)
	}
	return id, w.write(rel, pem)
}

// keyNames maps the keyids of the workspace's public keys to their names.
// A file name that repo init would refuse as a key name names nothing, and
// a key that two files hold has no name: whoever can add a file to the
// workspace must not relabel who signed, or put escape bytes on a page.
func (w *Workspace) keyNames() map[string]string {
	names := map[string]string{}
	ambiguous := map[string]bool{}
	entries, _ := os.ReadDir(w.path(keysDir))
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pub")
		if !ok || !keyNameRe.MatchString(name) {
			continue
		}
		pub, err := keyfile.ReadPublic(w.path(keysDir, e.Name()))
		if err != nil {
			continue
		}
		id, err := keyfile.KeyID(pub)
		if err != nil {
			continue
		}
		if _, seen := names[id]; seen {
			ambiguous[id] = true
		}
		names[id] = name
	}
	for id := range ambiguous {
		delete(names, id)
	}
	return names
}

func (w *Workspace) refs(ids []string, names map[string]string) []KeyName {
	out := make([]KeyName, len(ids))
	for i, id := range ids {
		out[i] = KeyName{ID: id, Name: names[id]}
	}
	return out
}

func joinRefs(refs []KeyName) string {
	if len(refs) == 0 {
		return "none"
	}
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

func tufKey(k PublicKey) (*metadata.Key, error) {
	tk, err := keyfile.TUFKey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name, err)
	}
	return tk, nil
}
