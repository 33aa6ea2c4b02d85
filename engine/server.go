package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cometplay/cometplay/internal/netaddr"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/cometplay/cometplay/engine/internal/webfs"
	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/timewheel"
)

// Server is an HTTP/1.1 server on gnet event loops. Create it with New,
// register handlers, then Start it. All methods are safe for concurrent use.
type Server struct {
	cfg         Config
	log         *slog.Logger
	maxConns    int
	requestHold int // the bytes one request still arriving may hold (see requestHold)

	routes  atomic.Pointer[router]
	routeMu sync.Mutex // serializes registrations

	wheel      *timewheel.Wheel
	kick       chan *Loop // loops whose bulk lane wants another run: see Loop.Run
	workers    *workerPool
	static     *webfs.FS
	staticMemo staticMemo

	loopsMu sync.Mutex
	loops   []*Loop

	eng      gnet.Engine
	addr     string
	reserve  net.Listener // holds the port until gnet's listener is bound
	booted   chan struct{}
	done     chan struct{} // closed when gnet.Run returns
	runErr   error         // gnet.Run's result, set before done closes
	bootErr  error         // OnBoot's refusal (another listener on the port), set before done closes
	started  atomic.Bool
	draining atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}

	hookMu        sync.Mutex
	shutdownHooks []func()

	conns         atomic.Int64
	addrMu        sync.Mutex
	perAddr       netaddr.Counts // open connections per client address key (MaxConnsPerAddr)
	stats         serverStats
	routeStats    routeStats     // responses by route and status, handler latency (metrics.go)
	statsSections []statsSection // the layers' figures for /debug/stats (AddStats); guarded by hookMu
	redact        []redaction    // parameters the access log redacts (RedactParam); set before Start
}

// New returns a Server configured by cfg (see Config for the defaults), or an
// error naming an invalid setting.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	limit, err := openFileLimit()
	if err != nil {
		return nil, fmt.Errorf("engine: reading the open-file limit: %w", err)
	}
	capConns := int(limit) - fdReserve - 4*cfg.Loops
	if capConns < 16 {
		return nil, fmt.Errorf("engine: open-file limit %d too low (need at least %d)", limit, fdReserve+4*cfg.Loops+16)
	}
	if cfg.MaxConns == 0 || cfg.MaxConns > capConns {
		cfg.MaxConns = capConns
	}
	s := &Server{
		cfg:         cfg,
		log:         slog.New(LimitLogs(cfg.Logger.Handler(), cfg.LogLimit)),
		maxConns:    cfg.MaxConns,
		requestHold: requestHold(cfg.MaxInbound, cfg.Limits),
		booted:      make(chan struct{}),
		done:        make(chan struct{}),
		stopped:     make(chan struct{}),
		perAddr:     make(netaddr.Counts),
	}
	s.routeStats.init()
	s.routes.Store(&router{exact: map[string][]route{}})
	if cfg.Static != nil || cfg.Webroot != "" {
		s.static, err = webfs.New(webfs.Options{Embedded: cfg.Static, Webroot: cfg.Webroot, EmbeddedModTime: cfg.StaticModTime,
			EmbeddedCSP: cfg.PageCSP, WebrootCSP: cfg.WebrootCSP})
		if err != nil {
			return nil, fmt.Errorf("engine: static files: %w", err)
		}
	}
	s.registerBuiltins()
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Logger returns the server's logger: Config.Logger, its warnings and errors
// limited by Config.LogLimit (LimitLogs).
func (s *Server) Logger() *slog.Logger { return s.log }

// Handle registers h for requests whose path is exactly path. method "" means
// any method; "GET" also serves HEAD (the body is dropped). A later
// registration for the same method and path replaces the earlier one. A
// method that no route of the path takes is answered 405 with Allow, or 501
// when the server does not recognise it (see router.knows).
func (s *Server) Handle(method, path string, h Handler) {
	s.addRoute(method, path, false, route{h: h})
}

// HandlePrefix registers h for every path starting with prefix that no exact
// route and no longer prefix claims.
func (s *Server) HandlePrefix(method, prefix string, h Handler) {
	s.addRoute(method, prefix, true, route{h: h})
}

