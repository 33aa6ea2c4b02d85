package httpcodec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	chunkedPOST := chunkedHead + "f\r\n{\"move\":\"e2e4\"}\r\nf;sig=abcdef\r\n{\"move\":\"e7e5\"}\r\n0\r\n\r\n"
	cases := []struct {
		name string
		in   string
	}{
		{"req=typical-GET", typicalGET},
		{"req=pipelined-16-GET", strings.Repeat(typicalGET, 16)},
		{"req=chunked-POST", chunkedPOST},
		{"req=content-length-POST", "POST /move HTTP/1.1\r\nHost: game.example.com\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"move\":\"e2e4\"}\n"},
	}
	for _, tc := range cases {
		in := []byte(tc.in)
		b.Run(tc.name+"/impl=httpcodec", func(b *testing.B) {
			p := NewParser(Limits{})
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				for buf := in; len(buf) > 0; {
					n, _, err := p.Parse(buf)
					if err != nil || n == 0 {
						b.Fatalf("Parse = %d, %v", n, err)
					}
					buf = buf[n:]
				}
			}
		})
		b.Run(tc.name+"/impl=net-http", func(b *testing.B) {
			rd := bytes.NewReader(in)
			br := bufio.NewReader(rd)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				rd.Reset(in)
				br.Reset(rd)
				for {
					req, err := http.ReadRequest(br)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkParseByteAtATime shows the cost of resuming: the head arrives one
// byte per call.
func BenchmarkParseByteAtATime(b *testing.B) {
	in := []byte(typicalGET)
	p := NewParser(Limits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		for k := 1; k <= len(in); k++ {
			if _, _, err := p.Parse(in[:k]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkVisitQuery(b *testing.B) {
	_, r, err := NewParser(Limits{}).Parse([]byte("GET /poll?room=r%2042&sid=0123456789abcdef&since=1700000000&name=J%C3%BCrgen+M HTTP/1.1\r\nHost: h\r\n\r\n"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(r.RawQuery)))
	for b.Loop() {
		r.VisitQuery(func(k, v []byte) bool { return true })
	}
}

func BenchmarkWrite(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 256)
	buf := make([]byte, 0, 4096)
	now := time.Now()
	b.Run("op=AppendResponse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			buf = AppendResponse(buf[:0], 200, []string{"Content-Type", "application/json", "Cache-Control", "no-store"}, body, false)
		}
	})
	b.Run("op=AppendChunk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			buf = AppendChunk(buf[:0], body)
		}
	})
	b.Run("op=AppendDate-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendDate(buf[:0], now)
		}
	})
	b.Run("op=AppendDate-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 64)
			for pb.Next() {
				buf = AppendDate(buf[:0], time.Now())
			}
		})
	})
}
