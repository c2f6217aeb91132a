package detect

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// webStatus is a GET of /x by client at t0 plus s seconds with the given
// status; rare marks the path unknown to the vocabulary.
func webStatus(s float64, client string, status int, rare bool) *record.Record {
	r := webRec(sec(s), client)
	r.Status, r.Target, r.Rare = status, []byte("/x"), rare
	return r
}

// horizonOf is the hour_ and day_ features of a web vector.
func horizonOf(v []float64) [horizonCount]float64 {
	return [horizonCount]float64{v[WebHour4xx], v[WebHourRareErrors], v[WebDay4xx], v[WebDayRareErrors],
		v[WebHourNewRareErrors], v[WebDayNewRareErrors]}
}

// closeRel reports whether got is want within a relative 1e-5 (float32
// sums) and the 0.0005 of the three decimals features carry; a want of 0
// must be exactly 0.
func closeRel(got, want float64) bool {
	if want == 0 {
		return got == 0
	}
	return math.Abs(got-want) <= 5e-4+1e-5*math.Abs(want)
}

func checkHorizon(t *testing.T, what string, got, want [horizonCount]float64) {
	t.Helper()
	for i := range got {
		if !closeRel(got[i], want[i]) {
			t.Errorf("%s: %s = %v, want %v (all: %v, want %v)", what, FeatureNames(record.KindWeb)[WebHour4xx+i], got[i], want[i], got, want)
		}
	}
}

