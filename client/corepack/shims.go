package corepack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ShimMarker is the file that marks a directory of shims: a lookup of the
// real command skips every directory that holds it, so shims never run
// themselves, wherever and however often their directory is on PATH.
const ShimMarker = ".tufkeys-shims"

// shimTag is the line that identifies a file as a shim tufkeys wrote.
const shimTag = "# tufkeys shim"

// ShimNames are the entry points written: Corepack's own and the package
// managers it runs.
var ShimNames = []string{"pnpm", "pnpx", "yarn", "yarnpkg", "corepack"}

// ErrNotShim marks a file in the shim directory that tufkeys did not write.
var ErrNotShim = errors.New("not a tufkeys shim")

// ErrNotFound marks a command found nowhere on PATH outside shim directories.
var ErrNotFound = errors.New("command not found")

// ShimOptions say what the shims run.
type ShimOptions struct {
	// Dir receives the shims; it is created when missing.
	Dir string
	// Tufkeys is the absolute path of the tufkeys binary the shims run.
	Tufkeys string
	// ExecArgs are the flags passed to tufkeys exec (repository, root, ...).
	ExecArgs []string
	// Corepack is the real Corepack's absolute path; empty: the first
	// corepack on PATH, outside shim directories, when the shim runs.
	Corepack string
}

// WriteShims writes the shims and the marker into opts.Dir, each file
// replaced atomically. It refuses to replace a file that is not a shim.
func WriteShims(opts ShimOptions) ([]string, error) {
	if !filepath.IsAbs(opts.Tufkeys) {
		return nil, fmt.Errorf("the tufkeys path %q is not absolute", opts.Tufkeys)
	}
	if opts.Corepack != "" && !filepath.IsAbs(opts.Corepack) {
		return nil, fmt.Errorf("the corepack path %q is not absolute", opts.Corepack)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	for _, name := range ShimNames {
		data, err := os.ReadFile(filepath.Join(opts.Dir, name))
		if err == nil && !bytes.Contains(data, []byte("\n"+shimTag)) {
			return nil, fmt.Errorf("%s exists: %w", filepath.Join(opts.Dir, name), ErrNotShim)
		}
	}
	corepack := "corepack"
	if opts.Corepack != "" {
		corepack = opts.Corepack
	}
	var written []string
	marker := "tufkeys wrote shims here; lookups of the real commands skip this directory.\n"
	if err := writeAtomic(filepath.Join(opts.Dir, ShimMarker), []byte(marker), 0o644); err != nil {
		return nil, err
	}
	for _, name := range ShimNames {
		argv := append([]string{opts.Tufkeys, "exec"}, opts.ExecArgs...)
		argv = append(argv, "--", corepack)
		if name != "corepack" {
			argv = append(argv, name)
		}
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = shellQuote(a)
		}
		script := "#!/bin/sh\n" + shimTag + ": " + name + " through Corepack, with the key lists tufkeys verified.\n" +
			"# Written by tufkeys; remove this directory to undo.\n" +
			"exec " + strings.Join(quoted, " ") + ` "$@"` + "\n"
		p := filepath.Join(opts.Dir, name)
		if err := writeAtomic(p, []byte(script), 0o755); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}

// shellQuote quotes s for sh: inside single quotes nothing is special but
// the quote itself.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LookPath finds name as a shell would on path, skipping every directory
// that holds shims. A name with a slash is used as it is.
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s is not an executable file: %w", name, ErrNotFound)
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if _, err := os.Stat(filepath.Join(dir, ShimMarker)); err == nil {
			continue
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH (outside tufkeys shim directories): %w", name, ErrNotFound)
}

// IsShim reports whether the file at p (after symbolic links) is a shim
// tufkeys wrote, wherever it now lies: a copy outside a shim directory,
// which a lookup does not skip, would make tufkeys exec run itself.
func IsShim(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	return bytes.Contains(head[:n], []byte("\n"+shimTag))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
