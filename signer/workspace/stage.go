package workspace

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/nearest"
)

// ErrKeyDropped marks a staged key list that omits a published key without
// the maintainer saying so.
var ErrKeyDropped = errors.New("key list drops a published key")

// DroppedKeyError is a key list that drops published keys with no
// removal recorded for them. Registries have omitted live keys by mistake,
// so a drop is staged only when recorded, and a staged file edited by hand
// that drops one is refused at signing.
type DroppedKeyError struct {
	Host    string
	Role    string
	Version int64
	KeyIDs  []string
	// Signing is set when the drop was found at signing time.
	Signing bool
}

func (e *DroppedKeyError) Error() string {
	if e.Signing {
		return fmt.Sprintf("refusing to sign %s v%d: its key list for %s drops %s, which the published list has, and no removal of it was recorded", e.Role, e.Version, e.Host, strings.Join(e.KeyIDs, ", "))
	}
	return fmt.Sprintf("the new list for %s drops %s, which the published list has; registries have omitted live keys by mistake, so check with the registry before you record the removal", e.Host, strings.Join(e.KeyIDs, ", "))
}

func (e *DroppedKeyError) Unwrap() error { return ErrKeyDropped }

// ErrBadRemoval marks a recorded removal of a key the new list keeps, or
// that the published list lacks.
var ErrBadRemoval = errors.New("a removal names a key the list does not drop")

// ErrOnlineRole marks a role the online key signs at every publish.
var ErrOnlineRole = errors.New("signed by the online key")

// StageResult tells what staging a key list did.
type StageResult struct {
	Host    string
	Role    string // the role that holds the list: targets, or the host when delegated
	Version int64
	Diff    bundle.Diff // against the published list
	// Unchanged is set when the list is already staged or published as is.
	Unchanged bool
}

// Stage validates a registry's key list and stages it as HOST/keys.json in
// a new version of the role that holds it. A key that the published list has
// and the new one lacks is refused unless removeKeys names it: registries
// have served lists that omitted a live key by mistake.
func (w *Workspace) Stage(registry string, list []byte, removeKeys []string) (StageResult, error) {
	res, err := w.StageMany([]StageItem{{Registry: registry, List: list, RemoveKeys: removeKeys, New: true}})
	if len(res) == 0 {
		return StageResult{}, err
	}
	return res[0], err
}

// StageItem is one registry's key list to stage.
type StageItem struct {
	Registry   string
	List       []byte
	RemoveKeys []string
	// New allows a registry the repository does not list yet; without it
	// such a host is refused as a likely typo (NewRegistryError).
	New bool
}

// ErrNewRegistry marks a registry the repository does not list yet,
// staged without asking for a new one.
var ErrNewRegistry = errors.New("the registry is not in the repository yet")

// NewRegistryError names a registry the repository does not list yet and
// the listed ones nearest to it.
type NewRegistryError struct {
	Host    string
	Nearest []string
}

func (e *NewRegistryError) Error() string {
	msg := e.Host + " is not in the repository yet"
	if p := nearest.Phrase(e.Nearest); p != "" {
		msg += " (" + p + ")"
	}
	return msg
}

func (e *NewRegistryError) Is(target error) bool { return target == ErrNewRegistry }

// StageMany stages several registries' key lists in one change: the
// workspace is read once and each role written once, so staging N lists
// costs what N lists cost, not N times the workspace. Every list is checked
// before anything is written: one refused list stages none.
func (w *Workspace) StageMany(items []StageItem) ([]StageResult, error) {
	defer w.hold()()
	st, err := w.Load()
	if err != nil {
		return nil, err
	}
	if st.RootInEffect() == nil {
		return nil, fmt.Errorf("the workspace has no root: %w", ErrUninitialized)
	}
	plan := &stagePlan{st: st, edits: map[string]*targetsMD{}, seen: map[string]bool{}}
	var results []StageResult
	for _, item := range items {
		res, known, err := w.planStage(plan, item)
		if known {
			results = append(results, res)
		}
		if err != nil {
			return results, err
		}
	}
	return results, w.applyStage(plan)
}

// stagePlan is what a StageMany will write: the edited roles, and the
// key-list files they name.
type stagePlan struct {
	st    *State
	edits map[string]*targetsMD
	lists []pendingList
	seen  map[string]bool
}

type pendingList struct {
	name string
	tf   *metadata.TargetFiles
	list []byte
}

