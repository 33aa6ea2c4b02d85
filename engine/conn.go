package engine

import (
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/timewheel"
)

// Connection timer kinds. A connection has one timer; its kind says what the
// deadline means.
const (
	timerNone   uint8 = iota
	timerHeader       // a request has started (or the connection just opened) and must complete
	timerIdle         // nothing in flight: keep-alive idle timeout
	timerLinger       // response sent, write side shut: waiting for the peer to close
	timerFlush        // closing: waiting for gnet's outbound buffer to drain before the half-close
)

// flushPoll is how often a closing connection checks whether the peer has
// read the rest of its last responses (gnet has no "drained" event; the
// wheel's tick is 50 ms anyway).
const flushPoll = 50 * time.Millisecond

// lingerTimeout bounds how long a closing connection keeps reading and
// discarding what the peer still sends, so that our last response is not
// destroyed by a TCP reset (net/http's "lingering close").
const lingerTimeout = 500 * time.Millisecond

// conn is the engine's state of one TCP connection. Every field is owned by
// the connection's event loop, except timerGen (read by the timer callback).
type conn struct {
	l       *Loop      // its event loop (and, through it, the server)
	gc      socket     // gnet's connection, or a relayed request's (relay.go)
	addrKey netip.Addr // counted under this key for MaxConnsPerAddr (invalid: not counted)

	p          *httpcodec.Parser // held only while a request is partially received
	head, tail *Exchange         // requests being served, in arrival order
	queued     int32             // len of the head..tail list
	pending    int               // bytes held in exchanges waiting behind the head
	leftIn     int32             // inbound bytes left unconsumed after the last OnTraffic
	in         []byte            // received bytes not yet parsed, moved out of gnet's buffer: in[inOff:]
	inOff      int

	closing      bool // read no further requests; close once the queue drains
	closeAtFlush bool // close when the current OnTraffic batch is written
	closed       bool // OnClose has run
	aborted      bool // closeNow has run: gnet closes it shortly
	blocked      bool // stopped parsing at MaxPipelined; resume when the queue shrinks
	processing   bool // inside process(); completions must not re-enter it
	cont100      bool // "Expect: 100-continue" of the pending request handled (answered, or absent)

	timer      timewheel.Timer
	timerKind  uint8
	timerGen   atomic.Uint32
	deadline   int64 // UnixNano
	flushUntil int64 // UnixNano: while timerFlush, when to give up on the peer reading

	prev, next *conn  // the loop's list of open connections
	remoteS    string // remote, once asked for
}

// socket is what a conn uses of its transport: gnet's connection, or a
// relaySocket serving one request relayed from another node (relay.go).
type socket interface {
	InboundBuffered() int
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Write(b []byte) (int, error)
	OutboundBuffered() int
	Fd() int
	RemoteAddr() net.Addr
	Close() error
}

func newConn(srv *Server, l *Loop, gc socket) *conn {
	c := &conn{l: l, gc: gc}
	return c
}

// Fire runs on the wheel's goroutine when the timer expires (it implements
// timewheel.Firer): it only posts to the loop.
func (c *conn) Fire() {
	c.l.post(op{kind: opTimer, c: c, gen: c.timerGen.Load()})
}

// setTimer arms the connection's timer. Loop only.
func (c *conn) setTimer(kind uint8, d time.Duration) {
	c.timerKind = kind
	c.deadline = time.Now().Add(d).UnixNano()
	c.timerGen.Add(1)
	c.l.srv.wheel.ScheduleFirer(&c.timer, d, c)
}

// stopTimer disarms it. Loop only.
func (c *conn) stopTimer() {
	if c.timerKind == timerNone {
		return
	}
	c.timerKind = timerNone
	c.timerGen.Add(1)
	c.l.srv.wheel.Cancel(&c.timer)
}

