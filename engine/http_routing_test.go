package engine

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPRouting checks exact and prefix routes, longest prefix first, GET
// serving HEAD, 405 with Allow, and 404.
func TestHTTPRouting(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/a", hText("exact a"))
		s.Handle("POST", "/a", hText("post a"))
		s.Handle("DELETE", "/a", hText("delete a"))
		s.HandlePrefix("GET", "/p/", hText("prefix p"))
		s.HandlePrefix("GET", "/p/q/", hText("prefix pq"))
		s.Handle("GET", "/p/exact", hText("exact under prefix"))
		s.Handle("", "/any", func(w *Stream, r *Request) {
			w.Respond(http.StatusOK, "text/plain", []byte("any "+r.Method))
		})
		s.Handle("PUT", "/put-only", hText("put"))
		s.Handle("GET", "/replaced", hText("old"))
		s.Handle("GET", "/replaced", hText("new"))
	})
	c := testkit.Dial(t, s.Addr())
	tests := []struct {
		name, method, target string
		status               int
		body                 string
		allow                string
	}{
		{"exact", "GET", "/a", 200, "exact a", ""},
		{"exact post", "POST", "/a", 200, "post a", ""},
		{"exact with query", "GET", "/a?x=1", 200, "exact a", ""},
		{"longest prefix", "GET", "/p/q/r", 200, "prefix pq", ""},
		{"shorter prefix", "GET", "/p/x", 200, "prefix p", ""},
		{"prefix itself", "GET", "/p/", 200, "prefix p", ""},
		{"exact beats prefix", "GET", "/p/exact", 200, "exact under prefix", ""},
		{"prefix needs its slash", "GET", "/p", 404, "404 Not Found\n", ""},
		{"any method", "PATCH", "/any", 200, "any PATCH", ""},
		{"head on GET route", "HEAD", "/a", 200, "", ""},
		{"405 lists GET and HEAD", "PUT", "/a", 405, "405 Method Not Allowed\n", "DELETE, GET, HEAD, POST"},
		{"405 without GET", "GET", "/put-only", 405, "405 Method Not Allowed\n", "PUT"},
		{"head not served by PUT", "HEAD", "/put-only", 405, "", "PUT"},
		{"404", "GET", "/nope", 404, "404 Not Found\n", ""},
		{"later registration replaces", "GET", "/replaced", 200, "new", ""},
		{"percent-decoded path", "GET", "/%61", 200, "exact a", ""},
	}
	for _, tt := range tests {
		c.Send(testkit.Req(tt.method, tt.target))
		r := c.Next(tt.method)
		if r.StatusCode != tt.status || r.Text != tt.body {
			t.Errorf("%s: %s %s = %d %q; want %d %q", tt.name, tt.method, tt.target, r.StatusCode, r.Text, tt.status, tt.body)
		}
		if got := r.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s: Allow = %q; want %q", tt.name, got, tt.allow)
		}
		if tt.method == "HEAD" && tt.status == 200 && r.ContentLength != int64(len("exact a")) {
			t.Errorf("%s: HEAD Content-Length = %d; want %d", tt.name, r.ContentLength, len("exact a"))
		}
	}
}

// TestHTTPHandlersOffLoop shows that handlers run on workers, never on an
// event loop: with a single loop, a handler blocked on a channel does not
// stop another connection from being served.
func TestHTTPHandlersOffLoop(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := hStart(t, Config{Loops: 1}, func(s *Server) {
		s.Handle("GET", "/block", func(w *Stream, _ *Request) {
			close(entered)
			<-release
			w.Respond(200, "text/plain", []byte("unblocked"))
		})
		s.Handle("GET", "/fast", hText("fast"))
	})
	blocked := testkit.Dial(t, s.Addr())
	blocked.Send(testkit.Req("GET", "/block"))
	testkit.Recv(t, entered, "blocking handler to start")
	if r := testkit.Get(t, s.Addr(), "/fast"); r.Text != "fast" {
		t.Fatalf("fast = %q", r.Text)
	}
	close(release)
	if r := blocked.Next("GET"); r.Text != "unblocked" {
		t.Fatalf("blocked = %q", r.Text)
	}
}

