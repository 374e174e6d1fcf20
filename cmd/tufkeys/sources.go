package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

type sourcesOptions struct {
	streams
	Client clientFlags
	Format string
}

func newSourcesCommand(std streams) *cobra.Command {
	opts := sourcesOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "sources [client flags]",
		Short: "List the TUF repositories the client trusts and the registries each lists",
		Long: `List each source the client asks, in order: its name, the newest root it
verified (version and expiry), its repository URLs and the registries its
verified metadata lists. A registry is answered by the first source that
lists it; one listed by two sources is reported, and their lists are never
merged. Each source is refreshed first (with --offline, its cache is read).

The build's sources are a deployment's own, when built in, then Sigstore's
public-good repository. --root and --repo (or their variables) replace them
with one source.`,
		Example: `  tufkeys sources
  tufkeys sources -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runSources(cmd.Context(), opts) },
	}
	addFormatFlag(cmd, &opts.Format, "table", "table", "json")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

type sourcesReport struct {
	Sources    []sourceReport    `json:"sources"`
	Duplicates []duplicateReport `json:"duplicates"`
}

type sourceReport struct {
	Name         string   `json:"name"`
	RootVersion  int64    `json:"root_version"`
	RootExpires  *string  `json:"root_expires"`
	Repositories []string `json:"repositories"`
	Registries   []string `json:"registries"`
	Problem      *string  `json:"problem"`
}

type duplicateReport struct {
	Registry string   `json:"registry"`
	Sources  []string `json:"sources"`
	Answers  string   `json:"answers"`
}

func runSources(ctx context.Context, opts sourcesOptions) error {
	if opts.Format != "table" && opts.Format != "json" {
		return usagef("--format %q is not table or json", opts.Format)
	}
	srcs, err := opts.Client.sources(opts.streams)
	if err != nil {
		return err
	}
	rep := sourcesReport{Sources: []sourceReport{}, Duplicates: []duplicateReport{}}
	listedBy := map[string][]string{}
	failed := 0
	for _, sc := range srcs.Clients() {
		r := sourceReport{Name: sc.Source.Name, Repositories: sc.Client.Repositories(), Registries: []string{}}
		if !opts.Client.Offline {
			if _, err := sc.Client.Refresh(ctx); err != nil {
				r.Problem = orNull(oneLine(err.Error()))
				failed++
			}
		}
		if trusted, err := sc.Client.TUF().TrustedMetadata(ctx); err == nil {
			if root, err := metadata.Root().FromBytes(trusted[metadata.ROOT]); err == nil {
				r.RootVersion = root.Signed.Version
				r.RootExpires = orNull(root.Signed.Expires.UTC().Format(time.RFC3339))
			}
		}
		r.Registries = append(r.Registries, sc.Client.Registries(ctx)...)
		for _, host := range r.Registries {
			listedBy[host] = append(listedBy[host], sc.Source.Name)
		}
		rep.Sources = append(rep.Sources, r)
	}
	for _, host := range slices.Sorted(maps.Keys(listedBy)) {
		if names := listedBy[host]; len(names) > 1 {
			rep.Duplicates = append(rep.Duplicates, duplicateReport{Registry: host, Sources: names, Answers: names[0]})
		}
	}
	if opts.Format == "json" {
		if err := writeJSON(opts.Out, rep); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "SOURCE\tROOT\tEXPIRES\tREPOSITORIES\tREGISTRIES\n")
		for _, r := range rep.Sources {
			root, expires := "-", "-"
			if r.RootVersion > 0 {
				root = fmt.Sprintf("v%d", r.RootVersion)
			}
			if r.RootExpires != nil {
				expires = *r.RootExpires
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, root, expires, strings.Join(r.Repositories, ", "), orDash(strings.Join(r.Registries, ", ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range rep.Sources {
			if r.Problem != nil {
				fmt.Fprintf(opts.Out, "%s: %s\n", r.Name, *r.Problem)
			}
		}
		for _, d := range rep.Duplicates {
			fmt.Fprintf(opts.Out, "%s is listed by %s: %s answers, and the lists are never merged\n", d.Registry, strings.Join(d.Sources, " and "), d.Answers)
		}
	}
	if failed > 0 {
		return exitError{code: exitFail}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
