package kmeans

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFit_RecoversBlobs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, d, k int
	}{
		{"one blob", 200, 3, 1},
		{"two blobs 2d", 400, 2, 2},
		{"three blobs 5d", 900, 5, 3},
		{"six blobs 4d", 1200, 4, 6},
		{"eight blobs 10d", 4000, 10, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, truth := blobs(t, tc.n, tc.d, tc.k, 7)
			res, err := Fit(data, Options{K: tc.k, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			sameClusters(t, truth, res.Labels)
			if r, c := res.Centroids.Dims(); r != tc.k || c != tc.d {
				t.Fatalf("centroids are %dx%d, want %dx%d", r, c, tc.k, tc.d)
			}
			for c, s := range res.Sizes {
				if s != tc.n/tc.k {
					t.Errorf("cluster %d has %d rows, want %d", c, s, tc.n/tc.k)
				}
			}
			// Unit-variance blobs: inertia is about n*d.
			if per := res.Inertia / float64(tc.n*tc.d); per < 0.8 || per > 1.2 {
				t.Errorf("inertia per value %.3f, want about 1", per)
			}
		})
	}
}

func TestFit_ResultIsConsistent(t *testing.T) {
	data, _ := blobs(t, 3000, 6, 5, 3)
	// Ask for more clusters than blobs so that clusters split blobs and Lloyd
	// has work to do.
	res, err := Fit(data, Options{K: 9, Seed: 5, Restarts: 3})
	if err != nil {
		t.Fatal(err)
	}
	labels, dist := Assign(data, res.Centroids)
	if !slices.Equal(labels, res.Labels) {
		t.Fatal("Labels differ from Assign against the returned centroids")
	}
	var inertia float64
	sizes := make([]int, 9)
	for i, d := range dist {
		inertia += d * d
		sizes[labels[i]]++
	}
	if math.Abs(inertia-res.Inertia) > 1e-9*inertia {
		t.Errorf("Inertia %v, sum of squared distances %v", res.Inertia, inertia)
	}
	if !slices.Equal(sizes, res.Sizes) {
		t.Errorf("Sizes %v, counted %v", res.Sizes, sizes)
	}
	if res.Iter < 1 || res.Iter > DefaultMaxIter {
		t.Errorf("Iter %d out of range", res.Iter)
	}
}

