//go:build !race

package httpcodec

import (
	"testing"
	"time"
)

// The race detector's instrumentation allocates, hence the build tag.

func TestAllocs(t *testing.T) {
	get := []byte(typicalGET)
	p := NewParser(Limits{})
	p.Parse(get) // warm up: the Parser grows its field slices once
	chunked := []byte(chunkedHead + "5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n")
	p.Parse(chunked)
	pipelined := []byte(typicalGET + typicalGET + typicalGET)
	now := time.Now()
	AppendDate(nil, now)
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 1000)
	var r *Request

	tests := []struct {
		name string
		f    func()
	}{
		{"parse typical GET", func() { _, r, _ = p.Parse(get) }},
		{"parse chunked POST", func() { _, r, _ = p.Parse(chunked) }},
		{"parse pipelined", func() {
			for b := pipelined; len(b) > 0; {
				n, _, _ := p.Parse(b)
				b = b[n:]
			}
		}},
		{"parse byte at a time", func() {
			for k := 1; k <= len(get); k++ {
				p.Parse(get[:k])
			}
		}},
		{"header lookup", func() { r.Header("cookie"); r.HasToken("Accept-Encoding", "br") }},
		{"visit query", func() {
			_, r, _ = p.Parse(get)
			r.VisitQuery(func(k, v []byte) bool { return true })
		}},
		{"AppendDate cache hit", func() { AppendDate(buf[:0], now) }},
		{"AppendChunk", func() { AppendChunk(buf[:0], chunk) }},
		{"AppendChunkHeader", func() { AppendChunkEnd(AppendChunkHeader(buf[:0], 1000)) }},
		{"AppendStatusLine and headers", func() {
			AppendHeader(AppendStatusLine(buf[:0], 200), "Content-Type", "text/event-stream")
		}},
		{"AppendResponse", func() { AppendResponse(buf[:0], 200, []string{"Content-Type", "text/plain"}, chunk[:10], false) }},
	}
	for _, tc := range tests {
		tc.f() // warm up scratch space
		if got := testing.AllocsPerRun(100, tc.f); got != 0 {
			t.Errorf("%s: AllocsPerRun = %v; want 0", tc.name, got)
		}
	}
}
