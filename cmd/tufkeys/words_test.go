package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/watch"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// The CLI's words live in cmd: no other package's string literal names a
// flag of tufkeys or one of its commands. Libraries return typed errors,
// and cmd's hints say what to type (as the client package always did).
func TestLibrariesNameNoFlagOrCommand(t *testing.T) {
	root := newRootCommand(streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func() {})
	flags := map[string]bool{}
	var paths []string
	for _, c := range allCommands(root) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		if c == root || c.Name() == "help" {
			continue
		}
		path := c.CommandPath() // tufkeys repo stage, and repo stage
		paths = append(paths, regexp.QuoteMeta(path))
		if strings.Count(path, " ") > 1 {
			paths = append(paths, regexp.QuoteMeta(strings.TrimPrefix(path, "tufkeys ")))
		}
	}
	command := regexp.MustCompile(`\b(` + strings.Join(paths, "|") + `)\b`)
	flag := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	top := filepath.Join(pkgDir, "..", "..")
	checked := 0
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		if d.IsDir() {
			if rel == "cmd" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		checked++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range flag.FindAllStringSubmatch(s, -1) {
				if flags[m[1]] {
					t.Errorf("%s: names the flag --%s: %q", fset.Position(lit.Pos()), m[1], s)
				}
			}
			if m := command.FindString(s); m != "" {
				t.Errorf("%s: names the command %q: %q", fset.Position(lit.Pos()), m, s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files", checked)
	}
}

// What the libraries no longer say, cmd's hints say: each typed error gets
// the command or flag to type.
func TestHintsNameWhatToType(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&workspace.ExpiredError{Role: "root", Renew: "root"}, "tufkeys repo renew --role root, sign it, then publish"},
		{fmt.Errorf("wrapped: %w", &workspace.DroppedKeyError{Host: "h", KeyIDs: []string{"SHA256:a", "SHA256:b"}}), "--remove-key SHA256:a --remove-key SHA256:b"},
		{&workspace.OriginError{Origin: "o", Dest: "d"}, "tufkeys mirror --from ORIGIN-URL --to d, or pass --move-origin"},
		{fmt.Errorf("x: %w", workspace.ErrNotWorkspace), "run tufkeys repo init there first, or pass --workspace"},
		{fmt.Errorf("x: %w", workspace.ErrWorkspaceFormat), "a newer tufkeys wrote it"},
		{fmt.Errorf("x: %w", workspace.ErrUninitialized), "run tufkeys repo init first"},
		{workspace.ErrNothingPublished, "run tufkeys repo publish first"},
		{fmt.Errorf("x: %w", workspace.ErrResignTargets), "tufkeys repo renew --role targets"},
		{fmt.Errorf("x: %w", publish.ErrWrongOnlineKey), "--online-key"},
		{fmt.Errorf("x: %w", publish.ErrOtherRepository), "--to"},
		{fmt.Errorf("x: %w", keyfile.ErrUnencrypted), "tufkeys key generate"},
		{fmt.Errorf("x: %w", keyfile.ErrNoKeyFile), "--key"},
		{registry.ErrNoRegistry, "pass --registry URL"},
		{fmt.Errorf("x: %w", registry.ErrBadAnswer), "--registry"},
		{watch.ErrNoWorkspace, "--workspace"},
	} {
		if h := hint(tt.err); !strings.Contains(h, tt.want) {
			t.Errorf("hint for %v = %q, want %q", tt.err, h, tt.want)
		}
	}
}
