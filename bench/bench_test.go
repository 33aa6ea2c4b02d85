package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// repeatReader serves the same bytes forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		n += k
		r.off = (r.off + k) % len(r.b)
	}
	return n, nil
}

var benchResponses = map[string]string{
	"kind=content-length": "HTTP/1.1 200 OK\r\nDate: Wed, 01 Jan 2025 00:00:00 GMT\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-cache\r\nETag: \"0123456789abcdef\"\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 13\r\n\r\nhello, world\n",
	"kind=chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n8\r\n, world\n\r\n0\r\n\r\n",
}

func BenchmarkResponseReader(b *testing.B) {
	for name, resp := range benchResponses {
		b.Run(name, func(b *testing.B) {
			rr := NewResponseReader(&repeatReader{b: []byte(resp)})
			b.ReportAllocs()
			b.SetBytes(int64(len(resp)))
			for b.Loop() {
				if _, err := rr.Next(false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	d := time.Duration(1)
	for b.Loop() {
		h.Record(d)
		d = d*7 + 13&(1<<30-1)
	}
}

func BenchmarkHistogramQuantile(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			var h Histogram
			for i := range n {
				h.Record(time.Duration(i) * time.Microsecond)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Quantile(0.99)
			}
		})
	}
}

func BenchmarkBarChartSVG(b *testing.B) {
	c := BarChart{Title: "t", Groups: []string{"a", "b", "c", "d"}, Series: []Series{
		{Name: "x", Values: []float64{1, 2, 3, 4}}, {Name: "y", Values: []float64{4, 3, 2, 1}},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if !bytes.HasSuffix(c.SVG(), []byte("</svg>\n")) {
			b.Fatal("truncated SVG")
		}
	}
}
