package engine

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPStatusFor pins the one mapping from codec errors to statuses.
func TestHTTPStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{httpcodec.ErrBadRequest, 400},
		{httpcodec.ErrMissingHost, 400},
		{httpcodec.ErrBadContentLength, 400},
		{httpcodec.ErrSmuggling, 400},
		{httpcodec.ErrBadChunk, 400},
		{httpcodec.ErrRequestLineTooLong, 414},
		{httpcodec.ErrHeaderTooLarge, 431},
		{httpcodec.ErrTooManyHeaders, 431},
		{httpcodec.ErrBodyTooLarge, 413},
		{httpcodec.ErrUnsupportedVersion, 505},
		{httpcodec.ErrNotImplemented, 501},
		{errors.New("unknown"), 400},
	}
	for _, tt := range tests {
		wrapped := &httpcodec.ParseError{Err: tt.err, State: "s"}
		if got := statusFor(wrapped); got != tt.want {
			t.Errorf("statusFor(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}

// TestHTTPBadRequestsOverTheWire sends requests the codec refuses, each
// followed by more bytes (the rest of a pipeline, a body the server will
// not read), and checks that the error response arrives whole and the
// connection then closes. The trailing bytes are what would make a plain
// close() reset the connection and destroy the response before the client
// reads it; the server half-closes and discards them instead.
func TestHTTPBadRequestsOverTheWire(t *testing.T) {
	lim := httpcodec.Limits{MaxRequestLine: 1 << 10, MaxHeadBytes: 4 << 10, MaxHeaders: 20, MaxBodyBytes: 1 << 10}
	s := hStart(t, Config{Limits: lim}, func(s *Server) {
		s.Handle("", "/", hText("ok"))
	})
	many := ""
	for i := range 30 {
		many += fmt.Sprintf("X-H%d: v\r\n", i)
	}
	// trailer is sent right after the bad request; 256 KiB is more than the
	// server's socket buffers leave room to ignore.
	trailer := strings.Repeat("GET / HTTP/1.1\r\nHost: t\r\n\r\n", (256<<10)/26)
	tests := []struct {
		name, req string
		status    int
	}{
		{"400 garbage", "HELLO\r\n\r\n", 400},
		{"400 missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"400 smuggling", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"400 bare LF", "GET / HTTP/1.1\nHost: t\n\n", 400},
		{"413 body", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413},
		{"413 chunk", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n", 413},
		{"414 URI", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
		{"431 header bytes", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", 431},
		{"431 header count", "GET / HTTP/1.1\r\nHost: t\r\n" + many + "\r\n", 431},
		{"501 transfer coding", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"501 CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501},
		{"505 version", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Stats().BadRequests
			c := testkit.Dial(t, s.Addr())
			// A good request first: the error must come after its response.
			// Everything is written before anything is read, and the
			// reading waits a little more, so that a reset caused by the
			// unread trailer would arrive before the client reads.
			werr := make(chan error, 1)
			go func() {
				_, err := c.C.Write([]byte(testkit.Req("GET", "/") + tt.req + trailer))
				werr <- err
			}()
			if err := testkit.Recv(t, werr, "writer"); err != nil {
				t.Fatalf("writing: %v (the server stopped reading)", err)
			}
			time.Sleep(50 * time.Millisecond) // the timing condition under test, not synchronization
			if r := c.Next("GET"); r.Text != "ok" {
				t.Fatalf("good request before the bad one: %q", r.Text)
			}
			r := c.Next("GET")
			if r.StatusCode != tt.status || !r.Close {
				t.Fatalf("got %d close=%v; want %d and close", r.StatusCode, r.Close, tt.status)
			}
			if want := fmt.Sprintf("%d %s\n", tt.status, httpcodec.StatusText(tt.status)); r.Text != want {
				t.Fatalf("body %q; want %q", r.Text, want)
			}
			if err := c.WaitEOF(testkit.Timeout); err != nil {
				t.Fatal(err)
			}
			if got := s.Stats().BadRequests - before; got != 1 {
				t.Fatalf("bad_requests grew by %d", got)
			}
		})
	}
	if r := testkit.Get(t, s.Addr(), "/"); r.StatusCode != http.StatusOK {
		t.Fatalf("server after errors: %d", r.StatusCode)
	}
}

// TestHTTPCloseAfterQueuedResponses: when the server closes a connection
// (after an error, or "Connection: close") while earlier responses still
// wait in its outbound buffer for a slow reader, they and the last response
// must still be delivered before the close, and input arriving meanwhile is
// discarded rather than answered with a reset.
func TestHTTPCloseAfterQueuedResponses(t *testing.T) {
	body := strings.Repeat("z", 8<<10)
	s := hStart(t, Config{MaxOutbound: 16 << 20}, func(s *Server) {
		s.Handle("GET", "/big", hText(body))
	})
	const k = 400 // 3.2 MiB of responses: more than loopback socket buffers take, below MaxOutbound
	for _, tt := range []struct{ name, last string }{
		{"bad request", "BAD\r\n\r\n"},
		{"connection close", testkit.Req("GET", "/big", "Connection: close")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testkit.DialSmallRcvbuf(t, s.Addr(), 4<<10)
			trailer := strings.Repeat(testkit.Req("GET", "/big"), 2000)
			// The client goes on sending while it (slowly) reads: input that
			// reaches a socket the server has closed outright is answered
			// with a reset, which discards whatever the server's kernel had
			// not yet sent.
			stop := make(chan struct{})
			wdone := make(chan struct{})
			go func() {
				defer close(wdone)
				if _, err := c.C.Write([]byte(strings.Repeat(testkit.Req("GET", "/big"), k) + tt.last + trailer)); err != nil {
					return
				}
				for {
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
					if _, err := c.C.Write([]byte("more junk\r\n")); err != nil {
						return
					}
				}
			}()
			defer func() { close(stop); <-wdone }()
			time.Sleep(100 * time.Millisecond) // let the server queue, then find the end
			for i := range k {
				r, err := c.TryNext("GET")
				if err != nil || r.Text != body {
					t.Fatalf("response %d: %v", i, err)
				}
			}
			r := c.Next("GET")
			if !r.Close {
				t.Fatalf("last response %d does not close", r.StatusCode)
			}
			if err := c.WaitEOF(testkit.Timeout); err != nil {
				t.Fatal(err)
			}
		})
	}
}
