package domain

import (
	"fmt"
	"testing"
)

func TestSuffixes_Registrable(t *testing.T) {
	s := NewSuffixes(4)
	cases := map[string]string{
		"www.example.com":                "example.com",
		"example.com":                    "example.com",
		"img.static.example.co.uk":       "example.co.uk",
		"a.b.kawasaki.jp":                "a.b.kawasaki.jp",  // *.kawasaki.jp
		"www.city.kawasaki.jp":           "city.kawasaki.jp", // !city.kawasaki.jp
		"user.github.io":                 "user.github.io",   // a private suffix counts too
		"aGVsbG8.t.tunnel.example.net":   "example.net",
		"host.corp.internal":             "corp.internal", // not in the list: one label
		"com":                            "",
		"co.uk":                          "",
		"a..example.com":                 "",
		"xn--bcher-kva.example.xn--p1ai": "example.xn--p1ai",
	}
	for round := range 3 { // the second and third rounds hit the cache (bounded at 4: emptied on the way)
		for name, want := range cases {
			got, ok := s.Registrable([]byte(name))
			if string(got) != want || ok != (want != "") {
				t.Errorf("round %d: Registrable(%q) = %q, %v; want %q", round, name, got, ok, want)
			}
		}
	}
	if len(s.cache) > 4 {
		t.Errorf("cache holds %d names, bound 4", len(s.cache))
	}
}

func TestSuffixes_HitAllocatesNothing(t *testing.T) {
	s := NewSuffixes(0)
	name := []byte("img.static.example.co.uk")
	s.Registrable(name)
	if n := testing.AllocsPerRun(100, func() { s.Registrable(name) }); n != 0 {
		t.Errorf("a cached name: %v allocations", n)
	}
}

func BenchmarkSuffixes(b *testing.B) {
	names := make([][]byte, 1000)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("host%d.site%d.example.co.uk", i%7, i))
	}
	b.Run("hit", func(b *testing.B) {
		s := NewSuffixes(0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Registrable(names[i%len(names)])
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		s := NewSuffixes(0)
		b.ReportAllocs()
		i := 0
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = fmt.Appendf(buf[:0], "q%d.tunnel.example.com", i) // every name new, as a DNS tunnel's
			s.Registrable(buf)
			i++
		}
	})
}
