package detect

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/socx/sharkfin/event"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// mixedRecords returns n records of every kind's fields, 100ms apart in
// event time with up to 7s of disorder, from the given number of clients.
func mixedRecords(rng *rand.Rand, n, clients int) []record.Record {
	recs := make([]record.Record, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range recs {
		r := &recs[i]
		r.Time = base + int64(i)*int64(100*time.Millisecond) - rng.Int64N(int64(7*time.Second))
		c := rng.IntN(clients)
		r.Client = fmt.Appendf(nil, "10.0.%d.%d", c/256, c%256)
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
	return recs
}

// TestAggregator_SnapshotResume splits a record stream at every kind of
// point, snapshots, restores into a fresh aggregator and checks that the
// results equal one uninterrupted run.
func TestAggregator_SnapshotResume(t *testing.T) {
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			recs := mixedRecords(rand.New(rand.NewPCG(1, uint64(kind))), 3000, 40)
			cfg := WindowConfig{Kind: kind, MaxKeys: 30}
			run := func(split int, closeBatch int) string {
				cfg := cfg
				cfg.CloseBatch = closeBatch
				var out bytes.Buffer
				emit := func(r *Result) {
					key := r.Key
					if key == OverflowKey { // "overflow" in that release, as its events still show it
						key = event.OverflowSrcIP
					}
					fmt.Fprintf(&out, "%d %s %v\n", r.Start, key, r.Vector)
				}
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
	// A destination aggregator's snapshot (its own version), and the
	// same data given to one.
	for _, s := range destFuzzSeeds(f) {
		if s.kind == record.KindDNS && s.frozen == nil {
			f.Add(s.main)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, byDest := range []bool{false, true} {
			b, _ := NewAggregator(WindowConfig{Kind: record.KindDNS, ByDest: byDest})
			if err := b.UnmarshalBinary(data); err != nil {
				continue
			}
			b.CloseThrough(maxInt64, func(*Result) {})
		}
	})
}

// FuzzAggregator_Restore feeds a main snapshot and the stored keys of one
// frozen window (seeded with a web window part way through closing).
func FuzzAggregator_Restore(f *testing.F) {
	cfg := WindowConfig{Kind: record.KindWeb, CloseBatch: 3}
	a, _ := NewAggregator(cfg)
	for i := range 10 {
		r := record.Record{Time: 1e18 + int64(i), Client: fmt.Appendf(nil, "10.0.0.%d", i), Status: 200 + 200*(i%2), Target: []byte("/x"), Rare: i%3 == 0}
		a.Add(&r)
	}
	open := a.Snapshot().Main
	f.Add(open, int64(0), []byte{7}) // open, with rare counts and their paths
	for _, ver := range []byte{snapshotV6, snapshotV5} {
		f.Add(webSnapshotAs(f, open, ver), int64(0), []byte{ver}) // as earlier releases wrote it
	}
	a.CloseThrough(maxInt64, func(*Result) {})
	snap := a.Snapshot()
	for start, blob := range snap.Frozen {
		f.Add(snap.Main, start, blob)
	}
	f.Add(snap.Main, int64(0), []byte{3})
	f.Fuzz(func(t *testing.T, main []byte, start int64, blob []byte) {
		b, _ := NewAggregator(cfg)
		if err := b.Restore(main, map[int64][]byte{start: blob}); err != nil {
			return
		}
		b.CloseThrough(maxInt64, func(*Result) {})
		for n := 0; b.Closing() && n < 1e6; n++ {
			b.ContinueClose(func(*Result) {})
		}
		b.Snapshot()
	})
}

// Version 2 snapshots, as the previous release stored them (testdata made
// by it, with a window part way through closing), still restore: closing
// them gives what that release gave.
func TestAggregator_ReadsV2Snapshot(t *testing.T) {
	v2Features := map[record.Kind]int{record.KindWeb: 10, record.KindProxy: 8, record.KindDNS: 9}
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		snap, err := os.ReadFile("testdata/snapshot-v2-" + kind.String() + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("testdata/snapshot-v2-" + kind.String() + ".want")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := NewAggregator(WindowConfig{Kind: kind, MaxKeys: 30, CloseBatch: 5})
		if err := a.UnmarshalBinary(snap); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		var out bytes.Buffer
		emit := func(r *Result) {
			key := r.Key
			if key == OverflowKey { // "overflow" in that release, as its events still show it
				key = event.OverflowSrcIP
			}
			// The features that release computed (DNS clients have more now).
			fmt.Fprintf(&out, "%d %s %v\n", r.Start, key, r.Vector[:min(len(r.Vector), v2Features[kind])])
		}
		a.CloseThrough(maxInt64, emit)
		for a.Closing() {
			a.ContinueClose(emit)
		}
		st := a.Stats()
		fmt.Fprintf(&out, "{Lines:%d Late:%d Overflowed:%d Windows:%d KeyWindows:%d}\n", st.Lines, st.Late, st.Overflowed, st.Windows, st.KeyWindows)
		if out.String() != string(want) {
			t.Errorf("%s: restored v2 snapshot closes differently:\n%s\nwant\n%s", kind, out.String(), want)
		}
	}
}

// snapStore is what the agent keeps of Snapshots: the last Main and the
// frozen windows' keys, less those dropped.
type snapStore struct {
	main   []byte
	frozen map[int64][]byte
	writes int // bytes written
}

func (s *snapStore) apply(t *testing.T, snap Snapshot) {
	t.Helper()
	s.main = snap.Main
	s.writes += len(snap.Main)
	for start, b := range snap.Frozen {
		if _, dup := s.frozen[start]; dup {
			t.Fatalf("window %d frozen twice", start)
		}
		s.frozen[start] = b
		s.writes += len(b)
	}
	for _, start := range snap.Drop {
		if _, ok := s.frozen[start]; !ok {
			t.Fatalf("drop of window %d, never frozen", start)
		}
		delete(s.frozen, start)
	}
}

// Incremental snapshots (Snapshot/Restore) taken after every step, with
// a restart from the store at any point, in particular part way through
// closing frozen windows, give the results of one uninterrupted run; the
// store ends with no frozen keys left; and the keys of a closing window are
// written once, not at every commit of its close.
func TestAggregator_IncrementalSnapshotResume(t *testing.T) {
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(kind)))
			recs := mixedRecords(rng, 3000, 180)
			for _, closeBatch := range []int{1, 7, 40} {
				cfg := WindowConfig{Kind: kind, MaxKeys: 150, CloseBatch: closeBatch}
				run := func(restartAt map[int]bool) (string, *snapStore) {
					var out bytes.Buffer
					emit := func(r *Result) {
						key := r.Key
						if key == OverflowKey { // "overflow" in that release, as its events still show it
							key = event.OverflowSrcIP
						}
						fmt.Fprintf(&out, "%d %s %v\n", r.Start, key, r.Vector)
					}
					a, _ := NewAggregator(cfg)
					store := &snapStore{frozen: map[int64][]byte{}}
					step := 0
					commit := func() {
						store.apply(t, a.Snapshot())
						if restartAt[step] {
							a, _ = NewAggregator(cfg)
							if err := a.Restore(store.main, store.frozen); err != nil {
								t.Fatalf("step %d: %v", step, err)
							}
						}
						step++
					}
					for i := range recs {
						a.Add(&recs[i])
						a.Advance(emit)
						commit()
						for a.Closing() {
							a.ContinueClose(emit)
							commit()
						}
					}
					a.CloseThrough(maxInt64, emit)
					commit()
					for a.Closing() {
						a.ContinueClose(emit)
						commit()
					}
					fmt.Fprintf(&out, "%+v\n", a.Stats())
					return out.String(), store
				}
				want, store := run(nil)
				if len(store.frozen) != 0 {
					t.Fatalf("close batch %d: %d frozen windows left in the store", closeBatch, len(store.frozen))
				}
				restarts := map[int]bool{}
				for range 300 {
					restarts[rng.IntN(4000)] = true
				}
				got, store := run(restarts)
				if got != want {
					t.Fatalf("close batch %d: restarts change the results", closeBatch)
				}
				if len(store.frozen) != 0 {
					t.Fatalf("close batch %d: %d frozen windows left after restarts", closeBatch, len(store.frozen))
				}
			}
		})
	}
}

