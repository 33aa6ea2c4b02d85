package engine

import (
	"github.com/cometplay/cometplay/internal/testkit"
	"testing"
	"unsafe"

	"github.com/cometplay/cometplay/httpcodec"
)

// A handlerCall is a Handler's one allocation a request: it stays in the
// 384-byte size class (512 bytes and more get a type header and cost more).
func TestHandlerCallSize(t *testing.T) {
	if n := unsafe.Sizeof(handlerCall{}); n > 384 {
		t.Fatalf("handlerCall is %d bytes, want at most 384", n)
	}
}

// copyRequest makes one allocation for the strings of a usual request (its
// fields fit inline) and shares the target's bytes for an unescaped path.
func TestCopyRequestAllocs(t *testing.T) {
	req := &httpcodec.Request{
		Method: []byte("GET"), Target: []byte("/api/x?a=1"), Path: []byte("/api/x"),
		RawQuery: []byte("a=1"), Host: []byte("example.com"), ProtoMinor: 1,
		Headers: []httpcodec.Header{{Name: []byte("Host"), Value: []byte("example.com")}, {Name: []byte("Accept"), Value: []byte("*/*")}},
	}
	var hc handlerCall
	allocs := testing.AllocsPerRun(100, func() {
		copyRequest(&hc.req, hc.inline[:], req, "127.0.0.1:1")
	})
	if allocs != 1 {
		t.Errorf("copyRequest: %v allocations, want 1", allocs)
	}
	r := &hc.req
	if r.Method != "GET" || r.Target != "/api/x?a=1" || r.Path != "/api/x" || r.RawQuery != "a=1" || r.Host != "example.com" || r.Proto != "HTTP/1.1" {
		t.Errorf("copied %+v", r)
	}
	if unsafe.StringData(r.Path) != unsafe.StringData(r.Target) {
		t.Error("an unescaped path is not shared with the target")
	}
	if v := r.HeaderValue("accept"); v != "*/*" || len(r.fields) != 2 {
		t.Errorf("fields %+v", r.fields)
	}
	// An escaped path is its own copy; more fields than fit inline get a slice.
	req.Target, req.Path = []byte("/a%20b"), []byte("/a b")
	req.RawQuery = nil
	for range inlineFields {
		req.Headers = append(req.Headers, httpcodec.Header{Name: []byte("X-N"), Value: []byte("v")})
	}
	copyRequest(r, hc.inline[:], req, "127.0.0.1:1")
	if r.Path != "/a b" || r.Target != "/a%20b" || r.RawQuery != "" || r.Host != "example.com" || len(r.fields) != 2+inlineFields {
		t.Errorf("copied %+v", r)
	}
}

// A finished response's exchange serves the next request, so an op its
// Stream posted before it learned the response was over (a chunk after a
// HEAD's head, which ends the response) must not reach that next request.
// Without the exchanges' generations the chunk lands on a reused exchange.
func TestStaleStreamOpsMissTheReusedExchange(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/body", hText("0123456789"))
		s.Handle("GET", "/stream", func(w *Stream, _ *Request) {
			_ = w.Start(200, "text/plain")
			for range 20 {
				_, _ = w.Write([]byte("junk")) // posted before the loop has ended the HEAD
			}
			_ = w.End()
		})
		s.Handle("GET", "/stream204", func(w *Stream, _ *Request) {
			_ = w.Start(204, "")
			_, _ = w.Write([]byte("junk"))
			_ = w.End()
		})
	})
	c := testkit.Dial(t, s.Addr())
	for range 20 {
		c.Send(testkit.Req("HEAD", "/stream") + testkit.Req("GET", "/stream204"))
		if r := c.Next("HEAD"); r.StatusCode != 200 || r.Text != "" {
			t.Fatalf("HEAD /stream = %d %q", r.StatusCode, r.Text)
		}
		if r := c.Next("GET"); r.StatusCode != 204 || r.Text != "" {
			t.Fatalf("GET /stream204 = %d %q", r.StatusCode, r.Text)
		}
		for range 3 {
			c.Send(testkit.Req("GET", "/body"))
			if r := c.Next("GET"); r.StatusCode != 200 || r.Text != "0123456789" {
				t.Fatalf("GET /body after a finished stream = %d %q", r.StatusCode, r.Text)
			}
		}
	}
}
