package agent_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trainModel trains a web model with `sharkfin train` on a generated log.
func trainModel(t testing.TB, dir, version string) string {
	t.Helper()
	logPath := filepath.Join(dir, "train-"+version+".log")
	writeLog(t, logPath, newTraffic("train", 24, 9, 100*time.Millisecond), 12_000)
	out := filepath.Join(dir, "model-"+version+".json")
	cmd := exec.Command(sharkfinBinary(t), "train", "--format", "combined", "--name", "web", "--version", version,
		"--seed", "1", "-o", out, logPath)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sharkfin train: %v\n%s", err, msg)
	}
	return out
}

// replaceFile puts data at path with a rename, as a deployment would.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writeUntil writes g's lines to l at rate until cond holds (checked
// between chunks) or limit passes; it reports whether cond held.
func writeUntil(l *logFile, g *traffic, rate float64, limit time.Duration, cond func() bool) bool {
	p := newPacer(rate)
	end := time.Now().Add(limit)
	var buf []byte
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		if n := p.due(int(rate)); n > 0 {
			buf = g.lines(buf[:0], n)
			l.write(buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// TestAgent_SIGHUPModelReload replaces the model file with an invalid one
// and sends SIGHUP: the agent logs the rejection, emits an agent event
// "model rejected" and keeps scoring with the old model. Then a valid model
// of another version replaces it and SIGHUP makes the agent use it. Lines
// keep flowing all along and are counted exactly.
func TestAgent_SIGHUPModelReload(t *testing.T) {
	const (
		oldModel = "web@example-1"
		newModel = "web@e2e-2"
		rate     = 2000.0
	)
	dir := t.TempDir()
	v2 := trainModel(t, dir, "e2e-2")
	modelPath := filepath.Join(dir, "model.json")
	orig := exampleModelBytes(t)
	replaceFile(t, modelPath, orig)
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: modelPath})
	events := newEventLog(h)
	// 100ms of event time per line at 2,000 lines/s: a window closes
	// every 0.3s.
	g := newTraffic("web", 8, 6, 100*time.Millisecond)
	lf := openLog(t, logPath)
	scoredWith := func(model string, after int) int {
		events.refresh()
		n := 0
		for _, p := range events.order[after:] {
			if p.ev.Type == "ip_score" && p.ev.Model == model {
				n++
			}
		}
		return n
	}
	position := func(msg string) int {
		events.refresh()
		for i, p := range events.order {
			if p.ev.Type == "agent" && p.ev.Message == msg {
				return i
			}
		}
		return -1
	}

	h.startReady()
	if !writeUntil(lf, g, rate, 20*time.Second, func() bool { h.requireAlive(); return scoredWith(oldModel, 0) > 0 }) {
		t.Fatalf("no event scored by %s after 20s", oldModel)
	}

	replaceFile(t, modelPath, []byte(`{"format": "sharkfin.model/v1", "name": "web", "centroids": [[1, 2`))
	h.signal(syscall.SIGHUP)
	rejected := -1
	if !writeUntil(lf, g, rate, 20*time.Second, func() bool {
		h.requireAlive()
		rejected = position("model rejected")
		return rejected >= 0 && scoredWith(oldModel, rejected) >= 2*len(g.ips)
	}) {
		t.Fatalf("after the invalid model: rejection at %d, %d events scored by %s after it", rejected, scoredWith(oldModel, max(rejected, 0)), oldModel)
	}
	keptOld := scoredWith(oldModel, rejected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if n, err := scrapeSample(ctx, h.metrics, "sharkfin_model_rejections_total"); err != nil || n != 1 {
		t.Errorf("sharkfin_model_rejections_total = %v, %v; want 1", n, err)
	}
	cancel()

	v2data, err := os.ReadFile(v2)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, modelPath, v2data)
	h.signal(syscall.SIGHUP)
	if !writeUntil(lf, g, rate, 20*time.Second, func() bool { h.requireAlive(); return scoredWith(newModel, 0) >= 2*len(g.ips) }) {
		t.Fatalf("no events scored by %s 20s after SIGHUP", newModel)
	}
	events.waitCounts(g.truth, 20*time.Second)
	h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	events.requireOnePerWindow()

	// The rejection: an agent event naming the kept model (and the
	// rejection counter, checked while the agent ran).
	rej := events.agentEvents("model rejected")[0].ev
	if rej.Level != "error" || rej.Detail["kept"] != oldModel || rej.Detail["error"] == "" {
		t.Errorf("model rejected event: level %q detail %v; want level error, kept %s and the error", rej.Level, rej.Detail, oldModel)
	}
	// The new model: announced, and every window closed after the switch
	// is scored by it, none by the old one.
	var loaded *jsonEvent
	for _, p := range events.agentEvents("model loaded") {
		if p.ev.Detail["model"] == newModel {
			loaded = &p.ev
		}
	}
	if loaded == nil || loaded.Detail["previous"] != oldModel {
		t.Errorf("no \"model loaded\" event for %s replacing %s: %+v", newModel, oldModel, loaded)
	}
	var models []string
	for _, p := range events.ipScores() {
		if len(models) == 0 || models[len(models)-1] != p.ev.Model {
			models = append(models, p.ev.Model)
		}
	}
	if strings.Join(models, " ") != oldModel+" "+newModel {
		t.Errorf("models of the ip_score events in order: %v; want %s, then %s only", models, oldModel, newModel)
	}
	t.Logf("SIGHUP: %d lines; %d events scored by %s after the rejection, %d by %s after the reload; %d rejection events",
		g.seq, keptOld, oldModel, scoredWith(newModel, 0), newModel, len(events.agentEvents("model rejected")))
}
