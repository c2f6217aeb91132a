package detect

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

const daySecs = int64(24 * time.Hour / time.Second)

// t0s is t0 in Unix seconds, the unit of Seen.
var t0s = t0.Unix()

// observeKey is what an aggregator does when a destination's window
// closes (Aggregator.vector).
func observeKey(s *Seen, key string, start int64) (first int64, isNew bool) {
	return s.observe(testDestKey.hashString(key), key, start)
}

// A destination is New in the first window it is counted in and only
// then; later windows give that window's start as FirstSeen. Two
// aggregators sharing a Seen (a node's proxy and DNS inputs) agree.
func TestAggregator_ByDestNewOnce(t *testing.T) {
	seen := NewSeen(0, 0, testDestKey)
	proxy := newAgg(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey, Seen: seen})
	dns := newAgg(t, WindowConfig{Kind: record.KindDNS, ByDest: true, DestKey: testDestKey, Seen: seen})
	var got []destResult
	fn := destCollector(t, &got)
	feed := func(a *Aggregator, kind record.Kind, lines ...destLine) {
		t.Helper()
		recs := filled(kind, lines, true)
		for i := range recs {
			if !a.Add(&recs[i]) {
				t.Fatalf("%s line %d late", kind, i)
			}
		}
		a.Advance(fn)
	}
	type sight struct {
		isNew bool
		first float64 // seconds after t0
	}
	check := func(want map[string]sight) {
		t.Helper()
		m := byWindowKey(t, got)
		if len(m) != len(want) {
			t.Errorf("results %v, want %d", got, len(want))
		}
		for k, w := range want {
			r, ok := m[k]
			if !ok {
				t.Errorf("no result for %s", k)
				continue
			}
			if r.Dest.New != w.isNew || r.Dest.FirstSeen != sec(w.first) {
				t.Errorf("%s: new %v first seen %+ds; want %v %+vs", k, r.Dest.New, (r.Dest.FirstSeen-sec(0))/1e9, w.isNew, w.first)
			}
		}
		got = got[:0]
	}
	// Window 0: the proxy sees example.com and an address; a second line
	// to example.com in the same window changes nothing.
	feed(proxy, record.KindProxy,
		destLine{s: 1, client: "10.0.0.1", host: "www.example.com"},
		destLine{s: 2, client: "10.0.0.2", host: "192.0.2.1"},
		destLine{s: 3, client: "10.0.0.2", host: "img.example.com"},
		destLine{s: 66, client: "10.0.0.1", host: "www.example.com"}, // closes window 0
	)
	check(map[string]sight{"0 example.com": {true, 0}, "0 192.0.2.1": {true, 0}})
	// Window 60 and 120 of the proxy: example.com again, other.org new.
	feed(proxy, record.KindProxy,
		destLine{s: 70, client: "10.0.0.3", host: "other.org"},
		destLine{s: 130, client: "10.0.0.1", host: "example.com"},
		destLine{s: 131, client: "10.0.0.1", host: "other.org"},
		destLine{s: 186, client: "10.0.0.1", host: "other.org"}, // closes 60 and 120
	)
	check(map[string]sight{
		"60 example.com": {false, 0}, "60 other.org": {true, 60},
		"120 example.com": {false, 0}, "120 other.org": {false, 60},
	})
	// The DNS input, behind, counts window 60: example.com and other.org
	// are known from the proxy's windows (other.org's first is this very
	// window, which the proxy's close made known: not new again); its own
	// fresh.net is new.
	feed(dns, record.KindDNS,
		destLine{s: 61, client: "10.0.0.9", host: "a.example.com"},
		destLine{s: 62, client: "10.0.0.9", host: "other.org."},
		destLine{s: 63, client: "10.0.0.9", host: "x.fresh.net"},
		destLine{s: 126, client: "10.0.0.9", host: "x.fresh.net"}, // closes 60
	)
	check(map[string]sight{"60 example.com": {false, 0}, "60 other.org": {false, 60}, "60 fresh.net": {true, 60}})
	// The proxy then meets fresh.net in a later window: known.
	feed(proxy, record.KindProxy,
		destLine{s: 190, client: "10.0.0.1", host: "fresh.net"},
		destLine{s: 250, client: "10.0.0.1", host: "fresh.net"}, // closes 180
	)
	check(map[string]sight{"180 fresh.net": {false, 60}, "180 other.org": {false, 60}})
	if seen.Len() != 4 || seen.Full() != 0 {
		t.Errorf("seen %d destinations, full %d; want 4 and 0", seen.Len(), seen.Full())
	}
	// Each first sight is to be stored once; none of the later windows
	// (all within a day) is.
	want := []SeenChange{
		{Key: "192.0.2.1", First: t0s, Last: t0s},
		{Key: "example.com", First: t0s, Last: t0s},
		{Key: "other.org", First: t0s + 60, Last: t0s + 60},
		{Key: "fresh.net", First: t0s + 60, Last: t0s + 60},
	}
	if got := seen.Drain(); !slices.Equal(got, want) {
		t.Errorf("Drain = %+v, want %+v", got, want)
	}
	if got := seen.Drain(); len(got) != 0 {
		t.Errorf("second Drain = %+v, want nothing", got)
	}
}

