package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Charts are written as standalone SVG by hand: a frame with a title, axes
// with ticks and grid lines, a legend, and either grouped bars or lines.
// They carry no script and no external reference, so GitHub and browsers
// render them as images.

// Series is one named data set: a value per group for a BarChart, or points
// for a LineChart (X and Y of equal length).
type Series struct {
	Name string
	// Values, for a bar chart: one per group (NaN: no bar).
	Values []float64
	// X, Y, for a line chart.
	X, Y []float64
}

// Tick is an axis mark at Value labelled Label.
type Tick struct {
	Value float64
	Label string
}

// BarChart draws one bar per series in each group.
type BarChart struct {
	Title, YLabel string
	Groups        []string
	Series        []Series
	// Format labels the y ticks and the bars (nil: compact numbers).
	Format func(float64) string
	// Note is a line of small text under the chart (source, units).
	Note string
}

// LineChart draws each series as a polyline.
type LineChart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// XLog, YLog put an axis on a log₁₀ scale (values must be positive).
	XLog, YLog bool
	// XTicks, YTicks replace the automatic ticks when set.
	XTicks, YTicks []Tick
	// XFormat, YFormat label automatic ticks (nil: compact numbers).
	XFormat, YFormat func(float64) string
	Note             string
}

// Chart geometry (pixels).
const (
	chartW      = 760
	chartH      = 420
	marginLeft  = 78
	marginRight = 20
	marginTop   = 58
	marginBot   = 62
	legendRowH  = 16
)

// palette holds distinguishable colours, used in series order.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

func colour(i int) string { return palette[i%len(palette)] }

// svgWriter accumulates the document.
type svgWriter struct{ b bytes.Buffer }

func (w *svgWriter) printf(format string, a ...any) { fmt.Fprintf(&w.b, format, a...) }

// text writes a text element with escaped content; attrs are raw attributes.
func (w *svgWriter) text(x, y float64, attrs, s string) {
	w.printf(`<text x="%s" y="%s" %s>`, num(x), num(y), attrs)
	_ = xml.EscapeText(&w.b, []byte(s)) // writing to a bytes.Buffer does not fail
	w.b.WriteString("</text>\n")
}

// num formats a coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// frame writes the document head, background, title, legend and the y-axis
// label; it returns the plot rectangle.
func (w *svgWriter) frame(title, ylabel, xlabel, note string, names []string) (x0, y0, x1, y1 float64) {
	w.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	w.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	w.text(chartW/2, 22, `text-anchor="middle" font-size="15" font-weight="bold"`, title)
	// Legend: one row under the title, entries side by side.
	lx := float64(marginLeft)
	for i, n := range names {
		w.printf(`<rect x="%s" y="33" width="12" height="12" fill="%s"/>`+"\n", num(lx), colour(i))
		w.text(lx+16, 43.5, "", n)
		lx += 16 + 7.2*float64(len([]rune(n))) + 18
	}
	x0, y0, x1, y1 = marginLeft, marginTop, chartW-marginRight, chartH-marginBot
	if ylabel != "" {
		w.text(16, (y0+y1)/2, fmt.Sprintf(`text-anchor="middle" transform="rotate(-90 16 %s)"`, num((y0+y1)/2)), ylabel)
	}
	if xlabel != "" {
		w.text((x0+x1)/2, y1+38, `text-anchor="middle"`, xlabel)
	}
	if note != "" {
		w.text(x0, chartH-6, `font-size="10" fill="#666666"`, note)
	}
	return x0, y0, x1, y1
}

func (w *svgWriter) end() []byte {
	w.b.WriteString("</svg>\n")
	return w.b.Bytes()
}

