//go:build unix

package config

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// writable reports whether this process may write path (a file, or a
// directory to create files in), as access(2) with W_OK decides; it also
// fails on read-only file systems.
func writable(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}
