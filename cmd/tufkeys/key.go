//go:build !tufkeys_client

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/internal/safefile"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/keyref"
)

func newKeyCommand(std streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Create maintainer and online keys",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newKeyGenerateCommand(std), newKeyPublicCommand(std))
	return cmd
}

type keyPublicOptions struct {
	streams
	Key        string
	Out        string
	Passphrase keyfile.Passphrase
}

func newKeyPublicCommand(std streams) *cobra.Command {
	opts := keyPublicOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "public --key REF [--out FILE.pub]",
		Short: "Write the public key of a key file or a KMS key, for repo init and repo rotate",
		Long: `Write the public key a key reference names, in the .pub form repo init and
repo rotate take: a key file (asks its passphrase), or an AWS KMS key
(awskms:///KEYID, awskms:///alias/NAME, awskms://ENDPOINT/KEYID), through
the AWS SDK's standard configuration. Without --out, the key goes to
standard output.`,
		Example: `  tufkeys key public --key awskms:///alias/tufkeys-online --out online.pub
  tufkeys key public --key alice.key`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Passphrase == nil {
				opts.Passphrase = keyfile.EnvOrTerminal(opts.Key)
			}
			return runKeyPublic(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "key reference: a key file or awskms://…")
	cmd.Flags().StringVar(&opts.Out, "out", "", "file to write (.pub); default: standard output")
	return cmd
}

func runKeyPublic(ctx context.Context, opts keyPublicOptions) error {
	if opts.Key == "" {
		return usagef("--key is required: a key file or an awskms:// reference")
	}
	pub, err := keyref.Public(ctx, opts.Key, opts.Passphrase)
	if err != nil {
		return err
	}
	pem, err := keyfile.EncodePublic(pub)
	if err != nil {
		return err
	}
	if opts.Out == "" || opts.Out == "-" {
		_, err = opts.streams.Out.Write(pem)
		return err
	}
	if err := safefile.Create(opts.Out, pem, 0o644); err != nil {
		return fmt.Errorf("write %s (an existing file is never replaced): %w", opts.Out, err)
	}
	id, _ := keyfile.KeyID(pub)
	fmt.Fprintf(opts.streams.Out, "wrote %s; keyid %s\n", opts.Out, id)
	return nil
}

type keyGenerateOptions struct {
	streams
	Name       string
	Type       string
	Passphrase keyfile.Passphrase
}

func newKeyGenerateCommand(std streams) *cobra.Command {
	opts := keyGenerateOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "generate --out NAME [--type ecdsa-p256|ed25519]",
		Short: "Generate a key pair: NAME.key (encrypted) and NAME.pub",
		Long: `Generate a signing key pair. NAME.key holds the private key encrypted at rest
with scrypt and NaCl secretbox in cosign's format (cosign keys work too);
NAME.pub holds the public key in PEM, to hand to whoever runs repo init.

The passphrase comes from TUFKEYS_PASSPHRASE, or else is asked twice on the
terminal without echo. Existing files are never overwritten.`,
		Example: `  tufkeys key generate --out alice
  TUFKEYS_PASSPHRASE=… tufkeys key generate --out online --type ed25519`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error {
			if opts.Passphrase == nil {
				opts.Passphrase = keyfile.EnvOrTerminal(opts.Name + ".key")
			}
			return runKeyGenerate(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "out", "", "base name of the files to write (required)")
	cmd.Flags().StringVar(&opts.Type, "type", keyfile.TypeECDSAP256, "key type: ecdsa-p256 or ed25519")
	return cmd
}

func runKeyGenerate(opts keyGenerateOptions) error {
	if opts.Name == "" {
		return usagef("--out is required: give the base name of the key files, such as alice")
	}
	if opts.Type != keyfile.TypeECDSAP256 && opts.Type != keyfile.TypeEd25519 {
		return usagef("--type %q is not supported: use %s or %s", opts.Type, keyfile.TypeECDSAP256, keyfile.TypeEd25519)
	}
	g, err := keyfile.Generate(opts.Name, opts.Type, opts.Passphrase)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "wrote %s (encrypted) and %s; keyid %s\n", g.PrivatePath, g.PublicPath, g.KeyID)
	return nil
}
