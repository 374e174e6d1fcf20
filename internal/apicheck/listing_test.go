package apicheck

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite api/tufkeys.txt from the code")

// embeddable are the packages offered to other programs (the README's Go
// API section); their exported surface is listed in api/tufkeys.txt.
var embeddable = []string{"bundle", "client", "client/archive", "client/corepack", "client/mirror", "store", "store/s3", "translog"}

// listing is one line per exported name of the packages: funcs and methods
// with their signatures, types, fields, constants and variables.
func listing(t *testing.T) []byte {
	root := filepath.Join("..", "..")
	var lines []string
	for _, pkg := range embeddable {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, filepath.Join(root, pkg), func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		expr := func(n ast.Node) string {
			var b bytes.Buffer
			printer.Fprint(&b, fset, n)
			return strings.Join(strings.Fields(b.String()), " ")
		}
		for _, p := range pkgs {
			for _, f := range p.Files {
				for _, d := range f.Decls {
					switch d := d.(type) {
					case *ast.FuncDecl:
						if !d.Name.IsExported() {
							continue
						}
						recv := ""
						if d.Recv != nil {
							recv = "(" + expr(d.Recv.List[0].Type) + ") "
							if !ast.IsExported(strings.TrimLeft(expr(d.Recv.List[0].Type), "*")) {
								continue
							}
						}
						lines = append(lines, "pkg "+pkg+", func "+recv+d.Name.Name+strings.TrimPrefix(expr(d.Type), "func"))
					case *ast.GenDecl:
						for _, s := range d.Specs {
							switch s := s.(type) {
							case *ast.TypeSpec:
								if !s.Name.IsExported() {
									continue
								}
								lines = append(lines, "pkg "+pkg+", type "+s.Name.Name)
								if st, ok := s.Type.(*ast.StructType); ok {
									for _, fl := range st.Fields.List {
										for _, n := range fl.Names {
											if n.IsExported() {
												lines = append(lines, "pkg "+pkg+", field "+s.Name.Name+"."+n.Name+" "+expr(fl.Type))
											}
										}
									}
								}
							case *ast.ValueSpec:
								for _, n := range s.Names {
									if n.IsExported() {
										lines = append(lines, "pkg "+pkg+", "+d.Tok.String()+" "+n.Name)
									}
								}
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// The exported surface of the packages offered for embedding does not grow
// (or shrink) unnoticed: it is checked in as api/tufkeys.txt, which a
// change to the API updates on purpose (go test ./internal/apicheck -update).
func TestAPIListing(t *testing.T) {
	got := listing(t)
	path := filepath.Join("..", "..", "api", "tufkeys.txt")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		have := map[string]bool{}
		for _, l := range wl {
			have[l] = true
		}
		now := map[string]bool{}
		for _, l := range gl {
			now[l] = true
			if !have[l] {
				t.Errorf("new in the API: %s", l)
			}
		}
		for _, l := range wl {
			if !now[l] {
				t.Errorf("gone from the API: %s", l)
			}
		}
		t.Error("the API differs from api/tufkeys.txt: if on purpose, run go test ./internal/apicheck -update and commit it")
	}
}
