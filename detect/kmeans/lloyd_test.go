package kmeans

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// overlapping returns n rows of uniform noise in d dimensions: no cluster
// structure, so Lloyd needs many iterations.
func overlapping(n, d int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 2))
	m := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			m.Set(i, j, rng.Float64())
		}
	}
	return m
}

// checkNonIncreasing fails t if any inertia in trace exceeds the one before
// by more than rounding.
func checkNonIncreasing(t *testing.T, start float64, trace []float64) {
	t.Helper()
	prev := start
	for i, v := range trace {
		if v > prev*(1+1e-12) {
			t.Fatalf("iteration %d: inertia rose from %v to %v", i+1, prev, v)
		}
		prev = v
	}
}

func TestLloyd_InertiaNeverIncreases(t *testing.T) {
	for _, tc := range []struct {
		name string
		data *mat.Dense
		k    int
	}{
		{"uniform k=8", overlapping(3000, 3, 1), 8},
		{"uniform k=20", overlapping(2000, 5, 2), 20},
		{"blobs k=7 of 4", func() *mat.Dense { m, _ := blobs(t, 2000, 3, 4, 3); return m }(), 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := viewOf(tc.data)
			ws := newWorkspace(x, tc.k)
			for seed := range 5 {
				ws.initPlusPlus(restartRand(uint64(seed), 0))
				for i := range ws.labels {
					ws.labels[i] = -1
				}
				start, _ := ws.assign()
				var trace []float64
				final, iter := ws.lloyd(DefaultMaxIter, -1, func(_ int, v float64) { trace = append(trace, v) })
				if len(trace) != iter || trace[len(trace)-1] != final {
					t.Fatalf("trace has %d entries ending %v, lloyd reports %d iterations and %v", len(trace), trace[len(trace)-1], iter, final)
				}
				if iter < 2 {
					t.Errorf("seed %d: only %d iterations; the data should need more", seed, iter)
				}
				checkNonIncreasing(t, start, trace)
			}
		})
	}
}

func TestLloyd_StopsOnTolerance(t *testing.T) {
	data := overlapping(3000, 3, 4)
	x := viewOf(data)
	ws := newWorkspace(x, 10)
	ws.initPlusPlus(restartRand(1, 0))
	saved := append([]float64(nil), ws.centroids...)
	_, exact := ws.lloyd(DefaultMaxIter, -1, nil)
	copy(ws.centroids, saved)
	_, loose := ws.lloyd(DefaultMaxIter, 1e-2, nil)
	if loose >= exact {
		t.Errorf("Tol 1e-2 ran %d iterations, no tolerance %d; want fewer", loose, exact)
	}
	copy(ws.centroids, saved)
	if _, capped := ws.lloyd(3, -1, nil); capped != 3 {
		t.Errorf("MaxIter 3 ran %d iterations", capped)
	}
}

func TestLloyd_RelocatesEmptyCluster(t *testing.T) {
	data, truth := blobs(t, 900, 2, 3, 5)
	x := viewOf(data)
	ws := newWorkspace(x, 3)
	// Two centroids on real rows; the third far from every row, so it is
	// empty after the first assignment.
	copy(ws.centroids[0:2], x.row(0))
	copy(ws.centroids[2:4], x.row(1))
	ws.centroids[4], ws.centroids[5] = 1e6, 1e6
	for i := range ws.labels {
		ws.labels[i] = -1
	}
	start, _ := ws.assign()
	var trace []float64
	_, _ = ws.lloyd(DefaultMaxIter, -1, func(_ int, v float64) { trace = append(trace, v) })
	checkNonIncreasing(t, start, trace)
	if ws.centroids[4] > 1e3 {
		t.Fatal("empty cluster kept its far-away centroid")
	}
	sameClusters(t, truth, ws.labels)
}
