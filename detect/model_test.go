package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
)

// validModel returns a small valid web model.
func validModel() *Model {
	return &Model{
		Format: ModelFormat, Name: "web", Version: "2026-03-01.1", Kind: "web", Window: "60s",
		Features:   []string{"hits_2xx", "hits_non2xx", "error_ratio"},
		Transform:  Transform{Log1p: true, Mean: []float64{1, 0.5, 0.1}, Std: []float64{1, 0.5, 0.25}},
		Centroids:  [][]float64{{0, 0, 0}, {2, 2, 1}},
		Thresholds: []float64{1.5, 2},
		Training:   Training{Rows: 100, K: 2, Quantile: 0.99, Created: t0, Seed: 1},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// checkFieldError asserts err is a model rejection naming field with a fix.
func checkFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a rejection of %s", field)
	}
	if !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("errors.Is(%v, ErrInvalidModel) = false", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a *FieldError", err)
	}
	msg := err.Error()
	if fe.Field != field || !strings.Contains(msg, "field "+field+":") {
		t.Fatalf("error %q names field %q, want %q", msg, fe.Field, field)
	}
	if !strings.Contains(msg, "; fix: ") || fe.Fix == "" {
		t.Fatalf("error %q says no fix", msg)
	}
}

func TestModel_ValidateRejects(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		mutate func(m *Model)
		field  string
	}{
		{"wrong format", func(m *Model) { m.Format = "sharkfin.model/v0" }, "format"},
		{"no format", func(m *Model) { m.Format = "" }, "format"},
		{"empty name", func(m *Model) { m.Name = "" }, "name"},
		{"name with @", func(m *Model) { m.Name = "web@2" }, "name"},
		{"name with space", func(m *Model) { m.Name = "my web" }, "name"},
		{"empty version", func(m *Model) { m.Version = "" }, "version"},
		{"bad kind", func(m *Model) { m.Kind = "http" }, "kind"},
		{"empty kind", func(m *Model) { m.Kind = "" }, "kind"},
		{"window not a duration", func(m *Model) { m.Window = "a minute" }, "window"},
		{"window below 1s", func(m *Model) { m.Window = "500ms" }, "window"},
		{"window fractional", func(m *Model) { m.Window = "1.5s" }, "window"},
		{"window negative", func(m *Model) { m.Window = "-60s" }, "window"},
		{"empty features", func(m *Model) { m.Features = nil }, "features"},
		{"unknown feature", func(m *Model) { m.Features[1] = "hits_9xx" }, "features[1]"},
		{"feature of another kind", func(m *Model) { m.Features[0] = "denied" }, "features[0]"},
		{"repeated feature", func(m *Model) { m.Features[2] = "hits_2xx" }, "features[2]"},
		{"mean too short", func(m *Model) { m.Transform.Mean = m.Transform.Mean[:2] }, "transform.mean"},
		{"std too long", func(m *Model) { m.Transform.Std = append(m.Transform.Std, 1) }, "transform.std"},
		{"NaN mean", func(m *Model) { m.Transform.Mean[0] = nan }, "transform.mean[0]"},
		{"Inf mean", func(m *Model) { m.Transform.Mean[2] = -inf }, "transform.mean[2]"},
		{"zero std", func(m *Model) { m.Transform.Std[1] = 0 }, "transform.std[1]"},
		{"negative std", func(m *Model) { m.Transform.Std[0] = -1 }, "transform.std[0]"},
		{"NaN std", func(m *Model) { m.Transform.Std[0] = nan }, "transform.std[0]"},
		{"Inf std", func(m *Model) { m.Transform.Std[2] = inf }, "transform.std[2]"},
		{"empty centroids", func(m *Model) { m.Centroids = [][]float64{} }, "centroids"},
		{"centroid too short", func(m *Model) { m.Centroids[1] = m.Centroids[1][:2] }, "centroids[1]"},
		{"centroid too long", func(m *Model) { m.Centroids[0] = append(m.Centroids[0], 0) }, "centroids[0]"},
		{"NaN centroid", func(m *Model) { m.Centroids[1][0] = nan }, "centroids[1][0]"},
		{"Inf centroid", func(m *Model) { m.Centroids[0][2] = inf }, "centroids[0][2]"},
		{"too few thresholds", func(m *Model) { m.Thresholds = m.Thresholds[:1] }, "thresholds"},
		{"too many thresholds", func(m *Model) { m.Thresholds = append(m.Thresholds, 1) }, "thresholds"},
		{"zero threshold", func(m *Model) { m.Thresholds[0] = 0 }, "thresholds[0]"},
		{"negative threshold", func(m *Model) { m.Thresholds[1] = -2 }, "thresholds[1]"},
		{"NaN threshold", func(m *Model) { m.Thresholds[1] = nan }, "thresholds[1]"},
		{"Inf threshold", func(m *Model) { m.Thresholds[0] = inf }, "thresholds[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validModel()
			tt.mutate(m)
			checkFieldError(t, m.Validate(), tt.field)
			// The same rejection through DecodeModel, when JSON can hold it.
			if b, err := json.Marshal(m); err == nil {
				_, err := DecodeModel(b)
				checkFieldError(t, err, tt.field)
			}
		})
	}
}

