package engine

import (
	"strconv"
	"strings"

	"github.com/cometplay/cometplay/httpcodec"
)

// An Exchange is one request and its response on a connection. The HTTP
// server uses it for everything it answers; a protocol layer that answers
// on the event loop (Server.HandleLoop: the comet package) gets the
// exchange of each request it serves and writes the response through the
// methods of layer.go. Every field is owned by the connection's loop.

// Exchange states.
const (
	exPending   uint8 = iota // no response byte produced yet
	exStreaming              // head sent, chunks follow
	exDone                   // whole response produced
)

// Exchange is one request and its response on a connection. Its fields are
// owned by the connection's loop. A response produced while an earlier
// exchange of the same connection is unfinished is held in pend and released
// in order (pipelining, RFC 9112 §9.3.2).
type Exchange struct {
	c     *conn
	next  *Exchange
	state uint8

	keepAlive bool   // the connection stays open after this response
	head      bool   // HEAD request: headers only
	http10    bool   // HTTP/1.0 peer: no chunked coding; a stream ends with the connection
	chunked   bool   // the streamed response uses chunked coding
	route     uint16 // metrics label of the route that serves it (routeStats)
	gen       uint32 // counts the exchange's reuses: an op naming an older one is dropped

	pend []byte // bytes produced while not at the head of the queue

	// owner, when set, is told on the loop if the connection closes before
	// the response is done: the Comet layer detaches a listener; a worker
	// request's Stream marks itself closed.
	owner ExchangeOwner
}

// ExchangeOwner is told, on the loop, when the connection of an exchange it
// owns goes away before the response is done (see Exchange.SetOwner).
type ExchangeOwner interface {
	ExchangeGone(x *Exchange)
}

func (ex *Exchange) gone() {
	if ex.state == exDone {
		return
	}
	ex.state = exDone
	if ex.owner != nil {
		ex.owner.ExchangeGone(ex)
	}
}

// isHead reports whether ex's bytes go straight to the socket.
func (ex *Exchange) isHead() bool { return ex == ex.c.head }

// buf returns the buffer ex's next bytes are appended to; commit takes it back.
func (ex *Exchange) buf() []byte {
	c := ex.c
	if !ex.isHead() {
		return ex.pend
	}
	if c.l.out == c {
		return c.l.wbuf
	}
	return c.l.scratch[:0]
}

func (ex *Exchange) commit(b []byte) {
	c := ex.c
	if !ex.isHead() {
		c.pending += len(b) - len(ex.pend)
		ex.pend = b
		c.checkOutbound()
		return
	}
	if c.l.out == c {
		c.l.wbuf = b
		return
	}
	c.writeDirect(b)
	if cap(b) > 256<<10 {
		b = nil
	}
	c.l.scratch = b[:0]
}