// TestHTTPRequestCopy checks what a handler sees of the request: an owned
// copy with decoded path, query, headers, body (Content-Length and chunked)
// and protocol.
func TestHTTPRequestCopy(t *testing.T) {
	got := make(chan *Request, 4)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("", "/echo", func(w *Stream, r *Request) {
			got <- r
			w.Respond(200, "application/octet-stream", r.Body)
		})
	})
	c := testkit.Dial(t, s.Addr())
	c.Send("POST /echo?a=1&b=x+y HTTP/1.1\r\nHost: example\r\nX-Multi: 1\r\nx-multi: 2\r\nContent-Length: 5\r\n\r\nhello" +
		"PUT /echo HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /echo HTTP/1.0\r\n\r\n")
	for i, want := range []string{"hello", "abcde", ""} {
		r := c.Next("GET")
		if r.Text != want {
			t.Errorf("response %d body = %q; want %q", i, r.Text, want)
		}
	}
	// Requests of one connection run on workers concurrently: sort them.
	byMethod := map[string]*Request{}
	for range 3 {
		r := testkit.Recv(t, got, "handler")
		byMethod[r.Method] = r
	}
	if r := byMethod["POST"]; r == nil || r.Path != "/echo" || r.RawQuery != "a=1&b=x+y" || r.Query().Get("b") != "x y" ||
		r.Host != "example" || r.Proto != "HTTP/1.1" || string(r.Body) != "hello" ||
		strings.Join(r.Header()["X-Multi"], ",") != "1,2" || r.RemoteAddr != c.C.LocalAddr().String() {
		t.Errorf("POST = %+v", r)
	}
	if r := byMethod["PUT"]; r == nil || string(r.Body) != "abcde" || r.Header().Get("Transfer-Encoding") != "chunked" {
		t.Errorf("PUT = %+v", r)
	}
	if r := byMethod["GET"]; r == nil || r.Proto != "HTTP/1.0" || r.Body != nil {
		t.Errorf("GET = %+v", r)
	}
	c.ExpectEOF(testkit.Timeout) // the HTTP/1.0 request did not ask for keep-alive
}

// TestHTTPStreamAPI exercises the Stream handle: errors of misuse, a
// handler returning without answering, headers, and a panic.
func TestHTTPStreamAPI(t *testing.T) {
	errs := make(chan string, 16)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/silent", func(w *Stream, _ *Request) {
			if err := w.SetHeader("X-Set", "v"); err != nil {
				errs <- "SetHeader: " + err.Error()
			}
		})
		s.Handle("GET", "/misuse", func(w *Stream, _ *Request) {
			var got []string
			note := func(what string, err error) { got = append(got, fmt.Sprintf("%s=%v", what, err)) }
			note("SetHeader(bad name)", w.SetHeader("Bad Name", "v"))
			note("SetHeader(CRLF)", w.SetHeader("X-A", "v\r\nInjected: 1"))
			note("SetHeader(Content-Length)", w.SetHeader("Content-Length", "5"))
			_, err := w.Write([]byte("x"))
			note("Write before Start", err)
			note("End before Start", w.End())
			note("Respond", w.Respond(201, "text/plain", []byte("created")))
			note("Respond again", w.Respond(200, "", nil))
			note("Start after Respond", w.Start(200, ""))
			note("SetHeader after Respond", w.SetHeader("X-Late", "1"))
			errs <- strings.Join(got, "; ")
		})
		s.Handle("GET", "/started", func(w *Stream, _ *Request) {
			w.SetHeader("X-Stream", "yes")
			w.Start(200, "text/plain")
			w.Write([]byte("one,"))
			w.Write(nil) // no empty chunk: it would end the body
			w.Write([]byte("two"))
			w.End()
			_, err := w.Write([]byte("late"))
			errs <- fmt.Sprintf("Write after End=%v", err)
		})
		s.Handle("GET", "/panic", func(*Stream, *Request) { panic("boom") })
	})
	c := testkit.Dial(t, s.Addr())

	r := c.Get("/silent")
	if r.StatusCode != 200 || r.Text != "" || r.ContentLength != 0 || r.Header.Get("X-Set") != "v" {
		t.Errorf("/silent = %d %q CL %d X-Set %q; want 200, empty, CL 0, v", r.StatusCode, r.Text, r.ContentLength, r.Header.Get("X-Set"))
	}
	r = c.Get("/misuse")
	if r.StatusCode != 201 || r.Text != "created" || r.Header.Get("Injected") != "" {
		t.Errorf("/misuse = %d %q %v", r.StatusCode, r.Text, r.Header)
	}
	want := "SetHeader(bad name)=" + ErrBadHeader.Error() + "; SetHeader(CRLF)=" + ErrBadHeader.Error() +
		"; SetHeader(Content-Length)=" + ErrBadHeader.Error() + "; Write before Start=" + ErrNotStarted.Error() +
		"; End before Start=" + ErrNotStarted.Error() + "; Respond=<nil>; Respond again=" + ErrResponded.Error() +
		"; Start after Respond=" + ErrResponded.Error() + "; SetHeader after Respond=" + ErrResponded.Error()
	if got := testkit.Recv(t, errs, "misuse report"); got != want {
		t.Errorf("misuse:\n got %s\nwant %s", got, want)
	}
	r = c.Get("/started")
	if r.Text != "one,two" || r.Header.Get("X-Stream") != "yes" || len(r.TransferEncoding) != 1 ||
		r.Header.Get("Cache-Control") != "no-cache, no-store" || r.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("/started = %q %v TE %v", r.Text, r.Header, r.TransferEncoding)
	}
	if got := testkit.Recv(t, errs, "stream report"); got != "Write after End="+ErrResponded.Error() {
		t.Errorf("stream: %s", got)
	}
	r = c.Get("/panic")
	if r.StatusCode != 500 {
		t.Errorf("/panic = %d; want 500", r.StatusCode)
	}
	if s.Stats().HandlerPanics != 1 {
		t.Errorf("handler_panics = %d; want 1", s.Stats().HandlerPanics)
	}
	if r := c.Get("/silent"); r.StatusCode != 200 {
		t.Errorf("connection unusable after a panic: %d", r.StatusCode)
	}
}

