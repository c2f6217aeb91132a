// Package codec reads the varint-framed binary encodings sharkfin keeps in
// its state file (window snapshots, checkpoints, packed events). A Reader
// consumes a buffer field by field and remembers its first error, so that
// a decoder reads every field and checks once at the end: after an error
// every read returns a zero value.
package codec

import (
	"encoding/binary"
	"errors"
)

// ErrShort is the default error of a Reader: the data ends early or holds
// an invalid varint.
var ErrShort = errors.New("cut short or malformed")

// Reader reads an encoding from a byte slice. The zero Reader is empty.
type Reader struct {
	b   []byte
	err error
	bad error
}

// NewReader returns a Reader of b that fails with bad (ErrShort if nil).
func NewReader(b []byte, bad error) Reader {
	if bad == nil {
		bad = ErrShort
	}
	return Reader{b: b, bad: bad}
}

// Err is the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not read yet (0 after an error).
func (r *Reader) Len() int { return len(r.b) }

// Fail records the Reader's error (if none is recorded yet) and drops what
// is left: for a decoder that finds a value out of range.
func (r *Reader) Fail() {
	if r.err == nil {
		r.err = r.bad
		if r.err == nil {
			r.err = ErrShort
		}
	}
	r.b = nil
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// UvarintMax reads an unsigned varint and fails if it exceeds limit.
func (r *Reader) UvarintMax(limit uint64) uint64 {
	v := r.Uvarint()
	if v > limit {
		r.Fail()
		return 0
	}
	return v
}

// Varint reads what binary.AppendVarint writes: a zigzag uvarint.
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Uint64 reads a little-endian 64-bit word.
func (r *Reader) Uint64() uint64 {
	if len(r.b) < 8 {
		r.Fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Next reads n bytes (aliasing the buffer).
func (r *Reader) Next(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.Fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Bytes reads a uvarint length and that many bytes (aliasing the buffer).
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	return r.Next(n)
}
