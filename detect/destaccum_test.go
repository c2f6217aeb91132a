package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// destResult is a copy of a destination's Result that outlives the
// callback.
type destResult struct {
	Start, End int64
	Key        string
	Vector     []float64
	Dest       DestResult
}

func (r destResult) String() string {
	d := r.Dest
	return fmt.Sprintf("%d %s %v ip=%v new=%v first=%d clients=%q users=%q names=%q",
		r.Start, r.Key, r.Vector, d.IsIP, d.New, d.FirstSeen, d.Clients, d.Users, d.Names)
}

// destCollector returns a callback that keeps copies of destination
// results in *out; it fails t on a result without Dest.
func destCollector(t testing.TB, out *[]destResult) func(*Result) {
	return func(r *Result) {
		if r.Dest == nil {
			t.Fatalf("result of %s in window %d has no Dest", r.Key, r.Start)
		}
		d := *r.Dest
		d.Clients, d.Users, d.Names = slices.Clone(d.Clients), slices.Clone(d.Users), slices.Clone(d.Names)
		*out = append(*out, destResult{Start: r.Start, End: r.End, Key: r.Key, Vector: slices.Clone(r.Vector), Dest: d})
	}
}

// byWindowKey indexes results by window start (seconds after t0) and key,
// failing on a (window, key) emitted twice.
func byWindowKey(t *testing.T, got []destResult) map[string]destResult {
	t.Helper()
	m := map[string]destResult{}
	for _, r := range got {
		k := fmt.Sprintf("%d %s", (r.Start-sec(0))/1e9, r.Key)
		if _, dup := m[k]; dup {
			t.Fatalf("%s emitted twice", k)
		}
		m[k] = r
	}
	return m
}

// checkDestVector compares a destination's counters with want by name.
func checkDestVector(t *testing.T, kind record.Kind, what string, got []float64, want map[string]float64) {
	t.Helper()
	names := DestFeatureNames(kind)
	if len(want) != len(names) {
		t.Fatalf("test lists %d counters, kind %s has %d", len(want), kind, len(names))
	}
	if len(got) != len(names) {
		t.Fatalf("%s: vector %v has %d values, want %d", what, got, len(got), len(names))
	}
	for i, n := range names {
		w, ok := want[n]
		if !ok {
			t.Fatalf("test misses counter %s", n)
		}
		if math.Abs(got[i]-w) > 1e-12 {
			t.Errorf("%s: %s = %v, want %v", what, n, got[i], w)
		}
	}
}

// destLine is a proxy or DNS line in a ByDest test.
type destLine struct {
	s                    float64 // seconds after t0
	client, user, host   string
	method, action, qtyp string
	status               int
	bytes                int64
}

// record returns l as a parser gives it (user "" is nil).
func (l destLine) record() record.Record {
	r := record.Record{Time: sec(l.s), Client: []byte(l.client), Host: []byte(l.host), Status: l.status, Bytes: l.bytes}
	if l.host == "" {
		r.Host = nil
	}
	if l.user != "" {
		r.User = []byte(l.user)
	}
	if l.method != "" {
		r.Method = []byte(l.method)
	}
	if l.action != "" {
		r.Action = []byte(l.action)
	}
	if l.qtyp != "" {
		r.QType = []byte(l.qtyp)
	}
	return r
}

// filled returns lines' records through Destinations.Fill (and Prehash if
// prehash is set), each name in an arena of its own.
func filled(kind record.Kind, lines []destLine, prehash bool) []record.Record {
	d := NewDestinations(testDestKey)
	recs := make([]record.Record, len(lines))
	for i, l := range lines {
		recs[i] = l.record()
		if prehash {
			Prehash(kind, &recs[i], &testDestKey)
		}
		var arena []byte
		d.Fill(kind, &recs[i], &arena)
	}
	return recs
}