// Without a Seen nothing is new, and FirstSeen is the window's start.
func TestAggregator_ByDestWithoutSeen(t *testing.T) {
	got, _ := runDest(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey},
		filled(record.KindProxy, []destLine{{s: 1, client: "10.0.0.1", host: "example.com"}, {s: 61, client: "10.0.0.1", host: "example.com"}}, true), false)
	if len(got) != 2 {
		t.Fatalf("results %v", got)
	}
	for _, r := range got {
		if r.Dest.New || r.Dest.FirstSeen != r.Start {
			t.Errorf("%s: new %v first seen %d, want false and %d", r, r.Dest.New, r.Dest.FirstSeen, r.Start)
		}
	}
}

// A sighting is stored again (Drain) once the stored one is a day old or
// more, and not before.
func TestSeen_RefreshAfterADay(t *testing.T) {
	s := NewSeen(0, 0, testDestKey)
	if first, isNew := observeKey(s, "example.com", t0s); first != t0s || !isNew {
		t.Fatalf("first sight: %d %v", first, isNew)
	}
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"example.com", t0s, t0s}}) {
		t.Fatalf("Drain = %+v", got)
	}
	for _, at := range []int64{60, 3600, daySecs - 60} {
		if first, isNew := observeKey(s, "example.com", t0s+at); first != t0s || isNew {
			t.Fatalf("at %+ds: first %d new %v, want %d false", at, first, isNew, t0s)
		}
		if got := s.Drain(); len(got) != 0 {
			t.Fatalf("at %+ds (under a day): Drain = %+v, want nothing", at, got)
		}
	}
	observeKey(s, "example.com", t0s+daySecs)
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"example.com", t0s, t0s + daySecs}}) {
		t.Fatalf("a day later: Drain = %+v, want the last sighting moved", got)
	}
	// The next refresh counts from the stored one.
	observeKey(s, "example.com", t0s+2*daySecs-60)
	if got := s.Drain(); len(got) != 0 {
		t.Fatalf("under a day after the refresh: Drain = %+v", got)
	}
	observeKey(s, "example.com", t0s+2*daySecs)
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"example.com", t0s, t0s + 2*daySecs}}) {
		t.Fatalf("a day after the refresh: Drain = %+v", got)
	}
	// A window older than the first sighting (another input behind)
	// moves the first back, stored; it is not new.
	if first, isNew := observeKey(s, "example.com", t0s-120); first != t0s-120 || isNew {
		t.Fatalf("earlier window: first %d new %v, want %d false", first, isNew, t0s-120)
	}
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"example.com", t0s - 120, t0s + 2*daySecs}}) {
		t.Fatalf("earlier window: Drain = %+v", got)
	}
}

// What was stored and loaded back at start is known: not new, its first
// sighting the stored one, nothing to store again within a day of the
// stored last sighting.
func TestSeen_LoadThenObserve(t *testing.T) {
	s := NewSeen(0, 0, testDestKey)
	s.Load("example.com", t0s-30*daySecs, t0s-3600)
	s.Load("old.org", t0s-60*daySecs, t0s-2*daySecs)
	if s.Len() != 2 || len(s.Drain()) != 0 {
		t.Fatalf("Load: %d destinations; loading is no change to store", s.Len())
	}
	if first, isNew := observeKey(s, "example.com", t0s); first != t0s-30*daySecs || isNew {
		t.Errorf("example.com: first %d new %v, want %d false", first, isNew, t0s-30*daySecs)
	}
	if first, isNew := observeKey(s, "old.org", t0s); first != t0s-60*daySecs || isNew {
		t.Errorf("old.org: first %d new %v, want %d false", first, isNew, t0s-60*daySecs)
	}
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"old.org", t0s - 60*daySecs, t0s}}) {
		t.Errorf("Drain = %+v, want only old.org's refresh", got)
	}
	if first, isNew := observeKey(s, "new.net", t0s); first != t0s || !isNew {
		t.Errorf("new.net: first %d new %v", first, isNew)
	}
	// Through an aggregator: the loaded destination's window is not new
	// and reports the stored first sighting.
	got, _ := runDest(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey, Seen: s},
		filled(record.KindProxy, []destLine{{s: 1, client: "10.0.0.1", host: "www.example.com"}}, true), false)
	if len(got) != 1 || got[0].Dest.New || got[0].Dest.FirstSeen != (t0s-30*daySecs)*1e9 {
		t.Errorf("results %v, want example.com not new, first seen 30 days before", got)
	}
}

