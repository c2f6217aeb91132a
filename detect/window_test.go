package detect

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// t0 is a minute boundary in UTC, far from the epoch.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sec is t0 plus s seconds, in Unix nanoseconds.
func sec(s float64) int64 { return t0.UnixNano() + int64(s*float64(time.Second)) }

// webRec is a 200 GET of / by client at event time t (Unix ns).
func webRec(t int64, client string) *record.Record {
	return &record.Record{Time: t, Client: []byte(client), Method: []byte("GET"), Target: []byte("/"), Status: 200, Bytes: 100}
}

// result is a copy of a Result that outlives the callback.
type result struct {
	Start, End int64
	Key        string
	Vector     []float64
}

func (r result) hits() float64 { return r.Vector[WebHits] }

// collector returns a callback that keeps copies of results in *out.
func collector(out *[]result) func(*Result) {
	return func(r *Result) {
		*out = append(*out, result{Start: r.Start, End: r.End, Key: r.Key, Vector: slices.Clone(r.Vector)})
	}
}

func newAgg(t testing.TB, cfg WindowConfig) *Aggregator {
	t.Helper()
	if cfg.Kind == record.KindUnknown {
		cfg.Kind = record.KindWeb
	}
	a, err := NewAggregator(cfg)
	if err != nil {
		t.Fatalf("NewAggregator: %v", err)
	}
	return a
}

func TestWindowConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  WindowConfig
		want string // substring of the error; "" for valid
	}{
		{"defaults", WindowConfig{Kind: record.KindWeb}, ""},
		{"no kind", WindowConfig{Window: time.Minute}, "kind"},
		{"sub-second", WindowConfig{Kind: record.KindWeb, Window: 500 * time.Millisecond}, "shorter than 1s"},
		{"fractional", WindowConfig{Kind: record.KindWeb, Window: 1500 * time.Millisecond}, "whole number"},
		{"negative lateness", WindowConfig{Kind: record.KindWeb, Lateness: -time.Second}, "lateness"},
		{"negative max keys", WindowConfig{Kind: record.KindWeb, MaxKeys: -1}, "max keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAggregator(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWindowConfig_SetDefaults(t *testing.T) {
	a := newAgg(t, WindowConfig{})
	if c := a.Config(); c.Window != time.Minute || c.Lateness != 5*time.Second {
		t.Fatalf("defaults: window %s lateness %s, want 1m0s and 5s", c.Window, c.Lateness)
	}
}

func TestAggregator_EpochAlignedWindows(t *testing.T) {
	kolkata := time.FixedZone("IST", 5*3600+30*60)
	tests := []struct {
		name   string
		window time.Duration
		at     time.Time
		start  time.Time
	}{
		{"minute start", time.Minute, t0, t0},
		{"mid minute", time.Minute, t0.Add(30*time.Second + 500*time.Millisecond), t0},
		{"last ns", time.Minute, t0.Add(time.Minute - 1), t0},
		{"next minute", time.Minute, t0.Add(time.Minute), t0.Add(time.Minute)},
		{"local zone is irrelevant", time.Minute, time.Date(2026, 3, 1, 17, 31, 7, 0, kolkata), time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)},
		{"hour windows start on the UTC hour", time.Hour, time.Date(2026, 3, 1, 17, 31, 7, 0, kolkata), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"epoch", time.Minute, time.Unix(0, 0), time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAgg(t, WindowConfig{Window: tt.window})
			if !a.Add(webRec(tt.at.UnixNano(), "192.0.2.1")) {
				t.Fatal("Add reported late for the first record")
			}
			var got []result
			a.CloseThrough(maxInt64, collector(&got))
			if len(got) != 1 {
				t.Fatalf("got %d results, want 1", len(got))
			}
			if got[0].Start != tt.start.UnixNano() || got[0].End != tt.start.Add(tt.window).UnixNano() {
				t.Fatalf("window [%s, %s), want [%s, %s)",
					time.Unix(0, got[0].Start).UTC(), time.Unix(0, got[0].End).UTC(), tt.start.UTC(), tt.start.Add(tt.window).UTC())
			}
			if got[0].Start%int64(tt.window) != 0 {
				t.Fatalf("start %d is not a multiple of %s", got[0].Start, tt.window)
			}
		})
	}
}

