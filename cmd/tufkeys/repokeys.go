//go:build !tufkeys_client

package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/internal/binfold"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

type repoKeysOptions struct {
	streams
	Workspace string
	Format    string
}

func newRepoKeysCommand(std streams, ws *string) *cobra.Command {
	opts := repoKeysOptions{streams: std}
	cmd := workspaceCommand(ws, &opts.Workspace, &cobra.Command{
		Use:   "keys",
		Short: "List the maintainers' and online keys: name, roles, reference kind",
		Long: `List every key the workspace holds or its metadata names: the name the
workspace gives it (its .pub file), its keyid, the roles it may sign after the
next publish (bins folded), and the kind of reference its holder last signed
or published through: file, token (PKCS#11) or KMS. The kind is recorded by
repo sign and repo publish, never the reference itself; a key that has not
signed through tufkeys yet shows "not yet used".`,
		Example: `  tufkeys repo keys
  tufkeys repo keys -o json`,
	}, func(*cobra.Command) error {
		return runRepoKeys(opts)
	})
	addFormatFlag(cmd, &opts.Format, "text")
	return cmd
}

// repoKeysReport is repo keys -o json.
type repoKeysReport struct {
	Keys []repoKeyReport `json:"keys"`
}

type repoKeyReport struct {
	Name      *string  `json:"name"`
	KeyID     string   `json:"keyid"`
	Roles     []string `json:"roles"`
	Reference *string  `json:"reference"`
}

func runRepoKeys(opts repoKeysOptions) error {
	w, err := openWorkspace(opts.Workspace)
	if err != nil {
		return err
	}
	keys, err := w.Keys()
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		r := repoKeysReport{Keys: []repoKeyReport{}}
		for _, k := range keys {
			r.Keys = append(r.Keys, repoKeyReport{Name: orNull(k.Name), KeyID: k.KeyID, Roles: k.Roles, Reference: orNull(k.Reference)})
		}
		return writeJSON(opts.Out, r)
	}
	tw := tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tKEYID\tROLES\tREFERENCE\n")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", keyLabel(k), k.KeyID[:12], rolesLabel(k.Roles), referenceLabel(k.Reference))
	}
	return tw.Flush()
}

func keyLabel(k workspace.KeyInfo) string {
	if k.Name == "" {
		return "(no .pub file)"
	}
	return k.Name
}

// rolesLabel folds the bins a key signs into one range, as everywhere a
// person reads them.
func rolesLabel(roles []string) string {
	if len(roles) == 0 {
		return "none (removed from every role)"
	}
	var bins, other []string
	for _, r := range roles {
		if binfold.IsBin(r) {
			bins = append(bins, r)
		} else {
			other = append(other, r)
		}
	}
	if len(bins) > 0 {
		// the bins are signed by the targets keys: name them after targets
		at := len(other)
		for i, r := range other {
			if r == "targets" {
				at = i + 1
			}
		}
		other = append(other[:at], append([]string{binfold.Names(bins)}, other[at:]...)...)
	}
	return strings.Join(other, ", ")
}

func referenceLabel(kind string) string {
	if kind == "" {
		return "not yet used"
	}
	return kind
}
