package state_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

// A catch-up of many days of many distinct clients keeps the file near
// what the store holds at once: the commits of a day-long retention reuse
// the pages they free. They did not while values and the free list took
// runs of many pages (outbox segments of up to 256 KiB, a horizon table in
// one value, a free list written with every commit): commits found no
// free run as long among the pages freed and grew the file, to 68.6 MiB
// here, 8 times the 8.6 MiB in use; 16.5 MiB now, 1.9 times.
//
// The commits are the agent's, by shape: per simulated hour, 2,000 new
// clients with one event of 300 bytes and one history entry each, a
// horizon update for one client in ten, the outbox emptied up to two
// commits back (a sender that keeps up), and Maintain whenever it is due.
func TestStore_CatchUpOfDaysKeepsTheFileLevel(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: 24 * time.Hour})
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	ev := make([]byte, 300)
	var acked []uint64
	var failing [][]uint64 // horizon keys by hour
	size := func() int64 {
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	sizes := map[int]int64{}
	// The most the store held at once: the pages in use, less the free
	// ones and those freed by the last commit.
	var peak int64
	sample := func() {
		st := s.Stats()
		peak = max(peak, st.DataSize-st.FreeBytes)
	}
	const days, perHour = 12, 2000
	for h := range days * 24 {
		start := epoch.Add(time.Duration(h) * time.Hour)
		c := &state.Commit{Segments: &state.Segments{}, Horizons: map[string][]state.HorizonUpdate{}}
		failing = append(failing, nil)
		if h >= 72 { // detect.Horizon forgets a client 3 days after its last failure
			for _, k := range failing[h-72] {
				c.Horizons["web"] = append(c.Horizons["web"], state.HorizonUpdate{Key: k, Delete: true})
			}
		}
		for i := range perHour {
			ip := fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256))
			for j := range ev {
				ev[j] = byte('a' + (i+j)%26)
			}
			if err := c.Segments.Append(func(b []byte) ([]byte, error) { return append(b, ev...), nil }); err != nil {
				t.Fatal(err)
			}
			c.History = append(c.History, state.HistoryUpdate{Kind: state.KindIP, Key: ip, WindowStart: start.Add(time.Duration(i%60) * time.Minute), Hits: 2, Bytes: 900})
			if i%10 == 0 {
				k := r.Uint64()
				failing[h] = append(failing[h], k)
				c.Horizons["web"] = append(c.Horizons["web"], state.HorizonUpdate{Key: k, Last: start.Unix(), Values: [state.HorizonValues]float32{1, 2, 3, 4}})
			}
		}
		if len(acked) >= 2 {
			c.DeleteThrough = acked[len(acked)-2]
		}
		last, err := s.Apply(c)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, last)
		sample()
		for n := 0; s.MaintenanceDue(1<<20) && n < 1000; n++ {
			if _, err := s.Maintain(); err != nil {
				t.Fatal(err)
			}
			sample()
		}
		if (h+1)%24 == 0 {
			sizes[(h+1)/24] = size()
		}
	}
	t.Logf("state file by day (MiB): 1 %.1f, 3 %.1f, 6 %.1f, 12 %.1f; the most in use at once %.1f", mib(sizes[1]), mib(sizes[3]), mib(sizes[6]), mib(sizes[12]), mib(peak))
	// A commit writes its pages before the old ones are free (a fold
	// rewrites up to the whole index), so the file holds the most in use
	// plus about the largest commit: 1.9 times it measured (8 times
	// before).
	if end := size(); end > 5*peak/2 {
		t.Errorf("state file %.1f MiB after %d days, over 2.5 times the %.1f MiB the store ever held at once", mib(end), days, mib(peak))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
