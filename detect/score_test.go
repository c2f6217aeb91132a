package detect

import (
	"math"
	"strings"
	"testing"

	"github.com/socx/sharkfin/record"
)

// scoreModel is a 2-feature web model over hits_2xx and hits_non2xx.
func scoreModel(log1p bool) *Model {
	m := validModel()
	m.Features = []string{"hits_non2xx", "hits_2xx"} // not in vector order
	m.Transform = Transform{Log1p: log1p, Mean: []float64{0.5, 1}, Std: []float64{0.5, 2}}
	m.Centroids = [][]float64{{0, 0}, {1, 1}, {3, -1}}
	m.Thresholds = []float64{1, 2, 0.5}
	return m
}

// webVec is a full web vector with the given hits_2xx and hits_non2xx.
func webVec(ok, bad float64) []float64 {
	v := make([]float64, webFeatureCount)
	v[WebHits2xx], v[WebHitsNon2xx] = ok, bad
	v[WebHits] = ok + bad
	return v
}

func TestScorer_MatchesHandComputation(t *testing.T) {
	for _, log1p := range []bool{true, false} {
		m := scoreModel(log1p)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		s, err := NewScorer(m, record.KindWeb)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][2]float64{{0, 0}, {1, 1}, {10, 0}, {3, 7}, {0, 100}, {1000, 1000}, {-5, 2}} {
			ok, bad := in[0], in[1]
			// By hand: model feature 0 is hits_non2xx, 1 is hits_2xx.
			f := func(x float64) float64 {
				if log1p {
					return math.Log1p(math.Max(x, 0))
				}
				return x
			}
			z := [2]float64{(f(bad) - 0.5) / 0.5, (f(ok) - 1) / 2}
			best, bestD := -1, math.Inf(1)
			for c, cen := range m.Centroids {
				d := math.Hypot(z[0]-cen[0], z[1]-cen[1])
				if d < bestD {
					best, bestD = c, d
				}
			}
			want := bestD / m.Thresholds[best]
			got := s.Score(webVec(ok, bad))
			if got.Cluster != best || math.Abs(got.Distance-bestD) > 1e-12 || got.Threshold != m.Thresholds[best] ||
				math.Abs(got.Score-want) > 1e-12 || got.Anomalous != (want > 1) {
				t.Errorf("log1p=%v %v: got %+v, want cluster %d distance %v score %v", log1p, in, got, best, bestD, want)
			}
			out := make([]float64, 2)
			s.Transform(webVec(ok, bad), out)
			if math.Abs(out[0]-z[0]) > 1e-12 || math.Abs(out[1]-z[1]) > 1e-12 {
				t.Errorf("log1p=%v %v: Transform = %v, want %v", log1p, in, out, z)
			}
		}
	}
}

func TestScorer_ScoreIsDistanceOverThreshold(t *testing.T) {
	m := validModel()
	m.Features = []string{"hits_2xx", "hits_non2xx"}
	m.Transform = Transform{Log1p: false, Mean: []float64{0, 0}, Std: []float64{1, 1}}
	m.Centroids = [][]float64{{0, 0}, {100, 100}}
	m.Thresholds = []float64{5, 1}
	s, err := NewScorer(m, record.KindWeb)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ok, bad   float64
		cluster   int
		score     float64
		anomalous bool
	}{
		{0, 0, 0, 0, false},
		{3, 4, 0, 1, false}, // exactly on the threshold: not anomalous
		{6, 8, 0, 2, true},
		{3, 0, 0, 0.6, false},
		{100, 103, 1, 3, true},
		{100, 100.5, 1, 0.5, false},
	}
	for _, tt := range tests {
		got := s.Score(webVec(tt.ok, tt.bad))
		if got.Cluster != tt.cluster || math.Abs(got.Score-tt.score) > 1e-12 || got.Anomalous != tt.anomalous {
			t.Errorf("(%v, %v): %+v, want cluster %d score %v anomalous %v", tt.ok, tt.bad, got, tt.cluster, tt.score, tt.anomalous)
		}
		if got.Score != got.Distance/got.Threshold {
			t.Errorf("(%v, %v): score %v != distance %v / threshold %v", tt.ok, tt.bad, got.Score, got.Distance, got.Threshold)
		}
	}
}

func TestNewScorer_Rejects(t *testing.T) {
	m := validModel()
	if _, err := NewScorer(m, record.KindProxy); err == nil ||
		!strings.Contains(err.Error(), "web") || !strings.Contains(err.Error(), "proxy") {
		t.Fatalf("web model for proxy input: %v; want an error naming both kinds", err)
	}
	m.Features[0] = "denied" // not validated: NewScorer must still refuse
	if _, err := NewScorer(m, record.KindWeb); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("unknown feature: %v", err)
	}
}

func TestScorer_ScoreAllocatesNothing(t *testing.T) {
	s, err := NewScorer(scoreModel(true), record.KindWeb)
	if err != nil {
		t.Fatal(err)
	}
	if s.Model() == nil {
		t.Fatal("Model() is nil")
	}
	vec := webVec(12, 3)
	var sink Score
	if allocs := testing.AllocsPerRun(1000, func() { sink = s.Score(vec) }); allocs != 0 {
		t.Fatalf("Score allocates %v", allocs)
	}
	// With a vocabulary, through both rules.
	m := scoreModel(true)
	m.Vocabulary = NewVocabBuilderSeeded(1).Vocabulary()
	if s, err = NewScorer(m, record.KindWeb); err != nil {
		t.Fatal(err)
	}
	full := make([]float64, len(FeatureNames(record.KindWeb)))
	full[WebHits], full[WebPost], full[WebDistinctPaths], full[WebRareHits], full[WebRareErrors] = 40, 40, 1, 40, 5
	if allocs := testing.AllocsPerRun(1000, func() { sink = s.ScoreKey("192.0.2.1", full) }); allocs != 0 || !sink.Flood || !sink.Probe {
		t.Fatalf("Score with the rules allocates %v (%+v)", allocs, sink)
	}
	_ = sink
}

func BenchmarkScorer_Score(b *testing.B) {
	// A realistic model: the default web features and 8 centroids.
	m, _, err := Train(blobRows(2000, 11), TrainConfig{Kind: record.KindWeb, K: 8, Restarts: 1, Now: fixedNow, MinShare: -1})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewScorer(m, record.KindWeb)
	if err != nil {
		b.Fatal(err)
	}
	vecs := make([][]float64, 64)
	for i := range vecs {
		vecs[i] = webVec(float64(i*7), float64(i%5))
		vecs[i][WebDistinctPaths], vecs[i][WebPost], vecs[i][WebErrorRatio] = float64(i%9), float64(i%3), 0.1
	}
	var sink Score
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink = s.Score(vecs[i%len(vecs)])
	}
	_ = sink
}

// The lookup is math.Log1p bit for bit, on and around every whole number
// it holds, and falls back beyond.
func TestLog1pCount_IsLog1p(t *testing.T) {
	for i := -2; i <= len(log1pSmall)+2; i++ {
		for _, x := range []float64{float64(i), math.Nextafter(float64(i), math.Inf(1)), math.Nextafter(float64(i), math.Inf(-1)), float64(i) + 0.5} {
			if got, want := log1pCount(x), math.Log1p(x); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("log1pCount(%v) = %v, math.Log1p %v", x, got, want)
			}
		}
	}
	for _, x := range []float64{math.Inf(1), math.NaN(), 1e300, math.Copysign(0, -1)} {
		if got, want := log1pCount(x), math.Log1p(x); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("log1pCount(%v) = %v, math.Log1p %v", x, got, want)
		}
	}
}