// timerFired handles a timer op on the loop; stale firings are ignored.
func (c *conn) timerFired(gen uint32) {
	if c.closed || gen != c.timerGen.Load() || c.timerKind == timerNone || time.Now().UnixNano() < c.deadline {
		return
	}
	kind := c.timerKind
	c.timerKind = timerNone
	switch kind {
	case timerHeader:
		c.l.srv.stats.headerTimeouts.Add(1)
		c.l.srv.log.Debug("connection closed: header timeout", "remote", c.remote())
		if c.head == nil && !c.closing && c.p != nil && c.p.Started() {
			// A request under way and nothing in flight: tell the client
			// why (RFC 9110 §15.5.9).
			c.closing = true
			ex := c.enqueue(false, false, false)
			ex.respondError(408)
			return
		}
		// Nothing received since accept: closed without a word, as an
		// idle connection is. A 408 there would be taken for the answer
		// to the next request by a client that reuses the connection
		// just then (a browser's preconnected socket, an HTTP client's
		// or a proxy's spare connection in its pool: Go's Transport
		// returned it to a move in a test under load).
		c.closeNow()
	case timerIdle:
		c.l.srv.log.Debug("connection closed: idle timeout", "remote", c.remote())
		c.closeNow()
	case timerLinger:
		// Closing while the kernel still holds bytes the peer has not
		// acknowledged would destroy them if the peer sends anything more
		// (it is answered with a reset). Linger on while the peer keeps
		// taking them, within the same bound as the flush.
		if c.unacked() > 0 && time.Now().UnixNano() < c.flushUntil {
			c.setTimer(timerLinger, flushPoll)
			return
		}
		c.closeNow()
	case timerFlush:
		if time.Now().UnixNano() > c.flushUntil {
			c.closeNow()
			return
		}
		c.finishClose()
	}
}

// remote returns the peer's address as text, made once per connection
// (a Handler's every request carries it).
func (c *conn) remote() string {
	if c.remoteS == "" {
		if a := c.gc.RemoteAddr(); a != nil {
			c.remoteS = a.String()
		}
	}
	return c.remoteS
}

// onTraffic parses and serves what has arrived. Loop only.
func (c *conn) onTraffic() gnet.Action {
	in := c.gc.InboundBuffered()
	c.l.srv.stats.bytesIn.Add(int64(in - int(c.leftIn)))
	c.l.nowSet = false
	c.batch()
	return gnet.None
}

// batch serves the inbound buffer as one batch: the responses it produces
// are assembled in the loop's buffer and written with one write. Loop only;
// no other connection's batch may be in progress (output of another
// connection a run of the inbox was collecting is written first).
func (c *conn) batch() {
	l := c.l
	if l.out != c {
		l.flushOut()
	}
	l.cur, l.out = c, c
	c.process()
	l.cur = nil
	l.srv.submitJobs(l)
	l.out = nil
	c.flush()
	c.leftIn = int32(c.gc.InboundBuffered())
	c.flushed()
}

// flushed closes the connection when its last response was in the batch
// just written.
func (c *conn) flushed() {
	if c.closeAtFlush {
		c.closeAtFlush = false
		c.finishClose()
	}
}

// flush writes the batch assembled during OnTraffic. Loop only.
func (c *conn) flush() {
	l := c.l
	if len(l.wbuf) == 0 {
		return
	}
	c.writeDirect(l.wbuf)
	if cap(l.wbuf) > 1<<20 {
		l.wbuf = nil
	} else {
		l.wbuf = l.wbuf[:0]
	}
}

// writeDirect hands b to gnet, which writes it now or copies what the socket
// did not take into its outbound buffer. Loop only.
func (c *conn) writeDirect(b []byte) {
	if c.closed || len(b) == 0 {
		return
	}
	c.l.srv.stats.bytesOut.Add(int64(len(b)))
	if _, err := c.gc.Write(b); err != nil {
		return // gnet closes the connection on a write error; OnClose follows
	}
	c.checkOutbound()
}

// checkOutbound closes a connection whose peer does not read fast enough.
func (c *conn) checkOutbound() {
	if c.closed || c.aborted {
		return // counted once: gnet's close is asynchronous and writes may follow
	}
	if q := c.gc.OutboundBuffered() + c.pending; q > c.l.srv.cfg.MaxOutbound {
		c.closeSlow(q)
	}
}

// closeSlow closes a connection whose peer does not take its bytes fast
// enough (MaxOutbound), counting it once. Loop only.
func (c *conn) closeSlow(queued int) {
	if c.closed || c.aborted {
		return
	}
	c.l.srv.stats.slowClosed.Add(1)
	c.l.srv.log.Debug("connection closed: outbound cap exceeded (peer not reading)", "remote", c.remote(), "queued", queued)
	c.closeNow()
}