// A destination unseen for longer than the retention (of event time) is
// forgotten, and new again when it comes back; one seen within the
// retention is kept.
func TestSeen_RetentionSweep(t *testing.T) {
	s := NewSeen(0, 10*24*time.Hour, testDestKey)
	observeKey(s, "gone.com", t0s)
	observeKey(s, "kept.com", t0s)
	observeKey(s, "loaded.com", t0s) // refreshed below
	for d := int64(1); d <= 8; d++ {
		observeKey(s, "loaded.com", t0s+d*daySecs) // a daily refresh keeps it
	}
	observeKey(s, "kept.com", t0s+5*daySecs)
	s.Drain()
	// 11 days on: gone.com was last seen 11 days ago; kept.com 6.
	if _, isNew := observeKey(s, "other.com", t0s+11*daySecs); !isNew {
		t.Fatal("other.com not new")
	}
	if s.Len() != 3 {
		t.Errorf("%d destinations remembered, want 3 (gone.com forgotten)", s.Len())
	}
	if first, isNew := observeKey(s, "gone.com", t0s+11*daySecs+60); !isNew || first != t0s+11*daySecs+60 {
		t.Errorf("gone.com after the retention: first %d new %v, want new at %d", first, isNew, t0s+11*daySecs+60)
	}
	if first, isNew := observeKey(s, "kept.com", t0s+11*daySecs+60); isNew || first != t0s {
		t.Errorf("kept.com within the retention: first %d new %v, want %d false", first, isNew, t0s)
	}
	if first, isNew := observeKey(s, "loaded.com", t0s+11*daySecs+60); isNew || first != t0s {
		t.Errorf("loaded.com: first %d new %v, want %d false", first, isNew, t0s)
	}
	got := s.Drain()
	if !slices.Contains(got, SeenChange{"gone.com", t0s + 11*daySecs + 60, t0s + 11*daySecs + 60}) {
		t.Errorf("Drain = %+v, want gone.com stored as a first sight again", got)
	}
	// A stored sighting older than the retention, loaded at start, is
	// forgotten at the first sweep.
	s2 := NewSeen(0, 10*24*time.Hour, testDestKey)
	s2.Load("stale.com", t0s-30*daySecs, t0s-20*daySecs)
	s2.Load("fresh.com", t0s-30*daySecs, t0s-1*daySecs)
	observeKey(s2, "x.com", t0s)
	if _, isNew := observeKey(s2, "stale.com", t0s+60); !isNew {
		t.Error("stale.com, last seen 20 days before with a 10-day retention, not new")
	}
	if _, isNew := observeKey(s2, "fresh.com", t0s+60); isNew {
		t.Error("fresh.com, last seen a day before, new")
	}
}

