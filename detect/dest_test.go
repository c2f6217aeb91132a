package detect

import (
	"strings"
	"testing"

	"github.com/socx/sharkfin/record"
)

// fillCase is a host as a parser gives it and the destination fields Fill
// must set from it ("" name: none).
type fillCase struct {
	host, name, dest string
	ip               bool
}

// proxyFillCases are hosts as the squid parser gives them (urlHost: no
// port, no brackets, case and trailing dot as logged) and a few it does not
// give but Normalize takes.
var proxyFillCases = []fillCase{
	{"www.example.com", "www.example.com", "example.com", false},
	{"example.com", "example.com", "example.com", false},
	{"WWW.Example.COM", "www.example.com", "example.com", false},
	{"www.example.com.", "www.example.com", "example.com", false},
	{"WWW.EXAMPLE.COM.", "www.example.com", "example.com", false},
	{"a.b.c.example.com", "a.b.c.example.com", "example.com", false},
	// Multi-label public suffixes: the registrable domain is one label
	// more than the suffix.
	{"img.static.example.co.uk", "img.static.example.co.uk", "example.co.uk", false},
	{"Example.CO.UK", "example.co.uk", "example.co.uk", false},
	{"shop.example.com.au", "shop.example.com.au", "example.com.au", false},
	{"www.city.kawasaki.jp", "www.city.kawasaki.jp", "city.kawasaki.jp", false}, // !city.kawasaki.jp
	{"a.b.kawasaki.jp", "a.b.kawasaki.jp", "a.b.kawasaki.jp", false},            // *.kawasaki.jp
	{"alice.github.io", "alice.github.io", "alice.github.io", false},            // a private suffix
	{"host.corp.internal", "host.corp.internal", "corp.internal", false},        // not in the list: one label
	// A name that is itself a public suffix (or a lone label) names no
	// registrable domain: the name is its own destination.
	{"co.uk", "co.uk", "co.uk", false},
	{"CO.UK.", "co.uk", "co.uk", false},
	{"com", "com", "com", false},
	{"localhost", "localhost", "localhost", false},
	// Bare addresses: the address is the destination, IPv6 canonical.
	{"192.0.2.7", "192.0.2.7", "192.0.2.7", true},
	{"192.0.2.7.", "192.0.2.7", "192.0.2.7", true},
	{"0.0.0.0", "0.0.0.0", "0.0.0.0", true},
	{"2001:db8::1", "2001:db8::1", "2001:db8::1", true},
	{"2001:DB8::1", "2001:db8::1", "2001:db8::1", true},
	{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", "2001:db8::1", true},
	{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "2001:db8::1:0:0:1", true}, // the first of two equal runs
	{"[2001:db8::1]", "2001:db8::1", "2001:db8::1", true},
	{"::1", "::1", "::1", true},
	{"::ffff:c000:207", "::ffff:192.0.2.7", "::ffff:192.0.2.7", true},
	{"FE80::0001", "fe80::1", "fe80::1", true},
	// No destination.
	{"", "", "", false},
	{".", "", "", false},
	{"[]", "", "", false},
	{"1.2.3", "", "", false},
	{"1.2.3.4.5", "", "", false},
	{"1.2.3.256", "", "", false},
	{"01.2.3.4", "", "", false}, // a leading zero: not an address as net/netip reads one
	{"12345", "", "", false},
	{"1..2.3", "", "", false},
	{"2001:db8::1::2", "", "", false},
	{"2001:db8:g::1", "", "", false},
	{"fe80::1%eth0", "", "", false},
	{"host:name", "", "", false},
	{strings.Repeat("a", 250) + ".com", "", "", false}, // 254 characters
}

// dnsFillCases are query names as the BIND parser gives them.
var dnsFillCases = []fillCase{
	{"www.example.com", "www.example.com", "example.com", false},
	{"A1B2C3.Tunnel.Example.com.", "a1b2c3.tunnel.example.com", "example.com", false},
	{"mail.bbc.co.uk.", "mail.bbc.co.uk", "bbc.co.uk", false},
	{"bbc.co.uk", "bbc.co.uk", "bbc.co.uk", false},
	{"7.2.0.192.in-addr.arpa", "7.2.0.192.in-addr.arpa", "192.in-addr.arpa", false},
	{"_ldap._tcp.dc.corp.internal", "_ldap._tcp.dc.corp.internal", "corp.internal", false},
	{"co.uk.", "co.uk", "co.uk", false},
	{"192.0.2.53", "192.0.2.53", "192.0.2.53", true},
	{strings.Repeat("a", 249) + ".com", strings.Repeat("a", 249) + ".com", strings.Repeat("a", 249) + ".com", false}, // 253: the longest
	{"", "", "", false},
	{"10.1", "", "", false},
}

// checkFill checks r's destination fields against c.
func checkFill(t *testing.T, kind record.Kind, c fillCase, r *record.Record) {
	t.Helper()
	if c.name == "" {
		if r.Name != nil || r.Dest != nil || r.DestHash != 0 || r.DestIP {
			t.Errorf("%s %q: Name %q Dest %q DestHash %x DestIP %v, want none", kind, c.host, r.Name, r.Dest, r.DestHash, r.DestIP)
		}
		return
	}
	if string(r.Name) != c.name || string(r.Dest) != c.dest || r.DestIP != c.ip {
		t.Errorf("%s %q: Name %q Dest %q DestIP %v, want %q %q %v", kind, c.host, r.Name, r.Dest, r.DestIP, c.name, c.dest, c.ip)
	}
	if r.DestHash != testDestKey.hashString(c.dest) {
		t.Errorf("%s %q: DestHash %x is not the key hash of %q (%x)", kind, c.host, r.DestHash, c.dest, testDestKey.hashString(c.dest))
	}
	// Dest is the end of Name (the aggregators slice the subdomain off
	// it), and neither can be appended to over the next record's name.
	if len(r.Dest) > 0 && &r.Dest[len(r.Dest)-1] != &r.Name[len(r.Name)-1] {
		t.Errorf("%s %q: Dest does not alias the end of Name", kind, c.host)
	}
	if cap(r.Name) != len(r.Name) || cap(r.Dest) != len(r.Dest) {
		t.Errorf("%s %q: Name or Dest has spare capacity (%d/%d, %d/%d): an append would overwrite the arena", kind, c.host,
			len(r.Name), cap(r.Name), len(r.Dest), cap(r.Dest))
	}
}

func TestDestinations_Fill(t *testing.T) {
	d := NewDestinations(testDestKey)
	for _, tc := range []struct {
		kind  record.Kind
		cases []fillCase
	}{{record.KindProxy, proxyFillCases}, {record.KindDNS, dnsFillCases}} {
		var arena []byte
		var recs []record.Record
		for _, c := range tc.cases {
			// A record reused from a line that named a destination: Fill
			// clears what it does not set.
			r := record.Record{Host: []byte(c.host), Name: []byte("stale"), Dest: []byte("stale"), DestHash: 1, DestIP: true}
			d.Fill(tc.kind, &r, &arena)
			checkFill(t, tc.kind, c, &r)
			recs = append(recs, r)
		}
		// The records alias the arena, which grew as they were filled:
		// each still reads its own name.
		for i, c := range tc.cases {
			if c.name != "" && string(recs[i].Name) != c.name {
				t.Errorf("%s %q: Name now %q, want %q: a later Fill overwrote it", tc.kind, c.host, recs[i].Name, c.name)
			}
		}
		var want int
		for _, c := range tc.cases {
			want += len(c.name)
		}
		if len(arena) != want {
			t.Errorf("%s: arena holds %d bytes, want the %d of the names", tc.kind, len(arena), want)
		}
	}
}

// The same host twice: the second answer comes from the suffix cache and
// must be the first one.
func TestDestinations_FillCached(t *testing.T) {
	d := NewDestinations(testDestKey)
	var arena []byte
	for pass := range 3 {
		for _, c := range proxyFillCases {
			r := record.Record{Host: []byte(c.host)}
			d.Fill(record.KindProxy, &r, &arena)
			checkFill(t, record.KindProxy, c, &r)
		}
		if t.Failed() {
			t.Fatalf("pass %d", pass)
		}
	}
}

// Web records carry no destination, whatever their Host (the vhost).
func TestDestinations_FillWebHasNone(t *testing.T) {
	d := NewDestinations(testDestKey)
	var arena []byte
	for _, k := range []record.Kind{record.KindWeb, record.KindUnknown} {
		r := record.Record{Host: []byte("www.example.com"), Name: []byte("x"), Dest: []byte("x"), DestHash: 7, DestIP: true}
		d.Fill(k, &r, &arena)
		if r.Name != nil || r.Dest != nil || r.DestHash != 0 || r.DestIP {
			t.Errorf("%s: Name %q Dest %q DestHash %x DestIP %v, want none", k, r.Name, r.Dest, r.DestHash, r.DestIP)
		}
	}
	if len(arena) != 0 {
		t.Errorf("web records took %d bytes of the arena", len(arena))
	}
}

// Once the suffix cache holds the names, Fill allocates nothing: not for
// names, addresses (IPv6 made canonical included) nor hosts that name no
// destination.
func TestDestinations_FillAllocatesNothing(t *testing.T) {
	d := NewDestinations(testDestKey)
	arena := make([]byte, 0, 1<<14)
	var recs []record.Record
	kinds := []record.Kind{}
	for _, c := range proxyFillCases {
		recs = append(recs, record.Record{Host: []byte(c.host)})
		kinds = append(kinds, record.KindProxy)
	}
	for _, c := range dnsFillCases {
		recs = append(recs, record.Record{Host: []byte(c.host)})
		kinds = append(kinds, record.KindDNS)
	}
	recs = append(recs, record.Record{Host: []byte("www.example.com")})
	kinds = append(kinds, record.KindWeb)
	fill := func() {
		arena = arena[:0]
		for i := range recs {
			d.Fill(kinds[i], &recs[i], &arena)
		}
	}
	fill() // warm up: the suffix cache holds every name
	if allocs := testing.AllocsPerRun(100, fill); allocs != 0 {
		t.Fatalf("Fill allocates %v times per pass of %d records in steady state", allocs, len(recs))
	}
}

func TestSubdomainAndRegLabel(t *testing.T) {
	d := NewDestinations(testDestKey)
	var arena []byte
	for _, c := range []struct{ host, sub, label string }{
		{"www.example.com", "www", "example"},
		{"a1b2.tunnel.Example.com.", "a1b2.tunnel", "example"},
		{"example.com", "", "example"},
		{"img.example.co.uk", "img", "example"},
		{"co.uk", "", "co"},
		{"localhost", "", "localhost"},
		{"192.0.2.1", "", "192"},
		{"2001:db8::1", "", "2001:db8::1"},
	} {
		r := record.Record{Host: []byte(c.host)}
		d.Fill(record.KindDNS, &r, &arena)
		if got := string(subdomain(&r)); got != c.sub {
			t.Errorf("subdomain of %q = %q, want %q", c.host, got, c.sub)
		}
		if got := string(regLabel(r.Dest)); got != c.label {
			t.Errorf("regLabel(%q) = %q, want %q", r.Dest, got, c.label)
		}
	}
}

// testDestKey is the destination hash key of the tests.
var testDestKey = NewDestKey()
