package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's JSON field tables from docs/schemas")

// schemaDoc is one JSON Schema of docs/schemas, with the commands whose
// -o json it describes.
type schemaDoc struct {
	file     string
	commands []string
	raw      map[string]any
	compiled *jsonschema.Schema
}

var (
	schemasOnce sync.Once
	schemaDocs  []schemaDoc
	schemasErr  error
)

func schemas(t *testing.T) []schemaDoc {
	t.Helper()
	schemasOnce.Do(func() {
		files, _ := filepath.Glob(filepath.Join(pkgDir, "..", "..", "docs", "schemas", "*.schema.json"))
		sort.Strings(files)
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
			if err != nil {
				schemasErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			url := "file:///schemas/" + filepath.Base(f)
			if err := c.AddResource(url, doc); err != nil {
				schemasErr = err
				return
			}
			compiled, err := c.Compile(url)
			if err != nil {
				schemasErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			var raw map[string]any
			json.Unmarshal(data, &raw)
			var commands []string
			for _, c := range raw["x-tufkeys-commands"].([]any) {
				commands = append(commands, c.(string))
			}
			schemaDocs = append(schemaDocs, schemaDoc{filepath.Base(f), commands, raw, compiled})
		}
	})
	if schemasErr != nil || len(schemaDocs) == 0 {
		t.Fatalf("docs/schemas: %v (%d schemas)", schemasErr, len(schemaDocs))
	}
	return schemaDocs
}

// schemaFor is the schema of the command args run.
func schemaFor(t *testing.T, args []string) schemaDoc {
	t.Helper()
	line := strings.Join(args, " ")
	best, n := schemaDoc{}, 0
	for _, s := range schemas(t) {
		for _, c := range s.commands {
			if (line == c || strings.HasPrefix(line, c+" ")) && len(c) > n {
				best, n = s, len(c)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no schema in docs/schemas describes tufkeys %s", line)
	}
	return best
}

// checkJSON validates one command's -o json output against its schema.
func checkJSON(t *testing.T, args []string, out string) {
	t.Helper()
	s := schemaFor(t, args)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Errorf("%v: not JSON: %v\n%s", args, err, out)
		return
	}
	if err := s.compiled.Validate(inst); err != nil {
		t.Errorf("tufkeys %s -o json does not match %s:\n%v\n%s", strings.Join(args, " "), s.file, err, out)
	}
}

// Every schema keeps the promise of stable JSON: each object lists every
// field as required and allows no other, and every field says what it is.
func TestSchemasAreStrict(t *testing.T) {
	var check func(where string, node map[string]any)
	check = func(where string, node map[string]any) {
		if props, ok := node["properties"].(map[string]any); ok {
			var required []string
			for _, r := range node["required"].([]any) {
				required = append(required, r.(string))
			}
			var names []string
			for name, p := range props {
				names = append(names, name)
				prop := p.(map[string]any)
				if d, _ := prop["description"].(string); d == "" {
					t.Errorf("%s.%s has no description", where, name)
				}
				check(where+"."+name, prop)
			}
			slices.Sort(names)
			slices.Sort(required)
			if !slices.Equal(names, required) {
				t.Errorf("%s: required %v, fields %v: every field is always present", where, required, names)
			}
			if node["additionalProperties"] != false {
				t.Errorf("%s allows fields it does not name", where)
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			check(where+"[]", items)
		}
	}
	seen := map[string]string{}
	for _, s := range schemas(t) {
		check(s.file, s.raw)
		for _, c := range s.commands {
			if other, ok := seen[c]; ok {
				t.Errorf("%s is described by %s and %s", c, other, s.file)
			}
			seen[c] = s.file
		}
	}
	// the schemas refuse what stable JSON rules out
	cache := schemaFor(t, []string{"cache", "info"})
	good := `{"dir":null,"in_memory":true,"repository":null,"checked_at":"2026-12-02T07:17:55Z","fresh":false,"verified":false,"problem":null,"roles":[],"key_lists":[]}`
	for name, doc := range map[string]string{
		"good":              good,
		"a field left out":  strings.Replace(good, `"problem":null,`, "", 1),
		"a field not named": strings.Replace(good, `"dir":null`, `"dir":null,"extra":1`, 1),
		"nanoseconds":       strings.Replace(good, "07:17:55Z", "07:17:55.123456789Z", 1),
		"not UTC":           strings.Replace(good, "07:17:55Z", "08:17:55+01:00", 1),
	} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err := cache.compiled.Validate(inst); (err == nil) != (name == "good") {
			t.Errorf("%s: validation says %v", name, err)
		}
	}
	// every command with -o json has a schema
	root := newRootCommand(streams{}, func() {})
	for _, c := range allCommands(root) {
		f := c.Flags().Lookup("format")
		if f == nil || !slices.Contains(f.Annotations[formatsAnnotation], "json") {
			continue
		}
		path := strings.TrimPrefix(c.CommandPath(), "tufkeys ")
		if _, ok := seen[path]; !ok {
			t.Errorf("tufkeys %s -o json has no schema in docs/schemas", path)
		}
	}
}

// fieldTable renders a schema as the README's table: one row per field,
// nested fields under their parent.
func fieldTable(s schemaDoc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` (`docs/schemas/%s`)\n\n| field | type | meaning |\n|---|---|---|\n", strings.Join(s.commands, "`, `"), s.file)
	var rows func(prefix string, node map[string]any)
	rows = func(prefix string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		var names []string
		for _, r := range node["required"].([]any) {
			names = append(names, r.(string))
		}
		for _, name := range names {
			p := props[name].(map[string]any)
			fmt.Fprintf(&b, "| `%s%s` | %s | %s |\n", prefix, name, typeName(p), strings.ReplaceAll(p["description"].(string), "|", "\\|"))
			if items, ok := p["items"].(map[string]any); ok && items["properties"] != nil {
				rows(prefix+name+"[].", items)
			}
			if p["properties"] != nil {
				rows(prefix+name+".", p)
			}
		}
	}
	rows("", s.raw)
	return b.String()
}

func typeName(p map[string]any) string {
	var kinds []string
	switch t := p["type"].(type) {
	case string:
		kinds = []string{t}
	case []any:
		for _, k := range t {
			kinds = append(kinds, k.(string))
		}
	}
	for i, k := range kinds {
		switch {
		case k == "string" && p["format"] == "date-time":
			kinds[i] = "time"
		case k == "array":
			item, _ := p["items"].(map[string]any)
			if it, _ := item["type"].(string); it == "object" {
				kinds[i] = "list of objects"
			} else {
				kinds[i] = "list of " + it + "s"
			}
		}
	}
	return strings.Join(kinds, " or ")
}

const (
	tablesBegin = "<!-- JSON field tables: generated from docs/schemas by go test ./cmd/tufkeys -run TestREADMEFieldTables -update-readme -->\n"
	tablesEnd   = "<!-- end of JSON field tables -->\n"
)

// The README's JSON field tables are the schemas, rendered.
func TestREADMEFieldTables(t *testing.T) {
	var b strings.Builder
	b.WriteString(tablesBegin)
	for _, s := range schemas(t) {
		b.WriteString("\n" + fieldTable(s))
	}
	b.WriteString("\n" + tablesEnd)
	path := filepath.Join(pkgDir, "..", "..", "docs", "reference.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i, j := strings.Index(readme, tablesBegin), strings.Index(readme, tablesEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/reference.md has no JSON field tables between %q and %q", tablesBegin, tablesEnd)
	}
	want := readme[:i] + b.String() + readme[j+len(tablesEnd):]
	if want == readme {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the JSON field tables of docs/reference.md differ from docs/schemas: run go test ./cmd/tufkeys -run TestREADMEFieldTables -update-readme")
}
