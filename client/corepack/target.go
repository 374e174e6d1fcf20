package corepack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Target is the package manager version a Corepack command is about to
// fetch and verify with the keys it is handed.
type Target struct {
	// Manager is pnpm, yarn or npm; Version an exact version.
	Manager, Version string
	// Package is the registry package Corepack fetches it as.
	Package string
	// From says where the version was read: an argument, or a
	// package.json's packageManager field.
	From string
}

// ID is package@version, the way the registry names it.
func (t Target) ID() string { return t.Package + "@" + t.Version }

// binaries are the commands Corepack answers to, by manager.
var binaries = map[string]string{"pnpm": "pnpm", "pnpx": "pnpm", "yarn": "yarn", "yarnpkg": "yarn", "npm": "npm", "npx": "npm"}

// exactVersion matches an exact version; compiled when first needed, so
// that a process that never asks pays nothing at start.
var exactVersion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z.-]{1,64})?$`)
})

// maxManifest bounds a package.json read for its packageManager field.
const maxManifest = 1 << 20

// ErrManifest marks a package.json that cannot be read as Corepack reads
// it: too large, not JSON, or nested too deep. Corepack stops at such a
// file too, so its packageManager is never looked for further up.
var ErrManifest = errors.New("package.json cannot be read")

// FindTarget says which version a command will make Corepack fetch, when
// that can be known before it runs: corepack NAME@VERSION …, or corepack
// NAME … and the package managers' own commands, with the packageManager
// field of the nearest package.json from dir that has one (as Corepack
// finds it). ok is false when the version is Corepack's to choose (a bare
// command with no packageManager, a range or a tag), or when Corepack
// verifies it without keys (Yarn 2 and later, or a pinned hash). A
// package.json on the way that cannot be read is ErrManifest.
func FindTarget(argv []string, dir string) (Target, bool, error) {
	if len(argv) == 0 {
		return Target{}, false, nil
	}
	base := filepath.Base(argv[0])
	manager, pinned := binaries[base]
	if !pinned {
		if strings.TrimSuffix(base, ".js") != "corepack" || len(argv) < 2 {
			return Target{}, false, nil
		}
		name, version, hasVersion := strings.Cut(argv[1], "@")
		if manager, pinned = binaries[name]; !pinned {
			return Target{}, false, nil
		}
		if hasVersion {
			t, ok := target(manager, version, "the argument "+argv[1])
			return t, ok, nil
		}
	}
	spec, file, err := packageManager(dir)
	if err != nil {
		return Target{}, false, err
	}
	name, version, ok := strings.Cut(spec, "@")
	if !ok || name != manager {
		return Target{}, false, nil
	}
	if strings.Contains(version, "+") {
		// a pinned hash: Corepack checks the tarball against it, not the keys
		return Target{}, false, nil
	}
	t, ok := target(manager, version, "packageManager in "+file)
	return t, ok, nil
}

func target(manager, version, from string) (Target, bool) {
	if !exactVersion().MatchString(version) {
		return Target{}, false
	}
	pkg := manager
	if manager == "yarn" {
		major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
		if major >= 2 {
			// Corepack verifies Yarn 2 and later by URL, without the keys
			return Target{}, false
		}
	}
	return Target{Manager: manager, Version: version, Package: pkg, From: from}, true
}

// packageManager is the packageManager field of the nearest package.json
// from dir upwards that has one, skipping node_modules, read as Corepack
// reads it with JSON.parse: the exact key, the last of duplicates. A
// package.json that is not a readable JSON object stops the search with
// ErrManifest, as it stops Corepack.
func packageManager(dir string) (spec, file string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := abs; ; {
		if filepath.Base(d) != "node_modules" && !strings.Contains(d, string(filepath.Separator)+"node_modules"+string(filepath.Separator)) {
			p := filepath.Join(d, "package.json")
			spec, found, err := readPackageManager(p)
			if err != nil || found {
				return spec, p, err
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", nil
		}
		d = parent
	}
}

// readPackageManager reads one package.json's packageManager field;
// found is false when the file or the field is absent.
func readPackageManager(p string) (spec string, found bool, err error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%s: %v: %w", p, err, ErrManifest)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return "", false, fmt.Errorf("%s: %v: %w", p, err, ErrManifest)
	}
	if len(data) > maxManifest {
		return "", false, fmt.Errorf("%s is larger than %d bytes: %w", p, maxManifest, ErrManifest)
	}
	// a map keeps exact keys, the last duplicate winning, as JSON.parse does
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return "", false, fmt.Errorf("%s is not a JSON object tufkeys can read (%v): %w", p, err, ErrManifest)
	}
	raw, ok := m["packageManager"]
	if !ok {
		return "", false, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, fmt.Errorf("%s: %v: %w", p, err, ErrManifest)
	}
	// Corepack goes on upwards past a falsy field, and stops with an
	// error at one that is not a string
	s, isString := v.(string)
	switch {
	case v == nil || v == false || v == 0.0:
		return "", false, nil
	case !isString:
		return "", false, fmt.Errorf("%s: packageManager is not a string: %w", p, ErrManifest)
	case s == "":
		return "", false, nil
	}
	return strings.TrimSpace(s), true, nil
}

// keyidInFailure reads the keyids of the signatures Corepack names when it
// fails with "Cannot find matching keyid: {signatures, keys}".
var keyidInFailure = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Cannot find matching keyid: (\{.*\})`) })

// FailedKeyIDs returns the keyids Corepack's unknown-keyid failure names in
// its standard error, or nil when it did not fail that way.
func FailedKeyIDs(stderr []byte) []string {
	m := keyidInFailure().FindSubmatch(stderr)
	if m == nil {
		return nil
	}
	var doc struct {
		Signatures []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	}
	if json.Unmarshal(m[1], &doc) != nil {
		return nil
	}
	var ids []string
	for _, s := range doc.Signatures {
		if s.KeyID != "" && len(s.KeyID) <= 128 && len(ids) < 32 {
			ids = append(ids, s.KeyID)
		}
	}
	return ids
}
