package agentfluent_test

import (
	"github.com/socx/sharkfin/internal/e2etest"

	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seed is the seed of the receiver's faults: SHARKFIN_E2E_SEED or def.
func seed(t testing.TB, def uint64) uint64 { return e2etest.Seed(t, def) }

// TestAgent_FlappingReceiver delivers about 100,000 events (300,000 with
// SHARKFIN_E2E_LONG=1) to a receiver that refuses chunks, withholds acks
// and cuts connections mid-stream at random: none is lost, duplicates
// carry the same record, and the events of every address arrive in window
// order.
func TestAgent_FlappingReceiver(t *testing.T) {
	const nIPs = 2000
	windows := 50
	if long() {
		windows = 150
	}
	// One line per address and window: 2000 lines a minute of event time.
	r := newRig(t, nIPs, window/nIPs, nil)
	s := seed(t, 7)
	recv := r.receiver("-flap", "5000", "-drop-acks", "0.01", "-cut", "3000000", "-seed", fmt.Sprint(s))
	r.agent.start()
	start := time.Now()
	w := r.log.stream(nIPs, 100*time.Millisecond, int64(windows*nIPs))
	w.wait(t, 60*time.Second)
	r.waitAll(time.Duration(windows) * 2 * time.Second)
	took := time.Since(start)
	summary := recv.stop()

	d := r.verify()
	if want := windows * nIPs; len(d.scores) != want {
		t.Errorf("%d ip_score events, want %d", len(d.scores), want)
	}
	// Only the batches whose acks were lost come twice: those of withheld
	// acks and those cut after the receiver took them.
	lost := summaryCount(summary, "unacked") + summaryCount(summary, "cuts")
	if d.dups > lost*sendBatch {
		t.Errorf("%d duplicates, more than %d lost acks of at most %d events can explain", d.dups, lost, sendBatch)
	}
	t.Logf("seed %d; %d events in %v with the receiver %s; agent delivery errors %.0f; %s",
		s, len(d.scores), took.Round(time.Millisecond), summary, r.agent.metric("sharkfin_delivery_errors_total"), d.summary())
}

// summaryCount reads name=N from the receiver's summary line.
func summaryCount(summary, name string) int {
	for f := range strings.FieldsSeq(summary) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
