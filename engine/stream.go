package engine

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Handler serves one request. It runs on one of the server's worker
// goroutines, never on an event loop, so it may block briefly (a database
// call); a response that must wait for an event should Park instead of
// blocking, so the worker is freed.
//
// If a Handler returns without responding and without calling Park, the
// server answers "200 OK" with an empty body, as net/http does; a streamed
// response it started and did not End is ended.
type Handler func(w *Stream, r *Request)

// Errors returned by Stream methods.
var (
	// ErrClosed: the client's connection is gone.
	ErrClosed = errors.New("engine: connection closed")
	// ErrResponded: the response was already sent or started.
	ErrResponded = errors.New("engine: response already sent")
	// ErrNotStarted: Write or End before Start.
	ErrNotStarted = errors.New("engine: streamed response not started")
	// ErrBadHeader: a header name or value with CR, LF or NUL, or an empty name.
	ErrBadHeader = errors.New("engine: invalid header field")
	// ErrBadStatus: a status code outside 200–999 (1xx are interim responses
	// the server sends itself).
	ErrBadStatus = errors.New("engine: invalid response status code")
)

// Stream is the response side of one request: answer it at once with
// Respond, or Start a streamed (chunked) response and Write chunks, each
// flushed to the client as its own chunk, then End. After Park the handler
// may return and any goroutine may finish the response later.
//
// All methods are safe for concurrent use. Calls from one goroutine take
// effect in order. Writes never block on the network: they are handed to the
// connection's event loop, and a client that stops reading is disconnected
// when its queued bytes exceed Config.MaxOutbound.
type Stream struct {
	// ex is the request's exchange while the response is unfinished; the
	// loop reuses it for a later request once the response is complete,
	// so only the ops that produce the response use it (c outlives it).
	ex    *Exchange
	c     *conn
	batch *opBatch // guarded by mu: while its worker runs the Handler, ops gather here

	mu      sync.Mutex
	hdrs    *[]string     // guarded by mu until the head is sent; from headerSlices
	posted  atomic.Int64  // bytes of Write chunks posted to the loop and not yet taken
	doneCh  chan struct{} // guarded by mu; lazily made
	closed  atomic.Bool
	gen     uint32 // ex.gen when the request came: the loop drops ops of a reused exchange
	phase   uint8  // guarded by mu: 0 fresh, 1 streaming, 2 finished
	parked  bool   // guarded by mu
	doneSet bool   // guarded by mu
}

// postLocked hands o to the loop, or to the worker's batch while the
// Handler runs. s.mu must be held (it orders a stream's ops).
func (s *Stream) postLocked(o op) {
	if s.batch != nil {
		if o.kind == opRespond {
			s.batch.add(o)
			return
		}
		// A streamed response (or a close) goes now, after what the
		// batch holds: its Handler is still running and may wait for it
		// (the net/http adapter's Flush does).
		s.batch.flush()
	}
	s.c.l.post(o)
}

// opBatch gathers the complete responses of the Handlers a worker runs for
// one connection's pipelined requests, so that they reach the loop in one
// post. A stream's ops stay in order: its ops after the Handler
// returns are posted directly, and the batch is posted first whenever the
// Handler left its response unfinished (see workerPool.work).
type opBatch struct {
	mu  sync.Mutex
	l   *Loop
	ops []op
}

func (b *opBatch) add(o op) {
	b.mu.Lock()
	b.ops = append(b.ops, o)
	b.mu.Unlock()
}

// flush posts what was gathered.
func (b *opBatch) flush() {
	b.mu.Lock()
	ops := b.ops
	b.ops = b.ops[:0]
	b.mu.Unlock()
	if len(ops) > 0 {
		b.l.postAll(ops)
		clear(ops)
	}
}

const (
	phaseFresh = iota
	phaseStreaming
	phaseFinished
)

// SetHeader adds a response header field. It must be called before Respond or
// Start; it returns ErrBadHeader for a field that could split the response.
func (s *Stream) SetHeader(name, value string) error {
	if !validHeader(name, value) {
		return ErrBadHeader
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != phaseFresh {
		return ErrResponded
	}
	if s.hdrs == nil {
		s.hdrs = headerSlices.Get().(*[]string)
	}
	*s.hdrs = append(*s.hdrs, name, value)
	return nil
}

func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if badInName[name[i]] {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if badInValue[value[i]] {
			return false
		}
	}
	// Framing is the server's: a handler cannot set these.
	switch len(name) {
	case len("Content-Length"):
		return !strings.EqualFold(name, "Content-Length")
	case len("Transfer-Encoding"):
		return !strings.EqualFold(name, "Transfer-Encoding")
	case len("Connection"):
		return !strings.EqualFold(name, "Connection")
	}
	return true
}

// The bytes that would split a response: in a field value CR, LF and NUL;
// in a name also the colon and white space.
var badInName, badInValue = func() (n, v [256]bool) {
	for _, c := range "\r\n\x00" {
		n[c], v[c] = true, true
	}
	for _, c := range ": \t" {
		n[c] = true
	}
	return n, v
}()

