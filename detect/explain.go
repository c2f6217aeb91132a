package detect

import (
	"math"
	"slices"
	"sort"
)

// Severity is the calibration of a model's scores: the scores of its
// training windows at fixed shares of them, so that a window's severity is
// the share (0-100) of training windows that scored less than it: an
// analyst's sort order that means the same across models and kinds. The
// shares are dense in the tail (up to 99.99%), where anomalies fall: a
// threshold at the 0.99 quantile of distances makes every anomaly's
// severity at least about 99, and the tail orders them.
type Severity struct {
	Shares []float64 `json:"shares"` // increasing, in [0, 1], the last 1
	Scores []float64 `json:"scores"` // non-decreasing: the score at each share
}

// severityShares are the shares a trained model's calibration keeps.
var severityShares = func() []float64 {
	var s []float64
	for i := range 9 {
		s = append(s, float64(i)/10)
	}
	for i := 90; i < 99; i++ {
		s = append(s, float64(i)/100)
	}
	for i := 990; i < 999; i++ {
		s = append(s, float64(i)/1000)
	}
	for i := 9990; i < 10000; i++ {
		s = append(s, float64(i)/10000)
	}
	return append(s, 1)
}()

// calibrate returns the calibration of the scores of training windows.
func calibrate(scores []float64) *Severity {
	if len(scores) == 0 {
		return nil
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	c := &Severity{}
	for _, p := range severityShares {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		c.Shares = append(c.Shares, p)
		c.Scores = append(c.Scores, s[min(max(i, 0), len(s)-1)])
	}
	return c
}

// Of returns the severity (0-100) of a score: the share of training
// windows scoring less, interpolated between the calibration's points; 100
// past the highest training score.
func (c *Severity) Of(score float64) float64 {
	n := len(c.Scores)
	if n == 0 || math.IsNaN(score) {
		return 0
	}
	if score >= c.Scores[n-1] {
		return 100
	}
	// The first point scoring more than score.
	j := sort.Search(n, func(i int) bool { return c.Scores[i] > score })
	if j == 0 {
		return 100 * c.Shares[0] * score / math.Max(c.Scores[0], math.SmallestNonzeroFloat64)
	}
	lo, hi := c.Scores[j-1], c.Scores[j]
	f := 0.0
	if hi > lo {
		f = (score - lo) / (hi - lo)
	}
	return 100 * (c.Shares[j-1] + f*(c.Shares[j]-c.Shares[j-1]))
}

// Contribution is one feature's part in a window's distance to its
// cluster: Value is the feature's raw value, Z its signed distance from
// the cluster's centre along the feature (in the model's space: log1p,
// standard deviations), and Share (0-1) its part of the squared distance.
type Contribution struct {
	Feature int // index in the vector (FeatureNames of the kind)
	Value   float64
	Z       float64
	Share   float64
}

// Explain appends to out the features that put the last vector Score
// scored away from its cluster, largest part first, at most max of them
// and only those with a part of at least 5% (or the largest). It
// allocates nothing when out has room.
func (s *Scorer) Explain(vec []float64, sc Score, max int, out []Contribution) []Contribution {
	out = out[:0]
	x := s.scratch // the transformed vector of the last Score
	cen := s.model.Centroids[sc.Cluster]
	d2 := sc.Distance * sc.Distance
	for i, j := range s.idx {
		z := x[i] - cen[i]
		share := 0.0
		if d2 > 0 {
			share = z * z / d2
		}
		out = append(out, Contribution{Feature: j, Value: vec[j], Z: z, Share: share})
	}
	slices.SortStableFunc(out, func(a, b Contribution) int {
		switch {
		case a.Share > b.Share:
			return -1
		case a.Share < b.Share:
			return 1
		}
		return 0
	})
	n := 1
	for n < len(out) && n < max && out[n].Share >= minShare {
		n++
	}
	return out[:min(n, len(out))]
}

// minShare is the least part of the squared distance a feature needs to
// be named in an explanation (after the first).
const minShare = 0.05

// Severity returns the severity of sc under the scorer's model, and false
// for a model without calibration (trained before it was recorded).
func (s *Scorer) Severity(sc Score) (float64, bool) {
	c := s.model.Training.Severity
	if c == nil {
		return 0, false
	}
	return c.Of(sc.Score), true
}
