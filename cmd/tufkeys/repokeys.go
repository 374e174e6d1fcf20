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
		Short: "List the maintainers' and online keys, and the transparency log's origin, key and witnesses",
		Long: `List every key the workspace holds or its metadata names: the name the
workspace gives it (its .pub file), its keyid, the roles it may sign after the
next publish (bins folded), and the kind of reference its holder last signed
or published through: file, token (PKCS#11) or KMS. The kind is recorded by
repo sign and repo publish, never the reference itself; a key that has not
signed through tufkeys yet shows "not yet used".

When the root names a transparency log, it also prints what a witness
operator needs to follow it (the log's origin and verifier key) and each
witness in the form --witness takes.`,
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
	// Log is the transparency log the root in effect names; null: none.
	Log *repoLogReport `json:"log"`
}

type repoLogReport struct {
	Origin    string          `json:"origin"`
	Key       string          `json:"key"`
	Quorum    int             `json:"quorum"`
	MaxAge    *string         `json:"max_age"`
	Witnesses []witnessReport `json:"witnesses"`
}

type witnessReport struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	URL  string `json:"url"`
	// Flag is the witness as --witness takes it
	Flag string `json:"flag"`
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
	policy, hasLog, err := w.LogPolicy()
	if err != nil {
		return err
	}
	var logRep *repoLogReport
	if hasLog {
		logRep = &repoLogReport{Origin: policy.Origin, Key: policy.Key, Quorum: policy.Quorum, MaxAge: orNull(policy.MaxAge), Witnesses: []witnessReport{}}
		for _, wt := range policy.Witnesses {
			logRep.Witnesses = append(logRep.Witnesses, witnessReport{Name: wt.Name(), Key: wt.Key, URL: wt.URL, Flag: wt.Key + "," + wt.URL})
		}
	}
	if opts.Format == "json" {
		r := repoKeysReport{Keys: []repoKeyReport{}, Log: logRep}
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
	if err := tw.Flush(); err != nil {
		return err
	}
	if logRep != nil {
		// what a witness operator needs to follow the log, and the
		// witnesses as --witness takes them
		fmt.Fprintf(opts.Out, "\ntransparency log %s, %d of %d witnesses\n", logRep.Origin, logRep.Quorum, len(logRep.Witnesses))
		fmt.Fprintf(opts.Out, "  origin:       %s\n  verifier key: %s\n", logRep.Origin, logRep.Key)
		for _, wt := range logRep.Witnesses {
			fmt.Fprintf(opts.Out, "  --witness '%s'\n", wt.Flag)
		}
	}
	return nil
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
