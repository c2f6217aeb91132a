package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/e2etest"
	"github.com/socx/sharkfin/state"
)

// The sender delivers every kind of record the outbox can hold, in order:
// JSON events (what notices and earlier versions store) and packed
// ip_score events with their contexts. Records it cannot decode (a packed
// event whose context is missing, bytes that are no event) are skipped
// with one error in the log, never retried forever, and the events after
// them still flow; the outbox ends empty.
func TestAgent_SenderDeliversPackedAndSkipsUndecodable(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}})
	statePath := filepath.Join(dir, "state", "state.db")
	if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
		t.Fatal(err)
	}

	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	notice := &event.Event{Type: event.TypeAgent, Kind: "agent", Host: "old-host", Source: "agent", WindowStart: start,
		WindowEnd: start, Level: "info", Message: "planted", EventID: "planted-notice"}
	noticeJSON, err := notice.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	planted := e2etest.PlantUndecodable(t, statePath, noticeJSON)

	h.startReady()
	log := newEventLog(h)
	var got []string
	ok := waitFor(20*time.Second, func() bool {
		log.refresh()
		got = got[:0]
		for _, p := range log.order {
			if p.ev.Host == "old-host" {
				got = append(got, p.ev.Message+p.ev.SrcIP)
			}
		}
		return len(got) >= 3
	})
	if want := "planted," + strings.Join(planted.Deliverable, ","); !ok || strings.Join(got, ",") != want {
		t.Fatalf("delivered %q, want %s in order", got, want)
	}
	for _, p := range log.order {
		if p.ev.SrcIP == planted.Deliverable[0] {
			want := event.ID(planted.Host, planted.Source, event.TypeIPScore, p.ev.SrcIP, planted.Start)
			if p.ev.EventID != want || p.ev.Model != planted.Model || p.ev.Features["bytes"] != planted.Bytes {
				t.Errorf("packed event printed as %s", p.raw)
			}
		}
	}
	// The two undecodable events are counted as skipped, once, and are no
	// delivery error; delivered counts the events printed, not the
	// skipped ones the outbox deleted with them.
	var skipped, failed, delivered float64
	if !waitFor(10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m, err := scrapeMetrics(ctx, h.metrics)
		skipped, failed, delivered = m["sharkfin_outbox_skipped_total"], m["sharkfin_delivery_errors_total"], m["sharkfin_events_delivered_total"]
		return err == nil && skipped > 0
	}) || skipped != 2 || failed != 0 {
		t.Errorf("sharkfin_outbox_skipped_total %v, sharkfin_delivery_errors_total %v; want 2 and 0", skipped, failed)
	}
	if !waitFor(10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m, err := scrapeMetrics(ctx, h.metrics)
		log.refresh()
		delivered = m["sharkfin_events_delivered_total"]
		return err == nil && delivered == float64(len(log.order))
	}) {
		t.Errorf("sharkfin_events_delivered_total %v, but %d events printed", delivered, len(log.order))
	}
	h.stop(5 * time.Second)
	s, err := state.Open(state.Options{Path: statePath})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _, err := s.OutboxStats(); err != nil || n != 0 {
		t.Fatalf("outbox holds %d events after the stop (%v)", n, err)
	}
}
