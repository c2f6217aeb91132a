package detect

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/socx/sharkfin/record"
)

// features runs recs (all for one key, in one window) through an
// Aggregator of kind and returns the key's vector.
func features(t *testing.T, kind record.Kind, recs []record.Record) []float64 {
	t.Helper()
	a := newAgg(t, WindowConfig{Kind: kind})
	for i := range recs {
		if recs[i].Time == 0 {
			recs[i].Time = sec(float64(i))
		}
		if recs[i].Client == nil {
			recs[i].Client = []byte("192.0.2.1")
		}
		if !a.Add(&recs[i]) {
			t.Fatalf("record %d late", i)
		}
	}
	var got []result
	a.CloseThrough(maxInt64, collector(&got))
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1", len(got))
	}
	if n := len(FeatureNames(kind)); len(got[0].Vector) != n {
		t.Fatalf("vector has %d values, want %d", len(got[0].Vector), n)
	}
	return got[0].Vector
}

// checkVector compares a feature vector with want by name.
func checkVector(t *testing.T, kind record.Kind, got []float64, want map[string]float64) {
	t.Helper()
	names := FeatureNames(kind)
	if len(want) != len(names) {
		t.Fatalf("test lists %d features, kind %s has %d", len(want), kind, len(names))
	}
	for i, n := range names {
		w, ok := want[n]
		if !ok {
			t.Fatalf("test misses feature %s", n)
		}
		if math.Abs(got[i]-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", n, got[i], w)
		}
	}
}

func web(method, target string, status int, bytes int64) record.Record {
	return record.Record{Method: []byte(method), Target: []byte(target), Status: status, Bytes: bytes}
}

func TestAccum_WebFeatures(t *testing.T) {
	recs := []record.Record{
		web("GET", "/index.html?x=1", 200, 1000),
		web("GET", "/index.html?x=2", 200, 500), // same path: query strings are ignored
		web("POST", "/login", 302, 0),
		web("GET", "/missing", 404, 200),
		web("GET", "/cgi-bin/x", 500, 50),
		web("GET", "/index.html", 200, 250),
		web("", "/x", 0, 0), // no status (e.g. "-"): not 2xx
		web("post", "/login?a", 101, 0),
		web("POST", "/wp-cron.php", 499, 0), // the client hung up: a 4xx, not a rare error
	}
	for _, i := range []int{3, 4, 6, 8} { // not in the model's path vocabulary
		recs[i].Rare = true
	}
	got := features(t, record.KindWeb, recs)
	checkVector(t, record.KindWeb, got, map[string]float64{
		"hits": 9, "hits_2xx": 3, "hits_3xx": 1, "hits_4xx": 2, "hits_5xx": 1, "hits_non2xx": 6,
		"bytes": 2000, "distinct_paths": 6, "post": 2, "error_ratio": 3.0 / 9,
		// 4 rare, 2 of them failed (the one without a status did not,
		// nor the 499).
		"rare_hits": 4, "rare_errors": 2, "rare_share": 4.0 / 9, "rare_error_ratio": 2.0 / 4,
		// No Horizon: the window's own (both rare errors on paths of
		// their own: new).
		"hour_4xx": 2, "hour_rare_errors": 2, "day_4xx": 2, "day_rare_errors": 2,
		"hour_new_rare_errors": 2, "day_new_rare_errors": 2,
	})
}

func proxy(method, host, action string, status int, bytes int64) record.Record {
	r := record.Record{Method: []byte(method), Status: status, Bytes: bytes, Action: []byte(action)}
	if host != "" {
		r.Host = []byte(host)
	}
	return r
}

