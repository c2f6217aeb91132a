package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// The history benchmarks at real cardinality: a commit's history is
// appended as segments whatever the keys (BenchmarkApply_History), and the
// index is folded from them in bounded steps (BenchmarkMaintain_Fold).
// Both run against a store that already holds a day of 100,000 keys.

func historyStore(b *testing.B) (*Store, int64) {
	b.Helper()
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	base := int64(1_700_000_040)
	// A day of 100,000 keys, about 70 per window, folded.
	const keys, windows = 100_000, 1440
	for w := 0; w < windows; w += 60 {
		c := &Commit{}
		for m := w; m < w+60; m++ {
			for k := m * keys / windows; k < (m+1)*keys/windows; k++ {
				c.History = append(c.History, HistoryUpdate{Kind: KindIP, Key: benchKey(k), WindowStart: time.Unix(base+int64(m)*60, 0), Hits: 2, Bytes: 9000})
			}
		}
		if _, err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	for {
		w, err := s.Maintain()
		if err != nil {
			b.Fatal(err)
		}
		if !w.More {
			break
		}
	}
	return s, base + windows*60
}

func benchKey(k int) string {
	return fmt.Sprintf("%d.%d.%d.%d", 20+k>>24&127, k>>16&255, k>>8&255, k&255)
}

// BenchmarkApply_History commits 16,384 updates of new keys, what a cut
// holds at detect.close_batch 16,384 (the default is 4,096): the segments
// are appended, nothing is read.
func BenchmarkApply_History(b *testing.B) {
	s, next := historyStore(b)
	const n = 16384
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := &Commit{History: make([]HistoryUpdate, n)}
		start := time.Unix(next+int64(i/4)*60, 0)
		for k := range c.History {
			c.History[k] = HistoryUpdate{Kind: KindIP, Key: benchKey(200_000 + i*n + k), WindowStart: start, Hits: 2, Bytes: 9000}
		}
		if _, err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().FileSize), "file-bytes")
}

// BenchmarkMaintain_Fold folds 16,384 new keys into an index of 100,000,
// one bounded step.
func BenchmarkMaintain_Fold(b *testing.B) {
	s, next := historyStore(b)
	const n = foldMaxKeys
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := &Commit{History: make([]HistoryUpdate, n)}
		start := time.Unix(next+int64(i)*60, 0)
		for k := range c.History {
			c.History[k] = HistoryUpdate{Kind: KindIP, Key: benchKey(300_000 + i*n + k), WindowStart: start, Hits: 2, Bytes: 9000}
		}
		if _, err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		w, err := s.Maintain()
		if err != nil || w.Indexed != n {
			b.Fatalf("Maintain = %+v, %v", w, err)
		}
	}
}
