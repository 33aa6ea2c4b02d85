package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHardeningSlowloris: 1,000 connections each start a request head and
// then trickle one more byte every 100 ms, never finishing it. Every one of
// them is answered 408 and closed at the header timeout counted from its
// first byte (trickling does not extend it), while other clients, on new
// and on kept-alive connections, are served throughout with a latency well
// under that timeout: no slowloris connection holds anything a served
// client waits for. (TestHTTPHeaderTimeoutSlowloris is the one-connection
// version.)
func TestHardeningSlowloris(t *testing.T) {
	const headerTimeout = 2 * time.Second
	n := testkit.Scale(1000, 1000)
	s := hStart(t, Config{HeaderTimeout: headerTimeout, IdleTimeout: time.Minute, MaxConnsPerAddr: -1}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
	})
	before := s.Stats().HeaderTimeouts

	type result struct {
		status  int
		close   bool
		elapsed time.Duration
		err     error
	}
	results := make([]result, n)
	finished := make([]atomic.Bool, n)
	var firstAnswer atomic.Int64 // UnixNano when the first slowloris connection got its 408
	conns := make([]net.Conn, n)
	var readers sync.WaitGroup
	for i := range n {
		c, err := net.DialTimeout("tcp", s.Addr(), testkit.Timeout)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
		start := time.Now()
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: "); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer finished[i].Store(true)
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(headerTimeout + testkit.Timeout))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				results[i].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			firstAnswer.CompareAndSwap(0, time.Now().UnixNano())
			results[i] = result{status: resp.StatusCode, close: resp.Close, elapsed: time.Since(start)}
			if _, err := br.ReadByte(); err == nil {
				results[i].err = fmt.Errorf("bytes after the 408")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				results[i].err = fmt.Errorf("still open after the 408")
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { readers.Wait(); close(allDone) }()

	// The trickle: one byte per connection every 100 ms until it is closed.
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-allDone:
				return
			case <-tick.C:
			}
			for i, c := range conns {
				if !finished[i].Load() {
					c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
					c.Write([]byte{'s'})
				}
			}
		}
	}()

	// Served clients, meanwhile: half on new connections, half kept alive.
	var latMu sync.Mutex
	var lats []time.Duration
	var served, servedDuring atomic.Int64 // servedDuring: answered while every slowloris connection was still held
	goodErr := make(chan error, 4)
	for w := range 4 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			var keep *testkit.Conn
			for {
				select {
				case <-allDone:
					goodErr <- nil
					return
				default:
				}
				t0 := time.Now()
				var body string
				if w%2 == 0 {
					c, err := net.DialTimeout("tcp", s.Addr(), testkit.Timeout)
					if err != nil {
						goodErr <- err
						return
					}
					hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
					io.WriteString(c, testkit.Req("GET", "/x"))
					r, err := hc.TryNext("GET")
					c.Close()
					if err != nil {
						goodErr <- err
						return
					}
					body = r.Text
				} else {
					if keep == nil {
						c, err := net.DialTimeout("tcp", s.Addr(), testkit.Timeout)
						if err != nil {
							goodErr <- err
							return
						}
						defer c.Close()
						keep = &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
					}
					io.WriteString(keep.C, testkit.Req("GET", "/x"))
					r, err := keep.TryNext("GET")
					if err != nil {
						goodErr <- err
						return
					}
					body = r.Text
				}
				d := time.Since(t0)
				if body != "x" {
					goodErr <- fmt.Errorf("served client got %q", body)
					return
				}
				served.Add(1)
				if fa := firstAnswer.Load(); fa == 0 || time.Now().UnixNano() < fa {
					servedDuring.Add(1)
				}
				latMu.Lock()
				lats = append(lats, d)
				latMu.Unlock()
			}
		}()
	}
	select {
	case <-allDone:
	case <-time.After(headerTimeout + 2*testkit.Timeout):
		t.Fatal("slowloris connections still open long after the header timeout")
	}
	for range 4 {
		if err := testkit.Recv(t, goodErr, "a served client to stop"); err != nil {
			t.Fatalf("served client: %v", err)
		}
	}
	bg.Wait()

	var slowest time.Duration
	for i, r := range results {
		if r.err != nil || r.status != http.StatusRequestTimeout || !r.close {
			t.Fatalf("slowloris %d: status %d close=%v err=%v; want 408, close and EOF", i, r.status, r.close, r.err)
		}
		// The lower bound proves trickling is not a request. The upper one
		// only catches a timeout that never fires: a loaded machine under
		// -race may run the wheel and the loops late, so it is generous.
		if r.elapsed < headerTimeout-100*time.Millisecond || r.elapsed > headerTimeout+testkit.Timeout {
			t.Fatalf("slowloris %d closed after %v; want about %v", i, r.elapsed, headerTimeout)
		}
		slowest = max(slowest, r.elapsed)
	}
	if got := s.Stats().HeaderTimeouts - before; got != int64(n) {
		t.Fatalf("header_timeouts grew by %d; want %d", got, n)
	}
	slices.Sort(lats)
	if len(lats) == 0 {
		t.Fatal("no request served meanwhile")
	}
	p50, p99, top := lats[len(lats)/2], lats[len(lats)*99/100], lats[len(lats)-1]
	t.Logf("%d slowloris connections closed with 408 after at most %v; meanwhile %d requests served (%d while every one was held): p50 %v, p99 %v, max %v",
		n, slowest, served.Load(), servedDuring.Load(), p50, p99, top)
	// The server went on serving others while every slowloris connection
	// held its request open: requests were answered before the first of
	// them timed out. Ordering, not a latency bound, so that a machine
	// whose cores are busy elsewhere cannot fail it (the latencies above
	// are logged for the reader).
	if got := servedDuring.Load(); got < 20 {
		t.Fatalf("only %d requests served while the slowloris connections were held (before the first 408)", got)
	}
}