func TestAggregator_AlignDown(t *testing.T) {
	a := newAgg(t, WindowConfig{})
	m := int64(time.Minute)
	for _, c := range []struct{ t, want int64 }{
		{0, 0}, {1, 0}, {m - 1, 0}, {m, m}, {-1, -m}, {-m, -m}, {-m - 1, -2 * m},
	} {
		if got := a.alignDown(c.t); got != c.want {
			t.Errorf("alignDown(%d) = %d, want %d", c.t, got, c.want)
		}
	}
}

func TestAggregator_OutOfOrderWithinLateness(t *testing.T) {
	a := newAgg(t, WindowConfig{Lateness: 5 * time.Second})
	var got []result
	fn := collector(&got)
	for _, s := range []float64{10, 59, 61, 58, 64.9, 0, 62} { // 58, 0 are out of order but within lateness
		if !a.Add(webRec(sec(s), "192.0.2.1")) {
			t.Fatalf("record at %vs reported late", s)
		}
		a.Advance(fn)
	}
	if len(got) != 0 {
		t.Fatalf("a window closed before watermark reached end+lateness: %+v", got)
	}
	if a.Stats().Late != 0 {
		t.Fatalf("late = %d, want 0", a.Stats().Late)
	}
	a.CloseThrough(maxInt64, fn)
	want := []struct {
		start float64
		hits  float64
	}{{0, 4}, {60, 3}}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Start != sec(w.start) || got[i].hits() != w.hits {
			t.Errorf("result %d: start %+ds hits %v, want %+vs hits %v",
				i, (got[i].Start-sec(0))/1e9, got[i].hits(), w.start, w.hits)
		}
	}
}

// A lateness longer than the window (Apache logs a long download when it
// ends, minutes after it began): a line up to five minutes behind the
// newest lands in its own window, several windows stay open, and each
// closes once event time passes its end plus the lateness.
func TestAggregator_LatenessOfSeveralWindows(t *testing.T) {
	a := newAgg(t, WindowConfig{Lateness: 5 * time.Minute})
	var got []result
	fn := collector(&got)
	for _, s := range []float64{10, 250, 30, 200, 61, 330, 5} { // 30, 61 and 5 come minutes late
		if !a.Add(webRec(sec(s), "192.0.2.1")) {
			t.Fatalf("record at %vs reported late", s)
		}
		a.Advance(fn)
	}
	if len(got) != 0 || a.Stats().Late != 0 {
		t.Fatalf("closed %+v and counted %d late before event time passed end+lateness", got, a.Stats().Late)
	}
	if n := a.OpenWindows(); n != 5 {
		t.Errorf("%d windows open, want 5 (minutes 0 to 5 but 2)", n)
	}
	// 361s passes the end of window 0 plus five minutes: it closes; a line
	// for it is late from then on, one for window 1 is not.
	if !a.Add(webRec(sec(361), "192.0.2.1")) {
		t.Fatal("record at 361s reported late")
	}
	a.Advance(fn)
	if len(got) != 1 || got[0].Start != sec(0) || got[0].hits() != 3 {
		t.Fatalf("after 361s: %+v, want window 0 closed with 3 hits", got)
	}
	if a.Add(webRec(sec(59), "192.0.2.1")) {
		t.Error("record at 59s, in the closed window 0, not reported late")
	}
	if !a.Add(webRec(sec(119), "192.0.2.1")) {
		t.Error("record at 119s, in window 1, 4 minutes behind, reported late")
	}
	a.CloseThrough(maxInt64, fn)
	hits := map[float64]float64{}
	for _, r := range got {
		hits[float64(r.Start-sec(0))/1e9] = r.hits()
	}
	if want := map[float64]float64{0: 3, 60: 2, 180: 1, 240: 1, 300: 1, 360: 1}; !maps.Equal(hits, want) {
		t.Errorf("hits per window %v, want %v", hits, want)
	}
	if a.Stats().Late != 1 {
		t.Errorf("late = %d, want 1", a.Stats().Late)
	}
}

