package category

import (
	"bytes"
	"strings"
	"testing"

	"github.com/socx/sharkfin/detect/domain"
)

// FuzzParseCSV parses any text; when it loads, every lookup agrees with a
// plain map of the listed names (first listing wins) walked suffix by
// suffix.
func FuzzParseCSV(f *testing.F) {
	f.Add("domain,category\nexample.com,news\nads.example.com,ads\n10.0.0.1,x\n", "a.ads.example.com")
	f.Add("\"a.com\",\"x, y\"\n*.b.org,z\n", "B.ORG.")
	f.Add("2001:db8::1,v6\n", "[2001:db8:0::1]")
	f.Add("a.com,x\nA.COM,y\n", "www.a.com")
	f.Fuzz(func(t *testing.T, text, host string) {
		l, err := ParseCSV(strings.NewReader(text), "f.csv")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		ref := map[string]string{}
		for e := range l.ends {
			name := string(l.name(e))
			if _, dup := ref[name]; !dup {
				ref[name] = l.catNames[l.cats[e]]
			}
		}
		if len(ref) != l.Stats().Entries {
			t.Fatalf("%d distinct names, stats say %d", len(ref), l.Stats().Entries)
		}
		for name, cat := range ref {
			if got, ok := l.Lookup([]byte(name)); !ok || got != cat {
				t.Fatalf("listed %q (%q): Lookup gives %q, %v", name, cat, got, ok)
			}
		}
		got, ok := l.Lookup([]byte(host))
		var buf [domain.MaxName + 1]byte
		name, isIP := domain.Normalize(buf[:0], []byte(host))
		want, wok := "", false
		for n := string(name); name != nil; {
			if c, ok := ref[n]; ok && (isIP || strings.Trim(n, "0123456789.") != "") {
				want, wok = c, true
				break
			}
			dot := strings.IndexByte(n, '.')
			if isIP || dot < 0 {
				break
			}
			n = n[dot+1:]
		}
		if got != want || ok != wok {
			t.Fatalf("Lookup(%q) = %q, %v; the map says %q, %v", host, got, ok, want, wok)
		}
		if bytes.ContainsAny(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("normalized %q to %q", host, name)
		}
	})
}

// FuzzReadDomains reads any text as a UT1 domains file: it loads or fails
// with an *Error naming the file, and every name it listed is found.
func FuzzReadDomains(f *testing.F) {
	f.Add("example.com\n# comment\n*.ads.example.org\n\n.tracker.example\n")
	f.Add("http://example.com/x\n")
	f.Add("10.0.0.1\n2001:db8::1\nA.COM\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		b := newBuilder(0, 0)
		if err := b.readDomains(strings.NewReader(text), "domains", []byte("ads")); err != nil {
			if e, ok := err.(*Error); !ok || e.File != "domains" {
				t.Fatalf("error %T %v; want an *Error naming the file", err, err)
			}
			return
		}
		l := b.finish()
		for e := range l.ends {
			name := l.name(e)
			if got, ok := l.Lookup(name); !ok || got != "ads" {
				t.Fatalf("listed %q: Lookup gives %q, %v", name, got, ok)
			}
		}
	})
}
