package state_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/socx/sharkfin/state"
	"github.com/socx/sharkfin/state/statetest"
)

func minute(m int64) time.Time { return time.Unix(1_700_000_000+60*m, 0).UTC() }

func applyHistory(t *testing.T, s *statetest.Store, updates ...state.HistoryUpdate) {
	t.Helper()
	if _, err := s.Apply(&state.Commit{History: updates}); err != nil {
		t.Fatal(err)
	}
}

func TestHistory_Accumulates(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: 10 * time.Minute})
	ip := func(m int64, hits int64, anomalous bool) state.HistoryUpdate {
		return state.HistoryUpdate{Kind: state.KindIP, Key: "192.0.2.7", WindowStart: minute(m), Hits: hits, Bytes: 10 * hits, Anomalous: anomalous}
	}
	applyHistory(t, s, ip(5, 1, false), ip(5, 2, true)) // one window, one commit: one entry
	applyHistory(t, s, ip(7, 4, false))
	applyHistory(t, s, ip(6, 8, false)) // late: slots in between
	applyHistory(t, s, ip(7, 1, true))  // the same window in later commits: entries of their own
	applyHistory(t, s, ip(7, 1, true))

	want := &state.History{
		Key: "192.0.2.7", FirstSeen: minute(5), LastSeen: minute(7),
		Hits: 17, Bytes: 170, Windows: 5, Anomalies: 3,
		Recent: []state.WindowCount{
			{Start: minute(5), Hits: 3, Bytes: 30, Anomalous: true},
			{Start: minute(6), Hits: 8, Bytes: 80},
			{Start: minute(7), Hits: 6, Bytes: 60, Anomalous: true},
		},
	}
	got, ok, err := s.History(state.KindIP, "192.0.2.7")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("History = %+v, %v, %v\nwant %+v", got, ok, err, want)
	}
	maintainAll(t, s) // folded into the index: the same
	if got, _, _ := s.History(state.KindIP, "192.0.2.7"); !reflect.DeepEqual(got, want) {
		t.Fatalf("History once folded = %+v\nwant %+v", got, want)
	}

	// Twenty minutes on: the per-window counts fall out of the 10-minute
	// retention, the totals stay.
	applyHistory(t, s, ip(27, 1, false))
	maintainAll(t, s)
	got, _, _ = s.History(state.KindIP, "192.0.2.7")
	if len(got.Recent) != 1 || !got.Recent[0].Start.Equal(minute(27)) || got.Hits != 18 || got.Windows != 6 || !got.FirstSeen.Equal(minute(5)) {
		t.Errorf("after retention: %+v", got)
	}
	// A window older than the retention horizon adds to the totals only.
	applyHistory(t, s, ip(1, 1, true))
	got, _, _ = s.History(state.KindIP, "192.0.2.7")
	if len(got.Recent) != 1 || got.Hits != 19 || got.Anomalies != 4 || !got.FirstSeen.Equal(minute(1)) {
		t.Errorf("after a stale window: %+v", got)
	}

	if _, ok, err := s.History(state.KindIP, "192.0.2.8"); ok || err != nil {
		t.Errorf("History of an unknown key = %v, %v", ok, err)
	}
	if _, _, err := s.History("mac", "x"); err == nil {
		t.Error("History of an unknown kind succeeded")
	}
}

// maintainAll runs Maintain until it has no work left (at most 1000 steps).
func maintainAll(t *testing.T, s *statetest.Store) state.Work {
	t.Helper()
	var sum state.Work
	for range 1000 {
		w, err := s.Maintain()
		if err != nil {
			t.Fatal(err)
		}
		sum.Folded += w.Folded
		sum.Indexed += w.Indexed
		sum.Expired += w.Expired
		sum.Forgotten += w.Forgotten
		sum.CacheFreed += w.CacheFreed
		if !w.More {
			return sum
		}
	}
	t.Fatal("Maintain still has work after 1000 steps")
	return sum
}