// A client whose address field reads "overflow" is a key like any other:
// under the cap it gets a row of its own; past the cap it is counted in
// the overflow row, whose key no client can have.
func TestAggregator_OverflowKeyCannotBeForged(t *testing.T) {
	a := newAgg(t, WindowConfig{MaxKeys: 2})
	var got []result
	fn := collector(&got)
	for i, c := range []string{"overflow", "192.0.2.1", "overflow", "192.0.2.2", "192.0.2.3", "192.0.2.2"} {
		a.Add(webRec(sec(float64(i)), c))
	}
	a.CloseThrough(maxInt64, fn)
	hits := map[string]float64{}
	for _, r := range got {
		hits[r.Key] += r.hits()
	}
	want := map[string]float64{"overflow": 2, "192.0.2.1": 1, OverflowKey: 3}
	if !maps.Equal(hits, want) || len(got) != 3 {
		t.Errorf("results %v (%d), want %v", hits, len(got), want)
	}
	if a.Stats().Overflowed != 3 {
		t.Errorf("overflowed %d lines, want 3", a.Stats().Overflowed)
	}
	if !strings.HasPrefix(OverflowKey, " ") {
		t.Errorf("OverflowKey %q can be a client field: it must start with a space", OverflowKey)
	}
}

// step is one action on an Aggregator in a scripted test.
type step struct {
	op byte    // 'a' Add a record at t0+s, 'v' Advance, 'c' CloseThrough(t0+s)
	s  float64 // seconds after t0
}

func add(s float64) step     { return step{'a', s} }
func advance() step          { return step{op: 'v'} }
func closeAt(s float64) step { return step{'c', s} }

func TestAggregator_LateRecords(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		late  []bool // per add step, whether Add must report late
	}{
		{
			name:  "behind closed window",
			steps: []step{add(10), add(65), advance(), add(59.999)},
			late:  []bool{false, false, true},
		},
		{
			name:  "window closed by idle CloseThrough",
			steps: []step{add(10), closeAt(60), add(30)},
			late:  []bool{false, true},
		},
		{
			name:  "later window still open",
			steps: []step{add(10), add(65), advance(), add(60)},
			late:  []bool{false, false, false},
		},
		{
			name: "old record before any window closed",
			// The watermark (1000s) is far past the old record's window
			// end plus lateness: that window is already over, so the
			// record is late even though nothing has been closed yet.
			steps: []step{add(1000), add(30)},
			late:  []bool{false, true},
		},
		{
			name: "due window not yet advanced",
			// [0,60) is due (70 >= 65) but still open because the caller
			// has not called Advance: the record is late all the same, so
			// results do not depend on how often the caller advances.
			steps: []step{add(10), add(70), add(20)},
			late:  []bool{false, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAgg(t, WindowConfig{Lateness: 5 * time.Second})
			var got []result
			fn := collector(&got)
			var late []bool
			nLate := int64(0)
			for _, st := range tt.steps {
				switch st.op {
				case 'v':
					a.Advance(fn)
				case 'c':
					a.CloseThrough(sec(st.s), fn)
				case 'a':
					ok := a.Add(webRec(sec(st.s), "192.0.2.1"))
					late = append(late, !ok)
					if !ok {
						nLate++
					}
				}
			}
			if !slices.Equal(late, tt.late) {
				t.Fatalf("late per record = %v, want %v", late, tt.late)
			}
			st := a.Stats()
			if st.Late != nLate || st.Lines != int64(len(late)) {
				t.Fatalf("stats lines %d late %d, want %d and %d", st.Lines, st.Late, len(late), nLate)
			}
			a.CloseThrough(maxInt64, fn)
			sum := 0.0
			for _, r := range got {
				sum += r.hits()
			}
			if sum != float64(st.Lines-st.Late) {
				t.Fatalf("emitted hits %v, want %d non-late records", sum, st.Lines-st.Late)
			}
		})
	}
}