func TestDecodeModel_RejectsBadJSON(t *testing.T) {
	valid := mustJSON(t, validModel())
	withField := func(key string, v any) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		m[key] = v
		return mustJSON(t, m)
	}
	tests := []struct {
		name  string
		data  []byte
		field string
		issue string // substring of the message
	}{
		{"unknown field", withField("treshold", 1), `"treshold"`, "not a field"},
		{"unknown nested field", withField("transform", map[string]any{"log1p": true, "scale": 2}), `"scale"`, "not a field"},
		{"trailing object", append(cloneBytes(valid), []byte("\n{}")...), "(file)", "data after"},
		{"trailing bracket", append(cloneBytes(valid), ']'), "(file)", "data after"},
		{"trailing brace", append(cloneBytes(valid), '}'), "(file)", "data after"},
		{"trailing garbage", append(cloneBytes(valid), []byte(" x")...), "(file)", "data after"},
		{"not JSON", []byte("format: sharkfin.model/v1\n"), "(file)", "not valid JSON"},
		{"empty file", nil, "(file)", "EOF"},
		{"truncated", valid[:len(valid)/2], "(file)", "EOF"},
		{"string for number", withField("thresholds", []any{"1.5", 2}), "thresholds", "string"},
		{"number for string", withField("name", 5), "name", "number"},
		{"object for list", withField("centroids", map[string]any{}), "centroids", "object"},
		{"wrong nested type", withField("transform", map[string]any{"mean": []any{"a"}}), "transform.mean", "string"},
		{"number out of range", bytes.Replace(valid, []byte(`"thresholds":[1.5,`), []byte(`"thresholds":[1e999,`), 1), "thresholds", "number"},
		{"top-level array", []byte(`[]`), "(file)", "array"},
		{"top-level string", []byte(`"model"`), "(file)", "string"},
		{"null", []byte(`null`), "format", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeModel(tt.data)
			if m != nil {
				t.Fatal("returned a model with the error")
			}
			checkFieldError(t, err, tt.field)
			if !strings.Contains(err.Error(), tt.issue) {
				t.Fatalf("error %q does not mention %q", err, tt.issue)
			}
		})
	}
}

func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }

func TestDecodeModel_AcceptsTrailingWhitespace(t *testing.T) {
	b := append(mustJSON(t, validModel()), " \n\t\r\n"...)
	if _, err := DecodeModel(b); err != nil {
		t.Fatalf("DecodeModel: %v", err)
	}
}

