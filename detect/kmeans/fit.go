package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"
)

// Fit clusters the rows of data into opt.K clusters and returns the best of
// opt.Restarts k-means++ restarts by inertia.
//
// It returns an error wrapping ErrEmptyData, ErrNonFinite, ErrBadK or
// ErrBadOptions when data is empty, holds NaN or Inf, has fewer distinct rows
// than opt.K, or an option is out of range. Restarts run on up to GOMAXPROCS
// goroutines, all finished before Fit returns; the result does not depend on
// their number.
func Fit(data *mat.Dense, opt Options) (*Result, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	x, err := checkData(data)
	if err != nil {
		return nil, err
	}
	if opt.K > x.n {
		return nil, fmt.Errorf("%w: K is %d but the data has only %d rows: lower K", ErrBadK, opt.K, x.n)
	}
	if n := countDistinct(x, opt.K); n < opt.K {
		return nil, fmt.Errorf("%w: K is %d but the data has only %d distinct rows: lower K to at most %d", ErrBadK, opt.K, n, n)
	}

	workers := min(runtime.GOMAXPROCS(0), opt.Restarts)
	bests := make([]*restartBest, workers)
	var next atomic.Int64
	var progressMu sync.Mutex
	done := 0
	work := func(wi int) {
		ws := newWorkspace(x, opt.K)
		b := &restartBest{index: -1, inertia: math.Inf(1)}
		for r := int(next.Add(1) - 1); r < opt.Restarts; r = int(next.Add(1) - 1) {
			ws.initPlusPlus(restartRand(opt.Seed, r))
			inertia, iter := ws.lloyd(opt.MaxIter, opt.Tol, nil)
			b.offer(r, inertia, iter, ws)
			if opt.Progress != nil {
				progressMu.Lock()
				done++
				opt.Progress(done, opt.Restarts)
				progressMu.Unlock()
			}
		}
		bests[wi] = b
	}
	if workers == 1 {
		work(0)
	} else {
		var wg sync.WaitGroup
		for wi := range workers {
			wg.Go(func() { work(wi) })
		}
		wg.Wait()
	}

	var best *restartBest
	for _, b := range bests {
		if b.index >= 0 && (best == nil || beats(b.index, b.inertia, best.index, best.inertia)) {
			best = b
		}
	}
	return best.result(opt.K, x.d), nil
}

// restartRand returns the generator of restart r: a PCG stream whose state
// is derived from seed and r alone.
func restartRand(seed uint64, r int) *rand.Rand {
	s := mix64(seed + uint64(r+1)*0x9e3779b97f4a7c15)
	return rand.New(rand.NewPCG(s, mix64(s^0xd1b54a32d192ed03)))
}

// mix64 is the SplitMix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// restartBest is the best restart one worker has seen.
type restartBest struct {
	index     int
	inertia   float64
	iter      int
	centroids []float64
	labels    []int
}

// beats reports whether restart r with inertia v is better than restart o
// with inertia w: lower inertia, ties to the lower index.
func beats(r int, v float64, o int, w float64) bool {
	return v < w || (v == w && r < o)
}

// offer keeps restart r if it beats the best so far.
func (b *restartBest) offer(r int, inertia float64, iter int, ws *workspace) {
	if b.index >= 0 && !beats(r, inertia, b.index, b.inertia) {
		return
	}
	b.index, b.inertia, b.iter = r, inertia, iter
	b.centroids = append(b.centroids[:0], ws.centroids...)
	b.labels = append(b.labels[:0], ws.labels...)
}

func (b *restartBest) result(k, d int) *Result {
	sizes := make([]int, k)
	for _, c := range b.labels {
		sizes[c]++
	}
	return &Result{
		Centroids: mat.NewDense(k, d, b.centroids),
		Labels:    b.labels,
		Inertia:   b.inertia,
		Iter:      b.iter,
		Sizes:     sizes,
	}
}