func (s *Server) addRoute(method, pattern string, prefix bool, r route) {
	if pattern == "" || pattern[0] != '/' {
		panic("engine: route pattern must start with '/': " + strconv.Quote(pattern))
	}
	r.id = s.routeStats.id(pattern, r.h != nil) // the route label of its metrics
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	rt := s.routes.Load().clone()
	rt.add(method, pattern, prefix, r)
	s.routes.Store(rt)
}

// RegisterOnShutdown registers fn to run at the start of Shutdown, before
// connections are drained (the Comet layer sends "abort" to its listeners).
func (s *Server) RegisterOnShutdown(fn func()) {
	s.hookMu.Lock()
	s.shutdownHooks = append(s.shutdownHooks, fn)
	s.hookMu.Unlock()
}

// Start binds the address and starts the event loops and workers. It returns
// once the server accepts connections, or an error wrapping
// syscall.EADDRINUSE when another socket listens on the address.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("engine: server already started")
	}
	addr, err := s.reservePort(s.cfg.Addr)
	if err != nil {
		return err
	}
	s.addr = addr
	s.wheel = timewheel.New(50*time.Millisecond, 4096)
	s.workers = newWorkerPool(s, s.cfg.Workers, s.cfg.WorkQueue)
	s.kick = make(chan *Loop, s.cfg.Loops)
	go s.kicker()
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		// One listener per loop: each loop accepts for itself and runs OnOpen
		// right after accept, so at most one accepted socket per loop is not
		// yet counted against MaxConns (see fdReserve).
		gnet.WithReusePort(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
	}
	if d := s.cfg.KeepAlive; d > 0 {
		// Set on the listeners; accepted sockets inherit them (gnet sets
		// them on each where the platform does not).
		opts = append(opts, gnet.WithTCPKeepAlive(d), gnet.WithTCPKeepInterval(d/keepAliveProbes), gnet.WithTCPKeepCount(keepAliveProbes))
	}
	go func() {
		err := gnet.Run(&gnetEvents{s: s}, "tcp://"+addr, opts...)
		if s.bootErr != nil {
			err = s.bootErr
		} else if err == nil && !s.draining.Load() {
			// gnet.Run returns nil even when a loop died on its own (an
			// accept error such as EMFILE stops the whole engine): Wait
			// must not report that as a clean stop.
			err = errEngineStopped
		}
		s.runErr = err
		close(s.done)
	}()
	select {
	case <-s.booted:
		return nil
	case <-s.done:
		if s.reserve != nil {
			s.reserve.Close()
		}
		s.wheel.Stop()
		s.workers.stop(context.Background())
		if s.runErr == nil {
			return errors.New("engine: stopped before booting")
		}
		return s.runErr
	}
}

// gnetEvents receives gnet's callbacks for a Server, so that they are not
// part of the Server's API.
type gnetEvents struct {
	gnet.BuiltinEventEngine
	s *Server
}

// errEngineStopped is Wait's error when the event loops stopped without
// Shutdown.
var errEngineStopped = errors.New("engine: event loops stopped without Shutdown (see the log)")

// Addr returns the address the server listens on (after Start).
func (s *Server) Addr() string { return s.addr }

// MaxConns returns the effective connection cap.
func (s *Server) MaxConns() int { return s.maxConns }

// Wait blocks until the event loops have stopped (after Shutdown, or when
// gnet fails) and returns gnet's exit error, or an error when they stopped
// without Shutdown.
func (s *Server) Wait() error {
	<-s.done
	return s.runErr
}

// OnBoot implements gnet.EventHandler.
func (h *gnetEvents) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.s
	if err := soleListener(s.cfg.Addr, s.addr); err != nil {
		// gnet.Run returns at once; Start closes the reservation.
		s.bootErr = err
		return gnet.Shutdown
	}
	s.eng = eng
	if s.reserve != nil {
		// gnet's first listener is bound; the others bind with SO_REUSEPORT.
		s.reserve.Close()
		s.reserve = nil
	}
	close(s.booted)
	s.log.Info("listening", "addr", s.addr, "loops", s.cfg.Loops, "max_conns", s.maxConns)
	return gnet.None
}

// refused503 is written to connections over the cap.
var refused503 = []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" + nosniffField + "Retry-After: 1\r\nContent-Length: 25\r\n\r\nserver at connection cap\n")

