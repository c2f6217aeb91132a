package format

import (
	"bytes"

	"github.com/socx/sharkfin/record"
)

// parseSquid parses one line of Squid's native access.log:
//
//	time elapsed client action/status bytes method URL user hierarchy/peer type
//
// for example
//
//	1294011828.214   1309 10.0.0.5 TCP_MISS/200 10032 GET http://host/path user DIRECT/93.184.216.34 text/html
//
// Fields are separated by one or more spaces (Squid pads elapsed). The
// content type and any fields after it (custom logformats that extend the
// native one) are ignored; everything up to the hierarchy field is required.
func parseSquid(line []byte, r *record.Record) error {
	b := trim(line)
	if len(b) == 0 {
		return ErrEmpty
	}
	if b[0] == '#' {
		return ErrNotLogLine
	}
	tok, i := field(b, 0)
	t, ok := parseEpoch(tok)
	if !ok {
		return ErrBadTime
	}
	r.Time = t

	// elapsed milliseconds; Squid has been seen to print -1.
	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	if tok[0] == '-' {
		tok = tok[1:]
	}
	if !allDigits(tok) {
		return ErrMalformed
	}

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	if !isClient(tok, true) {
		return ErrBadClient
	}
	r.Client = tok

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	slash := bytes.IndexByte(tok, '/')
	if slash <= 0 {
		return ErrMalformed
	}
	if r.Status, ok = parseStatus(tok[slash+1:]); !ok {
		return ErrBadStatus
	}
	r.Action = tok[:slash]

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	if r.Bytes, ok = parseSize(tok); !ok {
		return ErrBadSize
	}

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	r.Method = orNil(tok)

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	r.Target = tok
	r.Host = urlHost(tok)

	if tok, i = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	r.User = orNil(tok)

	if tok, _ = field(b, i); len(tok) == 0 {
		return ErrTruncated
	}
	if slash := bytes.IndexByte(tok, '/'); slash >= 0 {
		r.Peer = tok[slash+1:]
		if len(r.Peer) == 0 || isDash(r.Peer) {
			r.Peer = nil
		}
	}
	return nil
}

// urlHost returns the host of a URL as Squid logs it, without user info,
// port or IPv6 brackets: "http://user@Host:8080/p" gives "Host",
// "host:443" (CONNECT) gives "host", "[2001:db8::1]:443" gives "2001:db8::1".
// It returns nil when the target names no host ("/", "-",
// "error:transaction-end-before-headers").
func urlHost(u []byte) []byte {
	colon := bytes.IndexByte(u, ':')
	if colon < 0 {
		return nil
	}
	if colon > 0 && len(u) >= colon+3 && u[colon+1] == '/' && u[colon+2] == '/' && isScheme(u[:colon]) {
		a := u[colon+3:]
		for i, c := range a {
			if c == '/' || c == '?' || c == '#' {
				a = a[:i]
				break
			}
		}
		for i := len(a) - 1; i >= 0; i-- {
			if a[i] == '@' {
				a = a[i+1:]
				break
			}
		}
		return authorityHost(a, false)
	}
	if u[0] == '/' {
		return nil
	}
	return authorityHost(u, true)
}

// authorityHost strips the port (and IPv6 brackets) from host[:port]. When
// needPort is set, as for CONNECT targets, a missing or non-numeric port
// means b is not an authority at all and nil is returned.
func authorityHost(a []byte, needPort bool) []byte {
	if len(a) == 0 {
		return nil
	}
	if a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 {
			return nil
		}
		rest := a[end+1:]
		if needPort && (len(rest) < 2 || rest[0] != ':' || !allDigits(rest[1:])) {
			return nil
		}
		if end == 1 {
			return nil
		}
		return a[1:end]
	}
	colon := bytes.LastIndexByte(a, ':')
	switch {
	case colon < 0:
		if needPort {
			return nil
		}
	case allDigits(a[colon+1:]) || colon == len(a)-1:
		if needPort && colon == len(a)-1 {
			return nil
		}
		a = a[:colon]
	default:
		return nil
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// isScheme reports whether b is a URL scheme (a letter, then letters,
// digits, '+', '-' or '.').
func isScheme(b []byte) bool {
	if len(b) == 0 || (b[0]|0x20) < 'a' || (b[0]|0x20) > 'z' {
		return false
	}
	for _, c := range b[1:] {
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