func TestAggregator_AdvanceClosesAtEndPlusLateness(t *testing.T) {
	for _, lateness := range []time.Duration{time.Nanosecond, 5 * time.Second, 90 * time.Second} {
		t.Run(lateness.String(), func(t *testing.T) {
			a := newAgg(t, WindowConfig{Lateness: lateness})
			var got []result
			fn := collector(&got)
			a.Add(webRec(sec(1), "192.0.2.1"))
			closeAt := sec(60) + int64(lateness)
			// Just before end+lateness: nothing is due.
			a.Add(webRec(closeAt-1, "192.0.2.2"))
			if a.Due() {
				t.Fatal("Due before watermark reached end+lateness")
			}
			a.Advance(fn)
			if len(got) != 0 || a.OpenWindows() == 0 {
				t.Fatalf("closed early: %d results", len(got))
			}
			a.Add(webRec(closeAt, "192.0.2.3"))
			if !a.Due() {
				t.Fatal("not Due at watermark == end+lateness")
			}
			a.Advance(fn)
			if len(got) == 0 || got[0].Start != sec(0) || got[0].Key != "192.0.2.1" {
				t.Fatalf("first window not closed at end+lateness: %+v", got)
			}
			for _, r := range got {
				if r.End+int64(lateness) > a.Watermark() {
					t.Fatalf("window ending %d closed with watermark %d", r.End, a.Watermark())
				}
			}
			if a.Due() {
				t.Fatal("still Due after Advance")
			}
		})
	}
}

func TestAggregator_CloseThrough(t *testing.T) {
	a := newAgg(t, WindowConfig{})
	var got []result
	fn := collector(&got)
	a.Add(webRec(sec(10), "192.0.2.1"))
	a.Add(webRec(sec(70), "192.0.2.1"))
	a.CloseThrough(sec(59), fn) // [0,60) has not ended at 59s
	if len(got) != 0 {
		t.Fatalf("CloseThrough(59s) closed %d windows", len(got))
	}
	a.CloseThrough(sec(60), fn) // idle: closes [0,60) without a newer record
	if len(got) != 1 || got[0].Start != sec(0) {
		t.Fatalf("CloseThrough(60s) = %+v, want window at 0s", got)
	}
	if a.OpenWindows() != 1 {
		t.Fatalf("open windows = %d, want 1", a.OpenWindows())
	}
	if a.Add(webRec(sec(30), "192.0.2.9")) {
		t.Fatal("record for an idle-closed window accepted")
	}
	a.CloseThrough(sec(60), fn) // idempotent
	if len(got) != 1 {
		t.Fatalf("second CloseThrough emitted again: %d results", len(got))
	}
	a.CloseThrough(maxInt64, fn)
	if len(got) != 2 || got[1].Start != sec(60) || a.OpenWindows() != 0 {
		t.Fatalf("CloseThrough(max) left %d windows, results %+v", a.OpenWindows(), got)
	}
	if st := a.Stats(); st.Windows != 2 || st.KeyWindows != 2 || st.Late != 1 {
		t.Fatalf("stats %+v, want 2 windows, 2 key-windows, 1 late", st)
	}
}

func TestAggregator_EmitOrder(t *testing.T) {
	a := newAgg(t, WindowConfig{MaxKeys: 5, Lateness: time.Hour}) // nothing late
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"192.0.2.10", "10.0.0.1", "2001:db8::1", "192.0.2.2", "198.51.100.7", "fe80::1", "8.8.8.8"}
	for range 500 {
		s := float64(rng.IntN(180)) + rng.Float64()
		a.Add(webRec(sec(s), keys[rng.IntN(len(keys))]))
	}
	var got []result
	a.CloseThrough(maxInt64, collector(&got))
	for i := 1; i < len(got); i++ {
		p, c := got[i-1], got[i]
		if c.Start < p.Start {
			t.Fatalf("result %d: window %d after %d", i, c.Start, p.Start)
		}
		if c.Start == p.Start && p.Key == OverflowKey {
			t.Fatalf("result %d: %s after the overflow bucket", i, c.Key)
		}
		if c.Start == p.Start && c.Key != OverflowKey && c.Key <= p.Key {
			t.Fatalf("result %d: key %q after %q in one window", i, c.Key, p.Key)
		}
	}
	if len(got) != 3*6 { // 3 windows × (5 keys + overflow)
		t.Fatalf("got %d results, want 18", len(got))
	}
}

