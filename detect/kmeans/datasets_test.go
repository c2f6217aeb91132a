package kmeans

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// mixture returns n rows in d dimensions: 90% from five Gaussian blobs of
// unequal size and spread, 10% from the same centres with Student-t (ν=2)
// noise, whose heavy tails put far outliers into the data.
func mixture(n, d int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 3))
	const blobs = 5
	centres := make([]float64, blobs*d)
	for i := range centres {
		centres[i] = rng.Float64()*20 - 10
	}
	spread := []float64{0.5, 1, 1.5, 2, 3}
	weight := []float64{0.35, 0.25, 0.2, 0.12, 0.08} // of each blob
	m := mat.NewDense(n, d, nil)
	for i := range n {
		u, b := rng.Float64(), 0
		for acc := weight[0]; b < blobs-1 && u > acc; acc += weight[b] {
			b++
		}
		heavy := rng.Float64() < 0.1
		for j := range d {
			c := centres[b*d+j]
			if heavy {
				// t(2) = Z / sqrt(χ²₂/2), and χ²₂/2 is Exp(1).
				m.Set(i, j, c+2*rng.NormFloat64()/math.Sqrt(rng.ExpFloat64()))
			} else {
				m.Set(i, j, c+spread[b]*rng.NormFloat64())
			}
		}
	}
	return m
}

// traffic returns n rows resembling per-IP window features of a web server,
// log1p-scaled: hits, hits_2xx, hits_non2xx, bytes, distinct paths and
// distinct user agents. Counts are integers, so many rows repeat.
func traffic(n int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 4))
	logNormal := func(mu, sigma float64) float64 { return math.Exp(mu + sigma*rng.NormFloat64()) }
	m := mat.NewDense(n, 6, nil)
	for i := range n {
		var hits, ok2xx, bytesPerHit, pathShare, uas float64
		switch u := rng.Float64(); {
		case u < 0.15: // one request and gone
			hits, ok2xx, bytesPerHit, pathShare, uas = 1, 0.9, logNormal(8, 1.5), 1, 1
		case u < 0.85: // browsers
			hits, ok2xx, bytesPerHit, pathShare, uas = math.Ceil(logNormal(2, 1)), 0.92, logNormal(9, 1), 0.2+0.6*rng.Float64(), float64(1+rng.IntN(2))
		case u < 0.95: // crawlers
			hits, ok2xx, bytesPerHit, pathShare, uas = math.Ceil(logNormal(5, 0.7)), 0.97, logNormal(10, 0.5), 0.9, 1
		default: // scanners
			hits, ok2xx, bytesPerHit, pathShare, uas = math.Ceil(logNormal(4, 1)), 0.1, logNormal(6, 0.5), 1, float64(1+rng.IntN(3))
		}
		var good float64
		for range int(min(hits, 1000)) {
			if rng.Float64() < ok2xx {
				good++
			}
		}
		good = math.Round(good * hits / min(hits, 1000))
		paths := max(1, math.Round(hits*pathShare))
		row := []float64{hits, good, hits - good, math.Round(hits * bytesPerHit), paths, uas}
		for j, v := range row {
			m.Set(i, j, math.Log1p(v))
		}
	}
	return m
}
