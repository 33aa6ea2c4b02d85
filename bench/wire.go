package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The load side's Comet client: raw HTTP/1.1 over TCP, small per-connection
// buffers (thousands of simulated players share a process), and a scanner of
// the protocol's flat JSON events that decodes only the fields it is asked
// for. It speaks the json and sse formats.

// Limits of the client.
const (
	// wireBufSize is the read buffer of a connection: most events fit.
	wireBufSize = 4 << 10
	// maxWireBody bounds a body or a chunk (the lobby's presence list of
	// thousands of players is hundreds of KiB).
	maxWireBody = 64 << 20
	// keepScratch is the largest body buffer a connection keeps between
	// reads; a larger one (a presence list) is dropped after use.
	keepScratch = 64 << 10
)

// ErrBadWire reports a response the client cannot read.
var ErrBadWire = errors.New("bench: malformed response")

// wireConn is one client connection: requests written as they come,
// responses read in order.
type wireConn struct {
	c       net.Conn
	br      *bufio.Reader
	scratch []byte
	ts      *tsReader // kernel receive timestamps, when enabled
}

// dialWire connects to addr. With timestamps, every read records the
// kernel's receive time of the data (SO_TIMESTAMPNS), see tsReader.
func dialWire(addr string, timeout time.Duration, timestamps bool) (*wireConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	w := &wireConn{c: c}
	var r io.Reader = c
	if timestamps {
		ts, err := newTSReader(c.(*net.TCPConn))
		if err != nil {
			c.Close()
			return nil, err
		}
		w.ts, r = ts, ts
	}
	w.br = bufio.NewReaderSize(r, wireBufSize)
	return w, nil
}

func (w *wireConn) Close() error { return w.c.Close() }

// respHead is what the client needs of a response head.
type respHead struct {
	status  int
	length  int64 // -1: none
	chunked bool
}

// readHead reads a response's status line and headers.
func (w *wireConn) readHead() (respHead, error) {
	h := respHead{length: -1}
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return h, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return h, fmt.Errorf("%w: status line %q", ErrBadWire, line)
	}
	h.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return h, fmt.Errorf("%w: status line %q", ErrBadWire, line)
	}
	for {
		line, err := w.br.ReadSlice('\n')
		if err != nil {
			return h, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return h, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "content-length"):
			if h.length, ok = parseDec(v); !ok {
				return h, fmt.Errorf("%w: Content-Length %q", ErrBadWire, v)
			}
		case asciiEqualFold(k, "transfer-encoding"):
			h.chunked = asciiEqualFold(v, "chunked")
		}
	}
}

// readFull reads n bytes into the connection's scratch buffer.
func (w *wireConn) readFull(n int64) ([]byte, error) {
	if n < 0 || n > maxWireBody {
		return nil, fmt.Errorf("%w: body of %d bytes", ErrBadWire, n)
	}
	if int64(cap(w.scratch)) < n {
		w.scratch = make([]byte, n)
	}
	b := w.scratch[:n]
	if _, err := io.ReadFull(w.br, b); err != nil {
		return nil, err
	}
	return b, nil
}

// release drops a scratch buffer grown by a large body.
func (w *wireConn) release() {
	if cap(w.scratch) > keepScratch {
		w.scratch = nil
	}
}

// readBody reads a whole Content-Length or chunked body into scratch. A 204
// or 304 has none (RFC 9110 §6.4.1), whatever its headers say.
func (w *wireConn) readBody(h respHead) ([]byte, error) {
	if h.status == 204 || h.status == 304 {
		return nil, nil
	}
	if !h.chunked {
		if h.length < 0 {
			return nil, fmt.Errorf("%w: body without length", ErrBadWire)
		}
		return w.readFull(h.length)
	}
	var all []byte
	for {
		c, err := w.readChunk()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, c...)
	}
}

// readChunk reads the next chunk of a chunked body; io.EOF is its end
// (trailers skipped). The chunk is valid until the next read.
func (w *wireConn) readChunk() ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	n, ok := parseHex(bytes.TrimSpace(line))
	if !ok {
		return nil, fmt.Errorf("%w: chunk size %q", ErrBadWire, line)
	}
	if n == 0 {
		for {
			l, err := w.br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			if len(bytes.TrimRight(l, "\r\n")) == 0 {
				return nil, io.EOF
			}
		}
	}
	b, err := w.readFull(n + 2)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// getRequest returns a GET request for target.
