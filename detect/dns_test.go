package detect

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/socx/sharkfin/record"
)

func TestRegisteredDomain(t *testing.T) {
	tests := []struct {
		q, reg, sub string
	}{
		{"www.example.com", "example.com", "www"},
		{"www.example.com.", "example.com", "www"},
		{"a.b.c.example.com", "example.com", "a.b.c"},
		{"example.com", "example.com", ""},
		{"com", "com", ""},
		{"", "", ""},
		{"news.bbc.co.uk", "bbc.co.uk", "news"},
		{"x.news.bbc.co.uk", "bbc.co.uk", "x.news"},
		{"bbc.co.uk", "bbc.co.uk", ""},
		{"co.uk", "co.uk", ""},
		{"shop.example.com.au", "example.com.au", "shop"},
		{"www.example.org.uk", "example.org.uk", "www"},
		{"a.example.ac.jp", "example.ac.jp", "a"},
		{"www.foo.co.com", "co.com", "www.foo"}, // "co" is public only under a ccTLD
		{"www.example.de", "example.de", "www"},
		{"localhost", "localhost", ""},
	}
	for _, tt := range tests {
		reg, sub := registeredDomain([]byte(tt.q))
		if string(reg) != tt.reg || string(sub) != tt.sub {
			t.Errorf("registeredDomain(%q) = %q, %q; want %q, %q", tt.q, reg, sub, tt.reg, tt.sub)
		}
	}
}

// refEntropy is the Shannon entropy of s (ASCII) in bits per character,
// case-insensitive, computed the obvious way.
func refEntropy(s string) float64 {
	if len(s) < 2 {
		return 0
	}
	counts := map[byte]int{}
	for _, c := range []byte(strings.ToLower(s)) { // ASCII labels
		counts[c]++
	}
	e := 0.0
	for _, c := range counts {
		p := float64(c) / float64(len(s))
		e -= p * math.Log2(p)
	}
	return e
}

// refMaxLabelEntropy is the largest refEntropy of the labels of sub.
func refMaxLabelEntropy(sub string) float64 {
	best := 0.0
	for _, l := range strings.Split(sub, ".") {
		best = max(best, refEntropy(l))
	}
	return best
}

func TestMaxLabelEntropy_MatchesDirectComputation(t *testing.T) {
	fixed := []string{"", "a", "aa", "ab", "abcd", "AbCd", "a1b2c3", "tunnel", "a1b2c3.tunnel",
		"mfrggzdfmztwq2lk.nbswy3dp", "0123456789abcdef", "www", "x..y", "."}
	for _, s := range fixed {
		if got, want := maxLabelEntropy([]byte(s)), refMaxLabelEntropy(s); math.Abs(got-want) > 1e-12 {
			t.Errorf("maxLabelEntropy(%q) = %v, want %v", s, got, want)
		}
	}
	if got := maxLabelEntropy([]byte("abcdefgh")); math.Abs(got-3) > 1e-12 {
		t.Errorf("8 distinct characters: %v bits, want 3", got)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_...."
	for range 2000 {
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if got, want := maxLabelEntropy(b), refMaxLabelEntropy(string(b)); math.Abs(got-want) > 1e-9 {
			t.Fatalf("maxLabelEntropy(%q) = %v, want %v", b, got, want)
		}
	}
}

// TestMaxLabelEntropy_LongLabel checks a label longer than 65535 bytes (a
// line may be up to 1 MiB): per-character counts must not wrap.
func TestMaxLabelEntropy_LongLabel(t *testing.T) {
	label := strings.Repeat("a", 1<<16) + strings.Repeat("b", 1<<16)
	if got := maxLabelEntropy([]byte(label)); math.Abs(got-1) > 1e-12 {
		t.Fatalf("entropy of 2^16 a's and 2^16 b's = %v, want 1", got)
	}
}

func dnsq(name, qtype string) record.Record {
	return record.Record{Host: []byte(name), QType: []byte(qtype)}
}

func TestAccum_DNSFeatures(t *testing.T) {
	names := []struct{ name, qtype string }{
		{"a1b2c3.tunnel.example.com.", "TXT"},
		{"zz9y.tunnel.example.com", "A"},
		{"www.example.com", "A"},
		{"WWW.Example.com", "AAAA"}, // the same name in other case: not distinct
		{"mail.bbc.co.uk", "any"},   // qtype is case-insensitive
		{"news.bbc.co.uk", "A"},
		{"bbc.co.uk", "A"},
		{"localhost", "A"},
		{"x.news.bbc.co.uk", "MX"},
	}
	var recs []record.Record
	var sumLen, maxLen int
	maxEnt := 0.0
	for _, n := range names {
		recs = append(recs, dnsq(n.name, n.qtype))
		q := strings.TrimSuffix(n.name, ".")
		sumLen += len(q)
		maxLen = max(maxLen, len(q))
		_, sub := registeredDomain([]byte(q))
		maxEnt = max(maxEnt, refMaxLabelEntropy(string(sub)))
	}
	if sumLen != 140 || maxLen != 25 || math.Abs(maxEnt-math.Log2(6)) > 1e-12 {
		t.Fatalf("test arithmetic: sum %d max %d entropy %v", sumLen, maxLen, maxEnt)
	}
	got := features(t, record.KindDNS, recs)
	checkVector(t, record.KindDNS, got, map[string]float64{
		"hits": 9, "hits_2xx": 0, "hits_non2xx": 0, "queries": 9,
		// bbc.co.uk holds mail, news, x.news and itself; example.com three.
		"distinct_subdomains": 4,
		"max_qname_len":       25,
		"mean_qname_len":      140.0 / 9,
		"max_label_entropy":   math.Log2(6), // "a1b2c3"
		"txt_any_ratio":       2.0 / 9,
		// example.com, bbc.co.uk and localhost; "localhost" is the longest
		// and most random label a registrant chose.
		"distinct_domains":   3,
		"max_domain_len":     9,
		"max_domain_entropy": max(refMaxLabelEntropy("example"), refMaxLabelEntropy("bbc"), refMaxLabelEntropy("localhost")),
		// Nothing was seen before (no Seen): every query is to a new domain.
		"new_domain_share": 1,
		// bbc.co.uk has the most names: mail, news, x.news and itself.
		"subdomain_entropy": (2 + 2 + 0 + math.Log2(6)) / 4,
		// No label looks generated (localhost has vowels enough).
		"random_domains": 0,
	})
}

func TestAccum_DNSDistinctSubdomainsIsPerRegisteredDomain(t *testing.T) {
	var recs []record.Record
	// 30 names spread over three domains (10 each) score 10, not 30.
	for i := range 30 {
		recs = append(recs, dnsq(string(rune('a'+i%10))+"."+[]string{"one.com", "two.net", "three.co.uk"}[i/10], "A"))
	}
	// Repeats do not count.
	recs = append(recs, recs[0], recs[11])
	got := features(t, record.KindDNS, recs)
	if got[DNSDistinctSubdomains] != 10 {
		t.Fatalf("distinct_subdomains = %v, want 10", got[DNSDistinctSubdomains])
	}
}
