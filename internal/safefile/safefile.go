// Package safefile writes files so that a crash leaves the old content or
// the new, never a mix, and reads files with a bound on their size.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrTooLarge marks a file larger than the caller allows.
var ErrTooLarge = errors.New("file too large")

// Write replaces path with data atomically and durably: it writes a
// temporary file in the same directory, syncs it and renames it over path.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteAtomic replaces path with data atomically but does not wait for the
// disk: after a crash the file holds the old bytes or the new ones. For
// caches, which can always be fetched again.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) error {
	return place(path, data, perm, durable, os.Rename)
}

// Create writes path with data atomically and durably, only if path does
// not exist yet: it fails with an error matching fs.ErrExist otherwise,
// even when another process creates path at the same moment.
func Create(path string, data []byte, perm os.FileMode) error {
	return place(path, data, perm, true, func(tmp, path string) error {
		// link, unlike rename, never replaces an existing name
		if err := os.Link(tmp, path); err != nil {
			return err
		}
		os.Remove(tmp) // path holds the data now; a leftover name costs nothing
		return nil
	})
}

// place writes data to a temporary file next to path and moves it there.
func place(path string, data []byte, perm os.FileMode, durable bool, move func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := move(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if durable {
		syncDir(dir)
	}
	return nil
}

// syncDir makes the rename durable; some systems cannot sync a directory,
// and the rename is still atomic there, so failure is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Read reads at most max bytes of path and fails with ErrTooLarge beyond.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, max)
}

// ReadAll reads at most max bytes from r, which name describes in errors,
// and fails with ErrTooLarge beyond.
func ReadAll(r io.Reader, name string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", name, max, ErrTooLarge)
	}
	return data, nil
}