// process parses every complete request in the inbound buffer and dispatches
// it, in order, up to MaxPipelined in flight. Loop only.
//
// Bytes that cannot be parsed yet (a partial request, or requests waiting
// behind MaxPipelined) are moved out of gnet's buffer into the connection's
// own (c.in), and later bytes are appended to them: the copying is linear
// in the bytes received, however slowly a request arrives, and the parser
// resumes where it stopped. (gnet's Peek would copy everything buffered
// again on every read.)
func (c *conn) process() {
	if c.processing || c.closed {
		return
	}
	c.processing = true
	defer func() { c.processing = false }()

	if c.closing {
		// After an error or "Connection: close" nothing more is read.
		c.dropInput()
		return
	}
	cfg := &c.l.srv.cfg
	if int(c.queued) >= cfg.MaxPipelined {
		// Nothing can be parsed until the queue shrinks: keep what came.
		c.blocked = true
		c.holdInput()
	} else {
		buf, held := c.input()
		off := 0
		for off < len(buf) && !c.closing {
			if int(c.queued) >= cfg.MaxPipelined {
				c.blocked = true
				break
			}
			if c.p == nil {
				c.p = c.l.getParser()
			}
			n, req, err := c.p.Parse(buf[off:])
			if err != nil {
				c.protocolError(err)
				off = len(buf)
				break
			}
			if n == 0 {
				c.maybeContinue(buf[off:])
				break
			}
			c.cont100 = false
			c.l.srv.stats.requests.Add(1)
			c.dispatch(req)
			off += n
			// Loop handlers answer into the batch at once: one read of small
			// pipelined requests for large responses must not grow it far past
			// MaxOutbound before the peer shows that it reads. Writing it now
			// lets checkOutbound close a peer that does not.
			if len(c.l.wbuf)+c.gc.OutboundBuffered()+c.pending > cfg.MaxOutbound {
				c.flush()
			}
		}
		if c.closing {
			off = len(buf)
		}
		c.consume(buf, held, off)
	}
	if n := len(c.in) - c.inOff; n > cfg.MaxInbound && !c.closing {
		switch {
		case c.blocked:
			c.l.srv.log.Debug("connection closed: inbound cap exceeded", "remote", c.remote())
			c.closeNow()
			return
		case n > c.l.srv.requestHold:
			// One request larger than that on the wire (a chunked body of
			// tiny chunks: its framing is not counted in MaxBodyBytes).
			c.protocolError(httpcodec.ErrBodyTooLarge)
			c.dropInput()
		}
	}
	c.updateTimer()
}

// input returns the bytes to parse: gnet's buffer, in place, when the
// connection holds none of its own; else the held bytes with what gnet
// buffered since appended (held is then true). Loop only.
func (c *conn) input() (buf []byte, held bool) {
	if c.inOff == len(c.in) {
		buf, _ = c.gc.Peek(-1)
		return buf, false
	}
	c.holdInput()
	return c.in[c.inOff:], true
}

// consume records that buf[:off] was parsed; the rest is kept in c.in.
func (c *conn) consume(buf []byte, held bool, off int) {
	if held {
		if c.inOff += off; c.inOff == len(c.in) {
			c.releaseIn()
		}
		return
	}
	if off < len(buf) {
		c.appendIn(buf[off:])
	}
	if len(buf) > 0 {
		c.gc.Discard(len(buf))
	}
}

// holdInput moves what gnet has buffered to the end of c.in. Loop only.
func (c *conn) holdInput() {
	if c.gc.InboundBuffered() == 0 {
		return
	}
	b, _ := c.gc.Peek(-1)
	c.appendIn(b)
	c.gc.Discard(len(b))
}

// dropInput discards everything received and not parsed. Loop only.
func (c *conn) dropInput() {
	if n := c.gc.InboundBuffered(); n > 0 {
		c.gc.Discard(n)
	}
	c.releaseIn()
}

