package agentfluent_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// modelPath is the model the agent scores with.
var modelPath = filepath.Join("..", "..", "examples", "models", "web.json")

// webFeatures are the features of a web ip_score event, in event order.
var webFeatures = []string{"hits", "hits_2xx", "hits_3xx", "hits_4xx", "hits_5xx", "hits_non2xx",
	"bytes", "distinct_paths", "post", "error_ratio",
	"rare_hits", "rare_errors", "rare_share", "rare_error_ratio",
	"hour_4xx", "hour_rare_errors", "day_4xx", "day_rare_errors", "hour_new_rare_errors", "day_new_rare_errors"}

// horizonFeatures sum a client's earlier windows too (the lines of one
// window do not give them): their check is hits_4xx <= hour_4xx <= day_4xx.
var horizonFeatures = []string{"hour_4xx", "hour_rare_errors", "day_4xx", "day_rare_errors", "hour_new_rare_errors", "day_new_rare_errors"}

// features returns the feature values the lines of a key must produce.
func (k *keyTruth) features() map[string]float64 {
	ratio := 0.0
	if k.hits > 0 {
		ratio = float64(k.s4xx+k.s5xx) / float64(k.hits)
	}
	return map[string]float64{
		"hits": float64(k.hits), "hits_2xx": float64(k.s2xx), "hits_3xx": float64(k.s3xx),
		"hits_4xx": float64(k.s4xx), "hits_5xx": float64(k.s5xx), "hits_non2xx": float64(k.hits - k.s2xx),
		"bytes": float64(k.bytes), "distinct_paths": float64(k.distinctPaths()), "post": float64(k.post),
		"error_ratio": ratio,
		// The bundled model has no path vocabulary: no path is rare.
		"rare_hits": 0, "rare_errors": 0, "rare_share": 0, "rare_error_ratio": 0,
	}
}

// oracle scores feature values the way the model file says (the format of
// CONTRACT.md: log1p, standardize, nearest centroid, distance over that
// centroid's threshold), written here from the contract rather than taken
// from the agent's code.
type oracle struct {
	ID        string
	Features  []string
	Log1p     bool
	Mean, Std []float64
	Centroids [][]float64
	Threshold []float64
}

// verdict is what the model says of one feature vector.
type verdict struct {
	Cluster                    int
	Distance, Threshold, Score float64
	Anomalous                  bool
}

func loadOracle(t testing.TB) *oracle {
	t.Helper()
	data, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name, Version string
		Features      []string
		Transform     struct {
			Log1p     bool
			Mean, Std []float64
		}
		Centroids  [][]float64
		Thresholds []float64
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("model %s: %v", modelPath, err)
	}
	return &oracle{ID: m.Name + "@" + m.Version, Features: m.Features, Log1p: m.Transform.Log1p,
		Mean: m.Transform.Mean, Std: m.Transform.Std, Centroids: m.Centroids, Threshold: m.Thresholds}
}

func (o *oracle) score(f map[string]float64) verdict {
	x := make([]float64, len(o.Features))
	for i, name := range o.Features {
		v := f[name]
		if o.Log1p {
			v = math.Log1p(math.Max(v, 0))
		}
		x[i] = (v - o.Mean[i]) / o.Std[i]
	}
	best, bestD := 0, math.Inf(1)
	for c, cen := range o.Centroids {
		d := 0.0
		for i := range x {
			d += (x[i] - cen[i]) * (x[i] - cen[i])
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	v := verdict{Cluster: best, Distance: math.Sqrt(bestD), Threshold: o.Threshold[best]}
	v.Score = v.Distance / v.Threshold
	v.Anomalous = v.Score > 1
	return v
}

// near reports whether got is want up to rounding.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}
