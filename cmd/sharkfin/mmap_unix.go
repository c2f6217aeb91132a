//go:build unix

package main

import (
	"os"
	"strings"
	"syscall"
)

// mapFile maps a plain, non-empty, uncompressed file read-only, so a whole
// file is parsed in place without read calls or copies. ok is false when
// the file should be read as a stream instead.
func mapFile(path string) (data []byte, unmap func(), ok bool) {
	if path == "-" || strings.HasSuffix(path, ".gz") {
		return nil, nil, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, nil, false
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, false
	}
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	return data, func() { _ = syscall.Munmap(data) }, true
}
