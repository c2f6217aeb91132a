package agent_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/loggen"
	"github.com/socx/sharkfin/state"
)

// The agent on logs of many distinct clients: a day of 100,000 clients
// with two lines each (loggen.ManyClientsDay), stopped part way by SIGTERM
// or SIGKILL, and three such days against a one-day retention. The state
// must neither lose nor double-count a line nor grow past one retention.

// clientsLog writes days of the ManyClientsDay shape into one log, each
// day with 100,000 new clients, and returns the ground truth per window
// cell and per client.
func clientsLog(t *testing.T, path, input string, days int) (truth, map[string]clientTruth) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	cells := truth{}
	clients := map[string]clientTruth{}
	for d := range days {
		cfg := loggen.ManyClientsDay
		cfg.Seed, cfg.Start, cfg.IPOffset = uint64(101+d), e2eEpoch.AddDate(0, 0, d), d*cfg.IPs
		tr, err := loggen.Clients(w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for k, n := range tr.Lines {
			cells[winKey{Source: input, IP: k.IP, Start: k.Start}] += n
			c := clients[k.IP]
			if c.windows == 0 || k.Start < c.first {
				c.first = k.Start
			}
			c.last = max(c.last, k.Start)
			c.hits += int64(n)
			c.windows++
			clients[k.IP] = c
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return cells, clients
}

// clientTruth is what a client did: lines, windows, first and last window.
type clientTruth struct {
	hits        int64
	windows     int
	first, last int64
}

// finishClients runs the agent until the events hold every cell of the
// truth (at most limit), stops it, and checks the events (each count
// exact, one event per key and window) and every client's history. It
// returns how long the counts took.
func finishClients(t *testing.T, h *agentHarness, events *eventLog, cells truth, clients map[string]clientTruth, limit time.Duration) time.Duration {
	t.Helper()
	h.startReady()
	took := events.waitCounts(cells, limit)
	h.stop(5 * time.Second)
	events.requireCounts(cells)
	events.requireOnePerWindow()
	requireHistory(t, h, clients)
	return took
}

// requireHistory checks every client's history in the state file of h
// against the truth (the agent stopped: the read is of its last commit).
func requireHistory(t *testing.T, h *agentHarness, want map[string]clientTruth) {
	t.Helper()
	st, err := state.OpenReadOnly(filepath.Join(h.dir, "state", "state.db"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Top(state.KindIP, 0, state.ByHits)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Errorf("state holds %d clients, want %d", len(all), len(want))
	}
	bad := 0
	for _, got := range all {
		w, ok := want[got.Key]
		if ok && got.Hits == w.hits && got.Windows == w.windows && len(got.Recent) == w.windows &&
			got.FirstSeen.Unix() == w.first && got.LastSeen.Unix() == w.last {
			continue
		}
		if bad++; bad <= 5 {
			t.Errorf("client %s: state hits %d windows %d (%d recent) first %s last %s; want %+v (known %v)",
				got.Key, got.Hits, got.Windows, len(got.Recent), got.FirstSeen, got.LastSeen, w, ok)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d clients' histories differ from the log", bad, len(all))
	}
}

// TestAgent_ManyClientsDaySIGTERM reads the 100,000-client day from a
// backlog, stopped by SIGTERM three times while it reads: each stop exits
// 0 in under 5 s; the runs together count every line once, per window in
// the events and per client in the state.
func TestAgent_ManyClientsDaySIGTERM(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	cells, clients := clientsLog(t, logPath, "web", 1)
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)

	readAtStop, stops := h.stopMidIngest(3)
	took := finishClients(t, h, events, cells, clients, 60*time.Second)
	t.Logf("%d lines from %d clients in %d cells: SIGTERM after %v lines read took %v; the last run counted the rest in %s",
		cells.total(), len(clients), len(cells), readAtStop, stops, took.Round(time.Millisecond))
}

// TestAgent_ManyClientsDaySIGKILL kills the agent 20 times at random
// points of the same day's backlog (during start-up, reading, committing,
// maintaining the state), then lets a last run finish: exactly once holds.
func TestAgent_ManyClientsDaySIGKILL(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	cells, clients := clientsLog(t, logPath, "web", 1)
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	events := newEventLog(h)
	rng := rand.New(rand.NewPCG(e2eSeed(t, 12), 13))
	for range 20 {
		h.start()
		// A random point of the run's life, not a synchronisation.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if !h.running() {
			h.requireAlive() // exited by itself: fails
		}
		h.kill()
	}
	took := finishClients(t, h, events, cells, clients, 90*time.Second)
	t.Logf("20 SIGKILLs at random points, then %s to exact counts; %d distinct events, %d re-sent (at least once)",
		took.Round(time.Millisecond), len(events.ipScores()), events.dups)
}

// TestAgent_RetentionKeepsOneDay reads three days of 100,000 new clients
// each with state.retention 24h: the state file ends no larger than twice
// that of the first day alone, the first day's clients are forgotten and
// the last day's kept.
func TestAgent_RetentionKeepsOneDay(t *testing.T) {
	run := func(days int) (size int64, h *agentHarness, clients map[string]clientTruth) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "access.log")
		var cells truth
		cells, clients = clientsLog(t, logPath, "web", days)
		h = newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Retention: "24h"})
		events := newEventLog(h)
		h.startReady()
		events.waitCounts(cells, 120*time.Second+time.Duration(days)*30*time.Second)
		// The agent maintains its state when idle: wait until it is
		// done (nothing to fold, nothing past the retention, no index key
		// left to sweep).
		if !waitFor(30*time.Second, func() bool {
			h.requireAlive()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			m, err := scrapeMetrics(ctx, h.metrics)
			return err == nil && m["sharkfin_state_maintenance_due"] == 0 && m["sharkfin_state_history_backlog"] == 0 && m["sharkfin_state_sweep_pending"] == 0
		}) {
			t.Fatalf("state maintenance not done 30s after the last event: %s", h.diagnose())
		}
		h.stop(5 * time.Second)
		events.requireCounts(cells)
		fi, err := os.Stat(filepath.Join(dir, "state", "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size(), h, clients
	}
	oneDay, _, _ := run(1)
	// SHARKFIN_E2E_DAYS=6,12,24 measures longer catch-ups too (logged, for
	// the README; the file must stay within twice one day's).
	for _, f := range strings.Split(os.Getenv("SHARKFIN_E2E_DAYS"), ",") {
		if days, err := strconv.Atoi(f); err == nil && days > 0 {
			size, _, _ := run(days)
			t.Logf("state file after %d days: %.1f MiB (one day %.1f MiB)", days, float64(size)/(1<<20), float64(oneDay)/(1<<20))
			if size > 2*oneDay {
				t.Errorf("state file after %d days %d bytes, more than twice the %d of one day", days, size, oneDay)
			}
		}
	}
	threeDays, h, clients := run(3)
	if threeDays > 2*oneDay {
		t.Errorf("state file after three days %d bytes, more than twice the %d of one day", threeDays, oneDay)
	}

	st, err := state.OpenReadOnly(filepath.Join(h.dir, "state", "state.db"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := func(ip string) int {
		return int(time.Unix(clients[ip].last, 0).Sub(e2eEpoch) / (24 * time.Hour))
	}
	all, err := st.Top(state.KindIP, 0, state.ByHits)
	if err != nil {
		t.Fatal(err)
	}
	var kept [3]int
	for _, h := range all {
		kept[day(h.Key)]++
	}
	sum, err := st.Summary(state.KindIP)
	if err != nil {
		t.Fatal(err)
	}
	if kept[0] > 0 || sum.Keys > 110_000+len(clients)/3 || sum.Oldest.Before(e2eEpoch.AddDate(0, 0, 1)) {
		t.Errorf("after three days: %d first-day clients kept; %d keys, windows from %s (want about one day: 100,000 keys, none from the first day)",
			kept[0], sum.Keys, sum.Oldest)
	}
	if kept[2] != 100_000 {
		t.Errorf("%d of the last day's 100,000 clients kept", kept[2])
	}
	t.Logf("state file: one day %.1f MiB, three days %.1f MiB; after three days %d keys, %d windows in %d segments from %s to %s",
		float64(oneDay)/(1<<20), float64(threeDays)/(1<<20), sum.Keys, sum.Entries, sum.Segments, sum.Oldest, sum.Newest)
}
