package agent_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// e2eEpoch is where synthetic timelines start: a past minute, so that
// windows close by event time as fast as lines are written and the last
// ones close once the input is idle for lateness.
var e2eEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// e2eWindow is the window of every test configuration.
const e2eWindow = 60 // seconds

// winKey is one (input, client, window) cell of the ground truth; Start is
// the window start in Unix seconds.
type winKey struct {
	Source string
	IP     string
	Start  int64
}

func (k winKey) String() string {
	return fmt.Sprintf("%s/%s@%s", k.Source, k.IP, time.Unix(k.Start, 0).UTC().Format("15:04"))
}

// truth counts the lines written per (input, client, window).
type truth map[winKey]int

func (tr truth) total() int {
	n := 0
	for _, c := range tr {
		n += c
	}
	return n
}

func (tr truth) add(other truth) {
	for k, n := range other {
		tr[k] += n
	}
}

// traffic generates combined-format lines for one input: clients drawn
// from a fixed set, one line every step of event time, every line unique
// (its sequence number is in the path). It records what it generates.
type traffic struct {
	source string
	ips    []string
	rng    *rand.Rand
	step   time.Duration
	seq    int
	truth  truth
}

func newTraffic(source string, nIPs int, seed uint64, step time.Duration) *traffic {
	g := &traffic{source: source, rng: rand.New(rand.NewPCG(seed, 0x5eed)), step: step, truth: truth{}}
	for i := range nIPs {
		g.ips = append(g.ips, fmt.Sprintf("10.%d.%d.%d", 1+i/65536%250, i/256%256, 1+i%250))
	}
	return g
}

// now is the event time of the next line.
func (g *traffic) now() time.Time { return e2eEpoch.Add(time.Duration(g.seq) * g.step) }

// closer appends one line after past the next line's event time and
// leaves its window out of the truth: the agent's watermark then closes
// every earlier window at once, for after at least the lateness plus a
// window, instead of waiting for the input to be quiet for the lateness in
// wall time. Its own window stays open (the agent keeps open windows in
// its state across a stop, and emits nothing for them).
func (g *traffic) closer(b []byte, after time.Duration) []byte {
	g.seq += int(after / g.step)
	ts := g.now()
	ip := g.ips[0]
	b = g.line(b, ip, "")
	k := winKey{g.source, ip, ts.Unix() - ts.Unix()%e2eWindow}
	if g.truth[k]--; g.truth[k] == 0 {
		delete(g.truth, k)
	}
	return b
}

// lines appends n lines to b.
func (g *traffic) lines(b []byte, n int) []byte {
	for range n {
		b = g.line(b, g.ips[g.rng.IntN(len(g.ips))], "")
	}
	return b
}

// line appends one line from ip; extra is put into the path and the user
// agent (e.g. invalid UTF-8). The line is counted in the truth.
func (g *traffic) line(b []byte, ip, extra string) []byte {
	ts := g.now()
	i := g.seq
	g.seq++
	g.truth[winKey{g.source, ip, ts.Unix() - ts.Unix()%e2eWindow}]++
	method, status := "GET", 200
	switch {
	case i%7 == 3:
		method = "POST"
	case i%11 == 5:
		status = 404
	case i%13 == 7:
		status = 301
	}
	b = append(b, ip...)
	b = append(b, " - - ["...)
	b = ts.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, method...)
	b = append(b, " /p/"...)
	b = strconv.AppendInt(b, int64(i%40), 10)
	b = append(b, "/"...)
	b = append(b, extra...)
	b = append(b, "?seq="...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, " HTTP/1.1\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(200+i%1800), 10)
	b = append(b, " \"-\" \"e2e/1.0"...)
	b = append(b, extra...)
	b = append(b, "\"\n"...)
	return b
}

// logFile is a log being written, as a web server writes it: appends to
// one descriptor, which it reopens after a rotation.
type logFile struct {
	t    testing.TB
	path string
	f    *os.File
	gens int // rotated generations kept by shiftRotate
}

func openLog(t testing.TB, path string) *logFile {
	t.Helper()
	l := &logFile{t: t, path: path}
	l.reopen()
	t.Cleanup(func() { l.f.Close() })
	return l
}

func (l *logFile) write(b []byte) {
	l.t.Helper()
	if _, err := l.f.Write(b); err != nil {
		l.t.Fatalf("write %s: %v", l.path, err)
	}
}

// reopen closes the descriptor and opens the path again (creating it), as
// a server does when told the log was rotated.
func (l *logFile) reopen() {
	l.t.Helper()
	if l.f != nil {
		l.f.Close()
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	l.f = f
}

// shiftRotate rotates like logrotate's create mode without a limit:
// path.N becomes path.N+1, ..., path becomes path.1, and the writer
// reopens a new path.
func (l *logFile) shiftRotate() {
	l.t.Helper()
	for i := l.gens; i >= 1; i-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1)); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		l.t.Fatal(err)
	}
	l.gens++
	l.reopen()
}

// pacer spreads lines over time at a rate.
type pacer struct {
	start time.Time
	rate  float64 // lines per second
	sent  int
}

func newPacer(rate float64) *pacer { return &pacer{start: time.Now(), rate: rate} }

// due returns how many lines are due now (at most max) and counts them as
// sent.
func (p *pacer) due(max int) int {
	n := int(time.Since(p.start).Seconds()*p.rate) - p.sent
	n = min(n, max)
	if n < 0 {
		n = 0
	}
	p.sent += n
	return n
}

// writeFor writes g's lines to l at rate for d, in small chunks; it
// returns the lines written.
func writeFor(l *logFile, g *traffic, rate float64, d time.Duration) int {
	p := newPacer(rate)
	end := time.Now().Add(d)
	var buf []byte
	total := 0
	for time.Now().Before(end) {
		if n := p.due(int(rate)); n > 0 {
			buf = g.lines(buf[:0], n)
			l.write(buf)
			total += n
		}
		time.Sleep(5 * time.Millisecond)
	}
	return total
}

// appendGet appends a combined-format "GET /" line of client at time at.
func appendGet(b []byte, at time.Time, client string) []byte {
	return fmt.Appendf(b, "%s - - [%s] \"GET / HTTP/1.1\" 200 10 \"-\" \"t\"\n", client, at.Format("02/Jan/2006:15:04:05 -0700"))
}
