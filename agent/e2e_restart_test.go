package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLog writes n lines of g to path in one go.
func writeLog(t testing.TB, path string, g *traffic, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	for n > 0 {
		k := min(n, 50_000)
		buf = g.lines(buf[:0], k)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// TestAgent_CleanRestartReprocessesNothing stops the agent with SIGTERM
// once it has counted a log, starts it again on the same state and files,
// and expects no ip_score event from the second run: every line was
// committed as counted, every window as emitted, every event as delivered.
func TestAgent_CleanRestartReprocessesNothing(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)
	g := newTraffic("web", 32, 3, 10*time.Millisecond)
	writeLog(t, logPath, g, 40_000)

	h.startReady()
	took := events.waitCounts(g.truth, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	stop1 := h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	before := len(events.ipScores())

	h.startReady()
	// Longer than lateness (idle windows would close) and several commits.
	time.Sleep(2500 * time.Millisecond)
	h.requireAlive()
	stop2 := h.stop(5 * time.Second)
	events.refresh()
	if after := len(events.ipScores()); after != before || events.dups != 0 {
		t.Errorf("second run printed %d new ip_score events and %d repeated ones; want none", after-before, events.dups)
	}
	if n := len(events.agentEvents("model loaded")); n != 2 {
		t.Errorf("%d \"model loaded\" events, want one per run", n)
	}
	events.requireCounts(g.truth)
	events.requireOnePerWindow()
	t.Logf("clean restart: %d lines, %d events, counted in %s; SIGTERM exits took %s and %s; second run printed no ip_score event",
		g.seq, before, took.Round(time.Millisecond), stop1.Round(time.Millisecond), stop2.Round(time.Millisecond))
}

// TestAgent_SIGTERMMidIngest stops the agent with SIGTERM several times
// while it reads a large backlog: it must exit 0 within 5s each time, and
// the runs together count every line exactly once.
func TestAgent_SIGTERMMidIngest(t *testing.T) {
	lines := 600_000
	if longE2E() {
		lines = 2_000_000
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)
	g := newTraffic("web", 64, 4, 10*time.Millisecond)
	writeLog(t, logPath, g, lines)

	readAtStop, stops := h.stopMidIngest(3)
	h.startReady()
	took := events.waitCounts(g.truth, 60*time.Second)
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	m, err := scrapeMetrics(ctx, h.metrics)
	cancel()
	if err != nil || m["sharkfin_lines_read_total"] == 0 {
		t.Errorf("the last run read %.0f lines (%v): the stopped runs read the whole backlog, none was stopped mid-ingest",
			m["sharkfin_lines_read_total"], err)
	}
	h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	events.requireOnePerWindow()
	if events.dups != 0 {
		t.Errorf("%d events printed twice across clean stops; a clean stop must leave nothing printed in the outbox", events.dups)
	}
	t.Logf("SIGTERM mid-ingest: %d lines; stops after reading %v lines took %v; the last run finished %s after its start; %d events, %d duplicates",
		lines, readAtStop, stops, took.Round(time.Millisecond), len(events.ipScores()), events.dups)
}

// TestAgent_SecondInstanceFailsFast starts a second agent on the state of a
// running one: it must exit non-zero within 3s saying the state is locked
// by another process, and the first must run on.
func TestAgent_SecondInstanceFailsFast(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	first := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	g := newTraffic("web", 8, 5, 10*time.Millisecond)
	writeLog(t, logPath, g, 1000)
	first.startReady()

	second := newHarness(t, first.cfg)
	second.dir = t.TempDir() // its own stdout and stderr files
	start := time.Now()
	r := second.start()
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
		t.Fatalf("second agent still running 3s after start")
	}
	took := time.Since(start)
	msg := second.stderrText()
	if r.exitCode() == 0 {
		t.Errorf("second agent exited 0; stderr:\n%s", msg)
	}
	low := strings.ToLower(msg)
	if !strings.Contains(low, "lock") || !strings.Contains(low, "another") {
		t.Errorf("second agent's message does not say the state is locked by another process:\n%s", msg)
	}
	first.requireAlive()
	first.stop(5 * time.Second)
	t.Logf("second instance: exit %d after %s: %s", r.exitCode(), took.Round(time.Millisecond), strings.TrimSpace(msg))
}