// appendIn appends b to the held bytes c.in[c.inOff:]. When it must make
// room it moves the held bytes to the front if at least a quarter of
// their size was consumed before them (the move is paid for by what was
// consumed), else it grows the buffer geometrically: either way the work
// is linear in the bytes received, and the buffer stays within about 1.25
// times what is held (MaxInbound, or Server.requestHold for a request
// still arriving) plus one read. Loop only.
func (c *conn) appendIn(b []byte) {
	live := len(c.in) - c.inOff
	if cap(c.in)-len(c.in) < len(b) {
		switch need := live + len(b); {
		case c.inOff > 0 && 4*c.inOff >= live && cap(c.in) >= need:
			copy(c.in, c.in[c.inOff:])
			c.in = c.in[:live]
		case c.in == nil && need <= inBufSize:
			c.in = c.l.getInBuf()
		default:
			grow := 2 * cap(c.in)
			if cap(c.in) >= 256<<10 {
				grow = cap(c.in) + cap(c.in)/4
			}
			grown := make([]byte, live, max(need, grow))
			copy(grown, c.in[c.inOff:])
			c.l.putInBuf(c.in)
			c.in = grown
		}
		c.inOff = 0
	}
	c.in = append(c.in, b...)
}

// releaseIn gives back the connection's held-bytes buffer. Loop only.
func (c *conn) releaseIn() {
	c.l.putInBuf(c.in)
	c.in, c.inOff = nil, 0
}

// maybeContinue answers "Expect: 100-continue" once the head is in and no
// earlier response is pending (an interim response must not overtake one).
// The head is looked at once per request.
func (c *conn) maybeContinue(buf []byte) {
	if c.cont100 || c.queued > 0 || !c.p.HeadComplete() {
		return
	}
	if r := c.p.Pending(buf); r != nil {
		c.cont100 = true
		if r.Expect100 {
			c.write100()
		}
	}
}

func (c *conn) write100() {
	const cont = "HTTP/1.1 100 Continue\r\n\r\n"
	if c.l.out == c {
		c.l.wbuf = append(c.l.wbuf, cont...)
		return
	}
	c.writeDirect([]byte(cont))
}

// updateTimer arms the timer that fits the connection's state. Loop only.
func (c *conn) updateTimer() {
	if c.closed || c.timerKind == timerLinger || c.timerKind == timerFlush {
		return
	}
	partial := c.p != nil && c.p.Started()
	switch {
	case partial:
		if c.timerKind != timerHeader {
			c.setTimer(timerHeader, c.l.srv.cfg.HeaderTimeout)
		}
	case c.head == nil && !c.closing:
		if _, relayed := c.gc.(*relaySocket); relayed {
			// A relayed connection carries one request: its response is
			// complete, so it is done (relay.go).
			c.closing = true
			c.scheduleClose()
			return
		}
		if c.p != nil {
			c.l.putParser(c.p)
			c.p = nil
		}
		c.setTimer(timerIdle, c.l.srv.cfg.IdleTimeout)
	default:
		if c.p != nil && c.head != nil {
			c.l.putParser(c.p)
			c.p = nil
		}
		c.stopTimer()
	}
}

// protocolError answers a request the codec refused, then closes.
func (c *conn) protocolError(err error) {
	status := statusFor(err)
	c.l.srv.stats.badRequests.Add(1)
	c.l.srv.log.Debug("bad request", "remote", c.remote(), "status", status, "err", err)
	if c.p != nil {
		c.l.putParser(c.p)
		c.p = nil
	}
	c.closing = true
	ex := c.enqueue(false, false, false)
	ex.respondError(status)
}

// enqueue appends a new exchange to the connection's queue. Loop only.
func (c *conn) enqueue(keepAlive, head, http10 bool) *Exchange {
	ex := c.l.getExchange()
	*ex = Exchange{c: c, keepAlive: keepAlive, head: head, http10: http10, gen: ex.gen}
	if c.tail == nil {
		c.head, c.tail = ex, ex
	} else {
		c.tail.next = ex
		c.tail = ex
	}
	c.queued++
	return ex
}

// dispatch creates the exchange of a parsed request and routes it.
func (c *conn) dispatch(req *httpcodec.Request) {
	keepAlive := req.KeepAlive && !c.l.srv.draining.Load()
	ex := c.enqueue(keepAlive, string(req.Method) == "HEAD", req.ProtoMinor == 0)
	if !keepAlive {
		c.closing = true
	}
	c.l.srv.serve(ex, req)
}

