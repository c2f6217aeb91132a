package agentfluent_test

import (
	"context"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// epoch is the event time of the first line the tests write: far behind
// the clock, so that the windows close by event time alone, as fast as the
// lines come.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// window is the window of the model the tests use (examples/models/web.json).
const window = 60 * time.Second

// winKey names one ip_score event: a source address in a window.
type winKey struct {
	IP    string
	Start int64 // window start, Unix seconds
}

func (k winKey) String() string {
	return fmt.Sprintf("%s@%s", k.IP, time.Unix(k.Start, 0).UTC().Format(time.RFC3339))
}

// keyTruth is what the lines of one source address in one window add up
// to: the web features the agent must report.
type keyTruth struct {
	hits, s2xx, s3xx, s4xx, s5xx, bytes, post int64
	paths                                     uint32 // bit i: path /p/i seen
}

// webLog appends combined-format lines with known source addresses and
// synthetic timestamps (step apart, from epoch) to a file and keeps the
// ground truth of every (address, window). Line i comes from address
// i mod len(ips), so every address has lines in every window once a window
// holds more lines than there are addresses. Status, method, path and size
// are drawn from i, so a run is reproducible.
//
// A webLog is used by one goroutine at a time; Lines may be called from
// any.
type webLog struct {
	path  string
	f     *os.File
	step  time.Duration
	ips   []string
	buf   []byte
	n     int64 // lines written
	truth map[winKey]*keyTruth

	lines atomic.Int64 // n, for other goroutines

	stampSec int64 // second of stamp
	stamp    []byte
}

// newWebLog creates the log file with nIPs source addresses.
func newWebLog(t testing.TB, path string, nIPs int, step time.Duration) *webLog {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w := &webLog{path: path, f: f, step: step, truth: map[winKey]*keyTruth{}, stampSec: -1}
	for i := range nIPs {
		w.ips = append(w.ips, fmt.Sprintf("10.%d.%d.%d", 1+i/62500, i/250%250, 1+i%250))
	}
	return w
}

// splitmix64 spreads the line number into independent-looking bits.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

var statuses = [...]int64{200, 200, 200, 200, 200, 200, 301, 304, 404, 503}

// write appends n lines in one write.
func (w *webLog) write(n int) error {
	b := w.buf[:0]
	for range n {
		i := w.n
		ts := epoch.Add(time.Duration(i) * w.step)
		sec := ts.Unix()
		if sec != w.stampSec {
			w.stampSec = sec
			w.stamp = ts.AppendFormat(w.stamp[:0], "02/Jan/2006:15:04:05 -0700")
		}
		h := splitmix64(uint64(i))
		ip := w.ips[i%int64(len(w.ips))]
		status := statuses[h%uint64(len(statuses))]
		post := h>>8%5 == 0
		path := h >> 16 % 24
		size := int64(h >> 24 % 20000)
		method := "GET"
		if post {
			method = "POST"
		}

		b = append(b, ip...)
		b = append(b, " - - ["...)
		b = append(b, w.stamp...)
		b = append(b, "] \""...)
		b = append(b, method...)
		b = append(b, " /p/"...)
		b = strconv.AppendUint(b, path, 10)
		b = append(b, "?q="...) // the query is not part of the path
		b = strconv.AppendUint(b, h>>40%7, 10)
		b = append(b, " HTTP/1.1\" "...)
		b = strconv.AppendInt(b, status, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, size, 10)
		b = append(b, " \"-\" \"agentfluent/1.0\"\n"...)

		k := winKey{IP: ip, Start: sec - sec%int64(window/time.Second)}
		kt := w.truth[k]
		if kt == nil {
			kt = &keyTruth{}
			w.truth[k] = kt
		}
		kt.hits++
		switch {
		case status < 300:
			kt.s2xx++
		case status < 400:
			kt.s3xx++
		case status < 500:
			kt.s4xx++
		default:
			kt.s5xx++
		}
		kt.bytes += size
		if post {
			kt.post++
		}
		kt.paths |= 1 << path
		w.n++
	}
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("append to %s: %w", w.path, err)
	}
	w.lines.Store(w.n)
	return nil
}

// Lines is the number of lines written so far.
func (w *webLog) Lines() int64 { return w.lines.Load() }

// distinctPaths is the distinct_paths feature of a key.
func (k *keyTruth) distinctPaths() int64 { return int64(bits.OnesCount32(k.paths)) }

// linesPerWindow is how many lines one window holds.
func (w *webLog) linesPerWindow() int { return int(window / w.step) }

// stream appends perTick lines every tick, in the background, until total
// lines were written (0: no limit) or stop is called.
func (w *webLog) stream(perTick int, tick time.Duration, total int64) *streamer {
	ctx, cancel := context.WithCancel(context.Background())
	s := &streamer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for total <= 0 || w.n < total {
			n := perTick
			if total > 0 && w.n+int64(n) > total {
				n = int(total - w.n)
			}
			if s.err = w.write(n); s.err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return s
}

// streamer is a webLog being written in the background.
type streamer struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop ends the writing and waits for it; the webLog is the caller's
// again.
func (s *streamer) stop(t testing.TB) {
	t.Helper()
	s.cancel()
	<-s.done
	if s.err != nil {
		t.Fatal(s.err)
	}
}

// wait waits up to limit for the writing to end by itself.
func (s *streamer) wait(t testing.TB, limit time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		s.cancel()
		<-s.done
		t.Fatalf("log writer still writing after %v", limit)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
}