// refusedAddr503 is written to connections over the per-address cap.
var refusedAddr503 = []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" + nosniffField + "Retry-After: 5\r\nContent-Length: " +
	strconv.Itoa(len(refusedAddrBody)) + "\r\n\r\n" + refusedAddrBody)

const refusedAddrBody = "too many connections from this address\n"

// OnOpen implements gnet.EventHandler.
func (h *gnetEvents) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	if n := s.conns.Add(1); n > int64(s.maxConns) || s.draining.Load() {
		s.conns.Add(-1)
		s.stats.refused.Add(1)
		return refused503, gnet.Close
	}
	var key netip.Addr
	if s.cfg.MaxConnsPerAddr >= 0 {
		if a, ok := gc.RemoteAddr().(*net.TCPAddr); ok {
			key = netaddr.Key(a.AddrPort().Addr())
			s.addrMu.Lock()
			ok = s.perAddr.Take(key, s.cfg.MaxConnsPerAddr)
			s.addrMu.Unlock()
			if !ok {
				s.conns.Add(-1)
				s.stats.refusedAddr.Add(1)
				return refusedAddr503, gnet.Close
			}
		}
	}
	s.stats.accepted.Add(1)
	if d := s.cfg.KeepAlive; d > 0 {
		if err := setUserTimeout(gc.Fd(), 2*d); err != nil {
			s.log.Debug("TCP_USER_TIMEOUT not set", "err", err)
		}
	}
	l := s.loopFor(gc.EventLoop())
	c := newConn(s, l, gc)
	c.addrKey = key
	gc.SetContext(c)
	l.link(c)
	c.setTimer(timerHeader, s.cfg.HeaderTimeout)
	return nil, gnet.None
}

// OnClose implements gnet.EventHandler.
func (h *gnetEvents) OnClose(gc gnet.Conn, err error) gnet.Action {
	s := h.s
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None // refused at the cap
	}
	gc.SetContext(nil)
	s.conns.Add(-1)
	if c.addrKey.IsValid() {
		s.addrMu.Lock()
		s.perAddr.Give(c.addrKey)
		s.addrMu.Unlock()
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) { // no argument boxing unless logged
		s.log.Debug("connection closed", "remote", c.remote(), "reason", closeReason(c, err))
	}
	c.onClosed()
	return gnet.None
}

// OnTraffic implements gnet.EventHandler.
func (h *gnetEvents) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.Close
	}
	return c.onTraffic()
}

// loopFor returns the engine's loop for a gnet event loop, creating it on
// first use.
func (s *Server) loopFor(el gnet.EventLoop) *Loop {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	for _, l := range s.loops {
		if l.el == el {
			return l
		}
	}
	l := &Loop{srv: s, el: el, idx: len(s.loops)}
	s.loops = append(s.loops, l)
	return l
}

func (s *Server) allLoops() []*Loop {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	return append([]*Loop(nil), s.loops...)
}

// serve routes one parsed request. Loop only.
func (s *Server) serve(ex *Exchange, req *httpcodec.Request) {
	if s.cfg.AccessLog {
		s.log.Debug("request", "method", string(req.Method), "target", redactTarget(req.Target, s.redact), "remote", ex.c.remote())
	}
	rt := s.routes.Load()
	r, found, ok, allow := rt.match(req.Method, req.Path)
	ex.route = r.id // metrics: requests by route and status
	switch {
	case ok && r.lh != nil:
		r.lh(ex, req)
	case ok:
		s.dispatchWorker(ex, req, r.h)
	case found:
		s.RefuseMethod(ex, req.Method, allow)
	case !rt.knows(req.Method): // 501 whatever the resource; counted as no route
		ex.route = routeNotFound
		ex.respondError(http.StatusNotImplemented)
	case s.static != nil:
		ex.route = routeStatic
		s.serveStatic(ex, req)
	default:
		ex.route = routeNotFound
		ex.respondError(http.StatusNotFound)
	}
}