func TestModel_Accessors(t *testing.T) {
	m := validModel()
	if m.ID() != "web@2026-03-01.1" || m.RecordKind() != record.KindWeb || m.WindowDuration() != time.Minute {
		t.Fatalf("ID %q kind %v window %v", m.ID(), m.RecordKind(), m.WindowDuration())
	}
}

func TestLoadModel(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "web.json")
	if err := os.WriteFile(good, mustJSON(t, validModel()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(good); err != nil {
		t.Fatalf("LoadModel(valid): %v", err)
	}

	bad := validModel()
	bad.Thresholds[0] = 0
	badPath := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badPath, mustJSON(t, bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadModel(badPath)
	if err == nil || !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), badPath) ||
		!strings.Contains(err.Error(), "thresholds[0]") {
		t.Fatalf("LoadModel(invalid) = %v; want ErrInvalidModel naming %s and thresholds[0]", err, badPath)
	}

	missing := filepath.Join(dir, "missing.json")
	if _, err := LoadModel(missing); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("LoadModel(missing) = %v; want ErrNotExist naming the path", err)
	}

	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxModelBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadModel(huge); err == nil || !strings.Contains(err.Error(), huge) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("LoadModel(huge) = %v; want a size error naming the path", err)
	}
}

func TestModel_RoundTrip(t *testing.T) {
	m, _, err := Train(blobRows(300, 1), TrainConfig{Kind: record.KindWeb, K: 3, Seed: 7, Restarts: 2,
		Now: fixedNow, Sources: []string{"/var/log/apache2/access.log"}})
	if err != nil {
		t.Fatal(err)
	}
	data := mustJSON(t, m)
	got, err := DecodeModel(data)
	if err != nil {
		t.Fatalf("DecodeModel(trained model): %v", err)
	}
	if again := mustJSON(t, got); !bytes.Equal(again, data) {
		t.Fatalf("re-encoded model differs:\n%s\n%s", data, again)
	}
	if !got.Training.Created.Equal(m.Training.Created) {
		t.Fatalf("created %v, want %v", got.Training.Created, m.Training.Created)
	}
	// Everything scoring depends on is identical.
	if got.ID() != m.ID() || got.Kind != m.Kind || got.Window != m.Window ||
		!reflect.DeepEqual(got.Features, m.Features) || !reflect.DeepEqual(got.Transform, m.Transform) ||
		!reflect.DeepEqual(got.Centroids, m.Centroids) || !reflect.DeepEqual(got.Thresholds, m.Thresholds) ||
		!reflect.DeepEqual(got.Training.Dropped, m.Training.Dropped) || !reflect.DeepEqual(got.Training.Sizes, m.Training.Sizes) {
		t.Fatalf("decoded model differs:\n got %+v\nwant %+v", got, m)
	}
}

