package engine

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPPipelineParkedFirst: a parked request answered 200 ms later by
// another goroutine, pipelined before a quick one, is still answered first.
func TestHTTPPipelineParkedFirst(t *testing.T) {
	quickDone := make(chan struct{})
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/park", func(w *Stream, _ *Request) {
			w.Park()
			go func() {
				<-quickDone // the quick response exists before this one
				time.Sleep(200 * time.Millisecond)
				w.Respond(200, "text/plain", []byte("parked"))
			}()
		})
		s.Handle("GET", "/quick", func(w *Stream, _ *Request) {
			w.Respond(200, "text/plain", []byte("quick"))
			close(quickDone)
		})
	})
	c := testkit.Dial(t, s.Addr())
	start := time.Now()
	c.Send(testkit.Req("GET", "/park") + testkit.Req("GET", "/quick"))
	if r := c.Next("GET"); r.Text != "parked" {
		t.Fatalf("first response = %q; want parked", r.Text)
	}
	if r := c.Next("GET"); r.Text != "quick" {
		t.Fatalf("second response = %q; want quick", r.Text)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("answered after %v, before the parked handler responded", el)
	}
}

// TestHTTPPipelineRandom pipelines requests whose handlers answer in random
// order, some at once, some parked and answered later from other
// goroutines, some streamed in chunks, some HEAD; the responses must come
// back complete and in request order.
func TestHTTPPipelineRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	s := hStart(t, Config{MaxPipelined: 8}, func(s *Server) {
		s.Handle("GET", "/r", func(w *Stream, r *Request) {
			q := r.Query()
			id := q.Get("id")
			delay, _ := time.ParseDuration(q.Get("d"))
			chunks, _ := strconv.Atoi(q.Get("chunks"))
			answer := func() {
				if chunks == 0 {
					w.Respond(200, "text/plain", []byte("body-"+id))
					return
				}
				w.Start(200, "text/plain")
				for i := range chunks {
					w.Write([]byte(fmt.Sprintf("%s.%d;", id, i)))
				}
				w.End()
			}
			if delay == 0 {
				answer()
				return
			}
			w.Park()
			time.AfterFunc(delay, answer)
		})
	})
	const conns, perConn = 4, 40
	type want struct {
		method, body string
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for ci := range conns {
		var reqs strings.Builder
		var wants []want
		for i := range perConn {
			id := fmt.Sprintf("c%dr%d", ci, i)
			d := time.Duration(rng.IntN(4)) * time.Duration(rng.IntN(15)) * time.Millisecond
			chunks := 0
			if rng.IntN(3) == 0 {
				chunks = 1 + rng.IntN(4)
			}
			method := "GET"
			if rng.IntN(6) == 0 {
				method = "HEAD"
			}
			reqs.WriteString(testkit.Req(method, fmt.Sprintf("/r?id=%s&d=%v&chunks=%d", id, d, chunks)))
			body := "body-" + id
			if chunks > 0 {
				body = ""
				for k := range chunks {
					body += fmt.Sprintf("%s.%d;", id, k)
				}
			}
			if method == "HEAD" {
				body = ""
			}
			wants = append(wants, want{method, body})
		}
		c := testkit.Dial(t, s.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Write in random slices so requests straddle reads.
			raw := reqs.String()
			wr := rand.New(rand.NewPCG(seed, uint64(ci)+1))
			go func() {
				for len(raw) > 0 {
					n := min(len(raw), 1+wr.IntN(300))
					if _, err := c.C.Write([]byte(raw[:n])); err != nil {
						return
					}
					raw = raw[n:]
				}
			}()
			for i, w := range wants {
				r, err := c.TryNext(w.method)
				if err != nil {
					errs <- fmt.Errorf("conn %d response %d: %v", ci, i, err)
					return
				}
				if r.Text != w.body {
					errs <- fmt.Errorf("conn %d response %d: body %q; want %q", ci, i, r.Text, w.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHTTPStartedNotParked: a handler that starts a stream and returns
// without End and without Park has its response ended by the server, as
// one that returns without responding gets an empty 200. Otherwise the
// response (and every request pipelined behind it) would hang forever.
func TestHTTPStartedNotParked(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("GET", "/forgot-end", func(w *Stream, _ *Request) {
			w.Start(200, "text/plain")
			w.Write([]byte("partial"))
		})
		s.Handle("GET", "/x", hText("x"))
	})
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("GET", "/forgot-end") + testkit.Req("GET", "/x"))
	if r := c.Next("GET"); r.Text != "partial" {
		t.Fatalf("forgot-end = %q", r.Text)
	}
	if r := c.Next("GET"); r.Text != "x" {
		t.Fatalf("next = %q", r.Text)
	}
}

// TestHTTPPipelineFloodParked: a client pipelines 10,000 requests to a
// handler that parks (never answers) and does not read. At most
// MaxPipelined of them are served; the rest wait in the inbound buffer
// until it passes MaxInbound, and then the connection is closed.
func TestHTTPPipelineFloodParked(t *testing.T) {
	var handled atomic.Int64
	var mu sync.Mutex
	var parked []*Stream
	const maxInbound = 64 << 10
	s := hStart(t, Config{MaxPipelined: 4, MaxInbound: maxInbound}, func(s *Server) {
		s.Handle("GET", "/park", func(w *Stream, _ *Request) {
			handled.Add(1)
			w.Park()
			mu.Lock()
			parked = append(parked, w)
			mu.Unlock()
		})
	})
	c := testkit.Dial(t, s.Addr())
	req := testkit.Req("GET", "/park", "X-Pad: "+strings.Repeat("p", 40))
	all := strings.Repeat(req, 10000)
	t.Logf("pipelining %d bytes", len(all))
	werr := make(chan error, 1)
	go func() {
		_, err := c.C.Write([]byte(all))
		werr <- err
	}()
	c.ExpectEOF(testkit.Timeout)
	if err := testkit.Recv(t, werr, "writer"); err == nil {
		// The kernel may have taken it all (socket buffers); that is fine
		// as long as the server did not.
		t.Logf("all bytes written before the close")
	}
	if n := handled.Load(); n > 4 {
		t.Fatalf("%d requests dispatched; MaxPipelined is 4", n)
	}
	if st := s.Stats(); st.Requests > 4 {
		t.Fatalf("stats: %d requests parsed; MaxPipelined is 4", st.Requests)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range parked {
		select {
		case <-w.Done():
		case <-time.After(testkit.Timeout):
			t.Fatal("parked stream not told of the close")
		}
	}
}

// TestHTTPPipelineFloodNoRead: 10,000 pipelined requests answered at once,
// by a worker and from memory on the loop, to a client that never reads:
// the responses pile up in the outbound queue until MaxOutbound closes the
// connection. Nothing buffers all 10,000 responses.
func TestHTTPPipelineFloodNoRead(t *testing.T) {
	big := strings.Repeat("b", 16<<10)
	const maxOut = 256 << 10
	s := hStart(t, Config{MaxOutbound: maxOut, Static: fstest.MapFS{"big.txt": {Data: []byte(big)}}}, func(s *Server) {
		s.Handle("GET", "/w", func(w *Stream, _ *Request) { w.Respond(200, "text/plain", []byte(big)) })
	})
	for _, path := range []string{"/w", "/big.txt"} {
		t.Run(path, func(t *testing.T) {
			before := s.Stats().SlowClosed
			c := testkit.Dial(t, s.Addr())
			// 16 KiB per response, 10,000 responses: 160 MB if buffered.
			all := strings.Repeat(testkit.Req("GET", path), 10000)
			grow := testkit.HeapGrowth(func() {
				go c.C.Write([]byte(all))
				testkit.Eventually(t, "the slow reader to be closed", func() bool { return s.Stats().SlowClosed > before })
			})
			if grow > 32<<20 {
				t.Errorf("heap in use grew by %d MB during the flood", grow>>20)
			}
		})
	}
}

// TestHTTPWorkerQueueFull: when every worker is busy and the queue is full,
// the next request is answered 503 at once: while the worker is still held
// (it is released only when the test ends), so the answer did not wait for
// it.
func TestHTTPWorkerQueueFull(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	s := hStart(t, Config{Workers: 1, WorkQueue: 1}, func(s *Server) {
		s.Handle("GET", "/block", func(w *Stream, _ *Request) {
			started <- struct{}{}
			<-release
			w.Respond(200, "text/plain", []byte("done"))
		})
	})
	defer close(release)
	busy := testkit.Dial(t, s.Addr())
	busy.Send(testkit.Req("GET", "/block"))
	testkit.Recv(t, started, "the worker to be busy")
	queued := testkit.Dial(t, s.Addr())
	queued.Send(testkit.Req("GET", "/block")) // fills the queue of 1
	testkit.Eventually(t, "the queue to fill", func() bool { return len(s.workers.jobs) == 1 })
	c := testkit.Dial(t, s.Addr())
	r := c.Get("/block")
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("overloaded: %d %v", r.StatusCode, r.Header)
	}
	if st := s.Stats(); st.Overloaded != 1 {
		t.Fatalf("overloaded_503 = %d", st.Overloaded)
	}
	if r := c.Get("/debug/stats"); r.StatusCode != 503 {
		// Still overloaded: the stats handler needs a worker too.
		t.Fatalf("stats while overloaded: %d", r.StatusCode)
	}
}
