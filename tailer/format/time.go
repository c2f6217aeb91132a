package format

import "time"

// Timestamps are converted by hand: time.Parse allocates and is several
// times slower than these fixed-layout readers.

const (
	minYear = 1970
	maxYear = 2199 // years from 2200 on are rejected (int64 nanoseconds end in 2262)

	nsPerSec = int64(time.Second)
	// maxUnix is 2200-01-01T00:00:00Z in Unix seconds: the first rejected instant.
	maxUnix = 7258118400
)

// validUnix reports whether sec lies in [1970-01-01, 2200-01-01) UTC.
func validUnix(sec int64) bool { return sec >= 0 && sec < maxUnix }

// daysFromCivil returns the days since 1970-01-01 of the proleptic Gregorian
// date y-m-d (Howard Hinnant's algorithm); y must be non-negative.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// daysIn returns the number of days of month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civil is a broken-down wall-clock time as read from a log line.
type civil struct {
	year, month, day, hour, min, sec, nsec int
}

// valid reports whether c names a real date and time in the accepted years.
// A leap second (:60) is accepted and lands on the next second.
func (c *civil) valid() bool {
	return c.year >= minYear && c.year <= maxYear &&
		c.month >= 1 && c.month <= 12 &&
		c.day >= 1 && c.day <= daysIn(c.year, c.month) &&
		c.hour <= 23 && c.min <= 59 && c.sec <= 60
}

// unixUTC returns c read as UTC minus offset seconds east of UTC.
func (c *civil) unixUTC(offset int) int64 {
	days := daysFromCivil(c.year, c.month, c.day)
	return days*86400 + int64(c.hour*3600+c.min*60+c.sec) - int64(offset)
}

// unixNano converts c, read in loc, to Unix nanoseconds. It reports false
// when the instant is outside the accepted range. time.Date does not
// allocate; UTC takes a shortcut.
func (c *civil) unixNano(loc *time.Location) (int64, bool) {
	var sec int64
	if loc == time.UTC {
		sec = c.unixUTC(0)
	} else {
		sec = time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, 0, loc).Unix()
	}
	if !validUnix(sec) {
		return 0, false
	}
	return sec*nsPerSec + int64(c.nsec), true
}

// num2 parses two decimal digits.
func num2(b []byte) (int, bool) {
	if len(b) < 2 || !isDigit(b[0]) || !isDigit(b[1]) {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// num4 parses four decimal digits.
func num4(b []byte) (int, bool) {
	hi, ok1 := num2(b)
	lo, ok2 := num2(b[min(2, len(b)):])
	return hi*100 + lo, ok1 && ok2
}

// month parses a three-letter English month abbreviation, in any case.
func month(b []byte) (int, bool) {
	if len(b) < 3 {
		return 0, false
	}
	// Fold to lower case; non-letters cannot produce a match below.
	a, m, c := b[0]|0x20, b[1]|0x20, b[2]|0x20
	switch a {
	case 'j':
		if m == 'a' && c == 'n' {
			return 1, true
		}
		if m == 'u' && c == 'n' {
			return 6, true
		}
		if m == 'u' && c == 'l' {
			return 7, true
		}
	case 'f':
		if m == 'e' && c == 'b' {
			return 2, true
		}
	case 'm':
		if m == 'a' && c == 'r' {
			return 3, true
		}
		if m == 'a' && c == 'y' {
			return 5, true
		}
	case 'a':
		if m == 'p' && c == 'r' {
			return 4, true
		}
		if m == 'u' && c == 'g' {
			return 8, true
		}
	case 's':
		if m == 'e' && c == 'p' {
			return 9, true
		}
	case 'o':
		if m == 'c' && c == 't' {
			return 10, true
		}
	case 'n':
		if m == 'o' && c == 'v' {
			return 11, true
		}
	case 'd':
		if m == 'e' && c == 'c' {
			return 12, true
		}
	}
	return 0, false
}

// clock parses "HH:MM:SS" at the start of b into c.
func clock(b []byte, c *civil) bool {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return false
	}
	var ok1, ok2, ok3 bool
	c.hour, ok1 = num2(b)
	c.min, ok2 = num2(b[3:])
	c.sec, ok3 = num2(b[6:])
	return ok1 && ok2 && ok3
}

// fraction parses the digits of a fractional second (1 to 9 of them) as
// nanoseconds.
func fraction(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	for i := len(b); i < 9; i++ {
		n *= 10
	}
	return n, true
}

// clfTimeLen is the length of an Apache/Nginx time.
const clfTimeLen = 26

// parseCLFTime parses the Apache/Nginx time between the brackets,
// "17/May/2015:10:05:03 +0000", into Unix nanoseconds.
func parseCLFTime(b []byte) (int64, bool) {
	if len(b) != clfTimeLen || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[20] != ' ' {
		return 0, false
	}
	var c civil
	var ok [6]bool
	c.day, ok[0] = num2(b)
	c.month, ok[1] = month(b[3:6])
	c.year, ok[2] = num4(b[7:11])
	ok[3] = clock(b[12:20], &c)
	off, ok4 := zoneOffset(b[21:26])
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] || !ok4 || !c.valid() {
		return 0, false
	}
	sec := c.unixUTC(off)
	if !validUnix(sec) {
		return 0, false
	}
	return sec * nsPerSec, true
}