// Past Max, a new destination is reported new but not remembered (so it
// is new again next time) and counted in Full; the remembered ones are
// unaffected; a sweep that forgets one makes room.
func TestSeen_Max(t *testing.T) {
	s := NewSeen(2, 10*24*time.Hour, testDestKey)
	observeKey(s, "a.com", t0s)
	observeKey(s, "b.com", t0s)
	for i, at := range []int64{0, 60, 120} {
		if first, isNew := observeKey(s, "c.com", t0s+at); !isNew || first != t0s+at {
			t.Errorf("c.com, sight %d: first %d new %v, want new", i, first, isNew)
		}
		if s.Full() != int64(i+1) || s.Len() != 2 {
			t.Errorf("c.com, sight %d: full %d len %d, want %d and 2", i, s.Full(), s.Len(), i+1)
		}
	}
	if _, isNew := observeKey(s, "a.com", t0s+180); isNew {
		t.Error("a.com forgotten when the set was full")
	}
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"a.com", t0s, t0s}, {"b.com", t0s, t0s}}) {
		t.Errorf("Drain = %+v, want a.com and b.com only", got)
	}
	s.Load("d.com", t0s, t0s)
	if s.Full() != 4 || s.Len() != 2 {
		t.Errorf("Load past Max: full %d len %d, want 4 and 2", s.Full(), s.Len())
	}
	// b.com goes stale (a.com is refreshed): the sweep forgets it, and
	// c.com gets its room.
	observeKey(s, "a.com", t0s+9*daySecs)
	if first, isNew := observeKey(s, "c.com", t0s+11*daySecs); !isNew || first != t0s+11*daySecs {
		t.Errorf("c.com after the sweep: first %d new %v", first, isNew)
	}
	if first, isNew := observeKey(s, "c.com", t0s+11*daySecs+60); isNew || first != t0s+11*daySecs {
		t.Errorf("c.com once remembered: first %d new %v, want %d false", first, isNew, t0s+11*daySecs)
	}
	if s.Full() != 4 || s.Len() != 2 {
		t.Errorf("after the sweep: full %d len %d, want 4 and 2", s.Full(), s.Len())
	}

	// Through an aggregator: of three destinations in a window, the two
	// first in key order are remembered; the third is new in every window.
	s3 := NewSeen(2, 0, testDestKey)
	var lines []destLine
	for _, at := range []float64{1, 61, 121} {
		for _, h := range []string{"c.org", "a.org", "b.org"} {
			lines = append(lines, destLine{s: at, client: "10.0.0.1", host: h})
		}
	}
	got, _ := runDest(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey, Seen: s3}, filled(record.KindProxy, lines, true), false)
	var news []string
	for _, r := range got {
		if r.Dest.New {
			news = append(news, fmt.Sprintf("%d %s", (r.Start-sec(0))/1e9, r.Key))
		}
	}
	if want := []string{"0 a.org", "0 b.org", "0 c.org", "60 c.org", "120 c.org"}; !slices.Equal(news, want) {
		t.Errorf("new: %q, want %q", news, want)
	}
	if s3.Full() != 3 {
		t.Errorf("full %d, want 3", s3.Full())
	}
}

// When the set is full, a destination gone stale since the last sweep
// (event time moved on by less than the day between regular sweeps)
// makes room for a new one; once a sweep at this event time found nothing
// to forget, new destinations are counted in Full.
func TestSeen_FullSweepMakesRoom(t *testing.T) {
	const h = 3600
	s := NewSeen(2, 10*24*time.Hour, testDestKey)
	observeKey(s, "a.com", t0s)
	observeKey(s, "b.com", t0s+9*daySecs+12*h)
	// 10.2 days on: a.com (last seen 10.2 days before) is stale, though
	// the last regular sweep was less than a day ago.
	if first, isNew := observeKey(s, "c.com", t0s+10*daySecs+5*h); !isNew || first != t0s+10*daySecs+5*h {
		t.Fatalf("c.com: first %d new %v", first, isNew)
	}
	if s.Full() != 0 || s.Len() != 2 {
		t.Fatalf("c.com did not take a.com's room: full %d len %d", s.Full(), s.Len())
	}
	if _, isNew := observeKey(s, "a.com", t0s+10*daySecs+5*h); !isNew || s.Full() != 1 {
		t.Fatalf("a.com back when the set is full of fresh ones: new %v full %d, want new and full 1", isNew, s.Full())
	}
	for i := range 3 {
		if _, isNew := observeKey(s, fmt.Sprintf("x%d.com", i), t0s+10*daySecs+5*h); !isNew {
			t.Fatalf("x%d.com not new", i)
		}
	}
	if s.Full() != 4 || s.Len() != 2 {
		t.Fatalf("full %d len %d, want 4 and 2", s.Full(), s.Len())
	}
	if got := s.Drain(); !slices.Equal(got, []SeenChange{{"a.com", t0s, t0s}, {"b.com", t0s + 9*daySecs + 12*h, t0s + 9*daySecs + 12*h},
		{"c.com", t0s + 10*daySecs + 5*h, t0s + 10*daySecs + 5*h}}) {
		t.Fatalf("Drain = %+v", got)
	}

	// Loaded full at start, a stale stored destination is forgotten at the
	// first new one.
	s = NewSeen(2, 10*24*time.Hour, testDestKey)
	s.Load("stale.com", t0s-30*daySecs, t0s-20*daySecs)
	s.Load("fresh.com", t0s-30*daySecs, t0s)
	if _, isNew := observeKey(s, "new.com", t0s); !isNew || s.Full() != 0 || s.Len() != 2 {
		t.Fatalf("new.com: new %v full %d len %d, want new, remembered in stale.com's room", isNew, s.Full(), s.Len())
	}
	if _, isNew := observeKey(s, "new.com", t0s+60); isNew {
		t.Fatal("new.com not remembered")
	}
}

