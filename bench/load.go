package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig describes one run of the load generator.
type LoadConfig struct {
	// Addr is the server, "host:port".
	Addr string
	// Method and Path of every request (default GET /).
	Method, Path string
	// Host is the Host header (default Addr).
	Host string
	// Conns is the number of keep-alive connections (default 1).
	Conns int
	// Pipeline is the number of requests written at once on a connection
	// before reading their responses (default 1: no pipelining).
	Pipeline int
	// Duration bounds the measured part of the run; Requests, when set,
	// bounds it by the number of requests instead (one of the two is needed).
	Duration time.Duration
	Requests int64
	// Warmup runs the load for this long before measuring (duration runs only).
	Warmup time.Duration
	// Timeout bounds a connect and a batch (default 5 s); a batch that takes
	// longer is an error and its connection is replaced.
	Timeout time.Duration
}

func (c LoadConfig) withDefaults() (LoadConfig, error) {
	if c.Method == "" {
		c.Method = "GET"
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.Host == "" {
		c.Host = c.Addr
	}
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	switch {
	case c.Addr == "":
		return c, errors.New("bench: no address to load")
	case c.Conns < 0 || c.Pipeline < 0 || c.Requests < 0 || c.Duration < 0 || c.Warmup < 0 || c.Timeout < 0:
		return c, errors.New("bench: negative load setting")
	case c.Duration == 0 && c.Requests == 0:
		return c, errors.New("bench: a load needs a duration or a request count")
	case c.Requests > 0 && c.Warmup > 0:
		return c, errors.New("bench: warmup applies to duration runs only")
	case strings.ContainsAny(c.Method+c.Path+c.Host, " \r\n"):
		return c, errors.New("bench: method, path and host must not contain spaces or line breaks")
	}
	return c, nil
}

// request returns the bytes of one request.
func (c LoadConfig) request() []byte {
	return []byte(c.Method + " " + c.Path + " HTTP/1.1\r\nHost: " + c.Host + "\r\nUser-Agent: cometplay-bench\r\n\r\n")
}

// LoadResult is the outcome of a load run.
type LoadResult struct {
	Config LoadConfig
	// Elapsed is the measured time: from the end of the warmup until the
	// last connection finished its last batch.
	Elapsed time.Duration
	// Requests counts the responses received in the measured time.
	Requests int64
	// Status counts them by class: Status[2] is 2xx, and so on.
	Status [6]int64
	// Errors counts requests that got no response (connect, write, read or
	// parse errors, timeouts, a connection closed early), warmup included;
	// ErrorSample holds the first few messages.
	Errors      int64
	ErrorSample []string
	// Reconnects counts connections replaced after an error or a close.
	Reconnects int64
	// BytesIn counts response bytes on the wire.
	BytesIn int64
	// Latency holds one sample per batch: the time from writing the batch
	// of Pipeline requests to reading its last response. With Pipeline 1
	// that is the latency of each request.
	Latency Histogram
}

// RPS returns the responses per second of the measured time.
func (r *LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Non2xx returns the responses whose status is not 2xx.
func (r *LoadResult) Non2xx() int64 {
	var n int64
	for i, c := range r.Status {
		if i != 2 {
			n += c
		}
	}
	return n
}

// String formats the result on a few lines.
func (r *LoadResult) String() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "%s %s%s  conns=%d pipeline=%d\n", c.Method, c.Addr, c.Path, c.Conns, c.Pipeline)
	fmt.Fprintf(&b, "  %d responses in %v: %.0f req/s, %.1f MB/s in\n", r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS(), float64(r.BytesIn)/r.Elapsed.Seconds()/1e6)
	unit := "request"
	if c.Pipeline > 1 {
		unit = fmt.Sprintf("batch of %d", c.Pipeline)
	}
	h := &r.Latency
	fmt.Fprintf(&b, "  latency per %s: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (mean %v, %d samples)\n", unit,
		fmtDur(h.Quantile(0.5)), fmtDur(h.Quantile(0.9)), fmtDur(h.Quantile(0.99)), fmtDur(h.Quantile(0.999)), fmtDur(h.Max()), fmtDur(h.Mean()), h.Count())
	fmt.Fprintf(&b, "  errors %d  non-2xx %d  reconnects %d\n", r.Errors, r.Non2xx(), r.Reconnects)
	for _, e := range r.ErrorSample {
		fmt.Fprintf(&b, "    error: %s\n", e)
	}
	return b.String()
}

// maxErrorSample bounds LoadResult.ErrorSample.
const maxErrorSample = 5

// RunLoad runs the load described by cfg and returns what it measured. It
// stops early, with the results so far, when ctx ends. An error means the
// load could not run at all (a bad configuration); failures of single
// requests are counted in the result.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r := &run{cfg: cfg, req: cfg.request(), remaining: cfg.Requests}
	start := time.Now()
	r.measureFrom = start.Add(cfg.Warmup)
	if cfg.Duration > 0 {
		r.stopAt = r.measureFrom.Add(cfg.Duration)
	}
	workers := make([]*worker, cfg.Conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{run: r}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	// Unblock workers waiting on a server when ctx ends.
	stopWatch := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			w.interrupt()
		}
	})
	wg.Wait()
	stopWatch()
	end := time.Now()

	res := &LoadResult{Config: cfg, Elapsed: end.Sub(r.measureFrom)}
	if res.Elapsed < 0 {
		res.Elapsed = 0
	}
	for _, w := range workers {
		res.Requests += w.requests
		res.Errors += w.errors
		res.Reconnects += w.reconnects
		res.BytesIn += w.bytesIn
		for i := range res.Status {
			res.Status[i] += w.status[i]
		}
		res.Latency.Merge(&w.hist)
	}
	r.errMu.Lock()
	res.ErrorSample = r.errSample
	r.errMu.Unlock()
	return res, nil
}

