package format

import (
	"bytes"
	"time"

	"github.com/socx/sharkfin/record"
)

// parseBind parses one line of a BIND 9 query log:
//
//	07-Jul-2022 16:34:01.123 queries: info: client @0x7f.. 192.0.2.1#53114 (example.com): query: example.com IN A +E(0)K (192.0.2.53)
//
// The time may also use the iso8601 print-time layouts. The category and
// severity ("queries: info:"), the client object address ("@0x..."), the
// parenthesised name and a "view NAME:" are optional, as are the flags and
// server address after the type. Other messages about clients (query
// failures, denials, updates) and other categories are rejected with
// ErrNotLogLine.
func parseBind(line []byte, r *record.Record, loc *time.Location) error {
	b := trim(line)
	if len(b) == 0 {
		return ErrEmpty
	}
	if b[0] == '#' {
		return ErrNotLogLine
	}
	tok, i := field(b, 0)
	if len(tok) > 10 && tok[4] == '-' && (tok[10] == 'T' || tok[10] == 't') {
		t, ok := parseISOTime(tok, loc)
		if !ok {
			return ErrBadTime
		}
		r.Time = t
	} else {
		var c civil
		if !parseBindDate(tok, &c) {
			return ErrBadTime
		}
		if tok, i = field(b, i); !parseClockFrac(tok, &c) || !c.valid() {
			return ErrBadTime
		}
		t, ok := c.unixNano(loc)
		if !ok {
			return ErrBadTime
		}
		r.Time = t
	}

	// [category:] [severity:] client
	for n := 0; ; n++ {
		if tok, i = field(b, i); len(tok) == 0 {
			return ErrTruncated
		}
		if string(tok) == "client" {
			break
		}
		if n == 2 || tok[len(tok)-1] != ':' {
			return ErrNotLogLine
		}
	}

	// [@0x55adcc672cc0] 192.0.2.1#53114[/key NAME][:]
	if tok, i = field(b, i); hasPrefix(tok, "@0x") {
		tok, i = field(b, i)
	}
	if len(tok) == 0 {
		return ErrTruncated
	}
	hash := bytes.LastIndexByte(tok, '#')
	if hash < 0 || !isIP(tok[:hash]) {
		return ErrBadClient
	}
	port := tok[hash+1:]
	if hasSuffix(port, "/key") {
		port = port[:len(port)-len("/key")]
		_, i = field(b, i) // TSIG signer: "#53/key NAME"
	} else if hasSuffix(port, ":") {
		port = port[:len(port)-1] // BIND 9.6: "#53: query: ..."
	}
	if len(port) > 5 || !allDigits(port) {
		return ErrBadClient
	}
	r.Client = tok[:hash]

	// [(name):] [view NAME:] query:
	tok, i = field(b, i)
	if len(tok) > 0 && tok[0] == '(' {
		tok, i = field(b, i)
	}
	if string(tok) == "view" {
		_, i = field(b, i)
		tok, i = field(b, i)
	}
	if len(tok) == 0 {
		return ErrTruncated
	}
	if string(tok) != "query:" {
		return ErrNotLogLine
	}

	// NAME CLASS TYPE [flags] [(server)]
	name, i := field(b, i)
	class, i := field(b, i)
	qtype, _ := field(b, i)
	if len(qtype) == 0 {
		return ErrTruncated
	}
	if !isUpperToken(class) || !isUpperToken(qtype) {
		return ErrBadQuery
	}
	r.Host = name
	r.QType = qtype
	return nil
}
