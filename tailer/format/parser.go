package format

import (
	"time"

	"github.com/socx/sharkfin/record"
)

// Parser parses lines of one format. The zero value has no format and
// rejects every line with ErrUnknownFormat. A Parser holds no per-line state:
// one value may be used by several goroutines at once.
type Parser struct {
	// Format is the line format; Auto and Unknown are not parseable
	// (resolve Auto with Sniff first).
	Format Format
	// Location is the time zone of timestamps that carry none (BIND's
	// default layout). nil means time.Local.
	Location *time.Location
	// SkipAgent leaves Referer and UserAgent nil in combined lines: the
	// window counters read neither, and finding their closing quotes is
	// about a fifth of parsing such a line. Which lines are accepted does
	// not change (both fields are optional and read leniently).
	SkipAgent bool

	// the last Apache/Nginx timestamp read, and its value: consecutive
	// lines mostly share their second.
	clfTime timeCache
}

// timeCache remembers the last timestamp parsed.
type timeCache struct {
	text [clfTimeLen]byte
	ns   int64
	ok   bool
}

// Parse resets r and fills it from line. Trailing CR/LF and surrounding spaces
// are ignored. On rejection it returns one of the package's sentinel errors
// and leaves r zeroed. Parse allocates nothing; r's byte-slice fields alias
// line. A Parser remembers the last timestamp it read (the next line
// mostly has the same), so it is not safe for concurrent use: give each
// goroutine its own copy.
func (p *Parser) Parse(line []byte, r *record.Record) error {
	r.Reset()
	var err error
	switch p.Format {
	case Squid:
		err = parseSquid(line, r)
	case Common:
		err = parseCLF(line, r, false, &p.clfTime)
	case Combined:
		err = parseCLF(line, r, !p.SkipAgent, &p.clfTime)
	case Bind:
		loc := p.Location
		if loc == nil {
			loc = time.Local
		}
		err = parseBind(line, r, loc)
	default:
		return ErrUnknownFormat
	}
	if err != nil {
		r.Reset()
	}
	return err
}
