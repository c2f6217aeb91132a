package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// bbolt's page layout (go.etcd.io/bbolt internal/common/page.go), as
// checkPages reads it.
const (
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	bucketLeafFlag   = 0x01 // a leaf element that is a nested bucket
	pageElementSize  = 16   // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeaderSize = 16   // root pgid u64, sequence u64
	maxTreeDepth     = 64
)

// checkPages reads the tree of the database m describes straight from r,
// page by page, and checks what bbolt's own check does (tx_check.go): each
// page says its own id, lies below the high-water mark and is reached
// once (with its overflow pages), is a branch or a leaf, holds its
// elements inside itself, and keys are in order, within the range its
// parent gives it; nested buckets, inline ones included, the same.
//
// It runs before bbolt opens the file for writing. That open rebuilds the
// free list (NoFreelistSync) by walking the tree in a goroutine of its
// own, and on the first fault it finds it panics while the walk goes on
// reading pages through a map and a transaction already gone: a damaged
// file would crash the process instead of being moved aside. Read here
// first, a damaged file never reaches that walk.
func checkPages(r io.ReaderAt, m boltMeta) error {
	err := checkTree(r, m)
	var re readError
	if errors.As(err, &re) { // not the file's content: say so, do not move it aside
		return re.err
	}
	return err
}

// readError is a failed read of the file (EIO, say), which is not damage.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }

func checkTree(r io.ReaderAt, m boltMeta) error {
	c := pageChecker{r: r, m: m, seen: make([]uint64, (m.hwm+63)/64)}
	c.mark(0, 0) // the meta pages
	c.mark(1, 0)
	if m.freelist != noFreelist {
		h, err := c.header(m.freelist)
		if err != nil {
			return fmt.Errorf("%w: free list: %w", errCorrupt, err)
		}
		if err := c.mark(m.freelist, uint64(h.overflow)); err != nil {
			return fmt.Errorf("%w: free list: %w", errCorrupt, err)
		}
		if err := c.freelist(m.freelist, h); err != nil {
			return fmt.Errorf("%w: free list: %w", errCorrupt, err)
		}
	}
	if _, err := c.page(m.root, nil, nil, 0); err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return nil
}

type pageChecker struct {
	r    io.ReaderAt
	m    boltMeta
	seen []uint64 // a bit per page below the high-water mark
}

type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func decodeHeader(b []byte) pageHeader {
	ne := binary.NativeEndian
	return pageHeader{id: ne.Uint64(b), flags: ne.Uint16(b[8:]), count: ne.Uint16(b[10:]), overflow: ne.Uint32(b[12:])}
}

// header reads the header of page id.
func (c *pageChecker) header(id uint64) (pageHeader, error) {
	if id >= c.m.hwm {
		return pageHeader{}, fmt.Errorf("page %d at or past the high-water mark %d", id, c.m.hwm)
	}
	var b [pageHeaderSize]byte
	if _, err := c.r.ReadAt(b[:], int64(id)*int64(c.m.pageSize)); err != nil {
		return pageHeader{}, readError{fmt.Errorf("read page %d: %w", id, err)}
	}
	h := decodeHeader(b[:])
	if h.id != id {
		return pageHeader{}, fmt.Errorf("page %d says it is page %d", id, h.id)
	}
	return h, nil
}

