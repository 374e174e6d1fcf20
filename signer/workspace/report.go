package workspace

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
)

// PublishedReport is the published repository as the maintainers'
// workspace knows it, for a status page: each role with its signers by
// the names the workspace gives their keys, each registry's current keys
// and the history of its key list.
type PublishedReport struct {
	Roles      []RoleReport
	Registries []RegistryReport
}

// RoleReport is one published role.
type RoleReport struct {
	Role      string
	Version   int64
	Expires   time.Time
	Window    time.Duration
	Threshold int
	Signers   []string // names (or keyid prefixes) of the keys that signed it
}

// RegistryReport is one registry's key list and its history.
type RegistryReport struct {
	Host    string
	Role    string // the role that holds the list now
	Keys    []bundle.Key
	History []ListVersion
}

// ListVersion is one version of a registry's key list.
type ListVersion struct {
	Role    string
	Version int64
	Signers []string
	Diff    bundle.Diff
}

// Report reads the published state: the newest version of every role and
// every earlier version of the roles that held key lists, from the
// workspace's published history.
func (w *Workspace) Report() (PublishedReport, error) {
	rel, err := w.Release(false)
	if err != nil {
		return PublishedReport{}, err
	}
	names := w.keyNames()
	label := func(ids []string) []string {
		out := []string{}
		for _, id := range ids {
			if n := names[id]; n != "" {
				out = append(out, n)
			} else {
				out = append(out, id[:min(12, len(id))])
			}
		}
		return out
	}
	signed := func(sigs []metadata.Signature) []string {
		var ids []string
		for _, s := range sigs {
			if !slices.Contains(ids, s.KeyID) {
				ids = append(ids, s.KeyID)
			}
		}
		return label(ids)
	}
	root := rel.Root()
	win := w.Config.ResignWindow
	r := PublishedReport{}
	add := func(role string, version int64, expires time.Time, threshold int, sigs []metadata.Signature) {
		r.Roles = append(r.Roles, RoleReport{Role: role, Version: version, Expires: expires, Window: win.For(role), Threshold: threshold, Signers: signed(sigs)})
	}
	add(metadata.ROOT, root.Signed.Version, root.Signed.Expires, root.Signed.Roles[metadata.ROOT].Threshold, root.Signatures)
	add(metadata.TARGETS, rel.Targets.Signed.Version, rel.Targets.Signed.Expires, root.Signed.Roles[metadata.TARGETS].Threshold, rel.Targets.Signatures)
	for _, role := range slices.Sorted(maps.Keys(rel.Delegated)) {
		md := rel.Delegated[role]
		add(role, md.Signed.Version, md.Signed.Expires, delegatedThreshold(rel, role), md.Signatures)
	}
	if s := rel.Snapshot; s != nil {
		add(metadata.SNAPSHOT, s.Signed.Version, s.Signed.Expires, root.Signed.Roles[metadata.SNAPSHOT].Threshold, s.Signatures)
	}
	if t := rel.Timestamp; t != nil {
		add(metadata.TIMESTAMP, t.Signed.Version, t.Signed.Expires, root.Signed.Roles[metadata.TIMESTAMP].Threshold, t.Signatures)
	}
	holders := map[string]*targetsMD{metadata.TARGETS: rel.Targets}
	maps.Copy(holders, rel.Delegated)
	// a version signed by a key that holds no role any more says so, so
	// that a reader does not take its signer for a current maintainer
	current := currentKeys(root, holders)
	signedThen := func(sigs []metadata.Signature) []string {
		var out []string
		for _, sig := range sigs {
			label := label([]string{sig.KeyID})[0]
			if !current[sig.KeyID] {
				label += " (key since removed)"
			}
			if !slices.Contains(out, label) {
				out = append(out, label)
			}
		}
		return out
	}
	histories, parsed := w.listHistories(holders, signedThen)
	for _, role := range slices.Sorted(maps.Keys(holders)) {
		for name, tf := range holders[role].Signed.Targets {
			host, ok := bundle.HostOfTarget(name)
			if !ok {
				continue
			}
			list, ok := parsed[fmt.Sprintf("%x", tf.Hashes["sha256"])]
			if !ok {
				data, err := w.ReadTarget(name, tf)
				if err != nil {
					return r, err
				}
				p, err := bundle.Parse(data)
				if err != nil {
					return r, fmt.Errorf("published %s: %w", name, err)
				}
				list = &p.List
			}
			r.Registries = append(r.Registries, RegistryReport{Host: host, Role: role, Keys: list.Keys, History: histories[name]})
		}
	}
	slices.SortFunc(r.Registries, func(a, b RegistryReport) int {
		if a.Host < b.Host {
			return -1
		}
		if a.Host > b.Host {
			return 1
		}
		return 0
	})
	return r, nil
}