// runDest counts recs in a fresh aggregator of cfg, one by one or with
// AddAll, and closes everything.
func runDest(t *testing.T, cfg WindowConfig, recs []record.Record, addAll bool) ([]destResult, *Aggregator) {
	t.Helper()
	a := newAgg(t, cfg)
	var got []destResult
	fn := destCollector(t, &got)
	if addAll {
		if late := a.AddAll(recs, fn); late != 0 {
			t.Fatalf("%d records late", late)
		}
	} else {
		for i := range recs {
			if !a.Add(&recs[i]) {
				t.Fatalf("record %d late", i)
			}
			a.Advance(fn)
		}
	}
	a.CloseThrough(maxInt64, fn)
	return got, a
}

// proxyLines are squid lines of several clients to several destinations
// over two windows (0 and 60).
var proxyLines = []destLine{
	// example.com, window 0: 9 lines of 6 clients, 6 distinct names.
	{s: 1, client: "10.0.0.1", user: "alice", host: "www.example.com", method: "GET", action: "TCP_MISS", status: 200, bytes: 100},
	{s: 2, client: "10.0.0.2", user: "bob", host: "WWW.EXAMPLE.COM.", method: "GET", action: "TCP_MISS", status: 404, bytes: 50},
	{s: 3, client: "10.0.0.1", user: "alice", host: "mail.example.com", method: "CONNECT", action: "TCP_TUNNEL", status: 200, bytes: 1000},
	{s: 4, client: "10.0.0.3", user: "-", host: "example.com", method: "GET", action: "TCP_DENIED", status: 403, bytes: 10},
	{s: 5, client: "10.0.0.4", host: "cdn.example.com", method: "GET", action: "TCP_MISS", status: 304, bytes: 5},
	{s: 6, client: "10.0.0.5", user: "carol", host: "x.example.com", method: "GET", action: "TCP_MISS", status: 200, bytes: 5},
	{s: 7, client: "10.0.0.2", user: "dave", host: "www.example.com.", method: "GET", action: "TCP_MISS", status: 200, bytes: 1},
	{s: 8, client: "10.0.0.6", user: "erin", host: "y.example.com", method: "GET", action: "TCP_DENIED", status: 403},
	{s: 9, client: "10.0.0.1", user: "frank", host: "Mail.Example.com", method: "GET", action: "TCP_MISS", status: 500, bytes: 2},
	// Bare addresses, window 0.
	{s: 10, client: "10.0.0.1", host: "192.0.2.7", method: "GET", action: "TCP_MISS", status: 200, bytes: 7},
	{s: 11, client: "10.0.0.9", user: "alice", host: "192.0.2.7", method: "CONNECT", action: "TCP_TUNNEL", status: 200},
	{s: 12, client: "10.0.0.2", host: "2001:DB8:0:0:0:0:0:1", method: "CONNECT", action: "TCP_TUNNEL", status: 200, bytes: 3},
	{s: 13, client: "10.0.0.2", host: "2001:db8::1", method: "GET", action: "TCP_MISS", status: 502, bytes: 4},
	// example.co.uk, window 0.
	{s: 14, client: "10.0.0.7", user: "-", host: "a.example.co.uk", method: "GET", action: "TCP_MISS", status: 302, bytes: 20},
	{s: 15, client: "10.0.0.7", host: "B.Example.Co.Uk", method: "GET", action: "TCP_MISS", status: 200, bytes: 30},
	// Hosts that name no destination: counted in NoDest only.
	{s: 16, client: "10.0.0.2", method: "GET", action: "TCP_MISS", status: 200, bytes: 1},
	{s: 17, client: "10.0.0.2", host: "1.2.3", method: "GET", action: "TCP_MISS", status: 200, bytes: 1},
	{s: 18, client: "10.0.0.3", host: "01.2.3.4", method: "GET", action: "TCP_MISS", status: 200, bytes: 1},
	// A public suffix is its own destination.
	{s: 19, client: "10.0.0.3", host: "co.uk", method: "GET", action: "TCP_DENIED", status: 403, bytes: 9},
	// Window 60.
	{s: 61, client: "10.0.0.7", user: "gina", host: "www.example.com", method: "GET", action: "TCP_MISS", status: 200, bytes: 11},
	{s: 62, client: "10.0.0.1", user: "alice", host: "WWW.example.com", method: "GET", action: "TCP_MISS", status: 200, bytes: 12},
	{s: 63, client: "10.0.0.7", host: "c.example.co.uk", method: "GET", action: "TCP_MISS", status: 500, bytes: 1},
	{s: 64, client: "10.0.0.8", user: "hank", host: "192.0.2.7", method: "GET", action: "TCP_DENIED", status: 403},
}

