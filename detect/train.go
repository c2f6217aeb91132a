package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/socx/sharkfin/detect/kmeans"
	"github.com/socx/sharkfin/record"
)

// TrainConfig controls `sharkfin train`.
type TrainConfig struct {
	Name, Version string
	Kind          record.Kind
	Window        time.Duration
	Features      []string // model features, in order (default DefaultModelFeatures)
	K             int      // clusters; 0 chooses k by silhouette in [MinK, MaxK]
	MinK, MaxK    int      // range for K=0 (default 2..8)
	SampleSize    int      // rows used for the silhouette when K=0 (default 4000)
	Restarts      int      // k-means++ restarts (default 10)
	Quantile      float64  // per-cluster threshold quantile of member distances (default 0.99)
	Seed          uint64
	// MinShare is the smallest share of training rows a cluster needs to be
	// kept as "normal" (default 0.02). Real training logs contain attacks;
	// a scanner's windows form a small, tight cluster far from everything
	// else, and keeping it would make those windows normal. Dropped clusters
	// are recorded in the model's training section, and rows like them then
	// score against the nearest normal cluster. Set a negative value to
	// keep every cluster.
	MinShare float64
	// StdFloor bounds each feature's std (in log1p space) from below so a
	// feature that barely varies in training (POSTs, say) does not turn a
	// single occurrence into an extreme distance (default StdFloorOf the
	// kind).
	StdFloor float64
	// MinThreshold bounds each cluster's threshold from below (default
	// MinThresholdOf the kind, in floored standard deviations): a cluster
	// of identical rows would otherwise get threshold 0 and flag any
	// difference at all. Higher values flag fewer windows of tight
	// clusters.
	MinThreshold float64
	Sources      []string
	// Vocabulary is stored in a web model: the path vocabulary its rare_
	// features were counted against (required when Features has one).
	Vocabulary *Vocabulary
	Now        func() time.Time
	// Progress, when set, is told of every k-means restart done: while
	// choosing k (choosing true) and in the final fit.
	Progress func(choosing bool, k, done, total int)
}