// The decayed sums of a client's windows, by hand: a window of three 404s
// (one to a rare path), half an hour of nothing, a window of one 404, two
// hours more, a clean window. A client that never failed has 0s and no
// entry; the overflow row has its own window's counts.
func TestHorizon_GoldenSums(t *testing.T) {
	h := NewHorizon(0, NewDestKey(), true)
	a := newAgg(t, WindowConfig{Kind: record.KindWeb, Horizon: h})
	var got []result
	fn := collector(&got)
	const scanner, clean = "198.51.100.7", "203.0.113.9"
	feed := func(rs ...*record.Record) {
		t.Helper()
		for _, r := range rs {
			if !a.Add(r) {
				t.Fatalf("record at %d late", r.Time)
			}
			a.Advance(fn)
		}
	}
	feed(
		webStatus(1, scanner, 404, true), // a rare error
		webStatus(2, scanner, 404, false),
		webStatus(3, scanner, 404, false),
		webStatus(4, clean, 200, false),
		webStatus(5, clean, 200, true), // rare, not an error
	)
	feed(webStatus(1801, scanner, 404, false), webStatus(1802, clean, 200, false)) // closes window 0
	feed(webStatus(9001, scanner, 200, false), webStatus(9002, clean, 200, true))  // closes window 1800
	a.CloseThrough(maxInt64, fn)

	byKey := map[string]result{}
	for _, r := range got {
		byKey[fmt.Sprintf("%d %s", (r.Start-sec(0))/1e9, r.Key)] = r
	}
	if len(byKey) != 6 || len(got) != 6 {
		t.Fatalf("got %d results (%d distinct), want 6: %+v", len(got), len(byKey), got)
	}
	hour := func(dt float64) float64 { return math.Exp(-dt / 3600) }
	day := func(dt float64) float64 { return math.Exp(-dt / 86400) }
	h4, hr, d4, dr := 3*hour(1800)+1, hour(1800), 3*day(1800)+1, day(1800)
	want := map[string][horizonCount]float64{
		"0 " + scanner: {3, 1, 3, 1, 1, 1}, // its one rare error is new
		// The windows at 1800 and 9000 add no new rare error: they carry
		// 0 in the new rare errors' sums, which the client keeps (below).
		"1800 " + scanner: {h4, hr, d4, dr, 0, 0},
		"9000 " + scanner: {h4 * hour(7200), hr * hour(7200), d4 * day(7200), dr * day(7200), 0, 0},
		"0 " + clean:      {},
		"1800 " + clean:   {},
		"9000 " + clean:   {},
	}
	for k, w := range want {
		r, ok := byKey[k]
		if !ok {
			t.Errorf("no result for %s", k)
			continue
		}
		checkHorizon(t, k, horizonOf(r.Vector), w)
	}
	// The window's own counts are unchanged by the horizon.
	if v := byKey["0 "+scanner].Vector; v[WebHits4xx] != 3 || v[WebRareErrors] != 1 || v[WebRareHits] != 1 {
		t.Errorf("window 0 of the scanner: hits_4xx %v rare_errors %v rare_hits %v, want 3 1 1", v[WebHits4xx], v[WebRareErrors], v[WebRareHits])
	}
	if h.Len() != 1 {
		t.Errorf("Len = %d, want 1 (only the scanner)", h.Len())
	}
	if v, ok := h.Values(clean, t0s+9000); ok || v != (HorizonValues{}) {
		t.Errorf("Values of the clean client = %v, %v; want no entry", v, ok)
	}
	v, ok := h.Values(scanner, t0s+9000)
	if !ok {
		t.Fatal("no entry for the scanner")
	}
	var vf [horizonCount]float64
	for i := range v {
		vf[i] = math.Round(float64(v[i])*1000) / 1000 // as features carry them
	}
	g := horizonOf(byKey["9000 "+scanner].Vector)
	g[HourNewRareErrors], g[DayNewRareErrors] = math.Round(hr*hour(7200)*1000)/1000, math.Round(dr*day(7200)*1000)/1000
	if vf != g {
		t.Errorf("Values(scanner, 9000) = %v, want the window's features with the kept new rare errors' sums: %v", vf, g)
	}
	// The entry keeps the last window with a failure (1800): the clean
	// window at 9000 only decayed the sums, and stored nothing.
	if ch := h.Drain(); len(ch) != 1 || ch[0].Delete || ch[0].Last != t0s+1800 {
		t.Errorf("Drain = %+v, want the scanner's entry, last %d", ch, t0s+1800)
	}

	t.Run("overflow", func(t *testing.T) {
		h := NewHorizon(0, NewDestKey(), true)
		a := newAgg(t, WindowConfig{Kind: record.KindWeb, MaxKeys: 1, Horizon: h})
		var got []result
		fn := collector(&got)
		for _, r := range []*record.Record{
			webStatus(1, "10.0.0.1", 200, false), // takes the one key
			webStatus(2, "10.0.0.2", 404, true),
			webStatus(3, "10.0.0.3", 404, false),
			webStatus(4, "10.0.0.3", 500, true),
			webStatus(61, "10.0.0.1", 200, false),
			webStatus(62, "10.0.0.2", 404, false),
		} {
			if !a.Add(r) {
				t.Fatalf("record at %d late", r.Time)
			}
			a.Advance(fn)
		}
		a.CloseThrough(maxInt64, fn)
		want := map[string][horizonCount]float64{
			"0 10.0.0.1":        {},
			"0 " + OverflowKey:  {2, 2, 2, 2, 1, 1}, // two 404s; rare errors: the rare 404 and the rare 500, one path (new once)
			"60 10.0.0.1":       {},
			"60 " + OverflowKey: {1, 0, 1, 0}, // its own window only, not the sum
		}
		if len(got) != len(want) {
			t.Fatalf("got %d results, want %d: %+v", len(got), len(want), got)
		}
		for _, r := range got {
			k := fmt.Sprintf("%d %s", (r.Start-sec(0))/1e9, r.Key)
			w, ok := want[k]
			if !ok {
				t.Errorf("unexpected result %s", k)
				continue
			}
			if g := horizonOf(r.Vector); g != w {
				t.Errorf("%s: horizon features %v, want %v", k, g, w)
			}
		}
		if h.Len() != 0 {
			t.Errorf("Len = %d, want 0: the overflow row has no entry and the key never failed", h.Len())
		}
		if ch := h.Drain(); ch != nil {
			t.Errorf("Drain = %+v, want nil", ch)
		}
	})
}

