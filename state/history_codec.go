package state

import (
	"encoding/binary"
	"errors"

	"github.com/socx/sharkfin/internal/codec"
)

// The encodings of history totals and segments; doc.go has the layout.

// appendTotals appends the encoding of t.
func appendTotals(dst []byte, t *totals) []byte {
	dst = append(dst, totalsVersion)
	dst = binary.AppendUvarint(dst, uint64(t.first))
	dst = binary.AppendUvarint(dst, uint64(t.last-t.first))
	dst = binary.AppendUvarint(dst, t.hits)
	dst = binary.AppendUvarint(dst, t.bytes)
	dst = binary.AppendUvarint(dst, t.windows)
	return binary.AppendUvarint(dst, t.anomalies)
}

// totalsMaxLen bounds the length of an encoded totals record.
const totalsMaxLen = 1 + 6*binary.MaxVarintLen64

// decodeTotals is the inverse of appendTotals.
func decodeTotals(val []byte, t *totals) error {
	if len(val) == 0 || val[0] != totalsVersion {
		return errors.New("unknown history record version")
	}
	d := codec.NewReader(val[1:], errShort)
	t.first = int64(d.Uvarint())
	t.last = t.first + int64(d.Uvarint())
	t.hits = d.Uvarint()
	t.bytes = d.Uvarint()
	t.windows = d.Uvarint()
	t.anomalies = d.Uvarint()
	return d.Err()
}

// segKeyLen is the length of a segment key: the window start, then the
// segment's sequence number, both big-endian u64.
const segKeyLen = 16

// segKey appends the key of the segment number seq of window start.
func segKey(dst []byte, start int64, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	return binary.BigEndian.AppendUint64(dst, seq)
}

// segStart is the window start of a segment key (-1 if it is not one).
func segStart(k []byte) int64 {
	if len(k) != segKeyLen {
		return -1
	}
	return int64(binary.BigEndian.Uint64(k))
}

// segEntry is one key's counts in one window.
type segEntry struct {
	key         []byte // valid until the next entry is read
	start       int64
	hits, bytes uint64
	anomalous   bool
}

// segWriter encodes a segment: the entries of one window, in strictly
// increasing key order, each key stored as the length of the prefix it
// shares with the previous one and the rest.
type segWriter struct {
	buf  []byte
	n    int
	prev []byte // the previous key
	// count is where the entry count goes: a 3-byte varint written at
	// finish (segMaxEntries < 1<<21).
	count int
}

// start begins a segment in dst.
func (w *segWriter) start(dst []byte) {
	w.buf = append(dst, segmentVersion, 0, 0, 0)
	w.count = len(w.buf) - 3
	w.n, w.prev = 0, w.prev[:0]
}

// add appends one entry; its key must be greater than the previous one.
func (w *segWriter) add(key string, hits, bytes uint64, anomalous bool) {
	shared := 0
	for shared < len(w.prev) && shared < len(key) && w.prev[shared] == key[shared] {
		shared++
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(shared))
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)-shared))
	w.buf = append(w.buf, key[shared:]...)
	flag := uint64(0)
	if anomalous {
		flag = 1
	}
	w.buf = binary.AppendUvarint(w.buf, hits<<1|flag)
	w.buf = binary.AppendUvarint(w.buf, bytes)
	// The previous key is kept in a buffer of its own: the encoded entry
	// holds only its suffix.
	w.prev = append(w.prev[:0], key...)
	w.n++
}

// size is the encoded size so far.
func (w *segWriter) size() int { return len(w.buf) }

// finish writes the count and returns the encoded segment.
func (w *segWriter) finish() []byte {
	putVarint(w.buf[w.count:w.count+3], w.n)
	return w.buf
}

// segReader decodes a segment's entries in order.
type segReader struct {
	d     codec.Reader
	start int64
	left  uint64
	key   []byte
	err   error
}

// newSegReader starts reading the segment val of window start.
func newSegReader(val []byte, start int64) segReader {
	r := segReader{start: start}
	if len(val) == 0 || val[0] != segmentVersion {
		r.err = errors.New("unknown history segment version")
		return r
	}
	r.d = codec.NewReader(val[1:], errShort)
	r.left = r.d.Uvarint()
	if r.left > uint64(r.d.Len()) { // an entry takes four bytes at least
		r.err = errShort
	}
	return r
}

// next reads the next entry into e; false at the end or on an error (Err).
func (r *segReader) next(e *segEntry) bool {
	if r.err != nil || r.left == 0 {
		return false
	}
	r.left--
	shared := r.d.Uvarint()
	rest := r.d.Uvarint()
	if shared > uint64(len(r.key)) || rest > uint64(r.d.Len()) || shared+rest > maxHistoryKey {
		r.err = errors.New("history segment: bad key length")
		return false
	}
	r.key = append(r.key[:shared], r.d.Next(rest)...)
	hf := r.d.Uvarint()
	bytes := r.d.Uvarint()
	if err := r.d.Err(); err != nil {
		r.err = err
		return false
	}
	*e = segEntry{key: r.key, start: r.start, hits: hf >> 1, anomalous: hf&1 == 1, bytes: bytes}
	return true
}

// Err is the decoding error that ended next, if any; a segment must also
// end with its last entry.
func (r *segReader) Err() error {
	if r.err == nil && r.left == 0 && r.d.Len() != 0 {
		return errors.New("history segment: bytes after the last entry")
	}
	return r.err
}
