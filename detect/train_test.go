package detect

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

func fixedNow() time.Time { return time.Date(2026, 3, 1, 9, 30, 15, 123, time.UTC) }

// blobRows returns n rows of the default web model features (hits_2xx,
// hits_non2xx, distinct_paths, post, error_ratio) from three kinds of
// normal clients: browsers, API clients and monitoring probes.
func blobRows(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 17))
	rows := make([][]float64, n)
	for i := range rows {
		switch i % 3 {
		case 0: // browser
			ok := float64(10 + rng.IntN(30))
			bad := float64(rng.IntN(3))
			rows[i] = []float64{ok, bad, float64(3 + rng.IntN(12)), float64(rng.IntN(2)), bad / (ok + bad)}
		case 1: // API client
			ok := float64(300 + rng.IntN(400))
			rows[i] = []float64{ok, float64(rng.IntN(10)), float64(1 + rng.IntN(3)), ok / 2, 0.01 * rng.Float64()}
		default: // probe
			rows[i] = []float64{float64(1 + rng.IntN(2)), 0, 1, 0, 0}
		}
	}
	return rows
}

// twoGroupRows is blobRows without the probes: browsers and API clients.
func twoGroupRows(n int, seed uint64) [][]float64 {
	var rows [][]float64
	for _, r := range blobRows(n*3/2+3, seed) {
		if r[2] != 1 || r[0] > 2 { // not a probe
			rows = append(rows, r)
		}
	}
	return rows[:n]
}

// scannerRows returns n rows of a path scanner: thousands of 404s over
// thousands of paths.
func scannerRows(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 23))
	rows := make([][]float64, n)
	for i := range rows {
		bad := float64(4000 + rng.IntN(2000))
		rows[i] = []float64{float64(rng.IntN(5)), bad, bad * 0.9, 0, 0.99 + 0.01*rng.Float64()}
	}
	return rows
}

func mustTrain(t *testing.T, rows [][]float64, cfg TrainConfig) (*Model, *TrainReport) {
	t.Helper()
	if cfg.Kind == record.KindUnknown {
		cfg.Kind = record.KindWeb
	}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	m, rep, err := Train(rows, cfg)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return m, rep
}

func TestTrain_Deterministic(t *testing.T) {
	rows := blobRows(600, 1)
	for _, cfg := range []TrainConfig{
		{K: 3, Seed: 42, Restarts: 3},
		{K: 0, MaxK: 4, SampleSize: 300, Seed: 42, Restarts: 2},
	} {
		a, _ := mustTrain(t, rows, cfg)
		b, _ := mustTrain(t, rows, cfg)
		ja, jb := mustJSON(t, a), mustJSON(t, b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("K=%d: two trainings with seed 42 differ:\n%s\n%s", cfg.K, ja, jb)
		}
	}
}

func TestTrain_Defaults(t *testing.T) {
	m, _ := mustTrain(t, blobRows(90, 2), TrainConfig{K: 2, Restarts: 1})
	if m.Name != "web" || m.Version != "20260301T093015Z" || m.Window != "60s" ||
		!slices.Equal(m.Features, WithoutVocabulary(DefaultModelFeatures(record.KindWeb))) || !m.Transform.Log1p { // no vocabulary: no rare paths
		t.Fatalf("defaults: name %q version %q window %q features %v log1p %v",
			m.Name, m.Version, m.Window, m.Features, m.Transform.Log1p)
	}
	if !m.Training.Created.Equal(fixedNow().Truncate(time.Second)) || m.Training.Quantile != 0.99 || m.Training.Rows != 90 {
		t.Fatalf("training section %+v", m.Training)
	}
}

func TestTrain_TransformIsLog1pZScore(t *testing.T) {
	rows := blobRows(300, 3)
	m, _ := mustTrain(t, rows, TrainConfig{K: 3, Restarts: 2, StdFloor: 1e-9})
	for j := range m.Features {
		var sum float64
		for _, r := range rows {
			sum += math.Log1p(r[j])
		}
		mean := sum / float64(len(rows))
		var ss float64
		for _, r := range rows {
			d := math.Log1p(r[j]) - mean
			ss += d * d
		}
		std := math.Sqrt(ss / float64(len(rows)-1))
		if math.Abs(m.Transform.Mean[j]-mean) > 1e-9 || math.Abs(m.Transform.Std[j]-std) > 1e-9 {
			t.Errorf("%s: mean %v std %v, want %v and %v", m.Features[j], m.Transform.Mean[j], m.Transform.Std[j], mean, std)
		}
	}
}

