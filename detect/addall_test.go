package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// AddAll must be Add record by record, closing what each record makes due
// before the next is added: the same results in the same order, the same
// stats and the same snapshot, whatever the batch sizes, with late lines,
// lines far out of order, overflow past MaxKeys and windows that close in
// the middle of a batch, for every kind.
func TestAggregator_AddAllIsAddOneByOne(t *testing.T) {
	var late, overflow, results int64
	defer func() {
		// The input must exercise what the property is about.
		if !t.Failed() && (late == 0 || overflow == 0 || results == 0) {
			t.Errorf("random input gave %d late lines, %d overflowed, %d results; want all > 0", late, overflow, results)
		}
	}()
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		for seed := range uint64(12) {
			t.Run(fmt.Sprint(kind, "/", seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				cfg := WindowConfig{
					Kind:     kind,
					Window:   time.Duration(1+rng.IntN(90)) * time.Second,
					Lateness: time.Duration(rng.IntN(20_000)) * time.Millisecond,
					MaxKeys:  rng.IntN(25),
				}
				recs := randomRecords(rng, kind, 3000+rng.IntN(3000))
				one, all := newAgg(t, cfg), newAgg(t, cfg)
				var gotOne, gotAll []result
				fnOne, fnAll := collector(&gotOne), collector(&gotAll)
				for i := range recs {
					one.Add(&recs[i])
					if one.Due() {
						one.Advance(fnOne)
					}
				}
				lateAll := 0
				for rest := recs; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(700))
					lateAll += all.AddAll(rest[:n], fnAll)
					rest = rest[n:]
				}
				st := one.Stats()
				late, overflow, results = late+st.Late, overflow+st.Overflowed, results+int64(len(gotOne))
				if lateAll != int(st.Late) || one.Stats() != all.Stats() {
					t.Fatalf("stats %+v; AddAll: late %d, stats %+v", st, lateAll, all.Stats())
				}
				if !reflect.DeepEqual(gotOne, gotAll) {
					t.Fatalf("results differ: %d one by one, %d by AddAll", len(gotOne), len(gotAll))
				}
				s1, err1 := one.MarshalBinary()
				s2, err2 := all.MarshalBinary()
				if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) {
					t.Fatalf("snapshots differ (%v, %v)", err1, err2)
				}
			})
		}
	}
}

// randomRecords returns n records of kind with times that mostly advance,
// jitter back by seconds and now and then jump back by minutes, from 60
// clients with a few methods, statuses, paths and hosts each.
func randomRecords(rng *rand.Rand, kind record.Kind, n int) []record.Record {
	recs := make([]record.Record, n)
	now := sec(0)
	for i := range recs {
		now += int64(rng.ExpFloat64() * float64(300*time.Millisecond))
		tm := now - int64(rng.ExpFloat64()*float64(2*time.Second))
		if rng.IntN(150) == 0 {
			tm -= int64(rng.IntN(300)) * int64(time.Second)
		}
		r := record.Record{Time: tm, Client: fmt.Appendf(nil, "10.0.%d.%d", rng.IntN(2), rng.IntN(30)),
			Status: []int{200, 200, 304, 404, 500, 503}[rng.IntN(6)], Bytes: int64(rng.IntN(5000))}
		switch kind {
		case record.KindWeb:
			r.Method = []byte([]string{"GET", "GET", "POST"}[rng.IntN(3)])
			r.Target = fmt.Appendf(nil, "/p/%d?q=%d", rng.IntN(9), rng.IntN(3))
		case record.KindProxy:
			r.Method = []byte([]string{"GET", "CONNECT"}[rng.IntN(2)])
			r.Action = []byte([]string{"TCP_MISS", "TCP_DENIED"}[rng.IntN(2)])
			r.Host = fmt.Appendf(nil, "h%d.example.com", rng.IntN(7))
			if rng.IntN(4) == 0 {
				r.Host = fmt.Appendf(nil, "192.0.2.%d", rng.IntN(5))
			}
		case record.KindDNS:
			r.Host = fmt.Appendf(nil, "x%d.k%d.example.co.uk.", rng.IntN(20), rng.IntN(3))
			r.QType = []byte([]string{"A", "AAAA", "TXT"}[rng.IntN(3)])
		}
		if rng.IntN(2) == 0 {
			Prehash(kind, &r, &DestKey{}) // newAgg's key
		}
		recs[i] = r
	}
	return recs
}

