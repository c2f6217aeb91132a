package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bounds of one maintenance transaction (see Maintain). Each keeps the
// transaction's work, and so its time and the memory it holds, whatever the
// backlog: a few tens of milliseconds.
const (
	// foldMaxKeys bounds the distinct keys one fold writes to the index
	// (read, added to and written back, in key order).
	foldMaxKeys = 16384
	// foldMaxEntries bounds the segment entries one fold reads.
	foldMaxEntries = 1 << 18
	// expireMaxSegments bounds the segments one step deletes.
	expireMaxSegments = 512
	// sweepMinKeys is the least number of index keys one step looks at
	// for expiry; a fold looks at twice as many as it wrote, so that the
	// sweep keeps up with the keys the folds add.
	sweepMinKeys = 4096
	// cacheMaxExpire bounds the cache entries one step deletes.
	cacheMaxExpire = 4096
)

// Work says what one maintenance step did.
type Work struct {
	Folded     int // segment entries folded into the index
	Indexed    int // index keys written by the fold
	Expired    int // segments deleted by the retention
	Forgotten  int // index keys deleted by the retention
	CacheFreed int // cache entries expired
	SeenFreed  int // destinations forgotten (Options.SeenRetention)
	// Corrupt counts segments that could not be decoded (or were
	// missing): their entries up to the damage are folded, the segment
	// deleted, and the fold goes on (one bad page must not stop the
	// retention, or every read of recent windows, for good).
	Corrupt int
	// More says that work is left: call Maintain again.
	More bool

	// stale: the fold wrote an index key whose last window (staleLast,
	// the least of them) is already past the retention, kept because
	// segments still unfolded may hold its newer windows. The sweep
	// rounds so far did not see it: endRounds owes a new one.
	stale     [2]bool
	staleLast [2]int64
	// swept and sweptCut: a sweep step ran, with that cutoff (a late
	// segment not folded yet lowers it, so that cutoffs do not only
	// move on within a round: see endRounds).
	swept    [2]bool
	sweptCut [2]int64
	// roundEnded and roundCut: the index sweep reached the end of a
	// kind's index, with that cutoff (see endRounds).
	roundEnded [2]bool
	roundCut   [2]int64
}

// Maintain runs one bounded maintenance transaction: it folds segments
// into the per-key index, deletes segments and index keys older than the
// retention (by event time: the newest window applied, less
// Options.Retention) and expired cache entries, each up to a bound. It is
// safe at any time and any number of times; Work.More says whether there
// is work left. The agent calls it between commits while a backlog of
// unfolded entries builds up, and when idle, so that retention runs
// continuously in small steps and no transaction grows with the history.
func (s *Store) Maintain() (Work, error) {
	var w Work
	var folded [2]int
	err := s.update(func(tx *bolt.Tx) error {
		w = Work{}
		folded = [2]int{}
		for i, kind := range kinds {
			kb, _ := historyBuckets(kind)
			f, err := s.fold(tx, kb, &w)
			if err != nil {
				return fmt.Errorf("fold %s history: %w", kind, err)
			}
			folded[i] = f
			if err := s.expire(tx, kb, &w); err != nil {
				return fmt.Errorf("expire %s history: %w", kind, err)
			}
		}
		// The sweeps of the index and the caches go round continuously,
		// a bounded step at a time: they never ask for more.
		n, _, err := expireCache(tx, s.now(), cacheMaxExpire)
		w.CacheFreed = n
		if err != nil {
			return err
		}
		w.SeenFreed, err = s.expireSeen(tx)
		return err
	})
	if err != nil {
		return Work{}, fmt.Errorf("maintain state: %w", err)
	}
	for i, f := range folded {
		s.unfolded[i].Add(-int64(f))
	}
	s.endRounds(&w)
	if w.Expired > 0 {
		_ = s.reloadEdges() // they only pace the maintenance: see MaintenanceDue
	}
	return w, nil
}

// reloadEdges reads the oldest and newest window of every kind's history
// again, after a commit or an expiry moved them.
func (s *Store) reloadEdges() error {
	return s.db.View(func(tx *bolt.Tx) error {
		for i, kind := range kinds {
			kb, _ := historyBuckets(kind)
			if err := s.loadEdges(tx, i, kb); err != nil {
				return err
			}
		}
		return nil
	})
}

