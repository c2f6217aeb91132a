package tailer

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// FingerprintSize is the number of leading bytes hashed into a FileID. A
// file shorter than that is fingerprinted over its whole length and the
// fingerprint is extended while the file grows, up to FingerprintSize.
const FingerprintSize = 1024

// FileID identifies one log file across renames and restarts: the device
// and inode it lives on plus a hash of its first FingerprintLen bytes
// (FNV-1a, 64 bit). The inode says "same file object", the fingerprint says
// "same content": an inode reused after a delete, or a file truncated in
// place (copytruncate), keeps its inode but changes its fingerprint, and a
// copy of a file (copytruncate's rotated copy) changes its inode but keeps
// its fingerprint.
type FileID struct {
	Dev, Ino       uint64
	Fingerprint    uint64
	FingerprintLen int
}

// String formats the identity for logs.
func (id FileID) String() string {
	return fmt.Sprintf("%d:%d/%016x+%d", id.Dev, id.Ino, id.Fingerprint, id.FingerprintLen)
}

// key is the inode part of a FileID, the key of the followed-files map.
func (id FileID) key() inode { return inode{dev: id.Dev, ino: id.Ino} }

// inode is a (device, inode number) pair.
type inode struct{ dev, ino uint64 }

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv1a continues an FNV-1a hash over p. It is inlined here rather than
// taken from hash/fnv so the per-read check allocates nothing.
func fnv1a(h uint64, p []byte) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// prefixReader reads the leading bytes of files into a reusable buffer.
type prefixReader struct {
	buf [FingerprintSize]byte
}

// read returns the first n bytes of f (n <= FingerprintSize).
func (pr *prefixReader) read(f *os.File, n int) ([]byte, error) {
	got, err := f.ReadAt(pr.buf[:n], 0)
	if got == n {
		return pr.buf[:n], nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read fingerprint of %s: %w", f.Name(), err)
}

// identify computes the FileID of the open file f of the given size.
func (pr *prefixReader) identify(f *os.File, fi os.FileInfo) (FileID, error) {
	k, ok := inodeOf(fi)
	if !ok {
		return FileID{}, fmt.Errorf("identify %s: no inode information", f.Name())
	}
	n := int(min(fi.Size(), FingerprintSize))
	p, err := pr.read(f, n)
	if err != nil {
		return FileID{}, err
	}
	return FileID{Dev: k.dev, Ino: k.ino, Fingerprint: fnv1a(fnvOffset64, p), FingerprintLen: n}, nil
}

// sameContent reports whether the open file f of the given size starts
// with the bytes id was computed from. A file shorter than the fingerprint
// cannot: log files only shrink by truncation. An empty fingerprint
// matches any file.
func (pr *prefixReader) sameContent(id FileID, f *os.File, size int64) (bool, error) {
	if size < int64(id.FingerprintLen) {
		return false, nil
	}
	p, err := pr.read(f, id.FingerprintLen)
	if err != nil {
		return false, err
	}
	return fnv1a(fnvOffset64, p) == id.Fingerprint, nil
}

// extend checks that f (now size bytes long) still starts with the bytes
// of id and returns id with its fingerprint extended to
// min(size, FingerprintSize). ok is false when the content changed, i.e.
// the file was truncated and rewritten.
func (pr *prefixReader) extend(id FileID, f *os.File, size int64) (FileID, bool, error) {
	if size < int64(id.FingerprintLen) {
		return id, false, nil
	}
	n := int(min(size, FingerprintSize))
	p, err := pr.read(f, n)
	if err != nil {
		return id, false, err
	}
	h := fnv1a(fnvOffset64, p[:id.FingerprintLen])
	if h != id.Fingerprint {
		return id, false, nil
	}
	id.Fingerprint = fnv1a(h, p[id.FingerprintLen:])
	id.FingerprintLen = n
	return id, true, nil
}

// generation is the content identity of a file's current generation: its
// FileID and, when known, the leading bytes its fingerprint hashes. The
// bytes recognise a copy shorter than the fingerprint (copytruncate copied
// the file while it was shorter, then more was written before the
// truncate); a checkpoint carries only the hash.
type generation struct {
	id   FileID
	head []byte
}

// copyOf reports whether f (size bytes) is a copy of g: it starts with the
// bytes g's fingerprint hashes or, shorter than those, its bytes are the
// start of g's head. An empty fingerprint matches any file.
func (pr *prefixReader) copyOf(g generation, f *os.File, size int64) (bool, error) {
	if size >= int64(g.id.FingerprintLen) {
		return pr.sameContent(g.id, f, size)
	}
	if size == 0 || int64(len(g.head)) < size {
		return false, nil
	}
	p, err := pr.read(f, int(size))
	if err != nil {
		return false, err
	}
	return bytes.Equal(p, g.head[:size]), nil
}

// isPrefixOf reports whether the first min(len) bytes of a and b agree,
// with at least one byte compared. It tells a copy in progress (a new file
// whose bytes so far equal the start of a followed file) from a new log.
func (pr *prefixReader) isPrefixOf(a *os.File, aSize int64, b *os.File, bSize int64) (bool, error) {
	n := int(min(aSize, bSize, FingerprintSize))
	if n == 0 {
		return false, nil
	}
	pa, err := pr.read(a, n)
	if err != nil {
		return false, err
	}
	ha := fnv1a(fnvOffset64, pa)
	pb, err := pr.read(b, n)
	if err != nil {
		return false, err
	}
	return ha == fnv1a(fnvOffset64, pb), nil
}