func getRequest(dst []byte, host, target string) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	return append(dst, "\r\nUser-Agent: cometplay-bench\r\n\r\n"...)
}

// eachObject calls fn with every top-level JSON object of b: the elements
// of an array, or NDJSON lines. It understands strings (braces inside them
// do not count) and nothing more: the protocol's events are flat objects.
func eachObject(b []byte, fn func(obj []byte)) { eachWholeObject(b, fn) }

// eachWholeObject is eachObject that also returns where the object left
// open at the end of b begins (len(b): none).
func eachWholeObject(b []byte, fn func(obj []byte)) int {
	depth, start, inStr := 0, -1, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			if depth == 0 {
				start = i
			}
			depth++
		case '}':
			if depth--; depth == 0 && start >= 0 {
				fn(b[start : i+1])
				start = -1
			}
		}
	}
	if start >= 0 {
		return start
	}
	return len(b)
}

// streamSplitter finds the events of a Comet stream (JSON objects, or SSE
// data lines) in its chunks. A chunk's boundaries are not the events':
// an intermediary may chunk the body again (HAProxy at its buffer's size,
// splitting a large first write of snapshots), so the part of an event a
// chunk ends with is kept and completed by the next.
type streamSplitter struct {
	sse  bool
	rest []byte
}

// feed calls fn with each event that chunk completes. fn's argument is
// valid only during the call.
func (sp *streamSplitter) feed(chunk []byte, fn func(obj []byte)) {
	b := chunk
	if len(sp.rest) > 0 {
		sp.rest = append(sp.rest, chunk...)
		b = sp.rest
	}
	var used int
	if sp.sse {
		used = bytes.LastIndexByte(b, '\n') + 1
		sseEvents(b[:used], fn)
	} else {
		used = eachWholeObject(b, fn)
	}
	sp.rest = append(sp.rest[:0], b[used:]...) // (b may be sp.rest: a forward copy)
}

// eachField calls fn with the name and the raw value (quotes included) of
// every member of a flat object whose values are strings; it stops when fn
// returns false.
func eachField(obj []byte, fn func(name, raw []byte) bool) {
	i := 0
	next := func() []byte { // the next string at or after i, quotes included
		for i < len(obj) && obj[i] != '"' {
			i++
		}
		if i >= len(obj) {
			return nil
		}
		start := i
		for i++; i < len(obj); i++ {
			if obj[i] == '\\' {
				i++
			} else if obj[i] == '"' {
				i++
				return obj[start:i]
			}
		}
		return nil
	}
	for {
		name := next()
		if name == nil {
			return
		}
		for i < len(obj) && obj[i] != ':' {
			i++
		}
		val := next()
		if val == nil || !fn(name[1:len(name)-1], val) {
			return
		}
	}
}

// event is a scanned event: the fields the simulation reads, raw (quoted,
// escaped); use unq to decode one.
type event struct {
	name, seq, subject, typ, data, t, k, reason, wait []byte
}

// scanEvent extracts the fields of one event object.
func scanEvent(obj []byte) event {
	var e event
	eachField(obj, func(name, raw []byte) bool {
		switch string(name) { // no allocation: the compiler turns this into a comparison
		case "p_event":
			e.name = raw
		case "p_seq":
			e.seq = raw
		case "p_subject":
			e.subject = raw
		case "type":
			e.typ = raw
		case "data":
			e.data = raw
		case "t":
			e.t = raw
		case "k":
			e.k = raw
		case "p_reason":
			e.reason = raw
		case "p_wait":
			e.wait = raw
		}
		return true
	})
	return e
}

