package workspace

// Succinct hashed bins (TAP 15): targets delegates every key list to one of
// 2^k bins, chosen by the hash of its target path, so a client fetches and
// verifies targets.json (small, fixed) and the one bin that holds its
// registry, whatever the number of registries. The bins are signed by the
// targets keys with the targets threshold, offline like targets: a key
// list never becomes signable by the online key.

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/tufkeys/tufkeys/internal/binfold"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// BinPrefix names the bins: bins-00 … bins-3f.
const BinPrefix = "bins"

// DefaultBins suits one registry as well as tens of thousands: 64 bins
// keep the snapshot near 9 KB, and a bin near 30 KB at 10,000 registries.
const DefaultBins = 64

// checkBins refuses a number of bins TAP 15 cannot express.
func checkBins(n int) error {
	if n < 2 || n > 1<<16 || n&(n-1) != 0 {
		return fmt.Errorf("%d bins is not a power of two from 2 to 65536", n)
	}
	return nil
}

// succinct is targets' delegation to n bins, signed by the targets keys.
func succinct(root *rootMD, n int) *metadata.Delegations {
	role := root.Signed.Roles[metadata.TARGETS]
	keys := map[string]*metadata.Key{}
	for _, id := range role.KeyIDs {
		keys[id] = root.Signed.Keys[id]
	}
	return &metadata.Delegations{
		Keys: keys,
		SuccinctRoles: &metadata.SuccinctRoles{
			KeyIDs:     slices.Clone(role.KeyIDs),
			Threshold:  role.Threshold,
			BitLength:  bits.TrailingZeros(uint(n)),
			NamePrefix: BinPrefix,
		},
	}
}

// bins returns the succinct delegation targets makes, nil in a flat
// repository.
func (s *State) bins() *metadata.SuccinctRoles {
	t := s.TargetsInEffect()
	if t == nil || t.Signed.Delegations == nil {
		return nil
	}
	return t.Signed.Delegations.SuccinctRoles
}

// binOf is the bin that holds a target path.
func binOf(b *metadata.SuccinctRoles, name string) string {
	return b.GetRolesForTarget(name)[0].Name
}

// Bins reports the number of bins the workspace's targets delegate to,
// zero for a flat repository.
func (w *Workspace) Bins() (int, error) {
	st, err := w.Load()
	if err != nil {
		return 0, err
	}
	if b := st.bins(); b != nil {
		return 1 << b.BitLength, nil
	}
	return 0, nil
}

// Migrate stages a flat repository's move to n hashed bins: a new targets
// version that lists no key list and delegates to the bins, and every bin
// with the key lists whose paths hash to it. The maintainers sign it all,
// as any change; clients follow without a release.
func (w *Workspace) Migrate(n int) ([]string, error) {
	defer w.hold()()
	if err := checkBins(n); err != nil {
		return nil, err
	}
	st, err := w.Load()
	if err != nil {
		return nil, err
	}
	if st.bins() != nil {
		return nil, fmt.Errorf("the repository is already in %d bins", 1<<st.bins().BitLength)
	}
	targets, err := st.editable(metadata.TARGETS, w)
	if err != nil {
		return nil, err
	}
	if targets.Signed.Delegations != nil && len(targets.Signed.Delegations.Roles) > 0 {
		return nil, fmt.Errorf("targets delegates registries to their own roles (%s): bins cannot take those over yet; keep the flat layout", targets.Signed.Delegations.Roles[0].Name)
	}
	root := st.RootInEffect()
	targets.Signed.Delegations = succinct(root, n)
	binned := map[string]*targetsMD{}
	for _, name := range targets.Signed.Delegations.SuccinctRoles.GetRoles() {
		binned[name] = metadata.Targets(w.expiry(metadata.TARGETS))
	}
	for name, tf := range targets.Signed.Targets {
		binned[binOf(targets.Signed.Delegations.SuccinctRoles, name)].Signed.Targets[name] = tf
	}
	targets.Signed.Targets = map[string]*metadata.TargetFiles{}
	targets.Signed.Expires = w.expiry(metadata.TARGETS)
	if err := w.writeStaged(metadata.TARGETS, targets); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(binned)) {
		if err := w.writeStaged(name, binned[name]); err != nil {
			return nil, err
		}
	}
	return slices.Sorted(maps.Keys(binned)), nil
}

// Lines renders role checks one per line, with the hashed bins that share
// a version and a state on one line: 64 bins staged at init read as one.
func Lines(checks []RoleCheck) []string {
	var out []string
	for _, g := range binfold.Fold(checks, func(c RoleCheck) string { return c.Role }, func(c RoleCheck) string {
		return fmt.Sprintf(" v%d%s", c.Version, strings.TrimPrefix(c.Line(), fmt.Sprintf("%s v%d", c.Role, c.Version)))
	}) {
		out = append(out, g.Names()+g.State)
	}
	return out
}
