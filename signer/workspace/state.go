package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

type (
	rootMD      = metadata.Metadata[metadata.RootType]
	targetsMD   = metadata.Metadata[metadata.TargetsType]
	snapshotMD  = metadata.Metadata[metadata.SnapshotType]
	timestampMD = metadata.Metadata[metadata.TimestampType]
)

// Published is the signed history the workspace records after each publish.
type Published struct {
	Roots     []*rootMD // Roots[i] is version i+1
	RootBytes [][]byte
	Targets   *targetsMD
	// Delegated holds the newest published version of each delegated role.
	Delegated      map[string]*targetsMD
	DelegatedBytes map[string][]byte
	TargetsBytes   []byte
	Snapshot       *snapshotMD
	Timestamp      *timestampMD
	SnapshotBytes  []byte
	TimestampBytes []byte
}

// Root is the newest published root, nil before the first publish.
func (p *Published) Root() *rootMD {
	if len(p.Roots) == 0 {
		return nil
	}
	return p.Roots[len(p.Roots)-1]
}

// Staged is what waits for signatures. Staged metadata carries no
// signatures of its own: they live in one file each.
type Staged struct {
	Root      *rootMD
	Targets   *targetsMD
	Delegated map[string]*targetsMD
	// Signatures maps role and keyid to the signature bytes found on disk,
	// before anyone checked them.
	Signatures map[string]map[string][]byte
}

// Empty reports whether nothing is staged.
func (s *Staged) Empty() bool {
	return s.Root == nil && s.Targets == nil && len(s.Delegated) == 0
}

// Roles lists the staged roles in signing order: root, targets, delegated.
func (s *Staged) Roles() []string {
	var roles []string
	if s.Root != nil {
		roles = append(roles, metadata.ROOT)
	}
	if s.Targets != nil {
		roles = append(roles, metadata.TARGETS)
	}
	return append(roles, slices.Sorted(maps.Keys(s.Delegated))...)
}

// State is the whole workspace as read from disk.
type State struct {
	Published Published
	Staged    Staged
}

// RootInEffect is the root that clients will trust after the next publish.
func (s *State) RootInEffect() *rootMD {
	if s.Staged.Root != nil {
		return s.Staged.Root
	}
	return s.Published.Root()
}

// TargetsInEffect is the top-level targets after the next publish.
func (s *State) TargetsInEffect() *targetsMD {
	if s.Staged.Targets != nil {
		return s.Staged.Targets
	}
	return s.Published.Targets
}

// DelegatedInEffect is a delegated role's metadata after the next publish.
func (s *State) DelegatedInEffect(role string) *targetsMD {
	if md, ok := s.Staged.Delegated[role]; ok {
		return md
	}
	return s.Published.Delegated[role]
}

