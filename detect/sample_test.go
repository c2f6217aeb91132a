package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/socx/sharkfin/internal/e2etest"
	"github.com/socx/sharkfin/record"
)

func TestSample_UniformAndBounded(t *testing.T) {
	s := NewSample(2, 1000, 7)
	for i := range 100_000 {
		s.Add([]float64{float64(i), 1})
	}
	if s.Len() != 1000 || s.Seen() != 100_000 || cap(s.data) != 2000 {
		t.Fatalf("len %d seen %d cap %d; want 1000 of 100000 in exactly 2000 floats", s.Len(), s.Seen(), cap(s.data))
	}
	// Uniform: the kept rows' indexes spread over the stream (their mean
	// near 50,000, a tenth in each tenth). Seeded: the same every run.
	var sum float64
	tenths := make([]int, 10)
	for _, r := range s.Rows() {
		sum += r[0]
		tenths[int(r[0])/10_000]++
	}
	if m := sum / 1000; math.Abs(m-50_000) > 3_000 {
		t.Errorf("mean index kept %.0f, want about 50000", m)
	}
	for i, n := range tenths {
		if n < 60 || n > 140 {
			t.Errorf("tenth %d of the stream: %d rows kept, want about 100", i, n)
		}
	}
}

// TestTrainSample_AllRowsEqualsTrain: a sample that kept every row trains
// the same model as Train on the rows.
func TestTrainSample_AllRowsEqualsTrain(t *testing.T) {
	rows := mixtureRows(3000, 1)
	cfg := TrainConfig{Kind: record.KindWeb, Window: time.Minute, Features: []string{"hits", "distinct_paths", "hits_non2xx"},
		Seed: 3, Now: func() time.Time { return time.Unix(0, 0) }}
	want, _, err := Train(rows, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSample(3, 5000, 1)
	for _, r := range rows {
		s.Add(r)
	}
	got, _, err := TrainSample(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("models differ:\n%s\n%s", a, b)
	}
	if got.Training.RowsRead != 0 || s.Len() != 0 {
		t.Errorf("rows_read %d, sample left with %d rows", got.Training.RowsRead, s.Len())
	}
}

// mixtureRows are n rows of three count features from a mixture of five
// kinds of clients (readers, crawlers, API clients, broken-link hitters,
// scanners), as per-window counts are.
func mixtureRows(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	kinds := [][3]float64{{4, 3, 0.1}, {40, 35, 1}, {120, 5, 2}, {6, 2, 3}, {300, 280, 250}}
	weights := []float64{0.55, 0.2, 0.15, 0.08, 0.02}
	out := make([][]float64, n)
	for i := range out {
		u, k := rng.Float64(), 0
		for k < len(weights)-1 && u > weights[k] {
			u -= weights[k]
			k++
		}
		r := make([]float64, 3)
		for j := range r {
			r[j] = math.Round(kinds[k][j] * math.Exp(rng.NormFloat64()*0.4))
		}
		out[i] = r
	}
	return out
}

// sampleChildEnv runs the bounded-memory training in a process of its own
// (TestTrainSample_BoundedMemory, BenchmarkTrainSample): "ROWS,SAMPLE".
const sampleChildEnv = "SHARKFIN_TRAIN_SAMPLE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(sampleChildEnv); spec != "" {
		os.Exit(trainSampleChild(spec))
	}
	os.Exit(m.Run())
}

