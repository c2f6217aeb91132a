package agentfluent_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgent_Backpressure fills a small outbox while the receiver is down:
// the agent stops reading (sharkfin_backpressure 1, lines read frozen while
// the log keeps growing) with a flat memory footprint; when the receiver
// returns, the outbox drains, reading resumes where it stopped and every
// line ends up counted in its window, and an agent event tells that the
// backpressure ended.
func TestAgent_Backpressure(t *testing.T) {
	// 1MiB is the smallest outbox_max the configuration accepts.
	r := newRig(t, 500, 10*time.Millisecond, func(c *agentConfig) { c.OutboxMax = "1MiB" })
	r.agent.start()
	w := r.log.stream(500, 50*time.Millisecond, 0)
	defer w.stop(t)

	r.waitMetric("sharkfin_backpressure", 30*time.Second, func(v float64) bool { return v == 1 })
	pausedAt := r.log.Lines()
	r.sleep(time.Second) // batches read before the pause are counted
	read0 := r.agent.metric("sharkfin_lines_read_total")
	written0 := r.log.Lines()
	var rss []int64
	for range 20 {
		rss = append(rss, r.agent.rss())
		r.sleep(250 * time.Millisecond)
	}
	read1 := r.agent.metric("sharkfin_lines_read_total")
	written1 := r.log.Lines()
	outbox := r.agent.metric("sharkfin_outbox_bytes")
	if read1 != read0 {
		t.Errorf("lines read grew from %.0f to %.0f while paused", read0, read1)
	}
	if written1-written0 < 10000 {
		t.Fatalf("the log grew by only %d lines during the pause", written1-written0)
	}
	if outbox < 1<<20 {
		t.Errorf("paused with %.0f bytes in the outbox, below outbox_max", outbox)
	}
	lo, hi := slices.Min(rss), slices.Max(rss)
	if hi-rss[0] > 16<<20 {
		t.Errorf("RSS grew from %d to %d KiB while paused", rss[0]>>10, hi>>10)
	}

	r.receiver()
	back := time.Now()
	r.waitMetric("sharkfin_backpressure", 60*time.Second, func(v float64) bool { return v == 0 })
	resumed := time.Since(back)
	r.waitMetric("sharkfin_lines_read_total", 20*time.Second, func(v float64) bool { return v > read1 })
	r.sleep(2 * time.Second)
	w.stop(t)
	r.waitAll(90 * time.Second)

	d := r.verify()
	if read := r.agent.metric("sharkfin_lines_read_total"); read != float64(r.log.Lines()) {
		t.Errorf("lines read %.0f, written %d", read, r.log.Lines())
	}
	if !slices.ContainsFunc(d.agentMessages(), func(m string) bool { return strings.HasPrefix(m, "backpressure ended") }) {
		t.Errorf("no agent event about the backpressure; agent events: %q", d.agentMessages())
	}
	t.Logf("paused after %d lines written, outbox %.0f bytes; for 5s: lines read %.0f -> %.0f while written %d -> %d; "+
		"RSS %d..%d KiB (first %d); reading resumed %v after the receiver returned; %d lines; %s",
		pausedAt, outbox, read0, read1, written0, written1, lo>>10, hi>>10, rss[0]>>10,
		resumed.Round(time.Millisecond), r.log.Lines(), d.summary())
}
