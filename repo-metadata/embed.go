// Package repometadata is the trust root that builds of tufkeys embed: the
// root.json of a deployment's TUF repository and the URLs of its
// repository and mirrors. The tree ships without them; a deployment puts
// its own here after its first signing ceremony (see README.md).
package repometadata

import (
	"bufio"
	"bytes"
	"embed"
	"strings"
)

// The pattern matches this directory's files whether or not a deployment
// has added root.json and repositories.txt.
//
//go:embed *
var files embed.FS

// Root returns the embedded root.json, nil when the build has none.
func Root() []byte {
	data, err := files.ReadFile("root.json")
	if err != nil {
		return nil
	}
	return data
}

// Repositories returns the embedded repository URLs, in the order clients
// try them: one per line in repositories.txt, # starting a comment.
func Repositories() []string {
	data, err := files.ReadFile("repositories.txt")
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
