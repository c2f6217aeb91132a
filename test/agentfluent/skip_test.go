package agentfluent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/internal/e2etest"
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
	cfg := agentConfig{Dir: dir, Log: filepath.Join(dir, "access.log"), Fluentd: e2etest.FreeAddr(t), Metrics: e2etest.FreeAddr(t)}
	if err := os.WriteFile(cfg.Log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	planted := e2etest.PlantUndecodable(t, filepath.Join(dir, "state.db"))

	out := filepath.Join(dir, "entries.jsonl")
	startReceiver(t, cfg.Fluentd, out)
	a := newAgent(t, cfg)
	a.start()
	entries := &entryLog{path: out}
	var got []entry
	ok := waitFor(30*time.Second, func() bool {
		got = got[:0]
		for _, e := range entries.poll(t) {
			if e.Record["host"] == planted.Host {
				got = append(got, e)
			}
		}
		return len(got) >= len(planted.Deliverable) && a.metric("sharkfin_outbox_bytes") == 0
	})
	var ips []string
	for _, e := range got {
		ips = append(ips, e.Record["src_ip"].(string))
	}
	if want := strings.Join(planted.Deliverable, ","); !ok || strings.Join(ips, ",") != want {
		t.Fatalf("Fluentd got %q (outbox drained: %v), want %s in order", ips, ok, want)
	}
	for _, e := range got {
		id := event.ID(planted.Host, planted.Source, event.TypeIPScore, e.Record["src_ip"].(string), planted.Start)
		feats, _ := e.Record["features"].(map[string]any)
		if e.Tag != "sharkfin.web.ip_score" || e.Record["event_id"] != id || e.Record["model"] != planted.Model ||
			number(feats["bytes"]) != planted.Bytes || number(e.Record["score"]) != planted.Score {
			t.Errorf("packed event delivered as tag %s record %v", e.Tag, e.Record)
		}
	}
	// Skipped once, counted, and no delivery error.
	if skipped, failed := a.metric("sharkfin_outbox_skipped_total"), a.metric("sharkfin_delivery_errors_total"); skipped != 2 || failed != 0 {
		t.Errorf("sharkfin_outbox_skipped_total %v, sharkfin_delivery_errors_total %v; want 2 and 0", skipped, failed)
	}
	a.stop()
}
