package translog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Entry types.
const (
	TypeKeyList = "tufkeys-key-list/v1"
	TypeRoot    = "tufkeys-root/v1"
)

// MaxEntry bounds one entry's encoding: an entry names keyids, not keys,
// so that a registry with many keys still fits a tile entry's 16-bit length.
const MaxEntry = 16 << 10

// Entry is one log entry, small and self-describing: a monitor reading the
// log alone learns which keys each registry was given, by which metadata
// version, and when.
type Entry struct {
	Type string `json:"type"`
	// Registry is the host of a key list; empty for a root.
	Registry string `json:"registry,omitempty"`
	// Role and Version are the metadata that first published the file:
	// the bin or targets role for a key list, root for a root.
	Role    string `json:"role"`
	Version int64  `json:"version"`
	// SHA256 and Length name the published file's bytes.
	SHA256 string `json:"sha256"`
	Length int64  `json:"length"`
	// KeyIDs lists the key list's keyids; empty for a root.
	KeyIDs []string `json:"keyids,omitempty"`
	// Logged is when the publisher appended the entry (RFC 3339, UTC).
	Logged string `json:"logged"`
}

// Errors of entries.
var (
	ErrBadEntry = errors.New("not a tufkeys log entry")
)

// KeyListEntry is the entry of a registry's key list file.
func KeyListEntry(registry, role string, version int64, file []byte, keyIDs []string, now time.Time) Entry {
	return Entry{Type: TypeKeyList, Registry: registry, Role: role, Version: version, SHA256: sum(file), Length: int64(len(file)), KeyIDs: slices.Clone(keyIDs), Logged: now.UTC().Format(time.RFC3339)}
}

// RootEntry is the entry of a root version's file.
func RootEntry(version int64, file []byte, now time.Time) Entry {
	return Entry{Type: TypeRoot, Role: "root", Version: version, SHA256: sum(file), Length: int64(len(file)), Logged: now.UTC().Format(time.RFC3339)}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Marshal is the entry's bytes in the log: compact JSON, fields in a fixed
// order.
func (e Entry) Marshal() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEntry {
		return nil, fmt.Errorf("the log entry of %s is %d bytes, above %d: %w", e.subject(), len(data), MaxEntry, ErrBadEntry)
	}
	return data, nil
}

// ParseEntry reads an entry as Marshal wrote it, refusing anything else.
func ParseEntry(data []byte) (Entry, error) {
	var e Entry
	if len(data) > MaxEntry {
		return e, fmt.Errorf("%d bytes: %w", len(data), ErrBadEntry)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("%v: %w", err, ErrBadEntry)
	}
	if again, err := e.Marshal(); err != nil || !bytes.Equal(again, data) {
		return e, fmt.Errorf("not in its canonical form: %w", ErrBadEntry)
	}
	switch {
	case e.Type == TypeKeyList && e.Registry != "":
	case e.Type == TypeRoot && e.Registry == "" && e.Role == "root":
	default:
		return e, fmt.Errorf("type %q: %w", e.Type, ErrBadEntry)
	}
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
		return e, fmt.Errorf("sha256 %q: %w", e.SHA256, ErrBadEntry)
	}
	return e, nil
}

// Key names what an entry vouches for: the file with this SHA-256 (hex),
// as Role published it at Version; Registry is empty for a root. A client
// matches all four, so that a list logged once cannot be replayed as a
// later version of its role, nor a root as another root version.
type Key struct {
	Registry string
	Role     string
	Version  int64
	SHA256   string
}

// Key is the entry's key.
func (e Entry) Key() Key {
	return Key{Registry: e.Registry, Role: e.Role, Version: e.Version, SHA256: e.SHA256}
}

// RootKey is the key of root version's file with this SHA-256.
func RootKey(version int64, sha256Hex string) Key {
	return Key{Role: "root", Version: version, SHA256: sha256Hex}
}

// Matches reports whether e is the entry of k.
func (k Key) Matches(e Entry) bool {
	return e.Registry == k.Registry && e.Role == k.Role && e.Version == k.Version && e.SHA256 == k.SHA256
}

// IndexName is the file under log/ that tells where the entry of k is:
// one file per registry (or "_root"), role, version and hash, written
// once.
func IndexName(k Key) string {
	registry := k.Registry
	if registry == "" {
		registry = "_root"
	}
	return Dir + "index/" + registry + "/" + url.PathEscape(k.Role) + "/" + strconv.FormatInt(k.Version, 10) + "/" + k.SHA256
}

// RootCheckpointName is the checkpoint under which root version was
// logged, signed and witnessed under the policy of the root before it:
// how a client still at that root proves the new one after the log's
// key, origin or witnesses changed with it.
func RootCheckpointName(version int64) string {
	return Dir + "roots/" + strconv.FormatInt(version, 10)
}

// LatestName is the file that tells where a registry's newest entry is,
// rewritten by every append that logs one: a client fetches it before it
// knows which list it will get, so that the proof's tiles come with the
// list, and falls back to the list's IndexName when it names another.
func LatestName(registry string) string { return Dir + "latest/" + registry }

// IndexName of the entry.
func (e Entry) IndexName() string { return IndexName(e.Key()) }

func (e Entry) subject() string {
	if e.Registry == "" {
		return fmt.Sprintf("root v%d", e.Version)
	}
	return fmt.Sprintf("the key list of %s", e.Registry)
}
