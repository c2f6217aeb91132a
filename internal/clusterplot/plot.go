// Package clusterplot draws a model's clusters with the windows it scores,
// for `sharkfin train --plot` and `sharkfin model plot` (gonum.org/v1/plot).
//
// Points live in the model's space (z-scores of log1p counts) and are
// projected on two of its features or on the two principal axes of the
// points (PCA). Both are orthogonal projections, so a cluster's threshold,
// a ball around its centroid, projects to the disk of the same radius
// around the projected centroid: the circles drawn are exact, and a point
// outside its cluster's circle is outside the ball (anomalous). The
// converse does not hold: a point inside a circle may be far off in the
// dimensions not shown.
package clusterplot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/record"
)

// DefaultMaxPoints bounds the points drawn: beyond it every n-th row is.
const DefaultMaxPoints = 20000

// Options choose the projection and the picture.
type Options struct {
	// X and Y are model features to plot against each other; both empty:
	// the two principal axes.
	X, Y      string
	Title     string
	MaxPoints int // 0: DefaultMaxPoints
	// Width and Height of the picture (default 8 by 6 inches).
	Width, Height vg.Length
	// RowsRead is how many windows the rows given were sampled from (0:
	// they are all of them); titles and Summary.Rows say so.
	RowsRead int64
}

// Summary says what was drawn.
type Summary struct {
	Points, Anomalous int     // drawn
	Rows              int     // scored
	Explained         float64 // share of the variance the two axes show (PCA), else 0
}

