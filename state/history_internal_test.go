package state

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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
