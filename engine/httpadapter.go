package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The net/http adapter: ordinary http.Handlers (net/http/pprof, promhttp,
// http.FileServer, a mux of an existing application) served by the engine.
//
// An adapted handler runs on a worker goroutine like every Handler, and may
// block: its writes are paced to the client (see responseWriter.waitDrain),
// so a large body does not pile up in memory, and a slow client holds a
// worker rather than memory. Nothing of it runs on an event loop but the
// small tasks that write the response head and report how much the client
// has yet to read.
//
// The mapping, request side (as net/http's server builds an
// *http.Request):
//
//   - Method, RequestURI (the request-target as sent), URL (parsed with
//     url.ParseRequestURI), Proto, ProtoMajor and ProtoMinor.
//   - Header: every field, repeated ones as several values; Host is moved
//     to Request.Host (the absolute-form target's host when there is one),
//     and Transfer-Encoding to Request.TransferEncoding.
//   - Body: the request's body, already read whole by the engine (bounded
//     by httpcodec.Limits.MaxBodyBytes), de-chunked; http.NoBody when
//     empty. ContentLength is its length, or -1 when it came chunked.
//   - Close reports whether the client asked for the connection to close.
//   - RemoteAddr is the client's "ip:port" (port 0 for a client a trusted
//     proxy forwarded: Config.TrustedProxies); TLS is nil.
//   - Context is cancelled when the client's connection goes away before
//     the response is complete (Stream.Done), and when ServeHTTP returns.
//
// Response side (as net/http's ResponseWriter):
//
//   - Header before WriteHeader (or the first Write) makes the head;
//     changes afterwards are ignored. Several values of a field are sent as
//     several lines, fields in sorted order. CR, LF and NUL in values
//     become spaces; fields with invalid names are dropped.
//   - WriteHeader sends any status from 200 to 999; 1xx (interim) statuses
//     are dropped (the engine answers Expect: 100-continue itself); a code
//     outside 100–999 panics, as in net/http. A second call is ignored.
//   - Without Flush, a response whose body stays under a chunk (32 KiB, or
//     MaxOutbound/8 if smaller) is sent whole with a Content-Length. Beyond
//     that, or after Flush, it is streamed: with chunked coding (each Flush
//     sends what was written since as one chunk; HTTP/1.0 clients get the
//     raw body and a close), or, when the handler set Content-Length, as
//     exactly that many raw bytes (a Write past it fails with
//     http.ErrContentLength; a body left short closes the connection, so
//     the client sees it truncated).
//   - Content-Type is sniffed from the first 512 bytes
//     (http.DetectContentType) when the handler set none, as net/http does.
//   - HEAD: the body is discarded; the head carries the Content-Length the
//     handler set, or else the length of what it wrote.
//   - 204 and 304 carry no body (Write returns http.ErrBodyNotAllowed).
//   - Date, Connection and Transfer-Encoding are the engine's: a handler's
//     Date is dropped, "Connection: close" closes the connection after the
//     response. Trailers are not supported (the Trailer field is dropped).
//   - http.Flusher and FlushError (http.ResponseController) are
//     implemented; http.Hijacker and deadlines are not
//     (ResponseController returns http.ErrNotSupported).
//   - A panic answers 500 when nothing was sent yet, and otherwise closes
//     the connection (the client sees the body cut short); it is logged
//     with its stack and counted in cometplay_http_handler_panics_total.
//     http.ErrAbortHandler closes the connection silently, as in net/http.

// HandleHTTP mounts h, an ordinary net/http Handler, at pattern for every
// method. A pattern ending in "/" serves that path and everything below it
// (a ServeMux subtree pattern: h sees the full path), and the path without
// the slash is redirected to it (301); any other pattern serves that path
// alone. h runs on a worker goroutine and may block; see the adapter's
// mapping rules above (httpadapter.go). Safe for concurrent use; call it
// before or after Start.
func (s *Server) HandleHTTP(pattern string, h http.Handler) {
	hh := HTTPHandler(h)
	if len(pattern) > 1 && strings.HasSuffix(pattern, "/") {
		s.HandlePrefix("", pattern, hh)
		s.Handle("", strings.TrimSuffix(pattern, "/"), func(w *Stream, r *Request) {
			target := pattern
			if r.RawQuery != "" {
				target += "?" + r.RawQuery
			}
			w.SetHeader("Location", target)
			w.Respond(http.StatusMovedPermanently, "text/html; charset=utf-8", []byte("<a href=\""+htmlEscape(target)+"\">Moved Permanently</a>.\n"))
		})
		return
	}
	s.Handle("", pattern, hh)
}

// HTTPHandler adapts h to a Handler, for Handle and HandlePrefix (to mount
// it for one method only). See HandleHTTP.
func HTTPHandler(h http.Handler) Handler {
	return func(st *Stream, r *Request) { serveHTTP(h, st, r) }
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func serveHTTP(h http.Handler, st *Stream, r *Request) {
	srv := st.c.l.srv
	req, err := newHTTPRequest(r)
	if err != nil {
		st.Respond(http.StatusBadRequest, "text/plain; charset=utf-8", []byte("400 Bad Request\n"))
		return
	}
	// The context ends when the client goes away (Stream.Done) or when
	// ServeHTTP returns. The goroutine watching Done lives as long as the
	// handler: the worker pool bounds them.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func(done <-chan struct{}) {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}(st.Done())
	req = req.WithContext(ctx)

	w := newResponseWriter(st, srv, req.Method == "HEAD")
	defer func() {
		if v := recover(); v != nil {
			w.panicked(v, req)
		}
	}()
	h.ServeHTTP(w, req)
	w.finish()
}

// newHTTPRequest builds the *http.Request of an engine Request (owned by
// the handler: its header map and body are reused).
func newHTTPRequest(r *Request) (*http.Request, error) {
	u, err := url.ParseRequestURI(r.Target)
	if err != nil {
		return nil, err
	}
	major, minor, ok := http.ParseHTTPVersion(r.Proto)
	if !ok {
		return nil, fmt.Errorf("engine: bad protocol %q", r.Proto)
	}
	hdr := r.Header()
	host := r.Host
	if u.Host != "" {
		host = u.Host
	}
	delete(hdr, "Host")
	req := &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      r.Proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     hdr,
		Host:       host,
		RemoteAddr: r.RemoteAddr,
		RequestURI: r.Target,
		Close:      wantsClose(major, minor, hdr),
	}
	chunked := len(hdr["Transfer-Encoding"]) > 0 // the codec accepts chunked alone
	if chunked {
		delete(hdr, "Transfer-Encoding")
		req.TransferEncoding = []string{"chunked"}
		req.ContentLength = -1
	} else {
		req.ContentLength = int64(len(r.Body))
	}
	if len(r.Body) == 0 && !chunked {
		req.Body = http.NoBody
	} else {
		req.Body = io.NopCloser(bytes.NewReader(r.Body))
	}
	return req, nil
}

// wantsClose reports whether the client asked to close the connection after
// this request (RFC 9112 §9.3): "Connection: close", or HTTP/1.0 without
// "Connection: keep-alive".
func wantsClose(major, minor int, h http.Header) bool {
	has := func(tok string) bool {
		for _, v := range h["Connection"] {
			for part := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(part), tok) {
					return true
				}
			}
		}
		return false
	}
	if major < 1 || major == 1 && minor == 0 {
		return !has("keep-alive")
	}
	return has("close")
}