// complete is called when ex has produced its whole response. It retires
// finished exchanges from the head of the queue, releases the next one's held
// bytes, and resumes reading when the queue has room again. Loop only.
func (c *conn) complete(ex *Exchange) {
	if ex != c.head || c.closed {
		return
	}
	for c.head != nil && c.head.state == exDone {
		done := c.head
		c.head = done.next
		if c.head == nil {
			c.tail = nil
		}
		done.next = nil
		c.queued--
		keepAlive := done.keepAlive
		if _, stream := done.owner.(*streamOwner); done.owner == nil || stream {
			// Nobody else holds it (no Comet listener), or only a Stream
			// whose response is complete: every op that names the exchange
			// came before the one that completed it, and a Stream
			// finished posts none (Close names the connection): reuse it.
			c.l.putExchange(done)
		}
		if !keepAlive {
			c.closing = true
			c.scheduleClose()
			return
		}
		if nx := c.head; nx != nil && len(nx.pend) > 0 {
			p := nx.pend
			nx.pend = nil
			c.pending -= len(p)
			c.emit(p)
		}
	}
	if c.head != nil || c.l.cur == c {
		return // process() (running now, or later) updates timers
	}
	if c.blocked || c.gc.InboundBuffered() > 0 || c.inOff < len(c.in) {
		if c.l.cur != nil {
			// Another connection's OnTraffic batch is being assembled in
			// the loop's buffer: resume this one afterwards, not inside it.
			c.l.post(op{kind: opResume, c: c})
			return
		}
		c.blocked = false
		c.batch()
		return
	}
	c.updateTimer()
}

// emit writes bytes of the head exchange: batched during OnTraffic, direct otherwise.
func (c *conn) emit(b []byte) {
	if c.l.out == c {
		c.l.wbuf = append(c.l.wbuf, b...)
		return
	}
	c.writeDirect(b)
}

// scheduleClose closes the connection once its last response is written.
func (c *conn) scheduleClose() {
	if c.l.out == c {
		c.closeAtFlush = true
		return
	}
	c.finishClose()
}

// finishClose half-closes after the last response and lingers briefly,
// discarding input, so the peer reads our response before it sees the close.
func (c *conn) finishClose() {
	if c.closed {
		return
	}
	if c.flushUntil == 0 {
		c.flushUntil = time.Now().Add(c.l.srv.cfg.IdleTimeout).UnixNano()
	}
	if _, relayed := c.gc.(*relaySocket); relayed {
		// Its one response is written (to the node it came from): done.
		c.closeNow()
		return
	}
	if c.gc.OutboundBuffered() > 0 {
		// gnet's close makes one non-blocking attempt to write its outbound
		// buffer and drops the rest, truncating the last responses to a
		// peer that reads slower than we wrote. Keep reading (and
		// discarding) until the peer has taken them, for at most
		// IdleTimeout: a peer that reads nothing for that long is gone.
		// MaxOutbound already bounds what is buffered.
		c.setTimer(timerFlush, flushPoll)
		return
	}
	if err := unix.Shutdown(c.gc.Fd(), unix.SHUT_WR); err != nil {
		c.closeNow()
		return
	}
	c.stopTimer()
	c.setTimer(timerLinger, lingerTimeout)
}

// siocOutQ is Linux's SIOCOUTQ ioctl (x/sys/unix defines it only there).
const siocOutQ = 0x5411

// unacked returns the bytes in the socket's send queue that the peer has not
// acknowledged, or 0 where the kernel cannot tell. Loop only.
func (c *conn) unacked() int {
	if runtime.GOOS != "linux" {
		return 0
	}
	n, err := unix.IoctlGetInt(c.gc.Fd(), siocOutQ)
	if err != nil {
		return 0
	}
	return n
}

// closeNow closes the connection; OnClose follows. Loop only.
func (c *conn) closeNow() {
	if c.closed || c.aborted {
		return
	}
	c.closing = true
	c.aborted = true
	c.gc.Close() // asynchronous: OnClose runs on this loop shortly
}

// onClosed runs from gnet's OnClose. It notifies every exchange still in
// flight and releases the connection's resources. Loop only.
func (c *conn) onClosed() {
	c.closed = true
	c.stopTimer()
	c.releaseIn()
	if c.p != nil {
		c.l.putParser(c.p)
		c.p = nil
	}
	for ex := c.head; ex != nil; {
		next := ex.next
		ex.gone()
		ex = next
	}
	c.head, c.tail, c.queued, c.pending = nil, nil, 0, 0
	c.l.unlink(c)
}

// remoteIP returns the peer's IP address (invalid if unknown).
func (c *conn) remoteIP() netip.Addr {
	if a, ok := c.gc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
