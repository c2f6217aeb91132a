package agentfluent_test

import (
	"fmt"
	"testing"
	"time"
)

// sendBatch is the most events the agent's sender puts in one write (and
// one ack): at most that many can be duplicated when an ack is lost.
const sendBatch = 512

// TestAgent_ReceiverOutage stops the receiver (SIGKILL, as a crash) for
// 10 s (30 s with SHARKFIN_E2E_LONG=1) while the agent ingests steadily,
// then brings it back on the same port, withholding 30% of its acks as
// a receiver that crashes after storing would: every event arrives, and
// the only duplicates are of batches whose ack was lost (withheld, or cut
// off by the crash), with the records of the first copies.
func TestAgent_ReceiverOutage(t *testing.T) {
	outage := 10 * time.Second
	if long() {
		outage = 30 * time.Second
	}
	// 100 addresses, 6000 lines a minute of event time: 100 events a
	// window, a window closing every second of wall time.
	r := newRig(t, 100, 10*time.Millisecond, nil)
	recv := r.receiver()
	r.agent.start()
	w := r.log.stream(300, 50*time.Millisecond, 0)
	defer w.stop(t)

	r.sleep(3 * time.Second)
	before := len(r.poll().scores)
	if before == 0 {
		t.Fatalf("no event delivered in the first 3s; %s", r.got.summary())
	}
	recv.kill()
	down := time.Now()
	r.sleep(outage)
	queued := r.agent.metric("sharkfin_outbox_bytes")
	if queued == 0 {
		t.Fatalf("outbox empty after a %v outage: the agent did not keep the events", outage)
	}
	linesDuring := r.log.Lines()
	recv = r.receiver("-drop-acks", "0.3", "-seed", fmt.Sprint(seed(t, 3)))
	back := time.Now()
	r.sleep(3 * time.Second)
	w.stop(t)
	drain := r.waitAll(90 * time.Second)
	allIn := time.Since(back)

	d := r.verify()
	summary := recv.stop()
	// The batch in flight at the crash, and those whose ack was withheld.
	if lost := 1 + summaryCount(summary, "unacked"); d.dups > lost*sendBatch {
		t.Errorf("%d duplicates: more than %d lost acks of at most %d events can explain", d.dups, lost, sendBatch)
	}
	t.Logf("outage %v; %d lines written, %d by the end of the outage; %d events delivered before it, "+
		"outbox %.0f bytes at its end; all delivered %v after the receiver returned (%v after the last line); "+
		"receiver after the outage: %s; %s",
		back.Sub(down).Round(time.Millisecond), r.log.Lines(), linesDuring, before, queued,
		allIn.Round(time.Millisecond), drain.Round(time.Millisecond), summary, d.summary())
}