// Drain returns the changed entries in key order; a Horizon loaded from
// them has the same sums at any time; Load marks nothing to store, and a
// second Drain with no change returns nil.
func TestHorizon_DrainLoadRoundTrip(t *testing.T) {
	key := NewDestKey()
	h := NewHorizon(0, key, true)
	T := t0s
	ups := []struct {
		client    string
		start     int64
		n4xx, rae uint32
	}{
		{"a", T, 2, 1},
		{"b", T + 60, 1, 0},
		{"c", T + 60, 0, 0}, // clean, no entry
		{"a", T + 600, 1, 1},
		{"d", T + 1200, 0, 3},
		{"e", T + 1200, 5, 0},
		{"b", T + 1260, 0, 0}, // clean, has an entry: decayed, not changed
	}
	for _, u := range ups {
		h.update(u.client, u.start, u.n4xx, u.rae)
	}
	ch := h.Drain()
	if len(ch) != 4 {
		t.Fatalf("Drain = %+v, want 4 entries (a, b, d, e)", ch)
	}
	if !slices.IsSortedFunc(ch, func(x, y HorizonChange) int { return cmp.Compare(x.Key, y.Key) }) {
		t.Errorf("Drain not in key order: %+v", ch)
	}
	lasts := map[uint64]int64{key.hashString("a"): T + 600, key.hashString("b"): T + 60, key.hashString("d"): T + 1200, key.hashString("e"): T + 1200}
	for i, c := range ch {
		if i > 0 && c.Key == ch[i-1].Key {
			t.Errorf("key %x twice", c.Key)
		}
		if c.Delete || lasts[c.Key] != c.Last {
			t.Errorf("change %+v: want a put with last %d", c, lasts[c.Key])
		}
	}
	if got := h.Drain(); got != nil {
		t.Errorf("second Drain = %+v, want nil", got)
	}

	h2 := NewHorizon(0, key, true)
	for _, c := range ch {
		h2.Load(c.Key, c.Last, c.Values, c.Recent)
	}
	if h2.Len() != h.Len() {
		t.Errorf("loaded Len %d, want %d", h2.Len(), h.Len())
	}
	for _, client := range []string{"a", "b", "c", "d", "e", "f"} {
		for _, at := range []int64{T + 1260, T + 1261, T + 5000, T + 2*86400} {
			v1, ok1 := h.Values(client, at)
			v2, ok2 := h2.Values(client, at)
			if v1 != v2 || ok1 != ok2 {
				t.Errorf("Values(%s, %d): loaded %v %v, original %v %v", client, at-T, v2, ok2, v1, ok1)
			}
		}
	}
	if got := h2.Drain(); got != nil {
		t.Errorf("Drain after Load = %+v, want nil", got)
	}
	// Both go on alike.
	for _, u := range []struct {
		client string
		start  int64
	}{{"a", T + 1320}, {"f", T + 1320}, {"d", T + 1380}} {
		v1, v2 := h.update(u.client, u.start, 1, 1), h2.update(u.client, u.start, 1, 1)
		if v1 != v2 {
			t.Errorf("update(%s, %d): loaded %v, original %v", u.client, u.start-T, v2, v1)
		}
	}
	if d1, d2 := h.Drain(), h2.Drain(); !slices.Equal(d1, d2) || len(d1) != 3 {
		t.Errorf("Drain after the same updates: loaded %+v, original %+v (want 3 each)", d2, d1)
	}
}

