package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type manOptions struct {
	streams
	Dir string
}

// newManCommand writes man pages from the commands; scripts/man.sh runs it.
// It is hidden: packagers use it, users read the pages.
func newManCommand(std streams, root *cobra.Command) *cobra.Command {
	opts := manOptions{streams: std}
	cmd := &cobra.Command{
		Use:     "man --dir DIR",
		Short:   "Write a man page for every command into DIR",
		Example: `  tufkeys man --dir man`,
		Hidden:  true,
		Args:    exactArgs(0, "no arguments"),
		RunE:    func(*cobra.Command, []string) error { return runMan(opts, root) },
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "man", "directory to write the pages into")
	return cmd
}

func runMan(opts manOptions, root *cobra.Command) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{Title: "TUFKEYS", Section: "1", Source: "tufkeys " + buildVersion().Version}
	root.DisableAutoGenTag = true
	if err := doc.GenManTree(root, header, opts.Dir); err != nil {
		return fmt.Errorf("write man pages into %s: %w", opts.Dir, err)
	}
	fmt.Fprintf(opts.Out, "wrote man pages into %s\n", opts.Dir)
	return nil
}
