//go:build !tufkeys_client

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/mirror"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/store/s3"
)

type mirrorOptions struct {
	streams
	Client  clientFlags
	From    string
	To      string
	DryRun  bool
	Store   s3.Options
	Format  string
	Verbose bool
}

func newMirrorCommand(std streams) *cobra.Command {
	opts := mirrorOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "mirror --from URL --to DIR|s3://BUCKET/PREFIX",
		Short: "Copy a verified repository to a directory or a bucket",
		Long: `Copy a whole repository (every root version, the current timestamp, snapshot,
targets and delegated metadata, every key list) after verifying it with TUF
against the trusted root. Files the destination already holds with the same
bytes are skipped, and files go in the order publishing uses, so the mirror
never serves a mix. Clients pointed at the mirror behave exactly as at the
origin; a mirror of a mirror works too. Progress is shown on a terminal.`,
		Example: `  tufkeys mirror --from https://keys.example.test/tuf --to /srv/www/tuf
  tufkeys mirror --from https://keys.example.test/tuf --to s3://internal-mirror/tuf --endpoint-url https://s3.example.test --path-style`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runMirror(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "repository URL, or archive file (- for standard input) to copy")
	cmd.Flags().StringVar(&opts.To, "to", "", "destination: a directory or s3://BUCKET/PREFIX")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be copied and change nothing")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "print a line per file also when standard error is not a terminal")
	addFormatFlag(cmd, &opts.Format, "text")
	addStoreFlags(cmd.Flags(), &opts.Store)
	addClientFlags(cmd, &opts.Client)
	return cmd
}