// A client idle three days is forgotten at the first sweep after (sweeps
// run once an hour of event time, whichever client's window, clean or not,
// comes), and Drain reports its delete; a client idle less is kept.
func TestHorizon_SweepForgetsIdle(t *testing.T) {
	key := NewDestKey()
	h := NewHorizon(0, key, true)
	T := t0s
	const idle = 3 * 86400
	h.update("a", T, 1, 0)      // sweeps at T
	h.update("c", T+1800, 2, 1) // no sweep: half an hour
	h.Drain()

	h.update("b", T+idle, 1, 0) // sweeps: a is idle 3 days, c 3 days less half an hour
	if _, ok := h.Values("a", T+idle); ok {
		t.Error("a, idle 3 days, kept after the sweep")
	}
	if _, ok := h.Values("c", T+idle); !ok {
		t.Error("c, idle less than 3 days, forgotten")
	}
	want := []HorizonChange{{Key: key.hashString("a"), Delete: true}}
	bv, _ := h.Values("b", T+idle)
	want = append(want, HorizonChange{Key: key.hashString("b"), Last: T + idle, Values: bv})
	slices.SortFunc(want, func(x, y HorizonChange) int { return cmp.Compare(x.Key, y.Key) })
	if got := h.Drain(); !slices.Equal(got, want) {
		t.Errorf("Drain = %+v\nwant %+v", got, want)
	}

	h.update("d", T+idle+1800, 1, 0) // no sweep: c (idle 3 days now) stays
	if _, ok := h.Values("c", T+idle+1800); !ok {
		t.Error("c forgotten without a sweep")
	}
	h.update("e", T+idle+3600, 0, 0) // a clean window: sweeps all the same
	if _, ok := h.Values("c", T+idle+3600); ok {
		t.Error("c, idle 3 days and a half hour, kept after the sweep")
	}
	if h.Len() != 2 {
		t.Errorf("Len = %d, want 2 (b and d)", h.Len())
	}
	want = []HorizonChange{{Key: key.hashString("c"), Delete: true}}
	dv, _ := h.Values("d", T+idle+1800)
	want = append(want, HorizonChange{Key: key.hashString("d"), Last: T + idle + 1800, Values: dv})
	slices.SortFunc(want, func(x, y HorizonChange) int { return cmp.Compare(x.Key, y.Key) })
	if got := h.Drain(); !slices.Equal(got, want) {
		t.Errorf("Drain = %+v\nwant %+v", got, want)
	}
	if h.Evicted() != 0 {
		t.Errorf("Evicted = %d, want 0: the sweep forgets, it does not evict", h.Evicted())
	}
}

// A full table forgets the quarter of its clients idle longest to make
// room, counted in Evicted and reported by Drain; it never holds more than
// its bound.
func TestHorizon_EvictsIdlest(t *testing.T) {
	const limit = 8
	T := t0s
	t.Run("distinct", func(t *testing.T) {
		key := NewDestKey()
		h := NewHorizon(limit, key, true)
		for i := range limit {
			h.update(fmt.Sprint("c", i), T+60*int64(i), 1, 0)
			if h.Len() > limit {
				t.Fatalf("Len %d > %d", h.Len(), limit)
			}
		}
		h.Drain()
		h.update("c8", T+60*limit, 1, 0)
		if h.Len() > limit {
			t.Errorf("Len %d > %d", h.Len(), limit)
		}
		var gone []string
		for i := range limit + 1 {
			if _, ok := h.Values(fmt.Sprint("c", i), T+60*limit); !ok {
				gone = append(gone, fmt.Sprint("c", i))
			}
		}
		if !slices.Equal(gone, []string{"c0", "c1"}) || h.Evicted() != limit/4 || h.Len() != limit-limit/4+1 {
			t.Errorf("forgot %v (Evicted %d, Len %d); want the quarter idle longest, [c0 c1] (Evicted 2, Len 7)", gone, h.Evicted(), h.Len())
		}
		deletes := map[string]bool{}
		var puts int
		for _, c := range h.Drain() {
			if !c.Delete {
				puts++
				continue
			}
			for i := range limit + 1 {
				if c.Key == key.hashString(fmt.Sprint("c", i)) {
					deletes[fmt.Sprint("c", i)] = true
				}
			}
		}
		if got := slices.Sorted(maps.Keys(deletes)); !slices.Equal(got, gone) || puts != 1 {
			t.Errorf("Drain deletes %v and %d puts; want deletes %v and the new client's put", got, puts, gone)
		}
	})
	// Clients of one window share their last update: a full table of them
	// still forgets about a quarter, not all of them.
	t.Run("ties", func(t *testing.T) {
		h := NewHorizon(limit, NewDestKey(), true)
		for i := range limit {
			h.update(fmt.Sprint("c", i), T, 1, 0)
		}
		h.update("new", T+60, 1, 0)
		if h.Len() > limit {
			t.Errorf("Len %d > %d", h.Len(), limit)
		}
		if h.Evicted() > limit/4 || h.Len() < limit-limit/4+1 {
			t.Errorf("a full table of clients idle alike: Evicted %d, Len %d; want at most a quarter (%d) forgotten", h.Evicted(), h.Len(), limit/4)
		}
		if _, ok := h.Values("new", T+60); !ok {
			t.Error("the new client is not kept")
		}
	})
}

// hzStore is what the agent keeps of Drain: the entries, less deletes.
type hzStore map[uint64]HorizonChange

