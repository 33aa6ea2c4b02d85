package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// The hostile-client tests: what one client may cost the server (a loop's
// time, memory per connection and per session, connections per address).
// docs/SECURITY.md lists them with what each proves.

// BenchmarkTrickledBody: a body sent in 4 KiB pieces, each read by the
// server on its own, costs it time linear in the body's size (the ratio of
// the two sizes' ns/op is about 4; it grew with the square before, as
// every read copied everything buffered again).
func BenchmarkTrickledBody(b *testing.B) {
	const piece = 4 << 10
	for _, size := range []int{256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s := hStart(b, Config{Loops: 1}, func(s *Server) { s.Handle("POST", "/x", hText("x")) })
			c := testkit.Dial(b, s.Addr())
			head := "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
			chunk := bytes.Repeat([]byte("x"), piece)
			b.SetBytes(int64(size))
			for b.Loop() {
				sent := s.stats.bytesIn.Load()
				c.Send(head)
				for left := size; left > 0; left -= piece {
					if _, err := c.C.Write(chunk[:min(piece, left)]); err != nil {
						b.Fatal(err)
					}
					sent += int64(min(piece, left))
					// One read per piece: wait for the server to take it.
					for s.stats.bytesIn.Load() < sent {
						runtime.Gosched()
					}
				}
				if r := c.Next("POST"); r.Text != "x" {
					b.Fatalf("answer %q", r.Text)
				}
			}
		})
	}
}

// dialFrom connects to addr from the local address from ("127.0.0.2":
// Linux answers the whole 127.0.0.0/8 on loopback).
func dialFrom(t testing.TB, from, addr string) *testkit.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testkit.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
}

// TestHardeningConnsPerAddr: one address holds at most MaxConnsPerAddr
// connections (the default, 256); the next ones are answered 503 with the
// reason and closed, while another address is still served, and a closed
// connection frees a place.
func TestHardeningConnsPerAddr(t *testing.T) {
	s := hStart(t, Config{HeaderTimeout: time.Hour, IdleTimeout: time.Hour}, func(s *Server) {
		s.Handle("GET", "/x", hText("x"))
	})
	limit := s.Config().MaxConnsPerAddr
	if limit != DefaultMaxConnsPerAddr {
		t.Fatalf("MaxConnsPerAddr = %d; want the default %d", limit, DefaultMaxConnsPerAddr)
	}
	held := make([]*testkit.Conn, limit)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.1", s.Addr())
		if r := held[i].Get("/x"); r.Text != "x" {
			t.Fatalf("connection %d: %d %q", i, r.StatusCode, r.Text)
		}
	}
	extra := testkit.Scale(10, 1000)
	for i := range extra {
		c := dialFrom(t, "127.0.0.1", s.Addr())
		r := c.Next("GET") // answered at once, before any request
		if r.StatusCode != http.StatusServiceUnavailable || r.Text != "too many connections from this address\n" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("connection %d past the cap: %d %q", limit+i+1, r.StatusCode, r.Text)
		}
		c.ExpectEOF(testkit.Timeout)
		c.C.Close()
	}
	if r := dialFrom(t, "127.0.0.2", s.Addr()).Get("/x"); r.Text != "x" {
		t.Fatalf("another address: %d %q", r.StatusCode, r.Text)
	}
	if st := s.Stats(); st.RefusedPerAddr != int64(extra) || st.Refused != 0 {
		t.Errorf("refused per address %d, at the global cap %d; want %d, 0", st.RefusedPerAddr, st.Refused, extra)
	}
	held[0].C.Close()
	testkit.Eventually(t, "the server to see a connection close", func() bool { return s.conns.Load() == int64(limit) })
	if r := dialFrom(t, "127.0.0.1", s.Addr()).Get("/x"); r.Text != "x" {
		t.Fatalf("after a close: %d %q", r.StatusCode, r.Text)
	}
}
