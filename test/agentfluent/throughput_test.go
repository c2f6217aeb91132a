package agentfluent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAgent_DeliveryThroughput measures (and logs; it asserts no speed)
// how fast the agent's sender empties a full outbox over loopback with an
// ack for every message, and how many bytes an event takes in the outbox
// and in the state file. The agent first queues 50,000 events (200,000
// with SHARKFIN_E2E_LONG=1) while the receiver is down; the clock runs
// from the first delivered event to the last.
func TestAgent_DeliveryThroughput(t *testing.T) {
	nIPs, windows := 1000, 50
	if long() {
		nIPs, windows = 2000, 100
	}
	r := newRig(t, nIPs, window/time.Duration(nIPs), nil)
	if err := r.log.write(windows * nIPs); err != nil {
		t.Fatal(err)
	}
	events := float64(len(r.log.truth))

	r.agent.start()
	// Every event is counted as queued once the input has been idle for
	// the lateness; it is in the outbox once the commit that carries it is
	// written, which for a big one takes a while: wait until commits stop.
	queued := r.waitMetric("sharkfin_events_queued_total", 60*time.Second, func(v float64) bool { return v > events })
	var outbox, commits float64
	stable := 0
	if !waitFor(30*time.Second, func() bool {
		o, c := r.agent.metric("sharkfin_outbox_bytes"), r.agent.metric("sharkfin_state_commits_total")
		if o > 0 && o == outbox && c == commits {
			stable++
		} else {
			stable = 0
		}
		outbox, commits = o, c
		return stable >= 10 // a second
	}) {
		t.Fatalf("outbox size not settled: %v bytes", outbox)
	}
	fi, err := os.Stat(filepath.Join(r.cfg.Dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}

	cpu0 := r.agent.metric("process_cpu_seconds_total")
	recv := r.receiver()
	var first, last time.Time
	var atFirst float64
	if !waitFor(60*time.Second, func() bool {
		d := r.agent.metric("sharkfin_events_delivered_total")
		now := time.Now()
		if first.IsZero() && d > 0 {
			first, atFirst = now, d
		}
		last = now
		return d >= queued
	}) {
		t.Fatalf("not every event delivered after 60s: %v of %v", r.agent.metric("sharkfin_events_delivered_total"), queued)
	}
	took := last.Sub(first)
	agentCPU := r.agent.metric("process_cpu_seconds_total") - cpu0
	r.waitAll(30 * time.Second)
	r.verify()
	recv.stop()
	recvCPU := recv.Cmd.ProcessState.UserTime() + recv.Cmd.ProcessState.SystemTime()

	rate := (queued - atFirst) / took.Seconds()
	t.Logf("%.0f events queued (%d lines): outbox %.0f bytes = %.0f bytes/event; state file %d bytes = %.0f bytes/event; "+
		"delivered with acks in %v after the first write (%.0f before the first poll) = %.0f events/s, "+
		"CPU: agent %.2fs, receiver %v; %s",
		queued, r.log.Lines(), outbox, outbox/queued, fi.Size(), float64(fi.Size())/queued,
		took.Round(time.Millisecond), atFirst, rate, agentCPU, recvCPU.Round(10*time.Millisecond), r.got.summary())
}
