package detect

import (
	"fmt"
	"math"
	"slices"

	"github.com/socx/sharkfin/record"
)

// ModelDiff is how far a new model's clusters moved from an old one's, for
// `sharkfin model diff`. Both models' centroids are compared in the old
// model's space (z-scores of its transform), so a distance reads against
// the old thresholds: a new cluster further from every old centroid than
// that centroid's threshold is behaviour the old model called anomalous.
type ModelDiff struct {
	// Comparable is false when the models differ in kind or features;
	// Reason says how, and only verdicts can be compared.
	Comparable bool
	Reason     string
	// Old has one entry per old cluster (its nearest new cluster), New one
	// per new cluster (its nearest old cluster).
	Old, New []ClusterMatch
}

// ClusterMatch pairs a cluster with the nearest cluster of the other model.
type ClusterMatch struct {
	Cluster, Nearest int
	// Distance between the two centroids, in the old model's space.
	Distance float64
	// OldThreshold is the threshold of the old cluster of the pair (the
	// cluster itself for Old entries, the nearest for New ones), in the
	// same space: Distance / OldThreshold > 1 means the new centroid lies
	// where the old model flagged windows.
	OldThreshold float64
	// NewThreshold is the new cluster's threshold in the new model's
	// space.
	NewThreshold float64
}

// CompareModels matches the clusters of two models of the same kind and
// features.
func CompareModels(oldM, newM *Model) ModelDiff {
	switch {
	case oldM.Kind != newM.Kind:
		return ModelDiff{Reason: fmt.Sprintf("kinds differ (%s, %s)", oldM.Kind, newM.Kind)}
	case oldM.Window != newM.Window:
		return ModelDiff{Reason: fmt.Sprintf("windows differ (%s, %s): counts per window are not comparable", oldM.Window, newM.Window)}
	case !sameSet(oldM.Features, newM.Features):
		return ModelDiff{Reason: fmt.Sprintf("features differ (%v, %v)", oldM.Features, newM.Features)}
	}
	// Each new centroid back to raw feature values, then into the old
	// model's space.
	pos := make([]int, len(oldM.Features)) // old feature i is new feature pos[i]
	for i, f := range oldM.Features {
		pos[i] = slices.Index(newM.Features, f)
	}
	moved := make([][]float64, len(newM.Centroids))
	for c, cen := range newM.Centroids {
		v := make([]float64, len(pos))
		for i, j := range pos {
			raw := untransform(&newM.Transform, j, cen[j])
			v[i] = transform(&oldM.Transform, i, raw)
		}
		moved[c] = v
	}
	d := ModelDiff{Comparable: true}
	for c, cen := range oldM.Centroids {
		n, dist := nearest(cen, moved)
		d.Old = append(d.Old, ClusterMatch{Cluster: c, Nearest: n, Distance: dist,
			OldThreshold: oldM.Thresholds[c], NewThreshold: newM.Thresholds[n]})
	}
	for c, cen := range moved {
		n, dist := nearest(cen, oldM.Centroids)
		d.New = append(d.New, ClusterMatch{Cluster: c, Nearest: n, Distance: dist,
			OldThreshold: oldM.Thresholds[n], NewThreshold: newM.Thresholds[c]})
	}
	return d
}

// untransform is the raw value of feature i whose model-space value is z.
func untransform(t *Transform, i int, z float64) float64 {
	x := z*t.Std[i] + t.Mean[i]
	if t.Log1p {
		x = math.Expm1(x)
	}
	return x
}

// transform is Scorer.Transform for one feature.
func transform(t *Transform, i int, x float64) float64 {
	if t.Log1p {
		x = math.Log1p(math.Max(x, 0))
	}
	return (x - t.Mean[i]) / t.Std[i]
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// VerdictDiff counts how two models judge the same windows.
type VerdictDiff struct {
	Rows                       int
	OldAnomalous, NewAnomalous int
	// BecameAnomalous are windows the old model passed and the new one
	// flags; BecameNormal the reverse.
	BecameAnomalous, BecameNormal int
}

// Changed is the share of rows whose verdict differs.
func (v VerdictDiff) Changed() float64 {
	if v.Rows == 0 {
		return 0
	}
	return float64(v.BecameAnomalous+v.BecameNormal) / float64(v.Rows)
}

// CompareVerdicts scores rows, full feature vectors of kind (FeatureNames
// order, as the Aggregator makes them), with both models.
func CompareVerdicts(oldM, newM *Model, kind record.Kind, rows [][]float64) (VerdictDiff, error) {
	c, err := NewVerdictCounter(oldM, newM, kind)
	if err != nil {
		return VerdictDiff{}, err
	}
	for _, r := range rows {
		c.Add(r)
	}
	return c.Result(), nil
}

// VerdictCounter is CompareVerdicts one row at a time, for streams.
type VerdictCounter struct {
	old, new *Scorer
	v        VerdictDiff
}

// NewVerdictCounter prepares both models for rows of kind.
func NewVerdictCounter(oldM, newM *Model, kind record.Kind) (*VerdictCounter, error) {
	so, err := NewScorer(oldM, kind)
	if err != nil {
		return nil, err
	}
	sn, err := NewScorer(newM, kind)
	if err != nil {
		return nil, err
	}
	return &VerdictCounter{old: so, new: sn}, nil
}

// Add scores one row with both models.
func (c *VerdictCounter) Add(row []float64) {
	a, b := c.old.Score(row).Anomalous, c.new.Score(row).Anomalous
	c.v.Rows++
	switch {
	case a && !b:
		c.v.BecameNormal++
	case b && !a:
		c.v.BecameAnomalous++
	}
	if a {
		c.v.OldAnomalous++
	}
	if b {
		c.v.NewAnomalous++
	}
}

// Result is the counts so far.
func (c *VerdictCounter) Result() VerdictDiff { return c.v }
