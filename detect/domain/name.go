package domain

import (
	"bytes"
	"net/netip"
)

// MaxName is the longest domain name (RFC 1035: 253 characters written
// without the trailing dot).
const MaxName = 253

// Normalize appends host to dst as the list holds names: ASCII lowercase,
// without a trailing dot, an IPv6 literal without brackets and in its
// canonical form (RFC 5952, as net/netip writes it). It returns nil when
// host cannot be a listed name: empty, too long, or all digits and dots
// (or holding a colon) without being an IP address. isIP reports an IP
// address.
func Normalize(dst, host []byte) (name []byte, isIP bool) {
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if n := len(host); n >= 2 && host[0] == '[' && host[n-1] == ']' {
		host = host[1 : n-1]
	}
	if len(host) == 0 || len(host) > MaxName {
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
