package state

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Segments builds outbox segments in place: a writer encodes each event
// straight into the segment that stores it, so an event is copied once
// (into bbolt's pages) instead of twice. Put a Segments in Commit.Segments;
// once Apply returns, Reset makes its memory ready for the next commit.
//
// Inside a segment being built, the event count and every event length
// are 3-byte varints written after the fact (non-minimal for small
// values, which binary.Uvarint reads like any other), so nothing moves
// once encoded. The zero value is ready to use; it is not safe for
// concurrent use.
type Segments struct {
	done   []builtSegment
	cur    []byte // the segment being built: count, then (length, event)...
	curCap int    // cap(cur) when it started in its chunk
	n      int    // events in cur
	bytes  int    // event bytes in cur
	chunks [][]byte
	next   int // chunks[next:] are unused
	events int
	size   int64
}

type builtSegment struct {
	value []byte
	n     int
	bytes int
}

// segmentChunk is the size of the buffers segments are built in.
const segmentChunk = 1 << 20

// pad3 is the width of the varints written after the fact; 3 bytes hold
// up to 2 MiB - 1 (an event or count beyond that is shifted into place).
const pad3 = 3

// Len is the number of events added since the last Reset.
func (s *Segments) Len() int { return s.events }

// Bytes is the size of the events added since the last Reset.
func (s *Segments) Bytes() int64 { return s.size }

// Append adds one event: enc appends its encoding to the slice it is given
// and returns the result (like event.AppendJSON). An empty event, or an
// error from enc, adds nothing and is returned.
func (s *Segments) Append(enc func([]byte) ([]byte, error)) error {
	if s.cur != nil && (s.n == segmentMax || s.bytes >= segmentBytes) {
		s.finish()
	}
	if s.cur == nil {
		s.start()
	}
	mark := len(s.cur)
	b, err := enc(append(s.cur, 0, 0, 0))
	if err != nil {
		s.cur = s.cur[:mark]
		return err
	}
	l := len(b) - mark - pad3
	if l == 0 {
		s.cur = b[:mark]
		return fmt.Errorf("event %d is empty", s.events)
	}
	b = putVarint3(b, mark, l)
	s.cur = b
	s.n++
	s.bytes += l
	s.events++
	s.size += int64(l)
	return nil
}

// start begins a segment in the current chunk, or in the next one when
// less than a quarter of a chunk is left. A segment that outgrows its
// chunk moves alone (append), never the finished ones.
func (s *Segments) start() {
	if s.next == 0 || cap(s.chunks[s.next-1])-len(s.chunks[s.next-1]) < segmentChunk/4 {
		if s.next == len(s.chunks) {
			s.chunks = append(s.chunks, make([]byte, 0, segmentChunk))
		}
		s.next++
	}
	c := s.chunks[s.next-1]
	s.cur = append(c[len(c):], 0, 0, 0)
	s.curCap = cap(s.cur)
	s.n, s.bytes = 0, 0
}

func (s *Segments) finish() {
	v := putVarint3(s.cur, 0, s.n)
	s.done = append(s.done, builtSegment{value: v[:len(v):len(v)], n: s.n, bytes: s.bytes})
	if cap(v) == s.curCap { // still in its chunk: the chunk's rest is free
		c := s.chunks[s.next-1]
		s.chunks[s.next-1] = c[:len(c)+len(v)]
	}
	s.cur, s.n, s.bytes = nil, 0, 0
}

// putVarint3 writes v as a 3-byte varint at b[at:at+3]; a value of 2 MiB
// or more gets the bytes it needs, shifting what follows.
func putVarint3(b []byte, at, v int) []byte {
	if v < 1<<21 {
		b[at] = byte(v) | 0x80
		b[at+1] = byte(v>>7) | 0x80
		b[at+2] = byte(v >> 14)
		return b
	}
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(v))
	b = append(b, tmp[:k-pad3]...) // room
	copy(b[at+k:], b[at+pad3:len(b)-(k-pad3)])
	copy(b[at:], tmp[:k])
	return b
}

// built finishes the segment in progress and returns them all.
func (s *Segments) built() []builtSegment {
	if s.cur != nil && s.n > 0 {
		s.finish()
	}
	return s.done
}

// Reset forgets the events, keeping as many chunks as the last commit
// used (an idle agent's small commits shrink it back to one).
func (s *Segments) Reset() {
	clear(s.done)
	s.done = s.done[:0]
	used := max(1, s.next)
	for i := range s.chunks {
		s.chunks[i] = s.chunks[i][:0]
	}
	if len(s.chunks) > used {
		clear(s.chunks[used:])
		s.chunks = s.chunks[:used]
	}
	s.cur, s.n, s.bytes, s.next, s.events, s.size = nil, 0, 0, 0, 0, 0
}

// appendSegments puts built segments after the outbox's last event; it
// returns the number of events and their bytes.
func appendSegments(b *bolt.Bucket, segs []builtSegment, seq *uint64) (count, size int64, err error) {
	keys := make([]byte, 0, 8*len(segs))
	for _, g := range segs {
		*seq += uint64(g.n)
		k := len(keys)
		keys = be64(keys, *seq)
		if err := b.Put(keys[k:k+8:k+8], g.value); err != nil {
			return 0, 0, fmt.Errorf("outbox segment ending at %d: %w", *seq, err)
		}
		count += int64(g.n)
		size += int64(g.bytes)
	}
	return count, size, nil
}
