package engine

// Helpers of the HTTP-layer tests (http_*_test.go). Every test talks to a
// real server over loopback sockets; where framing matters it writes raw
// bytes with net.Dial and parses the answer with net/http's ReadResponse,
// an independent parser, so that a framing mistake of ours cannot hide
// behind a matching mistake in a client of ours.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hTimeout bounds every wait of these tests: far above anything the server
// should take, far below the test binary's timeout.
const hTimeout = 10 * time.Second

// hLogger discards the server's logs unless HTTPTEST_LOG is set, in which
// case they go to stderr at debug level. (t.Log is not used: a loop may log
// after the test that started it has returned.)
func hLogger() *slog.Logger {
	if os.Getenv("HTTPTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// hStart starts a server on 127.0.0.1:0 with cfg (Addr and Logger filled in,
// two loops unless set) after running setup on it, and shuts it down in
// t.Cleanup. Clients dialled later with hDial are closed before it.
func hStart(t testing.TB, cfg Config, setup func(*Server)) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = hLogger()
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// hConn is a raw client connection.
type hConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// hDial connects to addr; the connection is closed in t.Cleanup.
func hDial(t testing.TB, addr string) *hConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &hConn{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes s, failing the test on error.
func (c *hConn) send(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(hTimeout))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// hResp is a response read back from the wire.
type hResp struct {
	*http.Response
	body string
}

// next reads one complete response to a request of the given method ("HEAD"
// reads no body), failing the test on any framing error.
func (c *hConn) next(method string) *hResp {
	c.t.Helper()
	r, err := c.tryNext(method)
	if err != nil {
		c.t.Fatalf("reading response to %s: %v", method, err)
	}
	return r
}

func (c *hConn) tryNext(method string) (*hResp, error) {
	resp, err := c.head(method)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return &hResp{Response: resp, body: string(b)}, nil
}

// head reads the head of a response; its Body streams the rest.
func (c *hConn) head(method string) (*http.Response, error) {
	c.c.SetReadDeadline(time.Now().Add(hTimeout))
	return http.ReadResponse(c.br, &http.Request{Method: method})
}

// get sends a minimal HTTP/1.1 GET and reads the response.
func (c *hConn) get(path string) *hResp {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
	return c.next("GET")
}

// expectEOF reads until the server closes, failing on a timeout or on bytes
// other than those allowed (a reset after a clean response counts as closed).
func (c *hConn) expectEOF(within time.Duration) {
	c.t.Helper()
	if err := c.waitEOF(within); err != nil {
		c.t.Fatal(err)
	}
}

func (c *hConn) waitEOF(within time.Duration) error {
	c.c.SetReadDeadline(time.Now().Add(within))
	n, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("connection still open after %v", within)
	case n > 0:
		return fmt.Errorf("%d unexpected bytes before close", n)
	}
	return nil
}

// expectOpen checks that the connection neither closes nor sends anything
// for d.
func (c *hConn) expectOpen(d time.Duration) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	b, err := c.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("connection not quietly open for %v: read %q, %v", d, b, err)
	}
}

// hGet does a GET on a fresh connection and returns status and body.
func hGet(t testing.TB, addr, path string) *hResp {
	t.Helper()
	c := hDial(t, addr)
	defer c.c.Close()
	return c.get(path)
}

// hEventually polls cond until it holds or hTimeout passes.
func hEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hRecv waits for a value on ch for at most hTimeout.
func hRecv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// hReq builds a request with the given method, target and extra header lines.
func hReq(method, target string, hdrs ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: t\r\n")
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// hText is a handler answering 200 with body.
func hText(body string) Handler {
	return func(w *Stream, _ *Request) {
		w.Respond(http.StatusOK, "text/plain; charset=utf-8", []byte(body))
	}
}

// rawHead reads a response head line by line and returns it verbatim, so
// that tests can see fields ReadResponse consumes (Connection).
func (c *hConn) rawHead() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(hTimeout))
	var b strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			c.t.Fatalf("reading head: %v (so far %q)", err, b.String())
		}
		if line == "\r\n" {
			return b.String()
		}
	}
}

// rest reads everything until the server closes.
func (c *hConn) rest() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(hTimeout))
	b, err := io.ReadAll(c.br)
	if err != nil {
		c.t.Fatalf("reading to EOF: %v (got %q)", err, b)
	}
	return string(b)
}

// hDialSmallRcvbuf dials with a small receive buffer, so that the server's
// responses back up into its own buffers while the client does not read.
func hDialSmallRcvbuf(t testing.TB, addr string, n int) *hConn {
	t.Helper()
	d := net.Dialer{Timeout: hTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &hConn{t: t, c: c, br: bufio.NewReader(c)}
}

// hHeapGrowth runs f and returns by how much the heap in use grew over a
// collected baseline, at its highest while f ran (sampled every 2 ms).
func hHeapGrowth(f func()) int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapInuse)
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapInuse))
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak - base
}
