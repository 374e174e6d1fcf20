package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/internal/safefile"
)

func newBundleCommand(std streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Validate and convert registry key lists",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newBundleValidateCommand(std), newBundleConvertCommand(std))
	return cmd
}

type bundleValidateOptions struct {
	streams
	File string
}

func newBundleValidateCommand(std streams) *cobra.Command {
	opts := bundleValidateOptions{streams: std}
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a key list and print one line per key",
		Long: `Check a registry key list in any of its forms (the registry's /-/npm/v1/keys
document, a COREPACK_INTEGRITY_KEYS value, or a Sigstore target) against every
rule tufkeys enforces before it trusts a list, and print one line per key.
FILE may be - for standard input.`,
		Example: `  tufkeys bundle validate keys.json
  curl -s "$REGISTRY/-/npm/v1/keys" | tufkeys bundle validate -`,
		Args: exactArgs(1, "one FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			return runBundleValidate(opts)
		},
	}
}

func runBundleValidate(opts bundleValidateOptions) error {
	p, err := readKeyList(opts.streams, opts.File)
	if err != nil {
		return err
	}
	for _, note := range p.Dropped {
		warn(opts.streams, note)
	}
	fmt.Fprintf(opts.Out, "%s: valid %s key list, %d %s\n", opts.File, p.Form, len(p.List.Keys), plural(len(p.List.Keys), "key", "keys"))
	for _, k := range p.List.Keys {
		expires := "never expires"
		if k.Expires != nil {
			expires = "expires " + *k.Expires
		}
		fmt.Fprintf(opts.Out, "%s  %s  %s\n", k.KeyID, k.KeyType, expires)
	}
	return nil
}

type bundleConvertOptions struct {
	streams
	File string
	To   string
}

func newBundleConvertCommand(std streams) *cobra.Command {
	opts := bundleConvertOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "convert FILE --format npm|corepack|sigstore",
		Short: "Convert a key list between the npm, Corepack and Sigstore forms",
		Long: `Convert a key list to another form and print it on standard output. The
list is validated first. The Sigstore form lists each key once per usage;
only npm:signatures entries take part in verification, so the others are
left out when converting from it, and the npm and Corepack forms have no
place for a key's validFor.start: both are reported on standard error.`,
		Example: `  tufkeys bundle convert keys.json --format corepack
  export COREPACK_INTEGRITY_KEYS="$(tufkeys bundle convert keys.json -o corepack)"`,
		Args: exactArgs(1, "one FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			return runBundleConvert(opts)
		},
	}
	addFormatFlag(cmd, &opts.To, "", "npm", "corepack", "sigstore")
	// --to was this flag's first name; it names destinations everywhere else
	cmd.Flags().StringVar(&opts.To, "to", "", "deprecated: use --format")
	cmd.Flags().MarkHidden("to")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if givenOnCommandLine(cmd.Flags(), "to") {
			warn(std, "--to is deprecated here: use --format (or -o); --to names destinations")
		}
	}
	return cmd
}

func runBundleConvert(opts bundleConvertOptions) error {
	if opts.To == "" {
		return usagef("--format is required: say which form to write (npm, corepack or sigstore)")
	}
	form, err := bundle.ParseForm(opts.To)
	if err != nil {
		return usageError{err}
	}
	p, err := readKeyList(opts.streams, opts.File)
	if err != nil {
		return err
	}
	for _, note := range p.Dropped {
		warn(opts.streams, note)
	}
	if form != bundle.FormSigstore {
		for _, k := range p.List.Keys {
			if k.ValidFrom != nil {
				warn(opts.streams, fmt.Sprintf("key %s: validFor.start %s left out: the %s form has no place for it", k.KeyID, *k.ValidFrom, form))
			}
		}
	}
	out, err := bundle.Encode(&p.List, form)
	if err != nil {
		return err
	}
	_, err = opts.Out.Write(out)
	return err
}

// readKeyList reads and validates a key list file, naming the file in errors.
func readKeyList(std streams, path string) (bundle.Parsed, error) {
	data, err := readInput(std, path, bundle.MaxListBytes)
	if err != nil {
		return bundle.Parsed{}, fileError(path, "key list", err)
	}
	p, err := bundle.Parse(data)
	if err != nil {
		return p, fmt.Errorf("%s is not a valid key list: %w", path, err)
	}
	return p, nil
}

// readInput reads a file, or standard input when path is "-", up to max bytes.
func readInput(std streams, path string, max int64) ([]byte, error) {
	if path == "-" {
		return safefile.ReadAll(std.In, "standard input", max)
	}
	return safefile.Read(path, max)
}

func fileError(path, what string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s %s does not exist: check the path", what, path)
	case errors.Is(err, safefile.ErrTooLarge):
		return fmt.Errorf("%s %s is too large to be one: check that it is the right file: %w", what, path, err)
	default:
		return fmt.Errorf("cannot read %s %s: %w", what, path, err)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// someOf names the first few items and counts the rest, so that a line
// about 10,000 registries stays a line.
func someOf(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
