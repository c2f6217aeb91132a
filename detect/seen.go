package detect

import "time"

// Seen remembers the destinations (registrable domains, bare addresses)
// this node has counted, so that a domain's first window is reported
// `new` once and never again, through restarts and crashes: the agent
// commits the changes (Drain) with the counters of the lines that made
// them, and loads the stored ones back (Load) at start.
//
// It is kept in memory, by key hash, because the DNS clients' features
// ask it once per domain a client queried and window: 16 bytes and a
// map slot per destination. It is bounded two ways: a destination unseen
// for longer than the retention (of event time) is forgotten (and is new
// again if it comes back), and past Max destinations new ones are not
// remembered (counted in Full) until a sweep makes room. Not safe for
// concurrent use: the goroutine that counts owns it.
type Seen struct {
	m         map[uint64]seenEntry
	max       int
	retention int64 // seconds
	changes   []SeenChange
	full      int64
	newest    int64 // newest window start observed, Unix seconds
	swept     int64 // newest when the last sweep ran
	key       DestKey
	discard   bool // keep no changes (nothing stores them)
}

type seenEntry struct{ first, last uint32 } // Unix seconds

// SeenChange is a destination first seen, or seen again after more than a
// day (its last sighting moves on), to store.
type SeenChange struct {
	Key         string
	First, Last int64 // window starts, Unix seconds
}

// Seen defaults.
const (
	DefaultSeenMax       = 1 << 20
	DefaultSeenRetention = 90 * 24 * time.Hour
	// seenRefresh is how stale a stored last sighting may get before a
	// sighting is stored again: one write per destination and day at most.
	seenRefresh = 24 * 60 * 60
)

// NewSeen returns an empty set holding up to max destinations
// (DefaultSeenMax when max <= 0) for retention (DefaultSeenRetention when
// <= 0), hashing them with key (the Destinations' and aggregators').
func NewSeen(max int, retention time.Duration, key DestKey) *Seen {
	if max <= 0 {
		max = DefaultSeenMax
	}
	if retention <= 0 {
		retention = DefaultSeenRetention
	}
	return &Seen{m: make(map[uint64]seenEntry), max: max, retention: int64(retention / time.Second), key: key}
}

// Load adds a stored destination (at start, before counting).
func (s *Seen) Load(key string, first, last int64) {
	if len(s.m) >= s.max {
		s.full++
		return
	}
	s.m[s.key.hashString(key)] = seenEntry{u32(first), u32(last)}
	s.newest = max(s.newest, last)
}

func u32(v int64) uint32 { return uint32(min(max(v, 0), 1<<32-1)) }

// Len is the number of destinations remembered.
func (s *Seen) Len() int { return len(s.m) }

// Full counts the destinations that were not remembered because the set
// was full.
func (s *Seen) Full() int64 { return s.full }

// firstSeen returns the first window start (Unix seconds) of the
// destination with key hash h, ok false when it was never seen (or
// forgotten).
func (s *Seen) firstSeen(h uint64) (first int64, ok bool) {
	if s == nil {
		return 0, false
	}
	e, ok := s.m[h]
	return int64(e.first), ok
}

// observe records a window (start in Unix seconds) of the destination key
// (hash h): it returns the destination's first window and whether this is
// it (the destination was unknown).
func (s *Seen) observe(h uint64, key string, start int64) (first int64, isNew bool) {
	if start > s.newest {
		s.newest = start
		if s.newest-s.swept >= seenRefresh {
			s.sweep()
		}
	}
	e, ok := s.m[h]
	if !ok {
		// Full: a sweep may make room, but only if event time moved on
		// since the last one (one that found nothing to forget would find
		// nothing again, at the cost of a pass over every destination
		// per new one).
		if len(s.m) >= s.max && s.swept != s.newest {
			s.sweep()
		}
		if len(s.m) >= s.max {
			s.full++
			return start, true
		}
		s.m[h] = seenEntry{u32(start), u32(start)}
		s.record(SeenChange{Key: key, First: start, Last: start})
		return start, true
	}
	changed := false
	if start < int64(e.first) {
		e.first, changed = u32(start), true
	}
	if start-int64(e.last) >= seenRefresh {
		e.last, changed = u32(start), true
	}
	if changed {
		s.m[h] = e
		s.record(SeenChange{Key: key, First: int64(e.first), Last: int64(e.last)})
	}
	return int64(e.first), false
}

// sweep forgets the destinations unseen for longer than the retention.
func (s *Seen) sweep() {
	s.swept = s.newest
	cut := s.newest - s.retention
	for h, e := range s.m {
		if int64(e.last) < cut {
			delete(s.m, h)
		}
	}
}

// DiscardChanges stops keeping the changes for Drain: for a set nothing
// stores (`sharkfin score`), whose changes would pile up for the run.
func (s *Seen) DiscardChanges() {
	s.discard = true
	s.changes = nil
}

// record keeps a change for Drain.
func (s *Seen) record(c SeenChange) {
	if !s.discard {
		s.changes = append(s.changes, c)
	}
}

// Drain returns the changes since the last Drain, to commit with the
// counts that made them, and forgets them.
func (s *Seen) Drain() []SeenChange {
	c := s.changes
	s.changes = nil
	return c
}
