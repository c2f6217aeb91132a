package state

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Segment bounds: a window's entries are split into segments of at most
// segMaxEntries entries and segMaxBytes bytes, so that no value grows with
// the keys of a window (bbolt keeps a value whole on consecutive pages:
// see valueBytes).
const (
	segMaxEntries = 4096
	segMaxBytes   = valueBytes
)

// segmentFill is the fill percent of the segment and unfolded buckets:
// their keys start with the window start, so a commit appends at the right
// edge, and pages filled whole are never split again.
const segmentFill = 1.0

// historyWriter appends a commit's history as segments.
type historyWriter struct {
	tx    *bolt.Tx
	arena *[]byte
	// unfolded counts the entries the commit left to fold, per kind.
	unfolded map[string]int
}

// applyHistory writes the updates in tx as segments, one or more per kind
// and window start (updates to the same key of one window are summed),
// each with its unfolded marker, and raises the kind's newest window.
// Nothing is read: the index is folded from the segments later (Maintain).
func applyHistory(tx *bolt.Tx, updates []HistoryUpdate, arena *[]byte) (unfolded map[string]int, err error) {
	if len(updates) == 0 {
		return nil, nil
	}
	for i := range updates {
		u := &updates[i]
		if err := validUpdate(u); err != nil {
			return nil, fmt.Errorf("history update %d (%s %q): %w", i, u.Kind, u.Key, err)
		}
		if _, err := historyBuckets(u.Kind); err != nil {
			return nil, fmt.Errorf("history update %d: %w", i, err)
		}
	}
	order := sortUpdates(updates)
	w := historyWriter{tx: tx, arena: arena, unfolded: map[string]int{}}
	for len(order) > 0 {
		n := 1
		for n < len(order) && order[n].Kind == order[0].Kind && order[n].WindowStart.Unix() == order[0].WindowStart.Unix() {
			n++
		}
		if err := w.window(order[:n]); err != nil {
			return nil, fmt.Errorf("history of %s window %s: %w", order[0].Kind, order[0].WindowStart.UTC().Format("2006-01-02T15:04:05Z"), err)
		}
		order = order[n:]
	}
	return w.unfolded, nil
}

// window writes the updates of one kind and window start, sorted by key.
func (w *historyWriter) window(updates []*HistoryUpdate) error {
	kb, _ := historyBuckets(updates[0].Kind)
	start := updates[0].WindowStart.Unix()
	sb, err := bucket(w.tx, kb.segments)
	if err != nil {
		return err
	}
	ub, err := bucket(w.tx, kb.unfolded)
	if err != nil {
		return err
	}
	meta, err := bucket(w.tx, bucketMeta)
	if err != nil {
		return err
	}
	sb.FillPercent, ub.FillPercent = segmentFill, segmentFill
	var sw segWriter
	reserve(w.arena, segMaxBytes+2*maxHistoryKey)
	sw.start((*w.arena)[len(*w.arena):])
	flush := func() error {
		if sw.n == 0 {
			return nil
		}
		val := sw.finish()
		*w.arena = (*w.arena)[:len(*w.arena)+len(val)] // val was built in the arena's free room
		seq, err := sb.NextSequence()
		if err != nil {
			return err
		}
		key := w.key(func(b []byte) []byte { return segKey(b, start, seq) })
		if err := sb.Put(key, val[:len(val):len(val)]); err != nil {
			return err
		}
		count := w.key(func(b []byte) []byte { return binary.AppendUvarint(b, uint64(sw.n)) })
		if err := ub.Put(key, count); err != nil {
			return err
		}
		w.unfolded[updates[0].Kind] += sw.n
		reserve(w.arena, segMaxBytes+2*maxHistoryKey)
		sw.start((*w.arena)[len(*w.arena):])
		return nil
	}
	for i := 0; i < len(updates); {
		u := updates[i]
		hits, bytes, anomalous := uint64(u.Hits), uint64(u.Bytes), u.Anomalous
		j := i + 1
		for ; j < len(updates) && updates[j].Key == u.Key; j++ {
			hits += uint64(updates[j].Hits)
			bytes += uint64(updates[j].Bytes)
			anomalous = anomalous || updates[j].Anomalous
		}
		// The entry's most: its key, the two lengths (a key is at most
		// maxHistoryKey) and the two counts.
		if sw.n > 0 && sw.size()+len(u.Key)+2*binary.MaxVarintLen16+2*binary.MaxVarintLen64 > segMaxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		sw.add(u.Key, hits, bytes, anomalous)
		if sw.n == segMaxEntries {
			if err := flush(); err != nil {
				return err
			}
		}
		i = j
	}
	if err := flush(); err != nil {
		return err
	}
	if old := meta.Get([]byte(kb.newest)); old == nil || int64(binary.BigEndian.Uint64(old)) < start {
		return meta.Put([]byte(kb.newest), w.key(func(b []byte) []byte { return be64(b, uint64(start)) }))
	}
	return nil
}

// key returns what build appends, in the arena (valid until the commit).
func (w *historyWriter) key(build func([]byte) []byte) []byte {
	reserve(w.arena, 32)
	start := len(*w.arena)
	*w.arena = build(*w.arena)
	return (*w.arena)[start:len(*w.arena):len(*w.arena)]
}
