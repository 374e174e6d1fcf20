package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type historyOptions struct {
	streams
	Client   clientFlags
	Registry string
	Format   string
}

func newHistoryCommand(std streams) *cobra.Command {
	opts := historyOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "history --registry HOST [--format text|json]",
		Short: "Show every version of a registry's key list the repository published, verified",
		Long: `Read every version of a registry's key list the repository published, oldest
first, from its history (consistent snapshots keep every version online), and
show for each the metadata that carried it (targets, a bin, or the registry's
own role), the keys whose signatures verify over it and under which root or
delegation, its expiry (the metadata records no signing date), and the keys
added, removed or re-dated against the version before. Every version is
verified; one that does not verify is shown with its problem and fails the
command, and one that is missing is shown as a gap, never left out. A root
older than the one this client trusts proves nothing by chaining forward, so
versions signed only under such a root (one the client does not hold) are
shown as UNVERIFIED, their keys not claimed. A copy older than what the
client already trusts is refused, as keys refuses it. Works
against a URL, a directory, a mirror and an archive (mirror and export copy
the history).`,
		Example: `  tufkeys history --registry registry.example.test
  tufkeys history --registry registry.example.test --repo keys-2026-11-26.tar.gz -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runHistory(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "registry URL or host")
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	cmd.RegisterFlagCompletionFunc("registry", completeRegistries(&opts.Client, std))
	return cmd
}

// historyReport is history's JSON: one entry per version of the list.
type historyReport struct {
	Registry string               `json:"registry"`
	Versions []historyEntryReport `json:"versions"`
}

type historyEntryReport struct {
	Role       string    `json:"role"`
	Version    int64     `json:"version"`
	Expires    *jsonTime `json:"expires"`
	SignedBy   []string  `json:"signed_by"`
	VerifiedBy *string   `json:"verified_by"`
	SHA256     *string   `json:"sha256"`
	Keys       []string  `json:"keys"`
	Added      []string  `json:"added"`
	Removed    []string  `json:"removed"`
	Redated    []string  `json:"redated"`
	Problem    *string   `json:"problem"`
	Missing    bool      `json:"missing"`
	Unverified bool      `json:"unverified"`
	LogIndex   *int64    `json:"log_index"`
}

func runHistory(ctx context.Context, opts historyOptions) error {
	_, host, err := resolveRegistry(opts.Registry)
	if err != nil {
		return err
	}
	cl, err := opts.Client.openFor(ctx, opts.streams, []string{host})
	if err != nil {
		return err
	}
	h, err := cl.History(ctx, host)
	if err != nil {
		return err
	}
	if len(h) == 0 {
		// no version at all: a registry the repository does not list (a
		// typo, with the nearest names), not an empty history
		if _, err := cl.Keys(ctx, host); err != nil {
			return err
		}
	}
	problems := 0
	if opts.Format == "json" {
		r := historyReport{Registry: host, Versions: []historyEntryReport{}}
		for _, e := range h {
			v := historyEntryReport{Role: e.Role, Version: e.Version, Expires: timeOrNull(e.Expires), SignedBy: nonNil(e.SignedBy), VerifiedBy: orNull(e.VerifiedBy),
				SHA256: orNull(e.SHA256), Keys: keyIDs(e.Keys), Added: keyIDs(e.Diff.Added), Removed: keyIDs(e.Diff.Removed), Redated: redatedIDs(e.Diff),
				Problem: orNull(e.Problem), Missing: e.Missing, Unverified: e.Unverified}
			if e.InLog {
				v.LogIndex = &e.LogIndex
			}
			if e.Problem != "" && !e.Missing && !e.Unverified {
				problems++
			}
			r.Versions = append(r.Versions, v)
		}
		if err := writeJSON(opts.Out, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.Out, "%s: %d %s of the key list\n", host, len(h), plural(len(h), "version", "versions"))
		for _, e := range h {
			if e.Missing {
				fmt.Fprintf(opts.Out, "%s v%d: GAP: %s\n", e.Role, e.Version, e.Problem)
				continue
			}
			if e.Unverified {
				fmt.Fprintf(opts.Out, "%s v%d: UNVERIFIED: %s\n", e.Role, e.Version, e.Problem)
				continue
			}
			if e.Problem != "" {
				problems++
				fmt.Fprintf(opts.Out, "%s v%d: NOT VERIFIED: %s\n", e.Role, e.Version, e.Problem)
				continue
			}
			logged := ""
			if e.InLog {
				logged = fmt.Sprintf(", log entry %d", e.LogIndex)
			}
			if len(e.SignedBy) == 0 && e.InLog {
				// signed under a root this client cannot authenticate,
				// vouched for by the log
				fmt.Fprintf(opts.Out, "%s v%d, expires %s, authenticated by %s, sha256 %s:\n", e.Role, e.Version, e.Expires.UTC().Format(time.RFC3339), e.VerifiedBy, e.SHA256[:16])
			} else {
				fmt.Fprintf(opts.Out, "%s v%d, expires %s, signed by %s under %s, sha256 %s%s:\n", e.Role, e.Version, e.Expires.UTC().Format(time.RFC3339),
					signerList(e.SignedBy), e.VerifiedBy, e.SHA256[:16], logged)
			}
			for _, l := range e.Diff.Lines() {
				fmt.Fprintf(opts.Out, "  %s\n", l)
			}
		}
	}
	if problems > 0 {
		return fmt.Errorf("%d %s of the history did not verify (see above): the repository or a mirror has been altered", problems, plural(problems, "version", "versions"))
	}
	return nil
}

// signerList names the keys that signed a version by the start of their
// keyids, the part a person compares with the root's keys: "2 keys
// (3f2a1c9b, 77aa0144)".
func signerList(ids []string) string {
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(len(id), 8)]
	}
	return fmt.Sprintf("%d %s (%s)", len(ids), plural(len(ids), "key", "keys"), strings.Join(short, ", "))
}