// planStage checks one registry's list and plans its change; known is
// false when the registry itself could not be read.
func (w *Workspace) planStage(p *stagePlan, item StageItem) (res StageResult, known bool, err error) {
	host, err := bundle.RegistryHost(item.Registry)
	if err != nil {
		return res, false, err
	}
	if p.seen[host] {
		return res, false, fmt.Errorf("%s is given twice: stage one key list per registry", host)
	}
	p.seen[host] = true
	res = StageResult{Host: host}
	list, parsed, err := npmForm(host, item.List)
	if err != nil {
		return res, true, err
	}
	published, err := w.publishedList(p.st, host)
	if err != nil {
		return res, true, err
	}
	res.Diff = bundle.Compare(published, parsed)
	if err := checkRemovals(res.Diff, item.RemoveKeys, host); err != nil {
		return res, true, err
	}
	res.Role = p.st.holderOf(host)
	md := p.edits[res.Role]
	if md == nil {
		if md, err = p.st.editable(res.Role, w); err != nil {
			return res, true, err
		}
	}
	name := bundle.TargetName(host)
	tf, err := targetFile(name, list, res.Diff)
	if err != nil {
		return res, true, err
	}
	res.Version = md.Signed.Version
	old, ok := md.Signed.Targets[name]
	if !ok && !item.New && res.Role != host {
		return res, true, &NewRegistryError{Host: host, Nearest: nearest.Names(host, p.st.knownHosts())}
	}
	same := ok && old.Equal(*tf) && slices.Equal(recordedRemovals(old), recordedRemovals(tf))
	if (same && (p.st.isStaged(res.Role) || p.edits[res.Role] != nil)) || (res.Diff.Empty() && p.st.isPublishedAsIs(res.Role, name, tf) && p.edits[res.Role] == nil) {
		res.Unchanged = true
		return res, true, nil
	}
	md.Signed.Targets[name] = tf
	md.Signed.Expires = w.expiry(res.Role)
	p.edits[res.Role] = md
	p.lists = append(p.lists, pendingList{name, tf, list})
	return res, true, nil
}

// npmForm validates a key list and returns it in the form registries
// serve, which the target always holds.
func npmForm(host string, list []byte) ([]byte, *bundle.KeyList, error) {
	parsed, err := bundle.Parse(list)
	if err != nil {
		return nil, nil, fmt.Errorf("the key list for %s is not valid: %w", host, err)
	}
	if parsed.Form != bundle.FormNPM {
		if list, err = bundle.Encode(&parsed.List, bundle.FormNPM); err != nil {
			return nil, nil, err
		}
	}
	return list, &parsed.List, nil
}

// targetFile is the target entry of a key list; the keys it drops go into
// the signed metadata, so that signers see the drop was asked for and sign
// it with the list.
func targetFile(name string, list []byte, diff bundle.Diff) (*metadata.TargetFiles, error) {
	tf, err := metadata.TargetFile().FromBytes(name, list, "sha256")
	if err != nil {
		return nil, fmt.Errorf("hash key list: %w", err)
	}
	if len(diff.Removed) > 0 {
		if tf.Custom, err = removalRecord(diff.Removed); err != nil {
			return nil, err
		}
	}
	return tf, nil
}

// applyStage writes the planned key lists, then the roles that name them.
func (w *Workspace) applyStage(p *stagePlan) error {
	for _, l := range p.lists {
		if err := w.write(targetPath(l.name, l.tf), l.list); err != nil {
			return err
		}
	}
	for _, role := range slices.Sorted(maps.Keys(p.edits)) {
		if err := w.writeStaged(role, p.edits[role]); err != nil {
			return err
		}
	}
	return nil
}

func checkRemovals(d bundle.Diff, removeKeys []string, host string) error {
	allowed := map[string]bool{}
	for _, id := range removeKeys {
		allowed[id] = true
	}
	var dropped []string
	for _, k := range d.Removed {
		if !allowed[k.KeyID] {
			dropped = append(dropped, k.KeyID)
		}
		delete(allowed, k.KeyID)
	}
	if len(dropped) > 0 {
		return &DroppedKeyError{Host: host, KeyIDs: dropped}
	}
	for id := range allowed {
		return fmt.Errorf("the removal of %s names a key that the new list does not drop: the published list lacks it or the new list still has it: %w", id, ErrBadRemoval)
	}
	return nil
}