func (c *TrainConfig) setDefaults() {
	if len(c.Features) == 0 {
		c.Features = DefaultModelFeatures(c.Kind)
		if c.Vocabulary == nil {
			c.Features = WithoutVocabulary(c.Features)
		}
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.MinK == 0 {
		c.MinK = 2
	}
	if c.MaxK == 0 {
		c.MaxK = 8
	}
	if c.SampleSize == 0 {
		c.SampleSize = 4000
	}
	if c.Restarts == 0 {
		c.Restarts = 10
	}
	if c.Quantile == 0 {
		c.Quantile = 0.99
	}
	if c.MinShare == 0 {
		c.MinShare = 0.02
	}
	if c.StdFloor == 0 {
		c.StdFloor = StdFloorOf(c.Kind)
	}
	if c.MinThreshold == 0 {
		c.MinThreshold = MinThresholdOf(c.Kind)
	}
	if c.Name == "" {
		c.Name = c.Kind.String()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Version == "" {
		c.Version = c.Now().UTC().Format("20060102T150405Z")
	}
}

// check rejects settings training cannot use (after setDefaults).
func (c *TrainConfig) check() error {
	if !(c.Quantile > 0 && c.Quantile <= 1) {
		return fmt.Errorf("quantile %v: must be in (0, 1]", c.Quantile)
	}
	if !(c.MinThreshold > 0) || math.IsInf(c.MinThreshold, 0) {
		return fmt.Errorf("min threshold %v: must be a positive number of floored standard deviations (default %v)", c.MinThreshold, MinThresholdOf(c.Kind))
	}
	return nil
}

// MinThresholdOf is the default floor of a kind's thresholds
// (TrainConfig.MinThreshold), in floored standard deviations.
//
// A web model's is 1.75. Most of a web model's clusters sit at the floor,
// so it sets the alert rate. On the real web logs (pipeline's
// SlowProbersOnRealSites, seeds 1-3) 1.75 flags the windows of clients
// that never asked for an exploit target at 0.7% in-sample and 3.6% in
// the split, against 1.4% and 6.0% at 1, every planted fast attacker as at
// 1, and the trickle scanner at 95% / 94% (97% / 98%). The slow prober is
// caught at 100% either way by the probe rule (Model.ProbeRule); before
// it, 1.75 lost most of it (92% to 57% in-sample), and the floor was 1.
// Proxy and DNS models keep 1.
func MinThresholdOf(k record.Kind) float64 {
	if k == record.KindWeb {
		return 1.75
	}
	return 1
}

// StdFloorOf is the default std floor (TrainConfig.StdFloor) of a kind's
// features, in log1p space.
//
// A web model's is 1, one unit of log1p: a factor of about e in a count.
// At 0.25, one request of a kind a cluster never saw (log1p(1) = 0.69)
// was 2.8 standard deviations away, so benign windows with one redirect
// or one 5xx were flagged while a scraper three times the heaviest reader
// scored barely above its threshold. On every web log measured no
// feature's spread reaches 1, so a web model in effect compares windows
// in centred log1p units (and error_ratio, at most 0.69 after log1p,
// moves a window less than a count can); floors per feature (ratios at
// 0.25) were worse on every measure. On the real web logs (pipeline's
// SlowProbersOnRealSites) 1 flags a fifth as many benign windows and
// every planted fast attacker, at the cost of some in-sample slow-prober
// windows (100% to 88-95%); on generated traffic (TestDetection_Web) it
// catches every slow scanner's window (78-82% at 0.25) at a similar alert
// rate. Proxy and DNS models keep 0.25: their lengths and entropies are
// not counts, and DNS alerts rose at 1.
func StdFloorOf(k record.Kind) float64 {
	if k == record.KindWeb {
		return 1
	}
	return 0.25
}

// Projection selects model features out of the kind's full vectors.
type Projection struct{ idx []int }

// NewProjection maps feature names of kind to vector positions.
func NewProjection(kind record.Kind, names []string) (*Projection, error) {
	p := &Projection{idx: make([]int, len(names))}
	for i, n := range names {
		j, err := featureIndex(kind, n)
		if err != nil {
			return nil, err
		}
		p.idx[i] = j
	}
	return p, nil
}

// Apply appends the selected features of full to dst.
func (p *Projection) Apply(dst, full []float64) []float64 {
	for _, j := range p.idx {
		dst = append(dst, full[j])
	}
	return dst
}

// TrainReport says what training did beyond what the model records.
type TrainReport struct {
	Silhouette map[int]float64
	Sizes      []int
	Dropped    int // rows in dropped clusters
}

// ErrNoRows is returned when there is nothing to train on.
var ErrNoRows = errors.New("no training rows: the input produced no windows")

// Train fits a model to rows (each the model features, in cfg.Features
// order, raw counts).
func Train(rows [][]float64, cfg TrainConfig) (*Model, *TrainReport, error) {
	d := len(cfg.Features)
	if d == 0 {
		cfg.setDefaults()
		d = len(cfg.Features)
	}
	if len(rows) == 0 {
		return nil, nil, ErrNoRows
	}
	flat := make([]float64, 0, len(rows)*d)
	for i, r := range rows {
		if len(r) != d {
			return nil, nil, fmt.Errorf("row %d has %d features, want %d", i, len(r), d)
		}
		flat = append(flat, r...)
	}
	return trainFlat(flat, int64(len(rows)), cfg)
}

// TrainSample fits a model to the rows a Sample kept, as Train does; the
// model records how many rows were read (Training.RowsRead). The sample's
// memory is transformed in place: s is empty afterwards.
func TrainSample(s *Sample, cfg TrainConfig) (*Model, *TrainReport, error) {
	if len(cfg.Features) == 0 {
		cfg.setDefaults()
	}
	if s.dim != len(cfg.Features) {
		return nil, nil, fmt.Errorf("sample rows have %d features, the model %d", s.dim, len(cfg.Features))
	}
	data, seen := s.data, s.seen
	s.data, s.seen = nil, 0
	if len(data) == 0 {
		return nil, nil, ErrNoRows
	}
	return trainFlat(data, seen, cfg)
}

// trainFlat trains on rows of raw counts back to back in flat (which it
// transforms in place); read is how many rows they were sampled from.
func trainFlat(flat []float64, read int64, cfg TrainConfig) (*Model, *TrainReport, error) {
	cfg.setDefaults()
	d := len(cfg.Features)
	n := len(flat) / d
	if n == 0 {
		return nil, nil, ErrNoRows
	}
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	// log1p, then z-score.
	for i, v := range flat {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("row %d feature %s is %v", i/d, cfg.Features[i%d], v)
		}
		flat[i] = log1pCount(math.Max(v, 0))
	}
	x := mat.NewDense(n, d, flat)
	mean, std := meanStd(x, cfg.StdFloor)
	for i := range n {
		row := x.RawRowView(i)
		for j := range d {
			row[j] = (row[j] - mean[j]) / std[j]
		}
	}
	rep := &TrainReport{}
	k := cfg.K
	if k == 0 {
		maxK := min(cfg.MaxK, n)
		minK := min(cfg.MinK, maxK)
		var progress func(k, done, total int)
		if cfg.Progress != nil {
			progress = func(k, done, total int) { cfg.Progress(true, k, done, total) }
		}
		best, scores, err := kmeans.ChooseK(x, kmeans.AutoOptions{MinK: minK, MaxK: maxK, SampleSize: cfg.SampleSize, Seed: cfg.Seed,
			Restarts: min(cfg.Restarts, 3), Progress: progress})
		if err != nil {
			return nil, nil, fmt.Errorf("choose k: %w", err)
		}
		k, rep.Silhouette = best, scores
	}
	var progress func(done, total int)
	if cfg.Progress != nil {
		progress = func(done, total int) { cfg.Progress(false, k, done, total) }
	}
	res, err := kmeans.Fit(x, kmeans.Options{K: k, Restarts: cfg.Restarts, Seed: cfg.Seed, Progress: progress})
	if err != nil {
		return nil, nil, fmt.Errorf("k-means with k=%d: %w", k, err)
	}
	return finishModel(x, res, Transform{Log1p: true, Mean: mean, Std: std}, read, cfg, rep)
}

// finishModel turns a clustering of the transformed rows x into a model:
// small clusters dropped, per-cluster thresholds, provenance.
func finishModel(x *mat.Dense, res *kmeans.Result, tr Transform, read int64, cfg TrainConfig, rep *TrainReport) (*Model, *TrainReport, error) {
	n, _ := x.Dims()
	k := len(res.Sizes)
	rep.Sizes = res.Sizes

	// Keep clusters with enough rows; always keep the largest.
	keep := make([]bool, k)
	largest := 0
	for c, s := range res.Sizes {
		if s > res.Sizes[largest] {
			largest = c
		}
		keep[c] = cfg.MinShare < 0 || float64(s) >= cfg.MinShare*float64(n)
	}
	keep[largest] = true
	var centroids [][]float64
	var dropped []DroppedCluster
	var sizes []int
	for c := range k {
		cen := mat.Row(nil, c, res.Centroids)
		if keep[c] {
			centroids = append(centroids, cen)
			sizes = append(sizes, res.Sizes[c])
		} else {
			dropped = append(dropped, DroppedCluster{Rows: res.Sizes[c], Centroid: cen})
			rep.Dropped += res.Sizes[c]
		}
	}
	// Thresholds: quantile of the distance of each kept row to its nearest
	// kept centroid, per cluster.
	per := make([][]float64, len(centroids))
	for i := range n {
		if !keep[res.Labels[i]] {
			continue
		}
		best, d := nearest(x.RawRowView(i), centroids)
		per[best] = append(per[best], d)
	}
	thresholds := make([]float64, len(centroids))
	for c, ds := range per {
		t := cfg.MinThreshold
		if len(ds) > 0 {
			t = math.Max(kmeans.Quantile(ds, cfg.Quantile), cfg.MinThreshold)
		}
		thresholds[c] = t
	}
	// Severity: the scores of every training window (those of dropped
	// clusters too, scored against the kept ones, as they would be).
	scores := make([]float64, n)
	for i := range n {
		best, d := nearest(x.RawRowView(i), centroids)
		scores[i] = d / thresholds[best]
	}
	sil := make(map[string]float64, len(rep.Silhouette))
	for kk, v := range rep.Silhouette {
		sil[fmt.Sprint(kk)] = v
	}
	m := &Model{
		Format:     ModelFormat,
		Name:       cfg.Name,
		Version:    cfg.Version,
		Kind:       cfg.Kind.String(),
		Window:     fmt.Sprintf("%ds", int64(cfg.Window/time.Second)),
		Features:   append([]string(nil), cfg.Features...),
		Transform:  tr,
		Centroids:  centroids,
		Thresholds: thresholds,
		Training: Training{
			Rows: n, K: k, Inertia: res.Inertia, Quantile: cfg.Quantile,
			RowsRead: sampledFrom(read, n),
			Created:  cfg.Now().UTC().Truncate(time.Second), Sources: cfg.Sources,
			Seed: cfg.Seed, Restarts: cfg.Restarts, MinShare: cfg.MinShare, MinThreshold: recordedMinThreshold(cfg.Kind, cfg.MinThreshold),
			Dropped: dropped, Sizes: sizes, Silhouette: sil, Severity: calibrate(scores),
		},
		Vocabulary: cfg.Vocabulary,
	}
	if err := m.Validate(); err != nil {
		return nil, nil, fmt.Errorf("trained model failed validation (a bug): %w", err)
	}
	return m, rep, nil
}

// recordedMinThreshold is Training.MinThreshold: 0 (omitted) at the
// kind's default, so that default models stay readable by earlier agents.
func recordedMinThreshold(k record.Kind, v float64) float64 {
	if v == MinThresholdOf(k) {
		return 0
	}
	return v
}

// sampledFrom is Training.RowsRead: the rows read when more than trained
// on (a sample), else 0 (omitted).
func sampledFrom(read int64, n int) int64 {
	if read > int64(n) {
		return read
	}
	return 0
}

// meanStd is the per-column mean and standard deviation of x (log1p
// counts), each std at least floor.
func meanStd(x *mat.Dense, floor float64) (mean, std []float64) {
	n, d := x.Dims()
	mean, std = make([]float64, d), make([]float64, d)
	col := make([]float64, n)
	for j := range d {
		mat.Col(col, j, x)
		mean[j], std[j] = stat.MeanStdDev(col, nil)
		if math.IsNaN(std[j]) || std[j] < floor {
			std[j] = floor
		}
	}
	return mean, std
}