var (
	versionedRe = regexp.MustCompile(`^([1-9][0-9]{0,9})\.(.+)\.json$`)
	keyIDRe     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Load reads the workspace's published and staged metadata.
func (w *Workspace) Load() (*State, error) {
	st := &State{}
	if err := w.loadPublished(&st.Published); err != nil {
		return nil, err
	}
	if err := w.loadStaged(st); err != nil {
		return nil, err
	}
	return st, nil
}

func (w *Workspace) loadPublished(p *Published) error {
	roots, newest, err := w.publishedVersions()
	if err != nil {
		return err
	}
	if err := w.loadPublishedRoots(p, roots); err != nil {
		return err
	}
	if err := w.loadPublishedTargets(p, newest); err != nil {
		return err
	}
	return w.loadPublishedTop(p)
}

// publishedVersions lists the published history: every root version's
// file, and each targets role's newest version.
func (w *Workspace) publishedVersions() (roots map[int64]string, newest map[string]int64, err error) {
	entries, err := os.ReadDir(w.path(publishedDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("read published history: %w", err)
	}
	roots, newest = map[int64]string{}, map[string]int64{}
	for _, e := range entries {
		m := versionedRe.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		if role := m[2]; role == metadata.ROOT {
			roots[v] = e.Name()
		} else if v > newest[role] {
			newest[role] = v
		}
	}
	return roots, newest, nil
}

// loadPublishedRoots reads every root version, which must run from 1 on
// without a gap.
func (w *Workspace) loadPublishedRoots(p *Published, roots map[int64]string) error {
	for v := int64(1); v <= int64(len(roots)); v++ {
		name, ok := roots[v]
		if !ok {
			return fmt.Errorf("the published root history lacks %s: restore it from git", VersionedFile(v, metadata.ROOT))
		}
		data, err := w.read(path.Join(publishedDir, name))
		if err != nil {
			return err
		}
		md, err := metadata.Root().FromBytes(data)
		if err != nil || md.Signed.Version != v {
			return fmt.Errorf("published/%s is not root version %d: restore it from git", name, v)
		}
		p.Roots = append(p.Roots, md)
		p.RootBytes = append(p.RootBytes, data)
	}
	return nil
}

// loadPublishedTargets reads the newest version of targets and of each
// delegated role.
func (w *Workspace) loadPublishedTargets(p *Published, newest map[string]int64) error {
	p.Delegated = map[string]*targetsMD{}
	p.DelegatedBytes = map[string][]byte{}
	for role, v := range newest {
		data, err := w.read(path.Join(publishedDir, VersionedFile(v, role)))
		if err != nil {
			return err
		}
		md, err := metadata.Targets().FromBytes(data)
		if err != nil || md.Signed.Version != v {
			return fmt.Errorf("published/%s is not %s version %d: restore it from git", VersionedFile(v, role), role, v)
		}
		if role == metadata.TARGETS {
			p.Targets, p.TargetsBytes = md, data
		} else {
			p.Delegated[role], p.DelegatedBytes[role] = md, data
		}
	}
	return nil
}

// loadPublishedTop reads the published snapshot and timestamp, when there.
func (w *Workspace) loadPublishedTop(p *Published) error {
	if data, err := w.read(path.Join(publishedDir, RoleFile(metadata.SNAPSHOT))); err == nil {
		p.SnapshotBytes = data
		if p.Snapshot, err = metadata.Snapshot().FromBytes(data); err != nil {
			return fmt.Errorf("published/snapshot.json is damaged (%v): restore it from git", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if data, err := w.read(path.Join(publishedDir, RoleFile(metadata.TIMESTAMP))); err == nil {
		p.TimestampBytes = data
		if p.Timestamp, err = metadata.Timestamp().FromBytes(data); err != nil {
			return fmt.Errorf("published/timestamp.json is damaged (%v): restore it from git", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (w *Workspace) loadStaged(st *State) error {
	s := &st.Staged
	s.Delegated = map[string]*targetsMD{}
	s.Signatures = map[string]map[string][]byte{}
	entries, err := os.ReadDir(w.path(stagedDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read staged metadata: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		role := e.Name()[:len(e.Name())-len(".json")]
		data, err := w.read(path.Join(stagedDir, e.Name()))
		if err != nil {
			return err
		}
		switch role {
		case metadata.ROOT:
			md, err := metadata.Root().FromBytes(data)
			if err != nil {
				return stagedDamaged(e.Name(), err)
			}
			md.Signatures = []metadata.Signature{}
			if pub := st.Published.Root(); pub == nil || md.Signed.Version > pub.Signed.Version {
				s.Root = md
			}
		default:
			md, err := metadata.Targets().FromBytes(data)
			if err != nil {
				return stagedDamaged(e.Name(), err)
			}
			md.Signatures = []metadata.Signature{}
			var pub *targetsMD
			if role == metadata.TARGETS {
				pub = st.Published.Targets
			} else {
				pub = st.Published.Delegated[role]
			}
			// a version already published is left over from a publish
			// that stopped before it tidied up; it is not staged
			if pub != nil && md.Signed.Version <= pub.Signed.Version {
				continue
			}
			if role == metadata.TARGETS {
				s.Targets = md
			} else {
				s.Delegated[role] = md
			}
		}
	}
	for _, role := range s.Roles() {
		sigs, err := w.loadSignatures(role)
		if err != nil {
			return err
		}
		s.Signatures[role] = sigs
	}
	return nil
}

func stagedDamaged(name string, err error) error {
	return fmt.Errorf("staged/%s is not valid TUF metadata (%v): restore it from git or stage the change again", name, err)
}

func (w *Workspace) loadSignatures(role string) (map[string][]byte, error) {
	dir := path.Join(signaturesDir, role)
	entries, err := os.ReadDir(w.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read signatures of %s: %w", role, err)
	}
	sigs := map[string][]byte{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !keyIDRe.MatchString(id) {
			continue
		}
		data, err := safeRead(w, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var sig metadata.Signature
		if err := json.Unmarshal(data, &sig); err != nil || sig.KeyID != id {
			// a damaged signature file counts as no signature; status shows it
			continue
		}
		sigs[id] = sig.Signature
	}
	return sigs, nil
}

func safeRead(w *Workspace, rel string) ([]byte, error) {
	data, err := w.read(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return data, nil
}

// writeStaged stores a staged role without signatures and discards the
// signatures made over its previous content, which no longer match.
func (w *Workspace) writeStaged(role string, md any) error {
	var data []byte
	var err error
	switch m := md.(type) {
	case *rootMD:
		m.Signatures = []metadata.Signature{}
		data, err = m.ToBytes(true)
	case *targetsMD:
		m.Signatures = []metadata.Signature{}
		data, err = m.ToBytes(true)
	default:
		return fmt.Errorf("cannot stage %T", md)
	}
	if err != nil {
		return fmt.Errorf("encode staged %s: %w", role, err)
	}
	if err := w.write(path.Join(stagedDir, RoleFile(role)), append(data, '\n')); err != nil {
		return err
	}
	if err := os.RemoveAll(w.path(signaturesDir, role)); err != nil {
		return fmt.Errorf("discard old signatures of %s: %w", role, err)
	}
	return nil
}
