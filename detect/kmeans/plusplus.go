package kmeans

import (
	"math"
	"math/rand/v2"
)

// initPlusPlus chooses k initial centroids from the rows with greedy
// k-means++ (Arthur & Vassilvitskii 2007, in scikit-learn's variant): the
// first uniformly, then each next one as the best of 2+ln(k) candidates drawn
// with probability proportional to the squared distance to the nearest
// centroid chosen so far, "best" meaning the lowest resulting potential.
func (w *workspace) initPlusPlus(rng *rand.Rand) {
	x, d := w.x, w.x.d
	trials := 2 + int(math.Log(float64(w.k)))

	first := x.row(rng.IntN(x.n))
	copy(w.centroids[:d], first)
	for i := range x.n {
		w.closest[i] = sqDist(x.row(i), first)
	}
	for c := 1; c < w.k; c++ {
		var pot float64
		for i, v := range w.closest {
			pot += v
			w.cumsum[i] = pot
		}
		best, bestPot := -1, math.Inf(1)
		for range trials {
			cand := w.sample(rng, pot)
			row := x.row(cand)
			var p float64
			for i := range x.n {
				s := min(sqDist(x.row(i), row), w.closest[i])
				w.trial[i] = s
				p += s
			}
			if best < 0 || p < bestPot {
				best, bestPot = cand, p
				w.trial, w.bestTrial = w.bestTrial, w.trial
			}
		}
		copy(w.centroids[c*d:(c+1)*d], x.row(best))
		w.closest, w.bestTrial = w.bestTrial, w.closest
	}
}

// sample draws a row index with probability proportional to w.closest, whose
// running sums are in w.cumsum and total is pot. Rows at distance zero (the
// centroids themselves) are never drawn while pot is positive.
func (w *workspace) sample(rng *rand.Rand, pot float64) int {
	n := len(w.cumsum)
	if !(pot > 0) || math.IsInf(pot, 0) {
		return rng.IntN(n)
	}
	r := rng.Float64() * pot
	lo, hi := 0, n // first i with cumsum[i] > r
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if w.cumsum[mid] > r {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == n { // r rounded up to pot: take the last row with weight
		for lo = n - 1; lo > 0 && w.closest[lo] == 0; lo-- {
		}
	}
	return lo
}
