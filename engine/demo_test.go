package engine

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// hDialFrom connects to addr from the loopback address local (127.0.0.x:
// another client address on the same machine).
func hDialFrom(t testing.TB, local, addr string) *testkit.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testkit.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
}

// clockStream opens /demo/clock from local and returns the connection and
// the response head; its body streams the ticks.
func clockStream(t *testing.T, local, addr string) (*testkit.Conn, *http.Response) {
	t.Helper()
	c := hDialFrom(t, local, addr)
	c.Send(testkit.Req("GET", "/demo/clock"))
	resp, err := c.Head("GET")
	if err != nil {
		t.Fatalf("clock from %s: %v", local, err)
	}
	return c, resp
}

// TestHTTPClockDemoCaps: the clock streams are capped in all (MaxStreams)
// and per client address (MaxPerAddr): a stream over a cap is answered 503
// with Retry-After and a reason, and a place is free again once a stream
// ends. Each stream ends by itself after Lifetime (a chunked end, then the
// connection serves the next request). Before the caps, 300 clock streams
// of one client kept the server at its connection cap for everyone.
func TestHTTPClockDemoCaps(t *testing.T) {
	const lifetime = 2 * time.Second
	s := hStart(t, Config{}, func(s *Server) {
		MountClockDemo(s, ClockDemo{MaxStreams: 3, MaxPerAddr: 2, Lifetime: lifetime})
	})
	refused := func(local, why string) {
		t.Helper()
		c, resp := clockStream(t, local, s.Addr())
		defer c.C.Close()
		body := make([]byte, 128)
		n, _ := resp.Body.Read(body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body[:n]), why) {
			t.Fatalf("clock from %s: %d Retry-After %q %q; want 503 %q", local, resp.StatusCode, resp.Header.Get("Retry-After"), body[:n], why)
		}
	}
	var open []*testkit.Conn
	for _, local := range []string{"127.0.0.1", "127.0.0.1"} {
		c, resp := clockStream(t, local, s.Addr())
		if resp.StatusCode != 200 {
			t.Fatalf("clock stream %d: %d", len(open), resp.StatusCode)
		}
		open = append(open, c)
	}
	refused("127.0.0.1", "too many clock streams from this address")
	c3, resp := clockStream(t, "127.0.0.2", s.Addr()) // another address: the third in all
	if resp.StatusCode != 200 {
		t.Fatalf("from another address: %d", resp.StatusCode)
	}
	refused("127.0.0.3", "too many clock streams\n")

	// A stream whose client went away frees its place (at the next tick).
	open[0].C.Close()
	for deadline := time.Now().Add(testkit.Timeout); ; time.Sleep(20 * time.Millisecond) { // polled: a tick is a second
		c, resp := clockStream(t, "127.0.0.3", s.Addr())
		if resp.StatusCode == 200 {
			open[0] = c
			break
		}
		c.C.Close()
		if time.Now().After(deadline) {
			t.Fatal("no place freed by a closed stream")
		}
	}

	// Every stream ends after its lifetime: the response is complete, and
	// the connection serves the next request.
	body := bufio.NewReader(resp.Body)
	c3.C.SetReadDeadline(time.Now().Add(lifetime + testkit.Timeout))
	for {
		if _, err := body.ReadString('\n'); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the stream did not end cleanly after its lifetime: %v", err)
			}
			break
		}
	}
	if r := c3.Get("/debug/stats"); r.StatusCode != 200 {
		t.Fatalf("after the clock stream ended: %d", r.StatusCode)
	}
}
