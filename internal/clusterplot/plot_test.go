package clusterplot

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
)

// model has two features in plain z-score space: hits and post; one
// cluster at the origin with threshold 1, one at (5, 0) with threshold 2.
func testModel() *detect.Model {
	return &detect.Model{Format: detect.ModelFormat, Name: "t", Version: "1", Kind: "web", Window: "60s",
		Features:   []string{"hits", "post"},
		Transform:  detect.Transform{Mean: []float64{0, 0}, Std: []float64{1, 1}},
		Centroids:  [][]float64{{0, 0}, {5, 0}},
		Thresholds: []float64{1, 2}}
}

func rows(points ...[2]float64) [][]float64 {
	names := detect.FeatureNames(record.KindWeb)
	var out [][]float64
	for _, p := range points {
		v := make([]float64, len(names))
		for i, n := range names {
			switch n {
			case "hits":
				v[i] = p[0]
			case "post":
				v[i] = p[1]
			}
		}
		out = append(out, v)
	}
	return out
}

func TestWrite_CountsAndPicture(t *testing.T) {
	m := testModel()
	// Two anomalies: (0, 3) is 3 from c0 (threshold 1); (9, 0) 4 from c1 (2).
	data := rows([2]float64{0, 0.5}, [2]float64{0.2, 0}, [2]float64{5, 1}, [2]float64{6, 1}, [2]float64{0, 3}, [2]float64{9, 0})
	dir := t.TempDir()
	for _, opt := range []Options{{}, {X: "post", Y: "hits"}} {
		path := filepath.Join(dir, "p"+opt.X+".png")
		s, err := Write(path, m, record.KindWeb, data, opt)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rows != 6 || s.Points != 6 || s.Anomalous != 2 {
			t.Errorf("%+v: summary %+v, want 6 rows, 6 points, 2 anomalous", opt, s)
		}
		if opt.X == "" && (s.Explained < 0.999 || s.Explained > 1.0001) {
			t.Errorf("two features, two principal axes: %.4f of the variance shown, want all", s.Explained)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 400 {
			t.Errorf("picture %v", b)
		}
	}
	// At most MaxPoints are drawn.
	s, err := Write(filepath.Join(dir, "few.svg"), m, record.KindWeb, data, Options{MaxPoints: 3})
	if err != nil || s.Points != 3 || s.Rows != 6 {
		t.Errorf("MaxPoints 3: %+v, %v", s, err)
	}
}

func TestWrite_Errors(t *testing.T) {
	m := testModel()
	dir := t.TempDir()
	data := rows([2]float64{0, 0}, [2]float64{1, 1})
	for _, tc := range []struct {
		path string
		opt  Options
		want string
	}{
		{filepath.Join(dir, "x.jpg"), Options{}, ".png, .svg or .pdf"},
		{filepath.Join(dir, "x.png"), Options{X: "hits", Y: "bytes"}, "two different features of the model (hits, post)"},
		{filepath.Join(dir, "x.png"), Options{X: "hits", Y: "hits"}, "two different features"},
	} {
		if _, err := Write(tc.path, m, record.KindWeb, data, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: %v; want %q", tc.path, tc.opt, err, tc.want)
		}
	}
	if _, err := Write(filepath.Join(dir, "x.png"), m, record.KindWeb, nil, Options{}); err == nil {
		t.Error("no windows: no error")
	}
}
