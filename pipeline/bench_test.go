package pipeline

import (
	"bytes"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/loggen"
	"github.com/socx/sharkfin/tailer/format"
)

// genLines returns generated combined-log lines: 500 visitors over 20
// windows (about 35,000 lines).
func genLines(b testing.TB) [][]byte {
	var buf bytes.Buffer
	if _, err := loggen.Web(&buf, loggen.WebConfig{Seed: 9, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Windows: 20, Visitors: 500, Crawlers: 3, AttackersPerType: 1}); err != nil {
		b.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
}

// BenchmarkPipeline_Line measures parse + window + aggregate per line, with
// windows closing and being scored as the input moves on (events are
// discarded). Allocations per line must be 0 in steady state; new keys and
// windows allocate, which over 20 windows of 500 visitors amortises to a
// fraction of an allocation per line. When the input wraps, a fresh pipeline
// is made outside the timer (replayed lines would all be late).
func BenchmarkPipeline_Line(b *testing.B) {
	lines := genLines(b)
	m, err := detect.LoadModel("../examples/models/web.json")
	if err != nil {
		b.Fatal(err)
	}
	fresh := func() *Pipeline {
		p, err := New(Config{Host: "h", Source: "bench", Parser: format.Parser{Format: format.Combined}, Model: m},
			func(*event.Event) {})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	p := fresh()
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(lines)
		if j == 0 && i > 0 {
			b.StopTimer()
			p.Flush()
			p = fresh()
			b.StartTimer()
		}
		p.Line(lines[j])
	}
	b.StopTimer()
	if st := p.Stats(); st.Late != 0 {
		b.Fatalf("%d late lines: the benchmark replays wrongly", st.Late)
	}
}

// BenchmarkPipeline_LineNoClose isolates parse + aggregate: every line
// falls in a window that stays open.
func BenchmarkPipeline_LineNoClose(b *testing.B) {
	line := []byte(`203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`)
	p, err := New(Config{Host: "h", Source: "bench", Parser: format.Parser{Format: format.Combined}}, func(*event.Event) {})
	if err != nil {
		b.Fatal(err)
	}
	p.Line(line)
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Line(line)
	}
}

func TestPipeline_LineAllocs(t *testing.T) {
	line := []byte(`203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /a?b=1 HTTP/1.1" 404 20 "-" "curl/8"`)
	p, err := New(Config{Host: "h", Source: "t", Parser: format.Parser{Format: format.Combined}}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	p.Line(line)
	if n := testing.AllocsPerRun(1000, func() { p.Line(line) }); n != 0 {
		t.Errorf("Pipeline.Line allocates %v times per line, want 0", n)
	}
}
