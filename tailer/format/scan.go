package format

// Byte-level helpers shared by the line parsers. They work on indexes into
// the line so that every slice they return aliases it.

// trim returns b without leading spaces/tabs and trailing spaces, tabs, CR
// and LF.
func trim(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := len(b)
	for j > i {
		switch b[j-1] {
		case ' ', '\t', '\r', '\n':
			j--
			continue
		}
		break
	}
	return b[i:j]
}

// skipSpaces returns the index of the first non-space byte of b at or after i.
func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// field returns the space-delimited token starting at or after b[i] and the
// index just past it. tok is empty when b has no more tokens.
func field(b []byte, i int) (tok []byte, next int) {
	i = skipSpaces(b, i)
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], j
}

// isDash reports whether b is the "-" placeholder for an absent value.
func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// orNil returns nil for "-" and b otherwise.
func orNil(b []byte) []byte {
	if isDash(b) {
		return nil
	}
	return b
}

// isDigit reports whether c is an ASCII decimal digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allDigits reports whether b is a non-empty run of decimal digits.
func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// parseSize parses a non-negative decimal of at most 18 digits (so it cannot
// overflow int64).
func parseSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseStatus parses a three-digit HTTP status ("000" to "999").
func parseStatus(b []byte) (int, bool) {
	if len(b) != 3 || !isDigit(b[0]) || !isDigit(b[1]) || !isDigit(b[2]) {
		return 0, false
	}
	return int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0'), true
}

// isUpperToken reports whether b is 1 to 32 bytes of upper-case letters,
// digits, '-' and '_' starting with a letter: the shape of HTTP methods
// (GET, M-SEARCH, VERSION-CONTROL) and DNS classes and types (IN, AAAA,
// TYPE65534).
func isUpperToken(b []byte) bool {
	if len(b) == 0 || len(b) > 32 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b[1:] {
		if (c < 'A' || c > 'Z') && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// hasPrefix is bytes.HasPrefix for a string prefix, without conversion.
func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// hasSuffix is bytes.HasSuffix for a string suffix, without conversion.
func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}
