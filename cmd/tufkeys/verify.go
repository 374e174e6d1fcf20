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
	Format    string
	Keys      string
	Manifest  string
	Published string
	// AcceptUnknownPublished lets an expiring key count without a publish time.
	AcceptUnknownPublished bool
}

func newVerifyCommand(std streams) *cobra.Command {
	file := verifyFileOptions{streams: std}
	online := verifyOnlineOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "verify NAME@VERSION | --keys FILE --manifest FILE",
		Short: "Verify a package version's registry signatures",
		Long: `Verify the registry signatures of one package version.

With NAME@VERSION, fetch the version's document and publish time from the
registry (--registry, else npm_config_registry, else the user's .npmrc) and
verify it with the registry's key list from the TUF repository. A version
signed by a key the cached list lacks makes the client refresh the list once
before it decides: that is how a key rotation reaches it. A registry proxy
passes the origin's signatures through: --keys-host names whose keys verify.

With --keys and --manifest, verify offline against a key list file. The
manifest is a registry version document (name, version, dist.integrity,
dist.signatures) or the flat form with integrity and signatures at the top.

A key with an expiry vouches only for versions published before it, so a
signature by such a key needs the publish time (--published, or the time the
registry's packument gives): when it is unknown the version is refused, and
the sentence says why. --accept-unknown-publish-time counts such a signature
anyway, and the verdict says that the expiry went unchecked; it is a flag
only, never read from the environment.

Exit status: 0 verified, 1 refused or invalid input, 2 bad usage.`,
		Example: `  tufkeys verify pnpm@10.1.0 --registry https://registry.example.test/
  tufkeys verify --keys keys.json --manifest pnpm@10.1.0.json
  tufkeys verify --keys keys.json --manifest doc.json --published 2025-01-10T08:00:00Z`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("tufkeys verify takes one NAME@VERSION; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			online.Published, online.Format, online.AcceptUnknownPublished = file.Published, file.Format, file.AcceptUnknownPublished
			if file.Format != "text" && file.Format != "json" {
				return usagef("--format %q is not text or json", file.Format)
			}
			switch {
			case len(args) == 1 && (file.Keys != "" || file.Manifest != ""):
				return usagef("give either NAME@VERSION or --keys with --manifest, not both")
			case len(args) == 1:
				online.Spec = args[0]
				return runVerifyOnline(cmd.Context(), online)
			default:
				return runVerifyFile(file)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&file.Keys, "keys", "", "key list file, in any form (offline mode)")
	f.StringVar(&file.Manifest, "manifest", "", "version document file (offline mode)")
	f.StringVar(&file.Published, "published", "", "when the version was published (RFC 3339)")
	f.BoolVar(&file.AcceptUnknownPublished, "accept-unknown-publish-time", false, "count a signature by a key with an expiry when the publish time is unknown (the verdict says so)")
	f.StringVar(&online.Registry, "registry", "", "registry URL to fetch the version from")
	f.StringArrayVar(&online.KeysHosts, "keys-host", nil, "registry host whose key list verifies (default: the registry's); repeated, the lists are merged")
	addFormatFlag(cmd, &file.Format, "text")
	addClientFlags(cmd, &online.Client)
	cmd.RegisterFlagCompletionFunc("keys-host", completeRegistries(&online.Client, std))
	return cmd
}

func runVerifyFile(opts verifyFileOptions) error {
	if opts.Keys == "" || opts.Manifest == "" {
		return usagef("give NAME@VERSION, or both --keys and --manifest for an offline check")
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
	ver.Published, ver.AcceptUnknownPublished = published, opts.AcceptUnknownPublished
	res, err := v.Verify(ver)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	if opts.Format == "json" {
		return writeJSON(opts.Out, newVerifyReport(res))
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
		b.WriteString(" (publish time unknown and accepted: the key's expiry was not checked)")
	}
	return b.String()
}
