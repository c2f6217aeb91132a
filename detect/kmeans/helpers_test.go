package kmeans

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// blobs returns n rows in d dimensions drawn from k isotropic Gaussian blobs
// of standard deviation 1 whose centres are at least 15 apart, and the blob
// of each row. Rows are interleaved (row i belongs to blob i%k).
func blobs(t testing.TB, n, d, k int, seed uint64) (*mat.Dense, []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, 0, k)
	for tries := 0; len(centres) < k; tries++ {
		if tries > 10000 {
			t.Fatalf("cannot place %d blob centres in %d dimensions", k, d)
		}
		c := make([]float64, d)
		for j := range c {
			c[j] = rng.Float64()*60 - 30
		}
		ok := true
		for _, o := range centres {
			if math.Sqrt(sqDist(c, o)) < 15 {
				ok = false
				break
			}
		}
		if ok {
			centres = append(centres, c)
		}
	}
	data := mat.NewDense(n, d, nil)
	truth := make([]int, n)
	for i := range n {
		b := i % k
		truth[i] = b
		for j := range d {
			data.Set(i, j, centres[b][j]+rng.NormFloat64())
		}
	}
	return data, truth
}

// sameClusters fails t unless labels partition the rows exactly as truth
// does: every true group maps to one cluster and no two groups share one.
func sameClusters(t *testing.T, truth, labels []int) {
	t.Helper()
	if len(truth) != len(labels) {
		t.Fatalf("got %d labels, want %d", len(labels), len(truth))
	}
	toCluster := map[int]int{}
	toTruth := map[int]int{}
	for i, g := range truth {
		c := labels[i]
		if want, ok := toCluster[g]; ok && want != c {
			t.Fatalf("row %d of blob %d is in cluster %d, other rows of the blob in %d", i, g, c, want)
		}
		if want, ok := toTruth[c]; ok && want != g {
			t.Fatalf("cluster %d holds rows of blobs %d and %d", c, want, g)
		}
		toCluster[g], toTruth[c] = c, g
	}
}