// TestAggregator_ByDestProxy checks every counter and field of each
// destination's windows against counts made by hand, whether the records
// are prehashed or not and added one by one or with AddAll.
func TestAggregator_ByDestProxy(t *testing.T) {
	type want struct {
		vec                   map[string]float64
		ip                    bool
		clients, users, names []string
	}
	wants := map[string]want{
		"0 example.com": {
			vec: map[string]float64{"hits": 9, "bytes": 1173, "clients": 6,
				// www, mail, example.com, cdn, x, y: case and a trailing
				// dot do not make a name distinct.
				"hosts":    6,
				"hits_2xx": 4, "hits_non2xx": 5, "denied": 2, "connect": 1},
			clients: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"},
			users:   []string{"alice", "bob", "carol", "dave"}, // "-", none and repeats skipped
			names:   []string{"www.example.com", "mail.example.com", "example.com", "cdn.example.com"},
		},
		"0 192.0.2.7": {
			vec:     map[string]float64{"hits": 2, "bytes": 7, "clients": 2, "hosts": 1, "hits_2xx": 2, "hits_non2xx": 0, "denied": 0, "connect": 1},
			ip:      true,
			clients: []string{"10.0.0.1", "10.0.0.9"},
			users:   []string{"alice"},
			names:   []string{"192.0.2.7"},
		},
		"0 2001:db8::1": {
			// One address written two ways is one host.
			vec:     map[string]float64{"hits": 2, "bytes": 7, "clients": 1, "hosts": 1, "hits_2xx": 1, "hits_non2xx": 1, "denied": 0, "connect": 1},
			ip:      true,
			clients: []string{"10.0.0.2"},
			names:   []string{"2001:db8::1"},
		},
		"0 example.co.uk": {
			vec:     map[string]float64{"hits": 2, "bytes": 50, "clients": 1, "hosts": 2, "hits_2xx": 1, "hits_non2xx": 1, "denied": 0, "connect": 0},
			clients: []string{"10.0.0.7"},
			names:   []string{"a.example.co.uk", "b.example.co.uk"},
		},
		"0 co.uk": {
			vec:     map[string]float64{"hits": 1, "bytes": 9, "clients": 1, "hosts": 1, "hits_2xx": 0, "hits_non2xx": 1, "denied": 1, "connect": 0},
			clients: []string{"10.0.0.3"},
			names:   []string{"co.uk"},
		},
		"60 example.com": {
			vec:     map[string]float64{"hits": 2, "bytes": 23, "clients": 2, "hosts": 1, "hits_2xx": 2, "hits_non2xx": 0, "denied": 0, "connect": 0},
			clients: []string{"10.0.0.7", "10.0.0.1"},
			users:   []string{"gina", "alice"},
			names:   []string{"www.example.com"},
		},
		"60 example.co.uk": {
			vec:     map[string]float64{"hits": 1, "bytes": 1, "clients": 1, "hosts": 1, "hits_2xx": 0, "hits_non2xx": 1, "denied": 0, "connect": 0},
			clients: []string{"10.0.0.7"},
			names:   []string{"c.example.co.uk"},
		},
		"60 192.0.2.7": {
			vec:     map[string]float64{"hits": 1, "bytes": 0, "clients": 1, "hosts": 1, "hits_2xx": 0, "hits_non2xx": 1, "denied": 1, "connect": 0},
			ip:      true,
			clients: []string{"10.0.0.8"},
			users:   []string{"hank"},
			names:   []string{"192.0.2.7"},
		},
	}
	var first []destResult
	for _, prehash := range []bool{true, false} {
		for _, addAll := range []bool{false, true} {
			t.Run(fmt.Sprintf("prehash=%v/addAll=%v", prehash, addAll), func(t *testing.T) {
				recs := filled(record.KindProxy, proxyLines, prehash)
				got, a := runDest(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey}, recs, addAll)
				m := byWindowKey(t, got)
				if len(m) != len(wants) {
					t.Errorf("%d results, want %d: %v", len(m), len(wants), got)
				}
				for k, w := range wants {
					r, ok := m[k]
					if !ok {
						t.Errorf("no result for %s", k)
						continue
					}
					checkDestVector(t, record.KindProxy, k, r.Vector, w.vec)
					d := r.Dest
					if d.IsIP != w.ip || !slices.Equal(d.Clients, w.clients) || !slices.Equal(d.Users, w.users) || !slices.Equal(d.Names, w.names) {
						t.Errorf("%s: ip %v clients %q users %q names %q; want %v %q %q %q", k, d.IsIP, d.Clients, d.Users, d.Names,
							w.ip, w.clients, w.users, w.names)
					}
					// No Seen: never new; the first sighting known is the window's.
					if d.New || d.FirstSeen != r.Start {
						t.Errorf("%s without a Seen: new %v first seen %d, want false and the window start %d", k, d.New, d.FirstSeen, r.Start)
					}
					if r.End != r.Start+int64(time.Minute) {
						t.Errorf("%s: window [%d, %d)", k, r.Start, r.End)
					}
				}
				st := a.Stats()
				want := AggregatorStats{Lines: int64(len(recs)) - 3, NoDest: 3, Windows: 2, KeyWindows: int64(len(wants))}
				if st != want {
					t.Errorf("stats %+v, want %+v", st, want)
				}
				for i := 1; i < len(got); i++ { // time, then key order
					p, c := got[i-1], got[i]
					if c.Start < p.Start || c.Start == p.Start && c.Key <= p.Key {
						t.Errorf("result %d (%d %s) after (%d %s)", i, c.Start, c.Key, p.Start, p.Key)
					}
				}
				if first == nil {
					first = got
				} else if !reflect.DeepEqual(got, first) {
					t.Errorf("results differ from the first run")
				}
			})
		}
	}
}

