package agent_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// floodIP is the i-th distinct client of the flood.
func floodIP(b []byte, i int) []byte {
	b = append(b, "10."...)
	b = strconv.AppendInt(b, int64(i>>16&255), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i>>8&255), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i&255), 10)
	return b
}

// TestAgent_FloodOfSources writes 1,000,000 lines from as many distinct
// source addresses into one window, with detect.max_keys 100000. The first
// 100,000 sources get an event each; the other 900,000 lines are counted
// under src_ip "overflow", which an agent event reports; the agent's peak
// RSS stays bounded and it keeps up with the writer.
func TestAgent_FloodOfSources(t *testing.T) {
	const (
		sources = 1_000_000
		maxKeys = 100_000
		// Peak RSS allowed: twice what was measured (58 MiB), for a
		// loaded CI machine. While counting, the 100,000 tracked keys
		// take about 28 MB of live heap; the window then closes
		// detect.close_batch keys per commit, its keys stored once, under
		// the soft memory limit `sharkfin run` sets from max_keys.
		maxRSS = 128 << 20
	)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, MaxKeys: maxKeys})
	events := newEventLog(h)
	lf := openLog(t, logPath)
	h.startReady()
	if !waitFor(10*time.Second, func() bool { h.requireAlive(); _, err := h.readLines(); return err == nil }) {
		t.Fatal("the agent's metrics endpoint did not come up")
	}

	// One line per source, all in the first window; then a few lines 65s
	// later, which close it by event time.
	want := truth{}
	win := e2eEpoch.Unix()
	start := time.Now()
	var buf []byte
	for i := 0; i < sources; {
		buf = buf[:0]
		for end := min(i+10_000, sources); i < end; i++ {
			ts := e2eEpoch.Add(time.Duration(i) * 59 * time.Second / sources)
			ip := len(buf)
			buf = floodIP(buf, i)
			if i < maxKeys {
				want[winKey{"web", string(buf[ip:]), win}] = 1
			}
			buf = append(buf, " - - ["...)
			buf = ts.AppendFormat(buf, "02/Jan/2006:15:04:05 -0700")
			buf = append(buf, "] \"GET /login HTTP/1.1\" 200 512 \"-\" \"flood\"\n"...)
		}
		lf.write(buf)
	}
	wrote := time.Since(start)
	want[winKey{"web", "overflow", win}] = sources - maxKeys
	tail := newTraffic("web", 4, 16, 10*time.Millisecond)
	tail.seq = 6500 // 65s after the epoch
	lf.write(tail.lines(nil, 100))
	want.add(tail.truth)
	total := sources + 100

	var read float64
	if !waitFor(120*time.Second, func() bool {
		h.requireAlive()
		n, err := h.readLines()
		read = n
		return err == nil && n >= float64(total)
	}) {
		t.Fatalf("the agent read %.0f of %d lines in 120s", read, total)
	}
	ingest := time.Since(start)
	took := events.waitCounts(want, 120*time.Second)
	pid := h.current().cmd.Process.Pid
	rss, err := vmHWM(pid)
	if err != nil {
		t.Fatal(err)
	}
	h.stop(10 * time.Second)
	events.requireCounts(want)
	events.requireOnePerWindow()

	notices := events.agentEvents("window key cap reached; excess sources counted under overflow")
	if len(notices) != 1 || notices[0].ev.Detail["overflow_lines"] != strconv.Itoa(sources-maxKeys) {
		var got []map[string]string
		for _, n := range notices {
			got = append(got, n.ev.Detail)
		}
		t.Errorf("key cap agent events: %v; want one with overflow_lines %d", got, sources-maxKeys)
	}
	if rss > maxRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
	}
	t.Logf("flood: %d lines from %d sources in one window, max_keys %d: written in %s; read by the agent %s after the first write (%.0f lines/s); "+
		"%d events printed %s later; peak RSS (VmHWM) %d MiB",
		total, sources, maxKeys, wrote.Round(time.Millisecond), ingest.Round(time.Millisecond), float64(total)/ingest.Seconds(),
		len(events.ipScores()), took.Round(time.Millisecond), rss>>20)
}

// readLines returns the lines the running agent has read.
func (h *agentHarness) readLines() (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := scrapeMetrics(ctx, h.metrics)
	return m["sharkfin_lines_read_total"], err
}
