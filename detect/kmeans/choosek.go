package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Defaults applied by ChooseK to zero-valued AutoOptions fields.
const (
	DefaultMinK       = 2
	DefaultMaxK       = 10
	DefaultSampleSize = 2000
)

// AutoOptions configures ChooseK. Zero fields select the defaults above, and
// DefaultRestarts for Restarts.
type AutoOptions struct {
	MinK, MaxK int    // range of k to try, inclusive
	SampleSize int    // rows fitted and scored per k; larger data is sampled
	Seed       uint64 // seeds the sample and every fit
	Restarts   int    // k-means++ restarts per fit
	// Progress, when set, is called after each restart of each k tried.
	Progress func(k, done, total int)
}

func (o AutoOptions) withDefaults() (AutoOptions, error) {
	if o.MinK < 0 || o.MaxK < 0 || o.SampleSize < 0 || o.Restarts < 0 {
		return o, fmt.Errorf("%w: MinK %d, MaxK %d, SampleSize %d, Restarts %d: none may be negative",
			ErrBadOptions, o.MinK, o.MaxK, o.SampleSize, o.Restarts)
	}
	if o.MinK == 0 {
		o.MinK = DefaultMinK
	}
	if o.MaxK == 0 {
		o.MaxK = max(DefaultMaxK, o.MinK)
	}
	if o.SampleSize == 0 {
		o.SampleSize = DefaultSampleSize
	}
	if o.Restarts == 0 {
		o.Restarts = DefaultRestarts
	}
	if o.MaxK < o.MinK {
		return o, fmt.Errorf("%w: MaxK %d is below MinK %d", ErrBadOptions, o.MaxK, o.MinK)
	}
	if o.SampleSize < 2 {
		return o, fmt.Errorf("%w: SampleSize is %d, want at least 2", ErrBadOptions, o.SampleSize)
	}
	return o, nil
}

// ChooseK returns the k in [MinK, MaxK] whose fit has the highest mean
// silhouette, and the silhouette of every k tried; ties go to the smaller k.
//
// When data has more than SampleSize rows, a deterministic sample of
// SampleSize rows is both fitted and scored; fit the chosen k on the full
// data afterwards. The silhouette is undefined for k=1, so k=1 is returned
// only when MinK is 1 and the (sampled) data has fewer than two distinct
// rows, with no scores. MaxK is lowered to the number of distinct rows.
func ChooseK(data *mat.Dense, opt AutoOptions) (k int, scores map[int]float64, err error) {
	opt, err = opt.withDefaults()
	if err != nil {
		return 0, nil, err
	}
	x, err := checkData(data)
	if err != nil {
		return 0, nil, err
	}
	if x.n > opt.SampleSize {
		data = sampleRows(x, opt.SampleSize, opt.Seed)
		x = viewOf(data)
	}

	distinct := countDistinct(x, opt.MaxK)
	if distinct < 2 && opt.MinK == 1 {
		return 1, map[int]float64{}, nil
	}
	lo, hi := max(opt.MinK, 2), min(opt.MaxK, distinct)
	if hi < lo {
		return 0, nil, fmt.Errorf("%w: MinK is %d but the data (or its sample of %d rows) has only %d distinct rows: lower MinK",
			ErrBadK, opt.MinK, x.n, distinct)
	}

	scores = make(map[int]float64, hi-lo+1)
	best, bestScore := lo, math.Inf(-1) // a NaN score never wins
	for kk := lo; kk <= hi; kk++ {
		var progress func(done, total int)
		if opt.Progress != nil {
			progress = func(done, total int) { opt.Progress(kk, done, total) }
		}
		res, err := Fit(data, Options{K: kk, Restarts: opt.Restarts, Seed: opt.Seed, Progress: progress})
		if err != nil {
			return 0, nil, fmt.Errorf("fit k=%d: %w", kk, err)
		}
		s := Silhouette(data, res.Labels, kk)
		scores[kk] = s
		if s > bestScore {
			best, bestScore = kk, s
		}
	}
	return best, scores, nil
}

// sampleRows returns m of the n rows of x, chosen uniformly without
// replacement from seed and kept in their original order (selection
// sampling, Knuth's Algorithm S).
func sampleRows(x rows, m int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(mix64(seed), mix64(^seed)))
	out := mat.NewDense(m, x.d, nil)
	got := 0
	for i := 0; i < x.n && got < m; i++ {
		if rng.IntN(x.n-i) < m-got {
			out.SetRow(got, x.row(i))
			got++
		}
	}
	return out
}
