package state

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// outboxFill packs outbox pages full: keys only ever grow, so the default
// half-full split would waste half of every page.
const outboxFill = 1.0

// appendOutbox appends events to the outbox in tx and updates the running
// totals. Keys are taken from arena. It returns the sequence number of the
// last event, or 0 when events is empty.
func appendOutbox(tx *bolt.Tx, events [][]byte, arena *[]byte) (uint64, error) {
	if len(events) == 0 {
		return 0, nil
	}
	b, err := bucket(tx, bucketOutbox)
	if err != nil {
		return 0, err
	}
	b.FillPercent = outboxFill
	var last uint64
	var size int64
	for i, ev := range events {
		if len(ev) == 0 {
			return 0, fmt.Errorf("event %d is empty", i)
		}
		if last, err = b.NextSequence(); err != nil {
			return 0, err
		}
		start := len(*arena)
		*arena = be64(*arena, last)
		if err := b.Put((*arena)[start:len(*arena):len(*arena)], ev); err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
		size += int64(len(ev))
	}
	return last, addOutboxTotals(tx, int64(len(events)), size)
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
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], after+1)
	var fnErr error
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketOutbox)
		if err != nil {
			return err
		}
		if after == ^uint64(0) {
			return nil
		}
		c := b.Cursor()
		n := 0
		for k, v := c.Seek(key[:]); k != nil && (max <= 0 || n < max); k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("outbox key of %d bytes", len(k))
			}
			if fnErr = fn(binary.BigEndian.Uint64(k), v); fnErr != nil {
				return fnErr
			}
			n++
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
// It is one write transaction.
func (s *Store) OutboxDelete(upTo uint64) (int, error) {
	removed := 0
	err := s.update(func(tx *bolt.Tx) error {
		removed = 0
		b, err := bucket(tx, bucketOutbox)
		if err != nil {
			return err
		}
		// Collect, then delete: bbolt's cursor may skip the element after
		// a Cursor.Delete (etcd-io/bbolt#146).
		var keys [][8]byte
		var size int64
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(k) == 8 && binary.BigEndian.Uint64(k) <= upTo; k, v = c.Next() {
			keys = append(keys, [8]byte(k))
			size += int64(len(v))
		}
		for i := range keys {
			if err := b.Delete(keys[i][:]); err != nil {
				return err
			}
		}
		removed = len(keys)
		if removed == 0 {
			return nil
		}
		return addOutboxTotals(tx, -int64(removed), -size)
	})
	if err != nil {
		return 0, fmt.Errorf("delete outbox up to %d: %w", upTo, err)
	}
	return removed, nil
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
