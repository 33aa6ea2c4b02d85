package engine

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// Two servers in one process: B receives the requests and relays those
// under /r/ to A, which serves them (ServeRelayed); what A writes comes
// back through B's Exchange.Relay. This is what the cluster package does
// over NATS, without NATS.

// relayPipe is A's RelayOut for one request: it hands the bytes to B's
// exchange.
type relayPipe struct {
	to    Relay
	ended atomic.Bool
}

func (p *relayPipe) RelayWrite(b []byte) { p.to.Write(append([]byte(nil), b...), false) }
func (p *relayPipe) RelayEnd() {
	p.ended.Store(true)
	p.to.Write(nil, true)
}

// relayGone closes A's connection when B's client goes away.
type relayGone struct{ rc RelayConn }

func (g *relayGone) ExchangeGone(*Exchange) { g.rc.Close() }

type relayPair struct {
	a, b     *Server
	aGone    atomic.Int32 // streams on A whose connection went away
	streamEx atomic.Pointer[Exchange]
	remotes  chan string
}

func startRelayPair(t *testing.T, bcfg Config) *relayPair {
	p := &relayPair{remotes: make(chan string, 16)}
	p.a = hStart(t, Config{}, func(s *Server) {
		s.HandleLoop("/r/", true, func(x *Exchange, req *httpcodec.Request) {
			p.remotes <- x.RemoteAddr().String()
			switch string(req.Path) {
			case "/r/stream":
				if x.Start(200, []string{"Content-Type", "text/plain"}) {
					b, _ := x.StreamBuf()
					mark := len(b)
					b = x.ChunkClose(append(x.ChunkOpen(b), "one"...), mark)
					x.Commit(b)
					x.SetOwner(p)
					p.streamEx.Store(x)
				}
			case "/r/echo":
				x.Respond(200, []string{"Content-Type", "text/plain"}, append([]byte("echo:"), req.Body...))
			default:
				x.Respond(200, []string{"Content-Type", "text/plain"}, []byte("at A "+string(req.Target)))
			}
		})
	})
	p.b = hStart(t, bcfg, func(s *Server) {
		s.HandleLoop("/r/", true, func(x *Exchange, req *httpcodec.Request) {
			raw := httpcodec.AppendRequest(nil, req)
			out := &relayPipe{to: x.Relay()}
			rc := p.a.ServeRelayed(netip.AddrPortFrom(x.RemoteAddr(), 1), raw, out)
			x.SetOwner(&relayGone{rc})
		})
		s.HandleLoop("/local", false, func(x *Exchange, _ *httpcodec.Request) {
			x.Respond(200, []string{"Content-Type", "text/plain"}, []byte("at B"))
		})
	})
	// A's loops are known once it has served a connection.
	if r := testkit.Get(t, p.a.Addr(), "/r/warm"); r.StatusCode != 200 {
		t.Fatalf("warm-up: %d", r.StatusCode)
	}
	<-p.remotes
	return p
}

func (p *relayPair) ExchangeGone(*Exchange) { p.aGone.Add(1) }

// Pipelined requests on one keep-alive connection, some relayed and some
// served by B itself, come back in order, framed as A framed them, and the
// connection stays open.
func TestRelayKeepsOrderAndFraming(t *testing.T) {
	p := startRelayPair(t, Config{})
	c := testkit.Dial(t, p.b.Addr())
	c.Send("GET /r/one HTTP/1.1\r\nHost: t\r\n\r\n" +
		"GET /local HTTP/1.1\r\nHost: t\r\n\r\n" +
		"POST /r/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
		"HEAD /r/two HTTP/1.1\r\nHost: t\r\n\r\n" +
		"GET /r/three HTTP/1.1\r\nHost: t\r\n\r\n")
	for _, want := range []struct{ method, text string }{
		{"GET", "at A /r/one"}, {"GET", "at B"}, {"POST", "echo:hi"}, {"HEAD", ""}, {"GET", "at A /r/three"},
	} {
		r := c.Next(want.method)
		if r.StatusCode != 200 || r.Text != want.text {
			t.Fatalf("%s: %d %q, want 200 %q", want.method, r.StatusCode, r.Text, want.text)
		}
		if r.Close {
			t.Fatalf("%s: the relayed response closes the connection", want.method)
		}
	}
	if got := testkit.Recv(t, p.remotes, "A's handler"); !strings.HasPrefix(got, "127.0.0.1") {
		t.Errorf("A sees the client at %q, want the client's address", got)
	}
	c.ExpectOpen(50 * 1e6)
	testkit.Eventually(t, "A's relayed connections closed", func() bool { return p.a.Stats().RelayedIn == 0 })
	if got := p.b.Stats().RelayedOut; got != 4 {
		t.Errorf("B relayed %d responses, want 4", got)
	}
}

