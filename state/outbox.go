package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The outbox holds segments: consecutive events of one commit (up to
// segmentMax events and segmentBytes bytes, unless one event alone is
// longer) in one value,
// keyed by the big-endian sequence number of the segment's LAST event. A
// value is the event count (uvarint) followed by each event as a uvarint
// length and its bytes. Sequence numbers stay per event (the bucket's
// sequence advances by the count), so readers and acks speak of events;
// but a commit of 10,000 events of 300 bytes is about 1,000 Puts, not
// 10,000, and an ack mostly deletes whole segments. Segments are small
// (valueBytes) so that no value needs a long run of free pages.
const (
	segmentMax   = 512
	segmentBytes = valueBytes
)

// outboxFill packs outbox pages full: keys only ever grow, so the default
// half-full split would waste half of every page.
const outboxFill = 1.0

// appendOutbox appends the built segments, then events, to the outbox in
// tx and updates the running totals. Keys and values of events are built
// in arena. It returns the sequence number of the last event, or 0 when
// there is none.
func appendOutbox(tx *bolt.Tx, segs []builtSegment, events [][]byte, arena *[]byte) (uint64, error) {
	if len(events) == 0 && len(segs) == 0 {
		return 0, nil
	}
	b, err := bucket(tx, bucketOutbox)
	if err != nil {
		return 0, err
	}
	b.FillPercent = outboxFill
	for i, ev := range events {
		if len(ev) == 0 {
			return 0, fmt.Errorf("event %d is empty", i)
		}
	}
	seq := b.Sequence()
	count, size, err := appendSegments(b, segs, &seq)
	if err != nil {
		return 0, err
	}
	count += int64(len(events))
	for len(events) > 0 {
		// vsize: the value's size, with a count of up to 2 bytes
		// (segmentMax).
		n, bytes, vsize := 0, 0, 2
		for n < len(events) && n < segmentMax {
			l := len(events[n])
			vsize += uvarintLen(l) + l
			if n > 0 && vsize > segmentBytes {
				break
			}
			bytes += l
			n++
		}
		reserve(arena, bytes+(n+1)*binary.MaxVarintLen64+8)
		start := len(*arena)
		*arena = binary.AppendUvarint(*arena, uint64(n))
		for _, ev := range events[:n] {
			*arena = binary.AppendUvarint(*arena, uint64(len(ev)))
			*arena = append(*arena, ev...)
		}
		val := (*arena)[start:len(*arena):len(*arena)]
		seq += uint64(n)
		ks := len(*arena)
		*arena = be64(*arena, seq)
		if err := b.Put((*arena)[ks:len(*arena):len(*arena)], val); err != nil {
			return 0, fmt.Errorf("outbox segment ending at %d: %w", seq, err)
		}
		size += int64(bytes)
		events = events[n:]
	}
	if err := b.SetSequence(seq); err != nil {
		return 0, err
	}
	return seq, addOutboxTotals(tx, count, size)
}

// segment walks the events of one outbox value.
type segment struct {
	data  []byte
	left  uint64 // events not yet returned
	first uint64 // sequence number of the next event
	err   error
}

// openSegment reads the header of a segment whose last event is last.
func openSegment(last uint64, v []byte) segment {
	n, k := binary.Uvarint(v)
	if k <= 0 || n == 0 || n > last {
		return segment{err: fmt.Errorf("outbox segment ending at %d: bad header", last)}
	}
	return segment{data: v[k:], left: n, first: last - n + 1}
}

// next returns the next event and its sequence number; ok is false at the
// end or on a damaged segment (err set).
func (g *segment) next() (seq uint64, ev []byte, ok bool) {
	if g.left == 0 || g.err != nil {
		return 0, nil, false
	}
	l, k := binary.Uvarint(g.data)
	if k <= 0 || l > uint64(len(g.data)-k) {
		g.err = fmt.Errorf("outbox segment: event %d cut short", g.first)
		return 0, nil, false
	}
	ev = g.data[k : k+int(l)]
	g.data = g.data[k+int(l):]
	seq = g.first
	g.first++
	g.left--
	return seq, ev, true
}

// addOutboxTotals adds to the event count and byte total in the meta bucket.
func addOutboxTotals(tx *bolt.Tx, count, size int64) error {
	m, err := bucket(tx, bucketMeta)
	if err != nil {
		return err
	}
	for _, kv := range [...]struct {
		key string
		add int64
	}{{metaOutboxCount, count}, {metaOutboxBytes, size}} {
		cur := int64(getUint64(m, kv.key))
		next := cur + kv.add
		if next < 0 {
			return fmt.Errorf("outbox %s would drop below zero (%d%+d)", kv.key, cur, kv.add)
		}
		if err := m.Put([]byte(kv.key), be64(nil, uint64(next))); err != nil {
			return err
		}
	}
	return nil
}

func getUint64(b *bolt.Bucket, key string) uint64 {
	v := b.Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// OutboxRead calls fn for up to max events (all when max <= 0) with
// sequence numbers greater than after, in order. data is valid only during
// fn: copy it to keep it. An error from fn stops the read and is returned
// as it is.
//
// fn runs inside a read transaction: keep it short (copy and return, do no
// network I/O). A long read holds back the reuse of freed pages, and a
// commit that has to grow the memory map waits for every read to end.
func (s *Store) OutboxRead(after uint64, max int, fn func(seq uint64, data []byte) error) error {
	return s.outboxRead(after, max, false, fn)
}

// OutboxReadSegments is OutboxRead by whole segments (the events of one
// commit, at most 512): it reads segments while the events read stay
// within max, and always at least one. A sender that acknowledges what it
// read this way lets OutboxDelete drop whole segments instead of rewriting
// the unacknowledged rest of one.
func (s *Store) OutboxReadSegments(after uint64, max int, fn func(seq uint64, data []byte) error) error {
	return s.outboxRead(after, max, true, fn)
}

func (s *Store) outboxRead(after uint64, max int, whole bool, fn func(seq uint64, data []byte) error) error {
	if after == ^uint64(0) {
		return nil
	}
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], after+1)
	var fnErr error
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketOutbox)
		if err != nil {
			return err
		}
		c := b.Cursor()
		n := 0
		for k, v := c.Seek(key[:]); k != nil && (max <= 0 || n < max); k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("outbox key of %d bytes", len(k))
			}
			g := openSegment(binary.BigEndian.Uint64(k), v)
			if whole && n > 0 && max > 0 && n+int(g.left) > max {
				break
			}
			for whole || max <= 0 || n < max {
				seq, ev, ok := g.next()
				if !ok {
					break
				}
				if seq <= after {
					continue
				}
				if fnErr = fn(seq, ev); fnErr != nil {
					return fnErr
				}
				n++
			}
			if g.err != nil {
				return g.err
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	return nil
}

