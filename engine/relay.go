package engine

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/cometplay/cometplay/httpcodec"
)

// Relayed requests: the two ends of a request that one node of a cluster
// receives and another serves (the cluster package carries the bytes).
//
// On the node that received the request, the protocol layer hands its
// exchange to the cluster (Exchange.Relay): the response arrives later, as
// the bytes the other node wrote, and is written to the client as it is,
// in order with the connection's other responses, under the same outbound
// cap (a client that does not read is closed here, as any other).
//
// On the node that serves it, ServeRelayed runs the request's bytes through
// the same parser, routes and handlers as a request from a socket, on a
// connection of its own whose socket is a RelayOut: what the handlers
// write goes to the RelayOut, and when the response is complete the
// connection ends (RelayOut.RelayEnd). A long response (a Comet stream)
// lasts until it ends or the other node says its client went away
// (RelayConn.Close).

// Relay is an exchange whose response is produced elsewhere: the bytes of a
// whole HTTP response (status line, fields, body), given in order through
// Write. Safe for concurrent use; a Relay whose exchange has ended (its
// connection closed) drops what it is given.
type Relay struct {
	ex  *Exchange
	gen uint32
}

// Relay returns the exchange as a Relay. Loop only; the exchange must be
// pending (nothing of its response produced).
func (x *Exchange) Relay() Relay { return Relay{ex: x, gen: x.gen} }

// Write hands p, the next bytes of the response, to the exchange's loop,
// which writes them to the client as they are; end says they are the last.
// p is the loop's from then on. Safe for concurrent use; never blocks.
func (r Relay) Write(p []byte, end bool) {
	var flag int
	if end {
		flag = 1
	}
	r.ex.c.l.post(op{kind: opRaw, ex: r.ex, gen: r.gen, data: p, status: flag})
}

// Do runs f on the exchange's loop if the exchange is still this one and
// nothing of its response has been produced (to answer it locally after
// all: the other node is gone). Safe for concurrent use.
func (r Relay) Do(f func(x *Exchange)) {
	r.ex.c.l.post(op{kind: opTask, task: &relayDo{r: r, f: f}})
}

// Abort closes the exchange's connection if its response has not ended:
// its producer is gone and the rest will never come (a client reading a
// relayed stream reconnects, as after any lost connection). Safe for
// concurrent use.
func (r Relay) Abort() {
	r.ex.c.l.post(op{kind: opTask, task: &relayAbort{r: r}})
}

type relayAbort struct{ r Relay }

func (a *relayAbort) RunOnLoop(uint32) {
	ex := a.r.ex
	if ex.gen != a.r.gen || ex.state == exDone || ex.c.closed {
		return
	}
	ex.c.closeNow()
}

type relayDo struct {
	r Relay
	f func(x *Exchange)
}

func (d *relayDo) RunOnLoop(uint32) {
	ex := d.r.ex
	if ex.gen != d.r.gen || ex.state != exPending || ex.c.closed || ex.c.aborted {
		return
	}
	d.f(ex)
}

// raw writes bytes of a relayed response. Loop only.
func (ex *Exchange) raw(p []byte, end bool) {
	if ex.state == exDone || ex.c.closed || ex.c.aborted {
		return
	}
	if ex.state == exPending {
		ex.state = exStreaming
		ex.c.l.srv.stats.relayedOut.Add(1)
	}
	b := append(ex.buf(), p...)
	if end {
		ex.finish(b)
		return
	}
	ex.commit(b)
}

// RelayOut receives what the handlers of a relayed request write: the
// bytes of its response, in order, then RelayEnd once, when the response
// is complete or the connection was closed (by the server, or by
// RelayConn.Close). Both are called on an event loop: they must not block
// and must not keep b.
type RelayOut interface {
	RelayWrite(b []byte)
	RelayEnd()
}

// RelayConn is the connection of a relayed request on the node serving it.
type RelayConn struct{ c *conn }

