package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
)

// The hostile-client tests: what one client may cost the server (a loop's
// time, memory per connection and per session, connections per address).
// docs/SECURITY.md lists them with what each proves.

// hostileFormPost returns a form POST to /comet whose body is the largest
// allowed (httpcodec.DefaultMaxBodyBytes) made of distinct empty names.
func hostileFormPost() string {
	body := hostileForm(httpcodec.DefaultMaxBodyBytes)
	body = body[:strings.LastIndexByte(body[:httpcodec.DefaultMaxBodyBytes], '&')+1]
	return "POST /comet HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestHardeningHostileParams: one client pipelines the largest allowed
// bodies of distinct parameter names to a server with a single event loop;
// each is answered 400 at the parameter cap, and another client's join on
// the same loop is answered while the hostile client still has requests
// waiting. (Before the cap, reading the parameters of one such body took
// the loop about 100 s.)
func TestHardeningHostileParams(t *testing.T) {
	th := newTestHub(t, HubConfig{}, Config{Loops: 1})
	hostile := hostileFormPost()
	total := hardScale(32, 256) // requests the hostile client pipelines (1 MiB each)

	hc, err := net.Dial("tcp", th.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	stop := make(chan struct{})
	var written atomic.Int64
	writerDone := make(chan struct{})
	go func() { // the hostile writer: as fast as the server reads
		defer close(writerDone)
		for range total {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := io.WriteString(hc, hostile); err != nil {
				return
			}
			written.Add(1)
		}
	}()
	var answered atomic.Int64
	var done atomic.Bool // the test is over: the reader's error is ours
	bad := make(chan string, 1)
	go func() { // the hostile reader: every answer must be the cap's 400
		br := bufio.NewReader(hc)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if !done.Load() {
					bad <- "reading answer " + strconv.Itoa(int(answered.Load())+1) + ": " + err.Error()
				}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Too many parameters (at most 64)") {
				bad <- "answer " + strconv.Itoa(int(answered.Load())+1) + ": " + resp.Status + " " + string(b)
				return
			}
			answered.Add(1)
		}
	}()

	// Once the server has the first hostile request, another client joins.
	hEventually(t, "the first hostile request to arrive", func() bool { return th.srv.stats.requests.Load() >= 1 })
	other := hDial(t, th.srv.Addr())
	other.send(hReq("GET", "/comet?p_event=join&p_format=json"))
	// A deadline for a stuck loop only: the answer takes a loop turn.
	other.c.SetReadDeadline(time.Now().Add(2 * DefaultHeaderTimeout))
	resp, err := http.ReadResponse(other.br, nil)
	if err != nil {
		t.Fatalf("another client's join was not answered while the hostile bodies were read: %v (hostile answers so far: %d)", err, answered.Load())
	}
	b, _ := io.ReadAll(resp.Body)
	seen := answered.Load()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "join-ack") {
		t.Fatalf("join: %s %q", resp.Status, b)
	}
	if seen >= int64(total) {
		t.Errorf("the join was answered after all %d hostile requests; want it answered while they were still pipelined", total)
	}
	t.Logf("the join was answered after %d of %d hostile requests", seen, total)
	close(stop)
	<-writerDone
	deadline := time.Now().Add(2 * DefaultHeaderTimeout)
	for answered.Load() < written.Load() {
		select {
		case msg := <-bad:
			t.Fatal(msg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d hostile requests written answered", answered.Load(), written.Load())
		}
		time.Sleep(time.Millisecond)
	}
	done.Store(true)
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
}

// TestHardeningPartialBodies: connections that each hold a request whose
// 1 MiB body lacks its last byte cost the server about that request's
// size each, and nothing once they are gone. (Before, gnet's whole buffer
// was peeked and copied again on every read: 4–6 MB a connection.)
func TestHardeningPartialBodies(t *testing.T) {
	n := hardScale(48, 300)
	ch := startHardChild(t, 0, hardServerHeaderEnv+"=10m")
	body := bytes.Repeat([]byte("x"), httpcodec.DefaultMaxBodyBytes-1)
	head := []byte("POST /comet HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(httpcodec.DefaultMaxBodyBytes) + "\r\n\r\n")
	size := int64(len(head) + len(body))
	base := ch.figures()
	measured := 0 // requests of the measuring connection after base, counted in BytesIn
	measLen := int64(len(hReq("GET", "/hardening/figures")))

	cs := make([]net.Conn, n)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := w; i < n; i += 8 {
				c, err := net.DialTimeout("tcp", ch.addr, hTimeout)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				cs[i] = c
				if _, err := c.Write(head); err != nil {
					errs <- fmt.Errorf("write %d: %w", i, err)
					return
				}
				if _, err := c.Write(body); err != nil {
					errs <- fmt.Errorf("write %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := hRecv(t, errs, "the writers"); err != nil {
			t.Fatal(err)
		}
	}
	held := ch.waitFigures(4*hTimeout, "the server to receive every partial request", func(f hardFigures) bool {
		measured++
		return f.OpenConns == int64(n)+1 && f.BytesIn-base.BytesIn-int64(measured)*measLen >= int64(n)*size
	})
	per := (int64(held.HeapInuse) - int64(base.HeapInuse)) / int64(n)
	t.Logf("%d connections holding %d bytes each: heap %d MiB → %d MiB, %d KiB a connection (%.2f× the request)",
		n, size, base.HeapInuse>>20, held.HeapInuse>>20, per>>10, float64(per)/float64(size))
	// appendIn keeps a held request within about 1.25 times its size.
	if limit := size + size/2; per > limit {
		t.Errorf("%d KiB of heap a connection; want at most %d KiB (1.5× the request)", per>>10, limit>>10)
	}
	for _, c := range cs {
		resetClose(c)
	}
	after := ch.waitFigures(2*hTimeout, "the connections to go", func(f hardFigures) bool { return f.OpenConns == 1 })
	t.Logf("after: %v", after)
	if after.HeapInuse > base.HeapInuse+8<<20 {
		t.Errorf("heap in use %d MiB after the connections went; %d MiB before them", after.HeapInuse>>20, base.HeapInuse>>20)
	}
	ch.alive()
}

// BenchmarkTrickledBody: a body sent in 4 KiB pieces, each read by the
// server on its own, costs it time linear in the body's size (the ratio of
// the two sizes' ns/op is about 4; it grew with the square before, as
// every read copied everything buffered again).
func BenchmarkTrickledBody(b *testing.B) {
	const piece = 4 << 10
	for _, size := range []int{256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s := hStart(b, Config{Loops: 1}, func(s *Server) { s.Handle("POST", "/x", hText("x")) })
			c := hDial(b, s.Addr())
			head := "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
			chunk := bytes.Repeat([]byte("x"), piece)
			b.SetBytes(int64(size))
			for b.Loop() {
				sent := s.stats.bytesIn.Load()
				c.send(head)
				for left := size; left > 0; left -= piece {
					if _, err := c.c.Write(chunk[:min(piece, left)]); err != nil {
						b.Fatal(err)
					}
					sent += int64(min(piece, left))
					// One read per piece: wait for the server to take it.
					for s.stats.bytesIn.Load() < sent {
						runtime.Gosched()
					}
				}
				if r := c.next("POST"); r.body != "x" {
					b.Fatalf("answer %q", r.body)
				}
			}
		})
	}
}