func (s hzStore) apply(ch []HorizonChange) {
	for _, c := range ch {
		if c.Delete {
			delete(s, c.Key)
		} else {
			s[c.Key] = c
		}
	}
}

// load is the agent's start: a fresh Horizon loaded from the store, in
// key order as the state file has them.
func (s hzStore) load(limit int, key DestKey) *Horizon {
	h := NewHorizon(limit, key, true)
	for _, k := range slices.Sorted(maps.Keys(s)) {
		c := s[k]
		h.Load(c.Key, c.Last, c.Values, c.Recent)
	}
	return h
}

// replayCut is the state of a commit: what a crash right after it
// restarts from.
type replayCut struct {
	next    int // the record to add next
	commits int // commits made, this one included
	main    []byte
	frozen  map[int64][]byte
	hz      hzStore
}

// stepResult is a result and the commits made before it was emitted.
type stepResult struct {
	commits int
	result
}

// crashRun feeds recs to an aggregator with a Horizon as the agent does,
// committing (Snapshot and Drain) after every step, and returns its results
// and the commits cutAt picks.
func crashRun(t *testing.T, recs []record.Record, cfg WindowConfig, limit int, key DestKey, cutAt func(commits int) bool) ([]stepResult, []replayCut, *Horizon) {
	t.Helper()
	h := NewHorizon(limit, key, true)
	cfg.Horizon = h
	a := newAgg(t, cfg)
	store := &snapStore{frozen: map[int64][]byte{}}
	hz := hzStore{}
	commits := 0
	var out []stepResult
	var cuts []replayCut
	emit := func(r *Result) {
		out = append(out, stepResult{commits, result{Start: r.Start, End: r.End, Key: r.Key, Vector: slices.Clone(r.Vector)}})
	}
	commit := func(next int) {
		store.apply(t, a.Snapshot())
		hz.apply(h.Drain())
		commits++
		if cutAt(commits) {
			cuts = append(cuts, replayCut{next: next, commits: commits, main: slices.Clone(store.main), frozen: maps.Clone(store.frozen), hz: maps.Clone(hz)})
		}
	}
	for i := range recs {
		a.Add(&recs[i])
		a.Advance(emit)
		commit(i + 1)
		for a.Closing() {
			a.ContinueClose(emit)
			commit(i + 1)
		}
	}
	a.CloseThrough(maxInt64, emit)
	commit(len(recs))
	for a.Closing() {
		a.ContinueClose(emit)
		commit(len(recs))
	}
	return out, cuts, h
}

// crashResume restarts from cut (the aggregator's snapshot, the horizon
// loaded from the store) and feeds the rest of recs.
func crashResume(t *testing.T, recs []record.Record, cfg WindowConfig, limit int, key DestKey, cut replayCut) ([]result, *Horizon) {
	t.Helper()
	h := cut.hz.load(limit, key)
	cfg.Horizon = h
	b := newAgg(t, cfg)
	if err := b.Restore(cut.main, cut.frozen); err != nil {
		t.Fatalf("commit %d: Restore: %v", cut.commits, err)
	}
	var out []result
	emit := collector(&out)
	for b.Closing() {
		b.ContinueClose(emit)
	}
	for i := cut.next; i < len(recs); i++ {
		b.Add(&recs[i])
		b.Advance(emit)
		for b.Closing() {
			b.ContinueClose(emit)
		}
	}
	b.CloseThrough(maxInt64, emit)
	for b.Closing() {
		b.ContinueClose(emit)
	}
	return out, h
}

