package state

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// History kinds: the key is a client IP address or a destination domain.
const (
	KindIP     = "ip"
	KindDomain = "domain"
)

// Orders for Top.
const (
	ByHits      = "hits"
	ByBytes     = "bytes"
	ByAnomalies = "anomalies"
	ByLastSeen  = "last_seen"
)

// Record versions: the first byte of an encoded totals record and chunk.
const (
	totalsVersion = 1
	chunkVersion  = 1
)

// chunkSpan is the time one chunk of per-window counts covers. Chunks are
// keyed by hour first, so that the updates of one window, which all fall in
// the same hour, land on a few adjacent pages, and expiry deletes a prefix.
const chunkSpan = 3600 // seconds

// HistoryUpdate adds one window's counts for one key.
type HistoryUpdate struct {
	Kind        string // KindIP or KindDomain
	Key         string
	WindowStart time.Time // stored to the second
	Hits, Bytes int64     // not negative
	Anomalous   bool
}

// WindowCount is one window of a History.
type WindowCount struct {
	Start       time.Time
	Hits, Bytes int64
	Anomalous   bool
}

// History is what the store remembers of one key. Times are window starts,
// to the second, in UTC.
type History struct {
	Key                 string
	FirstSeen, LastSeen time.Time
	// Hits and Bytes are totals over every window ever applied.
	Hits, Bytes int64
	// Windows counts the distinct windows ever applied, Anomalies those of
	// them that were anomalous.
	Windows, Anomalies int
	// Recent holds the windows within Options.Retention of LastSeen,
	// oldest first.
	Recent []WindowCount
}

// totals is the stored summary of a key, times in Unix seconds.
type totals struct {
	first, last        int64
	hits, bytes        uint64
	windows, anomalies uint64
}

// winRec is one window in a chunk.
type winRec struct {
	start       int64
	hits, bytes uint64
	anomalous   bool
}

// historyBuckets returns the totals and chunk buckets of a kind.
func historyBuckets(kind string) (totals, chunks string, err error) {
	switch kind {
	case KindIP:
		return bucketHistoryIP, bucketWindowsIP, nil
	case KindDomain:
		return bucketHistoryDomain, bucketWindowsDomain, nil
	}
	return "", "", fmt.Errorf("unknown history kind %q (want %q or %q)", kind, KindIP, KindDomain)
}

// export turns t into a History for key.
func (t *totals) export(key string) History {
	return History{
		Key:       key,
		FirstSeen: time.Unix(t.first, 0).UTC(),
		LastSeen:  time.Unix(t.last, 0).UTC(),
		Hits:      int64(t.hits),
		Bytes:     int64(t.bytes),
		Windows:   int(t.windows),
		Anomalies: int(t.anomalies),
	}
}

// historyApplier applies the history updates of one commit. Updates are
// applied per key (kind and key), in their order within the key: the
// key's totals and each hour's chunk are read once, changed in memory and
// written once, which is the same as applying the updates one by one but
// costs one Get and one Put per record instead of one per update (a commit
// during catch-up holds several windows of the same keys).
type historyApplier struct {
	tx        *bolt.Tx
	retention int64 // seconds
	arena     *[]byte
	newest    map[string]int64 // chunk bucket -> newest window applied
	chunks    []chunkState     // the current key's chunks, reused
}

// chunkState is one hour's chunk of the key being applied.
type chunkState struct {
	hour  int64
	ws    []winRec
	dirty bool
}

// put stores the value encode appends (at most max bytes) under key.
func (a *historyApplier) put(b *bolt.Bucket, key []byte, max int, encode func([]byte) []byte) error {
	reserve(a.arena, max)
	start := len(*a.arena)
	*a.arena = encode(*a.arena)
	return b.Put(key, (*a.arena)[start:len(*a.arena):len(*a.arena)])
}

// key returns the key build appends (at most max bytes).
func (a *historyApplier) key(max int, build func([]byte) []byte) []byte {
	reserve(a.arena, max)
	start := len(*a.arena)
	*a.arena = build(*a.arena)
	return (*a.arena)[start:len(*a.arena):len(*a.arena)]
}

func validUpdate(u *HistoryUpdate) error {
	ws := u.WindowStart.Unix()
	if u.Key == "" || u.Hits < 0 || u.Bytes < 0 || ws < 0 || ws/chunkSpan > 1<<32-1 {
		return errors.New("empty key, negative count or window out of range")
	}
	return nil
}