// TestHardeningNonReaders: stream listeners subscribed to one subject, some
// reading and many never reading (a small receive window, nothing read),
// while the server publishes large events to all. The server closes each
// non-reader once the bytes queued for it pass MaxOutbound, its heap stays
// bounded (far below what buffering everything for them would take), and
// every reader receives every event, in order, without a gap.
func TestHardeningNonReaders(t *testing.T) {
	const maxOut = 256 << 10
	const evSize = 64 << 10
	readersN := testkit.Scale(5, 50)
	stallN := testkit.Scale(20, 200)
	events := testkit.Scale(100, 400)
	th := newTestHub(t, HubConfig{Window: 1024}, Config{Loops: 2, MaxOutbound: maxOut})

	listen := func(c net.Conn, id string) {
		fmt.Fprintf(c, "GET /comet?p_event=listen&p_id=%s&p_subject=/big HTTP/1.1\r\nHost: x\r\n\r\n", id)
	}
	var stalled []*Session
	for range stallN {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		c := testkit.DialSmallRcvbuf(t, th.srv.Addr(), 4<<10)
		listen(c.C, s.ID())
		stalled = append(stalled, s)
	}
	// Readers: each counts the events it got, checking their order.
	type reader struct {
		got  atomic.Int64 // data events received, in order
		err  error
		done chan struct{}
	}
	rs := make([]*reader, readersN)
	for i := range rs {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		c := testkit.Dial(t, th.srv.Addr())
		listen(c.C, s.ID())
		r := &reader{done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			resp, err := http.ReadResponse(c.BR, nil)
			if err != nil {
				r.err = err
				return
			}
			br := bufio.NewReaderSize(resp.Body, 4*evSize)
			for r.got.Load() < int64(events) {
				c.C.SetReadDeadline(time.Now().Add(testkit.Timeout))
				line, err := br.ReadSlice('\n')
				if err != nil {
					r.err = fmt.Errorf("after %d events: %w", r.got.Load(), err)
					return
				}
				var ev map[string]string
				if err := json.Unmarshal(line, &ev); err != nil {
					r.err = err
					return
				}
				switch ev["p_event"] {
				case "data":
					if want := strconv.FormatInt(r.got.Load(), 10); ev["i"] != want {
						r.err = fmt.Errorf("event %s; want %s", ev["i"], want)
						return
					}
					r.got.Add(1)
				case "gap":
					r.err = fmt.Errorf("gap after %d events: %v", r.got.Load(), ev)
					return
				}
			}
		}()
	}
	eventually(t, testkit.Timeout, "every listener attached", func() bool {
		return th.hub.Stats().StreamListeners == int64(readersN+stallN)
	})

	value := strings.Repeat("v", evSize)
	// The heap's peak is what is measured: collect often, so that it shows
	// what is held rather than garbage not yet collected.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	grow := testkit.HeapGrowth(func() {
		for i := range events {
			// Publishers do not wait for readers; this one stays at most 4
			// events (MaxOutbound) ahead of the slowest reader only so that
			// the readers, sharing two cores with everything else under
			// -race, are never the ones found slow.
			for _, r := range rs {
				for r.got.Load() < int64(i-4) {
					select {
					case <-r.done:
						t.Fatalf("reader stopped: %v", r.err)
					case <-time.After(time.Millisecond):
					}
				}
			}
			th.hub.Publish("/big", "i", strconv.Itoa(i), "v", value)
		}
		for _, r := range rs {
			testkit.Recv(t, r.done, "a reader to get every event")
		}
	})
	for i, r := range rs {
		if r.err != nil || r.got.Load() != int64(events) {
			t.Fatalf("reader %d: %d of %d events: %v", i, r.got.Load(), events, r.err)
		}
	}
	eventually(t, testkit.Timeout, "every non-reader closed", func() bool { return th.srv.Stats().SlowClosed == int64(stallN) })
	for i, s := range stalled {
		if s.Listening() {
			t.Fatalf("non-reader %d still has a listener", i)
		}
	}
	if st := th.srv.Stats(); st.SlowClosed != int64(stallN) {
		t.Fatalf("slow_readers_closed = %d; want %d (the readers must not be among them)", st.SlowClosed, stallN)
	}
	all := int64(stallN) * int64(events) * evSize
	t.Logf("%d readers got %d events of %d KiB each; %d non-readers closed; heap grew by at most %d MiB (buffering everything for them: %d MiB)",
		readersN, events, evSize>>10, stallN, grow>>20, all>>20)
	// What must be held: every event, raw and encoded once (the window
	// keeps them all); up to about twice MaxOutbound per listener, queued
	// for it (a non-reader before it is found out); the test's own readers'
	// buffers; plus slack for the runtime and for garbage between
	// collections.
	limit := 2*int64(events)*evSize + int64(stallN+readersN)*2*maxOut + int64(readersN)*4*evSize + 32<<20
	if grow > limit {
		t.Fatalf("heap grew by %d MiB; want under %d MiB", grow>>20, limit>>20)
	}
}