// OutboxDelete removes every event with a sequence number up to and
// including upTo (the acknowledged prefix) and returns how many it removed.
// It is one write transaction (Commit.DeleteThrough does it as part of a
// commit).
func (s *Store) OutboxDelete(upTo uint64) (int, error) {
	removed := 0
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		removed, err = deleteOutbox(tx, upTo)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete outbox up to %d: %w", upTo, err)
	}
	return removed, nil
}

// deleteOutbox removes the events up to and including upTo in tx and
// returns how many it removed.
func deleteOutbox(tx *bolt.Tx, upTo uint64) (removed int, err error) {
	b, err := bucket(tx, bucketOutbox)
	if err != nil {
		return 0, err
	}
	b.FillPercent = outboxFill
	// Collect, then change: bbolt's cursor may skip the element after
	// a Cursor.Delete (etcd-io/bbolt#146).
	var whole [][8]byte
	var size int64
	var cut []byte // the segment holding upTo, rewritten without its acked head
	var cutKey [8]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(k) == 8; k, v = c.Next() {
		last := binary.BigEndian.Uint64(k)
		g := openSegment(last, v)
		if g.err != nil {
			return 0, g.err
		}
		if last <= upTo {
			whole = append(whole, [8]byte(k))
			removed += int(g.left)
			if n, ok := fixedSegment(v, g.left); ok { // no walk needed
				size += n
				continue
			}
			for {
				_, ev, ok := g.next()
				if !ok {
					break
				}
				size += int64(len(ev))
			}
			if g.err != nil {
				return 0, g.err
			}
			continue
		}
		if g.first <= upTo { // partly acked: keep the rest
			var rest [][]byte
			for {
				seq, ev, ok := g.next()
				if !ok {
					break
				}
				if seq <= upTo {
					removed++
					size += int64(len(ev))
				} else {
					rest = append(rest, ev)
				}
			}
			if g.err != nil {
				return 0, g.err
			}
			cut = binary.AppendUvarint(nil, uint64(len(rest)))
			for _, ev := range rest {
				cut = binary.AppendUvarint(cut, uint64(len(ev)))
				cut = append(cut, ev...)
			}
			cutKey = [8]byte(k)
		}
		break
	}
	for i := range whole {
		if err := b.Delete(whole[i][:]); err != nil {
			return 0, err
		}
	}
	if cut != nil {
		if err := b.Put(cutKey[:], cut); err != nil {
			return 0, err
		}
	} else if k, _ := b.Cursor().First(); k == nil && len(whole) > 0 {
		if err := clearContexts(tx); err != nil { // nothing refers to them
			return 0, err
		}
	}
	if removed == 0 {
		return 0, nil
	}
	return removed, addOutboxTotals(tx, -int64(removed), -size)
}

