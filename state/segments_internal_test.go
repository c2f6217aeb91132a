package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A segment built by Segments is recognised by its 4-byte count, and its
// size read from its framing; a minimally encoded one is not.
func TestFixedSegment(t *testing.T) {
	var s Segments
	for _, ev := range []string{"a", "bb", string(make([]byte, 300))} {
		if err := s.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil }); err != nil {
			t.Fatal(err)
		}
	}
	built := s.built()
	if len(built) != 1 {
		t.Fatalf("%d segments, want 1", len(built))
	}
	if size, ok := fixedSegment(built[0].value, 3); !ok || size != 303 {
		t.Fatalf("fixedSegment(built) = %d, %v; want 303, true", size, ok)
	}
	minimal := []byte{3, 1, 'a', 2, 'b', 'b', 1, 'c'}
	if _, ok := fixedSegment(minimal, 3); ok {
		t.Fatal("a minimally encoded segment passed for a built one")
	}
}

// No value the store sizes itself passes valueBytes (see valueBytes): an
// outbox segment, built by Segments or by appendOutbox, holds events up to
// it, a longer event alone, and every event once, in order; a history
// segment stops short of it whatever its keys.
func TestValues_AtMostValueBytes(t *testing.T) {
	var sizes []int
	for i := range 3000 {
		sizes = append(sizes, 1+(i*7919)%700) // 1 to 700 bytes
		if i%500 == 0 {
			sizes = append(sizes, valueBytes+100) // alone in its segment
		}
	}
	check := func(name string, values [][]byte) {
		t.Helper()
		next := 0
		for _, v := range values {
			n, l := binary.Uvarint(v)
			if l <= 0 {
				t.Fatalf("%s: a value without a count", name)
			}
			if len(v) > valueBytes && n != 1 {
				t.Errorf("%s: a value of %d bytes with %d events, want at most %d bytes or one event", name, len(v), n, valueBytes)
			}
			g := openSegment(1<<40, v)
			for {
				_, ev, ok := g.next()
				if !ok {
					break
				}
				if next == len(sizes) || len(ev) != sizes[next] {
					t.Fatalf("%s: event %d of %d bytes, want %v", name, next, len(ev), sizes[next:min(next+1, len(sizes))])
				}
				next++
			}
		}
		if next != len(sizes) {
			t.Errorf("%s: %d events read back, want %d", name, next, len(sizes))
		}
	}

	var s Segments
	for _, n := range sizes {
		ev := make([]byte, n)
		if err := s.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil }); err != nil {
			t.Fatal(err)
		}
	}
	var built [][]byte
	for _, g := range s.built() {
		built = append(built, g.value)
	}
	check("Segments", built)

	db, err := bolt.Open(filepath.Join(t.TempDir(), "v.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var events [][]byte
	for _, n := range sizes {
		events = append(events, make([]byte, n))
	}
	var stored [][]byte
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketOutbox, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		var arena []byte
		if _, err := appendOutbox(tx, nil, events, &arena); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketOutbox)).ForEach(func(_, v []byte) error {
			stored = append(stored, bytes.Clone(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("appendOutbox", stored)

	// History: keys up to a long domain name's, one window.
	var updates []HistoryUpdate
	for i := range 2000 {
		key := fmt.Sprintf("%0*d.example", 1+(i*31)%240, i)
		updates = append(updates, HistoryUpdate{Kind: KindDomain, Key: key, WindowStart: time.Unix(60, 0), Hits: int64(i), Bytes: int64(i) << 20})
	}
	err = db.Update(func(tx *bolt.Tx) error {
		kb, _ := historyBuckets(KindDomain)
		for _, name := range []string{kb.segments, kb.unfolded} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		var arena []byte
		if _, err := applyHistory(tx, updates, &arena); err != nil {
			return err
		}
		n := 0
		err := tx.Bucket([]byte(kb.segments)).ForEach(func(_, v []byte) error {
			if len(v) > valueBytes {
				t.Errorf("a history segment of %d bytes, want at most %d", len(v), valueBytes)
			}
			n++
			return nil
		})
		t.Logf("%d history segments", n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
