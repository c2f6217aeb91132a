package detect

import (
	"math"
	"testing"

	"github.com/socx/sharkfin/record"
)

func TestCompareModels_DistancesInTheOldSpace(t *testing.T) {
	oldM := &Model{Kind: "web", Features: []string{"hits", "bytes"},
		Transform:  Transform{Mean: []float64{0, 0}, Std: []float64{1, 1}},
		Centroids:  [][]float64{{0, 0}, {10, 0}},
		Thresholds: []float64{1, 2}}
	// The new model lists its features the other way round and scales
	// them differently: hits' = (hits - 1) / 2.
	newM := &Model{Kind: "web", Features: []string{"bytes", "hits"},
		Transform:  Transform{Mean: []float64{0, 1}, Std: []float64{1, 2}},
		Centroids:  [][]float64{{0, -0.5}, {1, 4}, {0, 20}},
		Thresholds: []float64{1.5, 1, 3}}
	d := CompareModels(oldM, newM)
	if !d.Comparable {
		t.Fatal(d.Reason)
	}
	// New centroids in raw units: (hits 0, bytes 0), (9, 1), (41, 0).
	want := []ClusterMatch{
		{Cluster: 0, Nearest: 0, Distance: 0, OldThreshold: 1, NewThreshold: 1.5},
		{Cluster: 1, Nearest: 1, Distance: math.Sqrt(2), OldThreshold: 2, NewThreshold: 1},
		{Cluster: 2, Nearest: 1, Distance: 31, OldThreshold: 2, NewThreshold: 3},
	}
	for i, w := range want {
		if g := d.New[i]; g.Cluster != w.Cluster || g.Nearest != w.Nearest || math.Abs(g.Distance-w.Distance) > 1e-12 ||
			g.OldThreshold != w.OldThreshold || g.NewThreshold != w.NewThreshold {
			t.Errorf("new c%d: %+v, want %+v", i, g, w)
		}
	}
	wantOld := []ClusterMatch{
		{Cluster: 0, Nearest: 0, Distance: 0, OldThreshold: 1, NewThreshold: 1.5},
		{Cluster: 1, Nearest: 1, Distance: math.Sqrt(2), OldThreshold: 2, NewThreshold: 1},
	}
	for i, w := range wantOld {
		if g := d.Old[i]; g.Nearest != w.Nearest || math.Abs(g.Distance-w.Distance) > 1e-12 || g.NewThreshold != w.NewThreshold {
			t.Errorf("old c%d: %+v, want %+v", i, g, w)
		}
	}

	// log1p on both sides: the same centroids under another transform are
	// the same clusters.
	oldL := &Model{Kind: "web", Features: []string{"hits"}, Transform: Transform{Log1p: true, Mean: []float64{1}, Std: []float64{0.5}},
		Centroids: [][]float64{{-1}, {2}}, Thresholds: []float64{1, 1}}
	newL := &Model{Kind: "web", Features: []string{"hits"}, Transform: Transform{Log1p: true, Mean: []float64{2}, Std: []float64{1}},
		Centroids: [][]float64{{-1.5}, {0}}, Thresholds: []float64{1, 1}} // log1p values 0.5 and 2, as old's -1 and 2
	for _, m := range CompareModels(oldL, newL).New {
		if m.Nearest != m.Cluster || m.Distance > 1e-9 {
			t.Errorf("re-scaled model: %+v", m)
		}
	}

	if d := CompareModels(oldM, &Model{Kind: "web", Features: []string{"hits"}}); d.Comparable || d.Reason == "" {
		t.Errorf("other features compared: %+v", d)
	}
	if d := CompareModels(oldM, &Model{Kind: "dns", Features: []string{"hits", "bytes"}}); d.Comparable {
		t.Errorf("other kind compared: %+v", d)
	}
}

func TestCompareVerdicts(t *testing.T) {
	m := func(thr float64) *Model {
		return &Model{Kind: "web", Features: []string{"hits"}, Transform: Transform{Mean: []float64{0}, Std: []float64{1}},
			Centroids: [][]float64{{0}}, Thresholds: []float64{thr}}
	}
	names := FeatureNames(record.KindWeb)
	var rows [][]float64
	for hits := range 10 { // distances 0..9 from the one centroid
		v := make([]float64, len(names))
		v[0] = float64(hits)
		rows = append(rows, v)
	}
	v, err := CompareVerdicts(m(4.5), m(2.5), record.KindWeb, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := VerdictDiff{Rows: 10, OldAnomalous: 5, NewAnomalous: 7, BecameAnomalous: 2}
	if v != want || v.Changed() != 0.2 {
		t.Errorf("%+v (changed %v), want %+v", v, v.Changed(), want)
	}
	if _, err := CompareVerdicts(m(1), m(1), record.KindDNS, rows); err == nil {
		t.Error("a web model scored DNS rows")
	}
}
