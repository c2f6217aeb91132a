package kmeans

import (
	"encoding/binary"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// rows is a read-only view of a matrix's backing array, so hot loops index
// a flat []float64 instead of calling At.
type rows struct {
	data      []float64
	n, d, str int
}

// viewOf returns the rows of m; a nil or empty m gives zero rows.
func viewOf(m *mat.Dense) rows {
	if m == nil || m.IsEmpty() {
		return rows{}
	}
	raw := m.RawMatrix()
	return rows{data: raw.Data, n: raw.Rows, d: raw.Cols, str: raw.Stride}
}

// row returns row i, capped so that appends cannot touch the next row.
func (r rows) row(i int) []float64 {
	off := i * r.str
	return r.data[off : off+r.d : off+r.d]
}

// checkData returns the rows of m, or an error when m is empty or holds a
// value that is not finite.
func checkData(m *mat.Dense) (rows, error) {
	x := viewOf(m)
	if x.n == 0 || x.d == 0 {
		return x, fmt.Errorf("%w: the matrix has no rows", ErrEmptyData)
	}
	for i := range x.n {
		for j, v := range x.row(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return x, fmt.Errorf("%w: row %d column %d is %v", ErrNonFinite, i, j, v)
			}
		}
	}
	return x, nil
}

// countDistinct counts distinct rows of x, stopping once limit are found.
// Zeros of either sign count as the same value.
func countDistinct(x rows, limit int) int {
	seen := make(map[string]struct{}, min(limit, x.n))
	key := make([]byte, 8*x.d)
	for i := range x.n {
		for j, v := range x.row(i) {
			binary.LittleEndian.PutUint64(key[8*j:], math.Float64bits(v+0)) // -0 + 0 == +0
		}
		if _, ok := seen[string(key)]; ok {
			continue
		}
		seen[string(key)] = struct{}{}
		if len(seen) >= limit {
			break
		}
	}
	return len(seen)
}

// sqDist is the squared Euclidean distance between a and b (len(b) >=
// len(a)). Two accumulators keep the floating-point adds from waiting on
// each other; nearest inlines the same sum in the same order.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1 float64
	j := 0
	for ; j+2 <= len(a); j += 2 {
		t0, t1 := a[j]-b[j], a[j+1]-b[j+1]
		s0 += t0 * t0
		s1 += t1 * t1
	}
	if j < len(a) {
		t := a[j] - b[j]
		s0 += t * t
	}
	return s0 + s1
}

// nearest returns the index of the centroid in cents (k rows of len(row)
// values, flat) closest to row, and the squared distance to it. Ties go to
// the lower index. It is the hot loop of Fit and Assign, so sqDist is
// written out here: the call costs as much as a short row.
func nearest(row, cents []float64, k, d int) (int, float64) {
	best, bestD := 0, math.Inf(1)
	for c := range k {
		cr := cents[c*d : c*d+d]
		cr = cr[:len(row)]
		var s0, s1 float64
		j := 0
		for ; j+2 <= len(row); j += 2 {
			t0, t1 := row[j]-cr[j], row[j+1]-cr[j+1]
			s0 += t0 * t0
			s1 += t1 * t1
		}
		if j < len(row) {
			t := row[j] - cr[j]
			s0 += t * t
		}
		if s := s0 + s1; s < bestD {
			best, bestD = c, s
		}
	}
	return best, bestD
}