// Backlog returns the history entries not folded into the index yet.
func (s *Store) Backlog() int64 { return s.unfolded[0].Load() + s.unfolded[1].Load() }

// MaintenanceDue reports whether Maintain has work a writer should not
// put off: more than backlog entries to fold, or segments older than the
// retention. (Sweeping the index and the caches is never due: it goes on
// a step at a time with every Maintain.)
func (s *Store) MaintenanceDue(backlog int64) bool {
	if s.Backlog() > backlog {
		return true
	}
	ret := int64(s.retention / time.Second)
	for i := range kinds {
		if o, n := s.oldest[i].Load(), s.newest[i].Load(); o >= 0 && n >= 0 && o < n-ret {
			return true
		}
	}
	return false
}

// fold adds the oldest unfolded segments to the index, within the bounds,
// and drops their markers, in tx: a segment is folded exactly once, with
// the transaction that adds it. It returns the entries its markers
// counted (what leaves the backlog), read or not.
func (s *Store) fold(tx *bolt.Tx, kb kindBuckets, w *Work) (int, error) {
	ub, err := bucket(tx, kb.unfolded)
	if err != nil {
		return 0, err
	}
	sb, err := bucket(tx, kb.segments)
	if err != nil {
		return 0, err
	}
	ib, err := bucket(tx, kb.index)
	if err != nil {
		return 0, err
	}
	deltas := map[string]*totals{}
	var done, bad [][]byte
	entries, marked := 0, 0
	c := ub.Cursor()
	for k, m := c.First(); k != nil; k, m = c.Next() {
		if len(deltas) >= foldMaxKeys || entries >= foldMaxEntries {
			w.More = true
			break
		}
		done = append(done, slices.Clone(k))
		if n, l := binary.Uvarint(m); l > 0 {
			marked += int(n)
		}
		v := sb.Get(k)
		if v == nil {
			w.Corrupt++ // expire keeps unfolded segments: a damaged file
			continue
		}
		r := newSegReader(v, segStart(k))
		var e segEntry
		for r.next(&e) {
			t := deltas[string(e.key)]
			if t == nil {
				t = &totals{}
				deltas[string(e.key)] = t
			}
			t.add(&e)
			entries++
		}
		if r.Err() != nil {
			w.Corrupt++
			bad = append(bad, done[len(done)-1])
		}
	}
	for _, k := range done {
		if err := ub.Delete(k); err != nil {
			return 0, err
		}
	}
	// Readers of recent windows would stumble on a damaged segment until
	// it expired: what could be read of it is in the index now.
	for _, k := range bad {
		if err := sb.Delete(k); err != nil {
			return 0, err
		}
	}
	keys := make([]string, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// A key whose last window is past the retention (a late window of a
	// new key, from an input catching up on old logs) is not written: the
	// sweep would forget it only once the horizon moves again, which an
	// idle agent's does not.
	cut, haveCut, err := s.sweepCutoff(tx, kb, ub)
	if err != nil {
		return 0, err
	}
	retCut, _, err := s.cutoff(tx, kb)
	if err != nil {
		return 0, err
	}
	var buf []byte
	skipped := 0
	for _, k := range keys {
		t := deltas[k]
		old := ib.Get([]byte(k))
		if old != nil {
			var o totals
			if err := decodeTotals(old, &o); err != nil {
				return 0, fmt.Errorf("index %q: %w", k, err)
			}
			o.merge(t)
			t = &o
		}
		if haveCut && t.last < cut {
			if old != nil {
				if err := ib.Delete([]byte(k)); err != nil {
					return 0, err
				}
			}
			w.Forgotten++
			skipped++
			continue
		}
		if haveCut && t.last < retCut {
			if !w.stale[kb.i] || t.last < w.staleLast[kb.i] {
				w.staleLast[kb.i] = t.last
			}
			w.stale[kb.i] = true
		}
		start := len(buf)
		buf = appendTotals(buf, t)
		if err := ib.Put([]byte(k), buf[start:len(buf):len(buf)]); err != nil {
			return 0, err
		}
		if len(buf) > 1<<20 {
			buf = nil // bbolt holds the values until the commit: a new chunk
		}
	}
	w.Folded += entries
	w.Indexed += len(keys) - skipped
	return marked, s.sweep(tx, kb, max(sweepMinKeys, 2*len(keys)), w)
}

// cutoff returns the retention horizon of a kind: the newest window start
// applied less the retention, in Unix seconds; ok is false when no window
// was ever applied.
func (s *Store) cutoff(tx *bolt.Tx, kb kindBuckets) (int64, bool, error) {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return 0, false, err
	}
	v := meta.Get([]byte(kb.newest))
	if len(v) != 8 {
		return 0, false, nil
	}
	return int64(binary.BigEndian.Uint64(v)) - int64(s.retention/time.Second), true, nil
}

