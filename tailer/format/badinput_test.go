package format

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

var parseable = []Format{Squid, Common, Combined, Bind}

// validLines holds one accepted line per format.
var validLines = map[Format]string{
	Squid:    "1294011828.214   1309 10.0.0.5 TCP_MISS/200 10032 GET http://host.example/path alice DIRECT/93.184.216.34 text/html",
	Common:   `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203023`,
	Combined: `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203023 "http://r.example/" "Mozilla/5.0 (X11)"`,
	Bind:     "07-Jul-2022 16:34:01.123 queries: info: client @0x7f 192.0.2.1#53114 (example.com): query: example.com IN A +E(0)K (192.0.2.53)",
}

// mustReject parses line with every format and fails unless each rejects it
// with a sentinel and leaves the Record zeroed.
func mustReject(t *testing.T, name string, line []byte) {
	t.Helper()
	for _, f := range parseable {
		p := Parser{Format: f, Location: time.UTC}
		r := record.Record{Status: 1, Client: []byte("stale")}
		err := p.Parse(line, &r)
		if err == nil {
			t.Errorf("%s: %v accepted %.80q", name, f, line)
			continue
		}
		if reason(err) == "" {
			t.Errorf("%s: %v returned a non-sentinel error %v", name, f, err)
		}
		if !reflect.DeepEqual(r, record.Record{}) {
			t.Errorf("%s: %v left a non-zero Record after rejecting", name, f)
		}
	}
}

func TestParser_RejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}
	const mib = 1 << 20
	tests := []struct {
		name string
		line []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"blank", []byte(" \t \r\n")},
		{"binary junk", junk},
		{"NUL bytes", make([]byte, 64)},
		{"invalid UTF-8", []byte("\xff\xfe\xfd\xc3\x28\xa0\xa1\xe2\x28\xa1")},
		{"1 MiB of A", bytes.Repeat([]byte("A"), mib)},
		{"1 MiB of spaces", bytes.Repeat([]byte(" "), mib)},
		{"1 MiB of quotes", bytes.Repeat([]byte(`"`), mib)},
		{"1 MiB of escaped quotes", bytes.Repeat([]byte(`\"`), mib)},
		{"1 MiB of brackets", bytes.Repeat([]byte("[ "), mib/2)},
		{"1 MiB of random bytes", bytes.Repeat(junk, mib/len(junk))},
		{"1 MiB of digits", bytes.Repeat([]byte("1234567890"), mib/10)},
		{"1 MiB of colons", bytes.Repeat([]byte(":"), mib)},
		{"1 MiB of fields", bytes.Repeat([]byte("a "), mib/2)},
		{"client with NUL", []byte("83.149.9.216\x00 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 2")},
		{"time with NUL", []byte("1294011828.2\x004 1 10.0.0.5 TCP_MISS/200 1 GET http://h/ - DIRECT/1.2.3.4 -")},
		{"json", []byte(`{"time":"2015-05-17T10:05:03Z","remote_addr":"83.149.9.216"}`)},
		{"syslog", []byte("Jul  7 16:34:01 ns1 named[123]: client 192.0.2.1#53 (x): query: x IN A +")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustReject(t, tt.name, tt.line) })
	}
}

func TestParser_QuoteStormsStayLinear(t *testing.T) {
	// Request fields full of quotes not followed by a status code make the
	// web parser look for a better closing quote; that search is bounded.
	// 1 MiB of them must parse in well under a second even on a busy
	// machine; quadratic behaviour would take minutes.
	head := `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "`
	for _, body := range []string{`" x`, `"x `, `\\" `, `" 20 `} {
		line := []byte(head + strings.Repeat(body, (1<<20)/len(body)))
		start := time.Now()
		p := Parser{Format: Combined}
		var r record.Record
		_ = p.Parse(line, &r)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q storm took %v", body, d)
		}
	}
}

func TestParser_AcceptsHugeValidLine(t *testing.T) {
	url := "http://host.example/" + strings.Repeat("a", 1<<20)
	line := []byte("1294011828.214 1 10.0.0.5 TCP_MISS/200 1 GET " + url + " - DIRECT/93.184.216.34 -")
	p := Parser{Format: Squid}
	var r record.Record
	if err := p.Parse(line, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Target) != len(url) || string(r.Host) != "host.example" {
		t.Errorf("Target length %d, Host %q", len(r.Target), r.Host)
	}
}

func TestParser_TruncatedLines(t *testing.T) {
	// Every prefix of a valid line is rejected with a sentinel until it
	// reaches the first byte of the last required field; from there on it
	// is a complete (shorter) line and must parse. A cut inside a number or
	// an optional trailing field cannot be told from a shorter value.
	required := map[Format]int{
		Squid:    strings.Index(validLines[Squid], "DIRECT/") + 1,
		Common:   strings.Index(validLines[Common], "203023") + 1,
		Combined: strings.Index(validLines[Combined], "203023") + 1,
		Bind:     strings.Index(validLines[Bind], " A +E(0)K") + 2,
	}
	for _, f := range parseable {
		p := Parser{Format: f, Location: time.UTC}
		full := validLines[f]
		for n := 0; n < len(full); n++ {
			line := []byte(full[:n])
			var r record.Record
			err := p.Parse(line, &r)
			switch {
			case err != nil && reason(err) == "":
				t.Errorf("%v prefix %d: non-sentinel error %v", f, n, err)
			case err == nil && n < required[f]:
				t.Errorf("%v prefix %q accepted", f, line)
			case err != nil && n >= required[f]:
				t.Errorf("%v prefix %q rejected: %v", f, line, err)
			case err == nil:
				if e := checkAliases(line, &r); e != nil {
					t.Errorf("%v prefix %d: %v", f, n, e)
				}
			}
		}
		var r record.Record
		if err := p.Parse([]byte(full), &r); err != nil {
			t.Errorf("%v full line rejected: %v", f, err)
		}
	}
}

func TestParser_NoAllocs(t *testing.T) {
	lines := map[Format][]string{
		Squid:    {validLines[Squid], "1754978486.449 0 ::1 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -", "junk"},
		Common:   {validLines[Common], validLines[Combined], "junk"},
		Combined: {validLines[Combined], `1.2.3.4 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01" 400 0 "-" "-"`, "junk"},
		Bind:     {validLines[Bind], "2022-07-07T16:34:01.123 client 192.0.2.1#5353/key k (x): view v: query: x IN A +", "junk"},
	}
	locs := []*time.Location{nil, time.UTC, time.FixedZone("X", 3600)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		locs = append(locs, ny)
	}
	for _, f := range parseable {
		for _, loc := range locs {
			p := Parser{Format: f, Location: loc}
			var r record.Record
			for _, l := range lines[f] {
				line := []byte(l)
				_ = p.Parse(line, &r) // warm up (time.Local loads once)
				if n := testing.AllocsPerRun(200, func() { _ = p.Parse(line, &r) }); n != 0 {
					t.Errorf("%v (loc %v) %.40q: %v allocs per Parse", f, loc, l, n)
				}
			}
		}
	}
	reasons := 0
	if n := testing.AllocsPerRun(200, func() { reasons += len(Reason(ErrBadTime)) }); n != 0 {
		t.Errorf("Reason allocates %v", n)
	}
}
