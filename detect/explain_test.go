package detect

import (
	"math"
	"strings"
	"testing"

	"github.com/socx/sharkfin/record"
)

// A hand-made model: web features hits and post, no log1p, mean 0, std 1,
// so the model space is the raw values; two clusters.
func handModel(t *testing.T) *Model {
	t.Helper()
	m := &Model{Format: ModelFormat, Name: "hand", Version: "1", Kind: "web", Window: "60s",
		Features:   []string{"hits", "post"},
		Transform:  Transform{Log1p: false, Mean: []float64{0, 0}, Std: []float64{1, 1}},
		Centroids:  [][]float64{{0, 0}, {10, 10}},
		Thresholds: []float64{1, 2},
		Training: Training{Rows: 10, K: 2, Quantile: 0.99,
			Severity: &Severity{Shares: []float64{0, 0.5, 0.9, 1}, Scores: []float64{0, 1, 2, 4}}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// explain on a window worked out by hand: hits 3, post 4 is at distance
// 5 from centroid (0,0), score 5/1; post holds 16/25 of the squared
// distance, hits 9/25.
func TestExplain_Golden(t *testing.T) {
	s, err := NewScorer(handModel(t), record.KindWeb)
	if err != nil {
		t.Fatal(err)
	}
	vec := make([]float64, len(FeatureNames(record.KindWeb)))
	vec[WebHits], vec[WebPost] = 3, 4
	sc := s.Score(vec)
	if sc.Cluster != 0 || sc.Distance != 5 || sc.Score != 5 || !sc.Anomalous {
		t.Fatalf("score %+v", sc)
	}
	got := s.Explain(vec, sc, 3, nil)
	want := []Contribution{{Feature: WebPost, Value: 4, Z: 4, Share: 16.0 / 25}, {Feature: WebHits, Value: 3, Z: 3, Share: 9.0 / 25}}
	if len(got) != len(want) {
		t.Fatalf("explain %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Feature != w.Feature || g.Value != w.Value || math.Abs(g.Z-w.Z) > 1e-12 || math.Abs(g.Share-w.Share) > 1e-12 {
			t.Errorf("explain[%d] = %+v, want %+v", i, g, w)
		}
	}
	// Below the centre: z is signed. hits 12, post 9 is nearest (10,10):
	// z +2 and -1, distance sqrt(5), score sqrt(5)/2 (not anomalous, but
	// explained all the same); a third feature at its centre is left out.
	vec[WebHits], vec[WebPost] = 12, 9
	sc = s.Score(vec)
	got = s.Explain(vec, sc, 1, nil)
	if sc.Cluster != 1 || math.Abs(sc.Score-math.Sqrt(5)/2) > 1e-12 || len(got) != 1 ||
		got[0].Feature != WebHits || got[0].Z != 2 || math.Abs(got[0].Share-0.8) > 1e-12 {
		t.Errorf("score %+v explain %+v (max 1)", sc, got)
	}
	got = s.Explain(vec, sc, 3, got)
	if len(got) != 2 || got[1].Feature != WebPost || got[1].Z != -1 || math.Abs(got[1].Share-0.2) > 1e-12 {
		t.Errorf("explain %+v", got)
	}
	// Severity of score 5: past the highest training score (4): 100.
	if sev, ok := s.Severity(Score{Score: 5}); !ok || sev != 100 {
		t.Errorf("severity %v %v", sev, ok)
	}
}

// Severity interpolates between the calibration's points, worked out by
// hand on shares 0, 0.5, 0.9, 1 at scores 0, 1, 2, 4.
func TestSeverity_Golden(t *testing.T) {
	c := &Severity{Shares: []float64{0, 0.5, 0.9, 1}, Scores: []float64{0, 1, 2, 4}}
	for _, x := range []struct{ score, want float64 }{
		{0, 0}, {0.5, 25}, {1, 50}, {1.5, 70}, {2, 90}, {3, 95}, {3.9, 99.5}, {4, 100}, {7, 100},
	} {
		if got := c.Of(x.score); math.Abs(got-x.want) > 1e-9 {
			t.Errorf("severity of score %v = %v, want %v", x.score, got, x.want)
		}
	}
	// calibrate on scores 1..100: the score at share p is the ceil(100p)-th.
	scores := make([]float64, 100)
	for i := range scores {
		scores[i] = float64(100 - i) // order does not matter
	}
	cal := calibrate(scores)
	at := func(p float64) float64 {
		for i, s := range cal.Shares {
			if math.Abs(s-p) < 1e-12 {
				return cal.Scores[i]
			}
		}
		t.Fatalf("no share %v", p)
		return 0
	}
	if at(0) != 1 || at(0.5) != 50 || at(0.9) != 90 || at(0.99) != 99 || at(0.999) != 100 || at(1) != 100 {
		t.Errorf("calibration %v", cal)
	}
	// A score between training scores 50 and 60 (shares 0.5 and 0.6):
	// 55 is half way, severity 55.
	if got := cal.Of(55); math.Abs(got-55) > 1e-9 {
		t.Errorf("severity of 55 = %v", got)
	}
}

// A trained model carries its calibration at every share of the grid,
// and a damaged one is refused.
func TestTrain_SeverityCalibrated(t *testing.T) {
	rows := make([][]float64, 0, 400)
	for i := range 400 {
		rows = append(rows, []float64{float64(i % 20), float64(i % 7), float64(i % 3), float64(i % 11), 0.1 * float64(i%5)})
	}
	m, _, err := Train(rows, TrainConfig{Kind: record.KindWeb, Seed: 1, K: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Training.Severity
	if c == nil || len(c.Shares) != len(severityShares) || c.Shares[len(c.Shares)-1] != 1 {
		t.Fatalf("calibration %+v", c)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// Tampering is refused with the field named.
	c.Scores[3] = -1
	if err := m.Validate(); err == nil {
		t.Error("a negative calibration score passed validation")
	}
}

// A probe (the model's ProbeRule or more rare errors: failed requests for
// paths its vocabulary does not know) scores at least its rare errors over
// the rule less a half, and so is anomalous wherever it falls, with the
// threshold that makes score = distance / threshold; the rule needs a
// vocabulary, is DefaultProbeRareErrors unless training recorded another,
// and is off at 0. Worked out on handModel: hits 1, post 0 is at distance
// 1 from (0,0), threshold 1: score 1, not anomalous by distance.
func TestScore_ProbeIsAnomalous(t *testing.T) {
	vec := make([]float64, len(FeatureNames(record.KindWeb)))
	vec[WebHits] = 1
	score := func(m *Model, rareErrors float64) Score {
		t.Helper()
		s, err := NewScorer(m, record.KindWeb)
		if err != nil {
			t.Fatal(err)
		}
		vec[WebRareErrors] = rareErrors
		return s.Score(vec)
	}
	m := handModel(t)
	if sc := score(m, 5); sc.Anomalous || sc.Probe || m.ProbeRule() != 0 {
		t.Errorf("without a vocabulary: %+v, rule %d", sc, m.ProbeRule())
	}
	m.Vocabulary = NewVocabBuilderSeeded(1).Vocabulary()
	if m.ProbeRule() != DefaultProbeRareErrors {
		t.Fatalf("rule %d, want the default %d", m.ProbeRule(), DefaultProbeRareErrors)
	}
	for _, x := range []struct {
		rare, score, threshold float64
		probe                  bool
	}{
		{0, 1, 1, false},
		{2, 1, 1, false},
		{3, 1.2, 1 / 1.2, true}, // 3 / (3 - 0.5)
		{5, 2, 0.5, true},       // 5 / 2.5
		{40, 16, 1.0 / 16, true},
	} {
		sc := score(m, x.rare)
		if math.Abs(sc.Score-x.score) > 1e-12 || math.Abs(sc.Threshold-x.threshold) > 1e-12 || sc.Distance != 1 ||
			sc.Probe != x.probe || (sc.By == RuleProbe) != x.probe || sc.Anomalous != x.probe || math.Abs(sc.Distance/sc.Threshold-sc.Score) > 1e-12 {
			t.Errorf("%v rare errors: %+v, want score %v, threshold %v, probe and anomalous %v", x.rare, sc, x.score, x.threshold, x.probe)
		}
	}
	// Past its cluster's threshold by distance already (hits 3, post 4:
	// distance 5, score 5), a probe of 3 rare errors (1.2) keeps its score
	// and its cluster's threshold: the distance, not the rule, made it
	// anomalous (By RuleNone).
	vec[WebPost] = 4
	vec[WebHits] = 3
	if sc := score(m, 3); sc.Score != 5 || sc.Threshold != 1 || !sc.Probe || sc.By != RuleNone || !sc.Anomalous {
		t.Errorf("probe past its threshold: %+v, want score 5, threshold 1, not by the rule", sc)
	}
	vec[WebPost], vec[WebHits] = 0, 1
	// The overflow row sums many clients' rare errors: never a probe.
	s0, _ := NewScorer(m, record.KindWeb)
	vec[WebRareErrors] = 40
	if sc := s0.ScoreKey(OverflowKey, vec); sc.Probe || sc.Anomalous || sc.Score != 1 {
		t.Errorf("overflow row: %+v", sc)
	}
	if sc := s0.ScoreKey("192.0.2.1", vec); !sc.Probe {
		t.Errorf("a client's row: %+v", sc)
	}
	// Severity follows the score: handModel's calibration puts 1.2 at 58.
	s, _ := NewScorer(m, record.KindWeb)
	if sev, _ := s.Severity(score(m, 3)); math.Abs(sev-58) > 1e-9 {
		t.Errorf("probe's severity %v, want 58", sev)
	}
	m.RecordProbeRule(5)
	if sc := score(m, 4); sc.Anomalous {
		t.Errorf("rule 5, 4 rare errors: %+v", sc)
	}
	if sc := score(m, 5); !sc.Probe || math.Abs(sc.Score-5/4.5) > 1e-12 {
		t.Errorf("rule 5, 5 rare errors: %+v", sc)
	}
	m.RecordProbeRule(0)
	if sc := score(m, 40); sc.Anomalous || m.ProbeRule() != 0 {
		t.Errorf("rule off: %+v", sc)
	}
}

// A flood (all of a window's requests to one path the vocabulary does not
// know, the model's FloodRule (DefaultFloodRequests) or more of them POSTs and as many not failed) scores at least its
// rare successes over the rule less a half, whatever its distance,
// with a vocabulary only; where both rules apply the larger score wins and
// names the rule. Worked out by hand on handModel with its second centroid
// moved to hits 40, post 40 (threshold 2): hits 41, post 40 is at distance
// 1 from it, score 0.5.
func TestScore_FloodIsAnomalous(t *testing.T) {
	m := handModel(t)
	m.Centroids[1] = []float64{40, 40}
	vec := make([]float64, len(FeatureNames(record.KindWeb)))
	set := func(hits, post, paths, rareHits, rareErrors float64) {
		vec[WebHits], vec[WebPost], vec[WebDistinctPaths], vec[WebRareHits], vec[WebRareErrors] = hits, post, paths, rareHits, rareErrors
	}
	score := func() Score {
		t.Helper()
		s, err := NewScorer(m, record.KindWeb)
		if err != nil {
			t.Fatal(err)
		}
		return s.ScoreKey("192.0.2.1", vec)
	}
	set(41, 40, 1, 40, 0)
	if sc := score(); sc.Flood || sc.Anomalous || sc.Score != 0.5 {
		t.Errorf("without a vocabulary: %+v", sc)
	}
	m.Vocabulary = NewVocabBuilderSeeded(1).Vocabulary()
	for _, x := range []struct {
		what                              string
		hits, post, paths, rare, rareErrs float64
		cluster                           int
		score, distance                   float64
		flood                             bool
		by                                Rule
	}{
		{"40 POSTs, one unknown path", 41, 40, 1, 40, 0, 1, 40 / 19.5, 1, true, RuleFlood},
		{"two paths", 41, 40, 2, 40, 0, 1, 0.5, 1, false, RuleNone}, // the POSTs may be to a known one
		{"no rare hit", 41, 40, 1, 0, 0, 1, 0.5, 1, false, RuleNone},
		{"19 of them succeeded", 41, 40, 1, 40, 21, 1, 21 / 2.5, 1, false, RuleProbe}, // a probe: 21 rare errors
		{"19 POSTs: out by distance", 41, 19, 1, 40, 0, 1, math.Sqrt(1+21*21) / 2, math.Sqrt(1 + 21*21), false, RuleNone},
		{"exactly 20", 41, 40, 1, 20, 0, 1, 20 / 19.5, 1, true, RuleFlood},
		{"flood over probe", 41, 40, 1, 50, 5, 1, 45 / 19.5, 1, true, RuleFlood}, // probe 5/2.5 = 2
		{"probe over flood", 41, 40, 1, 50, 10, 1, 10 / 2.5, 1, true, RuleProbe}, // flood 40/19.5
	} {
		set(x.hits, x.post, x.paths, x.rare, x.rareErrs)
		sc := score()
		if sc.Cluster != x.cluster || math.Abs(sc.Distance-x.distance) > 1e-12 || math.Abs(sc.Score-x.score) > 1e-12 ||
			sc.Flood != x.flood || sc.By != x.by || sc.Anomalous != (x.score > 1) || math.Abs(sc.Distance/sc.Threshold-sc.Score) > 1e-12 {
			t.Errorf("%s: %+v, want cluster %d, distance %v, score %v, flood %v, by %v", x.what, sc, x.cluster, x.distance, x.score, x.flood, x.by)
		}
	}
	// The overflow row sums many clients' requests: never a flood.
	set(41, 40, 1, 40, 0)
	s, _ := NewScorer(m, record.KindWeb)
	if sc := s.ScoreKey(OverflowKey, vec); sc.Flood || sc.Anomalous {
		t.Errorf("overflow row: %+v", sc)
	}
	// Another rule recorded: 40 at 30 scores 40 / 29.5; 0 turns it off;
	// the default is not recorded, nor a rule that cannot apply.
	m.RecordFloodRule(30)
	if m.FloodRule() != 30 || m.Training.FloodRequests == nil {
		t.Fatalf("rule 30 recorded as %v", m.Training.FloodRequests)
	}
	if sc := score(); !sc.Flood || math.Abs(sc.Score-40/29.5) > 1e-12 {
		t.Errorf("rule 30: %+v", sc)
	}
	set(41, 29, 1, 40, 0)
	if sc := score(); sc.Flood {
		t.Errorf("rule 30, 29 POSTs: %+v", sc)
	}
	set(41, 40, 1, 40, 0)
	m.RecordFloodRule(0)
	if sc := score(); sc.Flood || sc.Anomalous || m.FloodRule() != 0 {
		t.Errorf("rule off: %+v", sc)
	}
}

// Both web rules are recorded alike (the model file is read by agents of
// earlier releases, which refuse a field they do not know): not at the
// default, nor where the rule cannot apply (no vocabulary, not web); 0 is
// recorded and turns the rule off; a negative value is refused, naming the
// field.
func TestModel_RulesRecorded(t *testing.T) {
	vocab := NewVocabBuilderSeeded(1).Vocabulary()
	for _, r := range []struct {
		field  string
		def    int
		record func(*Model, int)
		rule   func(*Model) int
		stored func(*Model) **int
	}{
		{"training.probe_rare_errors", DefaultProbeRareErrors, (*Model).RecordProbeRule, (*Model).ProbeRule,
			func(m *Model) **int { return &m.Training.ProbeRareErrors }},
		{"training.flood_requests", DefaultFloodRequests, (*Model).RecordFloodRule, (*Model).FloodRule,
			func(m *Model) **int { return &m.Training.FloodRequests }},
	} {
		m := handModel(t)
		m.Vocabulary = vocab
		for _, x := range []struct{ n, rule, stored int }{{r.def, r.def, -1}, {0, 0, 0}, {7, 7, 7}} {
			r.record(m, x.n)
			p := *r.stored(m)
			if r.rule(m) != x.rule || (p == nil) != (x.stored < 0) || p != nil && *p != x.stored {
				t.Errorf("%s: recorded %d: rule %d, stored %v; want %d, %d (-1: none)", r.field, x.n, r.rule(m), p, x.rule, x.stored)
			}
		}
		noVocab, dns := handModel(t), handModel(t)
		dns.Kind, dns.Vocabulary = "dns", vocab
		for _, o := range []*Model{noVocab, dns} {
			if r.record(o, 5); *r.stored(o) != nil || r.rule(o) != 0 {
				t.Errorf("%s: recorded for a %s model without the rules: %v", r.field, o.Kind, *r.stored(o))
			}
		}
		n := -1
		*r.stored(m) = &n
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), r.field) {
			t.Errorf("%s -1: %v", r.field, err)
		}
	}
}
