package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socx/sharkfin/detect"
)

// TestSparkBridge exports the features of the bundled log while training
// on it, then imports the centres that training found (kept and dropped,
// as Spark would print all it found) with the export as the sample: the
// imported model equals the native one. Spark itself is not installed
// here; the README's PySpark snippet produces the same files.
func TestSparkBridge(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "features")
	native := filepath.Join(dir, "native.json")
	code, _, errs := run(t, "train", "--format", "combined", "--k", "auto", "--seed", "5", "-o", native, "--export-features", exp, webLog)
	if code != 0 {
		t.Fatalf("train --export-features: %s", errs)
	}
	m1, err := detect.LoadModel(native)
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.Training.Dropped) == 0 {
		t.Log("no cluster dropped in this run: the dropping path is not exercised")
	}
	// The export: one line per window, one key per feature, in model space.
	b, err := os.ReadFile(filepath.Join(exp, "part-00000.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != m1.Training.Rows {
		t.Errorf("%d vectors exported, %d trained on", len(lines), m1.Training.Rows)
	}
	var first map[string]float64
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || len(first) != len(m1.Features) {
		t.Fatalf("first vector %q: %v", lines[0], err)
	}

	// Spark's centres: CSV for one run, JSON for the other.
	var all [][]float64
	all = append(all, m1.Centroids...)
	for _, d := range m1.Training.Dropped {
		all = append(all, d.Centroid)
	}
	var csv strings.Builder
	for _, c := range all {
		for i, v := range c {
			if i > 0 {
				csv.WriteByte(',')
			}
			fmt.Fprintf(&csv, "%v", v)
		}
		csv.WriteByte('\n')
	}
	js, _ := json.Marshal(all)
	for name, text := range map[string]string{"centers.csv": csv.String(), "centers.json": string(js)} {
		centers := filepath.Join(dir, name)
		if err := os.WriteFile(centers, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		imported := filepath.Join(dir, "imported-"+name+".json")
		code, _, errs := run(t, "model", "import", "--centers", centers, "--sample", exp, "--seed", "5", "-o", imported)
		if code != 0 {
			t.Fatalf("model import %s: %s", name, errs)
		}
		m2, err := detect.LoadModel(imported)
		if err != nil {
			t.Fatal(err)
		}
		close := func(a, b []float64) bool {
			if len(a) != len(b) {
				return false
			}
			for i := range a {
				if math.Abs(a[i]-b[i]) > 1e-9*math.Max(1, math.Abs(a[i])) {
					return false
				}
			}
			return true
		}
		if !close(m1.Transform.Mean, m2.Transform.Mean) || !close(m1.Transform.Std, m2.Transform.Std) || m2.Kind != m1.Kind || m2.Window != m1.Window {
			t.Errorf("%s: transform %+v, native %+v", name, m2.Transform, m1.Transform)
		}
		if len(m2.Centroids) != len(m1.Centroids) {
			t.Fatalf("%s: %d centroids kept, native %d", name, len(m2.Centroids), len(m1.Centroids))
		}
		for c := range m1.Centroids {
			if !close(m1.Centroids[c], m2.Centroids[c]) {
				t.Errorf("%s: centroid %d %v, native %v", name, c, m2.Centroids[c], m1.Centroids[c])
			}
		}
		if !close(m1.Thresholds, m2.Thresholds) || len(m2.Training.Dropped) != len(m1.Training.Dropped) {
			t.Errorf("%s: thresholds %v (dropped %d), native %v (dropped %d)", name, m2.Thresholds, len(m2.Training.Dropped), m1.Thresholds, len(m1.Training.Dropped))
		}
	}
	// A centre of the wrong width is refused with the export's features.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("1,2\n"), 0o644)
	if code, _, errs := run(t, "model", "import", "--centers", bad, "--sample", exp, "-o", filepath.Join(dir, "x.json")); code == 0 || !strings.Contains(errs, "features") {
		t.Errorf("centres of 2 values: exit %d %q", code, errs)
	}
	// A second export into the same directory is refused.
	if code, _, errs := run(t, "train", "--format", "combined", "--export-features", exp, webLog); code == 0 || !strings.Contains(errs, "earlier export") {
		t.Errorf("export over an export: exit %d %q", code, errs)
	}
}

// FuzzParseCenters: any bytes give centres of one width of finite numbers,
// or an error naming the file; never a panic.
func FuzzParseCenters(f *testing.F) {
	f.Add([]byte("[[1,2],[3,4]]"))
	f.Add([]byte("a,b\n1,2\n3.5,-4e2\n"))
	f.Add([]byte("1,2\n3\n"))
	f.Add([]byte("NaN,Inf\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseCenters(b, "c.csv")
		if err != nil {
			if !strings.Contains(err.Error(), "c.csv") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for _, c := range cs {
			if len(c) != len(cs[0]) || len(c) == 0 {
				t.Fatalf("widths %d and %d", len(c), len(cs[0]))
			}
			for _, v := range c {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%v accepted", v)
				}
			}
		}
	})
}

// A --probe-rare-errors other than the default goes through the export to
// the imported model; an export description with a negative one is
// refused, naming the field.
func TestSparkBridge_ProbeRule(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "features")
	native := filepath.Join(dir, "native.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "2", "--seed", "5", "--probe-rare-errors", "5", "--flood-requests", "7", "-o", native, "--export-features", exp, webLog); code != 0 {
		t.Fatalf("train --export-features: %s", errs)
	}
	m1, err := detect.LoadModel(native)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(m1.Centroids)
	centers := filepath.Join(dir, "centers.json")
	if err := os.WriteFile(centers, js, 0o644); err != nil {
		t.Fatal(err)
	}
	imported := filepath.Join(dir, "imported.json")
	if code, _, errs := run(t, "model", "import", "--centers", centers, "--sample", exp, "--seed", "5", "-o", imported); code != 0 {
		t.Fatalf("model import: %s", errs)
	}
	m2, err := detect.LoadModel(imported)
	if err != nil {
		t.Fatal(err)
	}
	if m1.ProbeRule() != 5 || m2.ProbeRule() != 5 {
		t.Errorf("probe rules: trained %d, imported %d; want 5", m1.ProbeRule(), m2.ProbeRule())
	}
	if m1.FloodRule() != 7 || m2.FloodRule() != 7 {
		t.Errorf("flood rules: trained %d, imported %d; want 7", m1.FloodRule(), m2.FloodRule())
	}
	desc := filepath.Join(exp, exportDescFile)
	b, err := os.ReadFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), `"probe_rare_errors": 5`, `"probe_rare_errors": -1`, 1)
	bad = strings.Replace(bad, `"probe_rare_errors":5`, `"probe_rare_errors":-1`, 1)
	if bad == string(b) {
		t.Fatalf("the export description does not record the rule:\n%s", b)
	}
	if err := os.WriteFile(desc, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "model", "import", "--centers", centers, "--sample", exp, "-o", filepath.Join(dir, "x.json")); code == 0 || !strings.Contains(errs, "probe_rare_errors") {
		t.Errorf("a negative probe_rare_errors: exit %d, stderr %q", code, errs)
	}
	bad = strings.Replace(strings.Replace(string(b), `"flood_requests": 7`, `"flood_requests": -1`, 1), `"flood_requests":7`, `"flood_requests":-1`, 1)
	if bad == string(b) {
		t.Fatalf("the export description does not record the flood rule:\n%s", b)
	}
	if err := os.WriteFile(desc, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "model", "import", "--centers", centers, "--sample", exp, "-o", filepath.Join(dir, "x.json")); code == 0 || !strings.Contains(errs, "flood_requests") {
		t.Errorf("a negative flood_requests: exit %d, stderr %q", code, errs)
	}
}