func TestTrain_StdFloor(t *testing.T) {
	rows := blobRows(300, 4)
	for _, r := range rows {
		r[3] = 0 // post never varies
	}
	m, _ := mustTrain(t, rows, TrainConfig{K: 2, Restarts: 1})
	if m.Transform.Std[3] != 1 {
		t.Fatalf("std of a constant feature = %v, want a web model's default floor 1", m.Transform.Std[3])
	}
	m, _ = mustTrain(t, rows, TrainConfig{K: 2, Restarts: 1, Kind: record.KindProxy,
		Features: []string{"hits", "hits_non2xx", "distinct_domains", "denied", "connect"}})
	if m.Transform.Std[3] != 0.25 {
		t.Fatalf("std of a constant proxy feature = %v, want the default floor 0.25", m.Transform.Std[3])
	}
	m, _ = mustTrain(t, rows, TrainConfig{K: 2, Restarts: 1, StdFloor: 10})
	for j, s := range m.Transform.Std {
		if s != 10 { // every feature varies less than 10 in log1p space
			t.Errorf("std[%d] = %v, want the floor 10", j, s)
		}
	}
	// The transform exported for Spark (FitTransform) takes the same floors.
	for _, c := range []struct {
		kind     record.Kind
		features []string
		want     float64
	}{
		{record.KindWeb, nil, 1},
		{record.KindProxy, []string{"hits", "hits_non2xx", "distinct_domains", "denied", "connect"}, 0.25},
	} {
		var flat []float64
		for _, r := range rows {
			flat = append(flat, r...)
		}
		tr, err := FitTransform(flat, 5, TrainConfig{Kind: c.kind, Features: c.features})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Std[3] != c.want {
			t.Errorf("%s: FitTransform std of a constant feature = %v, want %v", c.kind, tr.Std[3], c.want)
		}
	}
}

// TestTrain_ThresholdsAtQuantile recomputes each cluster's threshold from
// the training rows' distances as the Scorer sees them.
func TestTrain_ThresholdsAtQuantile(t *testing.T) {
	rows := blobRows(900, 5)
	const q = 0.9
	m, _ := mustTrain(t, rows, TrainConfig{K: 3, Restarts: 3, Quantile: q, MinShare: -1, MinThreshold: 1e-9, Seed: 1})
	s, err := NewScorer(m, record.KindWeb)
	if err != nil {
		t.Fatal(err)
	}
	full := make([]float64, len(FeatureNames(record.KindWeb)))
	per := make([][]float64, len(m.Centroids))
	anomalous := make([]int, len(m.Centroids))
	for _, r := range rows {
		for i, name := range m.Features { // place model features in a full vector
			j, _ := featureIndex(record.KindWeb, name)
			full[j] = r[i]
		}
		sc := s.Score(full)
		per[sc.Cluster] = append(per[sc.Cluster], sc.Distance)
		if sc.Anomalous {
			anomalous[sc.Cluster]++
		}
	}
	for c, ds := range per {
		if len(ds) == 0 {
			t.Fatalf("cluster %d has no rows", c)
		}
		slices.Sort(ds)
		want := ds[int(math.Ceil(q*float64(len(ds))))-1] // empirical quantile
		if math.Abs(m.Thresholds[c]-want) > 1e-9 {
			t.Errorf("cluster %d: threshold %v, want the %v quantile %v of %d distances", c, m.Thresholds[c], q, want, len(ds))
		}
		if limit := len(ds) - int(math.Ceil(q*float64(len(ds)))); anomalous[c] > limit {
			t.Errorf("cluster %d: %d of %d training rows anomalous, want at most %d", c, anomalous[c], len(ds), limit)
		}
	}
}