// TestHTTPStreamBadInput: a status or content type that would break the
// framing is refused with an error in the handler's goroutine; it must never
// reach the event loop, where the codec's writer panics (that would take the
// whole server down).
func TestHTTPStreamBadInput(t *testing.T) {
	errs := make(chan error, 8)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/status", func(w *Stream, r *Request) {
			st := 0
			fmt.Sscan(r.RawQuery, &st)
			errs <- w.Respond(st, "text/plain", []byte("x"))
		})
		s.Handle("GET", "/start-status", func(w *Stream, _ *Request) { errs <- w.Start(1000, "text/plain") })
		s.Handle("GET", "/ctype", func(w *Stream, _ *Request) {
			errs <- w.Respond(200, "text/plain\r\nSet-Cookie: evil=1", []byte("x"))
		})
		s.Handle("GET", "/start-ctype", func(w *Stream, _ *Request) { errs <- w.Start(200, "a\nb") })
		s.Handle("GET", "/ok", hText("ok"))
	})
	for _, target := range []string{"/status?0", "/status?99", "/status?1000", "/status?101", "/start-status", "/ctype", "/start-ctype"} {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("GET", target))
		if err := testkit.Recv(t, errs, target); err == nil {
			t.Errorf("%s: accepted", target)
		}
		// The handler returned with an error and without parking: the
		// server answers for it.
		r := c.Next("GET")
		if r.StatusCode != 200 || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: then %d %v", target, r.StatusCode, r.Header)
		}
	}
	if r := testkit.Get(t, s.Addr(), "/ok"); r.Text != "ok" {
		t.Fatalf("server broken: %q", r.Text)
	}
}

// TestHTTPHead checks HEAD: no body, Content-Length of the GET kept, on a
// complete response, on a streamed one, and pipelined so that any stray
// body byte would corrupt the next response.
func TestHTTPHead(t *testing.T) {
	streamDone := make(chan error, 1)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/body", hText("0123456789"))
		s.Handle("GET", "/stream", func(w *Stream, _ *Request) {
			w.Start(200, "text/plain")
			w.Park()
			go func() {
				// A pushing goroutine must learn that no body will be sent.
				select {
				case <-w.Done():
				case <-time.After(testkit.Timeout):
				}
				_, err := w.Write([]byte("data"))
				streamDone <- err
			}()
		})
	})
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("HEAD", "/body") + testkit.Req("HEAD", "/stream") + testkit.Req("GET", "/body"))
	r := c.Next("HEAD")
	if r.StatusCode != 200 || r.ContentLength != 10 || r.Text != "" {
		t.Errorf("HEAD /body = %d CL %d %q", r.StatusCode, r.ContentLength, r.Text)
	}
	r = c.Next("HEAD")
	if r.StatusCode != 200 || r.Text != "" {
		t.Errorf("HEAD /stream = %d %q", r.StatusCode, r.Text)
	}
	if r := c.Next("GET"); r.Text != "0123456789" {
		t.Errorf("GET after HEADs = %q", r.Text)
	}
	if err := testkit.Recv(t, streamDone, "HEAD stream to be reported done"); err == nil {
		t.Errorf("Write on a finished HEAD stream succeeded")
	}
}

