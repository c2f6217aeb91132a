package detect

import (
	"math/rand/v2"
)

// Sample keeps a uniform random sample of at most a fixed number of rows
// from a stream of any length (Algorithm R: row i replaces a kept one with
// probability cap/i), so that training on what a fleet sent for weeks
// holds cap rows, never the stream. The rows sit back to back in one
// slice: cap rows of d features take cap*d*8 bytes, and TrainSample
// trains on that memory in place.
//
// The accuracy cost: a model trained on the sample is the model full-batch
// training gives on that many rows drawn uniformly from the stream. Its
// transform (means and standard deviations), centroids and thresholds are
// estimates from those rows; with a million rows of a few features the
// sampling error is far below the run-to-run spread of k-means itself
// (BenchmarkTrainSample reports the held-out inertia of both).
type Sample struct {
	dim, cap int
	data     []float64
	seen     int64
	rng      *rand.Rand
}

// NewSample returns an empty sample of rows of dim features, keeping at
// most capRows of them, drawing with seed.
func NewSample(dim, capRows int, seed uint64) *Sample {
	return &Sample{dim: dim, cap: max(capRows, 1), rng: rand.New(rand.NewPCG(seed, 0x5ee9_5a3f1e))}
}

// Add offers one row (dim features; copied).
func (s *Sample) Add(row []float64) {
	s.seen++
	if n := len(s.data) / s.dim; n < s.cap {
		if len(s.data) == cap(s.data) { // grow, to cap rows at most
			grown := make([]float64, len(s.data), min(max(2*cap(s.data), 1024*s.dim), s.cap*s.dim))
			copy(grown, s.data)
			s.data = grown
		}
		s.data = append(s.data, row[:s.dim]...)
		return
	}
	if j := s.rng.Int64N(s.seen); j < int64(s.cap) {
		copy(s.data[int(j)*s.dim:], row[:s.dim])
	}
}

// Seen is the number of rows offered; Len the number kept.
func (s *Sample) Seen() int64 { return s.seen }

// Len is the number of rows kept.
func (s *Sample) Len() int { return len(s.data) / s.dim }

// Rows returns views of the kept rows (valid until the next Add).
func (s *Sample) Rows() [][]float64 {
	out := make([][]float64, s.Len())
	for i := range out {
		out[i] = s.data[i*s.dim : (i+1)*s.dim : (i+1)*s.dim]
	}
	return out
}

// Flat returns a copy of the kept rows, back to back.
func (s *Sample) Flat() []float64 { return append([]float64(nil), s.data...) }