// Response phases of a responseWriter.
const (
	rwFresh     = iota // nothing handed to the loop yet
	rwStreaming        // the head is sent; body chunks follow
	rwDone             // the response is complete (or abandoned)
)

// sniffLen is how much of the body DetectContentType looks at.
const sniffLen = 512

// responseWriter is the http.ResponseWriter of an adapted handler. It is
// used by the handler's goroutine only (as net/http's), and hands
// everything to the Stream.
type responseWriter struct {
	st   *Stream
	srv  *Server
	head bool // a HEAD request: the body is counted, not sent

	header   http.Header
	status   int      // 0 until WriteHeader
	hdrs     []string // the head's fields, taken at WriteHeader
	hasType  bool     // the handler set Content-Type (maybe empty: no sniffing)
	declared int64    // the Content-Length the handler set, or -1
	close    bool     // the handler set "Connection: close"

	phase   int
	fixed   bool   // streaming with a Content-Length: raw body
	buf     []byte // body written and not yet handed to the Stream
	written int64  // body bytes the handler wrote
	err     error  // sticky: the client is gone

	chunk       int // buffer size: a streamed chunk, and the Content-Length limit
	window      int // bytes handed to the Stream between two checks of the client's backlog
	unconfirmed int // bytes handed since the last check
}

func newResponseWriter(st *Stream, srv *Server, head bool) *responseWriter {
	maxOut := srv.cfg.MaxOutbound
	return &responseWriter{
		st: st, srv: srv, head: head,
		header:   make(http.Header),
		declared: -1,
		chunk:    max(1<<10, min(32<<10, maxOut/8)),
		window:   max(1<<10, maxOut/4),
	}
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http
	}
	if w.status != 0 {
		w.srv.log.Debug("http adapter: superfluous WriteHeader call", "code", code)
		return
	}
	if code < 200 {
		return // interim responses are not sent
	}
	w.status = code
	keys := make([]string, 0, len(w.header))
	for k := range w.header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := w.header[k]
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length":
			if len(vs) > 0 {
				if n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64); err == nil && n >= 0 {
					w.declared = n
				} else {
					w.srv.log.Debug("http adapter: invalid Content-Length dropped", "value", vs[0])
				}
			}
			continue
		case "Connection":
			for _, v := range vs {
				if strings.Contains(strings.ToLower(v), "close") {
					w.close = true
				}
			}
			continue
		case "Transfer-Encoding", "Date", "Trailer":
			continue
		case "Content-Type":
			w.hasType = true
		}
		if !isToken(k) || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vs {
			w.hdrs = append(w.hdrs, k, cleanFieldValue(v))
		}
	}
}