// yAxis draws horizontal grid lines and labels for ticks mapped by ty.
func (w *svgWriter) yAxis(ticks []Tick, ty func(float64) float64, x0, x1 float64) {
	for _, t := range ticks {
		y := ty(t.Value)
		w.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/>`+"\n", num(x0), num(y), num(x1), num(y))
		w.text(x0-6, y+4, `text-anchor="end"`, t.Label)
	}
}

// axes draws the left and bottom axis lines.
func (w *svgWriter) axes(x0, y0, x1, y1 float64) {
	w.printf(`<path d="M%s %sV%sH%s" fill="none" stroke="#333333"/>`+"\n", num(x0), num(y0), num(y1), num(x1))
}

// SVG renders the chart.
func (c *BarChart) SVG() []byte {
	format := c.Format
	if format == nil {
		format = compactNumber
	}
	names := make([]string, len(c.Series))
	hi := 0.0
	for i, s := range c.Series {
		names[i] = s.Name
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				hi = max(hi, v)
			}
		}
	}
	var w svgWriter
	x0, y0, x1, y1 := w.frame(c.Title, c.YLabel, "", c.Note, names)
	ticks, top := linearTicks(0, hi, format)
	ty := func(v float64) float64 { return y1 - (y1-y0)*v/top }
	w.yAxis(ticks, ty, x0, x1)
	if n := len(c.Groups); n > 0 && len(c.Series) > 0 {
		gw := (x1 - x0) / float64(n)
		bw := gw * 0.8 / float64(len(c.Series))
		for g, name := range c.Groups {
			gx := x0 + gw*float64(g)
			w.text(gx+gw/2, y1+18, `text-anchor="middle"`, name)
			for i, s := range c.Series {
				if g >= len(s.Values) || math.IsNaN(s.Values[g]) {
					continue
				}
				v := s.Values[g]
				bx := gx + gw*0.1 + bw*float64(i)
				by := ty(v)
				w.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>`, num(bx), num(by), num(bw-2), num(y1-by), colour(i))
				_ = xml.EscapeText(&w.b, []byte(s.Name+" "+name+": "+format(v)))
				w.b.WriteString("</title></rect>\n")
				w.text(bx+(bw-2)/2, by-4, `text-anchor="middle" font-size="10"`, format(v))
			}
		}
	}
	w.axes(x0, y0, x1, y1)
	return w.end()
}

