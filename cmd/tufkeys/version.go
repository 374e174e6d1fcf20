package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// versionInfo is what tufkeys version reports, from the build itself.
type versionInfo struct {
	Version   string   `json:"version"`
	Commit    *string  `json:"commit"`
	Modified  *bool    `json:"modified"`
	GoVersion string   `json:"go_version"`
	Root      *rootTag `json:"embedded_root"`
	Repos     []string `json:"embedded_repositories"`
	// Sources are every source built in, in the order clients ask them;
	// Root and Repos are the first's.
	Sources []sourceTag `json:"sources"`
}

// sourceTag is one source built in.
type sourceTag struct {
	Name  string   `json:"name"`
	Root  *rootTag `json:"root"`
	Repos []string `json:"repositories"`
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

// releaseVersion is the version a packaged build reports, set at link
// time (scripts/build-client.sh with TUFKEYS_VERSION); empty: the module's.
var releaseVersion string

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", GoVersion: "unknown", Repos: []string{}, Sources: []sourceTag{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.GoVersion = bi.GoVersion
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
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
	if releaseVersion != "" {
		v.Version = releaseVersion
	}
	for i, src := range builtinSources() {
		tag := sourceTag{Name: src.Name, Repos: src.Repositories}
		if md, err := metadata.Root().FromBytes(src.Root); err == nil {
			tag.Root = &rootTag{md.Signed.Version, jsonTime(md.Signed.Expires)}
		}
		if i == 0 {
			v.Root, v.Repos = tag.Root, src.Repositories
		}
		v.Sources = append(v.Sources, tag)
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
	if len(v.Sources) == 0 {
		return line + "sources built in: none (clients need --root and --repo)\n"
	}
	var parts []string
	for _, s := range v.Sources {
		root := "no root"
		if s.Root != nil {
			root = fmt.Sprintf("root v%d, expires %s", s.Root.Version, time.Time(s.Root.Expires).UTC().Format(time.RFC3339))
		}
		parts = append(parts, fmt.Sprintf("%s (%s; %s)", s.Name, root, strings.Join(s.Repos, ", ")))
	}
	return line + "sources built in: " + strings.Join(parts, "; ") + "\n"
}

type versionOptions struct {
	streams
	Format string
}

func newVersionCommand(std streams) *cobra.Command {
	opts := versionOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "version [--format text|json]",
		Short: "Print the version, the commit, and the sources of trust built in",
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

// writeReport writes one JSON document, indented, or on one line for a
// command that prints one document per line.
func writeReport(w interface{ Write([]byte) (int, error) }, v any, oneLine bool) error {
	if !oneLine {
		return writeJSON(w, v)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSON writes one JSON document, indented, with a final newline.
func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