// RefuseMethod answers a request whose method the resource does not allow,
// allow listing those it does: 405 when the server recognises the method,
// 501 when it does not (a standard method, or one a route was registered
// for, is recognised). Loop only: a LoopHandler uses it.
func (s *Server) RefuseMethod(ex *Exchange, method []byte, allow string) {
	if !s.routes.Load().knows(method) {
		ex.respondError(http.StatusNotImplemented)
		return
	}
	ex.respond(http.StatusMethodNotAllowed, []string{"Allow", allow, "Content-Type", "text/plain; charset=utf-8"}, []byte("405 Method Not Allowed\n"))
}

// dispatchWorker copies req and queues it for a worker; a full queue is
// answered 503 at once.
func (s *Server) dispatchWorker(ex *Exchange, req *httpcodec.Request, h Handler) {
	hc := &handlerCall{st: Stream{ex: ex, c: ex.c, gen: ex.gen}}
	st, r := &hc.st, &hc.req
	ex.owner = (*streamOwner)(st)
	copyRequest(r, hc.inline[:], req, s.remoteFor(ex.c, req))
	j := job{st: st, req: r, h: h, route: ex.route}
	l := ex.c.l
	if l.jobs == nil {
		l.jobs = newJobBatch(l)
	}
	st.batch = &l.jobs.ops // while its Handler runs; the worker clears it (not shared before submit)
	l.jobs.jobs = append(l.jobs.jobs, j)
	if l.cur != ex.c {
		s.submitJobs(l) // not in a batch of a connection's requests
	}
	// Otherwise a connection's requests parsed together go to one worker
	// together when the batch is parsed (conn.batch): one hand-off instead
	// of one per request.
}

// jobBatch is the Handlers of a connection's requests parsed together, for
// one worker, and the responses they gather.
type jobBatch struct {
	ops  opBatch
	jobs []job
}

// jobBatches recycles jobBatches with their two slices, which a pipelined
// connection otherwise grows afresh for every batch (about 200 bytes a
// request in responses alone).
var jobBatches = sync.Pool{New: func() any { return new(jobBatch) }}

func newJobBatch(l *Loop) *jobBatch {
	jb := jobBatches.Get().(*jobBatch)
	jb.ops.l = l
	return jb
}

// recycle returns a finished batch to the pool: every stream of it has
// had handlerReturned (its batch pointer cleared) or was moved to another
// batch, and its ops are flushed.
func (jb *jobBatch) recycle() {
	if cap(jb.jobs) > 256 || cap(jb.ops.ops) > 256 {
		return // an unusual batch: leave its large slices to the collector
	}
	clear(jb.jobs)
	jb.jobs = jb.jobs[:0]
	jb.ops.l = nil
	jobBatches.Put(jb)
}

// submitJobs queues the loop's gathered jobs for one worker; a full queue
// is answered 503 at once, for each of them. Loop only.
func (s *Server) submitJobs(l *Loop) {
	jb := l.jobs
	if jb == nil {
		return
	}
	l.jobs = nil // the worker owns it now
	if s.workers.submit(jb) {
		return
	}
	for _, j := range jb.jobs {
		s.stats.overloaded.Add(1)
		j.st.batch = nil
		ex := j.st.ex
		ex.owner = nil
		ex.respond(http.StatusServiceUnavailable, []string{"Retry-After", "1", "Content-Type", "text/plain; charset=utf-8"}, []byte("503 server busy\n"))
	}
	jb.recycle()
}

// handlerCall is what a Handler gets, in one allocation: its Stream, its
// Request, and room for the Request's header fields (most requests from
// API clients have fewer than inlineFields). The response's fields travel
// in a pooled slice (headerSlices) instead.
type handlerCall struct {
	st     Stream
	req    Request
	inline [inlineFields]headerField
}

// inlineFields is the room a handlerCall has for a request's fields: an API
// client's few (curl sends three; a browser's ten or so take a slice of
// their own). It keeps a handlerCall within the runtime's 384-byte size
// class (TestHandlerCallSize), well under the 512 bytes past which an
// object with pointers costs a type header: one cheap allocation a request.
const inlineFields = 4