// dnsLines are BIND query lines over two windows.
var dnsLines = []destLine{
	{s: 1, client: "10.0.0.1", host: "a1b2c3.tunnel.example.com.", qtyp: "TXT"},
	{s: 2, client: "10.0.0.2", host: "ZZ9Y.tunnel.example.com", qtyp: "A"},
	{s: 3, client: "10.0.0.1", host: "www.example.com", qtyp: "A"},
	{s: 4, client: "10.0.0.1", host: "WWW.Example.com.", qtyp: "AAAA"}, // the same name
	{s: 5, client: "10.0.0.3", host: "example.com", qtyp: "any"},
	{s: 6, client: "10.0.0.3", host: "mail.bbc.co.uk", qtyp: "A"},
	{s: 7, client: "10.0.0.4", host: "bbc.co.uk.", qtyp: "txt"},
	{s: 8, client: "10.0.0.4", host: "192.0.2.53", qtyp: "A"},
	{s: 9, client: "10.0.0.4", host: "10.1", qtyp: "A"}, // no destination
	{s: 61, client: "10.0.0.5", host: "mfrggzdfmztwq2lk.t.example.com", qtyp: "TXT"},
	{s: 62, client: "10.0.0.5", host: "mfrggzdfmztwq2lk.t.example.com", qtyp: "TXT"},
	{s: 63, client: "10.0.0.6", host: "nbswy3dp.t.example.com", qtyp: "A"},
}

