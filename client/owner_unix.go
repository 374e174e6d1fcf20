//go:build unix

package client

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// noFollow makes an open fail on a symbolic link instead of following it.
const noFollow = syscall.O_NOFOLLOW

// checkOwned refuses a cache entry that another user owns or may write:
// whoever can write the cache decides what tufkeys trusts.
func checkOwned(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := os.Geteuid(); int(st.Uid) != me {
		return fmt.Errorf("the cache %s belongs to uid %d, not to this user (uid %d), who would trust whatever it holds: use a cache directory of your own, or remove it: %w", path, st.Uid, me, ErrUnsafeCache)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the cache %s may be written by other users (mode %04o), who could change what tufkeys trusts: run chmod go-w %s, or use another cache directory: %w", path, fi.Mode().Perm(), path, ErrUnsafeCache)
	}
	return nil
}
