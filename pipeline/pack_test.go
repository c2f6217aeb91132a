package pipeline

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/tailer/format"
)

// What the committer stores (Scoring.Pack, with the Scoring's Context)
// renders as the sender delivers it byte for byte as the event the
// pipeline builds for the same result (Scoring.Event): unscored, scored
// with the bundled model, after a model swap, which must name the new
// model under a new context ID, and with a model whose probe and flood
// rules apply: anomalies of each reason.
func TestScoring_PackRendersAsEvent(t *testing.T) {
	m, err := detect.LoadModel(filepath.Join(repoRoot(t), "examples", "models", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	unscored, err := New(Config{Host: "node-1", Source: "nginx", Parser: format.Parser{Format: format.Combined}}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	scored, err := New(Config{Host: "node-1", Source: "nginx", Parser: format.Parser{Format: format.Combined}, Model: m}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	before := scored.sc
	m2 := *m
	m2.Version = m.Version + "-b"
	if err := scored.SetModel(&m2); err != nil {
		t.Fatal(err)
	}
	if id, _ := before.Context(); id == scored.sc.ctxID {
		t.Fatal("a model swap kept the context ID")
	}
	// With a path vocabulary the probe rule applies (the bundled model,
	// trained by an earlier release, has none).
	m3 := *m
	m3.Version, m3.Vocabulary = m.Version+"-vocab", detect.NewVocabBuilderSeeded(1).Vocabulary()
	probing, err := New(Config{Host: "node-1", Source: "nginx", Parser: format.Parser{Format: format.Combined}, Model: &m3}, func(*event.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var r event.Renderer
	reasons := map[string]int{}
	for _, sc := range []*Scoring{unscored.sc, before, scored.sc, probing.sc} {
		id, enc := sc.Context()
		var c event.Context
		if err := c.UnmarshalBinary(enc); err != nil || event.ContextID(enc) != id {
			t.Fatalf("context %x: %v", enc, err)
		}
		for i := range 200 {
			start := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC).UnixNano()
			res := detect.Result{Start: start, End: start + int64(time.Minute), Key: "203.0.113." + string(rune('0'+i%10))}
			for range sc.names {
				res.Vector = append(res.Vector, float64(rng.IntN(1000)))
			}
			res.Vector[len(res.Vector)-1] = rng.Float64() // error_ratio
			switch i % 3 {
			case 0: // a probe: 3 rare errors, the rest small
				for j := range res.Vector {
					res.Vector[j] = min(res.Vector[j], float64(rng.IntN(3)))
				}
				res.Vector[detect.WebRareErrors] = 3
			case 1: // a flood: 200 successful POSTs to an unknown path
				for j := range res.Vector {
					res.Vector[j] = min(res.Vector[j], float64(rng.IntN(3)))
				}
				res.Vector[detect.WebPost], res.Vector[detect.WebRareHits], res.Vector[detect.WebRareErrors] = 200, 200, 0
				res.Vector[detect.WebDistinctPaths], res.Vector[detect.WebHits] = 1, 200
			}
			score, ok := sc.Score(res.Key, res.Vector)
			var ev event.Event
			sc.Event(&res, score, ok, &ev)
			reasons[ev.Reason]++
			want, err := ev.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			var p event.Packed
			sc.Pack(&res, score, ok, &p)
			rec, _ := p.AppendBinary(nil)
			got, err := r.AppendJSON(nil, rec, &c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("model %q:\n got %s (%v)\nwant %s", c.Model, got, err, want)
			}
		}
	}
	if reasons[event.ReasonProbe] == 0 || reasons[event.ReasonDistance] == 0 || reasons[event.ReasonFlood] == 0 {
		t.Errorf("reasons %v: want anomalies of each", reasons)
	}
}

// The rules' names are the events' reasons.
func TestRuleNamesAreReasons(t *testing.T) {
	for r, want := range map[detect.Rule]string{detect.RuleProbe: event.ReasonProbe, detect.RuleFlood: event.ReasonFlood} {
		if r.String() != want || reasonOf(detect.Score{By: r}) != want {
			t.Errorf("rule %d: %q, reason %q; want %q", r, r.String(), reasonOf(detect.Score{By: r}), want)
		}
	}
	if reasonOf(detect.Score{}) != event.ReasonDistance {
		t.Error("no rule: not distance")
	}
}
