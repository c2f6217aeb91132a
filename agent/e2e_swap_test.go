package agent_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
)

// TestAgent_ModelSwapsUnderLoad replaces the model file 200 times, between
// two versions, while 1,000,000 lines are written at a steady rate: every
// swap is taken (sharkfin_model_info shows it), the counts equal the lines
// written, and every event is scored wholly by the model it names (its
// cluster, distance and threshold are what that model gives its features):
// no window is scored by a half-loaded model.
func TestAgent_ModelSwapsUnderLoad(t *testing.T) {
	const (
		swaps = 200
		lines = 1_000_000
	)
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	orig := exampleModelBytes(t)
	vA := []byte(strings.Replace(string(orig), `"version": "example-1"`, `"version": "swap-a"`, 1))
	vB, err := os.ReadFile(trainModel(t, dir, "swap-b"))
	if err != nil {
		t.Fatal(err)
	}
	// The model check notices a file by its size and time: make the two
	// versions differ in size too, as most versions do.
	if len(vA) == len(vB) {
		vB = append(vB, '\n')
	}
	models := map[string]*detect.Scorer{}
	for _, data := range [][]byte{vA, vB} {
		m, err := detect.DecodeModel(data)
		if err != nil {
			t.Fatal(err)
		}
		if models[m.ID()], err = detect.NewScorer(m, record.KindWeb); err != nil {
			t.Fatal(err)
		}
	}
	if len(models) != 2 {
		t.Fatalf("model versions %v", models)
	}
	modelPath := filepath.Join(dir, "model.json")
	replaceFile(t, modelPath, vA)
	logPath := filepath.Join(dir, "access.log")
	h := newAgent(t, dir, e2eConfig{Inputs: []e2eInput{{Name: "web", Path: logPath}}, Model: modelPath, ModelCheck: "100ms"})
	events := newEventLog(h)
	// 16 clients, a line every 60 ms of event time: 1,000 windows.
	g := newTraffic("web", 16, 12, 60*time.Millisecond)
	lf := openLog(t, logPath)
	h.startReady()

	inUse := func(id string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, err := scrapeSample(ctx, h.metrics, "sharkfin_model_info", `model="`+id+`"`)
		return err == nil && v == 1
	}
	// The writer: 1,000,000 lines at 30,000 a second.
	var wg sync.WaitGroup
	var written time.Duration
	stop := make(chan struct{})
	wg.Go(func() {
		start := time.Now()
		p := newPacer(30_000)
		var buf []byte
		for g.seq < lines {
			select {
			case <-stop:
				return
			default:
			}
			if n := p.due(min(5000, lines-g.seq)); n > 0 {
				buf = g.lines(buf[:0], n)
				lf.write(buf)
			}
			time.Sleep(5 * time.Millisecond)
		}
		written = time.Since(start)
	})
	swapStart := time.Now()
	var swapsDone time.Duration
	for i := range swaps {
		data, id := vB, "web@swap-b"
		if i%2 == 1 {
			data, id = vA, "web@swap-a"
		}
		replaceFile(t, modelPath, data)
		if !waitFor(10*time.Second, func() bool { h.requireAlive(); return inUse(id) }) {
			close(stop)
			wg.Wait()
			t.Fatalf("swap %d to %s not taken within 10s", i+1, id)
		}
	}
	swapsDone = time.Since(swapStart)
	wg.Wait()
	events.waitCounts(g.truth, 60*time.Second)
	h.stop(5 * time.Second)
	events.requireCounts(g.truth)
	events.requireOnePerWindow()

	names := detect.FeatureNames(record.KindWeb)
	vec := make([]float64, len(names))
	byModel := map[string]int{}
	for _, p := range events.ipScores() {
		sc, ok := models[p.ev.Model]
		if !ok {
			t.Fatalf("event scored by %q", p.ev.Model)
		}
		byModel[p.ev.Model]++
		for i, n := range names {
			vec[i] = p.ev.Features[n]
		}
		s := sc.Score(vec)
		if s.Cluster != p.ev.Cluster || math.Abs(s.Distance-p.ev.Distance) > 1e-9*math.Max(1, s.Distance) ||
			s.Threshold != p.ev.Threshold || s.Anomalous != p.ev.Anomalous {
			t.Fatalf("event %s says %s: cluster %d distance %v threshold %v; that model gives %d, %v, %v",
				p.ev.EventID, p.ev.Model, p.ev.Cluster, p.ev.Distance, p.ev.Threshold, s.Cluster, s.Distance, s.Threshold)
		}
	}
	if len(byModel) != 2 {
		t.Errorf("events by model %v: want both versions", byModel)
	}
	t.Logf("%d swaps in %s while %d lines were written in %s; events by model %v", swaps, swapsDone.Round(time.Millisecond),
		g.seq, written.Round(time.Millisecond), byModel)
}
