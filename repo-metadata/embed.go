// Package repometadata is the trust that builds of tufkeys embed: the
// sources a client reads registries' key lists from, each a TUF
// repository's root.json and the URLs of the repository and its mirrors.
//
// The tree ships one source, Sigstore's public-good repository
// (sources/sigstore). A deployment adds its own in front: root.json and
// repositories.txt at the top of this directory (scripts/build-with-root.sh
// writes them), which is asked first.
package repometadata

import (
	"bufio"
	"bytes"
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// The pattern matches this directory's files whether or not a deployment
// has added root.json and repositories.txt.
//
//go:embed *
var files embed.FS

// DeploymentName is the name of the source a deployment embeds at the top
// of this directory.
const DeploymentName = "deployment"

// Source is one TUF repository the build trusts.
type Source struct {
	// Name says which source it is, in messages, in `tufkeys sources`
	// and in the name of its cache directory.
	Name string
	// Root is the trusted root.json the client starts its root walk from.
	Root []byte
	// Repositories are the repository's URLs, in the order clients try them.
	Repositories []string
}

// Sources returns the build's sources in the order clients ask them: the
// deployment's own first, then those under sources/, by name. A source
// without a root or without a URL is left out.
func Sources() []Source {
	var out []Source
	if root := Root(); root != nil {
		if urls := Repositories(); len(urls) > 0 {
			out = append(out, Source{Name: DeploymentName, Root: root, Repositories: urls})
		}
	}
	entries, err := fs.ReadDir(files, "sources")
	if err != nil {
		return out
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		root, err := files.ReadFile(path.Join("sources", name, "root.json"))
		if err != nil {
			continue
		}
		urls := readURLs(path.Join("sources", name, "repositories.txt"))
		if len(urls) == 0 {
			continue
		}
		out = append(out, Source{Name: name, Root: root, Repositories: urls})
	}
	return out
}

// Root returns the deployment's embedded root.json, nil when the build
// has none.
func Root() []byte {
	data, err := files.ReadFile("root.json")
	if err != nil {
		return nil
	}
	return data
}

// Repositories returns the deployment's embedded repository URLs, in the
// order clients try them: one per line in repositories.txt, # starting a
// comment.
func Repositories() []string { return readURLs("repositories.txt") }

func readURLs(name string) []string {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil
	}
	var urls []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			urls = append(urls, line)
		}
	}
	return urls
}
