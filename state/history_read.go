package state

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// History returns what the store remembers of key: its index record plus
// the entries not folded into it yet, and its windows within the retention
// of its last one, read from the segments.
func (s *Store) History(kind, key string) (*History, bool, error) {
	kb, err := historyBuckets(kind)
	if err != nil {
		return nil, false, err
	}
	var out *History
	err = s.db.View(func(tx *bolt.Tx) error {
		ib, err := bucket(tx, kb.index)
		if err != nil {
			return err
		}
		var t totals
		if v := ib.Get([]byte(key)); v != nil {
			if err := decodeTotals(v, &t); err != nil {
				return err
			}
		}
		pending, err := unfoldedTotals(tx, kb, func(k []byte) bool { return string(k) == key })
		if err != nil {
			return err
		}
		if p := pending[key]; p != nil {
			t.merge(p)
		}
		if t.windows == 0 {
			return nil
		}
		h := t.export(key)
		if h.Recent, err = s.recent(tx, kb, key, t.last); err != nil {
			return err
		}
		out = &h
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("history %s %q: %w", kind, key, err)
	}
	return out, out != nil, nil
}

// unfoldedTotals sums the unfolded entries of the keys want accepts.
func unfoldedTotals(tx *bolt.Tx, kb kindBuckets, want func(key []byte) bool) (map[string]*totals, error) {
	ub, err := bucket(tx, kb.unfolded)
	if err != nil {
		return nil, err
	}
	sb, err := bucket(tx, kb.segments)
	if err != nil {
		return nil, err
	}
	out := map[string]*totals{}
	err = ub.ForEach(func(k, _ []byte) error {
		v := sb.Get(k)
		if v == nil {
			return nil
		}
		r := newSegReader(v, segStart(k))
		var e segEntry
		for r.next(&e) {
			if !want(e.key) {
				continue
			}
			t := out[string(e.key)]
			if t == nil {
				t = &totals{}
				out[string(e.key)] = t
			}
			t.add(&e)
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("segment %x: %w", k, err)
		}
		return nil
	})
	return out, err
}

// recent reads the windows of key within retention of last from the
// segments, summing the entries of one window.
func (s *Store) recent(tx *bolt.Tx, kb kindBuckets, key string, last int64) ([]WindowCount, error) {
	out, err := s.recentOf(tx, kb, map[string]int64{key: last})
	return out[key], err
}

// recentOf reads, in one pass over the segments, the windows of each key
// of lasts within the retention of its last window (the value), summing
// the entries of one window.
func (s *Store) recentOf(tx *bolt.Tx, kb kindBuckets, lasts map[string]int64) (map[string][]WindowCount, error) {
	out := make(map[string][]WindowCount, len(lasts))
	if len(lasts) == 0 {
		return out, nil
	}
	sb, err := bucket(tx, kb.segments)
	if err != nil {
		return nil, err
	}
	ret := int64(s.retention / time.Second)
	lo, hi := int64(1<<62), int64(-1)
	for _, last := range lasts {
		lo, hi = min(lo, last-ret), max(hi, last)
	}
	c := sb.Cursor()
	var e segEntry
	for k, v := c.Seek(segKey(nil, max(lo, 0), 0)); k != nil && segStart(k) <= hi; k, v = c.Next() {
		r := newSegReader(v, segStart(k))
		for r.next(&e) {
			last, ok := lasts[string(e.key)]
			if !ok || e.start < last-ret || e.start > last {
				continue
			}
			ws := out[string(e.key)]
			w := WindowCount{Start: time.Unix(e.start, 0).UTC(), Hits: int64(e.hits), Bytes: int64(e.bytes), Anomalous: e.anomalous}
			// Segments come in window order: a window's entries follow
			// each other.
			if n := len(ws); n > 0 && ws[n-1].Start.Equal(w.Start) {
				ws[n-1].Hits += w.Hits
				ws[n-1].Bytes += w.Bytes
				ws[n-1].Anomalous = ws[n-1].Anomalous || w.Anomalous
			} else {
				ws = append(ws, w)
			}
			out[string(e.key)] = ws
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("segment %x: %w", k, err)
		}
	}
	return out, nil
}

// Top returns the n keys of kind with the most hits, bytes or anomalous
// windows, or the most recently seen (by is one of ByHits, ByBytes,
// ByAnomalies, ByLastSeen), highest first, ties by key; n <= 0 returns all.
// It scans the index of the kind, and the entries not folded into it.
func (s *Store) Top(kind string, n int, by string) ([]History, error) {
	kb, err := historyBuckets(kind)
	if err != nil {
		return nil, err
	}
	var metric func(*totals) uint64
	switch by {
	case ByHits:
		metric = func(t *totals) uint64 { return t.hits }
	case ByBytes:
		metric = func(t *totals) uint64 { return t.bytes }
	case ByAnomalies:
		metric = func(t *totals) uint64 { return t.anomalies }
	case ByLastSeen:
		metric = func(t *totals) uint64 { return uint64(t.last) }
	default:
		return nil, fmt.Errorf("top %s: unknown order %q (want %s, %s, %s or %s)", kind, by, ByHits, ByBytes, ByAnomalies, ByLastSeen)
	}

	type entry struct {
		key   string
		score uint64
		t     totals
	}
	before := func(a, b entry) int { // higher score first, then key
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	}
	var top []entry
	consider := func(key string, t *totals) {
		score := metric(t)
		if n > 0 && len(top) == n {
			worst := top[n-1]
			if score < worst.score || (score == worst.score && key > worst.key) {
				return
			}
			top = top[:n-1]
		}
		e := entry{key: key, score: score, t: *t}
		i, _ := slices.BinarySearchFunc(top, e, before)
		top = slices.Insert(top, i, e)
	}
	var out []History
	err = s.db.View(func(tx *bolt.Tx) error {
		ib, err := bucket(tx, kb.index)
		if err != nil {
			return err
		}
		pending, err := unfoldedTotals(tx, kb, func([]byte) bool { return true })
		if err != nil {
			return err
		}
		var t totals
		if err := ib.ForEach(func(k, v []byte) error {
			if err := decodeTotals(v, &t); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			if p := pending[string(k)]; p != nil {
				t.merge(p)
				delete(pending, string(k))
			}
			consider(string(k), &t)
			return nil
		}); err != nil {
			return err
		}
		for k, p := range pending { // keys only the unfolded entries know
			consider(k, p)
		}
		lasts := make(map[string]int64, len(top))
		for _, e := range top {
			lasts[e.key] = e.t.last
		}
		recent, err := s.recentOf(tx, kb, lasts)
		if err != nil {
			return err
		}
		out = make([]History, 0, len(top))
		for _, e := range top {
			h := e.t.export(e.key)
			h.Recent = recent[e.key]
			out = append(out, h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("top %s by %s: %w", kind, by, err)
	}
	return out, nil
}

// KindSummary is what the store holds of one history kind.
type KindSummary struct {
	// Keys is the number of keys in the index; Unfolded the entries not
	// folded into it yet.
	Keys     int
	Unfolded int64
	// Segments and Entries count the per-window segments kept and the
	// entries in them; Oldest and Newest are the first and last window
	// starts kept (zero when none).
	Segments, Entries int
	Oldest, Newest    time.Time
}

// Summary describes the history of kind: what `sharkfin state` shows. It
// reads every segment's header and counts the index: for an operator, not
// a hot path.
func (s *Store) Summary(kind string) (KindSummary, error) {
	kb, err := historyBuckets(kind)
	if err != nil {
		return KindSummary{}, err
	}
	var out KindSummary
	err = s.db.View(func(tx *bolt.Tx) error {
		ib, err := bucket(tx, kb.index)
		if err != nil {
			return err
		}
		out.Keys = ib.Stats().KeyN
		sb, err := bucket(tx, kb.segments)
		if err != nil {
			return err
		}
		c := sb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r := newSegReader(v, segStart(k))
			if r.err != nil {
				return fmt.Errorf("segment %x: %w", k, r.err)
			}
			start := time.Unix(segStart(k), 0).UTC()
			if out.Segments == 0 {
				out.Oldest = start
			}
			out.Newest = start
			out.Segments++
			out.Entries += int(r.left)
		}
		ub, err := bucket(tx, kb.unfolded)
		if err != nil {
			return err
		}
		return ub.ForEach(func(_, v []byte) error {
			n, _ := binary.Uvarint(v)
			out.Unfolded += int64(n)
			return nil
		})
	})
	if err != nil {
		return KindSummary{}, fmt.Errorf("summary of %s history: %w", kind, err)
	}
	return out, nil
}