// TestHardeningConnectCycles: cycles of 10,000 connections to a child
// server (the full wiring), all open at once, then all reset at once, as by
// clients that die: some connect only, some send half a request head, some
// a whole request they never read the answer of, some open a Comet stream
// with join-listen (a session each, whose lease is 1 s here). After each
// cycle the child's open files and goroutines return exactly to their
// baseline, its sessions to none, and its heap and resident memory to
// within a bound that does not grow with the cycles: nothing is leaked per
// connection or per session. (Under -race resident memory is only
// bounded: the detector keeps its shadow memory; "make hardening" runs the
// long form without it, where the bound is tight.) The client side holds one cycle's sockets at a
// time (the open-file limit is 20,000 for each process).
func TestHardeningConnectCycles(t *testing.T) {
	cycles, conns := testkit.Scale(3, 10), testkit.Scale(2000, 10_000)
	ch := startHardChild(t, 0, hardServerSessionEnv+"=1s")
	rng := testkit.Rand(t)
	base := ch.figures()
	t.Logf("baseline: %v", base)
	var warm hardFigures
	for cycle := range cycles {
		start := time.Now()
		kinds := make([]int, conns)
		for i := range kinds {
			kinds[i] = rng.IntN(4)
		}
		cs := testkit.DialEach(t, ch.addr, conns, func(i int) string {
			switch kinds[i] {
			case 1:
				return "GET /x HTTP/1.1\r\nHost: t\r\nX-Half: "
			case 2:
				return testkit.Req("GET", "/x")
			case 3:
				return testkit.Req("GET", "/comet?p_event=join-listen&p_format=json")
			}
			return ""
		})
		held := ch.waitFigures(2*testkit.Timeout, "every connection of the cycle to be open", func(f hardFigures) bool {
			return f.OpenConns == int64(conns)+1 // and the measuring one
		})
		for _, c := range cs {
			testkit.ResetClose(c)
		}
		after := ch.waitFigures(2*testkit.Timeout, "the child to return to its baseline", func(f hardFigures) bool {
			return f.OpenConns == 1 && f.FDs == base.FDs && f.Goroutines <= base.Goroutines && f.Sessions == 0
		})
		t.Logf("cycle %d (%v): held %d connections, %d sessions (%d fds); after: %v", cycle, time.Since(start).Round(time.Millisecond), held.OpenConns-1, held.Sessions, held.FDs, after)
		if cycle == 0 {
			// The first cycle grows pools and maps to their working size.
			warm = after
			continue
		}
		// A leak of even 100 bytes per connection would add 1 MB a cycle.
		if after.HeapInuse > warm.HeapInuse+4<<20 {
			t.Fatalf("cycle %d: heap in use %d MiB after the warm-up cycle's %d MiB", cycle, after.HeapInuse>>20, warm.HeapInuse>>20)
		}
		// Resident memory returns near the warm-up level; under the race
		// detector, whose shadow memory is never given back, it is only
		// bounded.
		limit := warm.RSSKB + warm.RSSKB/4 + 16<<10
		if raceEnabled {
			limit = 2*warm.RSSKB + 64<<10
		}
		if after.RSSKB > limit {
			t.Fatalf("cycle %d: resident memory %d MiB after the warm-up cycle's %d MiB (limit %d MiB)", cycle, after.RSSKB>>10, warm.RSSKB>>10, limit>>10)
		}
	}
	ch.alive()
}

