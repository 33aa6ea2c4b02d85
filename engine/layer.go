package engine

import (
	"net/netip"
	"slices"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/timewheel"
)

// The protocol-layer API: what a protocol built into cometplay (the comet
// package's hub) uses to answer requests on the event loop itself, without
// the hand-off to a worker that a Handler costs, and to write to a parked
// response later from any goroutine.
//
// Everything here runs on, or posts to, an event loop. Code on a loop must
// never block and must never run an application's code (see the package
// documentation): these are not for application handlers, which use
// Handle, HandlePrefix and HandleHTTP and run on the workers.

// LoopHandler serves a request on its connection's event loop. The request
// aliases the connection's inbound buffer: it is valid only until the
// handler returns (copy what must outlive it). The handler answers through
// the Exchange (Respond, or Start and stream), now or later from the loop:
// a later answer is written by a LoopTask posted to x.Loop().
type LoopHandler func(x *Exchange, req *httpcodec.Request)

// HandleLoop registers h for requests whose path is pattern (or, with
// prefix, starts with it), any method. h runs on the event loop: see
// LoopHandler. Register before Start.
func (s *Server) HandleLoop(pattern string, prefix bool, h LoopHandler) {
	s.addRoute("", pattern, prefix, route{lh: h})
}

// LoopTask is work a protocol layer posts to a loop (Loop.Post). RunOnLoop
// runs on that loop with the argument given to Post; it must not block.
type LoopTask interface {
	RunOnLoop(arg uint32)
}

// Post hands t to the loop, which runs t.RunOnLoop(arg) soon, in the bulk
// lane: after the engine's own pending work, a few hundred at a time between
// which the loop serves its sockets. Safe for concurrent use from any
// goroutine; it never blocks on I/O, and a burst of posts to one loop costs
// one wake-up. Posting a pointer converted to a LoopTask does not allocate.
func (l *Loop) Post(t LoopTask, arg uint32) {
	l.postBulk(op{kind: opTask, task: t, gen: arg})
}

// PostUrgent hands t to the loop's urgent lane, with the engine's own
// responses: it runs before the bulk lane's pending tasks, and a bulk slice
// being run stops within a few tasks to run it. For small deliveries that
// must not wait behind a fan-out (an event to a room's two players behind a
// lobby update to thousands); a fan-out itself belongs in the bulk lane,
// where the loop serves its sockets between slices. Safe for concurrent use.
func (l *Loop) PostUrgent(t LoopTask, arg uint32) {
	l.post(op{kind: opTask, task: t, gen: arg})
}

// Posted is a task and its argument, for PostAll.
type Posted struct {
	Task LoopTask
	Arg  uint32
}

// PostAll is Post for many tasks, taking the loop's inbox lock once: a
// fan-out to thousands of listeners posts them per loop. It uses ts only
// during the call.
func (l *Loop) PostAll(ts []Posted) { l.postTasks(ts, false) }

// PostAllUrgent is PostUrgent for many tasks, taking the inbox lock once.
// It uses ts only during the call.
func (l *Loop) PostAllUrgent(ts []Posted) { l.postTasks(ts, true) }

// postTasks appends ts to the urgent or the bulk lane as task ops.
func (l *Loop) postTasks(ts []Posted, urgent bool) {
	if len(ts) == 0 {
		return
	}
	lane := &l.bulk
	if urgent {
		lane = &l.ops
	}
	l.mu.Lock()
	for _, t := range ts {
		*lane = append(*lane, op{kind: opTask, task: t.Task, gen: t.Arg})
	}
	if urgent {
		l.urgent.Store(true)
	}
	l.scheduleLocked()
}

// Index returns the loop's index, 0 ≤ Index < Server.Config().Loops: a
// protocol layer keeps per-loop scratch space in a slice indexed by it.
func (l *Loop) Index() int { return l.idx }

// Clock returns the time, read once per batch of work on the loop. Loop only.
func (l *Loop) Clock() time.Time { return l.clock() }

// Loops returns the server's event loops that have served a connection so
// far (a loop is known once its first connection opens), in Index order.
func (s *Server) Loops() []*Loop {
	ls := s.allLoops()
	slices.SortFunc(ls, func(a, b *Loop) int { return a.idx - b.idx })
	return ls
}

// Timers returns the server's timing wheel: one goroutine for every timer
// of the server and its layers (sessions' leases and heartbeats). Its
// callbacks run on the wheel's goroutine and must only post work
// elsewhere. It exists once Start has run, and runs until Shutdown.
func (s *Server) Timers() *timewheel.Wheel { return s.wheel }

