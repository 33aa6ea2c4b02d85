package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHTTPSlowReaderClosed: a handler streams, from a goroutine pacing its
// writes, to a peer that has stopped reading. Once the bytes queued for it
// pass MaxOutbound the connection is closed, the handler's Write fails with
// ErrClosed and Done is closed, the stats count it once, and the heap stays
// bounded meanwhile.
func TestHTTPSlowReaderClosed(t *testing.T) {
	const maxOut = 256 << 10
	chunk := []byte(strings.Repeat("c", 16<<10))
	type result struct {
		written int64
		err     error
	}
	res := make(chan result, 1)
	s := hStart(t, Config{MaxOutbound: maxOut}, func(s *Server) {
		s.Handle("GET", "/firehose", func(w *Stream, _ *Request) {
			w.Start(200, "application/octet-stream")
			w.Park()
			go func() {
				var n int64
				for {
					k, err := w.Write(chunk)
					n += int64(k)
					if err != nil {
						<-w.Done()
						res <- result{n, err}
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
		})
	})
	var r result
	grow := testkit.HeapGrowth(func() {
		c := testkit.DialSmallRcvbuf(t, s.Addr(), 4<<10)
		c.Send(testkit.Req("GET", "/firehose")) // and never read
		r = testkit.Recv(t, res, "the slow reader to be cut off")
		testkit.Eventually(t, "the connection to close", func() bool { return s.Stats().OpenConnections == 0 })
	})
	if !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Write error = %v; want ErrClosed", r.err)
	}
	if st := s.Stats(); st.SlowClosed != 1 {
		t.Fatalf("stats: slow_readers_closed %d; want 1", st.SlowClosed)
	}
	t.Logf("handler wrote %d KiB before the close; heap in use grew by at most %d KiB", r.written>>10, grow>>10)
	if grow > 16<<20 {
		t.Fatalf("heap grew by %d MiB for a %d KiB outbound cap", grow>>20, maxOut>>10)
	}
}

// TestHTTPStreamProducerBounded: a producer writing in a tight loop while
// the event loop lags (here: is held) is stopped once MaxOutbound bytes wait
// in the loop's inbox, instead of queueing without bound; the connection is
// then closed as a slow reader's would be.
func TestHTTPStreamProducerBounded(t *testing.T) {
	const maxOut = 256 << 10
	chunk := []byte(strings.Repeat("f", 16<<10))
	streams := make(chan *Stream, 1)
	s := hStart(t, Config{Loops: 1, MaxOutbound: maxOut}, func(s *Server) {
		s.Handle("GET", "/firehose", func(w *Stream, _ *Request) {
			w.Start(200, "application/octet-stream")
			w.Park()
			streams <- w
		})
	})
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("GET", "/firehose"))
	w := testkit.Recv(t, streams, "the stream")
	b := testkit.NewHold()
	s.Loops()[0].Post(b, 0)
	testkit.Recv(t, b.Entered, "the loop to be held")
	var written int64
	var err error
	for written < 64<<20 { // a safety valve for when the bound is missing
		var k int
		if k, err = w.Write(chunk); err != nil {
			break
		}
		written += int64(k)
	}
	b.Release()
	if !errors.Is(err, ErrClosed) || written > maxOut {
		t.Fatalf("wrote %d KiB into a held loop (cap %d KiB), then %v; want ErrClosed at the cap", written>>10, maxOut>>10, err)
	}
	testkit.Eventually(t, "the connection to close", func() bool { return s.Stats().OpenConnections == 0 })
	if st := s.Stats(); st.SlowClosed != 1 {
		t.Fatalf("slow_readers_closed = %d; want 1", st.SlowClosed)
	}
}

// TestHTTPDebugStats checks /debug/stats against what one client did.
func TestHTTPDebugStats(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("POST", "/x", hText("x"))
	})
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cr := &countingReader{r: nc}
	c := &testkit.Conn{T: t, C: nc, BR: bufio.NewReader(cr)}
	sent := 0
	for range 3 {
		req := testkit.Req("POST", "/x", "Content-Length: 5") + "hello"
		c.Send(req)
		sent += len(req)
		c.Next("POST")
	}
	statsReq := testkit.Req("GET", "/debug/stats")
	received := cr.n // every byte of the three responses, nothing more
	c.Send(statsReq)
	sent += len(statsReq)
	r := c.Next("GET")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stats response: %d %v", r.StatusCode, r.Header)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(r.Text), &st); err != nil {
		t.Fatalf("stats JSON: %v\n%s", err, r.Text)
	}
	num := func(k string) int64 {
		v, ok := st[k].(float64)
		if !ok {
			t.Fatalf("stats field %q missing or not a number in %s", k, r.Text)
		}
		return int64(v)
	}
	for _, check := range []struct {
		field string
		want  int64
	}{
		{"open_connections", 1},
		{"accepted", 1},
		{"requests", 4},
		{"responses", 3},
		{"bytes_in", int64(sent)},
		{"bytes_out", int64(received)},
	} {
		if got := num(check.field); got != check.want {
			t.Errorf("%s = %d; want %d", check.field, got, check.want)
		}
	}
	if g := num("goroutines"); g < 1 {
		t.Errorf("goroutines = %d", g)
	}
	if h := num("heap_alloc_bytes"); h < 1<<10 {
		t.Errorf("heap_alloc_bytes = %d", h)
	}
	if mc := num("max_connections"); mc != int64(s.MaxConns()) || mc < 16 {
		t.Errorf("max_connections = %d", mc)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestHTTPGoroutinesFlat: 2,000 keep-alive connections and 2,000 parked
// streamed responses cost no goroutine each: the count stays within a small
// constant of the baseline. Then every parked stream is written to and
// ended from one goroutine.
func TestHTTPGoroutinesFlat(t *testing.T) {
	const n = 2000
	var mu sync.Mutex
	var parked []*Stream
	s := hStart(t, Config{MaxConnsPerAddr: -1}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
		s.Handle("GET", "/park", func(w *Stream, _ *Request) {
			w.Start(200, "text/plain")
			w.Park()
			mu.Lock()
			parked = append(parked, w)
			mu.Unlock()
		})
	})
	// Warm up: workers, wheel and loops exist; one request of each kind.
	testkit.Get(t, s.Addr(), "/x")
	runtime.GC()
	base := runtime.NumGoroutine()

	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", s.Addr(), testkit.Timeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	keep := make([]*testkit.Conn, n)
	for i := range keep {
		nc := dial()
		keep[i] = &testkit.Conn{T: t, C: nc, BR: bufio.NewReaderSize(nc, 512)}
		keep[i].Send(testkit.Req("GET", "/x"))
	}
	for _, c := range keep {
		if r := c.Next("GET"); r.Text != "x" {
			t.Fatalf("keep-alive: %q", r.Text)
		}
	}
	streams := make([]*testkit.Conn, n)
	for i := range streams {
		nc := dial()
		streams[i] = &testkit.Conn{T: t, C: nc, BR: bufio.NewReaderSize(nc, 512)}
		streams[i].Send(testkit.Req("GET", "/park"))
	}
	testkit.Eventually(t, "every stream to park", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(parked) == n
	})
	if st := s.Stats(); st.OpenConnections != 2*n {
		t.Fatalf("open connections %d; want %d", st.OpenConnections, 2*n)
	}
	got := runtime.NumGoroutine()
	t.Logf("goroutines: %d at baseline, %d with %d connections", base, got, 2*n)
	if got > base+10 {
		t.Fatalf("goroutines grew from %d to %d with %d connections", base, got, 2*n)
	}

	go func() {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range parked {
			w.Write([]byte("tick"))
			w.End()
		}
	}()
	for _, c := range streams {
		if r := c.Next("GET"); r.Text != "tick" {
			t.Fatalf("stream: %q", r.Text)
		}
	}
}

