package kmeans

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// bruteSilhouette is the textbook definition, one row at a time.
func bruteSilhouette(data *mat.Dense, labels []int, k int) float64 {
	n, _ := data.Dims()
	var total float64
	for i := range n {
		sum := make([]float64, k)
		cnt := make([]int, k)
		for j := range n {
			if j == i {
				continue
			}
			sum[labels[j]] += floats.Distance(data.RawRowView(i), data.RawRowView(j), 2)
			cnt[labels[j]]++
		}
		own := labels[i]
		if cnt[own] == 0 {
			continue // alone in its cluster: 0
		}
		a := sum[own] / float64(cnt[own])
		b := math.Inf(1)
		for c := range k {
			if c != own && cnt[c] > 0 {
				b = math.Min(b, sum[c]/float64(cnt[c]))
			}
		}
		total += (b - a) / math.Max(a, b)
	}
	return total / float64(n)
}

func TestSilhouette_MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct {
		name string
		n, k int
	}{
		{"two clusters", 40, 2},
		{"five clusters", 60, 5},
		{"with an empty cluster", 30, 6}, // labels drawn from 0..4 only
		{"singletons", 5, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := overlapping(tc.n, 3, uint64(tc.n))
			labels := make([]int, tc.n)
			for i := range labels {
				labels[i] = rng.IntN(min(tc.k, 5))
			}
			labels[0], labels[1] = 0, 1 // at least two clusters
			got, want := Silhouette(data, labels, tc.k), bruteSilhouette(data, labels, tc.k)
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("Silhouette = %v, brute force %v", got, want)
			}
		})
	}
}

func TestSilhouette_KnownValues(t *testing.T) {
	// Two pairs far apart: a = 1 for every row, b is 100.5 for the outer
	// rows and 99.5 for the inner ones.
	data := mat.NewDense(4, 1, []float64{0, 1, 100, 101})
	got := Silhouette(data, []int{0, 0, 1, 1}, 2)
	want := 1 - (2/100.5+2/99.5)/4
	if math.Abs(got-want) > 1e-15 {
		t.Errorf("Silhouette = %v, want %v", got, want)
	}
	// Swapping one row makes it negative.
	if s := Silhouette(data, []int{0, 1, 0, 1}, 2); s >= 0 {
		t.Errorf("crossed labels: silhouette %v, want negative", s)
	}
}

func TestSilhouette_Undefined(t *testing.T) {
	data := overlapping(10, 2, 1)
	for _, tc := range []struct {
		name   string
		data   *mat.Dense
		labels []int
		k      int
	}{
		{"empty data", &mat.Dense{}, nil, 2},
		{"label count mismatch", data, make([]int, 9), 2},
		{"k below 2", data, make([]int, 10), 1},
		{"one non-empty cluster", data, make([]int, 10), 3},
		{"label out of range", data, []int{0, 1, 2, 0, 1, 0, 1, 0, 1, 0}, 2},
		{"negative label", data, []int{0, 1, -1, 0, 1, 0, 1, 0, 1, 0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s := Silhouette(tc.data, tc.labels, tc.k); !math.IsNaN(s) {
				t.Errorf("got %v, want NaN", s)
			}
		})
	}
}
