package agentfluent_test

import (
	"testing"
	"time"
)

// TestAgent_CrashDuringOutage kills the agent (SIGKILL) while the receiver
// is down and the outbox holds events, restarts the agent while the
// receiver is still down, then brings the receiver back: every event
// arrives once the outbox drains, with the counts of the lines (the
// restart neither loses nor re-counts a line).
func TestAgent_CrashDuringOutage(t *testing.T) {
	r := newRig(t, 100, 10*time.Millisecond, nil)
	recv := r.receiver()
	r.agent.start()
	w := r.log.stream(300, 50*time.Millisecond, 0)
	defer w.stop(t)

	r.sleep(2 * time.Second)
	recv.kill()
	r.waitMetric("sharkfin_outbox_bytes", 20*time.Second, func(v float64) bool { return v > 0 })
	r.sleep(time.Second) // more events pile up
	outbox := r.agent.metric("sharkfin_outbox_bytes")
	if outbox == 0 {
		t.Fatal("outbox empty before the kill")
	}
	delivered := len(r.poll().scores)
	r.agent.kill()
	killedAt := r.log.Lines()
	time.Sleep(time.Second) // the log grows while the agent is down

	r.agent.start()
	r.sleep(2 * time.Second)
	if v := r.agent.metric("sharkfin_outbox_bytes"); v == 0 {
		t.Errorf("outbox empty after the restart, receiver still down")
	}
	r.receiver()
	back := time.Now()
	r.sleep(time.Second)
	w.stop(t)
	r.waitAll(90 * time.Second)

	d := r.verify()
	if d.dups > sendBatch {
		t.Errorf("%d duplicates: more than the one batch (%d) whose ack the receiver's crash could have lost", d.dups, sendBatch)
	}
	t.Logf("agent killed with %.0f bytes in the outbox, %d events delivered, %d lines written; "+
		"all delivered %v after the receiver returned; %d lines written; %s",
		outbox, delivered, killedAt, time.Since(back).Round(time.Millisecond), r.log.Lines(), d.summary())
}