// removalField names tufkeys' entry in a target's custom metadata.
const removalField = "tufkeys"

type removal struct {
	// RemovedKeys are the key IDs of the published list that this list
	// drops on purpose: repo stage --remove-key named them.
	RemovedKeys []string `json:"removed_keys"`
}

func removalRecord(removed []bundle.Key) (*json.RawMessage, error) {
	var r removal
	for _, k := range removed {
		r.RemovedKeys = append(r.RemovedKeys, k.KeyID)
	}
	data, err := json.Marshal(map[string]removal{removalField: r})
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(data)
	return &raw, nil
}

// recordedRemovals are the key IDs a target's metadata says were dropped
// on purpose.
func recordedRemovals(tf *metadata.TargetFiles) []string {
	if tf.Custom == nil {
		return nil
	}
	var custom map[string]removal
	if json.Unmarshal(*tf.Custom, &custom) != nil {
		return nil
	}
	return custom[removalField].RemovedKeys
}

// targetPath is where a key list lives in the workspace and, under
// targets/, in the published repository: DIR/SHA256.NAME.
func targetPath(name string, tf *metadata.TargetFiles) string {
	dir, base := path.Split(name)
	return path.Join(targetsDir, dir, hex.EncodeToString(tf.Hashes["sha256"])+"."+base)
}

// TargetPath is the published path of a target, relative to the repository.
func TargetPath(name string, tf *metadata.TargetFiles) string { return targetPath(name, tf) }

// ReadTarget reads a target's bytes from the workspace and checks them
// against the metadata that lists them.
func (w *Workspace) ReadTarget(name string, tf *metadata.TargetFiles) ([]byte, error) {
	rel := targetPath(name, tf)
	data, err := safeRead(w, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing from the workspace: restore it from git", rel)
	}
	if err != nil {
		return nil, err
	}
	if err := tf.VerifyLengthHashes(data); err != nil {
		return nil, fmt.Errorf("%s does not match the hash its metadata lists: the file was changed after it was staged; restore it from git or stage the list again", rel)
	}
	return data, nil
}

// PublishedList returns the published key list of a registry host, nil if
// none is published.
func (w *Workspace) PublishedList(registry string) (*bundle.KeyList, error) {
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return nil, err
	}
	st, err := w.Load()
	if err != nil {
		return nil, err
	}
	return w.publishedList(st, host)
}

func (w *Workspace) publishedList(st *State, host string) (*bundle.KeyList, error) {
	name := bundle.TargetName(host)
	var tf *metadata.TargetFiles
	if md := st.Published.Delegated[host]; md != nil {
		tf = md.Signed.Targets[name]
	}
	if b := st.bins(); tf == nil && b != nil {
		if md := st.Published.Delegated[binOf(b, name)]; md != nil {
			tf = md.Signed.Targets[name]
		}
	}
	if tf == nil && st.Published.Targets != nil {
		tf = st.Published.Targets.Signed.Targets[name]
	}
	if tf == nil {
		return nil, nil
	}
	data, err := w.ReadTarget(name, tf)
	if err != nil {
		return nil, err
	}
	p, err := bundle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the published list for %s is not valid: %w", host, err)
	}
	return &p.List, nil
}

// roleInEffect is a delegated role as it stands: staged, else published.
func (s *State) roleInEffect(role string) *targetsMD {
	if md, ok := s.Staged.Delegated[role]; ok {
		return md
	}
	return s.Published.Delegated[role]
}

// holderOf is the role whose metadata lists a host's key list: the host's
// own delegated role when targets delegates it, else targets.
func (s *State) holderOf(host string) string {
	if b := s.bins(); b != nil {
		bin := binOf(b, bundle.TargetName(host))
		if md := s.roleInEffect(bin); md != nil && md.Signed.Delegations != nil {
			for _, d := range md.Signed.Delegations.Roles {
				if d.Name == host {
					return host
				}
			}
		}
		return bin
	}
	if t := s.TargetsInEffect(); t != nil && t.Signed.Delegations != nil {
		for _, d := range t.Signed.Delegations.Roles {
			if d.Name == host {
				return host
			}
		}
	}
	return metadata.TARGETS
}

func (s *State) isStaged(role string) bool {
	md, _, _ := s.stagedRole(role)
	return md != nil
}