// TestHardeningCapStormComet is TestHTTPCapStorm with the full wiring and
// Comet streams: a child server under "ulimit -n 512" gets three times that
// many connections, each opening a stream (join-listen). Up to the
// connection cap they are served (the stream's first event arrives), the
// rest are answered 503 and closed, the server keeps serving, and once the
// clients are gone their sessions expire and its open files return to the
// baseline.
func TestHardeningCapStormComet(t *testing.T) {
	const nofile = 512
	ch := startHardChild(t, nofile, hardServerSessionEnv+"=1s")
	base := ch.figures()
	n := 3 * nofile
	conns := make([]*testkit.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			testkit.ResetClose(c.C)
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, &testkit.Conn{T: t, C: c, BR: bufio.NewReaderSize(c, 1024)})
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c := conns[i]
				if _, err := io.WriteString(c.C, testkit.Req("GET", "/comet?p_event=join-listen&p_format=json")); err != nil {
					continue // refused and already reset
				}
				resp, err := c.Head("GET")
				if err != nil {
					continue
				}
				statuses[i] = resp.StatusCode
				if resp.StatusCode == 200 {
					// The stream is live: its first event arrives.
					line, err := bufio.NewReader(resp.Body).ReadString('\n')
					if err != nil || !strings.Contains(line, `"join-listen-ack"`) {
						statuses[i] = -1
					}
				}
			}
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	t.Logf("cap %d; storm of %d streams: statuses %v (0: reset without an answer)", ch.max, n, count)
	if count[200] == 0 || count[200] > ch.max || count[503] == 0 || count[200]+count[503]+count[0] != n {
		t.Fatalf("statuses %v; want 1..%d streams served, the others 503 (or reset)", count, ch.max)
	}
	ch.alive()
	for _, c := range conns {
		testkit.ResetClose(c.C)
	}
	conns = nil
	// Served again once the storm is over, and back to the baseline.
	testkit.Eventually(t, "a new connection to be served after the storm", func() bool {
		c, err := net.DialTimeout("tcp", ch.addr, testkit.Timeout)
		if err != nil {
			return false
		}
		defer c.Close()
		hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
		io.WriteString(c, testkit.Req("GET", "/x"))
		r, err := hc.TryNext("GET")
		return err == nil && r.StatusCode == 200 && r.Text == "x"
	})
	after := ch.waitFigures(2*testkit.Timeout, "the sessions to expire and the open files to return to the baseline", func(f hardFigures) bool {
		return f.Sessions == 0 && f.FDs == base.FDs && f.OpenConns == 1
	})
	t.Logf("baseline %v; after %v", base, after)
	ch.alive()
}
