//go:build !unix

package tailer

import "os"

// inodeOf is not implemented off Unix: files cannot be identified, so the
// tailer refuses to follow them.
func inodeOf(os.FileInfo) (inode, bool) { return inode{}, false }

const openFlags = 0