func TestAccum_ProxyFeatures(t *testing.T) {
	recs := []record.Record{
		proxy("GET", "Example.com", "TCP_MISS", 200, 1000),
		proxy("GET", "example.COM", "TCP_HIT", 200, 500), // same domain, other case
		proxy("CONNECT", "www.example.org", "TCP_TUNNEL", 200, 3000),
		proxy("GET", "blocked.test", "TCP_DENIED", 403, 0),
		proxy("GET", "192.0.2.1", "TCP_MISS", 200, 10),
		proxy("CONNECT", "2001:db8::1", "TCP_TUNNEL", 200, 10),
		proxy("GET", "[2001:db8::2]", "TCP_MISS", 200, 20),
		proxy("", "", "NONE_NONE", 0, 0),               // no destination
		proxy("GET", "192.0.2.1", "TCP_MISS", 200, 10), // same IP again
		proxy("GET", "10.0.0", "TCP_MISS", 200, 0),     // not an address
	}
	got := features(t, record.KindProxy, recs)
	checkVector(t, record.KindProxy, got, map[string]float64{
		"hits": 10, "hits_2xx": 8, "hits_non2xx": 2, "bytes": 4550,
		"distinct_domains": 7, "denied": 1, "connect": 2, "ip_destinations": 3,
	})
}

