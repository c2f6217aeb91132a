package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// bbolt's on-disk meta page (go.etcd.io/bbolt internal/common/meta.go, file
// format version 2). The store reads it directly in two places where it must
// not, or cannot, hand the file to bbolt first: the pre-open sanity check of
// a possibly corrupt file (recover.go) and the snapshot copy of a live file
// (readonly.go). Fields are in the machine's byte order, as bbolt writes them
// through unsafe pointer casts.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	metaSize         = 64 // magic .. checksum
	metaChecksumAt   = 56 // the checksum covers the bytes before it
	noFreelist       = ^uint64(0)
	minPageSize      = 1024
	maxPageSizeShift = 14 // bbolt probes page sizes 1 KiB << 0..14
)

// errNoMeta means neither meta page of a file is valid: it is not a bbolt
// database, or both copies of its root pointer are damaged.
var errNoMeta = errors.New("no valid bbolt meta page")

// boltMeta is the part of a bbolt meta page the store needs.
type boltMeta struct {
	pageSize uint32
	root     uint64 // page of the root bucket
	freelist uint64 // page of the freelist, noFreelist when not synced
	hwm      uint64 // high-water mark: pages [0, hwm) make up the database
	txid     uint64 // id of the transaction that wrote this meta
}

// dataSize is the number of bytes the database described by m occupies.
func (m boltMeta) dataSize() int64 { return int64(m.hwm) * int64(m.pageSize) }

// parseMeta decodes and validates the meta stored in page buffer p (the
// page header followed by the meta), the way bbolt's Meta.Validate does.
func parseMeta(p []byte) (boltMeta, error) {
	if len(p) < pageHeaderSize+metaSize {
		return boltMeta{}, errNoMeta
	}
	b := p[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != boltMagic {
		return boltMeta{}, fmt.Errorf("%w: bad magic", errNoMeta)
	}
	if v := ne.Uint32(b[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("%w: file format version %d, want %d", errNoMeta, v, boltVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:metaChecksumAt])
	if ne.Uint64(b[metaChecksumAt:]) != h.Sum64() {
		return boltMeta{}, fmt.Errorf("%w: checksum mismatch", errNoMeta)
	}
	m := boltMeta{
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]), // root bucket: root pgid, then sequence
		freelist: ne.Uint64(b[32:]),
		hwm:      ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("%w: page size %d", errNoMeta, m.pageSize)
	}
	return m, nil
}

// readMeta returns the meta bbolt would use for the file r of the given
// size: the valid one of the two meta pages with the higher transaction id.
// Like bbolt it takes the page size from meta page 0 and, when that page is
// damaged, probes the power-of-two offsets where page 1 may start.
func readMeta(r io.ReaderAt, size int64) (boltMeta, error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	read := func(off int64) (boltMeta, error) {
		if off+int64(len(buf)) > size {
			return boltMeta{}, fmt.Errorf("%w: file too short (%d bytes)", errNoMeta, size)
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			return boltMeta{}, err
		}
		return parseMeta(buf)
	}

	m0, err0 := read(0)
	if err0 == nil {
		m1, err1 := read(int64(m0.pageSize))
		if err1 == nil && m1.pageSize == m0.pageSize && m1.txid > m0.txid {
			return m1, nil
		}
		return m0, nil
	}
	for i := 0; i <= maxPageSizeShift; i++ {
		if m1, err := read(int64(minPageSize) << i); err == nil && m1.pageSize == minPageSize<<i {
			return m1, nil
		}
	}
	return boltMeta{}, err0
}
