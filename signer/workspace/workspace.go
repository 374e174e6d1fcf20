// Package workspace is the maintainers' ceremony workspace: a directory,
// meant to live in git, that holds the public keys, the staged metadata,
// one file per signature, the published history and the key-list targets.
//
// Layout:
//
//	tufkeys-workspace.json          expiry periods and re-sign windows
//	keys/NAME.pub                   public keys, named after their holders
//	staged/ROLE.json                metadata waiting for signatures (unsigned)
//	staged/signatures/ROLE/ID.json  one signature per file, so that two
//	                                maintainers who sign separate clones
//	                                merge without conflict
//	published/N.ROLE.json           every published root, targets and
//	                                delegated version, signed
//	published/snapshot.json         the last snapshot and timestamp
//	published/timestamp.json
//	targets/HOST/SHA256.keys.json   key lists, by content hash
//
// Every file is written atomically; a crash loses at most the command that
// was running, never a signature already made.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/internal/safefile"
)

const (
	configFile    = "tufkeys-workspace.json"
	keysDir       = "keys"
	stagedDir     = "staged"
	signaturesDir = "staged/signatures"
	publishedDir  = "published"
	targetsDir    = "targets"

	configFormat    = 1
	maxMetadataSize = 8 << 20
)

// ErrNotWorkspace marks a directory that holds no initialized workspace.
var ErrNotWorkspace = errors.New("not a tufkeys workspace")

// ErrWorkspaceFormat marks a workspace written in a format this build does
// not read (a newer tufkeys wrote it); it is also an ErrNotWorkspace.
var ErrWorkspaceFormat = fmt.Errorf("a workspace format this build does not read: %w", ErrNotWorkspace)

// Periods holds one duration per top-level role.
type Periods struct {
	Root      Period `json:"root"`
	Targets   Period `json:"targets"`
	Snapshot  Period `json:"snapshot"`
	Timestamp Period `json:"timestamp"`
}

// For returns the period of a role; delegated roles follow targets.
func (p Periods) For(role string) time.Duration {
	switch role {
	case metadata.ROOT:
		return time.Duration(p.Root)
	case metadata.SNAPSHOT:
		return time.Duration(p.Snapshot)
	case metadata.TIMESTAMP:
		return time.Duration(p.Timestamp)
	default:
		return time.Duration(p.Targets)
	}
}

// DefaultExpiry is how long each role's metadata stays valid.
var DefaultExpiry = Periods{
	Root:      Period(365 * 24 * time.Hour),
	Targets:   Period(90 * 24 * time.Hour),
	Snapshot:  Period(7 * 24 * time.Hour),
	Timestamp: Period(24 * time.Hour),
}

// DefaultResignWindow is how long before expiry `repo status --check`
// starts to warn, leaving time to gather signatures.
var DefaultResignWindow = Periods{
	Root:      Period(60 * 24 * time.Hour),
	Targets:   Period(21 * 24 * time.Hour),
	Snapshot:  Period(3 * 24 * time.Hour),
	Timestamp: Period(12 * time.Hour),
}

// Config is the workspace's settings file.
type Config struct {
	Format       int     `json:"format"`
	Expiry       Periods `json:"expiry"`
	ResignWindow Periods `json:"resign_window"`
	// Origin is the one destination the workspace publishes to, recorded
	// by its first publish: copies elsewhere are mirrors of it, or they
	// drift apart (each re-signs its own snapshots and timestamps).
	Origin string `json:"origin,omitempty"`
}

// ErrNotOrigin marks a publish to a destination other than the
// workspace's origin.
var ErrNotOrigin = errors.New("not the workspace's origin")

// CheckOrigin refuses a destination other than the recorded origin.
func (w *Workspace) CheckOrigin(dest string) error {
	if w.Config.Origin == "" || w.Config.Origin == dest {
		return nil
	}
	return &OriginError{Origin: w.Config.Origin, Dest: dest}
}

// OriginError is a publish to Dest by a workspace whose origin is Origin.
type OriginError struct{ Origin, Dest string }

func (e *OriginError) Error() string {
	return fmt.Sprintf("this workspace publishes to %s, its origin; a second destination would drift from it (each re-signs its own timestamps)", e.Origin)
}

func (e *OriginError) Unwrap() error { return ErrNotOrigin }

// SetOrigin records dest as the workspace's origin.
func (w *Workspace) SetOrigin(dest string) error {
	if w.Config.Origin == dest {
		return nil
	}
	cfg := w.Config
	cfg.Origin = dest
	if err := writeConfig(w.Dir, cfg); err != nil {
		return err
	}
	w.Config = cfg
	return nil
}

