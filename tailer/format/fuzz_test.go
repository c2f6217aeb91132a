package format

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// addSeeds adds the lines of the testdata logs and, when present, a sample of
// the team's real logs (their first lines and every line the reference
// parsers cannot read, which are the odd ones) to f's corpus.
func addSeeds(f *testing.F) {
	for file := range goldenFiles {
		for _, line := range readLines(f, filepath.Join("testdata", file)) {
			f.Add(line)
		}
	}
	for _, l := range validLines {
		f.Add([]byte(l))
	}
	dir, ok := sharedData()
	if !ok || testing.Short() {
		return
	}
	refs := map[Format]func(string) (*record.Record, bool){
		Combined: refParseCLF, Squid: refParseSquid, Bind: refParseBind,
	}
	for _, rf := range realFiles {
		matches, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(rf.pattern)))
		for _, m := range matches {
			odd := 0
			for i, line := range readLines(f, m) {
				if _, ok := refs[rf.format](string(line)); i < 10 || (!ok && odd < 50) {
					f.Add(line)
					odd++
				}
			}
		}
	}
}

// checkParsed asserts the invariants of one Parse call.
func checkParsed(t *testing.T, format Format, line []byte, r *record.Record, err error) {
	t.Helper()
	if err != nil {
		if reason(err) == "" {
			t.Fatalf("non-sentinel error %v", err)
		}
		if !reflect.DeepEqual(*r, record.Record{}) {
			t.Fatalf("rejected line left a non-zero Record")
		}
		return
	}
	if e := checkAliases(line, r); e != nil {
		t.Fatal(e)
	}
	if r.Time < 0 || r.Time >= maxUnix*nsPerSec {
		t.Fatalf("Time %d out of range", r.Time)
	}
	if !isClient(r.Client, format != Bind) {
		t.Fatalf("Client %q is not an address", r.Client)
	}
	if r.Status < 0 || r.Status > 999 || r.Bytes < 0 {
		t.Fatalf("Status %d Bytes %d", r.Status, r.Bytes)
	}
	if r.Host != nil && len(r.Host) == 0 {
		t.Fatalf("empty non-nil Host")
	}
	switch format {
	case Squid:
		if len(r.Action) == 0 || len(r.Target) == 0 {
			t.Fatalf("Action %q Target %q", r.Action, r.Target)
		}
	case Common, Combined:
		if r.Method != nil && !isUpperToken(r.Method) {
			t.Fatalf("Method %q", r.Method)
		}
	case Bind:
		if len(r.Host) == 0 || !isUpperToken(r.QType) {
			t.Fatalf("Host %q QType %q", r.Host, r.QType)
		}
	}
}

// fuzzParse checks format's parser on arbitrary lines: no panic, sentinel
// errors, aliasing, sane values, and the same result with a CRLF appended.
func fuzzParse(f *testing.F, format Format) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		p := Parser{Format: format, Location: time.UTC}
		var r record.Record
		err := p.Parse(line, &r)
		checkParsed(t, format, line, &r, err)

		crlf := append(bytes.Clone(line), '\r', '\n')
		var r2 record.Record
		err2 := p.Parse(crlf, &r2)
		if err != err2 {
			t.Fatalf("with CRLF: error %v, without %v", err2, err)
		}
		if d := diffRecords(&r2, &r); d != "" {
			t.Fatalf("with CRLF: %s", d)
		}

		if format == Common || format == Combined {
			// Both web parsers accept the same lines; Common just stops
			// before the referer.
			other := Parser{Format: Common + Combined - format}
			var r3 record.Record
			if err3 := other.Parse(line, &r3); (err3 == nil) != (err == nil) {
				t.Fatalf("%v error %v, %v error %v", format, err, other.Format, err3)
			}
		}
		if format == Combined { // SkipAgent: the same but for those two fields
			skip := Parser{Format: Combined, Location: time.UTC, SkipAgent: true}
			var r4 record.Record
			err4 := skip.Parse(line, &r4)
			want := r
			want.Referer, want.UserAgent = nil, nil
			if err4 != err || r4.Referer != nil || r4.UserAgent != nil {
				t.Fatalf("SkipAgent: error %v (want %v), referer %q, user agent %q", err4, err, r4.Referer, r4.UserAgent)
			}
			if d := diffRecords(&r4, &want); d != "" {
				t.Fatalf("SkipAgent: %s", d)
			}
		}
	})
}

func FuzzParseSquid(f *testing.F)    { fuzzParse(f, Squid) }
func FuzzParseCommon(f *testing.F)   { fuzzParse(f, Common) }
func FuzzParseCombined(f *testing.F) { fuzzParse(f, Combined) }
func FuzzParseBind(f *testing.F)     { fuzzParse(f, Bind) }

// FuzzSniff checks that Sniff never panics and only names a format that
// parses at least half of the non-empty lines.
func FuzzSniff(f *testing.F) {
	for file := range goldenFiles {
		data, _ := os.ReadFile(filepath.Join("testdata", file))
		f.Add(data)
	}
	f.Add([]byte("\n\n"))
	f.Add([]byte(validLines[Squid] + "\n" + validLines[Bind] + "\n" + validLines[Combined] + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.SplitN(data, []byte("\n"), SniffLines+1)
		lines = lines[:min(len(lines), SniffLines)]
		got, err := Sniff(lines)
		if err != nil {
			if !errors.Is(err, ErrUndetected) || got != Unknown {
				t.Fatalf("Sniff = %v, %v", got, err)
			}
			return
		}
		p := Parser{Format: got, Location: time.UTC}
		var r record.Record
		ok, nonEmpty := 0, 0
		for _, l := range lines {
			if len(trim(l)) == 0 {
				continue
			}
			nonEmpty++
			if p.Parse(l, &r) == nil {
				ok++
			}
		}
		if ok == 0 || 2*ok < nonEmpty {
			t.Fatalf("Sniff chose %v, which parses %d of %d lines", got, ok, nonEmpty)
		}
	})
}

// FuzzIsIP compares the address validator with net/netip wherever netip has
// no stricter opinion (it rejects IPv4 leading zeros; zones are checked
// differently).
func FuzzIsIP(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::1", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "fe80::1%eth0", "01.2.3.4", "1::2::3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := isIP([]byte(s))
		if strings.Contains(s, "%") || leadingZeroOctet(s) {
			return
		}
		_, err := netip.ParseAddr(s)
		if got != (err == nil) {
			t.Fatalf("isIP(%q) = %v, netip: %v", s, got, err)
		}
	})
}

// leadingZeroOctet reports whether s has a dotted decimal part with a
// leading zero ("01.2.3.4", "::ffff:1.02.3.4").
func leadingZeroOctet(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '0' && isDigit(s[i+1]) && (i == 0 || s[i-1] == '.' || s[i-1] == ':') {
			if strings.ContainsRune(s[i:], '.') || (i > 0 && s[i-1] == '.') {
				return true
			}
		}
	}
	return false
}
