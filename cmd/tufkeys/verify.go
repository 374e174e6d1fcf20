package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
)

type verifyFileOptions struct {
	streams
	Keys      string
	Manifest  string
	Published string
}

func newVerifyCommand(std streams) *cobra.Command {
	opts := verifyFileOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "verify --keys FILE --manifest FILE [--published RFC3339]",
		Short: "Verify a package version's registry signatures",
		Long: `Verify the registry signatures of one package version against a key list.

The manifest is a registry version document (name, version, dist.integrity,
dist.signatures) or the flat form with integrity and signatures at the top.
A key with an expiry vouches only for versions published before it; pass the
publish time with --published. Without it the key is treated as valid, as npm
does, and the verdict says so.

Exit status: 0 verified, 1 refused or invalid input, 2 bad usage.`,
		Example: `  tufkeys verify --keys keys.json --manifest pnpm@10.1.0.json
  tufkeys verify --keys keys.json --manifest doc.json --published 2025-01-10T08:00:00Z`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error { return runVerifyFile(opts) },
	}
	cmd.Flags().StringVar(&opts.Keys, "keys", "", "key list file, in any form")
	cmd.Flags().StringVar(&opts.Manifest, "manifest", "", "version document file")
	cmd.Flags().StringVar(&opts.Published, "published", "", "when the version was published (RFC 3339)")
	return cmd
}

func runVerifyFile(opts verifyFileOptions) error {
	if opts.Keys == "" || opts.Manifest == "" {
		return usagef("--keys and --manifest are both required: give a key list and a version document")
	}
	var published time.Time
	if opts.Published != "" {
		t, err := time.Parse(time.RFC3339Nano, opts.Published)
		if err != nil {
			return usagef("--published %q is not an RFC 3339 time such as 2025-01-10T08:00:00Z", opts.Published)
		}
		published = t
	}
	keys, err := readKeyList(opts.streams, opts.Keys)
	if err != nil {
		return err
	}
	v, err := bundle.NewVerifier(&keys.List)
	if err != nil {
		return err
	}
	data, err := readInput(opts.streams, opts.Manifest, bundle.MaxManifestBytes)
	if err != nil {
		return fileError(opts.Manifest, "version document", err)
	}
	ver, err := bundle.ParseManifest(data)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Manifest, err)
	}
	ver.Published = published
	res, err := v.Verify(ver)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	fmt.Fprintln(opts.Out, verdictLine(res))
	return nil
}

// verdictLine says in one line what verified and on what terms.
func verdictLine(res bundle.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verified %s: signed by %s", res.Package, strings.Join(res.VerifiedBy, ", "))
	if len(res.Expired) > 0 {
		fmt.Fprintf(&b, "; ignored %s, expired before publication", strings.Join(res.Expired, ", "))
	}
	if len(res.Unknown) > 0 {
		fmt.Fprintf(&b, "; ignored unknown %s", strings.Join(res.Unknown, ", "))
	}
	if res.ExpiryUnchecked {
		b.WriteString(" (publish time unknown: the key's expiry was not checked, as npm does)")
	}
	return b.String()
}