// A relayed stream: the head and the first chunk come through; when the
// client goes away from B, A's exchange is told, as if its own socket had
// closed.
func TestRelayedStreamEndsWithItsClient(t *testing.T) {
	p := startRelayPair(t, Config{})
	c := testkit.Dial(t, p.b.Addr())
	c.Send("GET /r/stream HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := c.Head("GET")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("head: %v %v", resp, err)
	}
	br := bufio.NewReader(resp.Body)
	buf := make([]byte, 3)
	if _, err := br.Read(buf); err != nil || string(buf) != "one" {
		t.Fatalf("first chunk %q, %v", buf, err)
	}
	testkit.Eventually(t, "A's stream open", func() bool { return p.a.Stats().RelayedIn == 1 })
	c.C.Close()
	testkit.Eventually(t, "A's stream told its client went away", func() bool { return p.aGone.Load() == 1 })
	testkit.Eventually(t, "A's relayed connection closed", func() bool { return p.a.Stats().RelayedIn == 0 })
}

// A request A's parser refuses is answered as on a socket, 400, and the
// relayed connection ends.
func TestServeRelayedRefusesBadRequest(t *testing.T) {
	p := startRelayPair(t, Config{})
	got := make(chan string, 1)
	out := &collectOut{done: got}
	p.a.ServeRelayed(netip.MustParseAddrPort("127.0.0.1:9"), []byte("GET /r/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab"), out)
	text := testkit.Recv(t, got, "the answer")
	if !strings.HasPrefix(text, "HTTP/1.1 400 ") || !strings.Contains(text, "Connection: close") {
		t.Fatalf("answer %q, want a 400 that closes", text)
	}
	testkit.Eventually(t, "A's relayed connection closed", func() bool { return p.a.Stats().RelayedIn == 0 })
}

type collectOut struct {
	b    []byte
	done chan string
}

func (o *collectOut) RelayWrite(b []byte) { o.b = append(o.b, b...) }
func (o *collectOut) RelayEnd()           { o.done <- string(o.b) }

// Relay.Do answers locally when the other side never produced anything.
func TestRelayDoAnswersLocally(t *testing.T) {
	b := hStart(t, Config{}, func(s *Server) {
		s.HandleLoop("/gone", false, func(x *Exchange, _ *httpcodec.Request) {
			r := x.Relay()
			go r.Do(func(x *Exchange) { x.Respond(502, textPlain, []byte("no node\n")) })
		})
	})
	c := testkit.Dial(t, b.Addr())
	r := c.Get("/gone")
	if r.StatusCode != 502 || r.Text != "no node\n" {
		t.Fatalf("%d %q", r.StatusCode, r.Text)
	}
	if r2 := c.Get("/gone"); r2.StatusCode != 502 {
		t.Fatalf("second: %d", r2.StatusCode)
	}
}

// A server that has served no connection yet does not know its loops: a
// relayed request is answered 503 at once.
func TestServeRelayedBeforeAnyConnection(t *testing.T) {
	s := hStart(t, Config{}, nil)
	got := make(chan string, 1)
	s.ServeRelayed(netip.MustParseAddrPort("127.0.0.1:9"), []byte("GET / HTTP/1.1\r\nHost: t\r\n\r\n"), &collectOut{done: got})
	if text := testkit.Recv(t, got, "the answer"); !strings.HasPrefix(text, "HTTP/1.1 503 ") {
		t.Fatalf("answer %q, want 503", text)
	}
}

// Relay.Abort closes the connection of a relayed response that will not
// end (its producer is gone).
func TestRelayAbortClosesTheConnection(t *testing.T) {
	got := make(chan Relay, 1)
	b := hStart(t, Config{}, func(s *Server) {
		s.HandleLoop("/stuck", false, func(x *Exchange, _ *httpcodec.Request) {
			r := x.Relay()
			r.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"), false)
			got <- r
		})
	})
	c := testkit.Dial(t, b.Addr())
	c.Send("GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n")
	r := testkit.Recv(t, got, "the relay")
	resp, err := c.Head("GET")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("head: %v %v", resp, err)
	}
	r.Abort()
	// The body ends with the connection, before its last chunk.
	body, err := io.ReadAll(resp.Body)
	if string(body) != "one" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q, %v; want one, then the connection closed", body, err)
	}
}