// OutboxStats returns the number of events in the outbox and their total
// size in bytes (the encoded events, not the space they take on disk). The
// totals are kept by the transactions that change the outbox, so this is
// one read of two keys.
func (s *Store) OutboxStats() (count int, size int64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		m, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		count = int(getUint64(m, metaOutboxCount))
		size = int64(getUint64(m, metaOutboxBytes))
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("outbox stats: %w", err)
	}
	return count, size, nil
}

// putContexts stores the outbox contexts of a commit (see Commit.Contexts).
func putContexts(tx *bolt.Tx, contexts map[uint64][]byte) error {
	if len(contexts) == 0 {
		return nil
	}
	b, err := bucket(tx, bucketContexts)
	if err != nil {
		return err
	}
	for id, v := range contexts {
		if len(v) == 0 {
			return fmt.Errorf("outbox context %016x is empty", id)
		}
		k := be64(nil, id)
		switch old := b.Get(k); {
		case old == nil:
			if err := b.Put(k, v); err != nil {
				return fmt.Errorf("outbox context %016x: %w", id, err)
			}
		case !bytes.Equal(old, v):
			return fmt.Errorf("outbox context %016x: stored with a different value", id)
		}
	}
	return nil
}

// clearContexts drops every outbox context (the outbox is empty).
func clearContexts(tx *bolt.Tx) error {
	b, err := bucket(tx, bucketContexts)
	if err != nil {
		return err
	}
	if k, _ := b.Cursor().First(); k == nil {
		return nil
	}
	if err := tx.DeleteBucket([]byte(bucketContexts)); err != nil {
		return fmt.Errorf("drop outbox contexts: %w", err)
	}
	if _, err := tx.CreateBucket([]byte(bucketContexts)); err != nil {
		return fmt.Errorf("drop outbox contexts: %w", err)
	}
	return nil
}

// OutboxContexts returns the outbox contexts by ID (see Commit.Contexts);
// the values are copies.
func (s *Store) OutboxContexts() (map[uint64][]byte, error) {
	out := map[uint64][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketContexts))
		if b == nil { // a version 1 file opened read-only
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("outbox context key of %d bytes", len(k))
			}
			out[binary.BigEndian.Uint64(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox contexts: %w", err)
	}
	return out, nil
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}