// isToken reports whether name is an HTTP token (RFC 9110 §5.6.2), as a
// field name must be.
func isToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// cleanFieldValue replaces the bytes that would split or break the head
// with spaces (net/http does so for CR and LF).
func cleanFieldValue(v string) string {
	if !strings.ContainsAny(v, "\r\n\x00") {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, v)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case !bodyAllowed(w.status):
		return 0, http.ErrBodyNotAllowed
	case w.err != nil:
		return 0, w.err
	case w.phase == rwDone && !w.head:
		return 0, ErrResponded
	case w.declared >= 0 && w.written+int64(len(p)) > w.declared:
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.head {
		if n := min(len(p), sniffLen-len(w.buf)); n > 0 && w.phase == rwFresh {
			w.buf = append(w.buf, p[:n]...) // kept for sniffing only
		}
		return len(p), nil
	}
	n := 0
	for n < len(p) {
		take := min(w.chunk-len(w.buf), len(p)-n)
		w.buf = append(w.buf, p[n:n+take]...)
		n += take
		if len(w.buf) >= w.chunk {
			if err := w.flushBuf(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush implements http.Flusher: what was written so far goes out as one
// chunk (the head first, if not sent yet).
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush that reports a failure (http.ResponseController).
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.err != nil:
		return w.err
	case w.phase == rwDone:
		return nil
	case w.head || !bodyAllowed(w.status):
		return w.commitWhole()
	}
	return w.flushBuf()
}

// flushBuf hands the buffered body to the Stream as one chunk, starting the
// streamed response if needed, and waits while the client lags.
func (w *responseWriter) flushBuf() error {
	if w.phase == rwFresh {
		if err := w.commitStream(); err != nil {
			return err
		}
	}
	if w.phase != rwStreaming {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n := len(w.buf)
	if _, err := w.st.Write(w.buf); err != nil { // Write copies
		return w.fail(err)
	}
	w.buf = w.buf[:0]
	if w.unconfirmed += n; w.unconfirmed >= w.window {
		return w.waitDrain()
	}
	return nil
}

func (w *responseWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.phase = rwDone
	return w.err
}

// headFields returns the head's fields with a sniffed Content-Type when
// the handler set none.
func (w *responseWriter) headFields() []string {
	hdrs := w.hdrs
	if !w.hasType && bodyAllowed(w.status) && len(w.buf) > 0 {
		hdrs = append(hdrs, "Content-Type", http.DetectContentType(w.buf[:min(len(w.buf), sniffLen)]))
	}
	return hdrs
}

// commitWhole sends the response in one piece: the buffered body with its
// Content-Length, or for HEAD the head alone with the length declared or
// written.
func (w *responseWriter) commitWhole() error {
	t := headTask{ex: w.st.ex, status: w.status, hdrs: w.headFields(), close: w.close}
	switch {
	case w.head:
		t.kind, t.length = headFixed, w.written
		if w.declared >= 0 {
			t.length = w.declared
		}
	default:
		t.kind, t.body = headWhole, w.buf
	}
	w.buf = nil // the loop reads it later
	w.phase = rwDone
	if err := w.st.postHead(t, false); err != nil {
		return w.fail(err)
	}
	return nil
}

// commitStream sends the head of a streamed response: chunked, or raw
// with the handler's Content-Length.
func (w *responseWriter) commitStream() error {
	t := headTask{ex: w.st.ex, status: w.status, hdrs: w.headFields(), close: w.close, kind: headChunked}
	if w.declared >= 0 {
		t.kind, t.length, w.fixed = headFixed, w.declared, true
	}
	w.phase = rwStreaming
	if err := w.st.postHead(t, true); err != nil {
		return w.fail(err)
	}
	return nil
}

// finish completes the response when ServeHTTP returns.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return
	}
	switch w.phase {
	case rwDone:
		return
	case rwFresh:
		if w.head || w.declared < 0 || w.written == w.declared || !bodyAllowed(w.status) {
			w.commitWhole()
			return
		}
		// Shorter than declared: send what there is, then close, so the
		// client sees the body cut short (as net/http does).
		if w.commitStream() != nil {
			return
		}
	}
	if len(w.buf) > 0 && w.flushBuf() != nil {
		return
	}
	w.phase = rwDone
	if w.fixed && w.written < w.declared {
		w.st.Close()
		return
	}
	w.st.End()
}

// panicked answers for a handler that panicked: 500 if nothing was sent,
// else the connection is closed mid-response.
func (w *responseWriter) panicked(v any, req *http.Request) {
	if v != http.ErrAbortHandler {
		w.srv.stats.panics.Add(1)
		w.srv.log.Error("http handler panic", "method", req.Method, "path", req.URL.Path, "panic", v, "stack", string(debug.Stack()))
	}
	if w.phase == rwFresh && v != http.ErrAbortHandler {
		w.phase = rwDone
		if w.st.Respond(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("500 Internal Server Error\n")) == nil {
			return
		}
	}
	w.phase = rwDone
	w.st.Close()
}

// waitDrain waits until the client has taken its backlog down to half of
// Config.MaxOutbound, so that the handler's writes never pass the cap
// (passing it would close the connection as a client that does not read).
// gnet reports no "drained" event: the backlog is polled, as conn.go
// polls it before a close, from 1 ms up to every 50 ms.
func (w *responseWriter) waitDrain() error {
	limit := w.srv.cfg.MaxOutbound / 2
	delay := time.Millisecond
	for {
		n, err := w.backlog()
		if err != nil {
			return w.fail(err)
		}
		if n <= limit {
			w.unconfirmed = 0
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.st.Done():
			t.Stop()
			return w.fail(ErrClosed)
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// backlog asks the connection's loop how many bytes of it wait for the
// client (after everything written so far, which the loop takes first).
func (w *responseWriter) backlog() (int, error) {
	reply := make(chan int, 1)
	w.st.c.l.post(op{kind: opTask, gen: w.st.gen, task: backlogTask{ex: w.st.ex, reply: reply}})
	select {
	case n := <-reply:
		if n < 0 {
			return 0, ErrClosed
		}
		return n, nil
	case <-w.st.Done():
		return 0, ErrClosed
	}
}

// backlogTask reports, on the loop, the bytes queued for the peer of ex's
// connection (gnet's outbound buffer and responses held behind an earlier
// one), or -1 once it is closed.
type backlogTask struct {
	ex    *Exchange
	reply chan<- int // buffered: the send never waits
}

func (t backlogTask) RunOnLoop(gen uint32) {
	c := t.ex.c
	n := -1
	// A finished response's exchange may serve another request by now.
	if t.ex.gen == gen && !c.closed && !c.aborted && t.ex.state == exStreaming {
		n = c.gc.OutboundBuffered() + c.pending
	}
	t.reply <- n
}

// postHead hands the head of an adapted response to the loop, as Respond
// (streaming false) and Start (true) do, without Start's anti-buffering
// fields: an adapted handler's own Cache-Control stands.
func (s *Stream) postHead(t headTask, streaming bool) error {
	if t.status < 200 || t.status > 999 {
		return ErrBadStatus
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != phaseFresh {
		return ErrResponded
	}
	if streaming {
		s.phase = phaseStreaming
	} else {
		s.phase = phaseFinished
	}
	s.hdrs = nil
	if s.closed.Load() {
		return ErrClosed
	}
	// Posting under s.mu keeps the order with Write and End.
	s.c.l.post(op{kind: opTask, gen: s.gen, task: t})
	return nil
}

// Kinds of headTask.
const (
	headWhole   = iota // a complete response with Content-Length (exchange.respond)
	headChunked        // a streamed response (exchange.start)
	headFixed          // a streamed response with a Content-Length: raw body, exactly length bytes
)

// headTask writes the head of an adapted response on the loop.
type headTask struct {
	ex     *Exchange
	kind   int
	status int
	hdrs   []string
	body   []byte // headWhole
	length int64  // headFixed
	close  bool   // the handler asked to close the connection afterwards
}

func (t headTask) RunOnLoop(gen uint32) {
	ex := t.ex
	if ex.gen != gen || ex.state != exPending || ex.c.closed || ex.c.aborted {
		return
	}
	if t.close {
		ex.keepAlive = false
	}
	switch t.kind {
	case headWhole:
		ex.respond(t.status, t.hdrs, t.body)
	case headChunked:
		ex.start(t.status, t.hdrs)
	case headFixed:
		noBody := !bodyAllowed(t.status)
		b := ex.appendHead(ex.buf(), t.status, t.hdrs)
		if !noBody {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, t.length, 10)
			b = append(b, "\r\n"...)
		}
		b = append(b, "\r\n"...)
		if ex.head || noBody || t.length == 0 {
			st, ok := streamOf(ex) // before finish, which may reuse ex
			ex.finish(b)
			if ok {
				st.markClosed() // nothing more may be written (see exchange.start)
			}
			return
		}
		ex.state = exStreaming // chunked stays false: chunk and end write the body raw
		ex.commit(b)
	}
}
