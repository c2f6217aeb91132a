package detect

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// TestAggregator_SnapshotResume splits a record stream at every kind of
// point, snapshots, restores into a fresh aggregator and checks that the
// results equal one uninterrupted run.
func TestAggregator_SnapshotResume(t *testing.T) {
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(kind)))
			recs := make([]record.Record, 3000)
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			for i := range recs {
				r := &recs[i]
				r.Time = base + int64(i)*int64(100*time.Millisecond) - rng.Int64N(int64(7*time.Second))
				r.Client = fmt.Appendf(nil, "10.0.0.%d", rng.IntN(40))
				r.Status = []int{200, 301, 404, 500, 0}[rng.IntN(5)]
				r.Bytes = rng.Int64N(5000)
				r.Method = []byte([]string{"GET", "POST", "CONNECT"}[rng.IntN(3)])
				r.Target = fmt.Appendf(nil, "/p%d?q=%d", rng.IntN(50), i)
				r.Host = fmt.Appendf(nil, "%x.n%d.example.co.uk", rng.Uint32(), rng.IntN(3))
				if rng.IntN(5) == 0 {
					r.Host = fmt.Appendf(nil, "203.0.113.%d", rng.IntN(9))
				}
				r.Action = []byte([]string{"TCP_MISS", "TCP_DENIED"}[rng.IntN(2)])
				r.QType = []byte([]string{"A", "TXT", "ANY"}[rng.IntN(3)])
			}
			cfg := WindowConfig{Kind: kind, MaxKeys: 30}
			run := func(split int, closeBatch int) string {
				cfg := cfg
				cfg.CloseBatch = closeBatch
				var out bytes.Buffer
				emit := func(r *Result) { fmt.Fprintf(&out, "%d %s %v\n", r.Start, r.Key, r.Vector) }
				a, err := NewAggregator(cfg)
				if err != nil {
					t.Fatal(err)
				}
				for i := range recs {
					if i == split {
						snap, err := a.MarshalBinary()
						if err != nil {
							t.Fatal(err)
						}
						if a, err = NewAggregator(cfg); err != nil {
							t.Fatal(err)
						}
						if err := a.UnmarshalBinary(snap); err != nil {
							t.Fatal(err)
						}
					}
					a.Add(&recs[i])
					a.Advance(emit)
					if i+1 != split { // leave a window part way through closing at the split
						for n := 0; a.Closing(); n++ {
							if n > 1000 {
								t.Fatal("ContinueClose does not finish")
							}
							a.ContinueClose(emit)
						}
					}
				}
				a.CloseThrough(maxInt64, emit)
				for a.Closing() {
					a.ContinueClose(emit)
				}
				fmt.Fprintf(&out, "%+v\n", a.Stats())
				return out.String()
			}
			want := run(-1, 0)
			for _, closeBatch := range []int{0, 1, 7} {
				for _, split := range []int{0, 1, 599, 600, 1500, 2999} {
					if got := run(split, closeBatch); got != want {
						t.Fatalf("split at %d, close batch %d: results differ from an uninterrupted run", split, closeBatch)
					}
				}
			}
		})
	}
}

func TestAggregator_UnmarshalBinaryRejectsJunk(t *testing.T) {
	a, _ := NewAggregator(WindowConfig{Kind: record.KindWeb})
	good, _ := a.MarshalBinary()
	for _, data := range [][]byte{nil, {9}, good[:len(good)-1], append(append([]byte{}, good...), 0), {1, 0xff, 0xff}} {
		if err := a.UnmarshalBinary(data); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%x: err %v, want ErrBadSnapshot", data, err)
		}
	}
	other, _ := NewAggregator(WindowConfig{Kind: record.KindWeb, Window: 30 * time.Second})
	if err := other.UnmarshalBinary(good); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("window mismatch: %v", err)
	}
}

func FuzzAggregator_UnmarshalBinary(f *testing.F) {
	a, _ := NewAggregator(WindowConfig{Kind: record.KindDNS})
	r := record.Record{Time: 1e18, Client: []byte("1.2.3.4"), Host: []byte("a.b.example.com"), QType: []byte("TXT")}
	a.Add(&r)
	snap, _ := a.MarshalBinary()
	f.Add(snap)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, _ := NewAggregator(WindowConfig{Kind: record.KindDNS})
		if err := b.UnmarshalBinary(data); err != nil {
			return
		}
		b.CloseThrough(maxInt64, func(*Result) {})
	})
}
