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
)

type importOptions struct {
	streams
	Client clientFlags
	File   string
	Format string
}

func newImportCommand(std streams) *cobra.Command {
	opts := importOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "import FILE.tar.gz [--accept-expired DURATION]",
		Short: "Verify an archive and fill the cache from it",
		Long: `Verify an archive made by tufkeys export against the trusted root, exactly like
a mirror, and fill the cache with every key list it holds. Metadata that has
expired in transit is refused unless --accept-expired names how much expiry
to tolerate (at most 90 days); that weakens the protection against freeze
attacks by as much, and is said in a warning.`,
		Example: `  tufkeys import keys-2026-11-26.tar.gz
  ssh gateway.example.test cat keys.tar.gz | tufkeys import -
  tufkeys import keys-2026-11-26.tar.gz --accept-expired 14d`,
		Args: exactArgs(1, "one archive FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
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
	cl, err := opts.Client.open(opts.streams)
	if errors.Is(err, client.ErrNoRepository) {
		return usagef("import fills the cache of the repository your clients read, and none is named: pass --repo URL (or set TUFKEYS_REPO) as the clients inside do")
	}
	if err != nil {
		return err
	}
	file := opts.File
	if file == "-" {
		var done func()
		if file, done, err = archiveFromStdin(opts.streams); err != nil {
			return err
		}
		defer done()
	}
	repo, err := cl.Import(ctx, file)
	if err != nil {
		return err
	}
	next := ""
	if len(repo.KeyLists) > 0 {
		host, _ := bundle.HostOfTarget(repo.KeyLists[0])
		cmd := append([]string{"tufkeys", "keys", "--registry", host, "--offline"}, opts.Client.given()...)
		next = strings.Join(cmd, " ")
	}
	if opts.Format == "json" {
		return writeJSON(opts.Out, copyReport{Source: opts.File, Destination: cl.CacheDir(), Root: repo.RootVersion, Targets: repo.TargetsVersion, KeyLists: nonNil(repo.KeyLists), Copied: []string{}, Files: len(repo.Objects), Next: orNull(next)})
	}
	fmt.Fprintf(opts.Out, "imported root v%d, targets v%d, key lists %s into %s\n", repo.RootVersion, repo.TargetsVersion, someOf(repo.KeyLists, 3), cl.CacheDir())
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