func TestTrain_MinThreshold(t *testing.T) {
	rows := make([][]float64, 100)
	for i := range rows {
		rows[i] = []float64{10, 0, 3, 0, 0}
		if i%2 == 1 {
			rows[i] = []float64{500, 5, 2, 250, 0.01}
		}
	}
	m, _ := mustTrain(t, rows, TrainConfig{K: 2, Restarts: 1})
	for c, thr := range m.Thresholds {
		if thr != 1.75 || MinThresholdOf(record.KindWeb) != 1.75 {
			t.Errorf("cluster %d of identical rows: threshold %v, want the web default 1.75", c, thr)
		}
	}
	if m.Training.MinThreshold != 0 {
		t.Errorf("the default floor recorded: %v", m.Training.MinThreshold)
	}
	if MinThresholdOf(record.KindProxy) != 1 || MinThresholdOf(record.KindDNS) != 1 {
		t.Errorf("proxy and dns floors %v, %v: want 1", MinThresholdOf(record.KindProxy), MinThresholdOf(record.KindDNS))
	}
	// A higher floor (sharkfin train --min-threshold) raises the tight
	// clusters' thresholds to it and leaves a wider cluster's quantile.
	wide := twoGroupRows(600, 3)
	base, _ := mustTrain(t, wide, TrainConfig{K: 2, Restarts: 1, Seed: 1, MinThreshold: 0.5})
	floor := (base.Thresholds[0] + base.Thresholds[1]) / 2
	if math.Abs(base.Thresholds[0]-base.Thresholds[1]) < 0.1 {
		t.Fatalf("thresholds %v: want two clusters of different spread", base.Thresholds)
	}
	m, _ = mustTrain(t, wide, TrainConfig{K: 2, Restarts: 1, Seed: 1, MinThreshold: floor})
	for c, thr := range m.Thresholds {
		if want := math.Max(base.Thresholds[c], floor); thr != want {
			t.Errorf("min threshold %.3f, cluster %d: threshold %v, want max(%v, floor) = %v", floor, c, thr, base.Thresholds[c], want)
		}
	}
}

// TestTrain_MinShare shows the robustness choice: a few extreme rows in
// the training data (a scanner) form their own small cluster. By default
// that cluster is dropped and such rows score anomalous; keeping every
// cluster (MinShare < 0) would make them normal.
func TestTrain_MinShare(t *testing.T) {
	normal := twoGroupRows(2000, 6)
	extreme := scannerRows(10, 7)
	rows := append(slices.Clone(normal), extreme...)
	score := func(m *Model, rows [][]float64) (anomalous int) {
		s, err := NewScorer(m, record.KindWeb)
		if err != nil {
			t.Fatal(err)
		}
		full := make([]float64, len(FeatureNames(record.KindWeb)))
		for _, r := range rows {
			for i, name := range m.Features {
				j, _ := featureIndex(record.KindWeb, name)
				full[j] = r[i]
			}
			if s.Score(full).Anomalous {
				anomalous++
			}
		}
		return anomalous
	}

	robust, rep := mustTrain(t, rows, TrainConfig{K: 3, Seed: 1})
	if len(robust.Centroids) != 2 || len(robust.Training.Dropped) != 1 || robust.Training.Dropped[0].Rows != 10 || rep.Dropped != 10 {
		t.Fatalf("default MinShare: %d centroids, dropped %+v (report %d rows), want 2 kept and the 10-row cluster dropped",
			len(robust.Centroids), robust.Training.Dropped, rep.Dropped)
	}
	if robust.Training.MinShare <= 0 || robust.Training.MinShare*float64(len(rows)) <= 10 || len(robust.Training.Sizes) != 2 {
		t.Fatalf("training section: min share %v sizes %v", robust.Training.MinShare, robust.Training.Sizes)
	}
	if n := score(robust, extreme); n != len(extreme) {
		t.Fatalf("default MinShare: %d of %d extreme rows anomalous, want all", n, len(extreme))
	}
	if n := score(robust, normal); n > len(normal)/50 {
		t.Fatalf("default MinShare: %d of %d normal rows anomalous", n, len(normal))
	}

	naive, _ := mustTrain(t, rows, TrainConfig{K: 3, Seed: 1, MinShare: -1})
	if len(naive.Centroids) != 3 || len(naive.Training.Dropped) != 0 {
		t.Fatalf("MinShare=-1: %d centroids, %d dropped, want 3 and 0", len(naive.Centroids), len(naive.Training.Dropped))
	}
	if n := score(naive, extreme); n > 1 {
		t.Fatalf("MinShare=-1: %d of %d extreme rows anomalous; keeping their cluster should make them normal", n, len(extreme))
	}
}

