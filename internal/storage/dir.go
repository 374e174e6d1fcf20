package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tufkeys/tufkeys/internal/safefile"
)

// Dir is a store on the local file system, for a directory that a web
// server serves (tufkeys serve, or any static server).
type Dir struct {
	Root string
}

// NewDir returns a store rooted at dir, creating it if needed.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create repository directory %s: %w", dir, err)
	}
	return &Dir{Root: dir}, nil
}

func (d *Dir) String() string { return d.Root }

func (d *Dir) path(name string) (string, error) {
	local := filepath.FromSlash(name)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("object name %q leaves the repository directory", name)
	}
	return filepath.Join(d.Root, local), nil
}

func (d *Dir) Get(ctx context.Context, name string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	data, err := safefile.Read(p, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return data, err
}

func (d *Dir) Put(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", name, err)
	}
	return safefile.Write(p, data, 0o644)
}

func (d *Dir) Compare(ctx context.Context, name string, data []byte) (State, error) {
	if err := ctx.Err(); err != nil {
		return Missing, err
	}
	p, err := d.path(name)
	if err != nil {
		return Missing, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Missing, nil
	}
	if err != nil {
		return Missing, err
	}
	defer f.Close()
	// read one byte more than data holds, so a longer file shows as different
	have, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	if err != nil {
		return Missing, err
	}
	if bytes.Equal(have, data) {
		return Same, nil
	}
	return Different, nil
}
