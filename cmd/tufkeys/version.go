package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// versionInfo is what tufkeys version reports, from the build itself.
type versionInfo struct {
	Version   string   `json:"version"`
	Commit    *string  `json:"commit"`
	Modified  *bool    `json:"modified"`
	GoVersion string   `json:"go_version"`
	Root      *rootTag `json:"embedded_root"`
	Repos     []string `json:"embedded_repositories"`
}

type rootTag struct {
	Version int64    `json:"version"`
	Expires jsonTime `json:"expires"`
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
				v.Commit = orNull(s.Value)
			case "vcs.modified":
				modified := s.Value == "true"
				v.Modified = &modified
			}
		}
	}
	if data := repometadata.Root(); data != nil {
		if md, err := metadata.Root().FromBytes(data); err == nil {
			v.Root = &rootTag{md.Signed.Version, jsonTime(md.Signed.Expires)}
		}
	}
	return v
}

// text is the version in one line and what the build trusts in a second.
func (v versionInfo) text() string {
	line := "tufkeys " + v.Version
	if v.Commit != nil {
		line += " (commit " + *v.Commit
		if v.Modified != nil && *v.Modified {
			line += ", modified"
		}
		line += ")"
	}
	line += ", " + v.GoVersion + "\n"
	if v.Root == nil {
		return line + "embedded root: none (clients need --root and --repo)\n"
	}
	repos := "none (clients need --repo)"
	if len(v.Repos) > 0 {
		repos = strings.Join(v.Repos, ", ")
	}
	expires := time.Time(v.Root.Expires).UTC().Format(time.RFC3339)
	return line + fmt.Sprintf("embedded root: v%d, expires %s; repositories: %s\n", v.Root.Version, expires, repos)
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