func TestAggregator_AddAllAllocatesNothing(t *testing.T) {
	a := newAgg(t, WindowConfig{Kind: record.KindWeb})
	recs := steadyRecords(record.KindWeb, 64, 16)
	fn := func(*Result) {}
	a.AddAll(recs, fn) // warm up: keys, window, tables and scratch exist
	if allocs := testing.AllocsPerRun(100, func() { a.AddAll(recs[:512], fn) }); allocs != 0 {
		t.Fatalf("AddAll allocates %v times per batch of 512 in steady state", allocs)
	}
}

// BenchmarkAggregator_AddAll compares AddAll on parts of 2048 records with
// Add one by one (one/, the baseline), on 20,000 keys in random order
// within one window: a working set beyond the core's cache, as in a busy
// agent whose log reads evict it.
func BenchmarkAggregator_AddAll(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	const keys, n = 20_000, 1 << 17
	recs := make([]record.Record, n)
	for i := range recs {
		k := rng.IntN(keys)
		recs[i] = record.Record{Time: sec(float64(i) * 50 / n), Client: fmt.Appendf(nil, "10.%d.%d.%d", k>>16, k>>8&255, k&255),
			Method: []byte("GET"), Target: fmt.Appendf(nil, "/p/%d", rng.IntN(40)), Status: 200, Bytes: 100}
		Prehash(record.KindWeb, &recs[i], &DestKey{})
	}
	fn := func(*Result) {}
	for _, mode := range []string{"one", "all"} {
		b.Run(mode, func(b *testing.B) {
			a := newAgg(b, WindowConfig{Kind: record.KindWeb})
			for b.Loop() {
				for lo := 0; lo < n; lo += 2048 {
					part := recs[lo : lo+2048]
					if mode == "all" {
						a.AddAll(part, fn)
						continue
					}
					for i := range part {
						a.Add(&part[i])
						if a.Due() {
							a.Advance(fn)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// BenchmarkAggregator_BusySite counts a busy site's shape through AddAll,
// closing windows as the agent does: 20,000 clients, about 3,500 active
// per 60s window with ~5 lines each, prehashed as the parse workers do.
// Per record it costs the lookup, the count and a fifth of a key's close
// (the order, the vector, the reset).
func BenchmarkAggregator_BusySite(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const windows, active, perKey = 8, 3500, 5
	var recs []record.Record
	for w := range windows {
		var win []record.Record
		for range active {
			k := rng.IntN(20_000)
			client := fmt.Appendf(nil, "20.%d.%d.%d", k>>16, k>>8&255, k&255)
			for range perKey {
				win = append(win, record.Record{Client: client, Method: []byte("GET"),
					Target: fmt.Appendf(nil, "/p/%d", rng.IntN(40)), Status: 200, Bytes: 100})
			}
		}
		rng.Shuffle(len(win), func(i, j int) { win[i], win[j] = win[j], win[i] })
		for i := range win {
			win[i].Time = sec(float64(w*60) + float64(i)*60/float64(len(win)))
			Prehash(record.KindWeb, &win[i], &DestKey{})
		}
		recs = append(recs, win...)
	}
	emitted := 0
	fn := func(*Result) { emitted++ }
	width := int64(windows) * int64(time.Minute)
	a := newAgg(b, WindowConfig{Kind: record.KindWeb})
	pass := int64(0)
	for b.Loop() {
		for i := range recs { // each pass a later stretch of time
			recs[i].Time += width * min(pass, 1)
		}
		pass++
		for lo := 0; lo < len(recs); lo += 2048 {
			a.AddAll(recs[lo:min(lo+2048, len(recs))], fn)
		}
	}
	if emitted == 0 {
		b.Fatal("nothing emitted")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
