package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The destinations a node has seen (registrable domains and bare
// addresses), with the first and the last window they were seen in, for
// the `new` flag of domain events (detect.Seen). They are written in the
// commit that counts the lines that made them, so a crash cannot make a
// domain new twice, and swept by Maintain once unseen for longer than
// Options.SeenRetention (by event time, as the history).

// DefaultSeenRetention is how long a destination is remembered unseen.
const DefaultSeenRetention = 90 * 24 * time.Hour

const (
	seenVersion = 1
	seenLen     = 1 + 8 + 8
	// seenMaxExpire bounds the entries one maintenance step looks at.
	seenMaxExpire = 4096
)

// SeenUpdate stores a destination's first and last window (Unix seconds),
// replacing what was stored.
type SeenUpdate struct {
	Key         string
	First, Last int64
}

func appendSeen(b []byte, first, last int64) []byte {
	b = append(b, seenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	return binary.BigEndian.AppendUint64(b, uint64(last))
}

func decodeSeen(v []byte) (first, last int64, err error) {
	if len(v) != seenLen || v[0] != seenVersion {
		return 0, 0, errors.New("unknown seen record version or length")
	}
	return int64(binary.BigEndian.Uint64(v[1:])), int64(binary.BigEndian.Uint64(v[9:])), nil
}

func applySeen(tx *bolt.Tx, updates []SeenUpdate, arena *[]byte) error {
	if len(updates) == 0 {
		return nil
	}
	b, err := bucket(tx, bucketSeen)
	if err != nil {
		return err
	}
	for _, u := range updates {
		if u.Key == "" || len(u.Key) > maxHistoryKey || u.First < 0 || u.Last < u.First {
			return fmt.Errorf("seen %q: empty or long key, or bad windows %d..%d", u.Key, u.First, u.Last)
		}
		reserve(arena, seenLen)
		start := len(*arena)
		*arena = appendSeen(*arena, u.First, u.Last)
		if err := b.Put([]byte(u.Key), (*arena)[start:len(*arena):len(*arena)]); err != nil {
			return fmt.Errorf("seen %q: %w", u.Key, err)
		}
	}
	return nil
}

// Seen calls fn for every destination stored (at start, to load
// detect.Seen), in key order. A damaged record is skipped and counted.
func (s *Store) Seen(fn func(key string, first, last int64)) (damaged int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSeen))
		if b == nil { // a file of an older sharkfin, read-only
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			first, last, err := decodeSeen(v)
			if err != nil {
				damaged++
				return nil
			}
			fn(string(k), first, last)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read seen destinations: %w", err)
	}
	return damaged, nil
}

// SeenOf returns when the destination key was first and last seen
// (window starts), ok false when it is not stored.
func (s *Store) SeenOf(key string) (first, last time.Time, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSeen))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		f, l, err := decodeSeen(v)
		if err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
		first, last, ok = time.Unix(f, 0).UTC(), time.Unix(l, 0).UTC(), true
		return nil
	})
	return first, last, ok, err
}

// expireSeen deletes, a bounded step at a time, the destinations unseen
// for longer than the retention before the newest domain window applied.
func (s *Store) expireSeen(tx *bolt.Tx) (int, error) {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return 0, err
	}
	v := meta.Get([]byte(metaNewestDomain))
	if len(v) != 8 {
		return 0, nil // no domain window applied yet
	}
	cut := int64(binary.BigEndian.Uint64(v)) - int64(s.seenRetention/time.Second)
	b, err := bucket(tx, bucketSeen)
	if err != nil {
		return 0, err
	}
	n, _, _, err := sweepBucket(tx, b, metaSeenSweep, seenMaxExpire, func(_, v []byte) (bool, error) {
		_, last, err := decodeSeen(v)
		return err != nil || last < cut, nil
	})
	return n, err
}

// destKeyLen is the length of the destinations' hash key.
const destKeyLen = 16

// DestKey returns the node's key of the destinations' hash (16 random
// bytes made with the file; see detect.DestKey): the hashes stored in the
// snapshots of open windows are keyed by it, so it outlives restarts.
func (s *Store) DestKey() ([]byte, error) {
	var key []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get([]byte(metaDestKey)); len(v) == destKeyLen {
			key = slices.Clone(v)
		}
		return nil
	})
	if err == nil && key == nil {
		err = errors.New("no destination hash key in the state file")
	}
	if err != nil {
		return nil, fmt.Errorf("read destination hash key: %w", err)
	}
	return key, nil
}
