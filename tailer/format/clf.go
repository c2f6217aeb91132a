package format

import (
	"bytes"

	"github.com/socx/sharkfin/record"
)

// parseCLF parses one line of the Apache/Nginx common or combined log format:
//
//	host ident user [time] "request" status bytes ["referer" "user-agent"] [extra...]
//	vhost[:port] host ident user [time] "request" status bytes [...]
//
// The vhost variants (vhost_common, vhost_combined) are recognised per line
// by the number of fields before the time. With combined set the quoted
// referer and user agent that follow the size are read when present; a
// common line is accepted with both nil. Fields after them are ignored.
func parseCLF(line []byte, r *record.Record, combined bool, tc *timeCache) error {
	b := trim(line)
	if len(b) == 0 {
		return ErrEmpty
	}
	if b[0] == '#' {
		return ErrNotLogLine
	}

	// Three (or four, with a vhost) space-separated fields before the '['
	// of the time.
	var tok [4][]byte
	n, i := 0, 0
	for {
		i = skipSpaces(b, i)
		if i == len(b) {
			return ErrTruncated
		}
		if b[i] == '[' && n > 0 { // a first field in brackets is an IPv6 vhost
			break
		}
		if n == len(tok) {
			return ErrMalformed
		}
		j := i
		for j < len(b) && b[j] != ' ' {
			j++
		}
		tok[n], n, i = b[i:j], n+1, j
	}
	var client, user []byte
	switch n {
	case 3:
		client, user = tok[0], tok[2]
	case 4:
		r.Host = vhostName(tok[0])
		client, user = tok[1], tok[3]
	default:
		return ErrMalformed
	}
	if !isClient(client, true) {
		return ErrBadClient
	}
	r.Client = client
	r.User = orNil(user)

	// [17/May/2015:10:05:03 +0000]
	end := bytes.IndexByte(b[i:], ']')
	if end < 0 {
		return ErrTruncated
	}
	text := b[i+1 : i+end]
	if tc.ok && string(text) == string(tc.text[:]) {
		r.Time = tc.ns
	} else {
		t, ok := parseCLFTime(text)
		if !ok {
			return ErrBadTime
		}
		r.Time = t
		tc.text, tc.ns, tc.ok = [clfTimeLen]byte(text), t, true // parsed: 26 bytes
	}
	i += end + 1

	// "request"
	i = skipSpaces(b, i)
	if i == len(b) {
		return ErrTruncated
	}
	if b[i] != '"' {
		return ErrBadRequest
	}
	end, ok := closeQuote(b, i+1)
	if !ok {
		return ErrTruncated
	}
	if !statusFollows(b, end) {
		// An unescaped quote inside the request (Apache before 2.0.46,
		// custom formats) closed it early: prefer a later quote that is
		// followed by a status code.
		if e, ok := closeQuoteIf(b, end+1, statusFollows, 8); ok {
			end = e
		}
	}
	parseRequest(b[i+1:end], r)
	i = end + 1

	var f []byte
	if f, i = field(b, i); len(f) == 0 {
		return ErrTruncated
	}
	if r.Status, ok = parseStatus(f); !ok {
		return ErrBadStatus
	}
	if f, i = field(b, i); len(f) == 0 {
		return ErrTruncated
	}
	if !isDash(f) {
		if r.Bytes, ok = parseSize(f); !ok {
			return ErrBadSize
		}
	}
	if !combined {
		return nil
	}
	r.Referer, i = optionalQuoted(b, i)
	r.UserAgent, _ = optionalQuoted(b, i)
	return nil
}

// parseRequest splits a logged request line into method and target. A line
// that does not start with a method-shaped token (garbage, TLS handshakes,
// shell injections) leaves Method nil and keeps the whole line as Target;
// "-" and "" (no request read, e.g. 408 timeouts) leave both nil.
func parseRequest(req []byte, r *record.Record) {
	if len(req) == 0 || isDash(req) {
		return
	}
	sp := bytes.IndexByte(req, ' ')
	if sp < 0 {
		if isUpperToken(req) {
			r.Method = req
		} else {
			r.Target = req
		}
		return
	}
	if !isUpperToken(req[:sp]) {
		r.Target = req
		return
	}
	r.Method = req[:sp]
	rest := req[skipSpaces(req, sp):]
	// Drop a trailing protocol ("HTTP/1.1", "HTTP/2.0"); the target may itself
	// contain spaces when the client sent them raw.
	if k := bytes.LastIndexByte(rest, ' '); k >= 0 && hasPrefix(rest[k+1:], "HTTP/") {
		rest = rest[:k]
		for len(rest) > 0 && rest[len(rest)-1] == ' ' {
			rest = rest[:len(rest)-1]
		}
	} else if k < 0 && hasPrefix(rest, "HTTP/") {
		rest = nil // "GET HTTP/1.1": no target
	}
	if len(rest) > 0 {
		r.Target = rest
	}
}

// vhostName returns the server name of a vhost field, without port or IPv6
// brackets; nil for "-".
func vhostName(v []byte) []byte {
	if isDash(v) {
		return nil
	}
	if v[0] == '[' {
		if end := bytes.IndexByte(v, ']'); end > 1 {
			return v[1:end]
		}
		return v
	}
	if c := bytes.LastIndexByte(v, ':'); c > 0 && bytes.IndexByte(v[:c], ':') < 0 && allDigits(v[c+1:]) {
		return v[:c]
	}
	return v
}

// closeQuote returns the index of the quote that closes a quoted field whose
// content starts at b[i]: the first '"' that is not backslash-escaped and is
// followed by a space or the end of b.
func closeQuote(b []byte, i int) (int, bool) {
	for i < len(b) {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			break
		}
		k += i
		if (k+1 == len(b) || b[k+1] == ' ') && !escaped(b, k) {
			return k, true
		}
		i = k + 1
	}
	return 0, false
}

// closeQuoteIf is closeQuote restricted to quotes for which accept
// holds, trying at most limit candidates so that hostile lines stay linear.
func closeQuoteIf(b []byte, i int, accept func([]byte, int) bool, limit int) (int, bool) {
	for ; limit > 0; limit-- {
		k, ok := closeQuote(b, i)
		if !ok {
			return 0, false
		}
		if accept(b, k) {
			return k, true
		}
		i = k + 1
	}
	return 0, false
}

// escaped reports whether b[k] is preceded by an odd number of backslashes.
func escaped(b []byte, k int) bool {
	n := 0
	for k > 0 && b[k-1] == '\\' {
		n++
		k--
	}
	return n%2 == 1
}

// statusFollows reports whether the quote at b[k] is followed by " NNN"
// and then a space or the end of b.
func statusFollows(b []byte, k int) bool {
	s := b[k+1:]
	if len(s) < 4 || s[0] != ' ' {
		return false
	}
	if _, ok := parseStatus(s[1:4]); !ok {
		return false
	}
	return len(s) == 4 || s[4] == ' '
}

// optionalQuoted reads a quoted field starting at or after b[i] if there is
// one. The content is returned (nil for "-"); an unterminated quote, as left
// by writers that cut long lines, extends to the end of b.
func optionalQuoted(b []byte, i int) ([]byte, int) {
	i = skipSpaces(b, i)
	if i == len(b) || b[i] != '"' {
		return nil, i
	}
	end, ok := closeQuote(b, i+1)
	if !ok {
		return orNil(b[i+1:]), len(b)
	}
	return orNil(b[i+1 : end]), end + 1
}
