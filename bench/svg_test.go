package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// parseSVG checks that doc is well-formed XML with an <svg> root and returns
// its character data and the count of each element.
func parseSVG(t *testing.T, doc []byte) (string, map[string]int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var text strings.Builder
	elems := map[string]int{}
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element = %v; want svg in the SVG namespace", tok.Name)
			}
			depth++
			elems[tok.Name.Local]++
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(tok)
		}
	}
	if depth != 0 || elems["svg"] != 1 {
		t.Fatalf("unbalanced document or %d svg elements", elems["svg"])
	}
	return text.String(), elems
}

func TestBarChartSVG(t *testing.T) {
	c := BarChart{
		Title:  `Throughput <a & b> "quoted"`,
		YLabel: "req/s",
		Groups: []string{"c=1 p=1", "c=100 p=16"},
		Series: []Series{
			{Name: "cometplay", Values: []float64{12000, 350000}},
			{Name: "net/http", Values: []float64{9000, math.NaN()}},
		},
		Note: "note",
	}
	text, elems := parseSVG(t, c.SVG())
	for _, want := range []string{c.Title, "cometplay", "net/http", "c=100 p=16", "350k", "12k", "req/s", "note"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q", want)
		}
	}
	// 3 bars (the NaN is skipped) + background + 2 legend boxes.
	if elems["rect"] != 6 {
		t.Errorf("%d rect elements; want 6", elems["rect"])
	}
	parseSVG(t, (&BarChart{}).SVG()) // empty chart
}

func TestLineChartSVG(t *testing.T) {
	var h Histogram
	for i := 1; i <= 5000; i++ {
		h.Record(time60(i))
	}
	c := LineChart{
		Title: "Latency", XLabel: "percentile", YLabel: "latency",
		YLog: true, XTicks: percentileTicks, YFormat: durationLabel,
		Series: []Series{percentileSeries("a&b", &h), percentileSeries("empty", &Histogram{})},
	}
	text, elems := parseSVG(t, c.SVG())
	for _, want := range []string{"a&b", "99.9%", "percentile", "ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q", want)
		}
	}
	if elems["polyline"] != 1 {
		t.Errorf("%d polylines; want 1 (the empty series draws none)", elems["polyline"])
	}
	lin := LineChart{Series: []Series{{Name: "x", X: []float64{1, 2, 3}, Y: []float64{5, -1, 2}}}}
	parseSVG(t, lin.SVG())
	logx := LineChart{XLog: true, YLog: true, Series: []Series{{Name: "x", X: []float64{0, 10, 1000}, Y: []float64{1, 2, 3e6}}}}
	parseSVG(t, logx.SVG())
	parseSVG(t, (&LineChart{}).SVG())
}

// time60 spreads samples from 60µs up.
func time60(i int) time.Duration { return time.Duration(60_000 + i*i*7) }

func TestTicks(t *testing.T) {
	ticks, top := linearTicks(0, 347000, compactNumber)
	if top < 347000 || len(ticks) < 4 || len(ticks) > 9 || ticks[0].Value != 0 {
		t.Errorf("linearTicks(0, 347000) = %v, top %v", ticks, top)
	}
	lt, lo, hi := logTicks(37e3, 2.1e6, durationLabel)
	if lo != 1e4 || hi != 1e7 || lt[0].Label != "10µs" {
		t.Errorf("logTicks(37e3, 2.1e6) = %v, %v, %v", lt, lo, hi)
	}
	for v, want := range map[float64]string{0: "0", 950: "950", 1500: "1.5k", 2e6: "2M", 123456: "123k"} {
		if got := compactNumber(v); got != want {
			t.Errorf("compactNumber(%v) = %q; want %q", v, got, want)
		}
	}
}