// copyRequest copies req into r: one string holds every part of it (method,
// target, path, query, host, header names and values), the body its own
// slice.
func copyRequest(r *Request, inline []headerField, req *httpcodec.Request, remote string) {
	n := len(req.Method) + len(req.Target) + len(req.RawQuery) + len(req.Host)
	// The path is the target's start when nothing in it is escaped: the usual.
	samePath := bytes.HasPrefix(req.Target, req.Path)
	if !samePath {
		n += len(req.Path)
	}
	for _, h := range req.Headers {
		n += len(h.Name) + len(h.Value)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, req.Method...)
	buf = append(buf, req.Target...)
	if !samePath {
		buf = append(buf, req.Path...)
	}
	buf = append(buf, req.RawQuery...)
	buf = append(buf, req.Host...)
	for _, h := range req.Headers {
		buf = append(buf, h.Name...)
		buf = append(buf, h.Value...)
	}
	// One string for all of them, as strings.Builder makes it: buf is
	// never written again.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	at := 0
	next := func(k int) string {
		s := all[at : at+k]
		at += k
		return s
	}
	r.Method = next(len(req.Method))
	r.Target = next(len(req.Target))
	if samePath {
		r.Path = r.Target[:len(req.Path)]
	} else {
		r.Path = next(len(req.Path))
	}
	r.RawQuery = next(len(req.RawQuery))
	r.Host = next(len(req.Host))
	fields := inline[:0]
	if len(req.Headers) > len(inline) {
		fields = make([]headerField, 0, len(req.Headers))
	}
	for _, h := range req.Headers {
		name := next(len(h.Name))
		fields = append(fields, headerField{name, next(len(h.Value))})
	}
	r.Proto = "HTTP/1.1"
	if req.ProtoMinor == 0 {
		r.Proto = "HTTP/1.0"
	}
	r.fields = fields
	r.RemoteAddr = remote
	if len(req.Body) > 0 {
		r.Body = append([]byte(nil), req.Body...)
	}
}

// Shutdown stops the server gracefully: new connections are refused, the
// shutdown hooks run (Comet listeners get "abort"), idle connections close,
// in-flight responses finish, and whatever is left when ctx ends (or
// Config.ShutdownTimeout passes, when ctx has no deadline) is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() {
		return errors.New("engine: server not started")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	var err error
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		s.hookMu.Lock()
		hooks := slicesClone(s.shutdownHooks)
		s.hookMu.Unlock()
		for _, fn := range hooks {
			fn()
		}
		for _, l := range s.allLoops() {
			l.post(op{kind: opTask, task: drainTask{l}})
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
	wait:
		for s.conns.Load() > 0 {
			select {
			case <-ctx.Done():
				s.log.Warn("shutdown deadline reached; closing remaining connections", "open", s.conns.Load())
				break wait
			case <-tick.C:
			}
		}
		// Engine.Stop signals the loops and then polls for their exit every
		// 500 ms; gnet.Run returning (s.done) says the same at once. So
		// signal with a context already done and wait on s.done instead.
		signal, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.eng.Stop(signal) // context.Canceled: signalled, not waited for
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			err = errors.New("engine: event loops did not stop")
		}
		s.wheel.Stop()
		// A handler that never returns must not hold Shutdown past its
		// deadline: stop waiting for the workers when ctx ends.
		if !s.workers.stop(ctx) {
			s.log.Warn("shutdown deadline reached with handlers still running")
		}
		close(s.stopped)
		s.log.Info("stopped", "addr", s.addr)
	})
	return err
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// drainTask marks every connection of a loop as closing and closes the idle ones.
type drainTask struct{ l *Loop }

func (d drainTask) RunOnLoop(uint32) {
	for c := d.l.conns; c != nil; {
		next := c.next
		c.closing = true
		switch {
		case c.head != nil:
			// Close after the last response in flight, not the first:
			// complete() closes as soon as it retires an exchange that is
			// not keep-alive, which would drop the pipelined ones behind it.
			c.tail.keepAlive = false
		case c.timerKind == timerFlush || c.timerKind == timerLinger:
			// Already closing after its last response; it ends by itself.
		case c.gc.OutboundBuffered() > 0 || c.unacked() > 0:
			// Nothing to serve, but a response is still on its way to a
			// slow reader: close once it is delivered, not now.
			c.finishClose()
		default:
			c.closeNow()
		}
		c = next
	}
}

