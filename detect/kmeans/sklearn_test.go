package kmeans

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// TestFit_MatchesSklearn is the training-quality check: on fixed data sets,
// our inertia (10 restarts) must be within 1% of scikit-learn's best of 10
// k-means++ restarts. It needs Debian's python3-sklearn, so it runs only with
// SHARKFIN_SKLEARN=1:
//
//	SHARKFIN_SKLEARN=1 go test -run TestFit_MatchesSklearn -v ./detect/kmeans/
func TestFit_MatchesSklearn(t *testing.T) {
	if os.Getenv("SHARKFIN_SKLEARN") != "1" {
		t.Skip("set SHARKFIN_SKLEARN=1 to compare with scikit-learn (needs python3-sklearn and /usr/bin/python3)")
	}
	python := os.Getenv("SHARKFIN_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "kmeans_ref.py"))
	if err != nil {
		t.Fatal(err)
	}
	sets := []struct {
		name string
		data *mat.Dense
	}{
		{"mixture 20000x6", mixture(20000, 6, 1)},
		{"traffic-log1p 20000x6", traffic(20000, 2)},
	}
	for _, set := range sets {
		csv := filepath.Join(t.TempDir(), "data.csv")
		writeCSV(t, csv, set.data)
		for _, k := range []int{3, 5, 8, 12} {
			t.Run(set.name+"/k="+strconv.Itoa(k), func(t *testing.T) {
				start := time.Now()
				res, err := Fit(set.data, Options{K: k, Restarts: 10, Seed: 0})
				ours := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(python, script, csv, strconv.Itoa(k)).Output()
				if err != nil {
					if ee, ok := err.(*exec.ExitError); ok {
						t.Fatalf("%s: %v: %s", script, err, ee.Stderr)
					}
					t.Fatalf("%s: %v", script, err)
				}
				var ref struct {
					Inertia float64 `json:"inertia"`
					Seconds float64 `json:"seconds"`
					NIter   int     `json:"n_iter"`
				}
				if err := json.Unmarshal(out, &ref); err != nil {
					t.Fatalf("decode %q: %v", out, err)
				}
				ratio := res.Inertia / ref.Inertia
				t.Logf("sharkfin inertia %.6g (%d iter) %.3fs | sklearn %.6g (%d iter) %.3fs | ratio %.5f",
					res.Inertia, res.Iter, ours.Seconds(), ref.Inertia, ref.NIter, ref.Seconds, ratio)
				if ratio > 1.01 {
					t.Errorf("inertia %v is %.2f%% above sklearn's %v; want at most 1%%", res.Inertia, 100*(ratio-1), ref.Inertia)
				}
			})
		}
	}
}

// writeCSV writes m as comma-separated rows that parse back to the same
// float64 values.
func writeCSV(t *testing.T, path string, m *mat.Dense) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	n, d := m.Dims()
	var buf []byte
	for i := range n {
		buf = buf[:0]
		for j := range d {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendFloat(buf, m.At(i, j), 'g', -1, 64)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
