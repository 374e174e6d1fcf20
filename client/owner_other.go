//go:build !unix

package client

import "io/fs"

// noFollow is not available: links are refused by the Lstat checks alone.
const noFollow = 0

// checkOwned has no portable owner to compare: the cache directory's
// access control list is the operating system's to enforce.
func checkOwned(string, fs.FileInfo) error { return nil }