func TestIsIPLiteral(t *testing.T) {
	for _, c := range []struct {
		host string
		want bool
	}{
		{"192.0.2.1", true},
		{"10.0.0.255", true},
		{"2001:db8::1", true},
		{"::1", true},
		{"[2001:db8::1]", true},
		{"example.com", false},
		{"10.0.0", false},
		{"1.2.3.4.5", false},
		{"1.2.3.a", false},
		{"123", false},
		{"", false},
	} {
		if got := isIPLiteral([]byte(c.host)); got != c.want {
			t.Errorf("isIPLiteral(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}

func TestPathOf(t *testing.T) {
	for in, want := range map[string]string{
		"/a?b=1": "/a", "/a": "/a", "?x": "", "/a?b?c": "/a", "": "",
	} {
		if got := string(pathOf([]byte(in))); got != want {
			t.Errorf("pathOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAccum_ReuseDoesNotLeak fills a key's accumulator in one window, closes
// it, and checks that the recycled accumulator starts from zero in the next.
func TestAccum_ReuseDoesNotLeak(t *testing.T) {
	big := map[record.Kind]func(i int) record.Record{
		record.KindWeb: func(i int) record.Record {
			r := web("POST", fmt.Sprintf("/p%d", i), 500, 1)
			r.Rare = true
			return r
		},
		record.KindProxy: func(i int) record.Record {
			return proxy("CONNECT", fmt.Sprintf("10.0.%d.%d", i/256, i%256), "TCP_DENIED", 403, 1)
		},
		record.KindDNS: func(i int) record.Record {
			return record.Record{Host: fmt.Appendf(nil, "q%dxz%d.tunnel.example.com", i, i*7919), QType: []byte("TXT")}
		},
	}
	small := map[record.Kind]record.Record{
		record.KindWeb:   web("GET", "/", 200, 10),
		record.KindProxy: proxy("GET", "example.com", "TCP_MISS", 200, 10),
		record.KindDNS:   {Host: []byte("www.example.com"), QType: []byte("A")},
	}
	want := map[record.Kind]map[string]float64{
		record.KindWeb: {"hits": 1, "hits_2xx": 1, "hits_3xx": 0, "hits_4xx": 0, "hits_5xx": 0,
			"hits_non2xx": 0, "bytes": 10, "distinct_paths": 1, "post": 0, "error_ratio": 0,
			"rare_hits": 0, "rare_errors": 0, "rare_share": 0, "rare_error_ratio": 0,
			"hour_4xx": 0, "hour_rare_errors": 0, "day_4xx": 0, "day_rare_errors": 0,
			"hour_new_rare_errors": 0, "day_new_rare_errors": 0},
		record.KindProxy: {"hits": 1, "hits_2xx": 1, "hits_non2xx": 0, "bytes": 10,
			"distinct_domains": 1, "denied": 0, "connect": 0, "ip_destinations": 0},
		record.KindDNS: {"hits": 1, "hits_2xx": 0, "hits_non2xx": 0, "queries": 1,
			"distinct_subdomains": 1, "max_qname_len": 15, "mean_qname_len": 15,
			"max_label_entropy": 0, "txt_any_ratio": 0, "distinct_domains": 1, "max_domain_len": 7,
			"max_domain_entropy": refMaxLabelEntropy("example"), "new_domain_share": 1, "subdomain_entropy": 0, "random_domains": 0},
	}
	for kind, mk := range big {
		t.Run(kind.String(), func(t *testing.T) {
			a := newAgg(t, WindowConfig{Kind: kind})
			var got []result
			fn := collector(&got)
			for i := range 500 {
				r := mk(i)
				r.Time, r.Client = sec(float64(i%60)/2), []byte("192.0.2.1")
				a.Add(&r)
			}
			a.CloseThrough(sec(60), fn)
			if len(a.free) != 1 {
				t.Fatalf("free accumulators = %d, want 1", len(a.free))
			}
			r := small[kind]
			r.Time, r.Client = sec(70), []byte("192.0.2.2")
			a.Add(&r)
			if len(a.free) != 0 {
				t.Fatal("the accumulator of window 1 was not reused")
			}
			a.CloseThrough(maxInt64, fn)
			if len(got) != 2 {
				t.Fatalf("got %d results, want 2", len(got))
			}
			checkVector(t, kind, got[1].Vector, want[kind])
		})
	}
}

func TestFeatureNames_MatchVectors(t *testing.T) {
	for _, kind := range []record.Kind{record.KindWeb, record.KindProxy, record.KindDNS} {
		names := FeatureNames(kind)
		for _, required := range []string{"hits", "hits_2xx", "hits_non2xx"} {
			if _, err := featureIndex(kind, required); err != nil {
				t.Errorf("%s: %s missing from %v (the event schema requires it)", kind, required, names)
			}
		}
		for _, n := range DefaultModelFeatures(kind) {
			if _, err := featureIndex(kind, n); err != nil {
				t.Errorf("%s default model feature: %v", kind, err)
			}
		}
		var acc accum
		if v := acc.vector(kind, nil, nil, 0, nil); len(v) != len(names) {
			t.Errorf("%s: vector has %d values for %d names", kind, len(v), len(names))
		}
		names[0] = "changed"
		if FeatureNames(kind)[0] == "changed" {
			t.Errorf("%s: FeatureNames returns shared memory", kind)
		}
	}
	if FeatureNames(record.KindUnknown) != nil {
		t.Error("FeatureNames(unknown) is not nil")
	}
}

// Records hashed ahead (Prehash, on the parse workers) count exactly like
// records hashed by Add.
func TestPrehash_SameFeatures(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	cases := map[record.Kind][]record.Record{
		record.KindWeb: {
			web("GET", "/a?x=1", 200, 10), web("GET", "/a?x=2", 200, 10), web("POST", "/login", 401, 0),
			web("GET", "/b", 404, 1), web("GET", "/c", 200, 1), web("GET", "/d#frag", 500, 1), {Status: 408},
		},
		record.KindProxy: {
			{Host: b("Example.COM"), Status: 200, Method: b("GET")}, {Host: b("example.com"), Status: 200},
			{Host: b("192.0.2.7"), Status: 200, Method: b("CONNECT")}, {Status: 0, Action: b("TCP_DENIED")},
			{Host: b("other.example"), Status: 403},
		},
		record.KindDNS: {
			{Host: b("a.example.com."), QType: b("A")}, {Host: b("A.EXAMPLE.COM"), QType: b("TXT")},
			{Host: b("mzxw6ytboi.tunnel.example.org."), QType: b("ANY")}, {Host: b("b.tunnel.example.org")},
			{Host: b(".")},
		},
	}
	for kind, recs := range cases {
		plain := append([]record.Record(nil), recs...)
		hashed := append([]record.Record(nil), recs...)
		for i := range hashed {
			Prehash(kind, &hashed[i], &DestKey{}) // features' aggregator has the zero key
			if !hashed[i].Hashed {
				t.Fatalf("%s: Prehash left record %d unhashed", kind, i)
			}
		}
		want, got := features(t, kind, plain), features(t, kind, hashed)
		for i, n := range FeatureNames(kind) {
			if got[i] != want[i] {
				t.Errorf("%s %s: %v prehashed, %v hashed by Add", kind, n, got[i], want[i])
			}
		}
	}
}

// TagRareError tags exactly the web rare errors (4xx/5xx but not 499, on a
// path the vocabulary does not know), with the tag the accumulator would
// compute itself; a window counts the same whether its records were
// tagged by a parse worker or not.
func TestTagRareError(t *testing.T) {
	key := NewDestKey()
	for _, c := range []struct {
		kind   record.Kind
		rare   bool
		status int
		tagged bool
	}{
		{record.KindWeb, true, 404, true},
		{record.KindWeb, true, 503, true},
		{record.KindWeb, true, 499, false},
		{record.KindWeb, true, 200, false},
		{record.KindWeb, false, 404, false},
		{record.KindProxy, true, 404, false},
	} {
		r := web("GET", "/backup.sql?x=1", c.status, 10)
		r.Rare = c.rare
		TagRareError(c.kind, &r, &key)
		if want := key.pathTag([]byte("/backup.sql")); c.tagged && r.ErrTag != want || !c.tagged && r.ErrTag != 0 {
			t.Errorf("%+v: ErrTag %d (the path's tag is %d)", c, r.ErrTag, want)
		}
		r.ErrTag = 0
		if TagRareError(c.kind, &r, nil); r.ErrTag != 0 {
			t.Errorf("%+v: tagged %d without a key", c, r.ErrTag)
		}
	}
	var recs []record.Record
	for i := range 40 {
		r := web("GET", fmt.Sprintf("/p%d", i%7), 404, 10)
		r.Time, r.Client, r.Rare = sec(float64(i)), []byte("192.0.2.9"), i%3 != 0
		recs = append(recs, r)
	}
	run := func(tag bool) []result {
		a := newAgg(t, WindowConfig{Kind: record.KindWeb, Horizon: NewHorizon(0, key, false)})
		var got []result
		for i := range recs {
			r := recs[i]
			if tag {
				TagRareError(record.KindWeb, &r, a.TagKey())
			}
			a.Add(&r)
		}
		a.CloseThrough(maxInt64, collector(&got))
		return got
	}
	untagged, tagged := run(false), run(true)
	if len(tagged) != 1 || !slices.Equal(tagged[0].Vector, untagged[0].Vector) || tagged[0].Vector[WebHourNewRareErrors] <= 3 {
		t.Errorf("tagged %v, untagged %v: want equal vectors, more than 3 new rare errors", tagged, untagged)
	}
}

// A recycled accumulator does not keep the per-domain map one client's
// thousands of domains grew (a Go map never shrinks): it is dropped at
// reset, as u64set.Reset drops a large table, and a small one is kept.
func TestAccum_ResetDropsALargeDomainMap(t *testing.T) {
	for _, tc := range []struct {
		domains int
		kept    bool
	}{{10, true}, {5000, false}} {
		var a accum
		for i := range tc.domains {
			r := record.Record{Client: []byte("10.0.0.1"), Host: fmt.Appendf(nil, "x.tunnel%d.example", i), QType: []byte("A")}
			a.add(record.KindDNS, &r, &DestKey{})
		}
		if n := len(a.accExt.perDomain); n != tc.domains {
			t.Fatalf("%d domains counted, want %d", n, tc.domains)
		}
		a.reset()
		if kept := a.accExt.perDomain != nil; kept != tc.kept || len(a.accExt.perDomain) != 0 {
			t.Errorf("after %d domains: map kept %v with %d entries; want kept %v, empty", tc.domains, kept, len(a.accExt.perDomain), tc.kept)
		}
	}
}