// run is the state shared by a load run's workers.
type run struct {
	cfg         LoadConfig
	req         []byte
	measureFrom time.Time
	stopAt      time.Time // zero for a request-count run

	remaining int64 // requests left to send in a request-count run (atomic)

	errMu     sync.Mutex
	errSample []string
}

// take reserves up to n requests of a request-count run; 0 means done.
func (r *run) take(n int64) int64 {
	for {
		left := atomic.LoadInt64(&r.remaining)
		if left <= 0 {
			return 0
		}
		k := min(n, left)
		if atomic.CompareAndSwapInt64(&r.remaining, left, left-k) {
			return k
		}
	}
}

func (r *run) noteError(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errSample) < maxErrorSample {
		r.errSample = append(r.errSample, err.Error())
	}
}

// worker drives one connection. Its counters are its own until the run ends.
type worker struct {
	run *run

	mu   sync.Mutex // guards conn for interrupt
	conn net.Conn
	done bool

	rr         *ResponseReader
	hist       Histogram
	requests   int64
	errors     int64
	reconnects int64
	bytesIn    int64
	status     [6]int64
}

// interrupt closes the connection so that a blocked read or write returns.
func (w *worker) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.conn != nil {
		w.conn.Close()
	}
}

func (w *worker) setConn(c net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		if c != nil {
			c.Close()
		}
		return false
	}
	if w.conn != nil {
		w.conn.Close()
	}
	w.conn = c
	return true
}

func (w *worker) loop(ctx context.Context) {
	r := w.run
	cfg := r.cfg
	batch := make([]byte, 0, len(r.req)*cfg.Pipeline)
	for range cfg.Pipeline {
		batch = append(batch, r.req...)
	}
	w.rr = NewResponseReader(nil)
	defer w.setConn(nil)

	var conn net.Conn
	var deadlineSet time.Time
	dialer := net.Dialer{Timeout: cfg.Timeout}
	for ctx.Err() == nil {
		n := int64(cfg.Pipeline)
		if r.stopAt.IsZero() {
			if n = r.take(n); n == 0 {
				return
			}
		} else if !time.Now().Before(r.stopAt) {
			return
		}
		if conn == nil {
			c, err := dialer.DialContext(ctx, "tcp", cfg.Addr)
			if err != nil {
				w.fail(ctx, n, fmt.Errorf("connect: %w", err))
				// Do not spin on a refusing server.
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			if !w.setConn(c) {
				return
			}
			conn = c
			w.rr.Reset(c)
			deadlineSet = time.Time{}
		}
		t0 := time.Now()
		// Deadlines are refreshed only now and then: a timer update per
		// batch would cost more than the requests of a fast server.
		if t0.Sub(deadlineSet) > cfg.Timeout/4 {
			deadlineSet = t0
			if err := conn.SetDeadline(t0.Add(cfg.Timeout)); err != nil {
				conn = w.broken(ctx, n, err)
				continue
			}
		}
		if _, err := conn.Write(batch[:n*int64(len(r.req))]); err != nil {
			conn = w.broken(ctx, n, fmt.Errorf("write: %w", err))
			continue
		}
		measured := !t0.Before(r.measureFrom)
		got := int64(0)
		var rerr error
		closed := false
		for got < n {
			resp, err := w.rr.Next(cfg.Method == "HEAD")
			if err != nil {
				rerr = err
				break
			}
			got++
			if measured {
				w.status[min(resp.Status/100, 5)]++
				w.bytesIn += resp.WireLen
			}
			if resp.Close {
				closed = true
				break
			}
		}
		if measured {
			w.requests += got
			if got == n {
				w.hist.Record(time.Since(t0))
			}
		}
		switch {
		case rerr != nil:
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF // closed with requests unanswered
			}
			conn = w.broken(ctx, n-got, fmt.Errorf("read: %w", rerr))
		case closed:
			if got < n {
				w.fail(ctx, n-got, errors.New("server closed the connection with requests unanswered"))
			}
			conn = w.broken(ctx, 0, nil)
		}
	}
}

// fail counts n requests as failed (unless the run is being cancelled).
func (w *worker) fail(ctx context.Context, n int64, err error) {
	if ctx.Err() != nil || n == 0 {
		return
	}
	w.errors += n
	w.run.noteError(err)
}

// broken drops the connection after an error (counted for n requests) and
// returns nil, the connection to use next.
func (w *worker) broken(ctx context.Context, n int64, err error) net.Conn {
	if err != nil {
		w.fail(ctx, n, err)
	}
	if !w.setConn(nil) {
		return nil
	}
	if ctx.Err() == nil {
		w.reconnects++
	}
	return nil
}