// TestHTTPKeepAliveAndClose covers connection persistence: HTTP/1.1 keeps
// the connection, "Connection: close" closes it after the response,
// HTTP/1.0 closes unless it asks for keep-alive, which is echoed, and a
// streamed response to HTTP/1.0 is raw and ends with the connection.
func TestHTTPKeepAliveAndClose(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
		s.Handle("GET", "/stream", func(w *Stream, _ *Request) {
			w.Start(200, "text/plain")
			w.Park()
			go func() {
				w.Write([]byte("ab"))
				w.Write([]byte("cd"))
				w.End()
			}()
		})
	})
	t.Run("http11 keep-alive", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		for range 3 {
			if r := c.Get("/x"); r.Close || r.Header.Get("Connection") != "" {
				t.Fatalf("keep-alive response says close: %v", r.Header)
			}
		}
		c.ExpectOpen(50 * time.Millisecond)
	})
	t.Run("connection close", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("GET", "/x", "Connection: close") + testkit.Req("GET", "/x"))
		if r := c.Next("GET"); !r.Close || r.Text != "x" {
			t.Fatalf("close response: close=%v %q", r.Close, r.Text)
		}
		c.ExpectEOF(testkit.Timeout) // and the pipelined second request is not answered
	})
	t.Run("http10", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send("GET /x HTTP/1.0\r\n\r\n")
		if h := c.RawHead(); !strings.Contains(h, "\r\nConnection: close\r\n") || !strings.Contains(h, "\r\nContent-Length: 1\r\n") {
			t.Fatalf("1.0 head: %q", h)
		}
		if b := c.Rest(); b != "x" {
			t.Fatalf("1.0 body then EOF: %q", b)
		}
	})
	t.Run("http10 keep-alive", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		for range 2 {
			c.Send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			r := c.Next("GET")
			if r.Header.Get("Connection") != "keep-alive" || r.Text != "x" {
				t.Fatalf("1.0 keep-alive response: %v %q", r.Header, r.Text)
			}
		}
		c.ExpectOpen(50 * time.Millisecond)
	})
	t.Run("http10 stream", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		h := c.RawHead()
		if !strings.Contains(h, "\r\nConnection: close\r\n") || strings.Contains(h, "Transfer-Encoding") || strings.Contains(h, "Content-Length") {
			t.Fatalf("1.0 stream head: %q", h)
		}
		if b := c.Rest(); b != "abcd" {
			t.Fatalf("1.0 stream body: %q", b) // raw, ended by the close
		}
	})
}

// TestHTTPExpectContinue: the interim 100 is sent once the head is in and
// nothing earlier is pending, exactly once; the body is then accepted.
func TestHTTPExpectContinue(t *testing.T) {
	release := make(chan struct{})
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("POST", "/echo", func(w *Stream, r *Request) { w.Respond(200, "text/plain", r.Body) })
		s.Handle("GET", "/park", func(w *Stream, _ *Request) {
			w.Park()
			go func() { <-release; w.Respond(200, "text/plain", []byte("parked")) }()
		})
	})
	const cont = "HTTP/1.1 100 Continue\r\n\r\n"
	readExactly := func(c *testkit.Conn, n int) string {
		t.Helper()
		b := make([]byte, n)
		c.C.SetReadDeadline(time.Now().Add(testkit.Timeout))
		if _, err := io.ReadFull(c.BR, b); err != nil {
			t.Fatalf("reading %d bytes: %v", n, err)
		}
		return string(b)
	}
	t.Run("alone", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("POST", "/echo", "Expect: 100-continue", "Content-Length: 10"))
		if got := readExactly(c, len(cont)); got != cont {
			t.Fatalf("interim = %q", got)
		}
		c.Send("01234")
		c.ExpectOpen(30 * time.Millisecond) // no second 100 for the rest of the body
		c.Send("56789")
		if r := c.Next("POST"); r.StatusCode != 200 || r.Text != "0123456789" {
			t.Fatalf("final = %d %q", r.StatusCode, r.Text)
		}
	})
	t.Run("behind a parked request", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("GET", "/park") + testkit.Req("POST", "/echo", "Expect: 100-continue", "Content-Length: 3"))
		c.ExpectOpen(50 * time.Millisecond) // a 100 now would overtake the parked response
		close(release)
		if r := c.Next("GET"); r.Text != "parked" {
			t.Fatalf("parked = %q", r.Text)
		}
		if got := readExactly(c, len(cont)); got != cont {
			t.Fatalf("interim after the parked response = %q", got)
		}
		c.Send("abc")
		if r := c.Next("POST"); r.Text != "abc" {
			t.Fatalf("final = %q", r.Text)
		}
	})
	t.Run("body sent anyway", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("POST", "/echo", "Expect: 100-continue", "Content-Length: 3") + "xyz")
		r := c.Next("POST") // a 100, if any, is skipped by ReadResponse
		if r.Text != "xyz" {
			t.Fatalf("final = %q", r.Text)
		}
	})
	t.Run("too large: no 100", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("POST", "/echo", "Expect: 100-continue", "Content-Length: 99999999"))
		c.C.SetReadDeadline(time.Now().Add(testkit.Timeout))
		line, _ := c.BR.ReadString('\n')
		if !strings.HasPrefix(line, "HTTP/1.1 413 ") {
			t.Fatalf("first line = %q; want 413", line)
		}
	})
}

