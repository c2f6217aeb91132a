package kmeans

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Defaults applied by Fit to zero-valued Options fields.
const (
	DefaultRestarts = 10
	DefaultMaxIter  = 300
	DefaultTol      = 1e-6
)

// Options configures Fit. The zero value of Restarts, MaxIter and Tol selects
// the defaults above.
type Options struct {
	K        int     // clusters, >= 1
	Restarts int     // k-means++ restarts, the best inertia is kept (default 10)
	MaxIter  int     // Lloyd iterations cap (default 300)
	Tol      float64 // stop when inertia improves by less than Tol relative to the previous iteration (default 1e-6; negative: only stop when no label changes)
	Seed     uint64  // same data and options give an identical Result
	// Progress, when set, is called after each restart with how many are
	// done, from the goroutine that finished it (calls do not overlap).
	Progress func(done, total int)
}

// Result is a fitted model.
type Result struct {
	Centroids *mat.Dense // K x d
	Labels    []int      // cluster of each row of the data
	Inertia   float64    // sum of squared distances of rows to their centroid
	Iter      int        // Lloyd iterations of the best restart
	Sizes     []int      // rows per cluster
}

// withDefaults returns o with defaults filled in, or an error naming the
// offending field. It does not look at the data.
func (o Options) withDefaults() (Options, error) {
	if o.K < 1 {
		return o, fmt.Errorf("%w: K is %d, want at least 1", ErrBadK, o.K)
	}
	if o.Restarts < 0 {
		return o, fmt.Errorf("%w: Restarts is %d, want 0 (default %d) or more", ErrBadOptions, o.Restarts, DefaultRestarts)
	}
	if o.MaxIter < 0 {
		return o, fmt.Errorf("%w: MaxIter is %d, want 0 (default %d) or more", ErrBadOptions, o.MaxIter, DefaultMaxIter)
	}
	if o.Tol != o.Tol {
		return o, fmt.Errorf("%w: Tol is NaN", ErrBadOptions)
	}
	if o.Restarts == 0 {
		o.Restarts = DefaultRestarts
	}
	if o.MaxIter == 0 {
		o.MaxIter = DefaultMaxIter
	}
	if o.Tol == 0 {
		o.Tol = DefaultTol
	}
	return o, nil
}
