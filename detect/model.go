package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/socx/sharkfin/record"
)

// ModelFormat is the format tag of model files this version reads.
const ModelFormat = "sharkfin.model/v1"

// maxModelBytes bounds what LoadModel reads: a model is a few KiB, a few
// MiB with the largest path vocabulary.
const maxModelBytes = 16 << 20

// Model is a trained K-Means model (the `sharkfin.model/v1` file).
type Model struct {
	Format     string      `json:"format"`
	Name       string      `json:"name"`
	Version    string      `json:"version"`
	Kind       string      `json:"kind"`
	Window     string      `json:"window"`
	Features   []string    `json:"features"`
	Transform  Transform   `json:"transform"`
	Centroids  [][]float64 `json:"centroids"`
	Thresholds []float64   `json:"thresholds"`
	Training   Training    `json:"training"`
	// Vocabulary is a web model's path vocabulary, which its rare_
	// features are counted against (absent: none, they are 0).
	Vocabulary *Vocabulary `json:"vocabulary,omitempty"`
}

// Transform maps raw features to the space the centroids live in:
// x' = (log1p(x) - mean) / std when Log1p, else (x - mean) / std.
type Transform struct {
	Log1p bool      `json:"log1p"`
	Mean  []float64 `json:"mean"`
	Std   []float64 `json:"std"`
}

// Training records how the model was made.
type Training struct {
	Rows int `json:"rows"`
	// RowsRead is how many rows were read when training used a uniform
	// sample of them (Rows); absent when it used every row.
	RowsRead int64     `json:"rows_read,omitempty"`
	K        int       `json:"k"`
	Inertia  float64   `json:"inertia"`
	Quantile float64   `json:"quantile"`
	Created  time.Time `json:"created"`
	Sources  []string  `json:"sources"`
	// Seed, Restarts and the robustness settings make training reproducible.
	Seed     uint64  `json:"seed"`
	Restarts int     `json:"restarts,omitempty"`
	Trimmed  int     `json:"trimmed,omitempty"`
	MinShare float64 `json:"min_cluster_share,omitempty"`
	// MinThreshold is the floor of every threshold (TrainConfig) when it
	// is not its kind's default (MinThresholdOf: 1.75 for web, 1 for
	// proxy and dns; before 2026-12-07 the web default was 1 too); absent
	// at the default. (A model that records one is refused by agents of
	// releases before it: they know no such field.)
	MinThreshold float64 `json:"min_threshold,omitempty"`
	// ProbeRareErrors is the rare errors from which a web window was a
	// probe (left out of training, and anomalous when scored: see
	// Model.ProbeRule) when training did not use the default
	// (DefaultProbeRareErrors); 0 turns the rule off. Absent at the
	// default, so that agents of releases before it read such models.
	ProbeRareErrors *int `json:"probe_rare_errors,omitempty"`
	// FloodRequests is the flood rule's POSTs and successes (see
	// Model.FloodRule) when training was not given the default
	// (DefaultFloodRequests); 0 turns the rule off. Absent at the default,
	// so that agents of releases before it read such models.
	FloodRequests *int               `json:"flood_requests,omitempty"`
	Dropped       []DroppedCluster   `json:"dropped_clusters,omitempty"`
	Sizes         []int              `json:"sizes,omitempty"`
	Silhouette    map[string]float64 `json:"silhouette,omitempty"`
	// Severity calibrates scores against the training windows' (models
	// trained before it was recorded have none: their events carry no
	// severity).
	Severity *Severity `json:"severity,omitempty"`
}

// DroppedCluster is a cluster fitted on too few rows to be normal; it is
// left out of the model so that rows like it score against normal clusters.
type DroppedCluster struct {
	Rows     int       `json:"rows"`
	Centroid []float64 `json:"centroid"`
}

// ProbeRule returns the rare errors from which a window this model scores
// is a probe, and anomalous whatever its distance (0: none is): a web
// model with a path vocabulary uses Training.ProbeRareErrors, by default
// DefaultProbeRareErrors, the rule that left probes out of its training.
// A window that asked for that many paths the site never served, and
// failed, is what training took for a scanner; a site whose normal traffic
// is diverse (a cluster with a wide threshold) must not hide it.
func (m *Model) ProbeRule() int { return m.rule(m.Training.ProbeRareErrors, DefaultProbeRareErrors) }

// FloodRule returns the POSTs and successes, all to one path the
// vocabulary does not know, from which a window this model scores is a
// flood (Score.Flood), and anomalous whatever its distance (0: none is): a
// web model with a path vocabulary uses Training.FloodRequests, by default
// DefaultFloodRequests.
func (m *Model) FloodRule() int { return m.rule(m.Training.FloodRequests, DefaultFloodRequests) }

// HasWebRules reports whether the web rules (ProbeRule, FloodRule) can
// apply to m: a web model with a path vocabulary.
func (m *Model) HasWebRules() bool { return m.RecordKind() == record.KindWeb && m.Vocabulary != nil }