// A DNS client's new_domain_share is the share of its queries (hits) to
// destinations the Seen does not know from before the window: unknown,
// or first seen in the window itself.
func TestAccum_DNSNewDomainShare(t *testing.T) {
	seen := NewSeen(0, 0, testDestKey)
	seen.Load("example.com", t0s-10*daySecs, t0s-3600)
	seen.Load("bbc.co.uk", t0s-60, t0s-60) // the window before
	seen.Load("192.0.2.53", t0s-daySecs, t0s-daySecs)
	seen.Load("same.net", t0s, t0s) // first seen in this very window (a destination aggregator closed it first)
	a := newAgg(t, WindowConfig{Kind: record.KindDNS, Seen: seen})
	lines := []destLine{
		// 10.0.0.1: 8 queries, 4 of them to unknown domains
		// (evil.net twice, new.org, same.net).
		{s: 1, client: "10.0.0.1", host: "www.example.com"},
		{s: 2, client: "10.0.0.1", host: "a.example.com."},
		{s: 3, client: "10.0.0.1", host: "mail.bbc.co.uk"},
		{s: 4, client: "10.0.0.1", host: "x.evil.net"},
		{s: 5, client: "10.0.0.1", host: "y.evil.net"},
		{s: 6, client: "10.0.0.1", host: "new.org"},
		{s: 7, client: "10.0.0.1", host: "192.0.2.53"},
		{s: 8, client: "10.0.0.1", host: "www.same.net"},
		// 10.0.0.2: known domains only.
		{s: 9, client: "10.0.0.2", host: "www.example.com"},
		{s: 10, client: "10.0.0.2", host: "WWW.EXAMPLE.COM"},
		{s: 11, client: "10.0.0.2", host: "bbc.co.uk"},
		// 10.0.0.3: unknown only.
		{s: 12, client: "10.0.0.3", host: "a.evil.net"},
		{s: 14, client: "10.0.0.3", host: "b.evil.net"},
	}
	recs := filled(record.KindDNS, lines, true)
	for i := range recs {
		a.Add(&recs[i])
	}
	var got []result
	a.CloseThrough(maxInt64, collector(&got))
	want := map[string]struct{ share, domains float64 }{
		"10.0.0.1": {4.0 / 8, 6}, // example.com, bbc.co.uk, evil.net, new.org, 192.0.2.53, same.net
		"10.0.0.2": {0, 2},
		"10.0.0.3": {1, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("results %+v", got)
	}
	for _, r := range got {
		w := want[r.Key]
		if math.Abs(r.Vector[DNSNewDomainShare]-w.share) > 1e-12 || r.Vector[DNSDistinctDomains] != w.domains {
			t.Errorf("%s: new_domain_share %v distinct_domains %v, want %v %v", r.Key, r.Vector[DNSNewDomainShare], r.Vector[DNSDistinctDomains], w.share, w.domains)
		}
	}
	// The client features ask, never change the set.
	if seen.Len() != 4 || len(seen.Drain()) != 0 {
		t.Errorf("a client aggregator changed the seen set: %d destinations", seen.Len())
	}
}

// BenchmarkSeen_ObserveFull is the close of a window with many new
// destinations (a DGA, a resolver's long tail) when the set is full: each
// is reported new and counted in Full.
func BenchmarkSeen_ObserveFull(b *testing.B) {
	const size = 1 << 17
	s := NewSeen(size, 0, testDestKey)
	keys := make([]string, size+4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("d%d.example", i)
	}
	for _, k := range keys[:size] {
		observeKey(s, k, t0s)
	}
	s.Drain()
	hs := make([]uint64, 4096)
	for i := range hs {
		hs[i] = testDestKey.hashString(keys[size+i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(hs)
		if _, isNew := s.observe(hs[j], keys[size+j], t0s+60); !isNew {
			b.Fatal("not new")
		}
	}
	b.StopTimer()
	if s.Full() != int64(b.N) || s.Len() != size {
		b.Fatalf("full %d len %d, want %d and %d", s.Full(), s.Len(), b.N, size)
	}
}

// A set whose changes nothing stores keeps none.
func TestSeen_DiscardChanges(t *testing.T) {
	s := NewSeen(0, 0, testDestKey)
	s.DiscardChanges()
	for i := range 1000 {
		k := fmt.Sprintf("d%d.example", i)
		s.observe(testDestKey.hashString(k), k, int64(i)*60)
	}
	if n := len(s.Drain()); n != 0 || s.Len() != 1000 {
		t.Errorf("%d changes kept, %d destinations remembered", n, s.Len())
	}
}