func TestHistory_Top(t *testing.T) {
	s := statetest.New(t)
	applyHistory(t, s,
		state.HistoryUpdate{Kind: state.KindDomain, Key: "a.example", WindowStart: minute(1), Hits: 5, Bytes: 1, Anomalous: true},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "b.example", WindowStart: minute(3), Hits: 9, Bytes: 2},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "c.example", WindowStart: minute(2), Hits: 5, Bytes: 3},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "d.example", WindowStart: minute(2), Hits: 1, Bytes: 4, Anomalous: true},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "d.example", WindowStart: minute(4), Hits: 1, Bytes: 4, Anomalous: true},
		state.HistoryUpdate{Kind: state.KindIP, Key: "192.0.2.1", WindowStart: minute(1), Hits: 100},
	)
	tests := []struct {
		by   string
		n    int
		want []string
	}{
		{state.ByHits, 3, []string{"b.example", "a.example", "c.example"}}, // ties by key
		{state.ByHits, 0, []string{"b.example", "a.example", "c.example", "d.example"}},
		{state.ByHits, 10, []string{"b.example", "a.example", "c.example", "d.example"}},
		{state.ByBytes, 2, []string{"d.example", "c.example"}},
		{state.ByAnomalies, 2, []string{"d.example", "a.example"}},
		{state.ByLastSeen, 1, []string{"d.example"}},
		{state.ByLastSeen, 4, []string{"d.example", "b.example", "c.example", "a.example"}},
	}
	for _, tt := range tests {
		top, err := s.Top(state.KindDomain, tt.n, tt.by)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, h := range top {
			keys = append(keys, h.Key)
		}
		if !reflect.DeepEqual(keys, tt.want) {
			t.Errorf("Top(%s, %d) = %v, want %v", tt.by, tt.n, keys, tt.want)
		}
	}
	if top, _ := s.Top(state.KindDomain, 1, state.ByAnomalies); len(top[0].Recent) != 2 {
		t.Errorf("Top entries come without their windows: %+v", top[0])
	}
	if _, err := s.Top(state.KindDomain, 1, "name"); err == nil {
		t.Error("Top by an unknown order succeeded")
	}
	if _, err := s.Top("mac", 1, state.ByHits); err == nil {
		t.Error("Top of an unknown kind succeeded")
	}
}

// Retention runs by event time: the newest window applied less the
// retention, whatever the clock says. Keys last seen before it are
// forgotten, segments before it deleted; caches expire on the wall clock.
func TestStore_MaintainRetention(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: 60 * time.Minute})
	applyHistory(t, s,
		state.HistoryUpdate{Kind: state.KindIP, Key: "old", WindowStart: minute(0), Hits: 1},
		state.HistoryUpdate{Kind: state.KindIP, Key: "both", WindowStart: minute(1), Hits: 1},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "old.example", WindowStart: minute(2), Hits: 1},
	)
	applyHistory(t, s,
		state.HistoryUpdate{Kind: state.KindIP, Key: "both", WindowStart: minute(119), Hits: 2},
		state.HistoryUpdate{Kind: state.KindDomain, Key: "new.example", WindowStart: minute(118), Hits: 1},
	)
	for _, e := range []struct {
		key string
		ttl time.Duration
	}{{"gone", time.Nanosecond}, {"kept", time.Hour}, {"forever", 0}} {
		if err := s.CachePut("whois", e.key, []byte(e.key), e.ttl); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Millisecond) // "gone" expires on the wall clock

	w := maintainAll(t, s)
	// The domain newest is minute 118: old.example (minute 2) is past it
	// too. Every segment before the horizons goes: the windows of old and
	// both at minutes 0 and 1, and of old.example.
	if w.Forgotten != 2 || w.Expired != 3 || w.CacheFreed != 1 {
		t.Errorf("Maintain forgot %d keys, expired %d segments, freed %d cache entries; want 2, 3, 1", w.Forgotten, w.Expired, w.CacheFreed)
	}
	for _, k := range []struct {
		kind, key string
		ok        bool
	}{
		{state.KindIP, "old", false}, {state.KindIP, "both", true},
		{state.KindDomain, "old.example", false}, {state.KindDomain, "new.example", true},
	} {
		if _, ok, _ := s.History(k.kind, k.key); ok != k.ok {
			t.Errorf("%s %s kept = %v, want %v", k.kind, k.key, ok, k.ok)
		}
	}
	h, _, _ := s.History(state.KindIP, "both")
	if len(h.Recent) != 1 || !h.Recent[0].Start.Equal(minute(119)) || h.Hits != 3 || !h.FirstSeen.Equal(minute(1)) {
		t.Errorf("kept record: %+v", h)
	}
	for key, want := range map[string]bool{"gone": false, "kept": true, "forever": true} {
		if _, _, ok, err := s.CacheGet("whois", key); err != nil || ok != want {
			t.Errorf("cache %s present = %v, %v; want %v", key, ok, err, want)
		}
	}
	if w := maintainAll(t, s); w.Forgotten != 0 || w.Expired != 0 || w.CacheFreed != 0 || w.Folded != 0 {
		t.Errorf("second round did work: %+v", w)
	}
	sum, err := s.Summary(state.KindIP)
	if err != nil || sum.Keys != 1 || sum.Segments != 1 || sum.Unfolded != 0 || !sum.Oldest.Equal(minute(119)) {
		t.Errorf("Summary = %+v, %v", sum, err)
	}
}