// mark records pages id to id+overflow as reached, once.
func (c *pageChecker) mark(id, overflow uint64) error {
	if id+overflow < id || id+overflow >= c.m.hwm {
		return fmt.Errorf("page %d and %d overflow pages run past the high-water mark %d", id, overflow, c.m.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		w, bit := p/64, uint64(1)<<(p%64)
		if c.seen[w]&bit != 0 {
			return fmt.Errorf("page %d reached twice", p)
		}
		c.seen[w] |= bit
	}
	return nil
}

// page checks page id and what it leads to; its keys must be at least lo
// and below hi (nil: unbounded), as bbolt's recursivelyCheckPageKeyOrder
// has it. It returns the largest key under it.
func (c *pageChecker) page(id uint64, lo, hi []byte, depth int) ([]byte, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	h, err := c.header(id)
	if err != nil {
		return nil, err
	}
	if err := c.mark(id, uint64(h.overflow)); err != nil {
		return nil, err
	}
	buf := make([]byte, (uint64(h.overflow)+1)*uint64(c.m.pageSize))
	if _, err := c.r.ReadAt(buf, int64(id)*int64(c.m.pageSize)); err != nil {
		return nil, readError{fmt.Errorf("read page %d: %w", id, err)}
	}
	return c.elements(buf, fmt.Sprintf("page %d", id), lo, hi, depth)
}

// elements checks the elements of the page in buf (a page of the file or
// an inline bucket's) and returns its largest key.
func (c *pageChecker) elements(buf []byte, name string, lo, hi []byte, depth int) ([]byte, error) {
	h := decodeHeader(buf)
	n := int(h.count)
	if pageHeaderSize+n*pageElementSize > len(buf) {
		return nil, fmt.Errorf("%s: %d elements do not fit in it", name, n)
	}
	ne := binary.NativeEndian
	slice := func(at, l uint64) ([]byte, bool) {
		if at > uint64(len(buf)) || l > uint64(len(buf))-at {
			return nil, false
		}
		return buf[at : at+l], true
	}
	// order checks key i against min: the first at least min, the others
	// above it (the previous key, or the largest under the previous
	// child), all below hi.
	order := func(i int, k, min []byte) error {
		if i == 0 && min != nil && bytes.Compare(min, k) > 0 || i > 0 && bytes.Compare(min, k) >= 0 {
			return fmt.Errorf("%s: key %d %q out of order after %q", name, i, k, min)
		}
		if hi != nil && bytes.Compare(k, hi) >= 0 {
			return fmt.Errorf("%s: key %d %q not below %q, the next key of its parent", name, i, k, hi)
		}
		return nil
	}
	switch {
	case h.flags == branchPageFlag:
		if n == 0 {
			return nil, fmt.Errorf("%s: a branch without elements", name)
		}
		keys := make([][]byte, n)
		kids := make([]uint64, n)
		for i := range n {
			at := uint64(pageHeaderSize + i*pageElementSize)
			e := buf[at : at+pageElementSize]
			k, ok := slice(at+uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:])))
			if !ok {
				return nil, fmt.Errorf("%s: element %d outside the page", name, i)
			}
			keys[i], kids[i] = k, ne.Uint64(e[8:])
		}
		min := lo
		for i := range n {
			if err := order(i, keys[i], min); err != nil {
				return nil, err
			}
			khi := hi
			if i+1 < n {
				khi = keys[i+1]
			}
			top, err := c.page(kids[i], keys[i], khi, depth+1)
			if err != nil {
				return nil, err
			}
			min = top
		}
		return min, nil
	case h.flags == leafPageFlag:
		min := lo
		for i := range n {
			at := uint64(pageHeaderSize + i*pageElementSize)
			e := buf[at : at+pageElementSize]
			pos, ks, vs := uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
			k, ok := slice(at+pos, ks)
			if !ok {
				return nil, fmt.Errorf("%s: element %d outside the page", name, i)
			}
			v, ok := slice(at+pos+ks, vs)
			if !ok {
				return nil, fmt.Errorf("%s: element %d outside the page", name, i)
			}
			if err := order(i, k, min); err != nil {
				return nil, err
			}
			min = k
			if ne.Uint32(e)&bucketLeafFlag == 0 {
				continue
			}
			if len(v) < bucketHeaderSize {
				return nil, fmt.Errorf("%s: bucket %q: a header of %d bytes", name, k, len(v))
			}
			sub := fmt.Sprintf("%s, bucket %q", name, k)
			if root := ne.Uint64(v); root != 0 {
				if _, err := c.page(root, nil, nil, depth+1); err != nil {
					return nil, fmt.Errorf("%s: %w", sub, err)
				}
				continue
			}
			inline := v[bucketHeaderSize:]
			if len(inline) < pageHeaderSize {
				return nil, fmt.Errorf("%s: an inline page of %d bytes", sub, len(inline))
			}
			if decodeHeader(inline).flags != leafPageFlag {
				return nil, fmt.Errorf("%s: an inline page that is not a leaf", sub)
			}
			if _, err := c.elements(inline, sub, nil, nil, depth+1); err != nil {
				return nil, err
			}
		}
		return min, nil
	}
	return nil, fmt.Errorf("%s: neither a branch nor a leaf (flags %#x)", name, h.flags)
}

const freelistPageFlag = 0x10

// freelist checks what bbolt's freelist.Read trusts: the page type, and
// that the ids it counts lie inside the page and below the high-water mark.
func (c *pageChecker) freelist(id uint64, h pageHeader) error {
	if h.flags != freelistPageFlag {
		return fmt.Errorf("page %d: not a free list (flags %#x)", id, h.flags)
	}
	buf := make([]byte, (uint64(h.overflow)+1)*uint64(c.m.pageSize))
	if _, err := c.r.ReadAt(buf, int64(id)*int64(c.m.pageSize)); err != nil {
		return readError{fmt.Errorf("read page %d: %w", id, err)}
	}
	ne := binary.NativeEndian
	idx, n := uint64(0), uint64(h.count)
	if n == 0xFFFF {
		idx, n = 1, ne.Uint64(buf[pageHeaderSize:])
	}
	room := (uint64(len(buf)) - pageHeaderSize) / 8
	if idx > room || n > room-idx {
		return fmt.Errorf("page %d: %d free ids do not fit in it", id, n)
	}
	for i := idx; i < idx+n; i++ {
		if p := ne.Uint64(buf[pageHeaderSize+8*i:]); p < 2 || p >= c.m.hwm {
			return fmt.Errorf("page %d: free id %d out of range", id, p)
		}
	}
	return nil
}
