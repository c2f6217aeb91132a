package state

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Segments builds outbox segments in place: a writer encodes each event
// straight into the segment that stores it, so an event is copied once
// (into bbolt's pages) instead of twice. Put a Segments in Commit.Segments;
// once Apply returns, Reset makes its memory ready for the next commit.
//
// Inside a segment being built, every event length is a 3-byte varint
// written after the fact (non-minimal for small values, which
// binary.Uvarint reads like any other), so nothing moves once encoded;
// events are limited to 2 MiB - 1. The count heading the segment is a
// 4-byte varint, which no minimal encoding of a count up to 512 is: it
// marks the segment's lengths as 3 bytes each, so that deleting it needs
// no walk over its events to learn their size. The zero value is ready
// to use; it is not safe for concurrent use.
type Segments struct {
	done   []builtSegment
	cur    []byte // the segment being built: count, then (length, event)...
	curCap int    // cap(cur) when it started in its chunk
	n      int    // events in cur
	bytes  int    // event bytes in cur
	chunks [][]byte
	next   int    // chunks[next:] are unused
	spill  []byte // an event on its way to the next segment
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

// pad3 is the width of the event lengths written after the fact, and
// countWidth that of a built segment's count.
const (
	pad3       = 3
	countWidth = 4
	// MaxSegmentEvent is the largest event Segments takes.
	MaxSegmentEvent = 1<<21 - 1
)

// Len is the number of events added since the last Reset.
func (s *Segments) Len() int { return s.events }

// Bytes is the size of the events added since the last Reset.
func (s *Segments) Bytes() int64 { return s.size }

// Append adds one event: enc appends its encoding to the slice it is given
// and returns the result (like event.AppendJSON). An empty event, or an
// error from enc, adds nothing and is returned.
func (s *Segments) Append(enc func([]byte) ([]byte, error)) error {
	if s.cur != nil && s.n == segmentMax {
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
	if l == 0 || l > MaxSegmentEvent {
		s.cur = b[:mark]
		return fmt.Errorf("event %d is %d bytes; an outbox event has 1 to %d", s.events, l, MaxSegmentEvent)
	}
	putVarint(b[mark:mark+pad3], l)
	s.cur = b
	if s.n > 0 && len(b) > segmentBytes {
		// Past segmentBytes with this event: it starts the next segment
		// (moved through spill: the next segment starts where it lies).
		s.spill = append(s.spill[:0], b[mark:]...)
		s.cur = b[:mark]
		s.finish()
		s.start()
		s.cur = append(s.cur, s.spill...)
	}
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
	s.cur = append(c[len(c):], 0, 0, 0, 0)
	s.curCap = cap(s.cur)
	s.n, s.bytes = 0, 0
}

func (s *Segments) finish() {
	v := s.cur
	putVarint(v[:countWidth], s.n)
	s.done = append(s.done, builtSegment{value: v[:len(v):len(v)], n: s.n, bytes: s.bytes})
	if cap(v) == s.curCap { // still in its chunk: the chunk's rest is free
		c := s.chunks[s.next-1]
		s.chunks[s.next-1] = c[:len(c)+len(v)]
	}
	s.cur, s.n, s.bytes = nil, 0, 0
}

// putVarint writes v as a varint of exactly len(b) bytes (padded with
// continuation bytes); v must fit in 7*len(b) bits.
func putVarint(b []byte, v int) {
	last := len(b) - 1
	for i := range last {
		b[i] = byte(v>>(7*i)) | 0x80
	}
	b[last] = byte(v >> (7 * last))
}

// fixedSegment reports whether v is a segment built by Segments (a 4-byte
// count, 3-byte lengths) and, if so, the size of its events.
func fixedSegment(v []byte, n uint64) (int64, bool) {
	if len(v) < countWidth || v[0]&v[1]&v[2]&0x80 == 0 || v[3]&0x80 != 0 {
		return 0, false
	}
	size := int64(len(v)) - countWidth - pad3*int64(n)
	return size, size >= 0
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
	if cap(s.spill) > 64<<10 { // a long event passed through: do not keep it
		s.spill = nil
	}
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
