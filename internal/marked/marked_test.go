package marked

import (
	"errors"
	"io/fs"
	"testing"
)

var errKind = errors.New("kind words")

func TestErrorf(t *testing.T) {
	err := Errorf(errKind, "the file %s is missing: %w", "a.json", fs.ErrNotExist)
	if got := err.Error(); got != "the file a.json is missing: file does not exist" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, errKind) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is misses the kind or the wrapped error: %v", err)
	}
	var pe *fs.PathError
	if errors.As(Errorf(errKind, "read: %w", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}), &pe) == false {
		t.Error("errors.As does not reach the wrapped error")
	}
}