// rule is a web rule's number: recorded, or def; 0 where no rule applies.
func (m *Model) rule(recorded *int, def int) int {
	switch {
	case !m.HasWebRules():
		return 0
	case recorded != nil:
		return *recorded
	}
	return def
}

// recordRule is what the model records of a rule trained at n: nothing at
// the default (def) or where no rule applies, so that agents of earlier
// releases still read it.
func (m *Model) recordRule(n, def int) *int {
	if n == def || !m.HasWebRules() {
		return nil
	}
	return &n
}

// RecordFloodRule sets Training.FloodRequests for a model trained with
// the flood rule at n: absent at the default, and for a model the rule
// does not apply to, so that agents of earlier releases still read it.
func (m *Model) RecordFloodRule(n int) {
	m.Training.FloodRequests = m.recordRule(n, DefaultFloodRequests)
}

// RecordProbeRule sets Training.ProbeRareErrors for a model trained with
// probes of n rare errors left out: absent at the default, and for a model
// the rule does not apply to (not web, or no vocabulary), so that agents
// of earlier releases still read it.
func (m *Model) RecordProbeRule(n int) {
	m.Training.ProbeRareErrors = m.recordRule(n, DefaultProbeRareErrors)
}

// ID is the model's `name@version` as put in events.
func (m *Model) ID() string { return m.Name + "@" + m.Version }

// RecordKind returns the parsed kind (valid after Validate).
func (m *Model) RecordKind() record.Kind {
	k, _ := record.ParseKind(m.Kind)
	return k
}

// WindowDuration returns the parsed window (valid after Validate).
func (m *Model) WindowDuration() time.Duration {
	d, _ := time.ParseDuration(m.Window)
	return d
}

// FieldError is a model rejection naming the field and the fix.
type FieldError struct {
	Field string
	Issue string
	Fix   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %s: %s; fix: %s", e.Field, e.Issue, e.Fix)
}

// ErrInvalidModel is matched by errors.Is for every validation failure.
var ErrInvalidModel = errors.New("invalid model")

func (e *FieldError) Is(target error) bool { return target == ErrInvalidModel }

func fieldErr(field, fix, format string, args ...any) error {
	return &FieldError{Field: field, Issue: fmt.Sprintf(format, args...), Fix: fix}
}

const retrain = "retrain with `sharkfin train`"

// DecodeModel parses and validates a model from JSON. Unknown fields are
// rejected so that typos do not silently fall back to defaults.
func DecodeModel(data []byte) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		var ue *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, &FieldError{Field: "(file)", Issue: fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, err), Fix: "restore the file as written by `sharkfin train`"}
		case errors.As(err, &ue):
			field := ue.Field
			if field == "" { // the top level is not an object
				field = "(file)"
			}
			return nil, &FieldError{Field: field, Issue: fmt.Sprintf("has a %s where a %s is expected", ue.Value, ue.Type), Fix: retrain}
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, &FieldError{Field: strings.TrimPrefix(err.Error(), "json: unknown field "), Issue: "is not a field of " + ModelFormat, Fix: "remove it, or use a sharkfin version that reads this model"}
		}
		return nil, &FieldError{Field: "(file)", Issue: err.Error(), Fix: "restore the file as written by `sharkfin train`"}
	}
	// dec.More reports false for a stray ']' or '}': look at the bytes.
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return nil, &FieldError{Field: "(file)", Issue: "has data after the model object", Fix: "keep one JSON object per model file"}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// LoadModel reads and validates a model file. Errors name the file.
func LoadModel(path string) (*Model, error) {
	data, err := ReadModelFile(path)
	if err != nil {
		return nil, err
	}
	m, err := DecodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// ReadModelFile reads a model file whole, refusing one larger than a model
// can be. Verify and decode the same bytes (VerifyModel, DecodeModel): a
// file read twice may change in between.
func ReadModelFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxModelBytes+1)); err != nil {
		return nil, fmt.Errorf("model %s: read: %w", path, err)
	}
	if buf.Len() > maxModelBytes {
		return nil, fmt.Errorf("model %s: larger than %d bytes; a model is a few KiB (a few MiB with a path vocabulary): is this the right file?", path, maxModelBytes)
	}
	return buf.Bytes(), nil
}