func (s *State) isPublishedAsIs(role, name string, tf *metadata.TargetFiles) bool {
	if s.isStaged(role) {
		return false
	}
	var md *targetsMD
	if role == metadata.TARGETS {
		md = s.Published.Targets
	} else {
		md = s.Published.Delegated[role]
	}
	if md == nil {
		return false
	}
	old, ok := md.Signed.Targets[name]
	return ok && old.Equal(*tf)
}

// editable returns the staged metadata of a targets-type role, or a copy of
// the published one with the next version number, or a new version 1.
func (s *State) editable(role string, w *Workspace) (*targetsMD, error) {
	if role == metadata.TARGETS {
		if s.Staged.Targets != nil {
			return s.Staged.Targets, nil
		}
		if s.Published.Targets == nil {
			return nil, fmt.Errorf("the workspace has no targets metadata: %w", ErrUninitialized)
		}
		return nextVersion(s.Published.Targets)
	}
	if md, ok := s.Staged.Delegated[role]; ok {
		return md, nil
	}
	if md, ok := s.Published.Delegated[role]; ok {
		return nextVersion(md)
	}
	md := metadata.Targets(w.expiry(role))
	return md, nil
}

func nextVersion(md *targetsMD) (*targetsMD, error) {
	c, err := clone(md)
	if err != nil {
		return nil, err
	}
	c.Signed.Version++
	c.Signatures = []metadata.Signature{}
	return c, nil
}

// clone copies metadata through its serialization, so that the copy
// shares nothing with the original.
func clone[T metadata.Roles](md *metadata.Metadata[T]) (*metadata.Metadata[T], error) {
	data, err := md.ToBytes(false)
	if err != nil {
		return nil, err
	}
	return (&metadata.Metadata[T]{}).FromBytes(data)
}

// signedCopy is a copy of staged metadata with signatures attached, and the
// bytes it is published as.
func signedCopy[T metadata.Roles](md *metadata.Metadata[T], sigs []metadata.Signature) (*metadata.Metadata[T], []byte, error) {
	c, err := clone(md)
	if err != nil {
		return nil, nil, err
	}
	c.Signatures = sigs
	data, err := c.ToBytes(true)
	return c, data, err
}

func sameSigned(a, b any) bool {
	ca, err1 := canonical(a)
	cb, err2 := canonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// DelegateResult tells what delegating a registry did.
type DelegateResult struct {
	Host string
	// Delegator is the role that delegates to the registry: targets, or
	// the registry's bin; TargetsVersion is its staged version.
	Delegator      string
	TargetsVersion int64
	RoleVersion    int64
	MovedList      bool // the host's list moved from targets into its own role
}

// Delegate makes HOST/* a delegated role signed by the registry operator's
// own keys with the given threshold, so the operator publishes rotations
// without the maintainers. An existing delegation for the host is replaced.
func (w *Workspace) Delegate(registry string, keys []PublicKey, threshold int) (DelegateResult, error) {
	defer w.hold()()
	host, err := bundle.RegistryHost(registry)
	if err != nil {
		return DelegateResult{}, err
	}
	res := DelegateResult{Host: host}
	if err := checkThreshold("delegation", threshold, len(keys)); err != nil {
		return res, err
	}
	st, err := w.Load()
	if err != nil {
		return res, err
	}
	if slices.Contains(metadata.TOP_LEVEL_ROLE_NAMES[:], host) {
		return res, fmt.Errorf("%s cannot name a delegated role", host)
	}
	// in hashed bins, the registry's bin delegates to it
	delegator := metadata.TARGETS
	if b := st.bins(); b != nil {
		delegator = binOf(b, bundle.TargetName(host))
	}
	targets, err := st.editable(delegator, w)
	if err != nil {
		return res, err
	}
	role, err := st.editable(host, w)
	if err != nil {
		return res, err
	}
	if targets.Signed.Delegations == nil {
		targets.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}}
	}
	d := targets.Signed.Delegations
	d.Roles = slices.DeleteFunc(d.Roles, func(r metadata.DelegatedRole) bool { return r.Name == host })
	delegated := metadata.DelegatedRole{Name: host, Threshold: threshold, Terminating: true, Paths: []string{escapePattern(host) + "/*"}}
	for _, k := range keys {
		id, err := w.addKey(k)
		if err != nil {
			return res, err
		}
		tk, err := tufKey(k)
		if err != nil {
			return res, err
		}
		if slices.Contains(delegated.KeyIDs, id) {
			return res, fmt.Errorf("key %s is listed twice: list each key once", k.Name)
		}
		delegated.KeyIDs = append(delegated.KeyIDs, id)
		d.Keys[id] = tk
	}
	d.Roles = append(d.Roles, delegated)
	pruneDelegationKeys(d)
	name := bundle.TargetName(host)
	if tf, ok := targets.Signed.Targets[name]; ok {
		delete(targets.Signed.Targets, name)
		role.Signed.Targets[name] = tf
		res.MovedList = true
	}
	targets.Signed.Expires = w.expiry(delegator)
	role.Signed.Expires = w.expiry(host)
	res.Delegator, res.TargetsVersion, res.RoleVersion = delegator, targets.Signed.Version, role.Signed.Version
	if err := w.writeStaged(delegator, targets); err != nil {
		return res, err
	}
	return res, w.writeStaged(host, role)
}

