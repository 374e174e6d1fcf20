package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/internal/marked"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/translog"
)

// InitOptions describes a new repository's trust: who signs the root and
// the targets, with which thresholds, and which online key signs snapshot
// and timestamp. Only public keys are needed.
type InitOptions struct {
	RootKeys      []PublicKey
	RootThreshold int
	// TargetsKeys and TargetsThreshold default to the root's.
	TargetsKeys      []PublicKey
	TargetsThreshold int
	OnlineKey        PublicKey
	// Zero periods take the defaults.
	Expiry       Periods
	ResignWindow Periods
	Now          func() time.Time
	// Bins, when set, delegates the key lists to this many hashed bins
	// (TAP 15), a power of two; zero keeps them all in targets.
	Bins int
	// Log, when set, names the transparency log and its witnesses in the
	// root's signed custom field (package translog).
	Log *translog.Policy
}

// Errors of Init.
var (
	// ErrAlreadyWorkspace marks a directory that already is a workspace.
	ErrAlreadyWorkspace = errors.New("already a workspace")
	// ErrNoOnlineKey marks an Init without the online key's public key.
	// ErrInvalid marks a request that cannot be carried out as given: a
	// threshold above the number of keys, a key named twice, an unknown
	// key name. The command line reports it as a usage error.
	ErrInvalid     = errors.New("the request is not valid")
	ErrNoOnlineKey = errors.New("no online key: give the public key that will sign snapshot and timestamp")
)

// Init creates a workspace in dir and stages root v1 and targets v1.
func Init(dir string, opts InitOptions) (*Workspace, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, fmt.Errorf("%s is already a tufkeys workspace: %w", dir, ErrAlreadyWorkspace)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cfg, err := opts.plan()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	w := &Workspace{Dir: dir, Config: cfg, Now: opts.Now}
	if w.Now == nil {
		w.Now = time.Now
	}
	defer w.hold()()
	if err := w.applyInit(opts); err != nil {
		return nil, err
	}
	// the settings file goes last: a workspace without it is not one yet,
	// so an interrupted init can simply be run again
	if err := writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	return w, nil
}

// withDefaults gives targets the root's keys and threshold when none are
// given.
func (opts InitOptions) withDefaults() InitOptions {
	if len(opts.TargetsKeys) == 0 {
		opts.TargetsKeys = opts.RootKeys
		if opts.TargetsThreshold == 0 {
			opts.TargetsThreshold = opts.RootThreshold
		}
	}
	return opts
}

// validate checks the keys and thresholds: thresholds that can be met, an
// online key that signs neither root nor targets, a valid bin count.
func (opts InitOptions) validate() error {
	if err := checkThreshold("root", opts.RootThreshold, len(opts.RootKeys)); err != nil {
		return err
	}
	if err := checkThreshold("targets", opts.TargetsThreshold, len(opts.TargetsKeys)); err != nil {
		return err
	}
	if opts.OnlineKey.Key == nil {
		return ErrNoOnlineKey
	}
	onlineID, err := keyfile.KeyID(opts.OnlineKey.Key)
	if err != nil {
		return err
	}
	for _, k := range append(append([]PublicKey{}, opts.RootKeys...), opts.TargetsKeys...) {
		if id, _ := keyfile.KeyID(k.Key); id == onlineID {
			return marked.Errorf(ErrInvalid, "the online key %s is also a root or targets key: use a separate key, because the online key sits on a server", opts.OnlineKey.Name)
		}
	}
	if opts.Bins != 0 {
		return checkBins(opts.Bins)
	}
	return nil
}