// Validate checks every field; the first problem is returned as a
// *FieldError.
func (m *Model) Validate() error {
	if m.Format != ModelFormat {
		return fieldErr("format", "use a model written by `sharkfin train` of this version",
			"is %q, want %q", m.Format, ModelFormat)
	}
	if m.Name == "" || strings.ContainsAny(m.Name, "@ \t\n") {
		return fieldErr("name", "set a short name without '@' or spaces, e.g. \"web\"", "is %q", m.Name)
	}
	if m.Version == "" || strings.ContainsAny(m.Version, " \t\n") {
		return fieldErr("version", "set a version such as \"2026-11-29.1\"", "is %q", m.Version)
	}
	kind, ok := record.ParseKind(m.Kind)
	if !ok {
		return fieldErr("kind", `use "web", "proxy" or "dns"`, "is %q", m.Kind)
	}
	if d, err := time.ParseDuration(m.Window); err != nil || d < time.Second || d%time.Second != 0 {
		return fieldErr("window", `use a whole number of seconds such as "60s"`, "is %q", m.Window)
	}
	d := len(m.Features)
	if d == 0 {
		return fieldErr("features", "list the feature names the model was trained on", "is empty")
	}
	seen := make(map[string]bool, d)
	for i, name := range m.Features {
		if _, err := featureIndex(kind, name); err != nil {
			return fieldErr(fmt.Sprintf("features[%d]", i), fmt.Sprintf("use one of %v", FeatureNames(kind)),
				"%q is not a %s feature", name, kind)
		}
		if seen[name] {
			return fieldErr(fmt.Sprintf("features[%d]", i), "list each feature once", "%q is repeated", name)
		}
		seen[name] = true
		if NeedsVocabulary(name) && m.Vocabulary == nil {
			return fieldErr(fmt.Sprintf("features[%d]", i), "train the model from logs, which learns the vocabulary, or with --vocabulary-from the model whose vocabulary the events were scored with",
				"%q needs the path vocabulary, and the model has none", name)
		}
	}
	if m.Vocabulary != nil {
		if kind != record.KindWeb {
			return fieldErr("vocabulary", "remove it: only web models have a path vocabulary", "is set in a %s model", kind)
		}
		if err := m.Vocabulary.validate("vocabulary"); err != nil {
			return err
		}
	}
	if len(m.Transform.Mean) != d {
		return fieldErr("transform.mean", retrain, "has %d values for %d features", len(m.Transform.Mean), d)
	}
	if len(m.Transform.Std) != d {
		return fieldErr("transform.std", retrain, "has %d values for %d features", len(m.Transform.Std), d)
	}
	for i := range d {
		if !finite(m.Transform.Mean[i]) {
			return fieldErr(fmt.Sprintf("transform.mean[%d]", i), retrain, "is not a finite number")
		}
		if s := m.Transform.Std[i]; !finite(s) || s <= 0 {
			return fieldErr(fmt.Sprintf("transform.std[%d]", i),
				"retrain; a feature that never varies should be left out with --features", "is %v, must be > 0", s)
		}
	}
	if len(m.Centroids) == 0 {
		return fieldErr("centroids", retrain, "is empty")
	}
	for i, c := range m.Centroids {
		if len(c) != d {
			return fieldErr(fmt.Sprintf("centroids[%d]", i), retrain, "has %d values for %d features", len(c), d)
		}
		for j, v := range c {
			if !finite(v) {
				return fieldErr(fmt.Sprintf("centroids[%d][%d]", i, j), retrain, "is not a finite number")
			}
		}
	}
	if len(m.Thresholds) != len(m.Centroids) {
		return fieldErr("thresholds", retrain, "has %d values for %d centroids", len(m.Thresholds), len(m.Centroids))
	}
	for i, t := range m.Thresholds {
		if !finite(t) || t <= 0 {
			return fieldErr(fmt.Sprintf("thresholds[%d]", i), retrain, "is %v, must be a finite number > 0", t)
		}
	}
	if c := m.Training.Severity; c != nil {
		if len(c.Shares) < 2 || len(c.Shares) != len(c.Scores) {
			return fieldErr("training.severity", retrain, "has %d shares and %d scores; want as many of each, at least 2", len(c.Shares), len(c.Scores))
		}
		for i := range c.Shares {
			p, s := c.Shares[i], c.Scores[i]
			switch {
			case !finite(p) || p < 0 || p > 1 || (i > 0 && p <= c.Shares[i-1]):
				return fieldErr(fmt.Sprintf("training.severity.shares[%d]", i), retrain, "is %v; shares rise strictly from 0 to 1", p)
			case !finite(s) || s < 0 || (i > 0 && s < c.Scores[i-1]):
				return fieldErr(fmt.Sprintf("training.severity.scores[%d]", i), retrain, "is %v; scores are finite, >= 0 and never fall", s)
			}
		}
		if c.Shares[len(c.Shares)-1] != 1 {
			return fieldErr("training.severity.shares", retrain, "ends at %v; the last share is 1", c.Shares[len(c.Shares)-1])
		}
	}
	if p := m.Training.ProbeRareErrors; p != nil && *p < 0 {
		return fieldErr("training.probe_rare_errors", "set it to 0 (no probe rule) or more, or retrain with `sharkfin train --probe-rare-errors N`", "is %d", *p)
	}
	if p := m.Training.FloodRequests; p != nil && *p < 0 {
		return fieldErr("training.flood_requests", "set it to 0 (no flood rule) or more, or retrain with `sharkfin train --flood-requests N`", "is %d", *p)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