// zoneOffset parses "+hhmm", "-hhmm" or "+hh:mm" into seconds east of UTC.
// Offsets up to ±23:59 are accepted.
func zoneOffset(b []byte) (int, bool) {
	if len(b) == 6 && b[3] == ':' {
		return zoneOffsetParts(b[0], b[1:3], b[4:6])
	}
	if len(b) == 5 {
		return zoneOffsetParts(b[0], b[1:3], b[3:5])
	}
	return 0, false
}

func zoneOffsetParts(sign byte, hh, mm []byte) (int, bool) {
	h, ok1 := num2(hh)
	m, ok2 := num2(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	switch sign {
	case '+':
		return off, true
	case '-':
		return -off, true
	}
	return 0, false
}

// parseEpoch parses Squid's "1294011828.214": Unix seconds with an optional
// fraction of 1 to 9 digits.
func parseEpoch(b []byte) (int64, bool) {
	i := 0
	var sec int64
	for i < len(b) && isDigit(b[i]) {
		if i == 10 {
			return 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || !validUnix(sec) {
		return 0, false
	}
	ns := 0
	if i < len(b) {
		if b[i] != '.' {
			return 0, false
		}
		var ok bool
		if ns, ok = fraction(b[i+1:]); !ok {
			return 0, false
		}
	}
	return sec*nsPerSec + int64(ns), true
}

// parseBindDate parses BIND's default date "07-Jul-2022" or "7-Jul-2022"
// into c.
func parseBindDate(b []byte, c *civil) bool {
	var ok bool
	switch {
	case len(b) == 11 && b[2] == '-' && b[6] == '-':
		c.day, ok = num2(b)
		b = b[3:]
	case len(b) == 10 && b[1] == '-' && b[5] == '-' && isDigit(b[0]):
		c.day, ok = int(b[0]-'0'), true
		b = b[2:]
	default:
		return false
	}
	var ok2, ok3 bool
	c.month, ok2 = month(b[:3])
	c.year, ok3 = num4(b[4:])
	return ok && ok2 && ok3
}

// parseClockFrac parses "HH:MM:SS" with an optional ".fff" fraction filling
// all of b.
func parseClockFrac(b []byte, c *civil) bool {
	if !clock(b, c) {
		return false
	}
	if len(b) == 8 {
		return true
	}
	if b[8] != '.' {
		return false
	}
	var ok bool
	c.nsec, ok = fraction(b[9:])
	return ok
}

// parseISOTime parses BIND's print-time iso8601 layouts,
// "2022-07-07T16:34:01.123" (local, read in loc), "...Z" and "...+02:00"
// (or "+0200"), into Unix nanoseconds.
func parseISOTime(b []byte, loc *time.Location) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') {
		return 0, false
	}
	var c civil
	var ok [3]bool
	c.year, ok[0] = num4(b)
	c.month, ok[1] = num2(b[5:])
	c.day, ok[2] = num2(b[8:])
	if !ok[0] || !ok[1] || !ok[2] || !clock(b[11:19], &c) {
		return 0, false
	}
	rest := b[19:]
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		var fok bool
		if c.nsec, fok = fraction(rest[1:j]); !fok {
			return 0, false
		}
		rest = rest[j:]
	}
	if !c.valid() {
		return 0, false
	}
	switch {
	case len(rest) == 0:
		return c.unixNano(loc)
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		return c.unixNano(time.UTC)
	}
	off, zok := zoneOffset(rest)
	if !zok {
		return 0, false
	}
	sec := c.unixUTC(off)
	if !validUnix(sec) {
		return 0, false
	}
	return sec*nsPerSec + int64(c.nsec), true
}
