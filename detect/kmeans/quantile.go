package kmeans

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Quantile returns the empirical q-quantile of xs: the smallest value x of
// xs such that at least a fraction q of xs is <= x (gonum's stat.Empirical,
// no interpolation). q=0 gives the minimum and q=1 the maximum. xs is not
// modified. It returns NaN when xs is empty or holds a NaN, or q is outside
// [0,1].
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return stat.Quantile(q, stat.Empirical, s, nil)
}
