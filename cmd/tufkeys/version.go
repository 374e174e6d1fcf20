package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// versionInfo is what tufkeys version reports, from the build itself.
type versionInfo struct {
	Version   string   `json:"version"`
	Commit    string   `json:"commit,omitempty"`
	Modified  bool     `json:"modified,omitempty"`
	GoVersion string   `json:"go_version"`
	Root      *rootTag `json:"embedded_root"`
	Repos     []string `json:"embedded_repositories"`
}

type rootTag struct {
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

func init() {
	// --version prints what the version command prints; it reads the
	// build info and parses the embedded root only when asked
	cobra.AddTemplateFunc("tufkeysVersion", func() string { return buildVersion().text() })
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", GoVersion: "unknown", Repos: repometadata.Repositories()}
	if v.Repos == nil {
		v.Repos = []string{}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.GoVersion = bi.GoVersion
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if data := repometadata.Root(); data != nil {
		if md, err := metadata.Root().FromBytes(data); err == nil {
			v.Root = &rootTag{md.Signed.Version, md.Signed.Expires}
		}
	}
	return v
}

// text is the version in one line and what the build trusts in a second.
func (v versionInfo) text() string {
	line := "tufkeys " + v.Version
	if v.Commit != "" {
		line += " (commit " + v.Commit
		if v.Modified {
			line += ", modified"
		}
		line += ")"
	}
	line += ", " + v.GoVersion + "\n"
	if v.Root == nil {
		return line + "embedded root: none (clients need --root and --repo)\n"
	}
	return line + fmt.Sprintf("embedded root: v%d, expires %s; repositories: %v\n", v.Root.Version, v.Root.Expires.Format(time.RFC3339), v.Repos)
}

type versionOptions struct {
	streams
	Format string
}

func newVersionCommand(std streams) *cobra.Command {
	opts := versionOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "version [--format text|json]",
		Short: "Print the version, the commit, and the root of trust built in",
		Example: `  tufkeys version
  tufkeys --version
  tufkeys version -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error { return runVersion(opts) },
	}
	addFormatFlag(cmd, &opts.Format, "text")
	return cmd
}

func runVersion(opts versionOptions) error {
	v := buildVersion()
	switch opts.Format {
	case "json":
		return writeJSON(opts.Out, v)
	case "text":
		_, err := fmt.Fprint(opts.Out, v.text())
		return err
	}
	return usagef("--format %q is not text or json", opts.Format)
}

// writeJSON writes one JSON document, indented, with a final newline.
func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
