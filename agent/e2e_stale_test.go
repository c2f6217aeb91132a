package agent_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestAgent_ModelStaleAndAnomalyShare runs the agent with
// detect.max_model_age 1h on the bundled model (trained days ago): one
// "model stale" agent event and sharkfin_model_stale{kind="web"} 1, its age
// in sharkfin_model_age_seconds. Over two hours of event time,
// sharkfin_key_windows_scored_total counts the IP-windows printed and
// sharkfin_anomalous_share_last_hour is the share of anomalous ones among
// those of the last complete hour, as computed from the events. A freshly
// trained model then replaces the stale one: the gauge drops to 0 and no
// second stale event follows.
func TestAgent_ModelStaleAndAnomalyShare(t *testing.T) {
	dir := t.TempDir()
	fresh := trainModel(t, dir, "fresh-1")
	modelPath := filepath.Join(dir, "model.json")
	orig := exampleModelBytes(t)
	replaceFile(t, modelPath, orig)
	logPath := filepath.Join(dir, "access.log")
	// Two hours and ten minutes of event time: windows of two whole hours
	// close (and those of the third begin).
	g := newTraffic("web", 12, 21, time.Second)
	writeLog(t, logPath, g, 7800)
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: modelPath,
		MaxModelAge: "1h", ModelCheck: "200ms"})
	events := newEventLog(h)
	h.startReady()
	metric := h.sample
	var printed int
	hoursPrinted := func() int {
		hours := map[int64]bool{}
		for _, p := range events.ipScores() {
			hours[p.ev.WindowStart.Unix()/3600] = true
		}
		return len(hours)
	}
	// Every window printed and counted: three hours of them (the third
	// closes once the input is idle), as many scored as printed, the
	// outbox delivered.
	if !waitFor(60*time.Second, func() bool {
		h.requireAlive()
		events.refresh()
		printed = len(events.ipScores())
		return len(events.agentEvents("model stale")) > 0 && hoursPrinted() >= 3 && metric("sharkfin_key_windows_scored_total") == float64(printed) &&
			metric("sharkfin_events_queued_total") == metric("sharkfin_events_delivered_total")
	}) {
		t.Fatalf("after 30s: %d stale events, %d ip_score events printed, %v scored", len(events.agentEvents("model stale")), printed,
			metric("sharkfin_key_windows_scored_total"))
	}
	stale := events.agentEvents("model stale")[0].ev
	if stale.Level != "warn" || stale.Detail["kind"] != "web" || stale.Detail["model"] != "web@example-1" || stale.Detail["max_model_age"] != "1h0m0s" {
		t.Errorf("model stale event: %s %v", stale.Level, stale.Detail)
	}
	if v := metric("sharkfin_model_stale", `kind="web"`); v != 1 {
		t.Errorf("sharkfin_model_stale{kind=\"web\"} %v, want 1", v)
	}
	if age := metric("sharkfin_model_age_seconds", `kind="web"`); age < 3600 {
		t.Errorf("sharkfin_model_age_seconds %v, want over an hour", age)
	}

	// The share of the last complete hour, from the events.
	scored, anomalous := map[int64]int{}, map[int64]int{}
	for _, p := range events.ipScores() {
		hour := p.ev.WindowStart.Unix() / 3600
		scored[hour]++
		if p.ev.Anomalous {
			anomalous[hour]++
		}
	}
	var hours []int64
	for hr := range scored {
		hours = append(hours, hr)
	}
	slices.Sort(hours)
	if len(hours) < 3 {
		t.Fatalf("windows in %d hours, want 3", len(hours))
	}
	last := hours[len(hours)-2]
	want := float64(anomalous[last]) / float64(scored[last])
	if got := metric("sharkfin_anomalous_share_last_hour", `input="web"`); math.Abs(got-want) > 1e-12 {
		t.Errorf("sharkfin_anomalous_share_last_hour %v, want %v (%d of %d windows of hour %d)", got, want, anomalous[last], scored[last], last)
	}

	// A fresh model: not stale, and the old one's event is not repeated.
	data, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, modelPath, data)
	if !waitFor(20*time.Second, func() bool {
		h.requireAlive()
		return metric("sharkfin_model_stale", `kind="web"`) == 0 && metric("sharkfin_model_age_seconds", `kind="web"`) < 3600
	}) {
		t.Errorf("after a fresh model: sharkfin_model_stale %v, age %v s", metric("sharkfin_model_stale", `kind="web"`),
			metric("sharkfin_model_age_seconds", `kind="web"`))
	}
	h.stop(5 * time.Second)
	events.refresh()
	if n := len(events.agentEvents("model stale")); n != 1 {
		t.Errorf("%d model stale events, want 1", n)
	}
	t.Logf("stale event %v; share of hour %d: %d of %d windows anomalous", stale.Detail, last, anomalous[last], scored[last])
}
