package agentfluent_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/e2etest"
)

// rig is one test's set-up: a log written by the test, the agent following
// it and shipping to a receiver address where receivers come and go, and
// what they decoded.
type rig struct {
	t       *testing.T
	cfg     agentConfig
	log     *webLog
	agent   *agent
	out     string // the receivers' entries
	entries *entryLog
	got     *delivery
}

// newRig prepares a rig whose log has nIPs addresses and lines step apart;
// edit, when not nil, changes the agent's configuration. It starts nothing.
func newRig(t *testing.T, nIPs int, step time.Duration, edit func(*agentConfig)) *rig {
	t.Helper()
	needBinaries(t)
	dir := t.TempDir()
	cfg := agentConfig{Dir: dir, Log: filepath.Join(dir, "access.log"), Fluentd: e2etest.FreeAddr(t), Metrics: e2etest.FreeAddr(t)}
	if edit != nil {
		edit(&cfg)
	}
	out := filepath.Join(dir, "entries.jsonl")
	return &rig{t: t, cfg: cfg, log: newWebLog(t, cfg.Log, nIPs, step), agent: newAgent(t, cfg), out: out,
		entries: &entryLog{path: out}, got: newDelivery(t, loadOracle(t))}
}

// receiver starts a receiver on the rig's address.
func (r *rig) receiver(flags ...string) *receiver {
	r.t.Helper()
	return startReceiver(r.t, r.cfg.Fluentd, r.out, flags...)
}

// poll reads what the receivers decoded since the last poll.
func (r *rig) poll() *delivery {
	r.t.Helper()
	r.got.update(r.entries.poll(r.t))
	return r.got
}

// waitAll waits up to limit until an event arrived for every (address,
// window) written, and the "model loaded" notice of every start of the
// agent, and the agent's outbox is empty; it returns how long that took.
// The log must be complete: the agent closes the last windows once the
// input has been idle for the lateness.
func (r *rig) waitAll(limit time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	var outbox float64
	ok := waitFor(limit, func() bool {
		d := r.poll()
		if len(d.scores) < len(r.log.truth) || d.countAgent("model loaded") < r.agent.starts {
			return false
		}
		outbox = r.agent.metric("sharkfin_outbox_bytes")
		return outbox == 0
	})
	if !ok {
		r.t.Fatalf("after %v: %d of %d events arrived, outbox %v bytes; %s", limit, len(r.got.scores),
			len(r.log.truth), outbox, r.got.summary())
	}
	return time.Since(start)
}

// verify checks what arrived against the ground truth: every (address,
// window) once, with its counts and verdict, in window order per address,
// and no line counted late by the running agent.
func (r *rig) verify() *delivery {
	r.t.Helper()
	d := r.poll()
	d.check(r.log.truth)
	d.checkOrder()
	if late := r.agent.metric("sharkfin_lines_late_total"); late != 0 {
		r.t.Errorf("%.0f lines counted late: they are missing from their windows' events", late)
	}
	return d
}

// waitMetric waits up to limit until cond holds for a metric of the agent.
func (r *rig) waitMetric(name string, limit time.Duration, cond func(float64) bool) float64 {
	r.t.Helper()
	var v float64
	if !waitFor(limit, func() bool {
		v = r.agent.metric(name)
		return cond(v)
	}) {
		r.t.Fatalf("%s is %v after %v", name, v, limit)
	}
	return v
}

// sleep waits d while requiring the agent to stay alive.
func (r *rig) sleep(d time.Duration) {
	r.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		r.agent.requireAlive()
		time.Sleep(min(100*time.Millisecond, time.Until(end)))
	}
}