// unq decodes a raw JSON string ("" for a missing one).
func unq(raw []byte) string {
	if len(raw) < 2 {
		return ""
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}

// rawIs reports whether the raw JSON string raw is s (unescaped values only).
func rawIs(raw []byte, s string) bool {
	return len(raw) == len(s)+2 && string(raw[1:len(raw)-1]) == s
}

// rawNum decodes a raw JSON string holding a decimal number (-1 if it does not).
func rawNum(raw []byte) int64 {
	if len(raw) < 2 {
		return -1
	}
	n, err := strconv.ParseInt(string(raw[1:len(raw)-1]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sseEvents calls fn with the JSON object of every "data:" line of an SSE
// text.
func sseEvents(b []byte, fn func(obj []byte)) {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte("\n"))
		b = rest
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			fn(bytes.TrimSpace(d))
		}
	}
}

// tsReader reads a TCP connection with recvmsg and keeps the kernel's
// receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) of the last segment
// each read consumed. On loopback a client's write puts the bytes in the
// server's socket within the write call, and the server's write puts its
// bytes in this socket's queue, stamped: the stamp minus the time the
// request was written is the time the server took, without the client's
// own scheduling delays (the measure of the server-side latency target).
// Several events read at once share the stamp of the last segment, which
// can only overstate the time.
type tsReader struct {
	rc   syscall.RawConn
	oob  []byte
	last int64 // unix ns of the last read's data
}

func newTSReader(c *net.TCPConn) (*tsReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return &tsReader{rc: rc, oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))}, nil
}

func (t *tsReader) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := t.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, t.oob, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, err
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	if oobn > 0 {
		if msgs, perr := unix.ParseSocketControlMessage(t.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
					ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
					t.last = ts.Nano()
				}
			}
		}
	}
	return n, nil
}

// ctrlReq is a control request on a shared connection.
type ctrlReq struct {
	buf []byte
	// wrote, if set, is called with the time (unix ns) just before the
	// request is written.
	wrote func(ns int64)
	// done is called with the response's first event and the response's
	// status (or an error) on the pool's reader goroutine: it must not
	// block.
	done func(status int, body []byte, err error)
}

// ctrlConn is a keep-alive connection shared by many players for their
// control requests (join, publish, unsubscribe), pipelined: a browser has
// one per tab, a load generator of thousands of players would run out of
// file descriptors (and the server of connections) with one each. Requests
// of one player go to one connection, so they are applied in order.
type ctrlConn struct {
	addr string
	reqs chan *ctrlReq
	// stop ends the connection's goroutines.
	stop chan struct{}
	wg   sync.WaitGroup
	// onErr counts failed requests.
	onErr func(error)
}

// ctrlDepth bounds the requests in flight on one control connection (the
// server serves 16 pipelined requests at once; more wait in its buffer).
const ctrlDepth = 64

func newCtrlConn(addr string, onErr func(error)) *ctrlConn {
	c := &ctrlConn{addr: addr, reqs: make(chan *ctrlReq, 4096), stop: make(chan struct{}), onErr: onErr}
	c.wg.Add(1)
	go c.run()
	return c
}

// send queues r; it blocks only when thousands are queued.
func (c *ctrlConn) send(r *ctrlReq) {
	select {
	case c.reqs <- r:
	case <-c.stop:
		r.done(0, nil, errors.New("bench: control connection closed"))
	}
}

func (c *ctrlConn) close() {
	close(c.stop)
	c.wg.Wait()
}

// run keeps a connection open, writing queued requests in batches and
// reading their responses on a second goroutine; after an error every
// request in flight fails and a new connection is opened.
func (c *ctrlConn) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		w, err := dialWire(c.addr, 5*time.Second, false)
		if err != nil {
			c.onErr(err)
			select {
			case <-c.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		c.serve(w)
		w.Close()
	}
}

func (c *ctrlConn) serve(w *wireConn) {
	inflight := make(chan *ctrlReq, ctrlDepth)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for r := range inflight {
			h, err := w.readHead()
			var body []byte
			if err == nil {
				body, err = w.readBody(h)
			}
			r.done(h.status, body, err)
			w.release()
			if err != nil {
				w.Close()
				for r := range inflight {
					r.done(0, nil, err)
				}
				return
			}
		}
	}()
	var batch []byte
	var pending []*ctrlReq
	defer func() {
		close(inflight)
		<-readerDone
	}()
	for {
		var r *ctrlReq
		select {
		case r = <-c.reqs:
		case <-c.stop:
			return
		case <-readerDone:
			return
		}
		// Batch what is queued already: one write for many requests.
		batch, pending = append(batch[:0], r.buf...), append(pending[:0], r)
	more:
		for len(pending) < 16 {
			select {
			case r := <-c.reqs:
				batch = append(batch, r.buf...)
				pending = append(pending, r)
			default:
				break more
			}
		}
		now := time.Now().UnixNano()
		for _, r := range pending {
			if r.wrote != nil {
				r.wrote(now)
			}
			select {
			case inflight <- r:
			case <-readerDone:
				r.done(0, nil, errors.New("bench: control connection lost"))
			}
		}
		if _, err := w.c.Write(batch); err != nil {
			c.onErr(err)
			w.Close()
			return
		}
	}
}

