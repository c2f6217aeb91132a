package clusterplot

import (
	"image/color"
	"math"
	"strconv"
	"sync"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	_ "gonum.org/v1/plot/vg/vgimg" // png
	_ "gonum.org/v1/plot/vg/vgpdf" // pdf
	_ "gonum.org/v1/plot/vg/vgsvg" // svg
)

// The picture is drawn on gonum's vg canvases directly, not with
// gonum.org/v1/plot's Plot: that package parses its twelve embedded fonts
// (4.5 MB) in an init function, which would run in every sharkfin process,
// the agent included (+4 MiB of RSS measured). Here the fonts are parsed
// when a picture is drawn, and only then.

var fonts = sync.OnceValue(func() *font.Cache { return font.NewCache(liberation.Collection()) })

// figure is a canvas with a plotting area mapped to data coordinates.
type figure struct {
	c              draw.Canvas
	area           vg.Rectangle
	x0, x1, y0, y1 float64   // data shown
	line           vg.Length // a legend line's height
	handler        text.Handler
	regular        font.Font
}

type tick struct {
	v     float64
	label string
}

type legendEntry struct {
	label string
	glyph draw.GlyphStyle
}

func newFigure(c draw.Canvas, title string) *figure {
	f := &figure{c: c, handler: text.Plain{Fonts: fonts()}, line: vg.Points(14),
		regular: font.Font{Typeface: "Liberation", Variant: "Serif", Size: vg.Points(10)}}
	f.area = vg.Rectangle{
		Min: vg.Point{X: c.Min.X + vg.Points(62), Y: c.Min.Y + vg.Points(44)},
		Max: vg.Point{X: c.Max.X - vg.Points(12), Y: c.Max.Y - vg.Points(26)},
	}
	f.text(vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(8)}, title, 12, text.XCenter, text.YTop, 0)
	return f
}

// pt maps data coordinates into the plotting area.
func (f *figure) pt(x, y float64) vg.Point {
	a := f.area
	return vg.Point{
		X: a.Min.X + vg.Length((x-f.x0)/(f.x1-f.x0))*(a.Max.X-a.Min.X),
		Y: a.Min.Y + vg.Length((y-f.y0)/(f.y1-f.y0))*(a.Max.Y-a.Min.Y),
	}
}

func (f *figure) text(at vg.Point, s string, size float64, xa text.XAlignment, ya text.YAlignment, rot float64) {
	fnt := f.regular
	fnt.Size = vg.Points(size)
	f.c.FillText(text.Style{Color: color.Black, Font: fnt, XAlign: xa, YAlign: ya, Rotation: rot, Handler: f.handler}, at, s)
}

// axes draws the frame, the grid at the ticks, their labels and the axis
// labels.
func (f *figure) axes(xt, yt []tick, xLabel, yLabel string) {
	a := f.area
	grid := draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	frame := draw.LineStyle{Color: color.Black, Width: vg.Points(0.75)}
	for _, t := range xt {
		p := f.pt(t.v, f.y0)
		f.c.StrokeLine2(grid, p.X, a.Min.Y, p.X, a.Max.Y)
		f.c.StrokeLine2(frame, p.X, a.Min.Y, p.X, a.Min.Y-vg.Points(4))
		f.text(vg.Point{X: p.X, Y: a.Min.Y - vg.Points(6)}, t.label, 9, text.XCenter, text.YTop, 0)
	}
	for _, t := range yt {
		p := f.pt(f.x0, t.v)
		f.c.StrokeLine2(grid, a.Min.X, p.Y, a.Max.X, p.Y)
		f.c.StrokeLine2(frame, a.Min.X, p.Y, a.Min.X-vg.Points(4), p.Y)
		f.text(vg.Point{X: a.Min.X - vg.Points(6), Y: p.Y}, t.label, 9, text.XRight, text.YCenter, 0)
	}
	f.c.StrokeLines(frame, []vg.Point{a.Min, {X: a.Max.X, Y: a.Min.Y}, a.Max, {X: a.Min.X, Y: a.Max.Y}, a.Min})
	f.text(vg.Point{X: (a.Min.X + a.Max.X) / 2, Y: f.c.Min.Y + vg.Points(4)}, xLabel, 10, text.XCenter, text.YBottom, 0)
	f.text(vg.Point{X: f.c.Min.X + vg.Points(4), Y: (a.Min.Y + a.Max.Y) / 2}, yLabel, 10, text.XCenter, text.YTop, math.Pi/2)
}

// legend lists entries at the top right of the plotting area, on white.
func (f *figure) legend(entries []legendEntry) {
	a := f.area
	fnt := f.regular
	sty := text.Style{Font: fnt, Handler: f.handler}
	wmax := vg.Length(0)
	for _, e := range entries {
		wmax = max(wmax, sty.Width(e.label))
	}
	box := vg.Rectangle{
		Min: vg.Point{X: a.Max.X - wmax - vg.Points(26), Y: a.Max.Y - f.line*vg.Length(len(entries)) - vg.Points(8)},
		Max: vg.Point{X: a.Max.X - vg.Points(2), Y: a.Max.Y - vg.Points(2)},
	}
	f.c.FillPolygon(color.White, []vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}})
	for i, e := range entries {
		y := box.Max.Y - vg.Points(4) - f.line*vg.Length(i) - f.line/2
		f.c.DrawGlyph(e.glyph, vg.Point{X: box.Min.X + vg.Points(10), Y: y})
		f.text(vg.Point{X: box.Min.X + vg.Points(20), Y: y}, e.label, 10, text.XLeft, text.YCenter, 0)
	}
}

// niceTicks are about six round values across [lo, hi].
func niceTicks(lo, hi float64) []tick {
	span := hi - lo
	if !(span > 0) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(span/6)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if span/(step*m) <= 8 {
			step *= m
			break
		}
	}
	var ticks []tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, tick{v, strconv.FormatFloat(v, 'g', 4, 64)})
	}
	return ticks
}