// Respond sends a complete response with a Content-Length. contentType may be
// "" to send none. It returns ErrBadStatus or ErrBadHeader, and sends
// nothing, for a status or content type that would break the framing.
//
// Respond does not copy body (unlike Write): the event loop reads it after
// Respond returns, so the caller must not modify it afterwards.
func (s *Stream) Respond(status int, contentType string, body []byte) error {
	if err := checkHead(status, contentType); err != nil {
		return err
	}
	s.mu.Lock()
	if s.phase != phaseFresh {
		s.mu.Unlock()
		return ErrResponded
	}
	s.phase = phaseFinished
	hdrs, box := s.headersLocked("")
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrClosed
	}
	// Posting under s.mu keeps the order of ops from racing goroutines.
	// The content type travels apart: the loop appends it to the fields,
	// so that a response without other fields allocates none.
	s.postLocked(op{kind: opRespond, ex: s.ex, gen: s.gen, status: status, hdrs: hdrs, box: box, ctype: contentType, data: body})
	s.mu.Unlock()
	return nil
}

// checkHead vets what Respond and Start hand to the loop, where the codec's
// writer panics on an invalid status or field (a panic there would stop the
// whole server, not just this handler).
func checkHead(status int, contentType string) error {
	if status < 200 || status > 999 {
		return ErrBadStatus
	}
	if contentType != "" && !validHeader("Content-Type", contentType) {
		return ErrBadHeader
	}
	return nil
}

// headersLocked hands over the response's fields, with the content type
// when there is one: the slice and the pool box it came in (the loop
// returns the box once it has written the head), or nil.
func (s *Stream) headersLocked(contentType string, more ...string) ([]string, *[]string) {
	box := s.hdrs
	s.hdrs = nil
	if contentType == "" && len(more) == 0 {
		if box == nil {
			return nil, nil
		}
		return *box, box
	}
	if box == nil {
		box = headerSlices.Get().(*[]string)
	}
	if contentType != "" {
		*box = append(*box, "Content-Type", contentType)
	}
	*box = append(*box, more...)
	return *box, box
}

// headerSlices recycles the slices that carry a Handler's response fields
// to the loop, which puts them back after writing the head (putHeaders).
var headerSlices = sync.Pool{New: func() any {
	s := make([]string, 0, 16)
	return &s
}}

// putHeaders returns a slice of response fields to headerSlices. Loop only,
// once the head is written.
func putHeaders(box *[]string) {
	if cap(*box) > 64 {
		return // a handler with many fields: leave it to the collector
	}
	clear(*box)
	*box = (*box)[:0]
	headerSlices.Put(box)
}

// Start sends the head of a streamed response (chunked for HTTP/1.1; for an
// HTTP/1.0 client the body is raw and the connection closes at End).
// Anti-buffering headers are added: Cache-Control: no-cache, no-store and
// X-Accel-Buffering: no. It returns ErrBadStatus or ErrBadHeader as Respond
// does.
func (s *Stream) Start(status int, contentType string) error {
	if err := checkHead(status, contentType); err != nil {
		return err
	}
	s.mu.Lock()
	if s.phase != phaseFresh {
		s.mu.Unlock()
		return ErrResponded
	}
	s.phase = phaseStreaming
	hdrs, box := s.headersLocked(contentType, antiBuffering...)
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrClosed
	}
	s.postLocked(op{kind: opStart, ex: s.ex, gen: s.gen, status: status, hdrs: hdrs, box: box})
	s.mu.Unlock()
	return nil
}

var antiBuffering = []string{"Cache-Control", "no-cache, no-store", "X-Accel-Buffering", "no"}

// Write sends p as one chunk, flushed. It copies p. It implements io.Writer.
// Chunks not yet taken by the event loop count against Config.MaxOutbound:
// a Write that would pass it fails with ErrClosed and closes the connection,
// as a client that does not read is closed.
func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.phase == phaseFresh:
		return 0, ErrNotStarted
	case s.phase != phaseStreaming:
		return 0, ErrResponded
	case s.closed.Load():
		return 0, ErrClosed
	case len(p) == 0:
		return 0, nil
	}
	// Chunks waiting in the loop's inbox are queued bytes too: without
	// this bound a producer faster than the loop (io.Copy into a Stream)
	// queues without limit before the loop can see the peer lag.
	if s.posted.Add(int64(len(p))) > int64(s.c.l.srv.cfg.MaxOutbound) {
		s.posted.Add(-int64(len(p)))
		s.postLocked(op{kind: opSlowClose, c: s.c})
		s.markClosedLocked()
		return 0, ErrClosed
	}
	s.postLocked(op{kind: opChunk, ex: s.ex, gen: s.gen, data: append([]byte(nil), p...)})
	return len(p), nil
}