// firstEvent returns the first event of a control answer (a JSON array).
func firstEvent(body []byte) (e event) {
	done := false
	eachObject(body, func(obj []byte) {
		if !done {
			e, done = scanEvent(obj), true
		}
	})
	return e
}

// ctrlError turns a control answer into an error: transport errors, a
// non-200 status, a nack.
func ctrlError(status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("HTTP %d: %.100s", status, body)
	}
	if e := firstEvent(body); rawIs(e.name, "nack") {
		return fmt.Errorf("nack: %s", unq(e.reason))
	}
	return nil
}

// The two events every move brings ("move", then "turn") are decoded by
// hand: encoding/json on their data (a JSON text inside a JSON string,
// decoded twice) was a quarter of the load processes' CPU, which the
// server shares the machine's cores with. Anything the fast path does not
// recognise goes to encoding/json, as every other event does.

// unqData returns the text of the raw JSON string raw, unescaping \" \\
// and \/ into buf; false for any other escape (left to encoding/json).
func unqData(raw, buf []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, true
	}
	buf = buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			buf = append(buf, c)
			continue
		}
		if i++; i == len(s) {
			return nil, false
		}
		switch s[i] {
		case '"', '\\', '/':
			buf = append(buf, s[i])
		default:
			return nil, false
		}
	}
	return buf, true
}

// jsonMember returns the raw value of member name of the JSON object obj
// (nested values skipped whole), or nil. Names must be unescaped.
func jsonMember(obj []byte, name string) []byte {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil
		}
		k := skipValue(obj, i)
		if k < 0 {
			return nil
		}
		key := obj[i+1 : k-1]
		i = skipSpace(obj, k)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		i = skipSpace(obj, i+1)
		end := skipValue(obj, i)
		if end < 0 {
			return nil
		}
		if string(key) == name {
			return obj[i:end]
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i],
// or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k := skipValue(b, j)
				if k < 0 {
					return -1
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// plainString returns the text of the raw JSON string raw if it has no
// escape.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// fastMove decodes a "move" event's data (the text of data, unescaped):
// the board's cells (only whether each is taken matters) and the player.
func fastMove(data []byte, d *moveData) bool {
	p, ok := plainString(jsonMember(data, "player"))
	if !ok {
		return false
	}
	board := jsonMember(data, "board")
	if len(board) < 2 || board[0] != '[' {
		return false
	}
	i, n := 1, 0
	for {
		i = skipSpace(board, i)
		if i < len(board) && board[i] == ']' && n == 9 {
			break
		}
		if n == 9 || i >= len(board) {
			return false
		}
		end := skipValue(board, i)
		if end < 0 || board[i] != '"' {
			return false
		}
		// The text is all that matters ("" or a mark); an escaped mark
		// still counts as a mark.
		d.Board[n] = ""
		if end-i > 2 {
			d.Board[n] = "x"
		}
		n++
		i = skipSpace(board, end)
		if i < len(board) && board[i] == ',' {
			i++
		}
	}
	d.Player = p
	return true
}

// fastTurn decodes a "turn" event's data: whose turn it is (nil player:
// nobody's).
func fastTurn(data []byte, d *turnData) bool {
	raw := jsonMember(data, "player")
	switch {
	case raw == nil:
		return false
	case string(raw) == "null":
		d.Player = nil
		return true
	}
	id, ok := plainString(jsonMember(raw, "id"))
	if !ok {
		return false
	}
	d.Player = &struct {
		ID string `json:"id"`
	}{ID: id}
	return true
}
