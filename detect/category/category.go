// Package category maps destination domains to the categories of a list
// that ops maintain: a CSV of domain,category lines, or the squidGuard/UT1
// directory layout (<category>/domains). A listed domain covers itself and
// every name under it (example.com covers cdn.example.com); the longest
// listed suffix wins, and an IP address matches only itself.
//
// A List is immutable once loaded, so the agent swaps a reloaded one in
// with one atomic store and lookups need no lock. A lookup allocates
// nothing: names are lowercased into a stack buffer and each suffix is
// one probe of an open-addressing table over the names, which sit back to
// back in one byte slice. A million entries take ~40 MiB held (about 17
// bytes of name, 8 of table and 6 of offsets and category each) and load
// in well under 2 s (BenchmarkLoad, TestLoad_MillionEntries).
package category

import (
	"bytes"
	"hash/maphash"

	"github.com/socx/sharkfin/detect/domain"
)

// MaxCategories is how many distinct categories a list may name.
const MaxCategories = 1 << 16

// maxName is the longest domain name (RFC 1035: 253 characters written
// without the trailing dot).
const maxName = domain.MaxName

// List is a loaded category list.
type List struct {
	seed  maphash.Seed
	mask  uint64
	slots []slot   // open addressing; empty slots have idx 0
	names []byte   // the listed names, lowercased, back to back
	ends  []uint32 // entry i is names[ends[i-1]:ends[i]] (ends[-1] = 0)
	cats  []uint16 // entry i's category, an index into catNames
	// catNames are the category names, in order of first appearance.
	catNames []string
	stats    Stats
}

type slot struct {
	tag uint32 // the hash's high half, to skip most unequal names unread
	idx uint32 // entry + 1
}

// Stats describes a loaded list.
type Stats struct {
	Entries    int // distinct names listed
	Categories int
	// Duplicates are names listed again after their first listing (in
	// another UT1 category, or twice in a CSV): the first listing wins.
	Duplicates int
	Files      int // files read (1 for a CSV)
}

// Stats returns what the list holds.
func (l *List) Stats() Stats { return l.stats }

// Categories returns the category names the list uses.
func (l *List) Categories() []string { return append([]string(nil), l.catNames...) }

// Lookup returns the category of host: that of the longest listed suffix
// of it made of whole labels (host itself, its parent domain, ...), or ok
// false when none is listed. host may be in any case, with a trailing dot;
// an IPv6 literal may be in brackets. IP addresses match only an entry of
// the same address. A nil List has no entries. Lookup allocates nothing
// and is safe for concurrent use.
func (l *List) Lookup(host []byte) (category string, ok bool) {
	if l == nil || len(l.ends) == 0 {
		return "", false
	}
	var buf [maxName + 1]byte
	name, isIP := domain.Normalize(buf[:0], host)
	if name == nil {
		return "", false
	}
	if isIP {
		if i := l.find(name); i >= 0 {
			return l.catNames[l.cats[i]], true
		}
		return "", false
	}
	for {
		// A suffix of digits and dots would be an IPv4 entry, which
		// matches only that address ("evil.10.0.0.1" is not 10.0.0.1).
		if !digitsAndDots(name) {
			if i := l.find(name); i >= 0 {
				return l.catNames[l.cats[i]], true
			}
		}
		dot := bytes.IndexByte(name, '.')
		if dot < 0 {
			return "", false
		}
		name = name[dot+1:]
	}
}

func digitsAndDots(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// find returns the entry listing exactly name, or -1.
func (l *List) find(name []byte) int {
	h := maphash.Bytes(l.seed, name)
	tag := uint32(h >> 32)
	for i := h & l.mask; ; i = (i + 1) & l.mask {
		s := l.slots[i]
		if s.idx == 0 {
			return -1
		}
		if s.tag == tag {
			e := int(s.idx - 1)
			if bytes.Equal(l.name(e), name) {
				return e
			}
		}
	}
}

func (l *List) name(e int) []byte {
	start := uint32(0)
	if e > 0 {
		start = l.ends[e-1]
	}
	return l.names[start:l.ends[e]]
}