// SVG renders the chart.
func (c *LineChart) SVG() []byte {
	names := make([]string, len(c.Series))
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		names[i] = s.Name
		for k := range min(len(s.X), len(s.Y)) {
			if !usable(s.X[k], c.XLog) || !usable(s.Y[k], c.YLog) {
				continue
			}
			xlo, xhi = min(xlo, s.X[k]), max(xhi, s.X[k])
			ylo, yhi = min(ylo, s.Y[k]), max(yhi, s.Y[k])
		}
	}
	for _, t := range c.XTicks {
		xlo, xhi = min(xlo, t.Value), max(xhi, t.Value)
	}
	if math.IsInf(xlo, 0) { // no data
		xlo, xhi, ylo, yhi = 1, 10, 1, 10
	}
	var w svgWriter
	x0, y0, x1, y1 := w.frame(c.Title, c.YLabel, c.XLabel, c.Note, names)
	xs := newScale(xlo, xhi, c.XLog, c.XTicks, c.XFormat)
	ys := newScale(ylo, yhi, c.YLog, c.YTicks, c.YFormat)
	tx := func(v float64) float64 { return x0 + (x1-x0)*xs.pos(v) }
	ty := func(v float64) float64 { return y1 - (y1-y0)*ys.pos(v) }
	w.yAxis(ys.ticks, ty, x0, x1)
	for _, t := range xs.ticks {
		x := tx(t.Value)
		w.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eeeeee"/>`+"\n", num(x), num(y0), num(x), num(y1))
		w.text(x, y1+18, `text-anchor="middle"`, t.Label)
	}
	for i, s := range c.Series {
		var pts []string
		for k := range min(len(s.X), len(s.Y)) {
			if usable(s.X[k], c.XLog) && usable(s.Y[k], c.YLog) {
				pts = append(pts, num(tx(s.X[k]))+","+num(ty(s.Y[k])))
			}
		}
		if len(pts) == 0 {
			continue
		}
		w.printf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>`, colour(i), strings.Join(pts, " "))
		_ = xml.EscapeText(&w.b, []byte(s.Name))
		w.b.WriteString("</title></polyline>\n")
	}
	w.axes(x0, y0, x1, y1)
	return w.end()
}

func usable(v float64, log bool) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!log || v > 0)
}

// scale maps data values to [0, 1] along an axis.
type scale struct {
	lo, hi float64 // in axis units (log₁₀ of the value on a log axis)
	log    bool
	ticks  []Tick
}

func newScale(lo, hi float64, log bool, ticks []Tick, format func(float64) string) scale {
	if format == nil {
		format = compactNumber
	}
	s := scale{log: log}
	switch {
	case ticks != nil:
		s.ticks = ticks
		for _, t := range ticks {
			lo, hi = min(lo, t.Value), max(hi, t.Value)
		}
		s.lo, s.hi = s.axis(lo), s.axis(hi)
	case log:
		s.ticks, lo, hi = logTicks(lo, hi, format)
		s.lo, s.hi = math.Log10(lo), math.Log10(hi)
	default:
		lo = min(lo, 0) // linear axes start at zero, so bars and lines compare honestly
		s.ticks, hi = linearTicks(lo, hi, format)
		s.lo, s.hi = lo, hi
	}
	if s.hi <= s.lo {
		s.hi = s.lo + 1
	}
	return s
}

func (s scale) axis(v float64) float64 {
	if s.log {
		return math.Log10(v)
	}
	return v
}

func (s scale) pos(v float64) float64 { return (s.axis(v) - s.lo) / (s.hi - s.lo) }

// linearTicks returns about five ticks at 1, 2 or 5 × 10^k steps from lo
// (expected 0 or a step multiple) covering hi, and the top of the axis.
func linearTicks(lo, hi float64, format func(float64) string) ([]Tick, float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	top := math.Ceil(hi/step) * step
	var ticks []Tick
	for i := 0; ; i++ {
		v := math.Floor(lo/step)*step + float64(i)*step
		if v > top+step/2 {
			break
		}
		ticks = append(ticks, Tick{v, format(v)})
	}
	return ticks, top
}

// logTicks returns ticks at powers of ten (and 2, 5 times them when the range
// spans few decades) and the axis bounds, widened to whole ticks.
func logTicks(lo, hi float64, format func(float64) string) ([]Tick, float64, float64) {
	a := math.Floor(math.Log10(lo))
	b := math.Ceil(math.Log10(hi))
	if b <= a {
		b = a + 1
	}
	mults := []float64{1}
	if b-a <= 3 {
		mults = []float64{1, 2, 5}
	}
	var ticks []Tick
	for e := a; e <= b; e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if v > math.Pow(10, b)*1.0001 {
				break
			}
			ticks = append(ticks, Tick{v, format(v)})
		}
	}
	return ticks, math.Pow(10, a), math.Pow(10, b)
}

// compactNumber formats v with a k/M/G suffix: 1500 → "1.5k".
func compactNumber(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e9:
		return trimZero(v/1e9) + "G"
	case av >= 1e6:
		return trimZero(v/1e6) + "M"
	case av >= 1e3:
		return trimZero(v/1e3) + "k"
	}
	return trimZero(v)
}

func trimZero(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if av := math.Abs(v); av >= 100 {
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strings.TrimSuffix(s, ".0")
}

// durationLabel formats v nanoseconds for an axis: "250µs", "1.5ms", "2s".
func durationLabel(v float64) string {
	switch {
	case v >= 1e9:
		return trimZero(v/1e9) + "s"
	case v >= 1e6:
		return trimZero(v/1e6) + "ms"
	case v >= 1e3:
		return trimZero(v/1e3) + "µs"
	}
	return trimZero(v) + "ns"
}
