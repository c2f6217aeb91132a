package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/socx/sharkfin/detect/kmeans"
	"github.com/socx/sharkfin/record"
)

// FeatureExportFormat tags the description of exported feature vectors.
const FeatureExportFormat = "sharkfin.features/v1"

// FeatureExport describes the vectors `train --export-features` writes for
// training elsewhere (Spark MLlib): the model space they are in, so that
// centres found there can become a model (ImportCenters).
type FeatureExport struct {
	Format    string    `json:"format"`
	Kind      string    `json:"kind"`
	Window    string    `json:"window"`
	Features  []string  `json:"features"`
	Transform Transform `json:"transform"`
	Rows      int64     `json:"rows"`
	Sources   []string  `json:"sources,omitempty"`
	Created   time.Time `json:"created"`
	// Vocabulary is the path vocabulary the web windows' rare_ features
	// were counted against: the imported model takes it.
	Vocabulary *Vocabulary `json:"vocabulary,omitempty"`
	// ProbeRareErrors is train's --probe-rare-errors when not the
	// default (as Training.ProbeRareErrors): the windows it left out of
	// the export, and the imported model's probe rule.
	ProbeRareErrors *int `json:"probe_rare_errors,omitempty"`
	// FloodRequests is train's --flood-requests when not the default (as
	// Training.FloodRequests): the imported model's flood rule.
	FloodRequests *int `json:"flood_requests,omitempty"`
}

// Validate checks an export description read from a file.
func (e *FeatureExport) Validate() error {
	d := len(e.Features)
	switch {
	case e.Format != FeatureExportFormat:
		return fmt.Errorf("format %q: want %q (written by sharkfin train --export-features)", e.Format, FeatureExportFormat)
	case d == 0:
		return errors.New("no features")
	case len(e.Transform.Mean) != d || len(e.Transform.Std) != d:
		return fmt.Errorf("transform has %d means and %d stds for %d features", len(e.Transform.Mean), len(e.Transform.Std), d)
	}
	for i, s := range e.Transform.Std {
		if !(s > 0) || math.IsInf(s, 0) || !finite(e.Transform.Mean[i]) {
			return fmt.Errorf("transform of %s: mean %v std %v", e.Features[i], e.Transform.Mean[i], s)
		}
	}
	if e.Vocabulary != nil {
		if err := e.Vocabulary.validate("vocabulary"); err != nil {
			return err
		}
	}
	if p := e.ProbeRareErrors; p != nil && *p < 0 {
		return fmt.Errorf("probe_rare_errors %d: want 0 (no probe rule) or more (written by sharkfin train --probe-rare-errors)", *p)
	}
	if p := e.FloodRequests; p != nil && *p < 0 {
		return fmt.Errorf("flood_requests %d: want 0 (no flood rule) or more (written by sharkfin train --flood-requests)", *p)
	}
	return nil
}

// FitTransform is the transform training would use on raw rows of d
// features (row-major in flat, which it turns into log1p counts in place):
// log1p, then the sample's mean and standard deviation (at least
// cfg.StdFloor).
func FitTransform(flat []float64, d int, cfg TrainConfig) (Transform, error) {
	cfg.setDefaults()
	if d == 0 || len(flat) < d {
		return Transform{}, ErrNoRows
	}
	for i, v := range flat {
		if !finite(v) {
			return Transform{}, fmt.Errorf("row %d feature %d is %v", i/d, i%d, v)
		}
		flat[i] = log1pCount(math.Max(v, 0))
	}
	mean, std := meanStd(mat.NewDense(len(flat)/d, d, flat), cfg.StdFloor)
	return Transform{Log1p: true, Mean: mean, Std: std}, nil
}

// ImportCenters makes a model of centres found elsewhere (Spark's
// KMeansModel.clusterCenters, in the export's space) and sample, rows of
// exported vectors (that space too, row-major): each row goes to its
// nearest centre, clusters with less than cfg.MinShare of the rows are
// dropped and thresholds are the cfg.Quantile of member distances, as
// Train does. cfg's kind, window and features come from exp.
func ImportCenters(centers [][]float64, exp *FeatureExport, sample []float64, cfg TrainConfig) (*Model, *TrainReport, error) {
	if err := exp.Validate(); err != nil {
		return nil, nil, err
	}
	d := len(exp.Features)
	if len(centers) == 0 {
		return nil, nil, errors.New("no centres")
	}
	flat := make([]float64, 0, len(centers)*d)
	for i, c := range centers {
		if len(c) != d {
			return nil, nil, fmt.Errorf("centre %d has %d values; the export has %d features (%v)", i, len(c), d, exp.Features)
		}
		for _, v := range c {
			if !finite(v) {
				return nil, nil, fmt.Errorf("centre %d holds %v", i, v)
			}
		}
		flat = append(flat, c...)
	}
	n := len(sample) / d
	if n == 0 {
		return nil, nil, ErrNoRows
	}
	cfg.Features = append([]string(nil), exp.Features...)
	cfg.Vocabulary = exp.Vocabulary
	w, err := time.ParseDuration(exp.Window)
	if err != nil {
		return nil, nil, fmt.Errorf("export window %q: %w", exp.Window, err)
	}
	cfg.Window = w
	if cfg.Kind == record.KindUnknown {
		var ok bool
		if cfg.Kind, ok = record.ParseKind(exp.Kind); !ok {
			return nil, nil, fmt.Errorf("export kind %q is not web, proxy or dns", exp.Kind)
		}
	}
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	x := mat.NewDense(n, d, sample)
	cents := mat.NewDense(len(centers), d, flat)
	labels, dist := kmeans.Assign(x, cents)
	res := &kmeans.Result{Centroids: cents, Labels: labels, Sizes: make([]int, len(centers))}
	for i, l := range labels {
		res.Sizes[l]++
		res.Inertia += dist[i] * dist[i]
	}
	cfg.K = len(centers)
	return finishModel(x, res, exp.Transform, 0, cfg, &TrainReport{})
}
