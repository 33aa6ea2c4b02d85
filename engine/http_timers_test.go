package engine

import (
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPHeaderTimeoutSlowloris: a client trickling its head one byte every
// 100 ms is answered 408 and closed at the header deadline, although it
// keeps sending; meanwhile other clients are served. The deadline runs from
// the first byte of the request: trickling does not extend it, so the 408
// comes while the client still has most of its head to send (a deadline
// extended by each byte would come only after the trickle stopped, some
// 20 s later).
func TestHTTPHeaderTimeoutSlowloris(t *testing.T) {
	const headerTimeout = 600 * time.Millisecond
	s := hStart(t, Config{HeaderTimeout: headerTimeout, IdleTimeout: testkit.Timeout}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
	})
	slow := testkit.Dial(t, s.Addr())
	// A first request completes: the next one's deadline counts from its
	// own first byte.
	if r := slow.Get("/x"); r.Text != "x" {
		t.Fatalf("first request: %q", r.Text)
	}
	head := testkit.Req("GET", "/x", "X-Slow: "+strings.Repeat("s", 200))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < len(head)-2; i++ { // never complete the head
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := slow.C.Write([]byte{head[i]}); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Other clients are served while the slow one trickles.
	for range 3 {
		if r := testkit.Get(t, s.Addr(), "/x"); r.Text != "x" {
			t.Fatalf("other client: %q", r.Text)
		}
	}
	r := slow.Next("GET")
	el, n := time.Since(start), sent.Load()
	if r.StatusCode != 408 || !r.Close {
		t.Fatalf("slow client got %d close=%v; want 408 and close", r.StatusCode, r.Close)
	}
	// The first byte left ~100 ms after start: not before the deadline.
	if el < headerTimeout {
		t.Fatalf("408 after %v, before the deadline %v", el, headerTimeout)
	}
	if half := int64(len(head)-2) / 2; n > half {
		t.Fatalf("408 after %d bytes of the trickle; want it within the first %d (the deadline counts from the first byte)", n, half)
	}
	slow.ExpectEOF(testkit.Timeout)
	if st := s.Stats(); st.HeaderTimeouts != 1 {
		t.Fatalf("header_timeouts = %d; want 1", st.HeaderTimeouts)
	}
}

// TestHTTPHeaderTimeoutSilent: a connection that sends nothing at all is
// closed at the header deadline (the timer starts at accept) without a
// word, as an idle one is: a 408 there would be read as the answer to the
// next request of a client that reuses the connection just then (a
// browser's preconnected socket, an HTTP client's spare connection). One
// whose body never completes gets 408 and is closed.
func TestHTTPHeaderTimeoutSilent(t *testing.T) {
	const headerTimeout = 300 * time.Millisecond
	s := hStart(t, Config{HeaderTimeout: headerTimeout, IdleTimeout: testkit.Timeout}, func(s *Server) {
		s.Handle("POST", "/x", hText("x"))
	})
	silent := testkit.Dial(t, s.Addr())
	partialBody := testkit.Dial(t, s.Addr())
	partialBody.Send(testkit.Req("POST", "/x", "Content-Length: 10") + "12345")
	start := time.Now()
	if r := partialBody.Next("GET"); r.StatusCode != 408 {
		t.Fatalf("a partial body got %d; want 408", r.StatusCode)
	}
	partialBody.ExpectEOF(testkit.Timeout)
	silent.C.SetReadDeadline(time.Now().Add(testkit.Timeout))
	if b, err := io.ReadAll(silent.BR); err != nil || len(b) != 0 {
		t.Fatalf("a silent connection got %q (%v); want it closed without a word", b, err)
	}
	if el := time.Since(start); el < headerTimeout-50*time.Millisecond {
		t.Fatalf("closed after %v, before the deadline %v", el, headerTimeout)
	}
	if got := s.Stats().HeaderTimeouts; got != 2 {
		t.Errorf("header timeouts %d; want 2", got)
	}
}

// TestHTTPIdleTimeout: a keep-alive connection with nothing in flight is
// closed after IdleTimeout; a parked request (long poll) on another
// connection outlives both timeouts several times over.
func TestHTTPIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	release := make(chan struct{})
	s := hStart(t, Config{IdleTimeout: idle, HeaderTimeout: idle}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
		s.Handle("GET", "/longpoll", func(w *Stream, _ *Request) {
			w.Park()
			go func() { <-release; w.Respond(200, "text/plain", []byte("event")) }()
		})
		s.Handle("GET", "/stream", func(w *Stream, _ *Request) {
			w.Start(200, "text/plain")
			w.Park()
			go func() { <-release; w.Write([]byte("tick")); w.End() }()
		})
	})
	idleConn := testkit.Dial(t, s.Addr())
	poll := testkit.Dial(t, s.Addr())
	stream := testkit.Dial(t, s.Addr())
	poll.Send(testkit.Req("GET", "/longpoll"))
	stream.Send(testkit.Req("GET", "/stream"))
	resp, err := stream.Head("GET")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := idleConn.Get("/x"); r.Text != "x" {
		t.Fatal(r.Text)
	}
	// Closed by its idle timer: not before it, and long before the default
	// (a minute) that a timer not set from the configuration would use.
	idleConn.ExpectEOF(testkit.Timeout)
	if el := time.Since(start); el < idle-50*time.Millisecond {
		t.Fatalf("idle connection closed after %v, before its timeout %v", el, idle)
	}
	// The parked ones are still there after 4 idle periods in all.
	poll.ExpectOpen(3 * idle)
	close(release)
	if r := poll.Next("GET"); r.Text != "event" {
		t.Fatalf("long poll = %q", r.Text)
	}
	if b, err := io.ReadAll(resp.Body); string(b) != "tick" || err != nil {
		t.Fatalf("stream = %q, %v", b, err)
	}
	// After the answer the long-poll connection is idle: the timer is back.
	poll.ExpectEOF(testkit.Timeout)
}
