// Package testkit holds what the tests of several packages share: a raw
// HTTP/1.1 client over loopback sockets, the short and long forms of the
// hardening tests, and a child process of the test binary run as a server.
// It is imported by tests only.
//
// The raw client writes bytes with net.Dial and parses the answers with
// net/http's ReadResponse, an independent parser, so that a framing mistake
// of ours cannot hide behind a matching mistake in a client of ours.
package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/history"
)

// Timeout bounds every wait of these tests: far above anything the server
// should take, far below the test binary's timeout.
const Timeout = 10 * time.Second

// Logger discards the server's logs unless HTTPTEST_LOG is set, in which
// case they go to stderr at debug level. (t.Log is not used: a loop may log
// after the test that started it has returned.)
func Logger() *slog.Logger {
	if os.Getenv("HTTPTEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Conn is a raw client connection.
type Conn struct {
	T  testing.TB
	C  net.Conn
	BR *bufio.Reader
}

// Dial connects to addr; the connection is closed in t.Cleanup.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &Conn{T: t, C: c, BR: bufio.NewReader(c)}
}

// Send writes s, failing the test on error.
func (c *Conn) Send(s string) {
	c.T.Helper()
	c.C.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c.C, s); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// Resp is a response read back from the wire.
type Resp struct {
	*http.Response
	Text string
}

// Next reads one complete response to a request of the given method ("HEAD"
// reads no body), failing the test on any framing error.
func (c *Conn) Next(method string) *Resp {
	c.T.Helper()
	r, err := c.TryNext(method)
	if err != nil {
		c.T.Fatalf("reading response to %s: %v", method, err)
	}
	return r
}

func (c *Conn) TryNext(method string) (*Resp, error) {
	resp, err := c.Head(method)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return &Resp{Response: resp, Text: string(b)}, nil
}

// Head reads the Head of a response; its Body streams the rest.
func (c *Conn) Head(method string) (*http.Response, error) {
	c.C.SetReadDeadline(time.Now().Add(Timeout))
	return http.ReadResponse(c.BR, &http.Request{Method: method})
}

// Get sends a minimal HTTP/1.1 GET and reads the response.
func (c *Conn) Get(path string) *Resp {
	c.T.Helper()
	c.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
	return c.Next("GET")
}

// ExpectEOF reads until the server closes, failing on a timeout or on bytes
// other than those allowed (a reset after a clean response counts as closed).
func (c *Conn) ExpectEOF(within time.Duration) {
	c.T.Helper()
	if err := c.WaitEOF(within); err != nil {
		c.T.Fatal(err)
	}
}

func (c *Conn) WaitEOF(within time.Duration) error {
	c.C.SetReadDeadline(time.Now().Add(within))
	n, err := io.Copy(io.Discard, c.BR)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("connection still open after %v", within)
	case n > 0:
		return fmt.Errorf("%d unexpected bytes before close", n)
	}
	return nil
}

// ExpectOpen checks that the connection neither closes nor sends anything
// for d.
func (c *Conn) ExpectOpen(d time.Duration) {
	c.T.Helper()
	c.C.SetReadDeadline(time.Now().Add(d))
	b, err := c.BR.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.T.Fatalf("connection not quietly open for %v: read %q, %v", d, b, err)
	}
}

// Get does a GET on a fresh connection and returns status and body.
func Get(t testing.TB, addr, path string) *Resp {
	t.Helper()
	c := Dial(t, addr)
	defer c.C.Close()
	return c.Get(path)
}

// Eventually polls cond until it holds or Timeout passes.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Recv waits for a value on ch for at most Timeout.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return RecvWithin(t, Timeout, ch, what)
}

// RecvWithin is Recv with its own bound d: for what a starved machine
// slows down many times (a JetStream leader's election), d is a liveness
// bound, not a measure.
func RecvWithin[T any](t testing.TB, d time.Duration, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// Req builds a request with the given method, target and extra header lines.
func Req(method, target string, hdrs ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: t\r\n")
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// RawHead reads a response head line by line and returns it verbatim, so
// that tests can see fields ReadResponse consumes (Connection).
func (c *Conn) RawHead() string {
	c.T.Helper()
	c.C.SetReadDeadline(time.Now().Add(Timeout))
	var b strings.Builder
	for {
		line, err := c.BR.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			c.T.Fatalf("reading head: %v (so far %q)", err, b.String())
		}
		if line == "\r\n" {
			return b.String()
		}
	}
}

// Rest reads everything until the server closes.
func (c *Conn) Rest() string {
	c.T.Helper()
	c.C.SetReadDeadline(time.Now().Add(Timeout))
	b, err := io.ReadAll(c.BR)
	if err != nil {
		c.T.Fatalf("reading to EOF: %v (got %q)", err, b)
	}
	return string(b)
}

// DialSmallRcvbuf dials with a small receive buffer, so that the server's
// responses back up into its own buffers while the client does not read.
func DialSmallRcvbuf(t testing.TB, addr string, n int) *Conn {
	t.Helper()
	d := net.Dialer{Timeout: Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
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
	return &Conn{T: t, C: c, BR: bufio.NewReader(c)}
}

// LiveHeap returns the bytes of live heap objects after a collection, plus
// the history slabs mapped outside the heap (history.Resident). It
// collects twice: a buffer put back in a sync.Pool survives one collection
// (gnet pools its connections' ring buffers so).
func LiveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) + history.Resident()
}

// HeapGrowth runs f and returns by how much the heap in use (with the
// history slabs mapped outside it) grew over a collected baseline, at its
// highest while f ran (sampled every 2 ms).
func HeapGrowth(f func()) int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapInuse) + history.Resident()
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapInuse)+history.Resident())
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

// Query returns the URL-encoded query of name, value pairs.
func Query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// EventuallyWithin polls cond until it holds, failing the test after d.
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
