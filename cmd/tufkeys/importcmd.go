package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/archive"
	"github.com/tufkeys/tufkeys/client/mirror"
)

type importOptions struct {
	streams
	Client clientFlags
	Files  []string
	Format string
}

func newImportCommand(std streams) *cobra.Command {
	opts := importOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "import FILE.tar.gz... [--accept-expired DURATION]",
		Short: "Verify an archive and fill the cache from it",
		Long: `Verify an archive made by tufkeys export against the trusted root, exactly like
a mirror, and fill the cache with every key list it holds. Metadata that has
expired in transit is refused unless --accept-expired names how much expiry
to tolerate (at most 90 days); that weakens the protection against freeze
attacks by as much, and is said in a warning.

Without --root and --repo, each archive goes into the cache of the built-in
source whose root it verifies against (tufkeys export writes one archive
per source), so a network without internet access gets Sigstore's
public-good repository and an organization's own alike.`,
		Example: `  tufkeys import keys-2026-11-26.tar.gz
  ssh gateway.example.test cat keys.tar.gz | tufkeys import -
  tufkeys import keys-2026-11-26.tar.gz --accept-expired 14d
  tufkeys import keys-deployment.tar.gz keys-sigstore.tar.gz`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("tufkeys import takes the archive FILE to import, such as tufkeys import keys.tar.gz")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return runImport(cmd.Context(), opts)
		},
	}
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

// runImport fills the cache of the repository the client reads (the
// embedded one, --repo or TUFKEYS_REPO), not one named after the archive,
// so that the next lookup, offline, finds what was imported.
func runImport(ctx context.Context, opts importOptions) error {
	srcs, err := opts.Client.sources(opts.streams)
	if errors.Is(err, client.ErrNoRepository) {
		return usagef("import fills the cache of the repository your clients read, and none is named: pass --repo URL (or set TUFKEYS_REPO) as the clients inside do")
	}
	if err != nil {
		return err
	}
	targets := srcs.Clients()
	for _, file := range opts.Files {
		if err := importOne(ctx, opts, file, targets); err != nil {
			return err
		}
	}
	return nil
}

// importOne imports one archive into the cache of the first source it
// verifies against.
func importOne(ctx context.Context, opts importOptions, name string, targets []client.SourceClient) error {
	file := name
	if file == "-" {
		var done func()
		var err error
		if file, done, err = archiveFromStdin(opts.streams); err != nil {
			return err
		}
		defer done()
	}
	var repo *mirror.Repository
	var into client.SourceClient
	var failures []string
	var firstErr error
	for _, sc := range targets {
		r, err := mirror.Import(ctx, sc.Client, file)
		if err == nil {
			repo, into = r, sc
			break
		}
		if len(targets) == 1 {
			return err
		}
		if firstErr == nil {
			firstErr = err
		}
		failures = append(failures, sc.Source.Name+": "+err.Error())
	}
	if repo == nil {
		return fmt.Errorf("%s verifies against none of this build's sources (%s): %w", name, strings.Join(failures, "; "), firstErr)
	}
	cl := into.Client
	next := ""
	if len(repo.KeyLists) > 0 {
		host, _ := bundle.HostOfTarget(repo.KeyLists[0])
		cmd := append([]string{"tufkeys", "keys", "--registry", host, "--offline"}, opts.Client.given()...)
		next = strings.Join(cmd, " ")
	}
	if opts.Format == "json" {
		r := copyReport{Source: name, Destination: cl.CacheDir(), Root: repo.RootVersion, Targets: repo.TargetsVersion, KeyLists: nonNil(repo.KeyLists), Copied: []string{}, Files: len(repo.Objects), Next: orNull(next)}
		if len(targets) > 1 {
			r.SourceName = orNull(into.Source.Name)
		}
		return writeJSON(opts.Out, r)
	}
	what := ""
	if len(targets) > 1 {
		what = " (source " + into.Source.Name + ")"
	}
	fmt.Fprintf(opts.Out, "imported root v%d, targets v%d, key lists %s into %s%s\n", repo.RootVersion, repo.TargetsVersion, someOf(repo.KeyLists, 3), cl.CacheDir(), what)
	if next != "" {
		fmt.Fprintf(opts.Out, "next: %s\n", next)
	}
	return nil
}

// archiveFromStdin keeps an archive read from standard input (at most
// archive.MaxArchiveBytes) in a private temporary file, which the client
// reads by path; done removes it.
func archiveFromStdin(std streams) (path string, done func(), err error) {
	data, err := readInput(std, "-", archive.MaxArchiveBytes)
	if err != nil {
		return "", nil, fileError("-", "archive", err)
	}
	dir, err := os.MkdirTemp("", "tufkeys-stdin-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "archive.tar.gz")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
