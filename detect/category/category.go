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
	"net/netip"
)

// MaxCategories is how many distinct categories a list may name.
const MaxCategories = 1 << 16

// maxName is the longest domain name (RFC 1035: 253 characters written
// without the trailing dot).
const maxName = 253

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
	name, isIP := normalize(buf[:0], host)
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
		if i := l.find(name); i >= 0 {
			return l.catNames[l.cats[i]], true
		}
		dot := bytes.IndexByte(name, '.')
		if dot < 0 {
			return "", false
		}
		name = name[dot+1:]
	}
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

// normalize appends host to dst as the list holds names: ASCII lowercase,
// without a trailing dot, an IPv6 literal without brackets and in its
// canonical form (RFC 5952, as net/netip writes it). It returns nil when
// host cannot be a listed name: empty, too long, or all digits and dots
// (or holding a colon) without being an IP address. isIP reports an IP
// address.
func normalize(dst, host []byte) (name []byte, isIP bool) {
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if n := len(host); n >= 2 && host[0] == '[' && host[n-1] == ']' {
		host = host[1 : n-1]
	}
	if len(host) == 0 || len(host) > maxName {
		return nil, false
	}
	if bytes.IndexByte(host, ':') >= 0 {
		a, ok := parseIPv6(host)
		if !ok {
			return nil, false
		}
		return netip.AddrFrom16(a).AppendTo(dst), true
	}
	start := len(dst)
	digitsAndDots := true
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if (c < '0' || c > '9') && c != '.' {
			digitsAndDots = false
		}
		dst = append(dst, c)
	}
	if digitsAndDots {
		// All digits and dots: an IPv4 address (listed or looked up as
		// such, never a suffix of another name), or nothing.
		if _, ok := parseIPv4(dst[start:]); !ok {
			return nil, false
		}
		return dst, true
	}
	return dst, false
}

// parseIPv4 parses dotted-decimal IPv4 as net/netip does: four decimal
// octets of at most 255, without leading zeros.
func parseIPv4(s []byte) (ip [4]byte, ok bool) {
	i, digits, v := 0, 0, 0
	for j := 0; j <= len(s); j++ {
		if j == len(s) || s[j] == '.' {
			if digits == 0 || i == 4 {
				return ip, false
			}
			ip[i] = byte(v)
			i, digits, v = i+1, 0, 0
			continue
		}
		c := s[j]
		if c < '0' || c > '9' || (digits == 1 && v == 0) {
			return ip, false // not a digit, or a leading zero
		}
		v = v*10 + int(c-'0')
		digits++
		if v > 255 {
			return ip, false
		}
	}
	return ip, i == 4
}

// parseIPv6 parses an IPv6 address without a zone as net/netip does (at
// most one "::" standing for one or more zero groups, groups of one to four
// hex digits, an optional dotted IPv4 as the last 32 bits) without
// allocating: netip.ParseAddr takes a string, which a lookup would have to
// allocate from its []byte.
func parseIPv6(s []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // where the "::" is, in bytes of ip
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return ip, true
		}
	}
	i := 0
	for i < 16 {
		off, acc := 0, 0
		for ; off < len(s); off++ {
			c := s[off]
			var d int
			switch {
			case '0' <= c && c <= '9':
				d = int(c - '0')
			case 'a' <= c && c <= 'f':
				d = int(c-'a') + 10
			case 'A' <= c && c <= 'F':
				d = int(c-'A') + 10
			default:
				d = -1
			}
			if d < 0 {
				break
			}
			if off == 4 {
				return ip, false // more than four digits
			}
			acc = acc<<4 | d
		}
		if off == 0 {
			return ip, false
		}
		if off < len(s) && s[off] == '.' { // the last 32 bits in dotted form
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return ip, false
			}
			v4, ok := parseIPv4(s)
			if !ok {
				return ip, false
			}
			copy(ip[i:], v4[:])
			i += 4
			s = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return ip, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return ip, false // a second "::"
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one group
	}
	return ip, true
}