// While the fold is behind (more keys in one commit than a step folds),
// the sweep must not forget a key whose folded last window is past the
// retention but whose newer windows wait in unfolded segments.
func TestMaintain_SweepWaitsForTheFold(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: 10 * time.Hour})
	up := func(key string, m int64) state.HistoryUpdate {
		return state.HistoryUpdate{Kind: state.KindIP, Key: key, WindowStart: minute(m), Hits: 1}
	}
	applyHistory(t, s, up("K", 0))
	maintainAll(t, s)
	var ups []state.HistoryUpdate
	for i := range 16384 { // a whole fold step's keys, folded first
		ups = append(ups, up(fmt.Sprintf("x%05d", i), 60))
	}
	ups = append(ups, up("K", 9*60), up("Z", 11*60))
	applyHistory(t, s, ups...)
	maintainAll(t, s)
	h, ok, err := s.History(state.KindIP, "K")
	if err != nil || !ok || h.Windows != 2 || h.Hits != 2 || !h.FirstSeen.Equal(minute(0)) {
		t.Errorf("K, seen 9 h apart with a retention of 10 h: %+v, %v, %v; want 2 windows since minute 0", h, ok, err)
	}
}

func TestCache_PutGet(t *testing.T) {
	s := statetest.New(t)
	before := time.Now()
	if err := s.CachePut("tls", "example.org", []byte("a,b"), time.Hour); err != nil {
		t.Fatal(err)
	}
	val, exp, ok, err := s.CacheGet("tls", "example.org")
	if err != nil || !ok || string(val) != "a,b" || exp.Before(before.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("CacheGet = %q, %v, %v, %v", val, exp, ok, err)
	}
	if err := s.CachePut("tls", "example.org", []byte("c"), 0); err != nil {
		t.Fatal(err)
	}
	s.Reopen()
	if val, exp, ok, _ := s.CacheGet("tls", "example.org"); !ok || string(val) != "c" || !exp.IsZero() {
		t.Errorf("overwritten entry = %q, %v, %v", val, exp, ok)
	}
	if err := s.CachePut("tls", "short.example", []byte("x"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][2]string{{"tls", "short.example"}, {"tls", "missing"}, {"whois", "example.org"}} {
		if _, _, ok, err := s.CacheGet(k[0], k[1]); ok || err != nil {
			t.Errorf("CacheGet(%s, %s) = %v, %v; want absent", k[0], k[1], ok, err)
		}
	}
	if err := s.CachePut("", "k", nil, 0); err == nil {
		t.Error("CachePut with no cache name succeeded")
	}
}

// Folding must not change what History and Top report: the same commits
// applied to a store that folds after every commit (and expires and sweeps)
// and to one that never does give the same histories, whatever the order
// (late windows, windows past the retention, repeated windows, several
// hours, keys that share prefixes).
func TestHistory_FoldedEqualsUnfolded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	keys := []string{"192.0.2.1", "192.0.2.10", "192.0.2.2", "2001:db8::1", "example.com", "a.example.com", "a.example.co"}
	isDomain := func(k string) bool { return k[0] >= 'a' }
	var updates []state.HistoryUpdate
	for range 2000 {
		k := keys[rng.IntN(len(keys))]
		kind := state.KindIP
		if isDomain(k) {
			kind = state.KindDomain
		}
		m := int64(rng.IntN(100)) // minutes: within the retention
		if rng.IntN(10) == 0 {
			m = int64(rng.IntN(20)) // now and then a late window
		}
		updates = append(updates, state.HistoryUpdate{Kind: kind, Key: k, WindowStart: minute(m),
			Hits: int64(rng.IntN(50)), Bytes: int64(rng.IntN(5000)), Anomalous: rng.IntN(7) == 0})
	}
	opts := state.Options{NoSync: true, Retention: 2 * time.Hour}
	folded := statetest.NewWithOptions(t, opts)
	unfolded := statetest.NewWithOptions(t, opts)
	for i := 0; i < len(updates); i += 150 { // commits of 150 updates
		applyHistory(t, folded, updates[i:min(i+150, len(updates))]...)
		applyHistory(t, unfolded, updates[i:min(i+150, len(updates))]...)
		for range rng.IntN(3) {
			if _, err := folded.Maintain(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range keys {
		kind := state.KindIP
		if isDomain(k) {
			kind = state.KindDomain
		}
		want, ok1, err1 := unfolded.History(kind, k)
		got, ok2, err2 := folded.History(kind, k)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			t.Fatalf("%s: %v %v %v %v", k, ok1, ok2, err1, err2)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s folded:\n%+v\nunfolded:\n%+v", k, got, want)
		}
		if got.Windows == 0 || len(got.Recent) == 0 {
			t.Errorf("%s: no windows: %+v", k, got)
		}
	}
	for _, kind := range []string{state.KindIP, state.KindDomain} {
		a, err1 := folded.Top(kind, 0, state.ByBytes)
		b, err2 := unfolded.Top(kind, 0, state.ByBytes)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("Top(%s) folded %+v, %v\nunfolded %+v, %v", kind, a, err1, b, err2)
		}
	}
}

// The index sweep looks at a bounded number of keys a step, and Maintain
// reports More until a whole round has passed the cutoff, so that an idle
// agent (which maintains while More) forgets every key past the retention
// and not only the first step's. SweepPending says whether one is owed.
func TestMaintain_SweepsUntilARoundIsDone(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: time.Hour})
	const n = 3*4096 + 100 // three sweep steps and more
	var ups []state.HistoryUpdate
	for i := range n {
		ups = append(ups, state.HistoryUpdate{Kind: state.KindIP, Key: fmt.Sprintf("k%05d", i), WindowStart: minute(0), Hits: 1})
	}
	applyHistory(t, s, ups...)
	maintainAll(t, s)
	if s.SweepPending() {
		t.Fatal("sweep pending after Maintain reported no more work")
	}
	// One key two hours on: the cutoff passes every other key.
	applyHistory(t, s, state.HistoryUpdate{Kind: state.KindIP, Key: "new", WindowStart: minute(120), Hits: 1})
	if !s.SweepPending() {
		t.Fatal("no sweep pending after the cutoff moved past every key")
	}
	w, err := s.Maintain()
	if err != nil {
		t.Fatal(err)
	}
	if w.Forgotten >= n || !w.More {
		t.Fatalf("one step forgot %d of %d keys, More %v: want part of them, and More", w.Forgotten, n, w.More)
	}
	w = maintainAll(t, s)
	sum, err := s.Summary(state.KindIP)
	if err != nil || sum.Keys != 1 || s.SweepPending() {
		t.Errorf("after Maintain until no more work: %d keys (want 1: new), sweep pending %v, %v", sum.Keys, s.SweepPending(), err)
	}
}