// escapePattern protects the characters of IPv6 hosts that TUF's path
// patterns would read as wildcards.
func escapePattern(host string) string {
	r := strings.NewReplacer(`[`, `\[`, `]`, `\]`, `*`, `\*`, `?`, `\?`)
	return r.Replace(host)
}

func pruneDelegationKeys(d *metadata.Delegations) {
	used := map[string]bool{}
	for _, r := range d.Roles {
		for _, id := range r.KeyIDs {
			used[id] = true
		}
	}
	for id := range d.Keys {
		if !used[id] {
			delete(d.Keys, id)
		}
	}
}

// RenewResult tells what renewing a role staged.
type RenewResult struct {
	Role    string
	Version int64
}

// Renew stages a role again with a fresh expiry and nothing else changed,
// for maintainers to sign before the published version expires.
func (w *Workspace) Renew(role string) (RenewResult, error) {
	defer w.hold()()
	st, err := w.Load()
	if err != nil {
		return RenewResult{}, err
	}
	res := RenewResult{Role: role}
	switch role {
	case metadata.ROOT:
		md, err := st.editableRoot()
		if err != nil {
			return res, err
		}
		md.Signed.Expires = w.expiry(role)
		res.Version = md.Signed.Version
		return res, w.writeStaged(role, md)
	case metadata.SNAPSHOT, metadata.TIMESTAMP:
		return res, fmt.Errorf("%s is signed by the online key at every publish: %w", role, ErrOnlineRole)
	}
	b := st.bins()
	isBin := b != nil && b.IsDelegatedRole(role)
	if role != metadata.TARGETS && !isBin {
		host, err := bundle.RegistryHost(role)
		if err != nil || st.holderOf(host) != host {
			return res, fmt.Errorf("%q is neither root, targets, a bin nor a delegated registry", role)
		}
		role = host
		res.Role = host
	}
	renew := []string{role}
	if role == metadata.TARGETS && b != nil {
		// the bins are signed by the targets keys and live as long: they
		// are renewed with targets, in the same signing
		renew = append(renew, b.GetRoles()...)
	}
	for i, r := range renew {
		md, err := st.editable(r, w)
		if err != nil {
			return res, err
		}
		md.Signed.Expires = w.expiry(r)
		if i == 0 {
			res.Version = md.Signed.Version
		}
		if err := w.writeStaged(r, md); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *State) editableRoot() (*rootMD, error) {
	if s.Staged.Root != nil {
		return s.Staged.Root, nil
	}
	pub := s.Published.Root()
	if pub == nil {
		return nil, fmt.Errorf("the workspace has no root: %w", ErrUninitialized)
	}
	c, err := clone(pub)
	if err != nil {
		return nil, err
	}
	c.Signed.Version++
	c.Signatures = []metadata.Signature{}
	return c, nil
}

// knownHosts lists every registry the repository holds a key list for,
// published or staged.
func (s *State) knownHosts() []string {
	var out []string
	add := func(md *targetsMD) {
		if md == nil {
			return
		}
		for name := range md.Signed.Targets {
			if h, ok := bundle.HostOfTarget(name); ok {
				out = append(out, h)
			}
		}
	}
	add(s.TargetsInEffect())
	roles := map[string]bool{}
	for r := range s.Published.Delegated {
		roles[r] = true
	}
	for r := range s.Staged.Delegated {
		roles[r] = true
	}
	for r := range roles {
		add(s.DelegatedInEffect(r))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
