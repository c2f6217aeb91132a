package kmeans

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

func TestAssign_MatchesBruteForce(t *testing.T) {
	data := overlapping(500, 4, 9)
	centroids := overlapping(7, 4, 10)
	labels, dist := Assign(data, centroids)
	for i := range 500 {
		row := data.RawRowView(i)
		best, bestD := -1, math.Inf(1)
		for c := range 7 {
			if d := floats.Distance(row, centroids.RawRowView(c), 2); d < bestD {
				best, bestD = c, d
			}
		}
		if labels[i] != best || math.Abs(dist[i]-bestD) > 1e-12 {
			t.Fatalf("row %d: got (%d, %v), want (%d, %v)", i, labels[i], dist[i], best, bestD)
		}
		if c, d := Nearest(row, centroids); c != labels[i] || d != dist[i] {
			t.Fatalf("row %d: Nearest gives (%d, %v), Assign (%d, %v)", i, c, d, labels[i], dist[i])
		}
	}
}

func TestAssign_EdgeCases(t *testing.T) {
	centroids := mat.NewDense(2, 2, []float64{0, 0, 0, 0})
	if l, d := Assign(&mat.Dense{}, centroids); l != nil || d != nil {
		t.Errorf("empty data: got %v %v, want nil", l, d)
	}
	// Equal centroids: ties go to the lower index.
	if c, _ := Nearest([]float64{1, 1}, centroids); c != 0 {
		t.Errorf("tie went to centroid %d, want 0", c)
	}
	// A centroid view with a wide stride.
	wide := mat.NewDense(2, 4, []float64{0, 0, 9, 9, 5, 5, 9, 9})
	view := wide.Slice(0, 2, 0, 2).(*mat.Dense)
	if c, d := Nearest([]float64{4, 4}, view); c != 1 || math.Abs(d-math.Sqrt2) > 1e-15 {
		t.Errorf("strided centroids: got (%d, %v), want (1, √2)", c, d)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"column mismatch", func() { Assign(mat.NewDense(1, 3, nil), centroids) }},
		{"no centroids", func() { Nearest([]float64{1, 2}, &mat.Dense{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestNearest_AllocatesNothing(t *testing.T) {
	centroids := overlapping(8, 10, 1)
	row := make([]float64, 10)
	if n := testing.AllocsPerRun(100, func() { Nearest(row, centroids) }); n != 0 {
		t.Errorf("Nearest allocates %v times per call", n)
	}
}