// horizonRecords returns web windows of a few clients each, minutes to
// hours apart (now and then most of a day), over about two weeks: clients
// come back after idling more than three days, some with 4xx and rare
// errors.
func horizonRecords(rng *rand.Rand, windows, clients int) []record.Record {
	var recs []record.Record
	start := t0.UnixNano()
	statuses := []int{200, 200, 301, 403, 404, 404, 500}
	for range windows {
		switch p := rng.IntN(100); {
		case p < 70:
			start += (1 + rng.Int64N(10)) * int64(time.Minute)
		case p < 95:
			start += (10 + rng.Int64N(80)) * int64(time.Minute)
		default:
			start += (180 + rng.Int64N(1000)) * int64(time.Minute)
		}
		var win []record.Record
		for range 1 + rng.IntN(6) {
			c := rng.IntN(5) // a few busy clients
			if rng.IntN(10) < 4 {
				c = rng.IntN(clients)
			}
			client := fmt.Appendf(nil, "10.1.0.%d", c)
			for range 1 + rng.IntN(5) {
				win = append(win, record.Record{
					Time: start + rng.Int64N(int64(time.Minute)), Client: client,
					Method: []byte("GET"), Target: fmt.Appendf(nil, "/p%d", rng.IntN(20)),
					Status: statuses[rng.IntN(len(statuses))], Bytes: rng.Int64N(5000), Rare: rng.IntN(10) < 3,
				})
			}
		}
		slices.SortFunc(win, func(x, y record.Record) int { return cmp.Compare(x.Time, y.Time) })
		recs = append(recs, win...)
	}
	return recs
}

