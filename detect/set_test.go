package detect

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestU64set_MatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s u64set
	for round := range 3 {
		ref := map[uint64]bool{}
		for range 5000 {
			h := rng.Uint64()
			if rng.IntN(3) == 0 { // many repeats, and small values
				h = uint64(rng.IntN(100)) + 2
			}
			added := s.Add(h)
			if added == ref[h] {
				t.Fatalf("round %d: Add(%d) = %v, want %v", round, h, added, !ref[h])
			}
			ref[h] = true
		}
		if s.Len() != len(ref) {
			t.Fatalf("round %d: Len %d, want %d", round, s.Len(), len(ref))
		}
		n := 0
		s.Each(func(h uint64) {
			n++
			if !ref[h] {
				t.Fatalf("Each yields %d, never added", h)
			}
		})
		if n != len(ref) {
			t.Fatalf("Each yields %d hashes, want %d", n, len(ref))
		}
		if used := float64(s.Len()) / float64(len(s.slots())); used > 0.75 {
			t.Fatalf("load factor %.2f above 3/4", used)
		}
		s.Reset()
		if s.Len() != 0 {
			t.Fatalf("Len after Reset = %d", s.Len())
		}
	}
}

func TestU64set_Zero(t *testing.T) {
	var s u64set
	if !s.Add(0) || s.Add(0) || s.Len() != 1 {
		t.Fatal("zero hash not stored once")
	}
}

func TestU64set_ResetKeepsMemory(t *testing.T) {
	var s u64set
	for i := range uint64(40) {
		s.Add(i*0x9e3779b97f4a7c15 + 1)
	}
	size := len(s.slots())
	if size == 0 || size > maxKeptTable {
		t.Fatalf("40 hashes in a table of %d slots", size)
	}
	allocs := testing.AllocsPerRun(20, func() {
		s.Reset()
		for i := range uint64(40) {
			s.Add(i*0x9e3779b97f4a7c15 + 1)
		}
	})
	if allocs != 0 || len(s.slots()) != size {
		t.Fatalf("refilling a reset set: %v allocs, %d slots (was %d)", allocs, len(s.slots()), size)
	}
	// A table grown past maxKeptTable is given back: the next user of the
	// set starts small.
	for i := range uint64(1000) {
		s.Add(i*0x9e3779b97f4a7c15 + 1)
	}
	s.Reset()
	if s.table != nil || s.Len() != 0 || !s.Add(7) || s.Len() != 1 {
		t.Fatalf("after Reset of a big set: table %v, len %d", s.table != nil, s.Len())
	}
}

func TestHashLower_CaseInsensitive(t *testing.T) {
	k := testDestKey
	if k.hashLower([]byte("WwW.ExAmPle.COM")) != k.hashLower([]byte("www.example.com")) {
		t.Fatal("hashLower differs by case")
	}
	if k.hashLower([]byte("www.example.com")) != k.hash([]byte("www.example.com")) {
		t.Fatal("hashLower of lower-case input differs from hash")
	}
	if k.hash([]byte("/A")) == k.hash([]byte("/a")) {
		t.Fatal("hash ignores case (paths are case-sensitive)")
	}
	long := []byte(strings.Repeat("A", maxLowered+10)) // lowered off the stack
	if k.hashLower(long) != k.hash(bytes.ToLower(long)) {
		t.Fatal("hashLower of a long name differs")
	}
	if other := DestKeyFromSeed(2); other.hash([]byte("/a")) == k.hash([]byte("/a")) {
		t.Fatal("two keys hash a path alike")
	}
}

// Sets of every size around the inline limit agree with a map, before and
// after a Reset (which keeps the table, so small sets then use it).
func TestU64set_SmallAndSpill(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for size := range 3 * smallN {
		var s u64set
		for round := range 2 {
			ref := map[uint64]bool{}
			for len(ref) < size {
				h := uint64(rng.IntN(3 * smallN)) // repeats
				if h == 1 {
					h = 0 // stored as 1: a distinct value from the set's view
				}
				if added := s.Add(h); added == ref[max(h, 1)] {
					t.Fatalf("size %d round %d: Add(%d) = %v", size, round, h, added)
				}
				ref[max(h, 1)] = true
			}
			got := map[uint64]bool{}
			s.Each(func(h uint64) { got[h] = true })
			if s.Len() != size || len(got) != size {
				t.Fatalf("size %d round %d: Len %d, Each %d", size, round, s.Len(), len(got))
			}
			for h := range ref {
				if !got[h] {
					t.Fatalf("size %d: %d missing from Each", size, h)
				}
			}
			if round == 0 && (s.table != nil) != (size > smallN) {
				t.Fatalf("size %d round %d: table allocated = %v", size, round, s.table != nil)
			}
			s.Reset()
		}
	}
}

// Has finds what Add put in, inline and in the table, and nothing else.
func TestU64Set_Has(t *testing.T) {
	var s u64set
	for n := range uint64(200) {
		h := n*0x9e3779b97f4a7c15 + 7
		if s.Has(h) {
			t.Fatalf("%d: Has before Add", n)
		}
		s.Add(h)
		for m := range n + 1 {
			if !s.Has(m*0x9e3779b97f4a7c15 + 7) {
				t.Fatalf("after %d adds, %d not found", n+1, m)
			}
		}
	}
	if s.Has(3) {
		t.Error("Has(3) of a set without it")
	}
	var z u64set
	z.Add(0)
	if !z.Has(0) {
		t.Error("0 added, not found")
	}
}
