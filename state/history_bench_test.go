package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkApply_HistoryFullDay measures the worst case of the history
// layout: 500 clients that were active in every minute of the retained
// day: each update rewrites the key's totals and its current hourly chunk
// and, once an hour, expires the oldest chunks. The day is written
// directly to skip a day of commits.
func BenchmarkApply_HistoryFullDay(b *testing.B) {
	const keys, windows = 500, 1440
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := int64(1_700_000_040)
	names := make([]string, keys)
	// Write the day directly: totals, then one chunk per key and hour.
	var ws []winRec
	if err := s.db.Update(func(tx *bolt.Tx) error {
		tb, cb := tx.Bucket([]byte(bucketHistoryIP)), tx.Bucket([]byte(bucketWindowsIP))
		tot := totals{first: base, last: base + (windows-1)*60, hits: 12 * windows, bytes: 34_000 * windows, windows: windows}
		for i := range names {
			names[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			if err := tb.Put([]byte(names[i]), appendTotals(nil, &tot)); err != nil {
				return err
			}
			for w := range windows {
				start := base + int64(w)*60
				ws = append(ws, winRec{start: start, hits: 12, bytes: 34_000})
				if w == windows-1 || (start+60)/chunkSpan != start/chunkSpan {
					if err := cb.Put(chunkKey(nil, start, names[i]), appendChunk(nil, ws)); err != nil {
						return err
					}
					ws = ws[:0]
				}
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c := &Commit{History: make([]HistoryUpdate, keys)}
		start := time.Unix(base+int64(windows+i)*60, 0)
		for k := range c.History {
			c.History[k] = HistoryUpdate{Kind: KindIP, Key: names[k], WindowStart: start, Hits: 12, Bytes: 34_000}
		}
		if _, err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().FileSize), "file-bytes")
}