// A round of the sweep ends at the end of the index, and the next round
// must look at every key again before it ends: a step that stops at the
// end (its budget spent there, or the end reached) must not leave the
// next step to find the end at once. Index sizes around the step budget
// (4096), and single steps before and after the horizon moves, land the
// ends on every alignment.
func TestMaintain_SweepRoundsLookAtEveryKey(t *testing.T) {
	for _, n := range []int{1, 4095, 4096, 4097, 8192, 12288, 16384} {
		for steps := range 4 {
			s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: time.Hour})
			var ups []state.HistoryUpdate
			for i := range n {
				ups = append(ups, state.HistoryUpdate{Kind: state.KindIP, Key: fmt.Sprintf("k%05d", i), WindowStart: minute(60), Hits: 1})
			}
			applyHistory(t, s, ups...)
			for range steps {
				if _, err := s.Maintain(); err != nil {
					t.Fatal(err)
				}
			}
			maintainAll(t, s)
			applyHistory(t, s, state.HistoryUpdate{Kind: state.KindIP, Key: "a", WindowStart: minute(121), Hits: 1})
			for range steps {
				if _, err := s.Maintain(); err != nil {
					t.Fatal(err)
				}
			}
			maintainAll(t, s)
			if sum, err := s.Summary(state.KindIP); err != nil || sum.Keys != 1 || s.SweepPending() {
				t.Errorf("%d keys past the horizon, %d single steps: %d keys left (want 1), sweep pending %v, %v", n, steps, sum.Keys, s.SweepPending(), err)
			}
		}
	}
}

