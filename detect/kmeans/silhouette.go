package kmeans

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Silhouette returns the mean silhouette coefficient of a clustering of the
// rows of data into k clusters: for each row, (b-a)/max(a,b) where a is its
// mean distance to the other rows of its cluster and b the smallest mean
// distance to the rows of another non-empty cluster; rows alone in their
// cluster score 0 (Rousseeuw 1987, as scikit-learn computes it).
//
// It costs O(n²·d) time and O(n·k) memory: pass a sample of a few thousand
// rows. It returns NaN when len(labels) differs from the number of rows, a
// label is outside [0,k), or fewer than two clusters are non-empty.
func Silhouette(data *mat.Dense, labels []int, k int) float64 {
	x := viewOf(data)
	n := x.n
	if n == 0 || len(labels) != n || k < 2 {
		return math.NaN()
	}
	sizes := make([]int, k)
	for _, c := range labels {
		if c < 0 || c >= k {
			return math.NaN()
		}
		sizes[c]++
	}
	nonEmpty := 0
	for _, s := range sizes {
		if s > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 2 {
		return math.NaN()
	}

	// sums[i*k+c] is the total distance from row i to the rows of cluster c;
	// each pair is measured once and credited to both rows.
	sums := make([]float64, n*k)
	for i := range n {
		ri, li := x.row(i), labels[i]
		si := sums[i*k : (i+1)*k]
		for j := i + 1; j < n; j++ {
			dd := math.Sqrt(sqDist(ri, x.row(j)))
			si[labels[j]] += dd
			sums[j*k+li] += dd
		}
	}

	var total float64
	for i := range n {
		own := labels[i]
		if sizes[own] < 2 {
			continue
		}
		si := sums[i*k : (i+1)*k]
		a := si[own] / float64(sizes[own]-1)
		b := math.Inf(1)
		for c, s := range sizes {
			if c != own && s > 0 {
				b = min(b, si[c]/float64(s))
			}
		}
		if m := max(a, b); m > 0 {
			total += (b - a) / m
		}
	}
	return total / float64(n)
}
