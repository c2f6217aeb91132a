package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
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

	ctx := event.Context{Kind: "web", Host: "old-host", Source: "web", Model: "web@old", Names: []string{"hits", "bytes"}}
	ctxEnc, _ := ctx.MarshalBinary()
	ctxID := event.ContextID(ctxEnc)
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	pack := func(ip string, ctx uint64) []byte {
		p := event.Packed{Context: ctx, Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Key: ip,
			Values: []float64{12, 3456}, Cluster: 1, Distance: 0.5, Threshold: 2, Score: 0.25}
		b, _ := p.AppendBinary(nil)
		return b
	}
	notice := &event.Event{Type: event.TypeAgent, Kind: "agent", Host: "old-host", Source: "agent", WindowStart: start,
		WindowEnd: start, Level: "info", Message: "planted", EventID: "planted-notice"}
	noticeJSON, err := notice.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(state.Options{Path: statePath})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&state.Commit{Events: [][]byte{
		noticeJSON,
		pack("192.0.2.1", ctxID),
		pack("192.0.2.2", ctxID+1), // no such context
		{event.PackedTag, 0xff},    // cut short
		pack("192.0.2.3", ctxID),
	}, Contexts: map[uint64][]byte{ctxID: ctxEnc}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	h.start()
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
	if !ok || strings.Join(got, ",") != "planted,192.0.2.1,192.0.2.3" {
		t.Fatalf("delivered %q, want the notice, 192.0.2.1 and 192.0.2.3 in order", got)
	}
	for _, p := range log.order {
		if p.ev.SrcIP == "192.0.2.1" {
			want := event.ID("old-host", "web", event.TypeIPScore, "192.0.2.1", start)
			if p.ev.EventID != want || p.ev.Model != "web@old" || p.ev.Features["bytes"] != 3456 {
				t.Errorf("packed event printed as %s", p.raw)
			}
		}
	}
	if !waitFor(10*time.Second, func() bool { return strings.Contains(h.stderrText(), "cannot be decoded were skipped") }) {
		t.Fatal("no error logged for the undecodable events")
	}
	if n := strings.Count(h.stderrText(), "cannot be decoded were skipped"); n != 1 {
		t.Errorf("the skip was logged %d times, want once", n)
	}
	if !strings.Contains(h.stderrText(), "events=2") {
		t.Errorf("the log does not say 2 events were skipped:\n%s", h.stderrText())
	}
	h.stop(5 * time.Second)
	s, err = state.Open(state.Options{Path: statePath})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _, err := s.OutboxStats(); err != nil || n != 0 {
		t.Fatalf("outbox holds %d events after the stop (%v)", n, err)
	}
}
