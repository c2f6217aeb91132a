package format

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// benchParse parses lines round-robin and reports bytes/s (mean line
// length), allocations and lines/s. ns/op is the cost of one line.
func benchParse(b *testing.B, format Format, lines [][]byte) {
	b.Helper()
	benchParser(b, Parser{Format: format, Location: time.UTC}, lines)
}

func benchParser(b *testing.B, p Parser, lines [][]byte) {
	b.Helper()
	if len(lines) == 0 {
		b.Skip("no lines")
	}
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	var r record.Record
	rejected := 0
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if p.Parse(lines[n%len(lines)], &r) != nil {
			rejected++
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	if rejected > 0 {
		b.ReportMetric(float64(rejected)/float64(n), "rejected/op")
	}
}

func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name   string
		file   string
		format Format
	}{
		{"squid", "squid_native.log", Squid},
		{"common", "apache_combined.log", Common},
		{"combined", "apache_combined.log", Combined},
		{"combined_edge", "web_edge.log", Combined},
		{"vhost_combined", "vhost_combined.log", Combined},
		{"bind", "bind_queries.log", Bind},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchParse(b, c.format, readLines(b, filepath.Join("testdata", c.file)))
		})
	}
	// What the agent and score parse: combined lines without the referer
	// and user agent, which nothing counts (Parser.SkipAgent).
	b.Run("combined_skip_agent", func(b *testing.B) {
		benchParser(b, Parser{Format: Combined, Location: time.UTC, SkipAgent: true},
			readLines(b, filepath.Join("testdata", "apache_combined.log")))
	})
}

// BenchmarkParse_BindLocal measures the time.Date path of zone-less BIND
// timestamps read in a named zone.
func BenchmarkParse_BindLocal(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Skip(err)
	}
	lines := readLines(b, filepath.Join("testdata", "bind_queries.log"))
	p := Parser{Format: Bind, Location: loc}
	var r record.Record
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = p.Parse(lines[n%len(lines)], &r)
		n++
	}
}

// BenchmarkParse_RealData parses whole real files from the shared data set.
func BenchmarkParse_RealData(b *testing.B) {
	dir := sharedDataDir(b)
	cases := []struct {
		name, file string
		format     Format
	}{
		{"elastic_combined", "elastic-apache/apache_logs", Combined},
		{"wordpress_combined", "wordpress-2025/access.log", Combined},
		{"realserver_vhost", "realserver-2020/other_vhosts_access.log.5", Combined},
		{"realserver_common", "realserver-2020/access.log.1", Common},
		{"squid_lab", "squid-lab-2025/access.log", Squid},
		{"squid_ncl", "squid-ncl-2010/squid_access.log", Squid},
		{"bind", "bind-sample/queries-head2000.log", Bind},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchParse(b, c.format, readLines(b, filepath.Join(dir, filepath.FromSlash(c.file))))
		})
	}
}

// BenchmarkParse_RegexpBaseline is the obvious regexp + time.Parse reading
// of combined lines (the test reference), for comparison.
func BenchmarkParse_RegexpBaseline(b *testing.B) {
	lines := readLines(b, filepath.Join("testdata", "apache_combined.log"))
	strs := make([]string, len(lines))
	total := 0
	for i, l := range lines {
		strs[i] = string(l)
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		refParseCLF(strs[n%len(strs)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkSniff(b *testing.B) {
	lines := readLines(b, filepath.Join("testdata", "apache_combined.log"))[:SniffLines]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sniff(lines); err != nil {
			b.Fatal(err)
		}
	}
}