func TestAggregator_MaxKeysOverflow(t *testing.T) {
	a := newAgg(t, WindowConfig{MaxKeys: 3})
	// Keys k0..k9 with i+1 lines each, all in one window. The first three
	// keys seen are tracked; the others' lines land in the overflow bucket.
	wantOverflow := int64(0)
	for i := range 10 {
		for range i + 1 {
			a.Add(webRec(sec(float64(i)), fmt.Sprintf("10.0.0.%d", i)))
		}
		if i >= 3 {
			wantOverflow += int64(i + 1)
		}
	}
	// A tracked key keeps being counted under its own name.
	a.Add(webRec(sec(20), "10.0.0.0"))
	var got []result
	a.CloseThrough(maxInt64, collector(&got))
	hits := map[string]float64{}
	for _, r := range got {
		hits[r.Key] = r.hits()
	}
	want := map[string]float64{"10.0.0.0": 2, "10.0.0.1": 2, "10.0.0.2": 3, OverflowKey: float64(wantOverflow)}
	if len(hits) != len(want) {
		t.Fatalf("results %v, want %v", hits, want)
	}
	for k, v := range want {
		if hits[k] != v {
			t.Errorf("key %s: hits %v, want %v", k, hits[k], v)
		}
	}
	st := a.Stats()
	if st.Overflowed != wantOverflow {
		t.Fatalf("Stats().Overflowed = %d, want %d", st.Overflowed, wantOverflow)
	}
	if st.KeyWindows != 4 {
		t.Fatalf("KeyWindows = %d, want 4 (3 keys + overflow)", st.KeyWindows)
	}
}

// TestAggregator_HitsConservation checks on random out-of-order input that
// every record is either counted once in exactly one emitted (key, window)
// or counted as late, and that no window is emitted twice.
func TestAggregator_HitsConservation(t *testing.T) {
	var totalLate, totalOverflow int64
	defer func() {
		// The input must exercise both paths the property is about.
		if !t.Failed() && (totalLate == 0 || totalOverflow == 0) {
			t.Errorf("random input produced %d late and %d overflowed lines; want both > 0", totalLate, totalOverflow)
		}
	}()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			a := newAgg(t, WindowConfig{
				Window:   time.Duration(1+rng.IntN(120)) * time.Second,
				Lateness: time.Duration(rng.IntN(30_000)) * time.Millisecond,
				MaxKeys:  rng.IntN(20),
			})
			var got []result
			fn := collector(&got)
			now := sec(0)
			n := 2000 + rng.IntN(2000)
			added := 0
			for range n {
				now += int64(rng.ExpFloat64() * float64(200*time.Millisecond))
				tm := now - int64(rng.ExpFloat64()*float64(3*time.Second)) // jitter backwards
				if rng.IntN(200) == 0 {
					tm -= int64(rng.IntN(600)) * int64(time.Second) // a very old line
				}
				if a.Add(webRec(tm, fmt.Sprintf("10.0.%d.%d", rng.IntN(3), rng.IntN(40)))) {
					added++
				}
				switch rng.IntN(50) {
				case 0:
					a.CloseThrough(now-int64(rng.IntN(60))*int64(time.Second), fn)
				default:
					if a.Due() {
						a.Advance(fn)
					}
				}
			}
			a.CloseThrough(maxInt64, fn)
			st := a.Stats()
			totalLate += st.Late
			totalOverflow += st.Overflowed
			if st.Lines != int64(n) {
				t.Fatalf("Lines = %d, want %d", st.Lines, n)
			}
			if st.Lines-st.Late != int64(added) {
				t.Fatalf("Lines-Late = %d, but Add accepted %d", st.Lines-st.Late, added)
			}
			sum := 0.0
			seen := map[string]bool{}
			for _, r := range got {
				sum += r.hits()
				id := fmt.Sprint(r.Start, r.Key)
				if seen[id] {
					t.Fatalf("window %d key %s emitted twice", r.Start, r.Key)
				}
				seen[id] = true
				if r.Start%int64(a.Config().Window) != 0 || r.End-r.Start != int64(a.Config().Window) {
					t.Fatalf("misaligned window [%d, %d)", r.Start, r.End)
				}
			}
			if sum != float64(added) {
				t.Fatalf("sum of hits %v, want %d non-late records (late %d)", sum, added, st.Late)
			}
			if int64(len(got)) != st.KeyWindows {
				t.Fatalf("KeyWindows %d, emitted %d", st.KeyWindows, len(got))
			}
		})
	}
}

