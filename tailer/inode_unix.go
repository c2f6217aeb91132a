//go:build unix

package tailer

import (
	"os"
	"syscall"
)

// inodeOf returns the device and inode of fi.
func inodeOf(fi os.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, false
	}
	return inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // types differ per platform
}

// openFlags keep open from blocking on a FIFO that replaced a log file.
const openFlags = syscall.O_NONBLOCK
