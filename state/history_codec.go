package state

import (
	"encoding/binary"
	"errors"

	"github.com/socx/sharkfin/internal/codec"
)

// The encodings of history totals and chunks; doc.go has the layout.

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

// chunkMaxLen bounds the length of an encoded chunk of n windows.
func chunkMaxLen(n int) int { return 1 + binary.MaxVarintLen64 + n*3*binary.MaxVarintLen64 }

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

// chunkKey appends the key of the chunk holding window start of key: the
// hour as a 4-byte big-endian number, then the key.
func chunkKey(dst []byte, start int64, key string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(start/chunkSpan))
	return append(dst, key...)
}

// chunkHour is the hour number of a chunk key.
func chunkHour(k []byte) int64 {
	if len(k) < 4 {
		return 0
	}
	return int64(binary.BigEndian.Uint32(k))
}

// appendChunk encodes windows (sorted, all in the hour of the chunk).
func appendChunk(dst []byte, ws []winRec) []byte {
	dst = append(dst, chunkVersion)
	dst = binary.AppendUvarint(dst, uint64(len(ws)))
	var prev int64
	if len(ws) > 0 {
		prev = ws[0].start - ws[0].start%chunkSpan
	}
	for _, w := range ws {
		flag := uint64(0)
		if w.anomalous {
			flag = 1
		}
		dst = binary.AppendUvarint(dst, uint64(w.start-prev))
		dst = binary.AppendUvarint(dst, w.hits<<1|flag)
		dst = binary.AppendUvarint(dst, w.bytes)
		prev = w.start
	}
	return dst
}

// decodeChunk decodes the chunk of hour into ws[:0].
func decodeChunk(val []byte, hour int64, ws []winRec) ([]winRec, error) {
	ws = ws[:0]
	if len(val) == 0 || val[0] != chunkVersion {
		return ws, errors.New("unknown history chunk version")
	}
	d := codec.NewReader(val[1:], errShort)
	n := d.Uvarint()
	if n > uint64(d.Len()) { // a window takes three bytes at least
		return ws, errShort
	}
	prev := hour * chunkSpan
	for range n {
		start := prev + int64(d.Uvarint())
		hf := d.Uvarint()
		ws = append(ws, winRec{start: start, hits: hf >> 1, anomalous: hf&1 == 1, bytes: d.Uvarint()})
		prev = start
	}
	return ws, d.Err()
}