// Write scores rows (full feature vectors of kind, detect.FeatureNames
// order) with m and writes the picture to path (.png, .svg or .pdf).
func Write(path string, m *detect.Model, kind record.Kind, rows [][]float64, opt Options) (Summary, error) {
	var sum Summary
	if len(rows) == 0 {
		return sum, fmt.Errorf("no windows to plot")
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg", ".pdf":
	default:
		return sum, fmt.Errorf("%s: the picture's name must end in .png, .svg or .pdf", path)
	}
	sc, err := detect.NewScorer(m, kind)
	if err != nil {
		return sum, err
	}
	maxPoints := opt.MaxPoints
	if maxPoints <= 0 {
		maxPoints = DefaultMaxPoints
	}
	step := (len(rows) + maxPoints - 1) / maxPoints
	dim := len(m.Features)
	var zs [][]float64
	var clusters []int
	var anomalous []bool
	for i := 0; i < len(rows); i += step {
		z := make([]float64, dim)
		sc.Transform(rows[i], z)
		s := sc.Score(rows[i])
		zs, clusters, anomalous = append(zs, z), append(clusters, s.Cluster), append(anomalous, s.Anomalous)
	}
	sum.Rows, sum.Points = len(rows), len(zs)
	if opt.RowsRead > int64(len(rows)) {
		sum.Rows = int(opt.RowsRead)
	}

	proj, xLabel, yLabel, explained, err := projection(m, zs, opt)
	if err != nil {
		return sum, err
	}
	sum.Explained = explained
	title := opt.Title
	if title == "" {
		title = fmt.Sprintf("%s: %d of %d windows", m.ID(), len(zs), sum.Rows)
	}
	w, h := opt.Width, opt.Height
	if w == 0 {
		w = 8 * vg.Inch
	}
	if h == 0 {
		h = 6 * vg.Inch
	}
	cw, err := draw.NewFormattedCanvas(w, h, strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."))
	if err != nil {
		return sum, err
	}
	fig := newFigure(draw.New(cw), title)

	// One unit is as long on both axes, or the threshold circles would be
	// ellipses: the data's extent (points, and circles whole) is widened
	// along one axis to the plotting area's proportions, with room above
	// the data for the legend.
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	grow := func(x, y, r float64) {
		minX, maxX = math.Min(minX, x-r), math.Max(maxX, x+r)
		minY, maxY = math.Min(minY, y-r), math.Max(maxY, y+r)
	}
	for _, z := range zs {
		x, y := proj(z)
		grow(x, y, 0)
	}
	for c, cen := range m.Centroids {
		x, y := proj(cen)
		grow(x, y, m.Thresholds[c])
	}
	areaW, areaH := float64(fig.area.Size().X), float64(fig.area.Size().Y)
	legend := float64(len(m.Centroids)+2) * float64(fig.line) / areaH
	maxY += (maxY - minY) * min(legend, 0.6) / (1 - min(legend, 0.6))
	spanX, spanY := math.Max(maxX-minX, 1e-9)*1.04, math.Max(maxY-minY, 1e-9)*1.04
	if spanX/areaW < spanY/areaH {
		spanX = spanY * areaW / areaH
	} else {
		spanY = spanX * areaH / areaW
	}
	midX, midY := (minX+maxX)/2, (minY+maxY)/2
	fig.x0, fig.x1, fig.y0, fig.y1 = midX-spanX/2, midX+spanX/2, midY-spanY/2, midY+spanY/2

	xTicks, yTicks := niceTicks(fig.x0, fig.x1), niceTicks(fig.y0, fig.y1)
	if opt.X != "" {
		xTicks = rawTicks(m, slices.Index(m.Features, opt.X), fig.x0, fig.x1)
		yTicks = rawTicks(m, slices.Index(m.Features, opt.Y), fig.y0, fig.y1)
	}
	fig.axes(xTicks, yTicks, xLabel, yLabel)

	var legendEntries []legendEntry
	dot := func(col color.Color) draw.GlyphStyle {
		return draw.GlyphStyle{Color: col, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
	}
	counts := make([]int, len(m.Centroids))
	for i, z := range zs {
		if !anomalous[i] {
			x, y := proj(z)
			fig.c.DrawGlyph(dot(clusterColor(clusters[i])), fig.pt(x, y))
			counts[clusters[i]]++
		}
	}
	for c := range m.Centroids {
		cx, cy := proj(m.Centroids[c])
		circle := make([]vg.Point, 0, 73)
		for a := 0; a <= 360; a += 5 {
			r, rad := m.Thresholds[c], float64(a)*math.Pi/180
			circle = append(circle, fig.pt(cx+r*math.Cos(rad), cy+r*math.Sin(rad)))
		}
		fig.c.StrokeLines(draw.LineStyle{Color: clusterColor(c), Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}, circle)
		if counts[c] > 0 {
			legendEntries = append(legendEntries, legendEntry{fmt.Sprintf("c%d: %d windows", c, counts[c]), dot(clusterColor(c))})
		}
	}
	cross := draw.GlyphStyle{Color: color.RGBA{R: 220, A: 255}, Radius: vg.Points(2.5), Shape: draw.CrossGlyph{}}
	for i, z := range zs {
		if anomalous[i] {
			x, y := proj(z)
			fig.c.DrawGlyph(cross, fig.pt(x, y))
			sum.Anomalous++
		}
	}
	if sum.Anomalous > 0 {
		legendEntries = append(legendEntries, legendEntry{fmt.Sprintf("anomalous: %d windows", sum.Anomalous), cross})
	}
	tri := draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.PyramidGlyph{}}
	for c, cen := range m.Centroids {
		x, y := proj(cen)
		fig.c.DrawGlyph(tri, fig.pt(x, y))
		fig.text(fig.pt(x, y).Add(vg.Point{X: vg.Points(5)}), fmt.Sprintf("c%d", c), 9, text.XLeft, text.YCenter, 0)
	}
	legendEntries = append(legendEntries, legendEntry{"centroid; dashed: its threshold", tri})
	fig.legend(legendEntries)

	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	if _, err := cw.WriteTo(f); err != nil {
		f.Close()
		return sum, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return sum, fmt.Errorf("write %s: %w", path, err)
	}
	return sum, nil
}

// palette colours clusters: Tableau's ten without red, kept for
// anomalies, and with a dark blue instead.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0x94, 0x67, 0xbd, 0xff},
	{0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff}, {0x39, 0x3b, 0x79, 0xff},
}

// clusterColor is cluster c's colour (they repeat past ten clusters).
func clusterColor(c int) color.Color { return palette[c%len(palette)] }

