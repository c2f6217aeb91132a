package state

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sortUpdates must order updates exactly as a stable sort by (Kind,
// WindowStart, Key): equal ones in the order given. Inputs are random, or
// made of sorted runs as a commit's windows give them.
func TestSortUpdates_IsAStableSortByKindWindowAndKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := rng.IntN(400)
		keys := 1 + rng.IntN(60)
		updates := make([]HistoryUpdate, n)
		for i := range updates {
			kind := KindIP
			if rng.IntN(4) == 0 {
				kind = KindDomain
			}
			updates[i] = HistoryUpdate{Kind: kind, Key: fmt.Sprintf("k%02d", rng.IntN(keys)),
				WindowStart: time.Unix(int64(rng.IntN(4))*60, 0), Hits: int64(i)}
		}
		if trial%2 == 1 { // sorted runs, as windows emit them
			for lo := 0; lo < n; {
				hi := min(n, lo+1+rng.IntN(80))
				slices.SortStableFunc(updates[lo:hi], func(x, y HistoryUpdate) int { return compareUpdates(&x, &y) })
				for i := lo; i < hi; i++ {
					updates[i].Hits = int64(i) // the position given, for the message
				}
				lo = hi
			}
		}
		want := make([]*HistoryUpdate, n)
		for i := range updates {
			want[i] = &updates[i]
		}
		slices.SortStableFunc(want, func(x, y *HistoryUpdate) int {
			if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
				return c
			}
			if c := x.WindowStart.Compare(y.WindowStart); c != 0 {
				return c
			}
			return cmp.Compare(x.Key, y.Key)
		})
		got := sortUpdates(updates)
		if len(got) != n {
			t.Fatalf("trial %d: %d updates out of %d", trial, len(got), n)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("trial %d: position %d holds %s %s #%d, want %s %s #%d", trial, i,
					got[i].Kind, got[i].Key, got[i].Hits, want[i].Kind, want[i].Key, want[i].Hits)
			}
		}
	}
}

// BenchmarkHistoryOrder compares sortUpdates with the sort it replaced
// (sort/ is the baseline) on a commit's worth of updates as the agent
// makes them: 15 windows of 600 sources each, each window in key order.
func BenchmarkHistoryOrder(b *testing.B) {
	const windows, sources = 15, 600
	var updates []HistoryUpdate
	for w := range windows {
		for i := range sources {
			updates = append(updates, HistoryUpdate{Kind: KindIP, Key: fmt.Sprintf("10.0.%d.%d", (i+w*37)%2000/256, (i+w*37)%2000%256),
				WindowStart: time.Unix(int64(w)*60, 0), Hits: 1})
		}
		slices.SortFunc(updates[w*sources:], func(x, y HistoryUpdate) int { return compareUpdates(&x, &y) })
	}
	b.Run("sort", func(b *testing.B) {
		idx := make([]int32, len(updates))
		for b.Loop() {
			for i := range idx {
				idx[i] = int32(i)
			}
			slices.SortFunc(idx, func(i, j int32) int {
				if c := compareUpdates(&updates[i], &updates[j]); c != 0 {
					return c
				}
				return cmp.Compare(i, j)
			})
		}
	})
	b.Run("merge", func(b *testing.B) {
		for b.Loop() {
			sortUpdates(updates)
		}
	})
}

// A segment that cannot be decoded, or whose marker outlived it, does not
// stop the maintenance for good: what it holds up to the damage is folded,
// the rest skipped and counted (Work.Corrupt), and the backlog empties.
func TestMaintain_SkipsDamagedSegments(t *testing.T) {
	s, err := Open(Options{Path: t.TempDir() + "/state.db", NoSync: true, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := func(m int) time.Time { return time.Unix(1_700_000_000+60*int64(m), 0).UTC() }
	var ups []HistoryUpdate
	for m := range 3 {
		for k := range 10 {
			ups = append(ups, HistoryUpdate{Kind: KindIP, Key: fmt.Sprintf("w%d-k%d", m, k), WindowStart: at(m), Hits: 1})
		}
	}
	if _, err := s.Apply(&Commit{History: ups}); err != nil {
		t.Fatal(err)
	}
	kb, _ := historyBuckets(KindIP)
	err = s.db.Update(func(tx *bolt.Tx) error {
		sb := tx.Bucket([]byte(kb.segments))
		c := sb.Cursor()
		k0, v0 := c.First()
		k1, _ := c.Next()
		k0, k1 = slices.Clone(k0), slices.Clone(k1)
		if err := sb.Put(k0, v0[:len(v0)/2]); err != nil { // window 0: cut short
			return err
		}
		return sb.Delete(k1) // window 1: gone, its marker left
	})
	if err != nil {
		t.Fatal(err)
	}
	var w Work
	for range 10 {
		step, err := s.Maintain()
		if err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		w.Corrupt += step.Corrupt
		if !step.More {
			break
		}
	}
	if w.Corrupt != 2 || s.Backlog() != 0 {
		t.Errorf("Corrupt = %d, backlog %d; want 2, 0", w.Corrupt, s.Backlog())
	}
	for k := range 10 {
		if _, ok, err := s.History(KindIP, fmt.Sprintf("w2-k%d", k)); !ok || err != nil {
			t.Errorf("w2-k%d of the sound segment: %v, %v", k, ok, err)
		}
	}
	if _, ok, _ := s.History(KindIP, "w0-k0"); !ok {
		t.Error("the first key of the segment cut short was not folded")
	}
}