// Close ends the connection (its client went away on the other node): a
// Comet listener on it is detached, as when a socket closes. Safe for
// concurrent use; closing twice, or after the response ended, does nothing.
func (rc RelayConn) Close() {
	if rc.c != nil {
		rc.c.l.post(op{kind: opClose, c: rc.c})
	}
}

var relayLoop atomic.Uint32

var relayNoLoop503 = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" + nosniffField + "Retry-After: 1\r\nContent-Length: 20\r\n\r\nnode not serving yet")

// ServeRelayed serves req, a complete HTTP/1.1 request received by another
// node from the client at remote, as if it had come from a socket: on one
// of the loops, through the server's routes and handlers, with out
// receiving the response's bytes. It returns at once. A request the codec
// refuses is answered as on a socket (400) and ends. On a server that has
// not served a connection yet (its loops are not known), it answers 503
// at once, on the caller's goroutine.
func (s *Server) ServeRelayed(remote netip.AddrPort, req []byte, out RelayOut) RelayConn {
	loops := s.allLoops()
	if len(loops) == 0 {
		// gnet names its loops to us through their first connections; a
		// node whose sessions are asked for has served their joins, so
		// this is a node that has served nobody yet.
		out.RelayWrite(relayNoLoop503)
		out.RelayEnd()
		return RelayConn{}
	}
	l := loops[int(relayLoop.Add(1))%len(loops)]
	rs := &relaySocket{in: req, out: out, remote: net.TCPAddrFromAddrPort(remote)}
	c := newConn(s, l, rs)
	rs.c = c
	s.stats.relayedIn.Add(1)
	l.post(op{kind: opTask, task: (*relayStart)(rs)})
	return RelayConn{c: c}
}

// relaySocket is the socket of a relayed request's connection: its
// inbound bytes are the request, its writes go to the RelayOut. Loop only,
// except Close's post.
type relaySocket struct {
	c      *conn
	in     []byte
	out    RelayOut
	remote *net.TCPAddr
}

func (r *relaySocket) InboundBuffered() int { return len(r.in) }

func (r *relaySocket) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(r.in) {
		return r.in, nil
	}
	return r.in[:n], nil
}

func (r *relaySocket) Discard(n int) (int, error) {
	n = min(n, len(r.in))
	r.in = r.in[n:]
	return n, nil
}

// Write is called only while the connection is open (writeDirect).
func (r *relaySocket) Write(b []byte) (int, error) {
	r.out.RelayWrite(b)
	return len(b), nil
}

// OutboundBuffered is 0: the bytes have left for the other node, which
// holds the client's socket and its outbound cap.
func (r *relaySocket) OutboundBuffered() int { return 0 }

func (r *relaySocket) Fd() int { return -1 }

func (r *relaySocket) RemoteAddr() net.Addr { return r.remote }

// Close is asynchronous, as gnet's: the connection's close runs on its loop.
func (r *relaySocket) Close() error {
	r.c.l.post(op{kind: opTask, task: (*relayClose)(r)})
	return nil
}

// relayStart feeds the request to its connection on the loop.
type relayStart relaySocket

func (t *relayStart) RunOnLoop(uint32) {
	r := (*relaySocket)(t)
	c := r.c
	c.l.link(c)
	c.l.nowSet = false
	c.batch()
	if c.head == nil && !c.closing && !c.closed {
		// An incomplete request: nothing more will come.
		c.l.out = c
		c.protocolError(httpcodec.ErrBadRequest)
		c.l.flushOut()
	}
}

// relayClose runs the connection's close on its loop.
type relayClose relaySocket

func (t *relayClose) RunOnLoop(uint32) {
	r := (*relaySocket)(t)
	if r.c.closed {
		return
	}
	r.c.onClosed()
	r.c.l.srv.stats.relayedIn.Add(-1)
	r.out.RelayEnd()
}