// plan is the workspace's settings: the expiry periods, and the re-sign
// windows, each shorter than its expiry.
func (opts InitOptions) plan() (Config, error) {
	cfg := Config{Format: configFormat, Expiry: withDefaults(opts.Expiry, DefaultExpiry), ResignWindow: withDefaults(opts.ResignWindow, DefaultResignWindow)}
	for _, role := range []struct {
		name           string
		expiry, window *Period
	}{
		{metadata.ROOT, &cfg.Expiry.Root, &cfg.ResignWindow.Root},
		{metadata.TARGETS, &cfg.Expiry.Targets, &cfg.ResignWindow.Targets},
		{metadata.SNAPSHOT, &cfg.Expiry.Snapshot, &cfg.ResignWindow.Snapshot},
		{metadata.TIMESTAMP, &cfg.Expiry.Timestamp, &cfg.ResignWindow.Timestamp},
	} {
		switch {
		case *role.window < *role.expiry:
		case opts.ResignWindow.For(role.name) != 0:
			return cfg, marked.Errorf(ErrInvalid, "the %s re-sign window of %s is not shorter than its expiry of %s: the role would always be due; shorten the window or lengthen the expiry", role.name, role.window, role.expiry)
		default:
			// a short expiry chosen with the default window: warn half
			// way through its life instead of all the time
			*role.window = *role.expiry / 2
		}
	}
	return cfg, nil
}

// applyInit stages root v1, targets v1 and, with hashed bins, every bin.
func (w *Workspace) applyInit(opts InitOptions) error {
	root := metadata.Root(w.expiry(metadata.ROOT))
	for _, grant := range []struct {
		keys []PublicKey
		role string
	}{
		{opts.RootKeys, metadata.ROOT},
		{opts.TargetsKeys, metadata.TARGETS},
		{[]PublicKey{opts.OnlineKey}, metadata.SNAPSHOT},
		{[]PublicKey{opts.OnlineKey}, metadata.TIMESTAMP},
	} {
		if err := w.grantKeys(root, grant.keys, grant.role); err != nil {
			return err
		}
	}
	if opts.Log != nil {
		if err := setLog(root, opts.Log); err != nil {
			return err
		}
	}
	root.Signed.Roles[metadata.ROOT].Threshold = opts.RootThreshold
	root.Signed.Roles[metadata.TARGETS].Threshold = opts.TargetsThreshold
	targets := metadata.Targets(w.expiry(metadata.TARGETS))
	var binNames []string
	if opts.Bins != 0 {
		targets.Signed.Delegations = succinct(root, opts.Bins)
		binNames = targets.Signed.Delegations.SuccinctRoles.GetRoles()
	}
	if err := w.writeStaged(metadata.ROOT, root); err != nil {
		return err
	}
	if err := w.writeStaged(metadata.TARGETS, targets); err != nil {
		return err
	}
	for _, name := range binNames {
		if err := w.writeStaged(name, metadata.Targets(w.expiry(metadata.TARGETS))); err != nil {
			return err
		}
	}
	return nil
}

// grantKeys adds keys to a role of the root, each once.
func (w *Workspace) grantKeys(root *rootMD, keys []PublicKey, role string) error {
	for _, k := range keys {
		if _, err := w.addKey(k); err != nil {
			return err
		}
		tk, err := keyfile.TUFKey(k.Key)
		if err != nil {
			return fmt.Errorf("%s: %w", k.Name, err)
		}
		before := len(root.Signed.Roles[role].KeyIDs)
		if err := root.Signed.AddKey(tk, role); err != nil {
			return err
		}
		if len(root.Signed.Roles[role].KeyIDs) == before {
			return marked.Errorf(ErrInvalid, "key %s is listed twice for %s: list each key once", k.Name, role)
		}
	}
	return nil
}

func checkThreshold(role string, threshold, keys int) error {
	if keys == 0 {
		return marked.Errorf(ErrInvalid, "no %s keys: pass at least one --%s-key", role, role)
	}
	if threshold < 1 || threshold > keys {
		return marked.Errorf(ErrInvalid, "the %s threshold %d must be between 1 and the number of %s keys (%d)", role, threshold, role, keys)
	}
	return nil
}

func withDefaults(p, def Periods) Periods {
	if p.Root == 0 {
		p.Root = def.Root
	}
	if p.Targets == 0 {
		p.Targets = def.Targets
	}
	if p.Snapshot == 0 {
		p.Snapshot = def.Snapshot
	}
	if p.Timestamp == 0 {
		p.Timestamp = def.Timestamp
	}
	return p
}