// expire deletes the oldest segments that start before the cutoff and are
// folded, up to expireMaxSegments. An unfolded one stops it: the fold takes
// the oldest first, so it is folded by the next steps.
func (s *Store) expire(tx *bolt.Tx, kb kindBuckets, w *Work) error {
	cut, ok, err := s.cutoff(tx, kb)
	if err != nil || !ok {
		return err
	}
	sb, err := bucket(tx, kb.segments)
	if err != nil {
		return err
	}
	ub, err := bucket(tx, kb.unfolded)
	if err != nil {
		return err
	}
	var drop [][]byte
	c := sb.Cursor()
	k, _ := c.First()
	for ; k != nil && segStart(k) < cut; k, _ = c.Next() {
		if len(drop) == expireMaxSegments {
			w.More = true
			break
		}
		if ub.Get(k) != nil {
			w.More = true
			break
		}
		drop = append(drop, slices.Clone(k))
	}
	for _, k := range drop {
		if err := sb.Delete(k); err != nil {
			return err
		}
	}
	w.Expired += len(drop)
	return nil
}

// sweep looks at up to budget index keys, from where the last sweep
// stopped, and deletes those last seen before the cutoff; it wraps around
// at the end of the index. A key forgotten this way that comes back starts
// anew.
//
// While the fold is behind, a key's index entry may not show its latest
// windows: the cutoff is then taken from the oldest window not folded
// (unfolded segments are keyed by window start), so that only keys unseen
// for longer than the retention before it are forgotten.
func (s *Store) sweep(tx *bolt.Tx, kb kindBuckets, budget int, w *Work) error {
	if !s.sweepPending(kb.i) {
		return nil // a round has passed the horizon since it last moved
	}
	ub, err := bucket(tx, kb.unfolded)
	if err != nil {
		return err
	}
	cut, ok, err := s.sweepCutoff(tx, kb, ub)
	if err != nil || !ok {
		return err
	}
	ib, err := bucket(tx, kb.index)
	if err != nil {
		return err
	}
	var t totals
	n, _, ended, err := sweepBucket(tx, ib, kb.sweep, budget, func(k, v []byte) (bool, error) {
		if err := decodeTotals(v, &t); err != nil {
			return false, fmt.Errorf("index %q: %w", k, err)
		}
		return t.last < cut, nil
	})
	w.Forgotten += n
	w.swept[kb.i], w.sweptCut[kb.i] = true, cut
	if ended { // Maintain records the round once the transaction is written
		w.roundEnded[kb.i], w.roundCut[kb.i] = true, cut
	}
	return err
}

// sweepCutoff is the cutoff under which index keys are forgotten: the
// retention's (cutoff), or while the fold is behind, the oldest window not
// folded less the retention, since a key's index entry may not show its
// latest windows yet. ok is false when no window was ever applied.
func (s *Store) sweepCutoff(tx *bolt.Tx, kb kindBuckets, ub *bolt.Bucket) (int64, bool, error) {
	cut, ok, err := s.cutoff(tx, kb)
	if err != nil || !ok {
		return 0, false, err
	}
	if k, _ := ub.Cursor().First(); k != nil {
		cut = min(cut, segStart(k)-int64(s.retention/time.Second))
	}
	return cut, true, nil
}