// FuzzDecodeModel checks that no input panics DecodeModel, that what it
// accepts is valid, and that a Scorer built from it gives no NaN for
// finite non-negative vectors.
func FuzzDecodeModel(f *testing.F) {
	valid := mustJSON(f, validModel())
	f.Add(valid)
	dns := validModel()
	dns.Kind, dns.Features = "dns", []string{"queries", "max_label_entropy", "txt_any_ratio"}
	dns.Transform.Log1p = false
	f.Add(mustJSON(f, dns))
	vb := NewVocabBuilderSeeded(1)
	for _, c := range []string{"a", "b"} {
		for _, p := range []string{"/", "/about", "/blog/post-1"} {
			vb.Add(&record.Record{Client: []byte(c), Target: []byte(p), Status: 200})
		}
	}
	rare := validModel()
	rare.Features[2], rare.Vocabulary = "hour_rare_errors", vb.Vocabulary()
	rareJSON := mustJSON(f, rare)
	f.Add(rareJSON)
	for _, n := range []string{"0", "1", "1000000", "-1", "1e400", "2.5", "null"} {
		f.Add(bytes.Replace(rareJSON, []byte(`"training":{`), []byte(`"training":{"probe_rare_errors":`+n+`,`), 1))
		f.Add(bytes.Replace(rareJSON, []byte(`"training":{`), []byte(`"training":{"flood_requests":`+n+`,`), 1))
	}
	f.Add(append(cloneBytes(valid), ']'))
	f.Add(valid[:len(valid)/3])
	f.Add(bytes.Replace(valid, []byte(`"std":[1,`), []byte(`"std":[0,`), 1))
	f.Add(bytes.Replace(valid, []byte(`"thresholds":[1.5,2]`), []byte(`"thresholds":[1.5]`), 1))
	f.Add(bytes.Replace(valid, []byte(`"hits_2xx"`), []byte(`"denied"`), 1))
	f.Add(bytes.Replace(valid, []byte(`"thresholds":[1.5,`), []byte(`"thresholds":[5e-324,`), 1))
	f.Add(bytes.Replace(valid, []byte(`"mean":[1,`), []byte(`"mean":[-1.7e308,`), 1))
	f.Add([]byte(`{"format":"sharkfin.model/v1","centroids":[[1e999]]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	vectors := [][]float64{nil, {1}, {1e6}, {math.MaxFloat64}, {5e-324}, {0.5}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeModel(data)
		if err != nil {
			if m != nil {
				t.Fatal("model returned with an error")
			}
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("error %v is not ErrInvalidModel", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted model fails Validate: %v", err)
		}
		s, err := NewScorer(m, m.RecordKind())
		if err != nil {
			t.Fatalf("NewScorer(accepted model): %v", err)
		}
		n := len(FeatureNames(m.RecordKind()))
		vec := make([]float64, n)
		for j := range 2 * len(vectors) {
			fill := vectors[j/2]
			for i := range vec {
				vec[i] = 0
				if len(fill) > 0 {
					vec[i] = fill[0] * float64(i+1)
				}
				if math.IsInf(vec[i], 0) {
					vec[i] = math.MaxFloat64
				}
			}
			if j%2 == 1 && n > WebRareErrors { // shaped as a flood: POSTs, all rare successes, one path
				vec[WebRareErrors], vec[WebDistinctPaths], vec[WebPost] = 0, 1, vec[WebRareHits]
			}
			sc := s.Score(vec)
			if math.IsNaN(sc.Score) || math.IsNaN(sc.Distance) || sc.Cluster < 0 || sc.Cluster >= len(m.Centroids) {
				t.Fatalf("Score(%v) = %+v", vec, sc)
			}
			if sc.Anomalous != (sc.Score > 1) {
				t.Fatalf("Score(%v) = %+v: anomalous disagrees with score", vec, sc)
			}
			if !(sc.Threshold > 0) || (sc.Distance > 0 && sc.Score != sc.Distance/sc.Threshold && math.Abs(sc.Score-sc.Distance/sc.Threshold) > 1e-9*sc.Score) {
				t.Fatalf("Score(%v) = %+v: score is not distance / threshold", vec, sc)
			}
			if sc.Probe && sc.Distance > 0 && sc.Score < vec[WebRareErrors]/(float64(m.ProbeRule())-0.5)*(1-1e-12) && sc.Distance/(vec[WebRareErrors]/(float64(m.ProbeRule())-0.5)) > 0 {
				t.Fatalf("Score(%v) = %+v: a probe under its floor", vec, sc)
			}
			if r := (vec[WebRareHits] - vec[WebRareErrors]) / (float64(m.FloodRule()) - 0.5); sc.Flood && sc.Distance > 0 && sc.Score < r*(1-1e-12) && sc.Distance/r > 0 {
				t.Fatalf("Score(%v) = %+v: a flood under its floor", vec, sc)
			}
			if sc.By != RuleNone && (!sc.Anomalous || sc.By == RuleProbe && !sc.Probe || sc.By == RuleFlood && !sc.Flood) {
				t.Fatalf("Score(%v) = %+v: set by a rule that does not apply, or not anomalous", vec, sc)
			}
		}
	})
}