// Period is a duration written in days or hours: "365d", "12h".
type Period time.Duration

// ParsePeriod reads "90d", "36h" or any time.ParseDuration form.
func ParsePeriod(s string) (Period, error) {
	d, err := duration.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("period: %w", err)
	}
	if d < MinPeriod || d > MaxPeriod {
		return 0, fmt.Errorf("period %q must be at least %s and at most %s: metadata that expires sooner cannot reach clients before it does", s, duration.String(MinPeriod), duration.String(MaxPeriod))
	}
	return Period(d), nil
}

// Bounds on an expiry period or a re-sign window given by a maintainer.
const (
	MinPeriod = time.Hour
	MaxPeriod = 3650 * 24 * time.Hour
)

// minWindow is the shortest re-sign window a workspace holds: the default
// window of the shortest expiry (half of an hour) is shorter than any
// period a maintainer may give.
const minWindow = time.Minute

func (p Period) String() string { return duration.String(time.Duration(p)) }

func (p Period) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads a period as the workspace stores it: any expiry the
// bounds allow, and re-sign windows down to a minute, which Init derives
// from the shortest expiries.
func (p *Period) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := duration.Parse(s)
	if err != nil {
		return fmt.Errorf("period: %w", err)
	}
	if d < minWindow || d > MaxPeriod {
		return fmt.Errorf("period %q must be at least %s and at most %s", s, duration.String(minWindow), duration.String(MaxPeriod))
	}
	*p = Period(d)
	return nil
}

// Workspace is an opened ceremony workspace.
type Workspace struct {
	Dir    string
	Config Config
	// Now is the clock for expiry dates and checks; tests move it.
	Now func() time.Time
	// held is the clock reading of the operation under way, so that every
	// role one command writes gets the same expiry: 64 bins staged in one
	// second or across two fold into one line wherever they are shown.
	held time.Time
}

// Find returns the workspace directory that dir is in: dir itself or its
// nearest parent holding a workspace, as git finds its repository.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, configFile)); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("neither %s nor any parent holds %s: %w", abs, configFile, ErrNotWorkspace)
		}
		d = parent
	}
}

// Open opens an initialized workspace.
func Open(dir string) (*Workspace, error) {
	data, err := safefile.Read(filepath.Join(dir, configFile), 1<<16)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no %s: %w", dir, configFile, ErrNotWorkspace)
	}
	if err != nil {
		return nil, fmt.Errorf("read workspace settings: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): restore it from git: %w", filepath.Join(dir, configFile), err, ErrNotWorkspace)
	}
	if cfg.Format != configFormat {
		return nil, fmt.Errorf("%s has format %d; this tufkeys reads format %d: %w", filepath.Join(dir, configFile), cfg.Format, configFormat, ErrWorkspaceFormat)
	}
	return &Workspace{Dir: dir, Config: cfg, Now: time.Now}, nil
}

func (w *Workspace) now() time.Time {
	if !w.held.IsZero() {
		return w.held
	}
	return w.Now().UTC()
}

// hold reads the clock once for an operation that writes several roles;
// the returned function lets it go. Nested holds keep the outer reading.
func (w *Workspace) hold() (release func()) {
	if !w.held.IsZero() {
		return func() {}
	}
	w.held = w.Now().UTC()
	return func() { w.held = time.Time{} }
}

// expiry is when metadata of a role signed now should expire, to the second
// as TUF writes it.
func (w *Workspace) expiry(role string) time.Time {
	return w.now().Add(w.Config.Expiry.For(role)).Truncate(time.Second)
}

func (w *Workspace) path(parts ...string) string {
	return filepath.Join(append([]string{w.Dir}, parts...)...)
}

// write writes a workspace file atomically, creating its directory.
func (w *Workspace) write(rel string, data []byte) error {
	p := w.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return safefile.Write(p, data, 0o644)
}

func (w *Workspace) read(rel string) ([]byte, error) {
	return safefile.Read(w.path(rel), maxMetadataSize)
}

// RoleFile is the file name of a role's metadata: ROLE.json.
func RoleFile(role string) string { return role + ".json" }

// VersionedFile is the consistent-snapshot name of a role's metadata.
func VersionedFile(version int64, role string) string {
	return fmt.Sprintf("%d.%s", version, RoleFile(role))
}

func writeConfig(dir string, cfg Config) error {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Write(filepath.Join(dir, configFile), append(data, '\n'), 0o644)
}