// endRounds records the sweep rounds w ended, after its transaction was
// written. A round ends at the end of the index: it began at the previous
// end, and looked at every key with a cutoff of at least the least of its
// steps' (roundCut keeps it: a late segment not folded yet lowers a step's
// cutoff). It sets w.More while a round is owed, so that idle maintenance
// sweeps on until one is done.
func (s *Store) endRounds(w *Work) {
	for i := range kinds {
		if w.swept[i] {
			s.roundCut[i] = min(s.roundCut[i], w.sweptCut[i])
		}
		if w.roundEnded[i] {
			s.sweptThrough[i].Store(s.roundCut[i])
			s.roundCut[i] = w.roundCut[i]
		}
		if w.stale[i] {
			// Neither the rounds done nor the one under way (it may
			// have passed the key's place) forgot it: the round after
			// next begins with a cutoff that does.
			s.roundCut[i] = min(s.roundCut[i], w.staleLast[i])
			if s.sweptThrough[i].Load() > w.staleLast[i] {
				s.sweptThrough[i].Store(w.staleLast[i])
			}
		}
		if s.sweepPending(i) {
			w.More = true
		}
	}
}

// SweepPending reports whether index keys may be past the retention and
// not swept yet: no complete round of the sweep since the cutoff (the
// newest window less the retention) passed them. Maintain then reports
// Work.More, so that an idle agent sweeps on (sweepMinKeys keys a step)
// until a round is done; its pace while lines flow is the folds'.
func (s *Store) SweepPending() bool {
	for i := range kinds {
		if s.sweepPending(i) {
			return true
		}
	}
	return false
}

func (s *Store) sweepPending(i int) bool {
	n := s.newest[i].Load()
	return n >= 0 && n-int64(s.retention/time.Second) > s.sweptThrough[i].Load()
}

// sweepBucket looks at up to budget keys of b, from just after the key
// stored in meta under pos (the first key if none), wrapping around at the
// end but not past where it began; it deletes those drop reports, and
// stores the last key it looked at under pos. more reports that it stopped
// at the budget.
func sweepBucket(tx *bolt.Tx, b *bolt.Bucket, pos string, budget int, drop func(k, v []byte) (bool, error)) (deleted int, more, ended bool, err error) {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return 0, false, false, err
	}
	from := slices.Clone(meta.Get([]byte(pos)))
	var gone [][]byte
	var last []byte
	c := b.Cursor()
	k, v := c.Seek(from)
	if k != nil && bytes.Equal(k, from) {
		k, v = c.Next() // looked at by the last sweep
	}
	wrapped := len(from) == 0 // from the first key: no second round
	restart := false          // at the end, and no key looked at since
	for seen := 0; ; seen++ {
		if k == nil {
			ended, restart, last = true, true, nil
			if wrapped {
				break
			}
			wrapped = true
			if k, v = c.First(); k == nil {
				break
			}
		}
		if wrapped && len(from) > 0 && bytes.Compare(k, from) > 0 {
			break // a whole round
		}
		if seen == budget {
			more = true
			break
		}
		if v == nil { // a nested bucket: looked at, not dropped
			last = slices.Clone(k)
			k, v = c.Next()
			continue
		}
		d, err := drop(k, v)
		if err != nil {
			return 0, false, false, err
		}
		if d {
			gone = append(gone, slices.Clone(k))
		}
		last = slices.Clone(k)
		k, v = c.Next()
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return 0, false, false, err
		}
	}
	switch {
	case last != nil:
		if err := meta.Put([]byte(pos), last); err != nil {
			return 0, false, false, err
		}
	case restart:
		// Stopped at the end: the next step starts at the first key, not
		// after the last one, where it would find the end again and end
		// a round that looked at no key.
		if err := meta.Delete([]byte(pos)); err != nil {
			return 0, false, false, err
		}
	}
	return len(gone), more, ended, nil
}

// expireCache looks at up to budget entries of each cache, from where it stopped last, and deletes those expired by now
// (and damaged ones).
func expireCache(tx *bolt.Tx, now time.Time, budget int) (removed int, more bool, err error) {
	root, err := bucket(tx, bucketCache)
	if err != nil {
		return 0, false, err
	}
	var names [][]byte
	if err := root.ForEachBucket(func(k []byte) error {
		names = append(names, slices.Clone(k))
		return nil
	}); err != nil {
		return 0, false, err
	}
	for _, name := range names {
		n, m, _, err := sweepBucket(tx, root.Bucket(name), metaCacheSweep+string(name), budget, func(_, v []byte) (bool, error) {
			exp, err := cacheExpiry(v)
			return err != nil || (exp != 0 && exp <= now.UnixNano()), nil
		})
		if err != nil {
			return 0, false, fmt.Errorf("cache %s: %w", name, err)
		}
		removed += n
		more = more || m
	}
	return removed, more, nil
}
