package kmeans

// workspace holds every buffer one restart needs, so that Lloyd iterations
// and k-means++ allocate nothing. A workspace serves one goroutine at a time.
type workspace struct {
	x rows
	k int

	centroids []float64 // k x d, flat
	labels    []int     // cluster of each row
	dist      []float64 // squared distance of each row to its centroid
	sums      []float64 // k x d, per-cluster coordinate sums
	counts    []int     // rows per cluster

	// k-means++ buffers, n each.
	closest, trial, bestTrial, cumsum []float64
}

func newWorkspace(x rows, k int) *workspace {
	return &workspace{
		x:         x,
		k:         k,
		centroids: make([]float64, k*x.d),
		labels:    make([]int, x.n),
		dist:      make([]float64, x.n),
		sums:      make([]float64, k*x.d),
		counts:    make([]int, k),
		closest:   make([]float64, x.n),
		trial:     make([]float64, x.n),
		bestTrial: make([]float64, x.n),
		cumsum:    make([]float64, x.n),
	}
}

// lloyd runs Lloyd iterations from the current centroids until no label
// changes, inertia improves by no more than tol relative to the previous
// iteration, or maxIter iterations ran. An iteration is an update step
// (centroids to cluster means) followed by an assignment step, so labels and
// inertia always describe the returned centroids. trace, when not nil, sees
// the inertia after every iteration.
func (w *workspace) lloyd(maxIter int, tol float64, trace func(iter int, inertia float64)) (inertia float64, iter int) {
	for i := range w.labels {
		w.labels[i] = -1
	}
	inertia, _ = w.assign()
	for iter = 1; iter <= maxIter; iter++ {
		w.update()
		next, changed := w.assign()
		if trace != nil {
			trace(iter, next)
		}
		prev := inertia
		inertia = next
		if changed == 0 || prev-next <= tol*prev {
			return inertia, iter
		}
	}
	return inertia, maxIter
}

// assign moves every row to its nearest centroid and returns the inertia
// and the number of rows whose label changed.
func (w *workspace) assign() (inertia float64, changed int) {
	d := w.x.d
	for i := range w.x.n {
		c, s := nearest(w.x.row(i), w.centroids, w.k, d)
		if w.labels[i] != c {
			w.labels[i] = c
			changed++
		}
		w.dist[i] = s
		inertia += s
	}
	return inertia, changed
}

// update moves every centroid to the mean of its rows. An empty cluster is
// re-seeded, as scikit-learn does, with the row farthest from its own
// centroid, which leaves its old cluster; this never raises the inertia.
func (w *workspace) update() {
	d := w.x.d
	clear(w.sums)
	clear(w.counts)
	for i := range w.x.n {
		c := w.labels[i]
		w.counts[c]++
		s := w.sums[c*d : (c+1)*d]
		for j, v := range w.x.row(i) {
			s[j] += v
		}
	}
	for c := range w.k {
		if w.counts[c] == 0 {
			w.relocate(c)
		}
	}
	for c := range w.k {
		n := w.counts[c]
		if n == 0 {
			continue // no row left to give it; keep the old centroid
		}
		inv := 1 / float64(n)
		s, cent := w.sums[c*d:(c+1)*d], w.centroids[c*d:(c+1)*d]
		for j := range s {
			cent[j] = s[j] * inv
		}
	}
}

// relocate gives empty cluster c the row farthest from its centroid among
// rows whose cluster keeps at least one other row.
func (w *workspace) relocate(c int) {
	far, farD := -1, 0.0
	for i, s := range w.dist {
		if s > farD && w.counts[w.labels[i]] > 1 {
			far, farD = i, s
		}
	}
	if far < 0 {
		return
	}
	d := w.x.d
	from := w.labels[far]
	row := w.x.row(far)
	src, dst := w.sums[from*d:(from+1)*d], w.sums[c*d:(c+1)*d]
	for j, v := range row {
		src[j] -= v
		dst[j] = v
	}
	w.counts[from]--
	w.counts[c] = 1
	w.labels[far] = c
	w.dist[far] = 0 // never picked twice in one update
}
