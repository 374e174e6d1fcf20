package corepack

import (
	"encoding/json"
	"io"
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

// FindTarget says which version a command will make Corepack fetch, when
// that can be known before it runs: corepack NAME@VERSION …, or corepack
// NAME … and the package managers' own commands, with the packageManager
// field of the nearest package.json from dir that has one (as Corepack
// finds it). ok is false when the version is Corepack's to choose (a bare
// command with no packageManager, a range or a tag), or when Corepack
// verifies it without keys (Yarn 2 and later, or a pinned hash).
func FindTarget(argv []string, dir string) (Target, bool) {
	if len(argv) == 0 {
		return Target{}, false
	}
	base := filepath.Base(argv[0])
	manager, pinned := binaries[base]
	if !pinned {
		if strings.TrimSuffix(base, ".js") != "corepack" || len(argv) < 2 {
			return Target{}, false
		}
		name, version, hasVersion := strings.Cut(argv[1], "@")
		if manager, pinned = binaries[name]; !pinned {
			return Target{}, false
		}
		if hasVersion {
			return target(manager, version, "the argument "+argv[1])
		}
	}
	spec, file := packageManager(dir)
	name, version, ok := strings.Cut(spec, "@")
	if !ok || name != manager {
		return Target{}, false
	}
	if strings.Contains(version, "+") {
		// a pinned hash: Corepack checks the tarball against it, not the keys
		return Target{}, false
	}
	return target(manager, version, "packageManager in "+file)
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
// from dir upwards that has one, skipping node_modules, as Corepack reads it.
func packageManager(dir string) (spec, file string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	for d := abs; ; {
		if filepath.Base(d) != "node_modules" && !strings.Contains(d, string(filepath.Separator)+"node_modules"+string(filepath.Separator)) {
			p := filepath.Join(d, "package.json")
			if f, err := os.Open(p); err == nil {
				data, _ := io.ReadAll(io.LimitReader(f, maxManifest))
				f.Close()
				var m struct {
					PackageManager *string `json:"packageManager"`
				}
				if json.Unmarshal(data, &m) == nil && m.PackageManager != nil {
					return strings.TrimSpace(*m.PackageManager), p
				}
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ""
		}
		d = parent
	}
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
