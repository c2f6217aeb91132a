package domain

import (
	"golang.org/x/net/publicsuffix"
)

// DefaultSuffixCache is how many names a Suffixes remembers by default.
const DefaultSuffixCache = 1 << 16

// Suffixes finds registrable domains, remembering the answer per name.
//
// publicsuffix.EffectiveTLDPlusOne costs ~0.3-0.6 µs and one allocation
// per call here (it tries the name as an IP address first, and a failed
// net/netip parse allocates its error). A proxy's destinations repeat, so
// the answer is kept per name, as the offset of the registrable domain in
// it: a hit costs one map lookup and allocates nothing. The map is bounded:
// when it holds max names it is emptied and refills with the names in use
// (a flood of distinct names, as DGA or a DNS tunnel makes, costs one call
// and one allocation per name, never memory). Not safe for concurrent use:
// one per goroutine.
type Suffixes struct {
	cache map[string]int16 // name -> offset of its registrable domain, -1: none
	max   int
}

// NewSuffixes returns a Suffixes remembering up to max names
// (DefaultSuffixCache when max <= 0).
func NewSuffixes(max int) *Suffixes {
	if max <= 0 {
		max = DefaultSuffixCache
	}
	return &Suffixes{cache: make(map[string]int16, min(max, 1024)), max: max}
}

// Registrable returns the registrable domain of name, a domain name as
// Normalize writes it (not an IP address): the public suffix it ends with
// and the label before it ("www.example.co.uk" gives "example.co.uk";
// "a.b.kawasaki.jp" gives "a.b.kawasaki.jp", under the wildcard rule
// *.kawasaki.jp). Suffixes outside the list count as one label, so
// "host.corp.internal" gives "corp.internal". It returns a subslice of
// name, or ok false when name is itself a public suffix ("co.uk") or
// malformed (an empty label).
func (s *Suffixes) Registrable(name []byte) (reg []byte, ok bool) {
	if off, hit := s.cache[string(name)]; hit {
		if off < 0 {
			return nil, false
		}
		return name[off:], true
	}
	off := registrableOffset(string(name))
	if len(s.cache) >= s.max {
		clear(s.cache)
	}
	s.cache[string(name)] = off
	if off < 0 {
		return nil, false
	}
	return name[off:], true
}

// registrableOffset is where name's registrable domain starts, or -1.
func registrableOffset(name string) int16 {
	if len(name) == 0 || len(name) > MaxName {
		return -1
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		return -1
	}
	return int16(len(name) - len(reg))
}