// chunk returns the current key's chunk of hour, reading it on first use.
func (a *historyApplier) chunk(cb *bolt.Bucket, key string, hour int64) (*chunkState, error) {
	for i := range a.chunks {
		if a.chunks[i].hour == hour {
			return &a.chunks[i], nil
		}
	}
	if len(a.chunks) < cap(a.chunks) {
		a.chunks = a.chunks[:len(a.chunks)+1]
	} else {
		a.chunks = append(a.chunks, chunkState{})
	}
	c := &a.chunks[len(a.chunks)-1]
	c.hour, c.ws, c.dirty = hour, c.ws[:0], false
	var k [64]byte
	if old := cb.Get(chunkKey(k[:0], hour*chunkSpan, key)); old != nil {
		var err error
		if c.ws, err = decodeChunk(old, hour, c.ws); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// applyKey applies updates, all of one kind and key, in order.
func (a *historyApplier) applyKey(updates []*HistoryUpdate) error {
	u0 := updates[0]
	tname, cname, err := historyBuckets(u0.Kind)
	if err != nil {
		return err
	}
	tb, err := bucket(a.tx, tname)
	if err != nil {
		return err
	}
	cb, err := bucket(a.tx, cname)
	if err != nil {
		return err
	}
	key := a.key(len(u0.Key), func(b []byte) []byte { return append(b, u0.Key...) })
	var t totals
	seen := false
	if old := tb.Get(key); old != nil {
		if err := decodeTotals(old, &t); err != nil {
			return err
		}
		seen = true
	}
	a.chunks = a.chunks[:0]
	for _, u := range updates {
		ws := u.WindowStart.Unix()
		if !seen {
			t.first, t.last, seen = ws, ws, true
		}
		t.first, t.last = min(t.first, ws), max(t.last, ws)
		t.hits += uint64(u.Hits)
		t.bytes += uint64(u.Bytes)
		if ws < t.last-a.retention {
			// Older than the retention horizon: its chunk may be gone,
			// so it counts as a new window and adds to the totals only.
			t.windows++
			if u.Anomalous {
				t.anomalies++
			}
			continue
		}
		c, err := a.chunk(cb, u0.Key, ws/chunkSpan)
		if err != nil {
			return err
		}
		c.dirty = true
		i, found := slices.BinarySearchFunc(c.ws, ws, func(w winRec, s int64) int { return cmp.Compare(w.start, s) })
		if found {
			w := &c.ws[i]
			w.hits += uint64(u.Hits)
			w.bytes += uint64(u.Bytes)
			if u.Anomalous && !w.anomalous {
				w.anomalous = true
				t.anomalies++
			}
		} else {
			c.ws = slices.Insert(c.ws, i, winRec{start: ws, hits: uint64(u.Hits), bytes: uint64(u.Bytes), anomalous: u.Anomalous})
			t.windows++
			if u.Anomalous {
				t.anomalies++
			}
		}
		a.newest[cname] = max(a.newest[cname], ws)
	}
	for i := range a.chunks {
		c := &a.chunks[i]
		if !c.dirty {
			continue
		}
		ck := a.key(4+len(u0.Key), func(b []byte) []byte { return chunkKey(b, c.hour*chunkSpan, u0.Key) })
		if err := a.put(cb, ck, chunkMaxLen(len(c.ws)), func(b []byte) []byte { return appendChunk(b, c.ws) }); err != nil {
			return err
		}
	}
	return a.put(tb, key, totalsMaxLen, func(b []byte) []byte { return appendTotals(b, &t) })
}

// expire deletes, in each chunk bucket updated, the chunks of hours wholly
// before the retention of the newest window applied: a bound on the chunk
// buckets that does not wait for Prune.
func (a *historyApplier) expire() error {
	for cname, newest := range a.newest {
		cb, err := bucket(a.tx, cname)
		if err != nil {
			return err
		}
		hour := (newest - a.retention) / chunkSpan
		var drop [][]byte
		c := cb.Cursor()
		for k, _ := c.First(); k != nil && chunkHour(k) < hour; k, _ = c.Next() {
			drop = append(drop, slices.Clone(k))
		}
		for _, k := range drop {
			if err := cb.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyHistory applies the updates in tx, grouped by kind and key (in key
// order, which also fills bbolt's pages in order); keys and values are
// built in arena.
func applyHistory(tx *bolt.Tx, updates []HistoryUpdate, retention time.Duration, arena *[]byte) error {
	if len(updates) == 0 {
		return nil
	}
	for i := range updates {
		u := &updates[i]
		if err := validUpdate(u); err != nil {
			return fmt.Errorf("history update %d (%s %q): %w", i, u.Kind, u.Key, err)
		}
	}
	order := sortUpdates(updates)
	a := historyApplier{tx: tx, retention: int64(retention / time.Second), arena: arena, newest: map[string]int64{}}
	for len(order) > 0 {
		n := 1
		for n < len(order) && order[n].Kind == order[0].Kind && order[n].Key == order[0].Key {
			n++
		}
		if err := a.applyKey(order[:n]); err != nil {
			return fmt.Errorf("history of %s %q: %w", order[0].Kind, order[0].Key, err)
		}
		order = order[n:]
	}
	return a.expire()
}

// compareUpdates orders updates by kind, then key.
func compareUpdates(x, y *HistoryUpdate) int {
	if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	return cmp.Compare(x.Key, y.Key)
}

// sortUpdates returns updates by kind and key, each key's updates in their
// order (a stable sort). A commit holds the results of a few windows, each
// already in key order (windows emit their keys sorted), so it merges the
// runs already in order, pairwise: a few passes over the updates instead
// of a full sort (in the order of n log n comparisons only when nothing
// is in order).
func sortUpdates(updates []HistoryUpdate) []*HistoryUpdate {
	n := len(updates)
	order := make([]*HistoryUpdate, n)
	for i := range updates {
		order[i] = &updates[i]
	}
	bounds := []int{0} // where the runs start, then n
	for i := 1; i < n; i++ {
		if compareUpdates(order[i-1], order[i]) > 0 {
			bounds = append(bounds, i)
		}
	}
	bounds = append(bounds, n)
	if len(bounds) <= 2 {
		return order
	}
	buf := make([]*HistoryUpdate, n)
	next := make([]int, 0, len(bounds))
	for len(bounds) > 2 {
		next = next[:0]
		for j := 0; j+1 < len(bounds); j += 2 {
			lo, mid, hi := bounds[j], bounds[j+1], n
			if j+2 < len(bounds) {
				hi = bounds[j+2]
			}
			mergeUpdates(buf[lo:hi], order[lo:mid], order[mid:hi])
			next = append(next, lo)
		}
		next = append(next, n)
		order, buf = buf, order
		bounds, next = next, bounds
	}
	return order
}

// mergeUpdates merges sorted a and b into dst, a's first among equals.
func mergeUpdates(dst, a, b []*HistoryUpdate) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if compareUpdates(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}

// recent reads the windows of key within retention of last from the chunk
// bucket cb.
func recent(cb *bolt.Bucket, key string, last, retention int64) ([]WindowCount, error) {
	var out []WindowCount
	var ws []winRec
	from := last - retention
	var k []byte
	for hour := max(from, 0) / chunkSpan; hour <= last/chunkSpan; hour++ {
		k = chunkKey(k[:0], hour*chunkSpan, key)
		v := cb.Get(k)
		if v == nil {
			continue
		}
		var err error
		if ws, err = decodeChunk(v, hour, ws); err != nil {
			return nil, fmt.Errorf("chunk of hour %d: %w", hour, err)
		}
		for _, w := range ws {
			if w.start >= from && w.start <= last {
				out = append(out, WindowCount{Start: time.Unix(w.start, 0).UTC(), Hits: int64(w.hits), Bytes: int64(w.bytes), Anomalous: w.anomalous})
			}
		}
	}
	return out, nil
}

// History returns what the store remembers of key.
func (s *Store) History(kind, key string) (*History, bool, error) {
	tname, cname, err := historyBuckets(kind)
	if err != nil {
		return nil, false, err
	}
	var out *History
	err = s.db.View(func(tx *bolt.Tx) error {
		tb, err := bucket(tx, tname)
		if err != nil {
			return err
		}
		cb, err := bucket(tx, cname)
		if err != nil {
			return err
		}
		v := tb.Get([]byte(key))
		if v == nil {
			return nil
		}
		var t totals
		if err := decodeTotals(v, &t); err != nil {
			return err
		}
		h := t.export(key)
		if h.Recent, err = recent(cb, key, t.last, int64(s.retention/time.Second)); err != nil {
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

// Top returns the n keys of kind with the most hits, bytes or anomalous
// windows, or the most recently seen (by is one of ByHits, ByBytes,
// ByAnomalies, ByLastSeen), highest first, ties by key; n <= 0 returns all.
// It scans the totals of every key of the kind.
func (s *Store) Top(kind string, n int, by string) ([]History, error) {
	tname, cname, err := historyBuckets(kind)
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
	var out []History
	err = s.db.View(func(tx *bolt.Tx) error {
		tb, err := bucket(tx, tname)
		if err != nil {
			return err
		}
		cb, err := bucket(tx, cname)
		if err != nil {
			return err
		}
		var top []entry
		var t totals
		if err := tb.ForEach(func(k, v []byte) error {
			if err := decodeTotals(v, &t); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			score := metric(&t)
			if n > 0 && len(top) == n {
				worst := top[n-1]
				if score < worst.score || (score == worst.score && string(k) > worst.key) {
					return nil
				}
				top = top[:n-1]
			}
			e := entry{key: string(k), score: score, t: t}
			i, _ := slices.BinarySearchFunc(top, e, before)
			top = slices.Insert(top, i, e)
			return nil
		}); err != nil {
			return err
		}
		out = make([]History, 0, len(top))
		for _, e := range top {
			h := e.t.export(e.key)
			if h.Recent, err = recent(cb, e.key, e.t.last, int64(s.retention/time.Second)); err != nil {
				return fmt.Errorf("%q: %w", e.key, err)
			}
			out = append(out, h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("top %s by %s: %w", kind, by, err)
	}
	return out, nil
}