// statusFor maps a codec error to the status answered before closing (the
// one place where this mapping lives).
func statusFor(err error) int {
	switch {
	case errors.Is(err, httpcodec.ErrRequestLineTooLong):
		return http.StatusRequestURITooLong
	case errors.Is(err, httpcodec.ErrHeaderTooLarge), errors.Is(err, httpcodec.ErrTooManyHeaders):
		return http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, httpcodec.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, httpcodec.ErrUnsupportedVersion):
		return http.StatusHTTPVersionNotSupported
	case errors.Is(err, httpcodec.ErrNotImplemented):
		return http.StatusNotImplemented
	default:
		return http.StatusBadRequest
	}
}

// workerPool runs Handlers on a fixed set of goroutines fed by a bounded queue.
// An item of the queue is the requests of one connection parsed in one batch
// (pipelined): one worker runs them in order, handing the rest back to the
// queue when one takes longer than handlerSlice, so that a slow Handler
// holds up only its own connection's, which wait for its response anyway.
type workerPool struct {
	srv  *Server
	jobs chan *jobBatch
	wg   sync.WaitGroup
}

// handlerSlice is how long a worker runs a batch's Handlers before it hands
// the rest to other workers.
const handlerSlice = time.Millisecond

type job struct {
	st    *Stream
	req   *Request
	h     Handler
	route uint16 // metrics label of the route
}

func newWorkerPool(s *Server, n, queue int) *workerPool {
	p := &workerPool{srv: s, jobs: make(chan *jobBatch, queue)}
	p.wg.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// submit queues jobs without blocking; false means the queue is full.
func (p *workerPool) submit(jb *jobBatch) bool {
	select {
	case p.jobs <- jb:
		return true
	default:
		return false
	}
}

// stop closes the queue and waits for the workers to finish what they run,
// until ctx ends; it reports whether they all did. Workers still running
// afterwards exit when their handlers return.
func (p *workerPool) stop(ctx context.Context) bool {
	close(p.jobs)
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *workerPool) work() {
	defer p.wg.Done()
	for jb := range p.jobs {
		p.runBatch(jb)
	}
}

// runBatch runs a batch's Handlers in order and posts their responses
// together. Past handlerSlice of Handlers it hands the rest to another
// worker (sharing the batch's ops: opBatch locks).
func (p *workerPool) runBatch(jb *jobBatch) {
	jobs := jb.jobs
	// One monotonic clock read a Handler (time.Since reads only that
	// clock; time.Now reads the wall clock too): a Handler's end is the
	// next one's start.
	base, prev := time.Now(), time.Duration(0)
	var tally handlerTally
	defer tally.flush()
	for i := 0; i < len(jobs); i++ {
		j := jobs[i]
		p.run(j)
		at := time.Since(base)
		took := at - prev
		prev = at
		tally.add(p.srv.routeStats.handlerHist(j.route), took)
		if !j.st.handlerReturned() {
			jb.ops.flush() // its later ops go straight to the loop: these must be there first
		}
		if i+1 < len(jobs) && took > handlerSlice {
			jb.ops.flush()
			// rest shares jb's jobs array, so jb is not recycled.
			rest := &jobBatch{ops: opBatch{l: jb.ops.l}, jobs: jobs[i+1:]}
			for _, r := range rest.jobs {
				r.st.mu.Lock()
				r.st.batch = &rest.ops
				r.st.mu.Unlock()
			}
			if p.submit(rest) {
				return // another worker takes the rest
			}
			jb, jobs, i = rest, rest.jobs, -1 // the queue is full: run the rest here
		}
	}
	jb.ops.flush()
	jb.recycle()
}

// run runs one Handler; a panic is logged and answered 500.
func (p *workerPool) run(j job) {
	defer func() {
		if v := recover(); v != nil {
			p.srv.stats.panics.Add(1)
			p.srv.log.Error("handler panic", "path", j.req.Path, "panic", v, "stack", string(debug.Stack()))
			if j.st.Respond(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("500 Internal Server Error\n")) != nil {
				j.st.Close()
			}
		}
	}()
	j.h(j.st, j.req)
}

// gnetLogger routes gnet's logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: fatal: " + fmt.Sprintf(f, a...)) }

func openFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		// Go raises the soft limit at start-up on Linux; do it here too in
		// case it was lowered again.
		rl.Cur = rl.Max
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		}
	}
	return rl.Cur, nil
}
