package state

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A commit with only Seen updates is not empty: Apply writes it.
func TestCommitEmpty_Seen(t *testing.T) {
	if !(&Commit{}).empty() || !(&Commit{Seen: []SeenUpdate{}}).empty() {
		t.Error("a commit without updates is not empty")
	}
	if (&Commit{Seen: []SeenUpdate{{Key: "example.org", First: 1, Last: 2}}}).empty() {
		t.Error("a commit with only Seen updates is empty: Apply would drop it")
	}
}

// The seen retention goes a bounded step at a time: with more stale
// destinations than seenMaxExpire, each Maintain forgets at most
// seenMaxExpire of them, Work.SeenFreed counts them, and a few steps
// forget them all and nothing fresh.
func TestExpireSeen_BoundedSteps(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, SeenRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const (
		stale = 2*seenMaxExpire + 100
		fresh = 50
		base  = 1_700_000_000
		now   = base + 1_000_000
	)
	var ups []SeenUpdate
	for i := range stale {
		ups = append(ups, SeenUpdate{Key: fmt.Sprintf("old%05d.example", i), First: base, Last: base + int64(i)})
	}
	for i := range fresh {
		ups = append(ups, SeenUpdate{Key: fmt.Sprintf("new%03d.example", i), First: base, Last: now - 3600})
	}
	if _, err := s.Apply(&Commit{Seen: ups,
		History: []HistoryUpdate{{Kind: KindDomain, Key: "example.net", WindowStart: time.Unix(now, 0), Hits: 1}}}); err != nil {
		t.Fatal(err)
	}

	freed, steps := 0, 0
	for freed < stale {
		if steps++; steps > 10 {
			t.Fatalf("%d of %d stale destinations forgotten after 10 steps", freed, stale)
		}
		w, err := s.Maintain()
		if err != nil {
			t.Fatal(err)
		}
		if w.SeenFreed > seenMaxExpire || w.SeenFreed == 0 {
			t.Fatalf("step %d forgot %d destinations; want between 1 and %d", steps, w.SeenFreed, seenMaxExpire)
		}
		freed += w.SeenFreed
	}
	if freed != stale || steps < 3 {
		t.Errorf("%d destinations forgotten in %d steps; want %d in 3 or more", freed, steps, stale)
	}
	if w, err := s.Maintain(); err != nil || w.SeenFreed != 0 {
		t.Errorf("Maintain once all were forgotten = %+v, %v", w, err)
	}
	n := 0
	damaged, err := s.Seen(func(key string, _, _ int64) {
		n++
		if !strings.HasPrefix(key, "new") {
			t.Errorf("%s kept", key)
		}
	})
	if err != nil || damaged != 0 || n != fresh {
		t.Errorf("Seen after the sweep: %d destinations, %d damaged, %v; want the %d fresh ones", n, damaged, err, fresh)
	}
}

// Records are read back from disk, where a damaged file can put anything:
// decoding must fail cleanly, never panic, and what decodes must encode
// back to the same record.
func FuzzDecodeSeen(f *testing.F) {
	f.Add(appendSeen(nil, 1_700_000_000, 1_700_086_400))
	f.Add(appendSeen(nil, 0, 0)[:9])
	f.Add(append(appendSeen(nil, 1, 2), 0))
	f.Add([]byte{seenVersion + 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, v []byte) {
		first, last, err := decodeSeen(v)
		if err != nil {
			return
		}
		if len(v) != seenLen {
			t.Fatalf("decoded a record of %d bytes", len(v))
		}
		if f2, l2, err := decodeSeen(appendSeen(nil, first, last)); err != nil || f2 != first || l2 != last {
			t.Fatalf("round trip: %d, %d, %v; want %d, %d", f2, l2, err, first, last)
		}
	})
}