// AddStats adds a section to the figures served at /debug/stats: the JSON
// encoding of what f returns, under name. f is called at every request of
// /debug/stats, on a worker.
func (s *Server) AddStats(name string, f func() any) {
	s.hookMu.Lock()
	s.statsSections = append(s.statsSections, statsSection{name, f})
	s.hookMu.Unlock()
}

type statsSection struct {
	name string
	f    func() any
}

// Loop returns the event loop the exchange's connection belongs to.
func (x *Exchange) Loop() *Loop { return x.c.l }

// SetOwner makes o the exchange's owner: it is told on the loop if the
// connection goes away before the response is done. Loop only.
func (x *Exchange) SetOwner(o ExchangeOwner) { x.owner = o }

// RemoteAddr returns the client's IP address (invalid if unknown).
func (x *Exchange) RemoteAddr() netip.Addr { return x.c.remoteIP() }

// Pending reports whether no byte of the response has been produced yet.
// Loop only.
func (x *Exchange) Pending() bool { return x.state == exPending && !x.c.closed }

// Streaming reports whether the exchange is streaming its response (Start
// succeeded and End has not run). Loop only.
func (x *Exchange) Streaming() bool { return x.state == exStreaming && !x.c.closed }

// Closed reports whether the exchange's connection is closed or closing
// at once (nothing more reaches the client). Loop only.
func (x *Exchange) Closed() bool { return x.c.closed || x.c.aborted }

// Respond produces a complete response with Content-Length. hdrs are name,
// value pairs (Date, Content-Length, Connection and nosniff are the
// server's). Loop only.
func (x *Exchange) Respond(status int, hdrs []string, body []byte) { x.respond(status, hdrs, body) }

// Start produces the head of a streamed response (chunked, or until the
// connection closes for an HTTP/1.0 client); it reports whether chunks may
// follow (not for HEAD, a 204 or 304, or a gone connection). Loop only.
func (x *Exchange) Start(status int, hdrs []string) bool {
	x.start(status, hdrs)
	return x.Streaming()
}

// Writing several chunks of a streamed response with one write, without
// intermediate copies (loop only):
//
//	b, ok := x.StreamBuf()
//	mark := len(b); b = x.ChunkOpen(b); b = appendData(b); b = x.ChunkClose(b, mark)
//	... more chunks ...
//	x.Commit(b)

// StreamBuf returns the buffer the next chunks are appended to; ok is
// false when the exchange is not streaming. Give it back with Commit.
func (x *Exchange) StreamBuf() (b []byte, ok bool) { return x.streamBuf() }

// ChunkOpen starts a chunk at len(b).
func (x *Exchange) ChunkOpen(b []byte) []byte { return x.chunkOpen(b) }

// ChunkClose finishes the chunk opened at mark (an empty one is removed, so
// it never ends the stream by accident).
func (x *Exchange) ChunkClose(b []byte, mark int) []byte { return x.chunkClose(b, mark) }

// Commit hands the bytes appended to StreamBuf's buffer to the connection.
func (x *Exchange) Commit(b []byte) { x.commit(b) }

// End finishes a streamed response. Loop only.
func (x *Exchange) End() { x.end() }

// OutboundRoom returns how many more bytes the connection should be given
// now: half its outbound cap (Config.MaxOutbound) less what is still
// queued for it, or -1 when that is nothing (or the connection is closed).
// A layer that writes a backlog in slices paces itself by it. Loop only.
func (x *Exchange) OutboundRoom() int {
	c := x.c
	if c.closed {
		return -1
	}
	if b := c.l.srv.cfg.MaxOutbound/2 - c.gc.OutboundBuffered() - c.pending; b > 0 {
		return b
	}
	return -1
}

// CloseSlow closes the connection as a peer that does not read fast
// enough (counted as such in the server's figures). Loop only.
func (x *Exchange) CloseSlow() { x.c.closeSlow(x.c.gc.OutboundBuffered() + x.c.pending) }

// RedactParam makes the access log write only the first keep bytes of the
// value of every query parameter called name, followed by ".REDACTED": a
// layer whose requests carry a credential (comet's p_id) keeps it out of
// the logs. Call it before Start.
func (s *Server) RedactParam(name string, keep int) {
	s.hookMu.Lock()
	s.redact = append(s.redact, redaction{name, keep})
	s.hookMu.Unlock()
}

type redaction struct {
	name string
	keep int
}