// The property the agent relies on: a crash right after any commit, and a
// restart from what that commit stored (the aggregator's snapshot, the
// horizon entries drained up to it), gives the results of one
// uninterrupted run, to the bit, and the same sums at the end.
func TestHorizon_CrashReplayEqual(t *testing.T) {
	type variant struct {
		name       string
		recs       func() []record.Record
		closeBatch int
		limit      int
		cuts       func(rng *rand.Rand, commits int) bool
	}
	clients := func() []string {
		var out []string
		for c := range 60 {
			out = append(out, fmt.Sprintf("10.1.0.%d", c))
		}
		return append(out, "x", "y", "z")
	}()
	all := func(*rand.Rand, int) bool { return true }
	some := func(rng *rand.Rand, _ int) bool { return rng.IntN(25) == 0 }
	random := func(seed uint64) func() []record.Record {
		return func() []record.Record { return horizonRecords(rand.New(rand.NewPCG(seed, 7)), 400, 60) }
	}
	// The sweep schedule: x comes back, clean, 3 days and 51 minutes after
	// its last window, past windows of y (3 days less 10 minutes after x's)
	// and z (34 minutes after x's three days are up); the uninterrupted run
	// has forgotten x by then, so its window has 0s. A restart from any
	// commit, in particular the one after z's window, must forget it too
	// (a schedule rebuilt by Load from the entries' lasts did not).
	sweep := func() []record.Record {
		const d3 = 3 * 86400
		return []record.Record{
			*webStatus(1, "x", 404, false),
			*webStatus(d3-600+1, "y", 404, false),
			*webStatus(d3+2040+1, "z", 404, false),
			*webStatus(d3+3060+1, "x", 200, false),
		}
	}
	for _, v := range []variant{
		{"sweep schedule", sweep, 0, 0, all},
		{"random", random(1), 0, 0, some},
		{"random close batch 3", random(2), 3, 0, some},
		{"random evicting", random(3), 2, 12, some},
	} {
		t.Run(v.name, func(t *testing.T) {
			recs := v.recs()
			cfg := WindowConfig{Kind: record.KindWeb, CloseBatch: v.closeBatch}
			key := NewDestKey()
			rng := rand.New(rand.NewPCG(9, 9))
			want, cuts, hA := crashRun(t, recs, cfg, v.limit, key, func(c int) bool { return v.cuts(rng, c) })
			if len(cuts) == 0 {
				t.Fatal("no cut")
			}
			var nonzero, retried int
			for _, r := range want {
				if r.Vector[WebDay4xx] != 0 && r.Vector[WebDay4xx] != r.Vector[WebHits4xx] {
					nonzero++
				}
				if r.Vector[WebHourNewRareErrors] < r.Vector[WebHourRareErrors] {
					retried++ // a rare error on a path the client had failed on
				}
			}
			if (nonzero == 0 || retried == 0) && v.name != "sweep schedule" {
				t.Fatalf("%d windows carry a sum of earlier windows, %d a retried rare error: the test tests nothing", nonzero, retried)
			}
			end := t0s + 30*86400
			failed := 0
			for _, cut := range cuts {
				got, hB := crashResume(t, recs, cfg, v.limit, key, cut)
				i := slices.IndexFunc(want, func(r stepResult) bool { return r.commits >= cut.commits })
				if i < 0 {
					i = len(want)
				}
				rest := want[i:]
				diff := ""
				if len(got) != len(rest) {
					diff = fmt.Sprintf("%d results after the restart, want %d", len(got), len(rest))
				}
				for j := range min(len(got), len(rest)) {
					g, w := got[j], rest[j].result
					if g.Start != w.Start || g.Key != w.Key || !slices.Equal(g.Vector, w.Vector) {
						diff = fmt.Sprintf("result %d after the restart: window +%ds %s %v\nuninterrupted: window +%ds %s %v",
							j, (g.Start-sec(0))/1e9, g.Key, g.Vector[WebHour4xx:], (w.Start-sec(0))/1e9, w.Key, w.Vector[WebHour4xx:])
						break
					}
				}
				if diff == "" {
					for _, c := range clients {
						va, oka := hA.Values(c, end)
						vb, okb := hB.Values(c, end)
						if va != vb || oka != okb {
							diff = fmt.Sprintf("final sums of %s: %v %v after the restart, %v %v uninterrupted", c, vb, okb, va, oka)
							break
						}
					}
				}
				if diff != "" {
					failed++
					if failed <= 3 {
						t.Errorf("restart after commit %d (record %d of %d): %s", cut.commits, cut.next, len(recs), diff)
					}
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d restarts differ from the uninterrupted run", failed, len(cuts))
			}
		})
	}
}

// update adds a window of n4xx 4xx and rareErr rare errors, each on a path
// of its own (all new).
func (h *Horizon) update(client string, start int64, n4xx, rareErr uint32) HorizonValues {
	return h.observe(client, start, &failures{n4xx: n4xx, rareErr: rareErr, other: uint16(min(rareErr, math.MaxUint16))})
}

// New rare errors, by hand: a rare error counts as new only on a path that
// is not among the client's last four rare-error paths (each path once a
// window); a client retrying one broken URL adds 1 once, a scanner asking
// a new path every minute 1 a minute. A window that adds none carries 0.
func TestHorizon_NewRareErrors(t *testing.T) {
	// A fixed key under which the paths below have distinct tags (checked
	// at the end), so that no collision of the 16-bit tags, 4 in 65,535
	// for a new path under a random key, can make the test fail.
	key := DestKeyFromSeed(1)
	h := NewHorizon(0, key, true)
	a := newAgg(t, WindowConfig{Kind: record.KindWeb, Horizon: h})
	var got []result
	fn := collector(&got)
	type req struct {
		client string
		paths  []string // one rare 404 each
	}
	const (
		retrier = "192.0.2.1" // /api/socket every minute
		cycle4  = "192.0.2.2" // four broken paths in turn: new for the first four minutes
		cycle5  = "192.0.2.3" // five in turn: always new (four are remembered)
		lru     = "192.0.2.4" // a path used again stays remembered
		burst   = "192.0.2.5" // repeats and more than three paths in one window
		evict   = "192.0.2.6" // a window's new path does not make a remembered one new
	)
	minutes := [][]req{
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b0"}}, {cycle5, []string{"/c0"}}, {lru, []string{"/a"}},
			{burst, []string{"/x", "/x", "/y", "/z", "/w", "/w"}}, {evict, []string{"/a"}}},
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b1"}}, {cycle5, []string{"/c1"}}, {lru, []string{"/b", "/c", "/d"}}, {evict, []string{"/b"}},
			{burst, []string{"/x", "/y", "/z", "/v"}}},
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b2"}}, {cycle5, []string{"/c2"}}, {lru, []string{"/a"}}, {evict, []string{"/c"}}},
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b3"}}, {cycle5, []string{"/c3"}}, {lru, []string{"/e"}}, {evict, []string{"/d"}}},
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b0"}}, {cycle5, []string{"/c4"}}, {lru, []string{"/a"}}, {evict, []string{"/x", "/a"}}},
		{{retrier, []string{"/api/socket"}}, {cycle4, []string{"/b1"}}, {cycle5, []string{"/c0"}}, {lru, []string{"/b"}}, {evict, []string{"/b"}}},
	}
	for m, reqs := range minutes {
		for _, q := range reqs {
			for i, p := range q.paths {
				r := webRec(sec(float64(60*m+1+i)), q.client)
				r.Target, r.Status, r.Rare = []byte(p), 404, true
				if !a.Add(r) {
					t.Fatalf("record at %d late", r.Time)
				}
				a.Advance(fn)
			}
		}
	}
	a.CloseThrough(maxInt64, fn)

	// fresh[client][m] is the new rare errors of the client's window m.
	fresh := map[string][]float64{
		retrier: {1, 0, 0, 0, 0, 0},
		cycle4:  {1, 1, 1, 1, 0, 0},
		cycle5:  {1, 1, 1, 1, 1, 1},
		// /a; /b /c /d; /a remembered (4th of 4, moved first); /e (drops
		// /b); /a remembered (first in-first out would have dropped it
		// at /e); /b new again.
		lru: {1, 3, 0, 1, 0, 1},
		// /x /y /z new, then 2 rare errors past the three paths a window
		// keeps; then /x /y /z remembered, and /v past them: new, so the
		// window carries its sums though its kept paths add none.
		burst: {5, 1},
		// /a /b /c /d; then /x new and /a remembered (as it was before the
		// window, though /x would push it out); /b pushed out by then.
		evict: {1, 1, 1, 1, 1, 1},
	}
	hour := func(dt float64) float64 { return math.Exp(-dt / 3600) }
	day := func(dt float64) float64 { return math.Exp(-dt / 86400) }
	n := 0
	for _, r := range got {
		m := int((r.Start - sec(0)) / int64(time.Minute))
		f, ok := fresh[r.Key]
		if !ok || m >= len(f) {
			t.Errorf("unexpected window %d of %s", m, r.Key)
			continue
		}
		n++
		var wh, wd float64
		for j := range m + 1 {
			wh += f[j] * hour(float64(60*(m-j)))
			wd += f[j] * day(float64(60*(m-j)))
		}
		if f[m] == 0 { // a window that adds none carries none (the client keeps its sums)
			wh, wd = 0, 0
		}
		if g := r.Vector[WebHourNewRareErrors]; !closeRel(g, wh) {
			t.Errorf("%s minute %d: hour_new_rare_errors %v, want %v", r.Key, m, g, wh)
		}
		if g := r.Vector[WebDayNewRareErrors]; !closeRel(g, wd) {
			t.Errorf("%s minute %d: day_new_rare_errors %v, want %v", r.Key, m, g, wd)
		}
	}
	if n != 6*5+2 {
		t.Errorf("%d windows checked, want %d", n, 6*5+2)
	}
	// The recent paths are stored and loaded with the sums: a loaded
	// horizon goes on alike.
	h2 := NewHorizon(0, h.key, true)
	for _, c := range h.Drain() {
		h2.Load(c.Key, c.Last, c.Values, c.Recent)
	}
	tags := map[uint16]string{}
	for _, reqs := range minutes {
		for _, q := range reqs {
			for _, p := range q.paths {
				if o, ok := tags[key.pathTag([]byte(p))]; ok && o != p {
					t.Fatalf("%s and %s have one tag under the test's key: pick another", p, o)
				}
				tags[key.pathTag([]byte(p))] = p
			}
		}
	}
	f := failures{rareErr: 1, paths: [errPathsKept]uint16{a.tagKey.pathTag([]byte("/api/socket"))}}
	f2 := f
	start := t0s + 6*60
	if v1, v2 := h.observe(retrier, start, &f), h2.observe(retrier, start, &f2); v1 != v2 || v1[HourNewRareErrors] != 0 || v1[HourRareErrors] < 5 {
		t.Errorf("after loading: %v, original %v (want equal: /api/socket remembered, so no new rare error, and more than 5 rare errors)", v2, v1)
	}
	// The sums kept (which the window above does not carry) are equal too.
	for _, c := range []string{retrier, cycle4, cycle5, lru, burst, evict} {
		v1, ok1 := h.Values(c, start)
		v2, ok2 := h2.Values(c, start)
		if v1 != v2 || !ok1 || !ok2 || v1[HourNewRareErrors] == 0 {
			t.Errorf("%s after loading: sums %v %v, original %v %v (want equal, new rare errors kept)", c, v2, ok2, v1, ok1)
		}
	}
}
