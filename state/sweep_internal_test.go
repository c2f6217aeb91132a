package state

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func rvMinute(m int64) time.Time { return time.Unix(1_700_000_000+60*m, 0).UTC() }

// A late segment committed while a sweep round is under way lowers the
// sweep cutoff below the one the round began with: the round passes keys
// already past the retention. Its end must record the lowest cutoff it
// swept with, or no round is owed any more and they stay (found by a
// review: 2,000 keys left).
func TestMaintain_LateSegmentMidRoundLeavesNoKey(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "s.db"), NoSync: true, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	apply := func(ups []HistoryUpdate) {
		t.Helper()
		if _, err := s.Apply(&Commit{History: ups}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(prefix string, n int, m int64) []HistoryUpdate {
		var u []HistoryUpdate
		for i := range n {
			u = append(u, HistoryUpdate{Kind: KindIP, Key: fmt.Sprintf("%s%05d", prefix, i), WindowStart: rvMinute(m), Hits: 1})
		}
		return u
	}
	step := func() Work {
		t.Helper()
		w, err := s.Maintain()
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	all := func() {
		for range 1000 {
			if !step().More {
				return
			}
		}
		t.Fatal("Maintain never done")
	}
	pos := func() string {
		var p string
		s.db.View(func(tx *bolt.Tx) error {
			kb, _ := historyBuckets(KindIP)
			p = string(tx.Bucket([]byte(bucketMeta)).Get([]byte(kb.sweep)))
			return nil
		})
		return p
	}
	var ups []HistoryUpdate
	ups = append(ups, keys("a", 8000, 100)...)
	ups = append(ups, keys("k", 2000, 60)...)
	ups = append(ups, keys("r", 20000, 100)...)
	ups = append(ups, HistoryUpdate{Kind: KindIP, Key: "now", WindowStart: rvMinute(100), Hits: 1})
	apply(ups)
	all()
	// The horizon moves a minute: a round is owed; let it pass the k keys
	// (last 60 >= cut 41).
	apply([]HistoryUpdate{{Kind: KindIP, Key: "now", WindowStart: rvMinute(101), Hits: 1}})
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("never past the k keys")
		}
		w := step()
		if w.roundEnded[0] {
			t.Fatalf("round ended before the k keys were passed (pos %q)", pos())
		}
		if p := pos(); p > "k01999" {
			t.Logf("sweep at %q", p)
			break
		}
	}
	// The horizon moves on: k keys (last 60) are past the cut (70).
	apply([]HistoryUpdate{{Kind: KindIP, Key: "now", WindowStart: rvMinute(130), Hits: 1}})
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("round never ended")
		}
		if w := step(); w.roundEnded[0] {
			t.Logf("round ended, sweep at %q, roundCut %d, sweptThrough %d", pos(), s.roundCut[0], s.sweptThrough[0].Load())
			break
		}
	}
	// Another input catches up: late windows (within the retention of the
	// newest) for keys seen recently.
	apply(keys("r", 16384, 75))
	apply(keys("r", 1, 76))
	all()
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		kb, _ := historyBuckets(KindIP)
		return tx.Bucket([]byte(kb.index)).ForEach(func(k, v []byte) error {
			var tt totals
			if err := decodeTotals(v, &tt); err != nil {
				return err
			}
			if c, _, _ := s.cutoff(tx, kb); tt.last < c {
				n++
			}
			return nil
		})
	})
	if n > 0 {
		t.Errorf("%d index keys past the retention left, sweep pending %v", n, s.SweepPending())
	}
}

// Random catch-ups (late windows of both kinds, commits of up to 25,000
// keys, a few maintenance steps between them): idle maintenance ends,
// with no index key past the retention left and no sweep pending.
func TestMaintain_RandomCatchUpsLeaveNoKey(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			s, err := Open(Options{Path: filepath.Join(t.TempDir(), "s.db"), NoSync: true, Retention: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			now := int64(200)
			for round := 0; round < 40; round++ {
				var ups []HistoryUpdate
				n := rng.IntN(25000)
				base := now - int64(rng.IntN(100))
				for range n {
					kind := KindIP
					if rng.IntN(3) == 0 {
						kind = KindDomain
					}
					m := min(now, base+int64(rng.IntN(3)))
					ups = append(ups, HistoryUpdate{Kind: kind, Key: fmt.Sprintf("k%05d", rng.IntN(30000)), WindowStart: rvMinute(m), Hits: 1})
				}
				if _, err := s.Apply(&Commit{History: ups}); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 {
					now += int64(rng.IntN(30))
				}
				for range rng.IntN(4) {
					if _, err := s.Maintain(); err != nil {
						t.Fatal(err)
					}
				}
			}
			steps := 0
			for ; steps < 10000; steps++ {
				w, err := s.Maintain()
				if err != nil {
					t.Fatal(err)
				}
				if !w.More {
					break
				}
			}
			if steps == 10000 {
				t.Fatal("Maintain reports More forever")
			}
			left := [2]int{}
			s.db.View(func(tx *bolt.Tx) error {
				for i, kind := range kinds {
					kb, _ := historyBuckets(kind)
					c, ok, _ := s.cutoff(tx, kb)
					if !ok {
						continue
					}
					tx.Bucket([]byte(kb.index)).ForEach(func(k, v []byte) error {
						var tt totals
						decodeTotals(v, &tt)
						if tt.last < c {
							left[i]++
						}
						return nil
					})
				}
				return nil
			})
			if left != [2]int{} || s.SweepPending() {
				t.Errorf("after %d idle steps: keys past the retention left %v, sweep pending %v", steps, left, s.SweepPending())
			}
		})
	}
}
