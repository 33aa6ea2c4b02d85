package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/cometplay/cometplay/httpcodec"
)

// loop is the engine's side of one gnet event loop: an inbox through which
// any goroutine hands work to the loop, and scratch space only the loop uses.
//
// Posting appends to a slice under a mutex and, when the loop is not already
// scheduled, asks gnet to run the inbox once (EventLoop.Execute). A burst of
// posts (one published event fanned out to thousands of listeners) therefore
// costs one wake-up per loop.
//
// The inbox has two lanes. The engine's own work (a Handler's response and
// chunks, timers, closes) and a protocol layer's small deliveries
// (Loop.PostUrgent: comet's events to a few recipients) are urgent: each
// run does all of it first. A protocol layer's other tasks (Loop.Post:
// comet's fan-outs to many listeners) are bulk:
// a run does at most bulkSlice of them, then hands the loop back to gnet,
// which reads and serves the sockets that are ready before the next run
// (posted by the server's kicker goroutine, not by the run itself). A
// fan-out to thousands of listeners thus never holds a response, a request,
// a room's move or another connection's traffic behind all of it.
type Loop struct {
	srv *Server
	el  gnet.EventLoop
	idx int

	mu        sync.Mutex
	ops       []op        // urgent lane; guarded by mu
	bulk      []op        // bulk lane, from bulkHead on; guarded by mu
	bulkHead  int         // guarded by mu
	laneUse   capUse      // how the bulk lane is used, drain to drain; guarded by mu
	scheduled bool        // guarded by mu: an Execute is pending
	urgent    atomic.Bool // ops is not empty: a bulk slice stops to run it

	// Loop-only state below: touched only on this loop's goroutine.
	spare     []op
	bulkRun   []op                // the bulk slice being run
	opsUse    capUse              // how the urgent lane's slices are used (they alternate with spare)
	runCap    int                 // capacity of the urgent slice being run (neither ops nor spare meanwhile; tests read it)
	bulkUse   capUse              // how bulkRun is used
	jobs      *jobBatch           // Handlers of cur's requests parsed so far, for one worker
	hdrBuf    []string            // a response's fields with its content type
	parsers   []*httpcodec.Parser // free parsers; a connection holds one only while a request is partial
	inBufs    [][]byte            // free small buffers for bytes a connection holds (conn.in)
	exchanges []*Exchange         // free exchanges (finished, unowned)
	cur       *conn               // connection whose requests are being parsed and served (conn.batch)
	out       *conn               // connection whose output is being collected in wbuf: cur's, or a run of the inbox's
	wbuf      []byte              // output batch of out, written once at the end of OnTraffic or of its part of a run
	scratch   []byte              // response assembly outside OnTraffic
	conns     *conn               // open connections (for draining at shutdown)
	now       time.Time           // time at the start of the current batch (clock)
	nowSet    bool
}

// flushOut writes the output collected for l.out, if any, and stops
// collecting.
func (l *Loop) flushOut() {
	c := l.out
	if c == nil {
		return
	}
	l.out = nil
	c.flush()
	c.flushed()
}

// clock returns the time, read once per batch of work on the loop (an
// OnTraffic call or a drained inbox): responses of one batch share a Date.
func (l *Loop) clock() time.Time {
	if !l.nowSet {
		l.now, l.nowSet = time.Now(), true
	}
	return l.now
}

func (l *Loop) link(c *conn) {
	c.next = l.conns
	if l.conns != nil {
		l.conns.prev = c
	}
	l.conns = c
}

