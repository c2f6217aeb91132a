package kmeans

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Assign returns, for each row of data, the index of the nearest centroid
// and the Euclidean (not squared) distance to it. Ties go to the lower
// centroid index. Empty data gives nil slices. Assign panics when centroids
// is empty or its column count differs from data's, as gonum does for shape
// mismatches.
func Assign(data *mat.Dense, centroids *mat.Dense) (labels []int, dist []float64) {
	x := viewOf(data)
	if x.n == 0 {
		return nil, nil
	}
	cents, k := flatCentroids(centroids, x.d)
	labels = make([]int, x.n)
	dist = make([]float64, x.n)
	for i := range x.n {
		c, s := nearest(x.row(i), cents, k, x.d)
		labels[i], dist[i] = c, math.Sqrt(s)
	}
	return labels, dist
}

// Nearest returns the index of the centroid nearest to row and the Euclidean
// distance to it, allocating nothing. It panics when len(row) differs from
// the centroids' column count or centroids is empty.
func Nearest(row []float64, centroids *mat.Dense) (int, float64) {
	cents, k := flatCentroids(centroids, len(row))
	c, s := nearest(row, cents, k, len(row))
	return c, math.Sqrt(s)
}

// flatCentroids returns the centroids as k contiguous rows of d values.
// Gonum matrices made by NewDense are contiguous already; views are copied.
func flatCentroids(centroids *mat.Dense, d int) ([]float64, int) {
	c := viewOf(centroids)
	if c.n == 0 {
		panic("kmeans: no centroids")
	}
	if c.d != d {
		panic(fmt.Sprintf("kmeans: data has %d columns, centroids have %d", d, c.d))
	}
	if c.str == c.d {
		return c.data[:c.n*c.d], c.n
	}
	flat := make([]float64, 0, c.n*c.d)
	for i := range c.n {
		flat = append(flat, c.row(i)...)
	}
	return flat, c.n
}