// progressTo is where one line per file goes: standard error when it is a
// terminal or --verbose asks, else nowhere, so that the logs of scheduled
// jobs hold the summary alone. A dry run lists its files sorted at the end
// instead.
func progressTo(w io.Writer, verbose, dryRun bool) io.Writer {
	if dryRun {
		return nil
	}
	if verbose {
		return w
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

// progressFunc prints one line per file on w, if w is not nil.
func progressFunc(w io.Writer) func(verb, name string) {
	if w == nil {
		return nil
	}
	var mu sync.Mutex
	return func(verb, name string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s %s\n", verb, name)
	}
}

func runMirror(ctx context.Context, opts mirrorOptions) error {
	if opts.From == "" || opts.To == "" {
		return usagef("--from and --to are both required")
	}
	if opts.From == "-" {
		from, done, err := archiveFromStdin(opts.streams)
		if err != nil {
			return err
		}
		defer done()
		opts.From = from
	}
	clients, err := opts.mirrorClients()
	if err != nil {
		return err
	}
	dst, err := openDestination(ctx, opts.To, opts.Store)
	if err != nil {
		return err
	}
	// the copy verifies before it writes: a source whose root it does not
	// chain to leaves the destination as it was, and the next is tried
	var repo *mirror.Repository
	var rep store.SyncReport
	var failures []string
	for _, sc := range clients {
		repo, rep, err = mirror.Mirror(ctx, sc.Client, opts.From, dst, store.SyncOptions{DryRun: opts.DryRun, Progress: progressFunc(progressTo(opts.Err, opts.Verbose, opts.DryRun))})
		if err == nil || len(clients) == 1 || !errors.Is(err, client.ErrUntrusted) {
			break
		}
		failures = append(failures, sc.Source.Name+": "+err.Error())
	}
	if err != nil && len(failures) == len(clients) && len(clients) > 1 {
		return fmt.Errorf("%s verifies against none of this build's sources (%s): %w", opts.From, strings.Join(failures, "; "), err)
	}
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		return writeJSON(opts.Out, copyReport{Source: opts.From, Destination: dst.String(), DryRun: opts.DryRun, Root: repo.RootVersion, Targets: repo.TargetsVersion,
			KeyLists: nonNil(repo.KeyLists), Copied: nonNil(rep.Uploaded), Unchanged: rep.Skipped, Files: len(repo.Objects)})
	}
	verb, copied := "mirrored", "copied"
	if opts.DryRun {
		verb, copied = "dry run: would mirror", "to copy"
		for _, name := range slices.Sorted(slices.Values(rep.Uploaded)) {
			fmt.Fprintf(opts.Out, "would copy %s\n", name)
		}
	}
	fmt.Fprintf(opts.Out, "%s root v%d, targets v%d, %d key %s (%s) to %s: %d %s %s, %d unchanged\n",
		verb, repo.RootVersion, repo.TargetsVersion, len(repo.KeyLists), plural(len(repo.KeyLists), "list", "lists"), someOf(repo.KeyLists, 3),
		dst, len(rep.Uploaded), plural(len(rep.Uploaded), "file", "files"), copied, rep.Skipped)
	return nil
}

// mirrorClients are the clients a mirror may verify the source with: the
// one --root and --repo name, else one per built-in source, each reading
// from --from.
func (opts mirrorOptions) mirrorClients() ([]client.SourceClient, error) {
	co, err := opts.Client.options(opts.streams)
	if err != nil {
		return nil, err
	}
	if len(co.TrustedRoot) > 0 || len(co.Repositories) > 0 || len(builtinSources()) <= 1 {
		cl, err := opts.Client.openOr(opts.streams, opts.From)
		if err != nil {
			return nil, err
		}
		return []client.SourceClient{{Source: client.Source{Name: "given"}, Client: cl}}, nil
	}
	var out []client.SourceClient
	for _, src := range builtinSources() {
		o := co
		o.TrustedRoot, o.Repositories = src.Root, []string{opts.From}
		// each root keeps a cache of its own, as each source does
		base := co.CacheDir
		if base == "" {
			if base, err = client.DefaultCacheDir(opts.From); err != nil {
				return nil, err
			}
		}
		o.CacheDir = filepath.Join(base, src.Name)
		cl, err := opts.Client.newClient(o)
		if err != nil {
			return nil, err
		}
		out = append(out, client.SourceClient{Source: src, Client: cl})
	}
	return out, nil
}

type exportOptions struct {
	streams
	Client  clientFlags
	From    string
	Archive string
	// Source names the one built-in source to export; empty: every one.
	Source string
	// OldOut is --out, the name --to had before every destination was
	// --to; it still works, with a warning.
	OldOut string
	Format string
}

func newExportCommand(std streams) *cobra.Command {
	opts := exportOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "export --from URL --to FILE.tar.gz|-",
		Short: "Write a verified repository to one archive for an air-gapped network",
		Long: `Verify the repository with TUF against the trusted root and write all of it to
one .tar.gz file, laid out like the published repository, to carry into an
air-gapped network. There, tufkeys import FILE verifies it again and fills
the cache, and --repo FILE serves as a repository. The source is --from,
else the repository the client reads (--repo, TUFKEYS_REPO), else every
source built in (a deployment's own and Sigstore's public-good
repository), one archive each: FILE-NAME.tar.gz, or --source NAME for one.
--to - writes the archive to standard output, and the summary to standard
error.`,
		Example: `  tufkeys export --from https://keys.example.test/tuf --to keys-2026-11-26.tar.gz
  tufkeys export --to - | ssh gateway.example.test 'cat > keys.tar.gz'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runExport(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "repository URL (or archive file) to copy (default: the client's repository)")
	cmd.Flags().StringVar(&opts.Archive, "to", "", "archive file to write (.tar.gz), or - for standard output")
	cmd.Flags().StringVar(&opts.Source, "source", "", "the built-in source to export (default: every one, an archive each)")
	cmd.Flags().StringVar(&opts.OldOut, "out", "", "the old name of --to")
	// hidden, and warned about on standard error by runExport: cobra's own
	// deprecation notice would go to standard output, into an archive
	// written there
	cmd.Flags().MarkHidden("out")
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

func runExport(ctx context.Context, opts exportOptions) error {
	switch {
	case opts.OldOut != "" && opts.Archive != "":
		return usagef("give --to only: --out is its old name")
	case opts.OldOut != "":
		warn(opts.streams, "--out is the old name of --to: use --to, as every command names where it writes")
		opts.Archive = opts.OldOut
	case opts.Archive == "":
		return usagef("--to is required: name the .tar.gz file to write, or - for standard output")
	}
	co, err := opts.Client.options(opts.streams)
	if err != nil {
		return err
	}
	if opts.From == "" && len(co.TrustedRoot) == 0 && len(co.Repositories) == 0 {
		return exportSources(ctx, opts)
	}
	if err := refuseExisting(opts.Archive); err != nil {
		return err
	}
	if opts.Source != "" {
		return usagef("--source names a built-in source: leave out --from, --root and --repo")
	}
	from := opts.From
	if from == "" && len(co.Repositories) > 1 {
		return usagef("export copies one repository: pass --from URL")
	}
	if from == "" && len(co.Repositories) == 1 {
		from = co.Repositories[0]
	}
	if len(co.Repositories) == 0 && from != "" {
		co.Repositories = []string{from}
	}
	cl, err := opts.Client.newClient(co)
	if errors.Is(err, client.ErrNoRepository) {
		return usagef("export needs the repository to copy: pass --from URL")
	}
	if err != nil {
		return err
	}
	if from == "" {
		from = cl.Repositories()[0]
	}
	return exportOne(ctx, opts, cl, from, opts.Archive, "")
}

// exportOne writes one repository's archive to out (- for standard
// output) and reports it, naming the built-in source when source is set.
func exportOne(ctx context.Context, opts exportOptions, cl *client.Client, from, out, source string) error {
	var repo *mirror.Repository
	var err error
	summary := opts.Out
	if out == "-" {
		repo, err = mirror.ExportTo(ctx, cl, from, opts.Out)
		out, summary = "standard output", opts.Err
	} else {
		repo, err = mirror.Export(ctx, cl, from, out)
	}
	if err != nil {
		if source != "" {
			return fmt.Errorf("source %s: %w", source, err)
		}
		return err
	}
	if opts.Format == "json" {
		r := copyReport{Source: from, Destination: out, Root: repo.RootVersion, Targets: repo.TargetsVersion, KeyLists: nonNil(repo.KeyLists), Copied: []string{}, Files: len(repo.Objects)}
		if source != "" {
			r.SourceName = orNull(source)
		}
		return writeJSON(summary, r)
	}
	label := ""
	if source != "" {
		label = " " + source + ":"
	}
	fmt.Fprintf(summary, "exported%s root v%d, targets v%d, %d key %s to %s (%d files)\n", label, repo.RootVersion, repo.TargetsVersion, len(repo.KeyLists), plural(len(repo.KeyLists), "list", "lists"), out, len(repo.Objects))
	return nil
}

// exportSources writes an archive of each built-in source (or of the one
// --source names): FILE itself for one, FILE-NAME.tar.gz for several.
func exportSources(ctx context.Context, opts exportOptions) error {
	srcs, err := opts.Client.sources(opts.streams)
	if err != nil {
		return err
	}
	var selected []client.SourceClient
	for _, sc := range srcs.Clients() {
		if opts.Source == "" || sc.Source.Name == opts.Source {
			selected = append(selected, sc)
		}
	}
	if len(selected) == 0 {
		return usagef("--source %q is not a source of this build: tufkeys sources lists them", opts.Source)
	}
	if len(selected) > 1 && opts.Archive == "-" {
		return usagef("this build has %d sources, one archive each: name one with --source to write it to standard output", len(selected))
	}
	out := func(sc client.SourceClient) string {
		if len(selected) > 1 {
			return archiveFor(opts.Archive, sc.Source.Name)
		}
		return opts.Archive
	}
	// every archive's name is checked before any is written
	for _, sc := range selected {
		if err := refuseExisting(out(sc)); err != nil {
			return err
		}
	}
	for _, sc := range selected {
		if err := exportOne(ctx, opts, sc.Client, sc.Client.Repositories()[0], out(sc), sc.Source.Name); err != nil {
			return err
		}
	}
	return nil
}

// archiveFor is the archive of one of several sources: FILE-NAME.tar.gz.
func archiveFor(file, name string) string {
	for _, ext := range []string{".tar.gz", ".tgz"} {
		if base, ok := strings.CutSuffix(file, ext); ok {
			return base + "-" + name + ext
		}
	}
	return file + "-" + name
}

// refuseExisting refuses to write an archive over a file that is there:
// export never replaces what it did not write in this run.
func refuseExisting(path string) error {
	if path == "-" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists, and export does not overwrite files: remove it or name another archive with --to", path)
	}
	return nil
}
