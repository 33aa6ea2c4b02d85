package engine

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPShutdownGraceful: Shutdown closes idle keep-alive connections at
// once, refuses new connections, lets in-flight responses finish (a parked
// request answered during the shutdown, two parked requests pipelined on
// one connection, a stream that ends) and then returns, well before its
// deadline.
func TestHTTPShutdownGraceful(t *testing.T) {
	type parkedReq struct {
		w      *Stream
		remote string
	}
	parkedIn := make(chan parkedReq, 8)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
		s.Handle("GET", "/park", func(w *Stream, r *Request) {
			w.Park()
			parkedIn <- parkedReq{w, r.RemoteAddr}
		})
	})
	idle := testkit.Dial(t, s.Addr())
	if r := idle.Get("/x"); r.Text != "x" {
		t.Fatal(r.Text)
	}
	single := testkit.Dial(t, s.Addr())
	single.Send(testkit.Req("GET", "/park"))
	piped := testkit.Dial(t, s.Addr())
	piped.Send(testkit.Req("GET", "/park") + testkit.Req("GET", "/park"))
	streamed := testkit.Dial(t, s.Addr())
	streamed.Send(testkit.Req("GET", "/park"))
	var parked []parkedReq
	for range 4 {
		parked = append(parked, testkit.Recv(t, parkedIn, "requests to park"))
	}

	// The deadline is far off: Shutdown must return because nothing is left
	// in flight, its context still live.
	ctx, cancel := context.WithTimeout(context.Background(), 3*testkit.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	idle.ExpectEOF(testkit.Timeout)
	testkit.Eventually(t, "the server to start draining", s.draining.Load)

	// New connections are refused (503 then close, or no listener).
	if c, err := net.DialTimeout("tcp", s.Addr(), testkit.Timeout); err == nil {
		hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
		hc.Send(testkit.Req("GET", "/x"))
		if r, err := hc.TryNext("GET"); err == nil && r.StatusCode != 503 {
			t.Errorf("new connection during shutdown got %d", r.StatusCode)
		}
		c.Close()
	}

	// Still in flight: answer them all now, during the shutdown.
	for _, p := range parked {
		w := p.w
		if p.remote == streamed.C.LocalAddr().String() {
			w.Start(200, "text/plain")
			w.Write([]byte("stream"))
			w.End()
			continue
		}
		w.Respond(200, "text/plain", []byte("late"))
	}
	if r := single.Next("GET"); r.Text != "late" || !r.Close {
		t.Errorf("parked = %q close=%v", r.Text, r.Close)
	}
	for i := range 2 {
		if r := piped.Next("GET"); r.Text != "late" {
			t.Errorf("pipelined %d = %q", i, r.Text)
		}
	}
	if r := streamed.Next("GET"); r.Text != "stream" {
		t.Errorf("streamed = %q", r.Text)
	}
	for _, c := range []*testkit.Conn{single, piped, streamed} {
		c.ExpectEOF(testkit.Timeout)
	}
	if err := testkit.Recv(t, done, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Shutdown waited for its deadline with nothing left in flight")
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatalf("still accepting after Shutdown")
	}
}

// TestHTTPShutdownDeadline: Shutdown returns by its deadline even when a
// parked request is never answered and a handler never returns.
func TestHTTPShutdownDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{}, 1)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/park", func(w *Stream, _ *Request) { w.Park() })
		s.Handle("GET", "/block", func(w *Stream, _ *Request) {
			entered <- struct{}{}
			<-block
		})
	})
	p := testkit.Dial(t, s.Addr())
	p.Send(testkit.Req("GET", "/park"))
	b := testkit.Dial(t, s.Addr())
	b.Send(testkit.Req("GET", "/block"))
	testkit.Recv(t, entered, "the blocking handler")
	testkit.Eventually(t, "the parked request", func() bool { return s.Stats().Requests == 2 })

	const deadline = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case <-done:
	case <-time.After(deadline + testkit.Timeout): // what is refused: waiting for the handler, forever
		t.Fatalf("Shutdown still running %v after its deadline of %v", time.Since(start)-deadline, deadline)
	}
	// Both connections were closed when the deadline passed.
	for _, c := range []*testkit.Conn{p, b} {
		if err := c.WaitEOF(testkit.Timeout); err != nil && !errors.Is(err, io.EOF) {
			t.Error(err)
		}
	}
}

// TestHTTPShutdownSlowReader: a response the server has produced but a slow
// client is still reading is in flight too: Shutdown lets it drain instead
// of cutting it off with the idle connections.
func TestHTTPShutdownSlowReader(t *testing.T) {
	body := strings.Repeat("s", 4<<20)
	s := hStart(t, Config{MaxOutbound: 16 << 20}, func(s *Server) {
		s.Handle("GET", "/big", hText(body))
	})
	c := testkit.DialSmallRcvbuf(t, s.Addr(), 4<<10)
	c.Send(testkit.Req("GET", "/big"))
	// Wait until the response is fully produced (handed to the socket and
	// gnet's buffer): the connection is then idle from the server's view.
	testkit.Eventually(t, "the response to be produced", func() bool { return s.Stats().Responses == 1 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond) // the shutdown's drain runs before the client reads: the condition under test
	r := c.Next("GET")
	if len(r.Text) != len(body) {
		t.Fatalf("got %d of %d body bytes", len(r.Text), len(body))
	}
	if err := testkit.Recv(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
}