// TestHTTPClockDemo: /demo/clock streams one chunk per second to every
// client from one goroutine, and drops clients that went away.
func TestHTTPClockDemo(t *testing.T) {
	s := hStart(t, Config{}, func(s *Server) { MountClockDemo(s, ClockDemo{}) })
	c := testkit.Dial(t, s.Addr())
	c.Send(testkit.Req("GET", "/demo/clock"))
	resp, err := c.Head("GET")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 1 {
		t.Fatalf("clock: %d TE %v", resp.StatusCode, resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	var stamps []time.Time
	for range 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a tick: %v", err)
		}
		ts, err := time.Parse(time.RFC3339, strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("tick %q: %v", line, err)
		}
		stamps = append(stamps, ts)
	}
	// The stamps have a resolution of one second and a loaded machine may
	// deliver a tick late: only their order and a generous bound are
	// checked, not the period.
	if d := stamps[1].Sub(stamps[0]); d < 0 || d > 30*time.Second {
		t.Fatalf("ticks %v apart; want the second after the first, about 1s later", d)
	}
	// HEAD on the streaming handler: head only, and the connection is
	// usable for the next request.
	h := testkit.Dial(t, s.Addr())
	h.Send(testkit.Req("HEAD", "/demo/clock") + testkit.Req("GET", "/debug/stats"))
	if r := h.Next("HEAD"); r.StatusCode != 200 || r.Text != "" {
		t.Fatalf("HEAD clock: %d %q", r.StatusCode, r.Text)
	}
	if r := h.Next("GET"); r.StatusCode != 200 {
		t.Fatalf("after HEAD: %d", r.StatusCode)
	}
}