// appendHead appends the status line and the headers every response carries:
// Date, X-Content-Type-Options: nosniff (unless hdrs has it already), and the
// Connection field the framing needs.
func (ex *Exchange) appendHead(b []byte, status int, hdrs []string) []byte {
	ex.c.l.srv.routeStats.count(ex.route, status) // every response head passes here: count it once
	if ex.keepAlive && ex.next == nil && ex.c.l.srv.draining.Load() {
		// Shutting down: the last response of a connection says so and
		// closes it, even before the drain task reaches the connection.
		ex.keepAlive = false
		ex.c.closing = true
	}
	b = httpcodec.AppendStatusLine(b, status)
	b = httpcodec.AppendDate(b, ex.c.l.clock())
	for i := 0; i+1 < len(hdrs); i += 2 {
		// Not httpcodec.AppendHeader, which checks every byte: the engine
		// writes only its own fields, the static files' and fields a
		// Handler set through Stream.SetHeader, which validated them.
		b = append(b, hdrs[i]...)
		b = append(b, ": "...)
		b = append(b, hdrs[i+1]...)
		b = append(b, "\r\n"...)
	}
	if !hasField(hdrs, nosniffName) {
		b = append(b, nosniffField...)
	}
	switch {
	case !ex.keepAlive:
		b = append(b, "Connection: close\r\n"...)
	case ex.http10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

// bodyAllowed reports whether a response with this status carries a body
// (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// respond produces a complete response with Content-Length. Loop only.
func (ex *Exchange) respond(status int, hdrs []string, body []byte) {
	if ex.state != exPending || ex.c.closed {
		return
	}
	b := ex.appendHead(ex.buf(), status, hdrs)
	if bodyAllowed(status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		if !ex.head {
			b = append(b, body...)
		}
	} else {
		b = append(b, "\r\n"...)
	}
	ex.finish(b)
}

// finish commits the last bytes of the response and retires the exchange.
func (ex *Exchange) finish(b []byte) {
	ex.state = exDone
	ex.commit(b)
	ex.c.l.srv.countStatusDone(ex)
	ex.c.complete(ex)
}

// respondError answers with a short plain-text body naming the status.
func (ex *Exchange) respondError(status int) {
	ex.respond(status, textPlain, []byte(strconv.Itoa(status)+" "+httpcodec.StatusText(status)+"\n"))
}

// start produces the head of a streamed response. Loop only.
func (ex *Exchange) start(status int, hdrs []string) {
	if ex.state != exPending || ex.c.closed {
		return
	}
	// 204 and 304 have no body (RFC 9110 §6.4.1), and a 204 no
	// Transfer-Encoding (RFC 9112 §6.1): chunks after such a head would be
	// read as the start of the next response. Send the head alone.
	noBody := !bodyAllowed(status)
	switch {
	case noBody:
	case ex.http10:
		// HTTP/1.0 has no chunked coding: the body ends when the connection does.
		ex.keepAlive = false
	default:
		ex.chunked = true
	}
	b := ex.appendHead(ex.buf(), status, hdrs)
	if ex.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	if ex.head || noBody {
		// The response is complete without a body. A parked handler
		// pushing chunks must learn it, or it would write into a finished
		// exchange forever (ex.gone skips done exchanges): its Writes now
		// fail with ErrClosed and Done is closed. (Its stream is looked up
		// first: finish may hand the exchange to the next request.)
		st, ok := streamOf(ex)
		ex.finish(b)
		if ok {
			st.markClosed()
		}
		return
	}
	ex.state = exStreaming
	ex.commit(b)
}

// chunk writes p as one chunk of the streamed response. Loop only.
func (ex *Exchange) chunk(p []byte) {
	if ex.state != exStreaming || len(p) == 0 || ex.c.closed {
		return
	}
	b := ex.buf()
	if ex.chunked {
		b = httpcodec.AppendChunk(b, p)
	} else {
		b = append(b, p...)
	}
	ex.commit(b)
}

// Writing several chunks with one write, without intermediate copies:
//
//	b, ok := ex.streamBuf()
//	mark := len(b); b = ex.chunkOpen(b); b = appendData(b); b = ex.chunkClose(b, mark)
//	... more chunks ...
//	ex.commit(b)

// streamBuf returns the output buffer of a streaming exchange; ok is false
// when ex is not streaming. Loop only.
func (ex *Exchange) streamBuf() (b []byte, ok bool) {
	if ex.state != exStreaming || ex.c.closed {
		return nil, false
	}
	return ex.buf(), true
}

// chunkReserve is room for the largest size line chunkClose writes (8 hex
// digits: a chunk is far smaller than 4 GiB).
const chunkReserve = "00000000\r\n"

// chunkOpen reserves the size line of a chunk starting at len(b).
func (ex *Exchange) chunkOpen(b []byte) []byte {
	if ex.chunked {
		b = append(b, chunkReserve...)
	}
	return b
}

// chunkClose finishes the chunk opened at mark: it writes the real size line
// (moving the data left if it is shorter than the reserve) and the CRLF. An
// empty chunk is removed, so it can never end the stream by accident.
func (ex *Exchange) chunkClose(b []byte, mark int) []byte {
	if !ex.chunked {
		return b
	}
	dataAt := mark + len(chunkReserve)
	n := len(b) - dataAt
	if n <= 0 {
		return b[:mark]
	}
	var hdr [16]byte
	h := strconv.AppendUint(hdr[:0], uint64(n), 16)
	h = append(h, '\r', '\n')
	copy(b[mark+len(h):], b[dataAt:])
	copy(b[mark:], h)
	b = b[:mark+len(h)+n]
	return append(b, '\r', '\n')
}

// end finishes a streamed response. Loop only.
func (ex *Exchange) end() {
	if ex.state != exStreaming || ex.c.closed {
		return
	}
	b := ex.buf()
	if ex.chunked {
		b = httpcodec.AppendFinalChunk(b)
	}
	ex.finish(b)
}

var textPlain = []string{"Content-Type", "text/plain; charset=utf-8"}

// Every response says nosniff: a browser must read it as the type it
// declares (or not at all), never guess. Without it, an event stream or a
// JSON answer holding a player's text could be sniffed as HTML or loaded as
// script by another site's page.
const (
	nosniffName  = "X-Content-Type-Options"
	nosniffField = nosniffName + ": nosniff\r\n"
)

// hasField reports whether the name, value pairs hdrs hold a field name
// (ASCII case-insensitive).
func hasField(hdrs []string, name string) bool {
	for i := 0; i+1 < len(hdrs); i += 2 {
		if len(hdrs[i]) == len(name) && strings.EqualFold(hdrs[i], name) {
			return true
		}
	}
	return false
}