func TestTrain_AutoK(t *testing.T) {
	m, rep := mustTrain(t, blobRows(450, 8), TrainConfig{MaxK: 5, SampleSize: 450, Restarts: 2, Seed: 3})
	if m.Training.K < 2 || m.Training.K > 5 {
		t.Fatalf("auto k = %d, want 2..5", m.Training.K)
	}
	if len(rep.Silhouette) != 4 || len(m.Training.Silhouette) != 4 {
		t.Fatalf("silhouette for %d (report) and %d (model) values of k, want 4", len(rep.Silhouette), len(m.Training.Silhouette))
	}
	best := 0
	for k, s := range rep.Silhouette {
		if best == 0 || s > rep.Silhouette[best] || (s == rep.Silhouette[best] && k < best) {
			best = k
		}
	}
	if m.Training.K != best {
		t.Fatalf("auto k = %d, but the best silhouette is at k=%d (%v)", m.Training.K, best, rep.Silhouette)
	}
	if got := len(m.Centroids) + len(m.Training.Dropped); got != m.Training.K {
		t.Fatalf("%d kept + %d dropped centroids for k=%d", len(m.Centroids), len(m.Training.Dropped), m.Training.K)
	}
}

func TestTrain_Errors(t *testing.T) {
	rows := blobRows(30, 9)
	tests := []struct {
		name string
		rows [][]float64
		cfg  TrainConfig
		is   error
		want string
	}{
		{"no rows", nil, TrainConfig{K: 2}, ErrNoRows, ""},
		{"empty rows", [][]float64{}, TrainConfig{K: 2}, ErrNoRows, ""},
		{"short row", append(slices.Clone(rows), []float64{1, 2}), TrainConfig{K: 2}, nil, "row 30 has 2 features, want 5"},
		{"NaN", append(slices.Clone(rows), []float64{1, 2, math.NaN(), 0, 0}), TrainConfig{K: 2}, nil, "distinct_paths is NaN"},
		{"Inf", append(slices.Clone(rows), []float64{math.Inf(1), 2, 1, 0, 0}), TrainConfig{K: 2}, nil, "hits_2xx is +Inf"},
		{"quantile above 1", rows, TrainConfig{K: 2, Quantile: 1.5}, nil, "quantile"},
		{"negative min threshold", rows, TrainConfig{K: 2, MinThreshold: -1}, nil, "min threshold -1: must be a positive number"},
		{"NaN min threshold", rows, TrainConfig{K: 2, MinThreshold: math.NaN()}, nil, "min threshold NaN"},
		{"unknown feature", rows, TrainConfig{K: 2, Features: []string{"hits", "nope", "post", "bytes", "hits_4xx"}}, ErrInvalidModel, "nope"},
		{"k above rows", rows[:2], TrainConfig{K: 5}, nil, "k=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Kind, tt.cfg.Now, tt.cfg.Restarts = record.KindWeb, fixedNow, 1
			m, _, err := Train(tt.rows, tt.cfg)
			if err == nil || m != nil {
				t.Fatalf("Train succeeded; want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestProjection(t *testing.T) {
	p, err := NewProjection(record.KindProxy, []string{"denied", "hits"})
	if err != nil {
		t.Fatal(err)
	}
	full := []float64{10, 8, 2, 1000, 5, 3, 1, 0}
	if got := p.Apply([]float64{-1}, full); !slices.Equal(got, []float64{-1, 3, 10}) {
		t.Fatalf("Apply = %v", got)
	}
	if _, err := NewProjection(record.KindProxy, []string{"post"}); err == nil {
		t.Fatal("web feature accepted for proxy")
	}
}
