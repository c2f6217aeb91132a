package agentfluent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/testpki"
)

// TestAgent_TLS delivers to a TLS receiver. With a CA file that did not
// sign the receiver's certificate, the agent says so, naming the file,
// and keeps every event in its outbox; once the configuration names the
// right CA and the agent restarts, they all arrive.
func TestAgent_TLS(t *testing.T) {
	var wrong, right *testpki.CA
	r := newRig(t, 50, 10*time.Millisecond, func(c *agentConfig) {
		right = testpki.NewCA(t, c.Dir, "right-ca")
		wrong = testpki.NewCA(t, c.Dir, "wrong-ca")
		c.TLS, c.CAFile = true, wrong.File
	})
	cert, key := right.IssueServer(t, r.cfg.Dir)
	r.receiver("-tls-cert", cert, "-tls-key", key)
	// Five windows of 50 addresses, written before the agent starts.
	if err := r.log.write(5 * r.log.linesPerWindow()); err != nil {
		t.Fatal(err)
	}

	r.agent.start()
	r.waitMetric("sharkfin_events_queued_total", 20*time.Second, func(v float64) bool {
		return v >= float64(len(r.log.truth))
	})
	r.sleep(2 * time.Second) // several delivery attempts
	if outbox := r.agent.metric("sharkfin_outbox_bytes"); outbox == 0 {
		t.Errorf("outbox empty although the receiver's certificate is not trusted")
	}
	if n := len(r.entries.poll(t)); n != 0 {
		t.Errorf("the receiver decoded %d entries from an agent that should not trust it", n)
	}
	if delivered := r.agent.metric("sharkfin_events_delivered_total"); delivered != 0 {
		t.Errorf("%v events counted as delivered with the wrong CA", delivered)
	}
	logged := r.agent.logText()
	var refusal string
	for line := range strings.Lines(logged) {
		if strings.Contains(line, "delivery failed") {
			refusal = line
			break
		}
	}
	if !strings.Contains(refusal, wrong.File) || !strings.Contains(refusal, "certificate") {
		t.Errorf("the delivery error does not name the CA file %s and the certificate problem:\n%s", wrong.File, refusal)
	}
	r.agent.stop()

	// Fix the configuration and restart.
	fixed := r.cfg
	fixed.CAFile = right.File
	fixed.write(t)
	r.agent.start()
	r.waitAll(60 * time.Second)
	d := r.verify()
	t.Logf("wrong CA refused with: %s; after the fix %s", strings.TrimSpace(refusal), d.summary())
}