// A window the fold adds already past the retention (a late window of a
// new key: another input catching up on old logs) is not kept in the
// index: with the horizon still, no sweep round would be owed to forget
// it while the agent stays idle.
func TestMaintain_FoldKeepsNoKeyPastTheRetention(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: time.Hour})
	applyHistory(t, s, state.HistoryUpdate{Kind: state.KindIP, Key: "now", WindowStart: minute(120), Hits: 1})
	maintainAll(t, s)
	if s.SweepPending() {
		t.Fatal("sweep pending after Maintain reported no more work")
	}
	applyHistory(t, s,
		state.HistoryUpdate{Kind: state.KindIP, Key: "late", WindowStart: minute(0), Hits: 1},
		state.HistoryUpdate{Kind: state.KindIP, Key: "recent", WindowStart: minute(90), Hits: 2},
		state.HistoryUpdate{Kind: state.KindIP, Key: "now", WindowStart: minute(30), Hits: 4})
	maintainAll(t, s)
	sum, err := s.Summary(state.KindIP)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Keys != 2 || s.SweepPending() {
		t.Errorf("%d keys (want 2: now and recent), sweep pending %v", sum.Keys, s.SweepPending())
	}
}

// A catch-up folded over several steps: while later segments wait, the
// fold keeps the keys of the first steps (their newer windows may be in
// those segments), though their last window may turn out past the
// retention. A sweep round must then be owed again, or they stay in the
// index while the agent is idle (found by a review).
func TestMaintain_FoldInStepsLeavesNoKeyPastTheRetention(t *testing.T) {
	s := statetest.NewWithOptions(t, state.Options{NoSync: true, Retention: time.Hour})
	applyHistory(t, s, state.HistoryUpdate{Kind: state.KindIP, Key: "now", WindowStart: minute(120), Hits: 1})
	maintainAll(t, s)
	var ups []state.HistoryUpdate
	for i := range 16384 { // one fold's keys
		ups = append(ups, state.HistoryUpdate{Kind: state.KindIP, Key: fmt.Sprintf("k%05d", i), WindowStart: minute(10), Hits: 1})
	}
	ups = append(ups, state.HistoryUpdate{Kind: state.KindIP, Key: "b", WindowStart: minute(50), Hits: 1})
	applyHistory(t, s, ups...)
	maintainAll(t, s)
	sum, err := s.Summary(state.KindIP)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Keys != 1 || s.SweepPending() {
		t.Errorf("%d keys left in the index (want 1: now), sweep pending %v", sum.Keys, s.SweepPending())
	}
}
