// Package session is what a tufkeys client shares with the packages that
// copy a repository (client/mirror): a client's verified reading of one
// repository, opened through the client that trusts it, and the limits
// and checks both apply the same way. It keeps the copying code out of
// the client's API while it runs on the client's own fetching, trust and
// cache.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Bounds on what one repository may hold, so that a hostile repository or
// mirror cannot make a reading run forever. The file bounds equal go-tuf's
// own defaults for each kind of file.
const (
	RootMax      = 512000
	TimestampMax = 16 << 10
	SnapshotMax  = 2000000
	TargetsMax   = 5000000
	// MaxRoles counts hashed bins (TAP 15, up to 2^16 of them) and 64
	// other roles.
	MaxRoles = 1<<16 + 64
	// MaxHistory bounds the versions of one role a reading goes back over.
	MaxHistory = 10000
)

// Session is a client's reading of one repository: its top-level metadata
// verified against the client's trusted root, and a way to read the
// other files. Close ends its requests.
type Session struct {
	// Repo is the repository's URL or archive path as the client was given it.
	Repo string
	Top  *TopLevel
	// Get reads one file of the repository, up to max bytes; a file the
	// repository lacks is an error that IsMissing reports.
	Get func(name string, max int64) ([]byte, error)
	// Explain puts an error about a file into the client's words and kinds.
	Explain func(file string, err error) error
	// RefTime is the time expiry is judged at.
	RefTime time.Time
	Log     *slog.Logger
	// NotOlderThanTrusted refuses versions older than what the client
	// already trusts.
	NotOlderThanTrusted func(ctx context.Context, versions map[string]int64) error
	// FillCache verifies the named targets through the client's own update
	// from this repository and keeps them in its cache.
	FillCache func(ctx context.Context, names []string) error
	Close     func()
}

// TopLevel is a repository's root chain, timestamp and snapshot, verified
// as a client verifies them.
type TopLevel struct {
	TM *trustedmetadata.TrustedMetadata
	// Roots holds every authenticated root, oldest first: the earlier
	// roots the client already trusts, the trusted root, and each newer
	// one verified by its predecessor.
	Roots []VersionedRoot
	// Unverified are the earlier roots the client cannot authenticate.
	Unverified []*metadata.Metadata[metadata.RootType]
	// Chain is the parsed trusted root and each newer one, in order.
	Chain               []*metadata.Metadata[metadata.RootType]
	Timestamp, Snapshot []byte
	SnapshotName        string
}

// VersionedRoot is one root version, its bytes and parsed.
type VersionedRoot struct {
	Version int64
	Data    []byte
	MD      *metadata.Metadata[metadata.RootType]
}

var opener func(ctx context.Context, client any, repo string) (*Session, error)

// Register is called once, by the client package, with the function that
// opens a session of one of its clients.
func Register(open func(ctx context.Context, client any, repo string) (*Session, error)) {
	opener = open
}

// ErrNoClient marks a session asked of something that is not a client.
var ErrNoClient = errors.New("not a tufkeys client")

// Open opens a reading of repo through client, a *client.Client.
func Open(ctx context.Context, client any, repo string) (*Session, error) {
	if opener == nil || client == nil {
		return nil, ErrNoClient
	}
	return opener(ctx, client, repo)
}

// TopLevelRoles are the roles of the top-level metadata, in the order the
// client workflow verifies them.
var TopLevelRoles = []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS}

// TargetFile is where a repository with consistent snapshots keeps the
// target at targetPath whose sha256 (in hex) is sum: targets/DIR/SUM.BASE.
func TargetFile(targetPath, sum string) string {
	dir, base := path.Split(targetPath)
	return "targets/" + dir + sum + "." + base
}

// RootName is the file name of root version v.
func RootName(v int64) string { return strconv.FormatInt(v, 10) + ".root.json" }

// LengthOr is length when metadata names one, else max.
func LengthOr(length, max int64) int64 {
	if length > 0 {
		return length
	}
	return max
}

// ObjectName is the sha256 of data in lower-case hex: how the cache names
// what it holds, and how the log names what it logged.
func ObjectName(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// IsMissing reports an answer that means "no such file": 404, and 403 or
// 410, which object stores give for objects that do not exist.
func IsMissing(err error) bool {
	var h *metadata.ErrDownloadHTTP
	if !errors.As(err, &h) {
		return false
	}
	switch h.StatusCode {
	case http.StatusNotFound, http.StatusForbidden, http.StatusGone:
		return true
	}
	return false
}