// TestHTTPStreamConcurrent: Stream methods are safe for concurrent use.
// Sixteen goroutines write to one parked stream at once: every chunk
// arrives whole and each goroutine's chunks in its order. Then many streams
// are raced by Respond, Start/Write/End and Close from different
// goroutines: each connection gets one well-formed answer or a close, never
// a mix.
func TestHTTPStreamConcurrent(t *testing.T) {
	parked := make(chan *Stream, 64)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/p", func(w *Stream, _ *Request) {
			w.Park()
			parked <- w
		})
	})
	t.Run("writers", func(t *testing.T) {
		c := testkit.Dial(t, s.Addr())
		c.Send(testkit.Req("GET", "/p"))
		w := testkit.Recv(t, parked, "the parked stream")
		if err := w.Start(200, "text/plain"); err != nil {
			t.Fatal(err)
		}
		const writers, each = 16, 50
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					if _, err := w.Write([]byte(fmt.Sprintf("<%d:%d>", g, k))); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		w.End()
		r := c.Next("GET")
		next := make([]int, writers)
		for _, part := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.Text, "<"), ">"), "><") {
			var g, k int
			if _, err := fmt.Sscanf(part, "%d:%d", &g, &k); err != nil || g < 0 || g >= writers {
				t.Fatalf("torn chunk %q in %q", part, r.Text)
			}
			if k != next[g] {
				t.Fatalf("writer %d: chunk %d after %d", g, k, next[g]-1)
			}
			next[g]++
		}
		for g, n := range next {
			if n != each {
				t.Fatalf("writer %d: %d chunks arrived; want %d", g, n, each)
			}
		}
	})
	t.Run("racing finishers", func(t *testing.T) {
		const n = 32
		conns := make([]*testkit.Conn, n)
		for i := range conns {
			conns[i] = testkit.Dial(t, s.Addr())
			conns[i].Send(testkit.Req("GET", "/p"))
		}
		for range n {
			w := testkit.Recv(t, parked, "a parked stream")
			for _, f := range []func(){
				func() { w.Respond(200, "text/plain", []byte("respond")) },
				func() { w.Start(200, "text/plain"); w.Write([]byte("stream")); w.End() },
				func() { w.Close() },
				func() { w.Write([]byte("x")); w.End(); w.Respond(500, "", nil) },
			} {
				go f()
			}
		}
		for i, c := range conns {
			r, err := c.TryNext("GET")
			if err != nil {
				continue // closed: Close won the race
			}
			if r.Text != "respond" && r.Text != "stream" && r.Text != "" {
				t.Errorf("connection %d: %d %q", i, r.StatusCode, r.Text)
			}
		}
	})
}

// TestHTTPStartNoBodyStatus: a streamed response with a status that
// carries no body (204, 304) is sent as a head only: chunks after it would
// be read by the client as the start of the next response.
func TestHTTPStartNoBodyStatus(t *testing.T) {
	errs := make(chan error, 2)
	s := hStart(t, Config{}, func(s *Server) {
		for _, st := range []int{204, 304} {
			s.Handle("GET", fmt.Sprintf("/%d", st), func(w *Stream, _ *Request) {
				w.Start(st, "text/plain")
				w.Park()
				go func() {
					w.Write([]byte("must not be sent"))
					<-w.Done()
					_, err := w.Write([]byte("again"))
					errs <- err
				}()
			})
		}
		s.Handle("GET", "/x", hText("x"))
	})
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("GET", "/204") + testkit.Req("GET", "/x") + testkit.Req("GET", "/304") + testkit.Req("GET", "/x"))
	for _, want := range []int{204, 200, 304, 200} {
		r := c.Next("GET")
		if r.StatusCode != want || (want == 200 && r.Text != "x") || r.TransferEncoding != nil {
			t.Fatalf("got %d %q TE %v; want %d", r.StatusCode, r.Text, r.TransferEncoding, want)
		}
	}
	for range 2 {
		if err := testkit.Recv(t, errs, "the writer to be told"); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after a bodiless head = %v; want ErrClosed", err)
		}
	}
}