func TestAggregator_AddAllocatesNothing(t *testing.T) {
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			a := newAgg(t, WindowConfig{Kind: kind})
			recs := steadyRecords(kind, 64, 16)
			for i := range recs { // warm up: keys, window and tables exist
				a.Add(&recs[i])
			}
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				a.Add(&recs[i%len(recs)])
				i++
			})
			if allocs != 0 {
				t.Fatalf("Add allocates %v per record in steady state", allocs)
			}
			if a.Stats().Late != 0 || a.OpenWindows() != 1 {
				t.Fatalf("test setup: late %d, windows %d", a.Stats().Late, a.OpenWindows())
			}
		})
	}
}

// steadyRecords returns keys×perKey records of kind, all in the window at
// t0, repeating keys and values.
func steadyRecords(kind record.Kind, keys, perKey int) []record.Record {
	recs := make([]record.Record, 0, keys*perKey)
	for k := range keys {
		for j := range perKey {
			r := record.Record{
				Time:   sec(float64(j%50) + 0.25),
				Client: fmt.Appendf(nil, "10.1.%d.%d", k/256, k%256),
				Status: []int{200, 200, 304, 404, 500}[j%5],
				Bytes:  int64(100 * j),
			}
			switch kind {
			case record.KindWeb:
				r.Method = []byte([]string{"GET", "POST"}[j%2])
				r.Target = fmt.Appendf(nil, "/p/%d?q=%d", j%7, j)
			case record.KindProxy:
				r.Method = []byte([]string{"GET", "CONNECT"}[j%2])
				r.Action = []byte([]string{"TCP_MISS", "TCP_DENIED"}[j%2])
				r.Host = fmt.Appendf(nil, "h%d.Example.com", j%5)
				if j%3 == 0 {
					r.Host = fmt.Appendf(nil, "192.0.2.%d", j%4)
				}
			case record.KindDNS:
				r.Host = fmt.Appendf(nil, "x%d.k%d.example.co.uk.", j%9, k%3)
				r.QType = []byte([]string{"A", "AAAA", "TXT"}[j%3])
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// BenchmarkAggregator_Add feeds web records of many keys in a few windows,
// advancing as the agent does; each window is emitted when it closes.
func BenchmarkAggregator_Add(b *testing.B) {
	const keys, perKey = 5000, 40
	base := steadyRecords(record.KindWeb, keys, perKey)
	a := newAgg(b, WindowConfig{Kind: record.KindWeb})
	emitted := 0
	fn := func(*Result) { emitted++ }
	width := int64(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each pass over base is one more window; records keep their
		// offset inside the window so keys and tables repeat.
		r := &base[i%len(base)]
		pass := int64(i / len(base))
		saved := r.Time
		r.Time += pass * width
		a.Add(r)
		r.Time = saved
		if a.Due() {
			a.Advance(fn)
		}
	}
	b.StopTimer()
	a.CloseThrough(maxInt64, fn)
	if emitted == 0 {
		b.Fatal("nothing emitted")
	}
}

// One line dated years ahead (a host's clock set wrong, a log of another
// machine) is not counted: it would move the watermark past the present
// and make every later line late, and the watermark is kept in the state.
func TestAggregator_LineFromTheFuture(t *testing.T) {
	now := func() time.Time { return t0.Add(10 * time.Minute) }
	a := newAgg(t, WindowConfig{Now: now})
	var got []result
	if a.Add(webRec(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), "10.0.0.66")) {
		t.Fatal("a line of 2099 was counted")
	}
	// Within a day of the clock is counted (a zone read wrong shifts
	// lines by hours, not days).
	if !a.Add(webRec(now().Add(23*time.Hour).UnixNano(), "10.0.0.9")) {
		t.Fatal("a line 23h ahead was not counted")
	}
	a = newAgg(t, WindowConfig{Now: now})
	a.Add(webRec(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), "10.0.0.66"))
	for i := range 120 {
		if !a.Add(webRec(sec(float64(i)), "10.0.0.1")) {
			t.Fatalf("line %d after the stray one was not counted", i)
		}
	}
	a.CloseThrough(sec(180), collector(&got))
	if st := a.Stats(); st.Future != 1 || st.Late != 0 || len(got) != 2 || got[0].hits()+got[1].hits() != 120 {
		t.Errorf("stats %+v, %d results; want 1 line from the future, none late, 120 hits in 2 windows", st, len(got))
	}
}

// A state stored with a watermark in the future (by a release that
// counted such a line) is taken back to the present on restore: the
// future window's lines are dropped as they would be now, and the lines
// that follow are counted.
func TestAggregator_RestoreFromTheFuture(t *testing.T) {
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	old := newAgg(t, WindowConfig{Now: func() time.Time { return far }}) // the clock's limit of nothing
	old.Add(webRec(sec(1), "10.0.0.1"))
	old.Add(webRec(far.UnixNano(), "10.0.0.66"))
	old.Add(webRec(far.UnixNano()+1, "10.0.0.67"))
	a := restoredNow(t, old)
	if a.Watermark() != sec(0) || a.OpenWindows() != 1 || a.Stats().Future != 2 {
		t.Fatalf("restored: watermark %v, %d windows, %+v; want the present window's start, 1 window, 2 lines from the future",
			time.Unix(0, a.Watermark()).UTC(), a.OpenWindows(), a.Stats())
	}
	for i := 2; i < 120; i++ {
		if !a.Add(webRec(sec(float64(i)), "10.0.0.1")) {
			t.Fatalf("line at %ds late after the restore", i)
		}
	}
	var got []result
	a.CloseThrough(sec(180), collector(&got))
	if len(got) != 2 || got[0].hits() != 59 || got[1].hits() != 60 {
		t.Errorf("results %+v; want 59 and 60 hits", got)
	}
}

// The same when the future lines spanned several windows and the earlier
// release closed some: the horizon, past the present too, goes, and the
// present's lines are counted.
func TestAggregator_RestoreFromTheFutureClosed(t *testing.T) {
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	old := newAgg(t, WindowConfig{Now: func() time.Time { return far.Add(time.Hour) }})
	old.Add(webRec(sec(1), "10.0.0.1"))
	old.Add(webRec(far.UnixNano(), "10.0.0.66"))
	old.Add(webRec(far.Add(2*time.Minute).UnixNano(), "10.0.0.66"))
	var closed []result
	old.Advance(collector(&closed)) // the present's window and 2099's first
	a := restoredNow(t, old)
	if a.OpenWindows() != 0 || a.Stats().Future != 1 {
		t.Errorf("restored: %d windows open, %+v; want none, 1 line from the future", a.OpenWindows(), a.Stats())
	}
	for i := 61; i < 120; i++ {
		if !a.Add(webRec(sec(float64(i)), "10.0.0.1")) {
			t.Fatalf("line at %ds late after the restore: watermark %v", i, time.Unix(0, a.Watermark()).UTC())
		}
	}
}

// restoredNow is a new aggregator, its clock an hour past t0, restored
// from old's snapshot.
func restoredNow(t *testing.T, old *Aggregator) *Aggregator {
	t.Helper()
	snap, err := old.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a := newAgg(t, WindowConfig{Now: func() time.Time { return t0.Add(time.Hour) }})
	if err := a.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	return a
}