// dialFrom connects to addr from the local address from ("127.0.0.2":
// Linux answers the whole 127.0.0.0/8 on loopback).
func dialFrom(t testing.TB, from, addr string) *hConn {
	t.Helper()
	d := net.Dialer{Timeout: hTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return &hConn{t: t, c: c, br: bufio.NewReader(c)}
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
	held := make([]*hConn, limit)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.1", s.Addr())
		if r := held[i].get("/x"); r.body != "x" {
			t.Fatalf("connection %d: %d %q", i, r.StatusCode, r.body)
		}
	}
	extra := hardScale(10, 1000)
	for i := range extra {
		c := dialFrom(t, "127.0.0.1", s.Addr())
		r := c.next("GET") // answered at once, before any request
		if r.StatusCode != http.StatusServiceUnavailable || r.body != "too many connections from this address\n" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("connection %d past the cap: %d %q", limit+i+1, r.StatusCode, r.body)
		}
		c.expectEOF(hTimeout)
		c.c.Close()
	}
	if r := dialFrom(t, "127.0.0.2", s.Addr()).get("/x"); r.body != "x" {
		t.Fatalf("another address: %d %q", r.StatusCode, r.body)
	}
	if st := s.Stats(); st.RefusedPerAddr != int64(extra) || st.Refused != 0 {
		t.Errorf("refused per address %d, at the global cap %d; want %d, 0", st.RefusedPerAddr, st.Refused, extra)
	}
	held[0].c.Close()
	hEventually(t, "the server to see a connection close", func() bool { return s.conns.Load() == int64(limit) })
	if r := dialFrom(t, "127.0.0.1", s.Addr()).get("/x"); r.body != "x" {
		t.Fatalf("after a close: %d %q", r.StatusCode, r.body)
	}
}

// TestAddrKey: IPv4 addresses count apart, IPv6 ones by /64, and an
// IPv4-mapped IPv6 address as its IPv4 address.
func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8:0:7::1", "2001:db8:0:7:8000::"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"fe80::1%eth0", "fe80::2%eth1"},
	} {
		if ka, kb := addrKey(netip.MustParseAddr(tc.a)), addrKey(netip.MustParseAddr(tc.b)); ka != kb {
			t.Errorf("addrKey(%s) = %v, addrKey(%s) = %v; want one key", tc.a, ka, tc.b, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8:0:1::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"::1", "::2:0:0:0:1"},
	} {
		if ka, kb := addrKey(netip.MustParseAddr(tc.a)), addrKey(netip.MustParseAddr(tc.b)); ka == kb {
			t.Errorf("addrKey(%s) = addrKey(%s) = %v; want two keys", tc.a, tc.b, ka)
		}
	}
}

// TestSessionsPerAddrIPv6: the sessions of an IPv6 /64 count together
// against MaxSessionsPerAddr; another /64 has its own.
func TestSessionsPerAddrIPv6(t *testing.T) {
	th := newTestHub(t, HubConfig{MaxSessionsPerAddr: 3})
	for i := range 3 {
		if _, err := th.hub.newSession(FormatJSON, netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if _, err := th.hub.newSession(FormatJSON, netip.MustParseAddr("2001:db8::ffff:1")); err != ErrTooManySessionsFromAddr {
		t.Fatalf("a fourth session from the /64: %v; want %v", err, ErrTooManySessionsFromAddr)
	}
	s, err := th.hub.newSession(FormatJSON, netip.MustParseAddr("2001:db8:0:1::1"))
	if err != nil {
		t.Fatalf("another /64: %v", err)
	}
	s.stop(ReasonLeave)
}
