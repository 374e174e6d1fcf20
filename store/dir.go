package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/tufkeys/tufkeys/internal/safefile"
)

// Dir is a store on the local file system, for a directory that a web
// server serves (tufkeys serve, or any static server).
type Dir struct {
	Root string
}

// DirLockFile is taken by every conditional write to a directory store,
// so that two writers on one machine, or on one network file system with
// working locks, check and replace an object one at a time. Its name
// starts with a dot: tufkeys serve does not serve it.
const DirLockFile = ".tufkeys.lock"

// dirLockWait bounds the wait for another writer's conditional write,
// which holds the lock for one small file.
const dirLockWait = 30 * time.Second

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

func (d *Dir) Get(ctx context.Context, name string, max int64) ([]byte, Tag, error) {
	if err := ctx.Err(); err != nil {
		return nil, Absent, err
	}
	p, err := d.path(name)
	if err != nil {
		return nil, Absent, err
	}
	data, err := safefile.Read(p, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Absent, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, Absent, err
	}
	return data, contentTag(data), nil
}

func (d *Dir) Put(ctx context.Context, name string, data []byte, ifMatch Tag) error {
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
	switch ifMatch {
	case Always:
		return safefile.Write(p, data, 0o644)
	case Absent:
		// a hard link never replaces an existing name, so of two writers
		// creating one name exactly one succeeds, and neither needs a lock
		err := safefile.Create(p, data, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %s was created by another writer: %w", d.Root, name, ErrChanged)
		}
		var linkErr *os.LinkError
		if !errors.As(err, &linkErr) {
			return err
		}
		// a file system without hard links: check and write under the
		// lock instead, as for a replacement
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	have, err := fileTag(p)
	if err != nil {
		return err
	}
	if have != ifMatch {
		return fmt.Errorf("%s: %s was changed by another writer: %w", d.Root, name, ErrChanged)
	}
	return safefile.Write(p, data, 0o644)
}

func (d *Dir) lock(ctx context.Context) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, dirLockWait)
	defer cancel()
	l := flock.New(filepath.Join(d.Root, DirLockFile))
	ok, err := l.TryLockContext(ctx, 10*time.Millisecond)
	if !ok {
		return nil, fmt.Errorf("%s stayed locked by another writer for %s (%v): check for a stuck tufkeys process", filepath.Join(d.Root, DirLockFile), dirLockWait, err)
	}
	return func() { l.Unlock() }, nil
}

func (d *Dir) Compare(ctx context.Context, name string, data []byte) (State, Tag, error) {
	if err := ctx.Err(); err != nil {
		return Missing, Absent, err
	}
	p, err := d.path(name)
	if err != nil {
		return Missing, Absent, err
	}
	tag, err := fileTag(p)
	switch {
	case err != nil:
		return Missing, Absent, err
	case tag == Absent:
		return Missing, Absent, nil
	case tag == contentTag(data):
		return Same, tag, nil
	default:
		return Different, tag, nil
	}
}

// contentTag is a directory object's tag: the hash of its bytes.
func contentTag(data []byte) Tag {
	sum := sha256.Sum256(data)
	return Tag("sha256:" + hex.EncodeToString(sum[:]))
}

// fileTag hashes a file as it is streamed, so that a large object costs no
// memory; Absent when there is no such file.
func fileTag(p string) (Tag, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Absent, nil
	}
	if err != nil {
		return Absent, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Absent, err
	}
	return Tag("sha256:" + hex.EncodeToString(h.Sum(nil))), nil
}