// projection returns the map from model space to the picture's plane and
// the axis labels; for two chosen features the axes' ticks are in the
// features' own units.
func projection(m *detect.Model, zs [][]float64, opt Options) (func([]float64) (float64, float64), string, string, float64, error) {
	dim := len(m.Features)
	if opt.X != "" || opt.Y != "" {
		xi, yi := slices.Index(m.Features, opt.X), slices.Index(m.Features, opt.Y)
		if xi < 0 || yi < 0 || xi == yi {
			return nil, "", "", 0, fmt.Errorf("--x %q and --y %q: give two different features of the model (%s)", opt.X, opt.Y, strings.Join(m.Features, ", "))
		}
		return func(z []float64) (float64, float64) { return z[xi], z[yi] }, axisLabel(m, xi), axisLabel(m, yi), 0, nil
	}
	if dim < 2 {
		return func(z []float64) (float64, float64) { return z[0], 0 }, axisLabel(m, 0), "", 0, nil
	}
	a := mat.NewDense(len(zs), dim, nil)
	for i, z := range zs {
		a.SetRow(i, z)
	}
	mean := make([]float64, dim)
	for j := range dim {
		mean[j] = stat.Mean(mat.Col(nil, j, a), nil)
	}
	var pc stat.PC
	if len(zs) < 2 || !pc.PrincipalComponents(a, nil) {
		return nil, "", "", 0, fmt.Errorf("principal axes of %d windows cannot be computed; plot two features with --x and --y", len(zs))
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	vars := pc.VarsTo(nil)
	total := 0.0
	for _, v := range vars {
		total += v
	}
	ax := [2][]float64{mat.Col(nil, 0, &vecs), mat.Col(nil, 1, &vecs)}
	proj := func(z []float64) (float64, float64) {
		var x, y float64
		for j := range dim {
			x += (z[j] - mean[j]) * ax[0][j]
			y += (z[j] - mean[j]) * ax[1][j]
		}
		return x, y
	}
	share := func(i int) float64 {
		if total == 0 {
			return 0
		}
		return vars[i] / total
	}
	return proj, pcLabel(m, 1, ax[0], share(0)), pcLabel(m, 2, ax[1], share(1)), share(0) + share(1), nil
}

// axisLabel names a feature axis and its scale.
func axisLabel(m *detect.Model, i int) string {
	if m.Transform.Log1p {
		return fmt.Sprintf("%s per window (log scale)", m.Features[i])
	}
	return fmt.Sprintf("%s per window", m.Features[i])
}

// rawTicks marks a feature axis, drawn in model space from lo to hi, in
// the feature's own units: 0, 1, 2, 5, 10, 20, 50, ... where they fall
// (log1p models), or nice model-space values relabelled.
func rawTicks(m *detect.Model, i int, lo, hi float64) []tick {
	t := m.Transform
	if !t.Log1p {
		ticks := niceTicks(lo, hi)
		for j := range ticks {
			ticks[j].label = fmt.Sprintf("%.3g", ticks[j].v*t.Std[i]+t.Mean[i])
		}
		return ticks
	}
	toZ := func(raw float64) float64 { return (math.Log1p(raw) - t.Mean[i]) / t.Std[i] }
	var ticks []tick
	if z := toZ(0); z >= lo && z <= hi {
		ticks = append(ticks, tick{z, "0"})
	}
	for dec := 1.0; dec < 1e15; dec *= 10 {
		for _, f := range []float64{1, 2, 5} {
			z := toZ(f * dec)
			if z > hi {
				return ticks
			}
			if z >= lo {
				ticks = append(ticks, tick{z, fmt.Sprintf("%g", f*dec)})
			}
		}
	}
	return ticks
}

// pcLabel names a principal axis by its share of the variance and the
// features that weigh most in it.
func pcLabel(m *detect.Model, n int, axis []float64, share float64) string {
	idx := make([]int, len(axis))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return -cmpFloat(math.Abs(axis[a]), math.Abs(axis[b]))
	})
	var top []string
	for _, i := range idx[:min(3, len(idx))] {
		top = append(top, fmt.Sprintf("%+.2f %s", axis[i], m.Features[i]))
	}
	return fmt.Sprintf("axis %d, %.0f%% of variance: %s", n, 100*share, strings.Join(top, ", "))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