func TestAggregator_ByDestDNS(t *testing.T) {
	e := refEntropy
	wants := map[string]map[string]float64{
		"0 example.com": {"hits": 5, "bytes": 0, "clients": 3,
			// a1b2c3.tunnel, zz9y.tunnel, www and the domain itself.
			"subdomains":        4,
			"subdomain_entropy": (e("a1b2c3.tunnel") + e("zz9y.tunnel") + e("www") + 0) / 4,
			"max_qname_len":     float64(len("a1b2c3.tunnel.example.com")),
			"txt_any_ratio":     2.0 / 5},
		"0 bbc.co.uk": {"hits": 2, "bytes": 0, "clients": 2, "subdomains": 2,
			"subdomain_entropy": (e("mail") + 0) / 2, "max_qname_len": 14, "txt_any_ratio": 1.0 / 2},
		"0 192.0.2.53": {"hits": 1, "bytes": 0, "clients": 1, "subdomains": 1,
			"subdomain_entropy": 0, "max_qname_len": 10, "txt_any_ratio": 0},
		"60 example.com": {"hits": 3, "bytes": 0, "clients": 2, "subdomains": 2,
			"subdomain_entropy": (e("mfrggzdfmztwq2lk.t") + e("nbswy3dp.t")) / 2,
			"max_qname_len":     float64(len("mfrggzdfmztwq2lk.t.example.com")), "txt_any_ratio": 2.0 / 3},
	}
	// By hand: a1b2c3.tunnel is 13 characters, "n" twice and 11 others
	// once; zz9y.tunnel 11, "z" and "n" twice and 7 others once; www one
	// character only.
	if w, hand := wants["0 example.com"]["subdomain_entropy"], (math.Log2(13)-2.0/13+math.Log2(11)-4.0/11+0+0)/4; math.Abs(w-hand) > 1e-12 {
		t.Fatalf("test arithmetic: entropy %v, by hand %v", w, hand)
	}
	wantNames := map[string][]string{
		"0 example.com":  {"a1b2c3.tunnel.example.com", "zz9y.tunnel.example.com", "www.example.com", "example.com"},
		"0 bbc.co.uk":    {"mail.bbc.co.uk", "bbc.co.uk"},
		"0 192.0.2.53":   {"192.0.2.53"},
		"60 example.com": {"mfrggzdfmztwq2lk.t.example.com", "nbswy3dp.t.example.com"},
	}
	wantClients := map[string][]string{
		"0 example.com":  {"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		"0 bbc.co.uk":    {"10.0.0.3", "10.0.0.4"},
		"0 192.0.2.53":   {"10.0.0.4"},
		"60 example.com": {"10.0.0.5", "10.0.0.6"},
	}
	for _, prehash := range []bool{true, false} {
		t.Run(fmt.Sprintf("prehash=%v", prehash), func(t *testing.T) {
			got, a := runDest(t, WindowConfig{Kind: record.KindDNS, ByDest: true, DestKey: testDestKey}, filled(record.KindDNS, dnsLines, prehash), false)
			m := byWindowKey(t, got)
			if len(m) != len(wants) {
				t.Errorf("%d results, want %d: %v", len(m), len(wants), got)
			}
			for k, w := range wants {
				r, ok := m[k]
				if !ok {
					t.Errorf("no result for %s", k)
					continue
				}
				checkDestVector(t, record.KindDNS, k, r.Vector, w)
				d := r.Dest
				if d.IsIP != (k == "0 192.0.2.53") || !slices.Equal(d.Names, wantNames[k]) || !slices.Equal(d.Clients, wantClients[k]) || len(d.Users) != 0 {
					t.Errorf("%s: ip %v clients %q users %q names %q; want clients %q names %q", k, d.IsIP, d.Clients, d.Users, d.Names,
						wantClients[k], wantNames[k])
				}
			}
			if st := a.Stats(); st.NoDest != 1 || st.Lines != int64(len(dnsLines))-1 {
				t.Errorf("stats %+v, want 1 record without destination of %d", st, len(dnsLines))
			}
		})
	}
}

// Past MaxKeys destinations a window counts the rest under OverflowKey,
// whose row has counters but no destination fields, and which is never
// remembered as seen.
func TestAggregator_ByDestOverflow(t *testing.T) {
	seen := NewSeen(0, 0, testDestKey)
	lines := []destLine{
		{s: 1, client: "10.0.0.1", user: "u1", host: "a.example", status: 200, bytes: 1},
		{s: 2, client: "10.0.0.1", host: "b.example", status: 200, bytes: 2},
		{s: 3, client: "10.0.0.2", user: "u2", host: "c.example", status: 404, bytes: 4},
		{s: 4, client: "10.0.0.3", host: "192.0.2.1", status: 200, bytes: 8},
		{s: 5, client: "10.0.0.1", host: "www.a.example", status: 200, bytes: 16},
	}
	got, a := runDest(t, WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey, MaxKeys: 2, Seen: seen}, filled(record.KindProxy, lines, true), false)
	if len(got) != 3 || got[0].Key != "a.example" || got[1].Key != "b.example" || got[2].Key != OverflowKey {
		t.Fatalf("results %v, want a.example, b.example and the overflow", got)
	}
	checkDestVector(t, record.KindProxy, "a.example", got[0].Vector, map[string]float64{"hits": 2, "bytes": 17, "clients": 1, "hosts": 2,
		"hits_2xx": 2, "hits_non2xx": 0, "denied": 0, "connect": 0})
	checkDestVector(t, record.KindProxy, "overflow", got[2].Vector, map[string]float64{"hits": 2, "bytes": 12, "clients": 2, "hosts": 2,
		"hits_2xx": 1, "hits_non2xx": 1, "denied": 0, "connect": 0})
	if d := got[2].Dest; d.New || d.FirstSeen != 0 {
		t.Errorf("overflow row: new %v first seen %d, want neither", d.New, d.FirstSeen)
	}
	if !got[0].Dest.New || !got[1].Dest.New {
		t.Errorf("a.example and b.example not new in their first window")
	}
	if seen.Len() != 2 || a.Stats().Overflowed != 2 {
		t.Errorf("seen %d destinations, overflowed %d records; want 2 and 2", seen.Len(), a.Stats().Overflowed)
	}
}