// End finishes a streamed response.
func (s *Stream) End() error {
	s.mu.Lock()
	if s.phase != phaseStreaming {
		phase := s.phase
		s.mu.Unlock()
		if phase == phaseFresh {
			return ErrNotStarted
		}
		return ErrResponded
	}
	s.phase = phaseFinished
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.postLocked(op{kind: opEnd, ex: s.ex, gen: s.gen})
	return nil
}

// Close aborts the connection without finishing the response.
func (s *Stream) Close() {
	s.mu.Lock()
	s.phase = phaseFinished
	s.postLocked(op{kind: opClose, c: s.c})
	s.mu.Unlock()
}

// Park tells the server the handler will respond later, from any goroutine.
func (s *Stream) Park() {
	s.mu.Lock()
	s.parked = true
	s.mu.Unlock()
}

// Done returns a channel closed when the client's connection goes away
// before the response is finished, or when a streamed response can carry no
// body (it answers HEAD, or its status is 204 or 304); Write then returns
// ErrClosed.
func (s *Stream) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doneCh == nil {
		s.doneCh = make(chan struct{})
		if s.doneSet {
			close(s.doneCh)
		}
	}
	return s.doneCh
}

// streamOwner is a Stream seen as its exchange's owner, so that
// ExchangeGone is not part of Stream's API.
type streamOwner Stream

// ExchangeGone implements ExchangeOwner: the client went away.
func (o *streamOwner) ExchangeGone(*Exchange) { (*Stream)(o).markClosed() }

// streamOf returns the Stream that owns ex, if one does.
func streamOf(ex *Exchange) (*Stream, bool) {
	so, ok := ex.owner.(*streamOwner)
	return (*Stream)(so), ok
}

// markClosed runs on the loop when the connection closes; it never blocks.
func (s *Stream) markClosed() {
	s.mu.Lock()
	s.markClosedLocked()
	s.mu.Unlock()
}

func (s *Stream) markClosedLocked() {
	s.closed.Store(true)
	if !s.doneSet {
		s.doneSet = true
		if s.doneCh != nil {
			close(s.doneCh)
		}
	}
}

// handlerReturned is called by the worker when the Handler returns: an
// unanswered response is finished (200, or the end of a started stream),
// the stream's ops go straight to the loop from now on, and it reports
// whether the response is finished (false: parked, the batch must be
// posted before anything else of this stream).
func (s *Stream) handlerReturned() (finished bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.parked || s.phase == phaseFinished:
	case s.phase == phaseStreaming:
		// Started, not ended and not parked: nobody will end it, and the
		// response (with every request pipelined behind it) would hang.
		// End it, as net/http does when a handler returns.
		s.phase = phaseFinished
		s.postLocked(op{kind: opEnd, ex: s.ex, gen: s.gen})
	default:
		s.phase = phaseFinished
		hdrs, box := s.headersLocked("")
		s.postLocked(op{kind: opRespond, ex: s.ex, gen: s.gen, status: http.StatusOK, hdrs: hdrs, box: box})
	}
	s.batch = nil
	return s.phase == phaseFinished
}

// Request is a request handed to a Handler: an owned copy, valid for as long
// as the handler keeps it. Its strings share one allocation.
type Request struct {
	Method     string
	Target     string // request-target as sent
	Path       string // percent-decoded path
	RawQuery   string
	Proto      string // "HTTP/1.1" or "HTTP/1.0"
	Host       string
	Body       []byte
	RemoteAddr string // the client's "ip:port" (port 0 when a trusted proxy forwarded it: Config.TrustedProxies)

	fields []headerField // the header fields, in order, as received
	parsed *parsedRequest
}

// parsedRequest is what Header and Query build on first use (apart, so
// that a Request that needs neither stays smaller).
type parsedRequest struct {
	header http.Header
	query  url.Values
}

// headerField is one header field of a Request.
type headerField struct{ name, value string }

// Header returns the request's header fields as an http.Header (canonical
// names; a repeated field's values in order), built on the first call and
// owned by the handler. HeaderValue reads one field without building it.
// Not safe for concurrent use with itself.
func (r *Request) Header() http.Header {
	if r.parsed == nil {
		r.parsed = new(parsedRequest)
	}
	if r.parsed.header == nil {
		h := make(http.Header, len(r.fields))
		for _, f := range r.fields {
			k := http.CanonicalHeaderKey(f.name)
			h[k] = append(h[k], f.value)
		}
		r.parsed.header = h
	}
	return r.parsed.header
}

// HeaderValue returns the value of the first header field called name
// (case-insensitive), or "".
func (r *Request) HeaderValue(name string) string {
	for _, f := range r.fields {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// Query returns the parsed query string ('+' is a space). Invalid pairs are
// skipped, as url.ParseQuery does.
func (r *Request) Query() url.Values {
	if r.parsed == nil {
		r.parsed = new(parsedRequest)
	}
	if r.parsed.query == nil {
		r.parsed.query, _ = url.ParseQuery(r.RawQuery)
	}
	return r.parsed.query
}
