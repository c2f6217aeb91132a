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
// with the bundled model, and after a model swap, which must name the new
// model under a new context ID.
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
	rng := rand.New(rand.NewPCG(1, 2))
	var r event.Renderer
	for _, sc := range []*Scoring{unscored.sc, before, scored.sc} {
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
			score, ok := sc.Score(res.Key, res.Vector)
			var ev event.Event
			sc.Event(&res, score, ok, &ev)
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
}
