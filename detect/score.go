package detect

import (
	"fmt"
	"math"

	"github.com/socx/sharkfin/record"
)

// Score is the verdict on one feature vector.
type Score struct {
	Cluster   int
	Distance  float64 // Euclidean distance to the nearest centroid, transformed space
	Threshold float64 // that cluster's threshold (a probe's may be lower: see Probe)
	Score     float64 // Distance / Threshold
	Anomalous bool    // Score > 1
	// Probe: a web window with at least the model's ProbeRule rare errors
	// (requests for paths its vocabulary does not know, that failed). Its
	// score is at least its rare errors over the rule less a half (1.2 at
	// 3 of 3, 2 at 5), so that it is anomalous wherever it falls: its
	// Threshold is then Distance / Score, below its cluster's (a probe at
	// distance 0, on a centroid, keeps its cluster's threshold and score).
	// Never the overflow row (ScoreKey).
	Probe bool
	// Flood: a web window whose requests all went to one path its
	// vocabulary does not know, at least the model's FloodRule of them
	// POSTs and as many not failed (rare hits less rare errors): password
	// guessing or credential stuffing at a login no two clients were
	// served in training, or a web shell driven by its uploader. Its score
	// is at least its rare successes over the rule less a half (2.05 at 40
	// of 20). Per window, as the probe rule. Never the overflow row.
	Flood bool
	// By is the rule that set Score above what Distance over the
	// cluster's threshold gives (RuleNone: none did): the window's reason
	// (event.Reason).
	By Rule
}

// Rule is a scoring rule that makes a web window anomalous whatever its
// distance (Score.By).
type Rule uint8

// The rules.
const (
	RuleNone  Rule = iota
	RuleProbe      // Score.Probe
	RuleFlood      // Score.Flood
)

// String is the rule's name, as events give it for their reason: probe,
// flood ("" for RuleNone).
func (r Rule) String() string {
	switch r {
	case RuleProbe:
		return "probe"
	case RuleFlood:
		return "flood"
	}
	return ""
}

// Scorer scores feature vectors of one kind against a model. It holds
// scratch space and is not safe for concurrent use; make one per pipeline.
type Scorer struct {
	model   *Model
	idx     []int // model feature i is vector element idx[i]
	scratch []float64
	probe   float64 // the model's ProbeRule (0: none)
	flood   float64 // the model's FloodRule (0: none)
}

// NewScorer prepares m for vectors of kind (as produced by the
// Aggregator). The model must have been validated.
func NewScorer(m *Model, kind record.Kind) (*Scorer, error) {
	if mk := m.RecordKind(); mk != kind {
		return nil, fmt.Errorf("model %s is for %s logs, input is %s", m.ID(), m.Kind, kind)
	}
	idx := make([]int, len(m.Features))
	for i, name := range m.Features {
		j, err := featureIndex(kind, name)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.ID(), err)
		}
		idx[i] = j
	}
	return &Scorer{model: m, idx: idx, scratch: make([]float64, len(idx)), probe: float64(m.ProbeRule()),
		flood: float64(m.FloodRule())}, nil
}

// Model returns the scorer's model.
func (s *Scorer) Model() *Model { return s.model }

// Transform writes the model-space form of vec into out (len(out) must be
// the model's feature count).
func (s *Scorer) Transform(vec []float64, out []float64) {
	t := &s.model.Transform
	for i, j := range s.idx {
		x := vec[j]
		if t.Log1p {
			x = log1pCount(math.Max(x, 0))
		}
		out[i] = (x - t.Mean[i]) / t.Std[i]
	}
}

// Score transforms vec and finds the nearest centroid. It allocates nothing.
func (s *Scorer) Score(vec []float64) Score { return s.score(vec, true) }

// ScoreKey scores the vector of a window's key: as Score, but the overflow
// row (OverflowKey), whose counts are many clients' summed, is never a
// probe or a flood.
func (s *Scorer) ScoreKey(key string, vec []float64) Score {
	return s.score(vec, key != OverflowKey)
}

func (s *Scorer) score(vec []float64, probes bool) Score {
	x := s.scratch
	s.Transform(vec, x)
	best, dist := nearest(x, s.model.Centroids)
	thr := s.model.Thresholds[best]
	sc := dist / thr
	probe := probes && s.probe > 0 && len(vec) > WebRareErrors && vec[WebRareErrors] >= s.probe
	var by Rule
	// raise makes the window's score at least r, when the rule says so
	// and leaves the score's threshold above 0; at a centroid (distance 0,
	// never seen) it keeps its score.
	raise := func(rule Rule, r float64) {
		if sc < r && dist > 0 && dist/r > 0 {
			sc, thr, by = r, dist/r, rule
		}
	}
	if probe {
		raise(RuleProbe, vec[WebRareErrors]/(s.probe-0.5))
	}
	flood := false
	if probes && s.flood > 0 && len(vec) > WebRareErrors {
		ok := vec[WebRareHits] - vec[WebRareErrors]
		// One path, and a rare hit: every request was to that unknown path.
		if flood = ok >= s.flood && vec[WebPost] >= s.flood && vec[WebDistinctPaths] == 1; flood {
			raise(RuleFlood, ok/(s.flood-0.5))
		}
	}
	return Score{Cluster: best, Distance: dist, Threshold: thr, Score: sc, Anomalous: sc > 1, Probe: probe, Flood: flood, By: by}
}

// nearest returns the index of the centroid closest to x and the Euclidean
// distance to it.
func nearest(x []float64, centroids [][]float64) (int, float64) {
	best, bestD := 0, math.Inf(1)
	for c, cen := range centroids {
		d := 0.0
		for i, v := range x {
			t := v - cen[i]
			d += t * t
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best, math.Sqrt(bestD)
}

// log1pCount is math.Log1p(x), bit for bit, looked up for the small whole
// numbers most features are (counts of a key in one window): a scorer
// transforms every key of every window, and the logarithm was most of it.
func log1pCount(x float64) float64 {
	if x >= 0 && x < float64(len(log1pSmall)) {
		if i := int(x); float64(i) == x && i > 0 {
			return log1pSmall[i]
		}
	}
	return math.Log1p(x)
}

// log1pSmall[i] is math.Log1p(i). Read-only after package initialisation.
var log1pSmall = func() (t [1024]float64) {
	for i := range t {
		t[i] = math.Log1p(float64(i))
	}
	return t
}()
