package state

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Prune forgets what is older than retention before now: every key whose
// last window starts earlier (history of both kinds), the per-window counts
// that start earlier, and the cache entries that have expired by now. It
// returns the number of keys and cache entries removed. It is one write
// transaction; it reads every key's totals but only the expired chunks.
func (s *Store) Prune(now time.Time, retention time.Duration) (removed int, err error) {
	cutoff := now.Add(-retention).Unix()
	err = s.update(func(tx *bolt.Tx) error {
		removed = 0
		for _, kind := range []string{KindIP, KindDomain} {
			tname, cname, err := historyBuckets(kind)
			if err != nil {
				return err
			}
			n, err := pruneTotals(tx, tname, cutoff)
			if err != nil {
				return err
			}
			removed += n
			if err := pruneChunks(tx, cname, cutoff); err != nil {
				return err
			}
		}
		n, err := pruneCache(tx, now)
		removed += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune state: %w", err)
	}
	return removed, nil
}

// pruneTotals deletes the keys last seen before cutoff.
func pruneTotals(tx *bolt.Tx, name string, cutoff int64) (int, error) {
	b, err := bucket(tx, name)
	if err != nil {
		return 0, err
	}
	var drop [][]byte
	var t totals
	if err := b.ForEach(func(k, v []byte) error {
		if err := decodeTotals(v, &t); err != nil {
			return fmt.Errorf("%s %q: %w", name, k, err)
		}
		if t.last < cutoff {
			drop = append(drop, slices.Clone(k))
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(drop), nil
}

// pruneChunks deletes the chunks of hours before cutoff's and drops the
// windows before cutoff from the chunks of cutoff's hour.
func pruneChunks(tx *bolt.Tx, name string, cutoff int64) error {
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	hour := max(cutoff, 0) / chunkSpan
	var drop, keep [][]byte // keep: key, value pairs
	var ws []winRec
	c := b.Cursor()
	for k, v := c.First(); k != nil && chunkHour(k) <= hour; k, v = c.Next() {
		if chunkHour(k) < hour {
			drop = append(drop, slices.Clone(k))
			continue
		}
		if ws, err = decodeChunk(v, hour, ws); err != nil {
			return fmt.Errorf("%s %q: %w", name, k, err)
		}
		i := 0
		for i < len(ws) && ws[i].start < cutoff {
			i++
		}
		switch {
		case i == len(ws):
			drop = append(drop, slices.Clone(k))
		case i > 0:
			keep = append(keep, slices.Clone(k), appendChunk(nil, ws[i:]))
		}
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for i := 0; i < len(keep); i += 2 {
		if err := b.Put(keep[i], keep[i+1]); err != nil {
			return err
		}
	}
	return nil
}
