package engine

import (
	"net/http"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPErrorsEmptyLinesBeforeRequest: RFC 9112 §2.2 asks a server to
// ignore at least one empty line before a request line; old clients send
// one after a POST body. Such a request is served, not answered 400, and the
// connection goes on.
func TestHTTPErrorsEmptyLinesBeforeRequest(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/", hText("ok"))
		s.Handle("POST", "/move", func(w *Stream, r *Request) {
			w.Respond(http.StatusOK, "text/plain", append([]byte("moved "), r.Body...))
		})
	})
	c := testkit.Dial(t, s.Addr())
	c.Send("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.Next("GET"); r.StatusCode != 200 || r.Text != "ok" || r.Close {
		t.Fatalf("GET after an empty line = %d %q close=%v; want 200 ok, kept open", r.StatusCode, r.Text, r.Close)
	}
	c.Send("POST /move HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ne2e4\r\n" + "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.Next("POST"); r.StatusCode != 200 || r.Text != "moved e2e4" {
		t.Fatalf("POST = %d %q; want 200 %q", r.StatusCode, r.Text, "moved e2e4")
	}
	if r := c.Next("GET"); r.StatusCode != 200 || r.Text != "ok" {
		t.Fatalf("GET after the POST's extra CRLF = %d %q; want 200 ok", r.StatusCode, r.Text)
	}
	if got := s.Stats().BadRequests; got != 0 {
		t.Errorf("bad_requests = %d; want 0", got)
	}
}

// TestHTTPErrorsEmptyLinesKeepConnectionIdle: empty lines alone do not start
// a request, so they do not arm the header timer (an idle keep-alive peer
// that sent a CRLF after its POST is not answered 408).
func TestHTTPErrorsEmptyLinesKeepConnectionIdle(t *testing.T) {
	const headerTimeout = 200 * time.Millisecond
	s := hStart(t, Config{HeaderTimeout: headerTimeout, IdleTimeout: time.Minute}, func(s *Server) {
		s.Handle("GET", "/", hText("ok"))
	})
	c := testkit.Dial(t, s.Addr())
	c.Send("\r\n\r\n")
	// Far past the header deadline: a header timer would have answered 408
	// (a late wheel can only make this pass, not fail).
	c.ExpectOpen(5 * headerTimeout)
	c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.Next("GET"); r.StatusCode != 200 || r.Text != "ok" {
		t.Fatalf("GET after idle empty lines = %d %q; want 200 ok", r.StatusCode, r.Text)
	}
	if got := s.Stats().HeaderTimeouts; got != 0 {
		t.Errorf("header_timeouts = %d; want 0", got)
	}
}

// TestHTTPErrorsBadVersionAnsweredAtOnce: a request line whose version
// cannot be one we serve is answered as soon as that is certain, not when
// its line ends or the header timer fires. The header timeout is a minute
// and the read waits half of it: an answer means the server did not wait.
func TestHTTPErrorsBadVersionAnsweredAtOnce(t *testing.T) {
	const headerTimeout = time.Minute
	s := hStart(t, Config{HeaderTimeout: headerTimeout}, func(s *Server) {
		s.Handle("GET", "/", hText("ok"))
	})
	for _, line := range []string{"GET / HTTP/5.6", "GET / HTTP/1.2"} {
		t.Run(line, func(t *testing.T) {
			c := testkit.Dial(t, s.Addr())
			c.Send(line) // and nothing more: no CRLF, no header
			c.C.SetReadDeadline(time.Now().Add(headerTimeout / 2))
			r, err := http.ReadResponse(c.BR, nil)
			if err != nil {
				t.Fatalf("reading the answer to %q: %v", line, err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusHTTPVersionNotSupported || !r.Close {
				t.Fatalf("%q = %d close=%v; want 505 and close", line, r.StatusCode, r.Close)
			}
		})
	}
}