// benchDestRecords returns one window's proxy records (prehashed and
// filled, as the parse workers leave them) of dests destinations with
// perDest lines each from a few clients, in random order over the window
// at t0: names under the destination, now and then a bare address.
func benchDestRecords(dests, perDest int) []record.Record {
	rng := rand.New(rand.NewPCG(8, 9))
	d := NewDestinations(testDestKey)
	var recs []record.Record
	for k := range dests {
		for j := range perDest {
			c := (k*7 + j%3) % 500 // three clients per destination, of 500
			r := record.Record{
				Client: fmt.Appendf(nil, "10.2.%d.%d", c/256, c%256),
				User:   fmt.Appendf(nil, "user%d", c%50),
				Method: []byte([]string{"GET", "GET", "CONNECT"}[j%3]),
				Action: []byte([]string{"TCP_MISS", "TCP_HIT", "TCP_DENIED"}[j%3]),
				Status: []int{200, 304, 403}[j%3],
				Bytes:  int64(100 * j),
				Host:   fmt.Appendf(nil, "h%d.site%d.com", j%4, k),
			}
			if k%10 == 0 {
				r.Host = fmt.Appendf(nil, "198.51.%d.%d", k/256, k%256)
			}
			Prehash(record.KindProxy, &r, &testDestKey)
			var arena []byte
			d.Fill(record.KindProxy, &r, &arena)
			recs = append(recs, r)
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	for i := range recs {
		recs[i].Time = sec(float64(i) * 60 / float64(len(recs)))
	}
	return recs
}

// BenchmarkAggregator_ByDest counts proxy records per destination (2,000
// destinations of three clients and six lines each per 60s window) with
// AddAll as the agent does, windows closing as event time passes, with and
// without a Seen. The records are prehashed and filled beforehand, as the
// parse workers do: this is the counting goroutine's cost.
func BenchmarkAggregator_ByDest(b *testing.B) {
	const dests, perDest = 2000, 6
	recs := benchDestRecords(dests, perDest)
	width := int64(time.Minute)
	for _, withSeen := range []bool{false, true} {
		b.Run(fmt.Sprintf("seen=%v", withSeen), func(b *testing.B) {
			cfg := WindowConfig{Kind: record.KindProxy, ByDest: true, DestKey: testDestKey}
			if withSeen {
				cfg.Seen = NewSeen(0, 0, testDestKey)
			}
			a := newAgg(b, cfg)
			emitted := 0
			fn := func(*Result) { emitted++ }
			pass := int64(0)
			const part = 2048
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mallocs := ms.Mallocs
			b.ResetTimer()
			for n, pos := 0, 0; n < b.N; {
				// Each pass over recs is the next window: the same
				// destinations and clients at the same offsets.
				batch := recs[pos:min(pos+part, len(recs), pos+b.N-n)]
				for j := range batch {
					batch[j].Time += pass * width
				}
				a.AddAll(batch, fn)
				for j := range batch {
					batch[j].Time -= pass * width
				}
				n += len(batch)
				if pos += len(batch); pos == len(recs) {
					pos = 0
					pass++
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(b.N), "allocs/record")
			a.CloseThrough(maxInt64, fn)
			if want := int(pass) * dests; emitted < want {
				b.Fatalf("%d destination windows emitted, want at least %d", emitted, want)
			}
			if withSeen {
				cfg.Seen.Drain()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
		})
	}
}

// nameHash, whether it takes the prehashed r.Hash or hashes Name itself,
// is the hash of the normalized name: every spelling of a name counts once
// in a destination's hosts.
func TestNameHash_IsHashOfName(t *testing.T) {
	d := NewDestinations(testDestKey)
	for _, tc := range []struct {
		kind  record.Kind
		cases []fillCase
	}{{record.KindProxy, proxyFillCases}, {record.KindDNS, dnsFillCases}} {
		for _, c := range tc.cases {
			if c.name == "" {
				continue
			}
			for _, host := range []string{c.host, strings.ToUpper(c.host), c.host + "."} {
				for _, prehash := range []bool{false, true} {
					r := record.Record{Host: []byte(host)}
					if prehash {
						Prehash(tc.kind, &r, &testDestKey)
					}
					var arena []byte
					d.Fill(tc.kind, &r, &arena)
					if r.Dest == nil {
						continue // upper case made it no name ("FE80::0001." is one)
					}
					if got, want := nameHash(tc.kind, &r, &testDestKey), testDestKey.hash(r.Name); got != want {
						t.Errorf("%s %q (prehashed %v): nameHash %x, want the hash of %q %x", tc.kind, host, prehash, got, r.Name, want)
					}
					if string(r.Name) != c.name && host != c.host+"." {
						t.Errorf("%s %q: Name %q, want %q", tc.kind, host, r.Name, c.name)
					}
				}
			}
		}
	}
}

// Counting a record whose destination, client, user and name its window
// already holds allocates nothing.
func TestAggregator_ByDestAddAllocatesNothing(t *testing.T) {
	for _, kind := range []record.Kind{record.KindProxy, record.KindDNS} {
		t.Run(kind.String(), func(t *testing.T) {
			a := newAgg(t, WindowConfig{Kind: kind, ByDest: true, DestKey: testDestKey, Seen: NewSeen(0, 0, testDestKey)})
			recs := steadyRecords(kind, 64, 16)
			d := NewDestinations(testDestKey)
			arena := make([]byte, 0, 1<<16)
			for i := range recs {
				recs[i].User = []byte([]string{"-", "alice", "bob"}[i%3])
				Prehash(kind, &recs[i], &testDestKey)
				d.Fill(kind, &recs[i], &arena)
			}
			for i := range recs { // warm up: keys, window, tables and names exist
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
			if st := a.Stats(); st.Late != 0 || st.NoDest != 0 || a.OpenWindows() != 1 {
				t.Fatalf("test setup: stats %+v, windows %d", st, a.OpenWindows())
			}
		})
	}
}