func (l *Loop) unlink(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.conns == c {
		l.conns = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// opKind says what an op does on the loop.
type opKind uint8

const (
	opRespond   opKind = iota + 1 // ex: complete response (status, hdrs, data)
	opStart                       // ex: head of a streamed response (status, hdrs)
	opChunk                       // ex: one chunk (data)
	opEnd                         // ex: end of a streamed response
	opClose                       // c: close the connection
	opSlowClose                   // c: close it, its stream's queued bytes passed MaxOutbound
	opTimer                       // c: connection timer fired (gen)
	opTask                        // task.RunOnLoop(gen): a protocol layer's work (Loop.Post)
	opResume                      // c: resume parsing pipelined requests (see conn.complete)
	opRaw                         // ex: bytes of a relayed response (data; status 1: the last)
)

// op is one unit of work posted to a loop. It is a value type so that posting
// does not allocate beyond the inbox slice's growth.
type op struct {
	kind   opKind
	status int
	gen    uint32
	c      *conn
	ex     *Exchange
	hdrs   []string
	box    *[]string // hdrs's pool box, returned once the head is written (putHeaders)
	ctype  string    // opRespond: Content-Type, appended to hdrs on the loop
	data   []byte
	task   LoopTask
}

// bulkSlice is the most bulk tasks one run of the inbox does before the loop
// serves its sockets again: a few hundred writes, about a millisecond.
const bulkSlice = 256

// post hands o to the loop's urgent lane. Safe for concurrent use; never
// blocks on I/O.
func (l *Loop) post(o op) {
	l.mu.Lock()
	l.ops = append(l.ops, o)
	l.urgent.Store(true)
	l.scheduleLocked()
}

// postAll hands ops to the loop's urgent lane at once. Safe for concurrent
// use.
func (l *Loop) postAll(ops []op) {
	l.mu.Lock()
	l.ops = append(l.ops, ops...)
	l.urgent.Store(true)
	l.scheduleLocked()
}

// postBulk hands tasks to the loop's bulk lane. Safe for concurrent use.
func (l *Loop) postBulk(o ...op) {
	l.mu.Lock()
	l.bulk = append(l.bulk, o...)
	l.scheduleLocked()
}

// scheduleLocked asks gnet to run the inbox unless a run is pending, and
// unlocks l.mu.
func (l *Loop) scheduleLocked() {
	if l.scheduled {
		l.mu.Unlock()
		return
	}
	l.scheduled = true
	l.mu.Unlock()
	l.execute()
}

// execute asks gnet to run the inbox (l.scheduled is set).
func (l *Loop) execute() {
	if err := l.el.Execute(context.Background(), l); err != nil {
		// The engine is shutting down: its connections are being closed and
		// their exchanges notified by OnClose, so the work is moot.
		l.mu.Lock()
		l.ops = l.ops[:0]
		clear(l.bulk)
		l.bulk, l.bulkHead = l.bulk[:0], 0
		l.scheduled = false
		l.mu.Unlock()
	}
}

// Run drains the urgent lane and a slice of the bulk lane. It implements
// gnet.Runnable and runs on the loop; when bulk work remains it asks for
// another run, which gnet makes after serving the sockets that are ready.
func (l *Loop) Run(context.Context) error {
	l.mu.Lock()
	ops := l.ops
	l.ops = l.spare[:0]
	l.urgent.Store(false)
	bulk := l.bulkRun[:0]
	if n := len(l.bulk) - l.bulkHead; n > 0 {
		k := min(n, bulkSlice)
		bulk = append(bulk, l.bulk[l.bulkHead:l.bulkHead+k]...)
		clear(l.bulk[l.bulkHead : l.bulkHead+k])
		l.bulkHead += k
		if l.bulkHead == len(l.bulk) {
			l.bulk, l.bulkHead = l.laneUse.keep(l.bulk), 0
		}
	}
	more := l.bulkHead < len(l.bulk)
	l.scheduled = more // a run stays pending for the rest
	l.mu.Unlock()
	l.nowSet = false
	l.runUrgent(ops)
	for i := range bulk {
		l.exec(&bulk[i])
		bulk[i] = op{}
		// A response posted meanwhile does not wait for the slice's end.
		if i%urgentCheck == urgentCheck-1 && l.urgent.Load() {
			l.mu.Lock()
			ops := l.ops
			l.ops = l.spare[:0]
			l.urgent.Store(false)
			l.mu.Unlock()
			l.runUrgent(ops)
		}
	}
	l.bulkRun = l.bulkUse.keep(bulk)
	if more {
		// Not l.execute() from here: gnet runs a task posted by a task in
		// the same pass over its queue, so the loop would run the whole lane
		// before it looked at its sockets again. The kicker posts the next
		// run from its own goroutine, by which time the loop is (nearly
		// always) back in epoll_wait, serving what is ready first.
		select {
		case l.srv.kick <- l:
		default: // not reached: one pending run per loop, room for each
			l.execute()
		}
	}
	return nil
}

// urgentCheck is how many bulk tasks run between two looks at the urgent
// lane: a response waits for at most that many deliveries.
const urgentCheck = 16

// runUrgent runs ops, urgent-lane work taken from the inbox, and keeps
// their slice as the next spare.
func (l *Loop) runUrgent(ops []op) {
	l.runCap = cap(ops)
	for i := range ops {
		// The responses, chunks and ends a connection's Handlers posted
		// are written together, with one write.
		var c *conn
		if ops[i].ex != nil {
			c = ops[i].ex.c
		}
		if l.out != c {
			l.flushOut()
			l.out = c
		}
		l.exec(&ops[i])
		ops[i] = op{}
	}
	l.flushOut()
	// The two slices alternate: l.ops is the other one (or nil), never ops.
	l.spare = l.opsUse.keep(ops)
}

// keptOps is the capacity of an inbox slice a loop keeps for good (32 KiB
// of ops); a slice grown larger by a burst (a fan-out to thousands, a
// crowd reconnecting) is let go once keepIdleRuns runs in a row (for the
// bulk lane, drains) have used under a quarter of it, and one past
// dropOps (8 MiB) at once. Kept, the bursts of a ramp held a megabyte of
// pointer-bearing arrays the collector scanned at every cycle.
const (
	keptOps      = 256
	keepIdleRuns = 1024
	dropOps      = 1 << 16
)

// capUse counts the runs in a row that used little of a reused slice.
type capUse struct{ idle uint32 }

// keep returns s emptied for reuse, or nil when it is large and has been
// little used for long.
func (u *capUse) keep(s []op) []op {
	switch {
	case cap(s) <= keptOps:
		return s[:0] // (the urgent lane's other array may be a large one)
	case cap(s) > dropOps:
		u.idle = 0
		return nil // a rare huge fan-out: let its array go at once
	}
	if len(s) >= cap(s)/4 {
		u.idle = 0
		return s[:0]
	}
	if u.idle++; u.idle < keepIdleRuns {
		return s[:0]
	}
	u.idle = 0
	return nil
}

// kicker posts the next run of each loop whose bulk lane is not done (see
// Run), until the server stops. One goroutine per server.
func (s *Server) kicker() {
	for {
		select {
		case l := <-s.kick:
			l.execute()
		case <-s.done:
			return
		}
	}
}

func (l *Loop) exec(o *op) {
	switch o.kind {
	case opTask:
		o.task.RunOnLoop(o.gen)
		return
	case opClose:
		o.c.closeNow()
		return
	case opSlowClose:
		o.c.closeSlow(0)
		return
	case opTimer:
		o.c.timerFired(o.gen)
		return
	case opResume:
		if !o.c.closed && o.c.head == nil {
			o.c.complete(nil)
		}
		return
	}
	ex := o.ex
	if ex.gen != o.gen {
		// The response ended before this op came (a HEAD or a 204 ends
		// at its head), and the loop reuses the exchange: drop it.
		return
	}
	if o.kind == opChunk {
		// The chunk has left the inbox (Stream.Write bounds what is in it).
		if st, ok := streamOf(ex); ok {
			st.posted.Add(-int64(len(o.data)))
		}
	}
	if ex.c.closed || ex.c.aborted {
		return // nothing more reaches a connection being closed
	}
	switch o.kind {
	case opRespond:
		hdrs := o.hdrs
		if o.ctype != "" {
			hdrs = append(append(l.hdrBuf[:0], o.hdrs...), "Content-Type", o.ctype)
			l.hdrBuf = hdrs[:0]
		}
		ex.respond(o.status, hdrs, o.data)
	case opStart:
		ex.start(o.status, o.hdrs)
	case opChunk:
		ex.chunk(o.data)
	case opEnd:
		ex.end()
	case opRaw:
		ex.raw(o.data, o.status == 1)
	}
	if o.box != nil {
		putHeaders(o.box) // the head is written: nothing reads the fields now
	}
}

// getExchange returns a free exchange (its fields are set by the caller).
func (l *Loop) getExchange() *Exchange {
	if n := len(l.exchanges); n > 0 {
		ex := l.exchanges[n-1]
		l.exchanges[n-1] = nil
		l.exchanges = l.exchanges[:n-1]
		return ex
	}
	return new(Exchange)
}

// maxFreeExchanges is the most finished exchanges a loop keeps for reuse:
// enough for a hundred connections with 16 pipelined requests on each of
// two loops (an exchange is under 100 bytes).
const maxFreeExchanges = 1024

// putExchange recycles a finished exchange that nothing references any more.
func (l *Loop) putExchange(ex *Exchange) {
	*ex = Exchange{gen: ex.gen + 1}
	if len(l.exchanges) < maxFreeExchanges {
		l.exchanges = append(l.exchanges, ex)
	}
}

func (l *Loop) getParser() *httpcodec.Parser {
	if n := len(l.parsers); n > 0 {
		p := l.parsers[n-1]
		l.parsers = l.parsers[:n-1]
		return p
	}
	return httpcodec.NewParser(l.srv.cfg.Limits)
}

// inBufSize is the size of the buffers a loop recycles for the bytes a
// connection holds (a request head split over two reads fits); larger ones
// are left to the collector.
const inBufSize = 4 << 10

func (l *Loop) getInBuf() []byte {
	if n := len(l.inBufs); n > 0 {
		b := l.inBufs[n-1]
		l.inBufs = l.inBufs[:n-1]
		return b
	}
	return make([]byte, 0, inBufSize)
}

func (l *Loop) putInBuf(b []byte) {
	if cap(b) == inBufSize && len(l.inBufs) < 64 {
		l.inBufs = append(l.inBufs, b[:0])
	}
}

func (l *Loop) putParser(p *httpcodec.Parser) {
	p.Reset()
	if len(l.parsers) < 64 {
		l.parsers = append(l.parsers, p)
	}
}