// Committing a closing window of many keys a batch at a time writes its
// keys once: the snapshots of the close add up to about one snapshot of
// the window, not one per batch.
func TestAggregator_ClosingWritesKeysOnce(t *testing.T) {
	cfg := WindowConfig{Kind: record.KindWeb, CloseBatch: 100}
	a, _ := NewAggregator(cfg)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range 10_000 {
		r := record.Record{Time: base + int64(i), Client: fmt.Appendf(nil, "10.0.%d.%d", i/256, i%256), Status: 200, Target: []byte("/")}
		a.Add(&r)
	}
	full, _ := a.MarshalBinary()
	store := &snapStore{frozen: map[int64][]byte{}}
	n := 0
	a.CloseThrough(maxInt64, func(*Result) { n++ })
	store.apply(t, a.Snapshot())
	for a.Closing() {
		a.ContinueClose(func(*Result) { n++ })
		store.apply(t, a.Snapshot())
	}
	if n != 10_000 || len(store.frozen) != 0 {
		t.Fatalf("emitted %d keys, %d frozen windows left", n, len(store.frozen))
	}
	if store.writes > 2*len(full) {
		t.Fatalf("closing in %d batches wrote %d bytes of snapshots; the window is %d bytes", 10_000/100, store.writes, len(full))
	}
	t.Logf("a window of 10,000 keys (%d bytes) closed 100 keys per commit: %d snapshot bytes written", len(full), store.writes)
}
