package format

// Cheap address validators: net.ParseIP and netip.ParseAddr are correct but
// this package only needs a yes/no answer without allocating or building a
// value.

// isIPv4 reports whether b is a dotted-quad IPv4 address. Octets have one to
// three digits and are at most 255; leading zeros are tolerated because some
// loggers print them.
func isIPv4(b []byte) bool {
	if len(b) < 7 || len(b) > 15 {
		return false
	}
	octets, n, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n > 255 {
				return false
			}
			octets++
			n, digits = 0, 0
			continue
		}
		c := b[i]
		if !isDigit(c) || digits == 3 {
			return false
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return octets == 4
}

// isIPv6 reports whether b is an IPv6 address in text form: eight groups of
// one to four hex digits, at most one "::", an optional trailing dotted IPv4
// and an optional "%zone". Brackets are not accepted.
func isIPv6(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	for i, c := range b {
		if c == '%' {
			if !isZone(b[i+1:]) {
				return false
			}
			b = b[:i]
			break
		}
	}
	if len(b) < 2 || len(b) > 45 {
		return false
	}
	groups, ellipsis, i := 0, false, 0
	if b[0] == ':' {
		if b[1] != ':' {
			return false
		}
		ellipsis, i = true, 2
	}
	for i < len(b) {
		j := i
		for j < len(b) && j-i <= 4 && isHex(b[j]) {
			j++
		}
		if j == i || j-i > 4 {
			return false
		}
		if j < len(b) && b[j] == '.' {
			if !isIPv4(b[i:]) {
				return false
			}
			groups += 2
			break
		}
		groups++
		if j == len(b) {
			break
		}
		if b[j] != ':' {
			return false
		}
		i = j + 1
		if i == len(b) {
			return false // a single trailing colon
		}
		if b[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
		}
	}
	if ellipsis {
		return groups <= 7
	}
	return groups == 8
}

// isZone reports whether z is a plausible IPv6 zone (interface name or index).
func isZone(z []byte) bool {
	if len(z) == 0 || len(z) > 32 {
		return false
	}
	for _, c := range z {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isIP reports whether b is an IPv4 or IPv6 address.
func isIP(b []byte) bool {
	return isIPv4(b) || isIPv6(b)
}

// isHostname reports whether b is a plausible DNS host name: labels of 1 to
// 63 letters, digits, '-' and '_' (seen on Windows networks) separated by
// dots, an optional trailing dot, at most 253 bytes and at least one letter,
// so that malformed addresses such as "300.1.1.1" are not mistaken for names.
func isHostname(b []byte) bool {
	if len(b) == 0 || len(b) > 254 {
		return false
	}
	letter, label := false, 0
	for _, c := range b {
		switch {
		case (c|0x20) >= 'a' && (c|0x20) <= 'z':
			letter = true
		case isDigit(c), c == '_':
		case c == '-':
			if label == 0 {
				return false
			}
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		default:
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return letter
}

// isClient reports whether b is an IP address or, when names are allowed
// (web servers with HostnameLookups, Squid with log_fqdn), a host name.
func isClient(b []byte, names bool) bool {
	return isIP(b) || (names && isHostname(b))
}

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z'
}
