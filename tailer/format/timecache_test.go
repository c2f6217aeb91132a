package format

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/socx/sharkfin/record"
)

// A Parser remembers the last timestamp it read. Whatever order lines
// come in (runs of one second, a bad time between two equal ones, the same
// time with another zone, every line of the testdata logs shuffled and in
// runs), its records equal those of a fresh Parser for each line.
func TestParse_TimeCacheAgreesWithAFreshParser(t *testing.T) {
	lines := [][]byte{
		[]byte(`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"`),
		[]byte(`10.0.0.2 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 404 5 "-" "ua"`),
		[]byte(`10.0.0.3 - - [17/May/2015:10:05:03 +0200] "GET /b HTTP/1.1" 200 5 "-" "ua"`),
		[]byte(`10.0.0.4 - - [17/May/2015:10:05:0x +0000] "GET /c HTTP/1.1" 200 5 "-" "ua"`),
		[]byte(`10.0.0.5 - - [17/May/2015:10:05:03 +0000] "GET /d HTTP/1.1" 200 5 "-" "ua"`),
		[]byte(`10.0.0.6 - - [31/Feb/2015:10:05:03 +0000] "GET /e HTTP/1.1" 200 5 "-" "ua"`),
		[]byte(`10.0.0.7 - - [17/May/2015:10:05:04 +0000] "GET /f HTTP/1.1" 200 5 "-" "ua"`),
	}
	lines = append(lines, readLines(t, filepath.Join("testdata", "apache_combined.log"))...)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, f := range []Format{Combined, Common} {
		cached := Parser{Format: f}
		for i := range 20000 {
			line := lines[rng.IntN(len(lines))]
			if i%3 != 0 && i > 0 { // runs: the same line's time again
				line = lines[(i*7)%len(lines)]
			}
			var got, want record.Record
			gerr := cached.Parse(line, &got)
			fresh := Parser{Format: f}
			werr := fresh.Parse(line, &want)
			if gerr != werr || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s line %d %q:\n got %+v (%v)\nwant %+v (%v)", f, i, line, got, gerr, want, werr)
			}
		}
	}
}
