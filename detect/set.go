package detect

import "unsafe"

// u64set is a set of 64-bit hashes used to count distinct values (paths,
// domains, query names) without keeping the values. Up to smallN hashes
// live inline (most keys of a window see a few distinct values, and a
// flood's keys one or two: no allocation, and no second cache line to
// miss); beyond that an open-addressing table takes over, with zero as
// the empty marker (a zero hash is stored as 1). The table's length is
// kept in small[0], free once the hashes moved to the table, so that a
// lookup loads the table's slot and nothing else (a slice header behind a
// pointer cost the counting loop a cache miss per line). Reset keeps the
// table, so a set reused across windows stops allocating once it has
// grown to the working size.
type u64set struct {
	small [smallN]uint64 // the hashes; with a table, small[0] is its length
	table *uint64        // the table's first slot, nil while the hashes fit in small
	n     uint32
}

const smallN = 3

// slots is the table (nil without one).
func (s *u64set) slots() []uint64 {
	if s.table == nil {
		return nil
	}
	return unsafe.Slice(s.table, s.small[0])
}

func (s *u64set) setTable(t []uint64) {
	s.table, s.small[0], s.n = &t[0], uint64(len(t)), 0
}

// Len is the number of distinct values added.
func (s *u64set) Len() int { return int(s.n) }

// Add inserts h and reports whether it was new.
func (s *u64set) Add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if s.table == nil {
		for _, x := range s.small[:s.n] {
			if x == h {
				return false
			}
		}
		if s.n < smallN {
			s.small[s.n] = h
			s.n++
			return true
		}
		old := s.small
		s.setTable(make([]uint64, 4*(smallN+1)))
		for _, x := range old {
			s.insert(x)
		}
	} else if (uint64(s.n)+1)*4 > s.small[0]*3 {
		s.grow()
	}
	return s.insert(h)
}

// Has reports whether h was added.
func (s *u64set) Has(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if s.table == nil {
		for _, x := range s.small[:s.n] {
			if x == h {
				return true
			}
		}
		return false
	}
	t := unsafe.Slice(s.table, s.small[0])
	mask := uint64(len(t) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *u64set) insert(h uint64) bool {
	t := unsafe.Slice(s.table, s.small[0])
	mask := uint64(len(t) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t[i] {
		case h:
			return false
		case 0:
			t[i] = h
			s.n++
			return true
		}
	}
}

func (s *u64set) grow() {
	old := s.slots()
	s.setTable(make([]uint64, len(old)*2))
	for _, h := range old {
		if h != 0 {
			s.insert(h)
		}
	}
}

// Reset empties the set, keeping its table up to maxKeptTable slots: a
// table grown by one scanner's thousands of paths would make every later
// user of the recycled set clear it and scatter its few hashes over it.
func (s *u64set) Reset() {
	if s.table != nil && s.small[0] > maxKeptTable {
		s.table, s.small = nil, [smallN]uint64{}
	}
	clear(s.slots())
	s.n = 0
}

// maxKeptTable is the largest table Reset keeps.
const maxKeptTable = 64

// Each calls fn for every stored hash (in table order).
func (s *u64set) Each(fn func(uint64)) {
	if s.table == nil {
		for _, h := range s.small[:s.n] {
			fn(h)
		}
		return
	}
	for _, h := range s.slots() {
		if h != 0 {
			fn(h)
		}
	}
}