func TestFit_Deterministic(t *testing.T) {
	data, _ := blobs(t, 5000, 4, 6, 11)
	fit := func(procs int, seed uint64) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		// K above the blob count makes restarts disagree, so the choice
		// among them matters.
		res, err := Fit(data, Options{K: 10, Restarts: 6, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := fit(1, 42)
	for _, procs := range []int{1, 2, 4} {
		got := fit(procs, 42)
		if got.Inertia != want.Inertia || got.Iter != want.Iter ||
			!slices.Equal(got.Labels, want.Labels) || !mat.Equal(got.Centroids, want.Centroids) {
			t.Errorf("GOMAXPROCS=%d: result differs from GOMAXPROCS=1 (inertia %v vs %v)", procs, got.Inertia, want.Inertia)
		}
	}
	if other := fit(2, 43); mat.Equal(other.Centroids, want.Centroids) {
		t.Log("seeds 42 and 43 gave the same centroids (allowed, but unexpected)")
	}
}

func TestFit_DuplicateRows(t *testing.T) {
	// 300 rows but only 3 distinct values.
	data := mat.NewDense(300, 2, nil)
	for i := range 300 {
		data.Set(i, 0, float64(i%3))
		data.Set(i, 1, -float64(i%3))
	}
	res, err := Fit(data, Options{K: 3, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia != 0 {
		t.Errorf("inertia %v, want 0", res.Inertia)
	}
	if !slices.Equal(res.Sizes, []int{100, 100, 100}) {
		t.Errorf("sizes %v, want 100 each", res.Sizes)
	}
	if _, err := Fit(data, Options{K: 4}); !errors.Is(err, ErrBadK) {
		t.Errorf("K=4 over 3 distinct rows: err %v, want ErrBadK", err)
	}
}

func TestFit_View(t *testing.T) {
	// A sliced matrix has a stride wider than its columns.
	wide, truth := blobs(t, 600, 6, 3, 2)
	view := wide.Slice(0, 600, 0, 6).(*mat.Dense)
	// Overwrite nothing; a column slice must give the same clusters.
	sub := wide.Slice(0, 600, 1, 5).(*mat.Dense)
	for _, m := range []*mat.Dense{view, sub} {
		res, err := Fit(m, Options{K: 3, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		sameClusters(t, truth, res.Labels)
	}
}

func TestFit_BadInputs(t *testing.T) {
	good, _ := blobs(t, 50, 2, 2, 1)
	withValue := func(v float64) *mat.Dense {
		m := mat.DenseCopyOf(good)
		m.Set(17, 1, v)
		return m
	}
	for _, tc := range []struct {
		name string
		data *mat.Dense
		opt  Options
		want error
	}{
		{"nil data", nil, Options{K: 2}, ErrEmptyData},
		{"empty data", &mat.Dense{}, Options{K: 2}, ErrEmptyData},
		{"NaN", withValue(math.NaN()), Options{K: 2}, ErrNonFinite},
		{"+Inf", withValue(math.Inf(1)), Options{K: 2}, ErrNonFinite},
		{"-Inf", withValue(math.Inf(-1)), Options{K: 2}, ErrNonFinite},
		{"K zero", good, Options{K: 0}, ErrBadK},
		{"K negative", good, Options{K: -3}, ErrBadK},
		{"K above rows", good, Options{K: 51}, ErrBadK},
		{"negative restarts", good, Options{K: 2, Restarts: -1}, ErrBadOptions},
		{"negative max iter", good, Options{K: 2, MaxIter: -1}, ErrBadOptions},
		{"NaN tol", good, Options{K: 2, Tol: math.NaN()}, ErrBadOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Fit(tc.data, tc.opt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if res != nil {
				t.Error("non-nil result with an error")
			}
			t.Log(err)
		})
	}
}

func TestFit_SingleRow(t *testing.T) {
	data := mat.NewDense(1, 3, []float64{1, 2, 3})
	res, err := Fit(data, Options{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia != 0 || !slices.Equal(res.Labels, []int{0}) || !mat.Equal(res.Centroids, data) {
		t.Errorf("got %+v", res)
	}
}

func TestFit_RandomSmallInputs(t *testing.T) {
	// Small matrices over a few values, so duplicates and ties abound: Fit
	// must either refuse K with ErrBadK or return a consistent result.
	rng := rand.New(rand.NewPCG(5, 5))
	values := []float64{-1, 0, 0.5, 2, 1e6}
	var empty int
	for trial := range 2000 {
		n, d := 1+rng.IntN(12), 1+rng.IntN(4)
		data := mat.NewDense(n, d, nil)
		for i := range n {
			for j := range d {
				data.Set(i, j, values[rng.IntN(len(values))])
			}
		}
		k := 1 + rng.IntN(n+1)
		res, err := Fit(data, Options{K: k, Restarts: 2, Seed: uint64(trial)})
		if err != nil {
			if !errors.Is(err, ErrBadK) {
				t.Fatalf("trial %d: n=%d k=%d: unexpected error %v", trial, n, k, err)
			}
			continue
		}
		labels, dist := Assign(data, res.Centroids)
		if !slices.Equal(labels, res.Labels) {
			t.Fatalf("trial %d: labels differ from Assign", trial)
		}
		var inertia float64
		for _, v := range dist {
			inertia += v * v
		}
		if math.Abs(inertia-res.Inertia) > 1e-9*(1+inertia) {
			t.Fatalf("trial %d: inertia %v, recomputed %v", trial, res.Inertia, inertia)
		}
		if slices.Contains(res.Sizes, 0) {
			empty++
		}
	}
	t.Logf("%d fits ended with an empty cluster", empty)
}

// TestFit_Progress: every restart is reported once, done counting up to
// the total, and reporting changes nothing of the result.
func TestFit_Progress(t *testing.T) {
	data := mat.NewDense(60, 2, nil)
	for i := range 60 {
		data.Set(i, 0, float64(i%3)*10+float64(i%7)*0.1)
		data.Set(i, 1, float64(i%5)*0.1)
	}
	plain, err := Fit(data, Options{K: 3, Restarts: 7, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	withProgress, err := Fit(data, Options{K: 3, Restarts: 7, Seed: 2, Progress: func(done, total int) {
		if total != 7 {
			t.Errorf("total %d", total)
		}
		seen = append(seen, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 7 || seen[0] != 1 || seen[6] != 7 {
		t.Errorf("progress %v, want 1..7", seen)
	}
	if !mat.Equal(plain.Centroids, withProgress.Centroids) || plain.Inertia != withProgress.Inertia {
		t.Error("reporting progress changed the result")
	}
}
