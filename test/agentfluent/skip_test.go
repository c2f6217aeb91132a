package agentfluent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/state"
)

// An outbox record the sender cannot decode (a packed event whose context
// is missing, one cut short) is skipped with one log line, and the events
// around it reach Fluentd in order, rendered as the JSON they pack: the
// Fluentd sender must not retry a record it can never send. The records
// are planted in the state file before the agent starts, as a damaged or
// foreign outbox would be.
func TestAgent_FluentdSkipsUndecodableOutboxRecords(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	cfg := agentConfig{Dir: dir, Log: filepath.Join(dir, "access.log"), Fluentd: freeAddr(t), Metrics: freeAddr(t)}
	if err := os.WriteFile(cfg.Log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := event.Context{Kind: "web", Host: "old-host", Source: "web", Model: "web@old", Names: []string{"hits", "bytes"}}
	ctxEnc, err := ctx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctxID := event.ContextID(ctxEnc)
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	pack := func(ip string, ctx uint64) []byte {
		p := event.Packed{Context: ctx, Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Key: ip,
			Values: []float64{12, 3456}, Cluster: 1, Distance: 0.5, Threshold: 2, Score: 0.25}
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s, err := state.Open(state.Options{Path: filepath.Join(dir, "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&state.Commit{Events: [][]byte{
		pack("192.0.2.1", ctxID),
		pack("192.0.2.2", ctxID+1), // no such context
		{event.PackedTag, 0xff},    // cut short
		pack("192.0.2.3", ctxID),
	}, Contexts: map[uint64][]byte{ctxID: ctxEnc}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "entries.jsonl")
	startReceiver(t, cfg.Fluentd, out)
	a := newAgent(t, cfg)
	a.start()
	entries := &entryLog{path: out}
	var got []entry
	ok := waitFor(30*time.Second, func() bool {
		got = got[:0]
		for _, e := range entries.poll(t) {
			if e.Record["host"] == "old-host" {
				got = append(got, e)
			}
		}
		return len(got) >= 2 && a.metric("sharkfin_outbox_bytes") == 0
	})
	var ips []string
	for _, e := range got {
		ips = append(ips, e.Record["src_ip"].(string))
	}
	if !ok || strings.Join(ips, ",") != "192.0.2.1,192.0.2.3" {
		t.Fatalf("Fluentd got %q (outbox drained: %v), want 192.0.2.1 then 192.0.2.3", ips, ok)
	}
	for _, e := range got {
		id := event.ID("old-host", "web", event.TypeIPScore, e.Record["src_ip"].(string), start)
		feats, _ := e.Record["features"].(map[string]any)
		if e.Tag != "sharkfin.web.ip_score" || e.Record["event_id"] != id || e.Record["model"] != "web@old" ||
			number(feats["bytes"]) != 3456 || number(e.Record["score"]) != 0.25 {
			t.Errorf("packed event delivered as tag %s record %v", e.Tag, e.Record)
		}
	}
	a.stop()
	logText := a.logText()
	if n := strings.Count(logText, "cannot be decoded were skipped"); n != 1 || !strings.Contains(logText, "events=2") {
		t.Errorf("the skip of 2 events was logged %d times; log:\n%s", n, a.logTail(3000))
	}
	if strings.Contains(logText, "delivery failed") {
		t.Errorf("an undecodable record made delivery fail; log:\n%s", a.logTail(3000))
	}
}