func delegatedThreshold(rel *Release, role string) int {
	check := func(d *metadata.Delegations) int {
		if d == nil {
			return 0
		}
		if d.SuccinctRoles != nil && d.SuccinctRoles.IsDelegatedRole(role) {
			return d.SuccinctRoles.Threshold
		}
		for _, r := range d.Roles {
			if r.Name == role {
				return r.Threshold
			}
		}
		return 0
	}
	if t := check(rel.Targets.Signed.Delegations); t > 0 {
		return t
	}
	for _, md := range rel.Delegated {
		if t := check(md.Signed.Delegations); t > 0 {
			return t
		}
	}
	return 0
}

// listHistories walks the published versions of targets and of every
// delegated role once, and keeps, for each key list, every version that
// differs from the one before: the workspace's own record of what it
// published. Each role version and each key list is read once, whatever
// the number of registries.
//
// It also returns each key list it parsed, by the sha256 of its bytes, so
// that the current lists, most of which the history holds, are read once.
//
// current holds the newest published version of each role, already parsed.
func (w *Workspace) listHistories(current map[string]*targetsMD, signed func([]metadata.Signature) []string) (map[string][]ListVersion, map[string]*bundle.KeyList) {
	out := map[string][]ListVersion{}
	last := map[string]string{}
	prev := map[string]*bundle.KeyList{}
	parsed := map[string]*bundle.KeyList{}
	roles := []string{metadata.TARGETS}
	for _, role := range slices.Sorted(maps.Keys(current)) {
		if role != metadata.TARGETS {
			roles = append(roles, role)
		}
	}
	for _, role := range roles {
		for v := int64(1); ; v++ {
			md := current[role]
			if md == nil || md.Signed.Version != v {
				data, err := w.read(publishedDir + "/" + strconv.FormatInt(v, 10) + "." + role + ".json")
				if err != nil {
					break
				}
				if md, err = metadata.Targets().FromBytes(data); err != nil {
					break
				}
			}
			var signers []string
			for _, name := range slices.Sorted(maps.Keys(md.Signed.Targets)) {
				tf := md.Signed.Targets[name]
				sum := fmt.Sprintf("%x", tf.Hashes["sha256"])
				if sum == last[name] {
					continue
				}
				list, err := w.ReadTarget(name, tf)
				if err != nil {
					continue
				}
				p, err := bundle.Parse(list)
				if err != nil {
					continue
				}
				if signers == nil {
					signers = signed(md.Signatures)
				}
				out[name] = append(out[name], ListVersion{Role: role, Version: v, Signers: signers, Diff: bundle.Compare(prev[name], &p.List)})
				prev[name], last[name], parsed[sum] = &p.List, sum, &p.List
			}
		}
	}
	return out, parsed
}

// currentKeys is every key the root in effect or a delegation names.
func currentKeys(root *rootMD, holders map[string]*targetsMD) map[string]bool {
	current := map[string]bool{}
	for id := range root.Signed.Keys {
		current[id] = true
	}
	for _, md := range holders {
		if md.Signed.Delegations != nil {
			for id := range md.Signed.Delegations.Keys {
				current[id] = true
			}
		}
	}
	return current
}