// trainSampleChild streams ROWS generated rows through a Sample of SAMPLE
// rows, trains, and prints the peak RSS (bytes), the held-out inertia of
// that model and of full-batch training on a separate SAMPLE-row draw (in
// the latter's space), and the seconds taken.
func trainSampleChild(spec string) int {
	var rowsN, sampleN int
	if _, err := fmt.Sscanf(spec, "%d,%d", &rowsN, &sampleN); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// Five features, as many as the default web model has.
	cfg := TrainConfig{Kind: record.KindWeb, Window: time.Minute, Features: []string{"hits", "hits_2xx", "hits_non2xx", "distinct_paths", "post"}, Seed: 1, K: 5,
		MinShare: -1} // every cluster kept: scanners are 2% of the rows, at the default share to drop, which would make the figure a coin toss
	start := time.Now()
	const dim = 5
	s := NewSample(dim, sampleN, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	kinds := [][dim]float64{{4, 4, 0.1, 3, 0.1}, {40, 39, 1, 35, 0.2}, {120, 118, 2, 5, 60}, {6, 3, 3, 2, 0.1}, {300, 50, 250, 280, 1}}
	weights := []float64{0.55, 0.2, 0.15, 0.08, 0.02}
	row := make([]float64, dim)
	gen := func() []float64 {
		u, k := rng.Float64(), 0
		for k < len(weights)-1 && u > weights[k] {
			u -= weights[k]
			k++
		}
		for j := range row {
			row[j] = math.Round(kinds[k][j] * math.Exp(rng.NormFloat64()*0.4))
		}
		return row
	}
	for range rowsN {
		s.Add(gen())
	}
	m, _, err := TrainSample(s, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	took := time.Since(start)
	hwm := vmHWM()
	// The reference: full-batch training on its own draw of sampleN rows,
	// then both scored on 200,000 held-out rows in its space.
	ref := make([][]float64, sampleN)
	for i := range ref {
		ref[i] = append([]float64(nil), gen()...)
	}
	rm, _, err := Train(ref, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ref = nil
	var cents [][]float64
	for _, cen := range m.Centroids {
		v := make([]float64, len(cen))
		for j := range cen {
			v[j] = transform(&rm.Transform, j, untransform(&m.Transform, j, cen[j]))
		}
		cents = append(cents, v)
	}
	var own, refIn float64
	z := make([]float64, dim)
	for range 200_000 {
		r := gen()
		for j := range r {
			z[j] = transform(&rm.Transform, j, r[j])
		}
		_, d1 := nearest(z, cents)
		_, d2 := nearest(z, rm.Centroids)
		own += d1 * d1
		refIn += d2 * d2
	}
	fmt.Printf("%d %g %g %g\n", hwm, own/200_000, refIn/200_000, took.Seconds())
	return 0
}

// vmHWM is this process's peak resident set in bytes (0 if unknown).
func vmHWM() int64 {
	n, _ := e2etest.PeakRSS(0)
	return n
}

type sampleRun struct {
	hwm           int64
	inertia, ref  float64
	seconds       float64
	rows, sampled int
}

func runSampleChild(t testing.TB, rows, sample int) sampleRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", sampleChildEnv, rows, sample))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	r := sampleRun{rows: rows, sampled: sample}
	if _, err := fmt.Sscan(string(out), &r.hwm, &r.inertia, &r.ref, &r.seconds); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return r
}

// TestTrainSample_BoundedMemory streams 1M and then 3M generated rows
// through a 200,000-row sample: the peak RSS does not grow with the rows
// read, and the held-out inertia of the model is within 2% of full-batch
// training on a separate 200,000-row draw. (make bench runs the full
// figure: 20M rows through a 1M-row sample, under 256 MiB.)
func TestTrainSample_BoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	a := runSampleChild(t, 1_000_000, 200_000)
	b := runSampleChild(t, 3_000_000, 200_000)
	for _, r := range []sampleRun{a, b} {
		t.Logf("%d rows through a %d-row sample: peak RSS %d MiB, held-out inertia %.5f (full batch %.5f), %.1f s",
			r.rows, r.sampled, r.hwm>>20, r.inertia, r.ref, r.seconds)
		if d := math.Abs(r.inertia-r.ref) / r.ref; d > 0.02 {
			t.Errorf("%d rows: held-out inertia %.5f, %.1f%% off full batch %.5f", r.rows, r.inertia, 100*d, r.ref)
		}
	}
	// Held rows would add 120 MB at 3M rows; the slack covers when the
	// garbage collector happens to run.
	if b.hwm > a.hwm+24<<20 {
		t.Errorf("peak RSS grew with the rows read: %d MiB for 1M rows, %d MiB for 3M", a.hwm>>20, b.hwm>>20)
	}
}

// BenchmarkTrainSample: 20,000,000 generated rows of five features through
// a 1,000,000-row sample (the train default); the peak RSS, and the
// held-out inertia against full-batch training on a 1,000,000-row draw.
func BenchmarkTrainSample(b *testing.B) {
	for range b.N {
		r := runSampleChild(b, 20_000_000, 1_000_000)
		b.ReportMetric(float64(r.hwm>>20), "peak_RSS_MiB")
		b.ReportMetric(100*(r.inertia-r.ref)/r.ref, "inertia_vs_full_%")
		b.ReportMetric(r.seconds, "train_s")
	}
}
