package comet

import (
	"bytes"
	"errors"
	"hash/maphash"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/httpcodec"
)

// params are a request's parameters: the query of a GET, the body of a POST
// (an <event .../> element or a form). A repeated name keeps its first value,
// as the servlet's getParameter does.
type params []Field

func (p params) get(name string) (string, bool) {
	for _, f := range p {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// detach returns subject and to, and rewrites fields, so that they no
// longer share the string holding every parameter of the request, when
// that string is much larger than they are: they may live on in windows,
// mailboxes and rooms, and must not keep alive what a request carried
// beside them (a parameter of a megabyte that publish drops). size is the
// fields' names and values in bytes. Usually they are most of the request:
// then nothing is copied.
func (p params) detach(fields []Field, subject, to string, size int) (string, string) {
	total := 0
	for _, f := range p {
		total += len(f.Name) + len(f.Value)
	}
	need := size + len(subject) + len(to)
	if total <= 2*need+512 {
		return subject, to
	}
	b := make([]byte, 0, need)
	b = append(append(b, subject...), to...)
	for _, f := range fields {
		b = append(append(b, f.Name...), f.Value...)
	}
	all := string(b)
	subject, all = all[:len(subject)], all[len(subject):]
	to, all = all[:len(to)], all[len(to):]
	for i := range fields {
		n, v := len(fields[i].Name), len(fields[i].Value)
		fields[i] = Field{all[:n], all[n : n+v]}
		all = all[n+v:]
	}
	return subject, to
}

func (p params) value(name string) string {
	v, _ := p.get(name)
	return v
}

// paramBuilder collects parameters as they are decoded, into one arena, so
// that a request's parameters cost two allocations (one string holding
// them all, and the slice) rather than two per parameter. It stops at a cap
// on the parameters visited, and finds a repeated name in constant time
// (a hash table past a few names), so its work is linear in the request.
type paramBuilder struct {
	arena []byte
	idx   []int // per parameter: name start, name end, value end (the value follows the name)
	// table indexes the names once there are more than linearParams: open
	// addressing, each slot a parameter's number + 1 (0: empty).
	table []int32
	max   int  // parameters visited at most (repeats count)
	seen  int  // parameters visited
	over  bool // more than max were sent
}

// linearParams is how many names are compared one by one before the table
// is built: a request of a Pushlet client has fewer, and a scan of a few
// names is faster than hashing them.
const linearParams = 16

// paramSeed randomizes the names' hash, so that a client cannot choose
// names that collide (hash flooding).
var paramSeed = maphash.MakeSeed()

// add records a parameter unless its name was seen: a repeated name keeps
// its first value. It reports false, and records nothing, once more than
// max parameters were visited.
func (pb *paramBuilder) add(k, v []byte) bool {
	if pb.seen++; pb.seen > pb.max {
		pb.over = true
		return false
	}
	n := len(pb.idx) / 3
	slot := -1
	if n < linearParams {
		for i := 0; i < len(pb.idx); i += 3 {
			if string(pb.arena[pb.idx[i]:pb.idx[i+1]]) == string(k) {
				return true
			}
		}
	} else {
		if len(pb.table) == 0 {
			pb.rehash(4 * linearParams) // the first name past the scan
		}
		var found bool
		if slot, found = pb.lookup(k); found {
			return true
		}
	}
	start := len(pb.arena)
	pb.arena = append(append(pb.arena, k...), v...)
	pb.idx = append(pb.idx, start, start+len(k), len(pb.arena))
	if slot >= 0 {
		pb.table[slot] = int32(n + 1)
		if 2*(n+1) > len(pb.table) {
			pb.rehash(2 * len(pb.table)) // at most half full
		}
	}
	return true
}

// lookup returns the slot of name k in the table: where it is, or the
// empty slot where it belongs.
func (pb *paramBuilder) lookup(k []byte) (slot int, found bool) {
	mask := len(pb.table) - 1
	for i := int(maphash.Bytes(paramSeed, k)) & mask; ; i = (i + 1) & mask {
		e := pb.table[i]
		if e == 0 {
			return i, false
		}
		j := 3 * int(e-1)
		if string(pb.arena[pb.idx[j]:pb.idx[j+1]]) == string(k) {
			return i, true
		}
	}
}

// rehash sizes the table to size slots (a power of two) and indexes every
// name recorded so far.
func (pb *paramBuilder) rehash(size int) {
	if cap(pb.table) >= size {
		pb.table = pb.table[:size]
		clear(pb.table)
	} else {
		pb.table = make([]int32, size)
	}
	for i := 0; i < len(pb.idx); i += 3 {
		slot, _ := pb.lookup(pb.arena[pb.idx[i]:pb.idx[i+1]])
		pb.table[slot] = int32(i/3 + 1)
	}
}

// builders recycles paramBuilders: their arenas are copied out by params.
var builders = sync.Pool{New: func() any { return new(paramBuilder) }}

func (pb *paramBuilder) release() {
	if cap(pb.arena) > 64<<10 || cap(pb.idx) > 3*1024 || cap(pb.table) > 4096 {
		return // a rare large request: let it go
	}
	pb.arena, pb.idx, pb.table = pb.arena[:0], pb.idx[:0], pb.table[:0]
	pb.seen, pb.over = 0, false
	builders.Put(pb)
}

// params returns the parameters recorded, appended to dst: their strings
// in one new string, which the caller may keep; dst's slice it need not.
func (pb *paramBuilder) params(dst params) params {
	if len(pb.idx) == 0 {
		return dst
	}
	all := string(pb.arena)
	ps := dst
	if ps == nil {
		ps = make(params, 0, len(pb.idx)/3)
	}
	for i := 0; i < len(pb.idx); i += 3 {
		ps = append(ps, Field{all[pb.idx[i]:pb.idx[i+1]], all[pb.idx[i+1]:pb.idx[i+2]]})
	}
	return ps
}

// Errors answered with HTTP 400 (messages as Pushlet's servlet sends them).
var (
	errNoEvent   = "No eventType specified"
	errNoID      = "No id specified"
	errBadID     = "Invalid or expired id: "
	errBadBody   = "Malformed event body"
	errBadQuery  = "Malformed query string"
	errBadFormat = "Unsupported format: "
	// errTooManyParams: more than Config.MaxParams parameters.
	errTooManyParams = "Too many parameters (at most "
)

// Protocol errors answered as nack events.
var (
	errLabelTooLong   = errors.New("label too long")
	errSessionStopped = errors.New("session ended")
	errTooManySubs    = errors.New("too many subscriptions")
)

// serve handles one protocol request on the loop.
func (h *Hub) serve(ex *engine.Exchange, req *httpcodec.Request) {
	cors, ok := h.checkOrigin(ex, req)
	if !ok {
		return
	}
	switch string(req.Method) {
	case "GET", "HEAD", "POST":
	case "OPTIONS":
		h.preflight(ex, req, cors)
		return
	default:
		h.srv.RefuseMethod(ex, req.Method, "GET, HEAD, POST, OPTIONS")
		return
	}
	// The parameters' slice is the loop's, for this request only (nothing
	// keeps it: a publish copies its fields, the rest keep strings).
	sc := h.scratchFor(ex.Loop())
	ps, perr := readParamsInto(sc.params[:0], req, h.cfg.MaxParams)
	defer func() {
		clear(ps)
		if ps != nil && cap(ps) <= 256 { // nil: refused, the scratch slice untouched
			sc.params = ps[:0]
		}
	}()
	if perr != "" {
		h.badRequest(ex, perr, cors)
		return
	}
	evName := ps.value("p_event")
	if evName == "" {
		h.badRequest(ex, errNoEvent, cors)
		return
	}
	rc := &reqCtx{h: h, ex: ex, req: req, ps: ps, cors: cors}
	if evName == "join" || evName == "join-listen" {
		rc.join(evName)
		return
	}
	id, ok := ps.get("p_id")
	if !ok || id == "" {
		h.badRequest(ex, errNoID, cors)
		return
	}
	s := h.Session(id)
	if s == nil {
		if !h.relayToHome(ex, req, id, cors) {
			h.badRequest(ex, errBadID+id, cors)
		}
		return
	}
	s.touch()
	rc.s = s
	rc.format = s.Format()
	if v, ok := ps.get("p_ack"); ok {
		// Our extension: any request may acknowledge the events its client
		// has applied (docs/PROTOCOL.md, "Acknowledging events").
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			rc.nack("invalid p_ack")
			return
		}
		s.mu.Lock()
		s.ackLocked(n)
		s.mu.Unlock()
	}
	switch evName {
	case "listen":
		rc.listen("listen-ack")
	case "refresh":
		rc.refresh()
	case "subscribe":
		rc.subscribe()
	case "unsubscribe":
		rc.unsubscribe()
	case "publish":
		rc.publish()
	case "hb":
		rc.control(oneShot("hb-ack"))
	case "leave":
		rc.control(oneShot("leave-ack", "p_id", s.id))
		s.stop(ReasonLeave)
	default:
		// Pushlet 2.0.4 crashes on an unknown event and stops the session;
		// we answer nack and keep it.
		rc.nack("unknown event: " + truncate(evName, 64))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// readParams collects the request's parameters. On a POST the body's
// parameters come first; the query may add names the body lacks. At most
// maxParams are visited (repeats count): past them it stops and reports
// errTooManyParams, so a request's cost is bounded whatever it holds.
func readParams(req *httpcodec.Request, maxParams int) (params, string) {
	return readParamsInto(nil, req, maxParams)
}

// readParamsInto is readParams appending to dst (a loop's scratch slice:
// the parameters' strings are new, the slice is reused).
func readParamsInto(dst params, req *httpcodec.Request, maxParams int) (params, string) {
	ps := builders.Get().(*paramBuilder)
	defer ps.release()
	ps.max = maxParams
	if string(req.Method) == "POST" && len(req.Body) > 0 {
		ct := req.Header("Content-Type")
		if i := bytes.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		if strings.EqualFold(string(bytes.TrimSpace(ct)), "application/x-www-form-urlencoded") {
			if _, err := httpcodec.VisitForm(nil, req.Body, ps.add); err != nil {
				return nil, errBadBody
			}
		} else if err := parseEventBody(req.Body, ps); err != nil && !ps.over {
			return nil, errBadBody
		}
	}
	if !ps.over {
		if err := req.VisitQuery(ps.add); err != nil {
			return nil, errBadQuery
		}
	}
	if ps.over {
		return nil, errTooManyParams + strconv.Itoa(maxParams) + ")"
	}
	return ps.params(dst), ""
}

// parseEventBody reads Pushlet's POST body: one element <event name="value"
// ... /> (the tag name is not checked, as in Pushlet's EventParser). A
// backslash escapes the next character. Unlike Pushlet, the XML entities
// (&lt; &gt; &amp; &quot; &apos; and numeric ones) are decoded, so a body
// written by an XML serializer reads back as it was meant.
func parseEventBody(body []byte, ps *paramBuilder) error {
	i := bytes.IndexByte(body, '<')
	if i < 0 {
		return errMalformed
	}
	b := body[i+1:]
	for len(b) > 0 && isNameByte(b[0]) {
		b = b[1:]
	}
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return errMalformed
		}
		if b[0] == '/' || b[0] == '>' {
			return nil
		}
		j := 0
		for j < len(b) && isNameByte(b[j]) {
			j++
		}
		if j == 0 || j >= len(b) || b[j] != '=' || j+1 >= len(b) || b[j+1] != '"' {
			return errMalformed
		}
		name := b[:j]
		b = b[j+2:]
		var val []byte
		k := 0
		for ; k < len(b) && b[k] != '"'; k++ {
			if b[k] == '\\' && k+1 < len(b) {
				k++
			}
			val = append(val, b[k])
		}
		if k >= len(b) {
			return errMalformed
		}
		dec, ok := decodeEntities(val)
		if !ok {
			return errMalformed
		}
		if !ps.add(name, dec) {
			return errMalformed // past the cap: readParams reports it
		}
		b = b[k+1:]
	}
}

var errMalformed = errors.New("malformed event body")

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
}

func decodeEntities(v []byte) ([]byte, bool) {
	if bytes.IndexByte(v, '&') < 0 {
		return v, true
	}
	s := html.UnescapeString(string(v))
	return []byte(s), true
}

// reqCtx carries one protocol request through its handler.
type reqCtx struct {
	h      *Hub
	ex     *engine.Exchange
	req    *httpcodec.Request
	ps     params
	s      *Session
	format Format
	cors   string // Access-Control-Allow-Origin value, if any
}

// headers returns the response headers for format f: Pushlet's no-cache set,
// the content type and, for streams, the anti-buffering header.
func (h *Hub) headers(f Format, stream bool) []string {
	if stream {
		return streamHeaders[f]
	}
	return plainHeaders[f]
}

var plainHeaders, streamHeaders [numFormats][]string

func init() {
	for f := range numFormats {
		base := []string{
			"Expires", "Sat, 6 May 1995 12:00:00 GMT",
			"Cache-Control", "no-store, no-cache, must-revalidate",
			"Cache-Control", "post-check=0, pre-check=0",
			"Pragma", "no-cache",
		}
		base = append(base, "Content-Security-Policy", f.policy())
		plainHeaders[f] = append(append([]string(nil), base...), "Content-Type", f.contentType(false))
		// X-Accel-Buffering stops nginx from buffering a stream.
		streamHeaders[f] = append(append([]string(nil), base...), "Content-Type", f.contentType(true), "X-Accel-Buffering", "no")
	}
}

func (rc *reqCtx) hdrs(f Format, stream bool) []string {
	hs := rc.h.headers(f, stream)
	if rc.cors != "" {
		hs = append(append([]string(nil), hs...), "Access-Control-Allow-Origin", rc.cors, "Vary", "Origin")
	}
	return hs
}

// control answers with a single event (a control response).
func (rc *reqCtx) control(ev *Event) {
	f := rc.format
	if f == FormatSSE {
		f = FormatJSON // a one-shot answer to an EventSource session's control request
	}
	sc := rc.h.scratchFor(rc.ex.Loop())
	b := responseStart(sc.cbuf[:0], f, false)
	b = appendEvent(b, f, ev, nil)
	b = responseEnd(b, f, false, true)
	sc.cbuf = b[:0]
	rc.ex.Respond(http.StatusOK, rc.hdrs(f, false), b)
}

// nack answers a protocol error; the session stays usable.
func (rc *reqCtx) nack(reason string) {
	rc.h.stats.nacks.Add(1)
	id := ""
	if rc.s != nil {
		id = rc.s.id
	}
	rc.control(oneShot("nack", "p_id", id, "p_reason", reason))
}

// badRequest answers 400 with Pushlet's message in a small HTML page; the
// message is escaped, never echoed raw.
func (h *Hub) badRequest(ex *engine.Exchange, msg, cors string) {
	m := html.EscapeString(truncate(msg, 128))
	body := "<html><head><title>Error 400 " + m + "</title></head><body><h2>HTTP ERROR 400 " + m + "</h2></body></html>\n"
	hs := []string{"Content-Type", "text/html;charset=utf-8", "Cache-Control", "must-revalidate,no-cache,no-store", "Content-Security-Policy", cometDataCSP}
	if cors != "" {
		hs = append(hs, "Access-Control-Allow-Origin", cors, "Vary", "Origin")
	}
	ex.Respond(http.StatusBadRequest, hs, []byte(body))
}

// join creates a session (join, join-listen).
func (rc *reqCtx) join(evName string) {
	f := rc.h.cfg.DefaultFormat
	if v, ok := rc.ps.get("p_format"); ok && v != "" {
		pf, ok := ParseFormat(v)
		if !ok {
			// Pushlet answers an empty 200 and drops the session; a client
			// deserves to know why.
			rc.h.badRequest(rc.ex, errBadFormat+v, rc.cors)
			return
		}
		f = pf
	}
	s, err := rc.h.newSession(f, rc.ex.ClientAddr(rc.req)) // behind a trusted proxy, the address it forwarded
	if err != nil {
		rc.ex.Respond(http.StatusServiceUnavailable, []string{"Retry-After", "5", "Content-Type", "text/plain; charset=utf-8"}, []byte("503 "+strings.TrimPrefix(err.Error(), "comet: ")+"\n"))
		return
	}
	rc.s, rc.format = s, f
	if evName == "join" {
		rc.control(oneShot("join-ack", "p_id", s.id, "p_format", f.String(), "p_public", s.PublicID()))
		return
	}
	rc.listen("join-listen-ack")
}

// dataFormat is the format of this request's data channel: the session's,
// unless the request names another (our extension: an EventSource can
// listen in sse on a session that joined with json).
func (rc *reqCtx) dataFormat() (Format, bool) {
	if v, ok := rc.ps.get("p_format"); ok && v != "" && rc.s != nil {
		return ParseFormat(v)
	}
	return rc.format, true
}

// resumePoint returns where the client wants delivery to resume: its
// p_last or Last-Event-ID. When both are present the larger wins: an
// EventSource whose URL carries an old p_last reconnects by itself with a
// newer Last-Event-ID. ok is false for a malformed value.
func (rc *reqCtx) resumePoint() (last uint64, resume, ok bool) {
	for _, v := range []string{rc.ps.value("p_last"), string(rc.req.Header("Last-Event-ID"))} {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false, false
		}
		last, resume = max(last, n), true
	}
	return last, resume, true
}

// channelParams reads what every data channel request (listen, refresh)
// may carry: its format and its resume point. It answers the nack itself
// and reports ok false on a bad value.
func (rc *reqCtx) channelParams() (f Format, last uint64, resume, ok bool) {
	if f, ok = rc.dataFormat(); !ok {
		rc.nack("unsupported format: " + truncate(rc.ps.value("p_format"), 32))
		return
	}
	if last, resume, ok = rc.resumePoint(); !ok {
		rc.nack("invalid p_last")
	}
	return
}

// askedWait returns the p_wait of a listen or refresh: the poll wait in ms
// the client asks for, -1 if none (see appendRefresh). An invalid one is
// nacked.
func (rc *reqCtx) askedWait() (int32, bool) {
	v := rc.ps.value("p_wait")
	if v == "" {
		return -1, true
	}
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		rc.nack("invalid p_wait")
		return 0, false
	}
	return int32(n), true
}

// listenMode picks the mode of a listen.
func (rc *reqCtx) listenMode(f Format) (Mode, bool) {
	m := ModeStream
	if v, ok := rc.ps.get("p_mode"); ok && v != "" {
		pm, ok := parseMode(v)
		if !ok {
			return 0, false
		}
		m = pm
	}
	cfg := &rc.h.cfg
	if cfg.ForcePullAll {
		m = ModePull
	} else if len(cfg.ForcePullAgents) > 0 {
		ua := strings.ToLower(string(rc.req.Header("User-Agent")))
		for _, a := range cfg.ForcePullAgents {
			if a != "" && strings.Contains(ua, strings.ToLower(a)) {
				m = ModePull
				break
			}
		}
	}
	if f == FormatSSE {
		m = ModeStream // EventSource reconnects by itself; it always streams
	}
	return m, true
}

// listen opens a data channel (listen, join-listen).
func (rc *reqCtx) listen(ackName string) {
	s := rc.s
	f, last, resume, ok := rc.channelParams()
	if !ok {
		return
	}
	m, ok := rc.listenMode(f)
	if !ok {
		rc.nack("unsupported mode: " + truncate(rc.ps.value("p_mode"), 32))
		return
	}
	asked, ok := rc.askedWait()
	if !ok {
		return
	}
	ack := []string{"p_id", s.id, "p_mode", m.String(), "p_format", f.String()}
	if subject, has := rc.ps.get("p_subject"); has {
		label := rc.ps.value("p_label")
		if rc.h.reserved(subject) {
			rc.nack("subject reserved")
			return
		}
		sub, err := s.subscribe(subject, label, true)
		if err != nil {
			rc.nack(rc.subscribeReason(err))
			return
		}
		ack = append(ack, "p_sid", sub.sid)
		if label != "" {
			ack = append(ack, "p_label", label)
		}
	} else if label := rc.ps.value("p_label"); label != "" {
		ack = append(ack, "p_label", label)
	}
	ackEv := oneShot(ackName, ack...)
	s.mu.Lock()
	s.setModeLocked(m) // s.mode = m, and the per-mode session gauges
	if resume {
		s.resumeLocked(last)
	}
	s.mu.Unlock()
	if m != ModeStream {
		// Pull and poll: the ack and a refresh, at once; events come with the
		// next refresh.
		rc.format = f
		sc := rc.h.scratchFor(rc.ex.Loop())
		b := responseStart(sc.cbuf[:0], f, false)
		b = appendEvent(b, f, ackEv, nil)
		b = eventSep(b, f, false)
		b = rc.h.appendRefresh(b, f, string(rc.req.Path), s, m, asked)
		b = responseEnd(b, f, false, false)
		sc.cbuf = b[:0]
		s.mu.Lock()
		if !s.stopped && !s.lst.active {
			d := rc.h.cfg.PullRefreshTimeout
			if m == ModePoll {
				d = rc.h.cfg.PollRefreshTimeout
			}
			s.refreshDeadline = time.Now().Add(d).UnixNano()
			s.armLocked(d)
		}
		s.mu.Unlock()
		rc.ex.Respond(http.StatusOK, rc.hdrs(f, false), b)
		return
	}
	rc.openStream(f, ackEv)
}

// subscribeReason is the nack reason of a refused subscribe.
func (rc *reqCtx) subscribeReason(err error) string {
	switch {
	case errors.Is(err, ErrBadSubject):
		return "invalid subject"
	case errors.Is(err, errTooManySegments):
		return err.Error() + " (at most " + strconv.Itoa(rc.h.cfg.MaxSubscribedSegments) + ")"
	default:
		return err.Error()
	}
}

// pathIdx returns the index of the request's path in Config.Paths.
func (rc *reqCtx) pathIdx() uint8 {
	for i, p := range rc.h.cfg.Paths {
		if p == string(rc.req.Path) {
			return uint8(i)
		}
	}
	return 0
}

// openStream starts a stream: the ack, an hb, then whatever is pending; the
// listener then receives events as they come.
func (rc *reqCtx) openStream(f Format, ack *Event) {
	s, ex := rc.s, rc.ex
	if !ex.Start(http.StatusOK, rc.hdrs(f, true)) {
		return // HEAD, or the connection is gone
	}
	ch := channel{ex: ex, l: ex.Loop(), format: f, mode: ModeStream, pathIdx: rc.pathIdx()}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		ex.End()
		return
	}
	s.attachLocked(ch)
	sc := rc.h.scratchFor(ch.l)
	evs := s.takeLocked(sc.items[:0], ex.OutboundRoom())
	if s.hasPendingLocked() {
		s.requestLocked(actNone) // the rest of a large backlog, in slices
	}
	seq := s.seq
	s.mu.Unlock()

	b, _ := ex.StreamBuf()
	mark := len(b)
	b = ex.ChunkOpen(b)
	b = responseStart(b, f, true)
	b = appendEvent(b, f, ack, nil)
	b = eventSep(b, f, true)
	b = ex.ChunkClose(b, mark)
	// Pushlet's stream starts with an hb "to speed up the return"; then
	// whatever was pending (a resume).
	b = ch.appendBatch(rc.h, b, nil, seq, actHeartbeat, true)
	b = ch.appendBatch(rc.h, b, evs, seq, actNone, true)
	ex.Commit(b)
	clear(evs)
	sc.items = evs[:0]
}

// refresh answers a pull/poll client: pending events at once, else (pull)
// park until an event arrives or the heartbeat interval passes.
func (rc *reqCtx) refresh() {
	s, ex := rc.s, rc.ex
	f, last, resume, ok := rc.channelParams()
	if !ok {
		return
	}
	if f == FormatSSE {
		f = FormatJSON
	}
	asked, ok := rc.askedWait()
	if !ok {
		return
	}
	s.mu.Lock()
	m := s.mode
	if m == ModeStream {
		m = ModePull // a refresh is a pull, whatever the session listened with
	}
	if resume {
		s.resumeLocked(last)
	}
	s.attachLocked(channel{ex: ex, l: ex.Loop(), format: f, mode: m, pathIdx: rc.pathIdx(), wait: asked})
	if !s.hasPendingLocked() && m == ModePull && !s.stopped {
		s.mu.Unlock() // parked: an event or the heartbeat interval answers it
		return
	}
	// Answer at once (poll, or events already pending), right here.
	gen := s.lst.gen
	s.lst.action = actFlush
	s.lst.scheduled = true
	s.mu.Unlock()
	s.runListener(gen)
}

// subscribe handles the subscribe request.
func (rc *reqCtx) subscribe() {
	subject, ok := rc.ps.get("p_subject")
	if !ok || subject == "" {
		rc.nack("no subject provided")
		return
	}
	label := rc.ps.value("p_label")
	if rc.h.reserved(subject) {
		rc.nack("subject reserved")
		return
	}
	sub, err := rc.s.subscribe(subject, label, true)
	if err != nil {
		rc.nack(rc.subscribeReason(err))
		return
	}
	kv := []string{"p_id", rc.s.id, "p_subject", subject, "p_sid", sub.sid}
	if label != "" {
		kv = append(kv, "p_label", label)
	}
	rc.control(oneShot("subscribe-ack", kv...))
}

// unsubscribe handles the unsubscribe request.
func (rc *reqCtx) unsubscribe() {
	sid := rc.ps.value("p_sid")
	removed, err := rc.s.unsubscribe(sid, true)
	switch {
	case err != nil:
		rc.nack(err.Error())
		return
	case sid == "":
		rc.control(oneShot("unsubscribe-ack", "p_id", rc.s.id))
		return
	case len(removed) == 0:
		rc.nack("no subscription for sid=" + truncate(sid, 32))
		return
	}
	sub := removed[0]
	kv := []string{"p_id", rc.s.id, "p_sid", sub.sid, "p_subject", sub.subject}
	if sub.label != "" {
		kv = append(kv, "p_label", sub.label)
	}
	rc.control(oneShot("unsubscribe-ack", kv...))
}

// forwardedHeaders are copied into a claimed Publish, for authentication
// hooks (the lobby's hello).
var forwardedHeaders = []string{"Cookie", "Authorization", "User-Agent"}

// HeaderNeeder may be implemented by a SubjectHandler to say which of its
// publishes need the forwarded headers (Publish.Header), so that a publish
// does not build a Header nobody reads (the games package's room claim:
// none; its lobby claim: a hello). NeedsHeader runs on an event loop, as
// HandlePublish does. SubjectHandlers without it always get them.
type HeaderNeeder interface {
	NeedsHeader(fields []Field) bool
}

// validFieldName reports whether a publish field name can be written in
// every format (an XML attribute name, a JS and JSON string).
func validFieldName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
		if !ok {
			return false
		}
	}
	return true
}

// publish handles the publish request.
func (rc *reqCtx) publish() {
	h, s := rc.h, rc.s
	subject, ok := rc.ps.get("p_subject")
	if !ok || subject == "" {
		rc.nack("no subject provided")
		return
	}
	if !validSubject(subject) {
		rc.nack("invalid subject")
		return
	}
	if !s.allowPublish() {
		rc.nack("rate limited: slow down")
		return
	}
	to := rc.ps.value("p_to")
	// The publisher's own fields. Pushlet copies every parameter; control
	// fields (p_*) are the server's and are not copied, so nobody can forge
	// p_from, p_seq or p_sid.
	n := 0
	for _, f := range rc.ps {
		if !strings.HasPrefix(f.Name, "p_") {
			n++
		}
	}
	user := make([]Field, 0, n) // owned by the claim's handler, or copied into the record
	size := 0
	for _, f := range rc.ps {
		if strings.HasPrefix(f.Name, "p_") {
			continue
		}
		if !validFieldName(f.Name) {
			rc.nack("invalid field name: " + truncate(f.Name, 32))
			return
		}
		user = append(user, f)
		size += len(f.Name) + len(f.Value)
	}
	if len(user) > h.cfg.MaxFields || size > h.cfg.MaxEventBytes {
		rc.nack("event too large")
		return
	}
	subject, to = rc.ps.detach(user, subject, to, size)
	if c := h.claimFor(subject); c != nil {
		p := Publish{Session: s, Subject: subject, Fields: user, RemoteAddr: s.RemoteAddr()}
		for _, name := range forwardedHeaders {
			if hn, ok := c.(HeaderNeeder); ok && !hn.NeedsHeader(p.Fields) {
				break
			}
			if v := rc.req.Header(name); v != nil {
				if p.Header == nil {
					p.Header = make(http.Header, 2)
				}
				p.Header.Set(name, string(v))
			}
		}
		if ac, ok := c.(AsyncSubjectHandler); ok {
			rc.publishAsync(ac, p)
			return
		}
		if err := c.HandlePublish(p); err != nil {
			rc.nack(err.Error())
			return
		}
		rc.control(plain(&publishAck, "publish-ack"))
		return
	}
	fs := make([]Field, 0, 6+len(user))
	fs = append(fs, Field{"p_event", "data"}, Field{"p_time", unixTime()}, Field{"p_subject", subject},
		Field{"p_from", s.PublicID()}, Field{"p_id", s.PublicID()})
	if to != "" {
		fs = append(fs, Field{"p_to", to})
	}
	fs = append(fs, user...)
	if to != "" {
		// Unicast: by public id (what p_from shows) or secret id. An unknown
		// target is dropped silently and still acknowledged, as in Pushlet.
		if t := h.sessionByAnyID(to); t != nil {
			// On the loop: refused rather than waiting behind a full
			// fan-out queue.
			if err := t.sendFields(s.PublicID(), fs, false); err != nil {
				rc.nack(err.Error())
				return
			}
		} else if cl := h.cfg.Cluster; cl != nil && len(to) >= TagLen && to[:TagLen] != cl.Tag() {
			cl.Publish(s.PublicID(), subject, to, fs) // a session of another node
		}
		h.stats.published.Add(1)
	} else if err := h.multicast(s.PublicID(), subject, fs, false); err != nil {
		rc.nack(err.Error())
		return
	} else if cl := h.cfg.Cluster; cl != nil {
		cl.Publish(s.PublicID(), subject, "", fs)
	}
	rc.control(plain(&publishAck, "publish-ack"))
}

// publishAsync hands p to an AsyncSubjectHandler and answers when it is
// done: at once if it answered during the call (its own node handled it),
// else later on the exchange's loop.
func (rc *reqCtx) publishAsync(ac AsyncSubjectHandler, p Publish) {
	const (
		calling  = iota
		answered // done ran during the call: syncErr holds its error
		returned // the call returned first: done answers on the loop
	)
	var state atomic.Int32
	var syncErr error
	later := reqCtx{h: rc.h, s: rc.s, format: rc.format, cors: rc.cors} // no req, no ps: they are the loop's
	relay := rc.ex.Relay()
	answer := func(rc *reqCtx, err error) {
		if err != nil {
			rc.nack(err.Error())
			return
		}
		rc.control(plain(&publishAck, "publish-ack"))
	}
	ac.HandlePublishAsync(p, func(err error) {
		syncErr = err // read only if the swap below succeeds, which orders it
		if state.CompareAndSwap(calling, answered) {
			return
		}
		relay.Do(func(x *engine.Exchange) {
			later.ex = x
			answer(&later, err)
		})
	})
	if !state.CompareAndSwap(calling, returned) {
		answer(rc, syncErr)
	}
}

// checkOrigin lets a protocol request through only when it comes from the
// server's own origin, an allowed origin (Config.AllowedOrigins), or a
// client that is not a web page. Otherwise it answers 403 and reports false.
// It returns the value for Access-Control-Allow-Origin on an allowed
// cross-origin request.
//
// Every protocol request is refused, not only those that change something:
// join needs no secret, and the rest need a session id a foreign page does
// not have (or that it learned, which must not let it act). What a browser
// tells of a request's initiator, in order:
//
//  1. Sec-Fetch-Site (Fetch Metadata, sent by every current browser, and
//     not something a page can set): "same-origin" or "none" (the user
//     typed the URL) pass, whatever Origin says (a page served over TLS by
//     a proxy in front of this plain-HTTP server has Origin https://…);
//     "cross-site" and "same-site" pass only from an allowed origin, taken
//     from Origin or else from Referer. An <img> or <iframe> of a foreign
//     page has no Origin: 128 of them would use up its visitor's address's
//     session cap.
//  2. Otherwise Origin, or else the origin of Referer: it must be the
//     server's own (http://<Host>: this server speaks plain HTTP) or
//     allowed.
//  3. A request with none of them is not a browser's (or an old browser
//     sent no Referer): it passes, as Pushlet's Java client must.
func (h *Hub) checkOrigin(ex *engine.Exchange, req *httpcodec.Request) (string, bool) {
	origin, fromHeader := req.Header("Origin"), true
	if origin == nil {
		origin, fromHeader = refererOrigin(req.Header("Referer")), false
	}
	switch string(req.Header("Sec-Fetch-Site")) {
	case "same-origin", "none":
		return "", true
	case "cross-site", "same-site":
		// The browser says it is another site: only an allowed origin.
		if origin != nil && h.allowedOrigin(origin) {
			return corsValue(origin, fromHeader), true
		}
	default:
		switch {
		case origin == nil && req.Header("Referer") == nil:
			return "", true
		case origin == nil:
			// A Referer that is not an http(s) URL: nothing to allow.
		case sameOrigin(origin, req.Host):
			return "", true
		case h.allowedOrigin(origin):
			return corsValue(origin, fromHeader), true
		}
	}
	ex.Respond(http.StatusForbidden, []string{"Content-Type", "text/plain; charset=utf-8"}, []byte(errCrossSite))
	return "", false
}

// errCrossSite is the body of the 403 that checkOrigin answers.
const errCrossSite = "403 origin not allowed: a page of another site may not use this server (see Config.AllowedOrigins)\n"

// allowedOrigin reports whether origin is listed in AllowedOrigins ("*":
// any).
func (h *Hub) allowedOrigin(origin []byte) bool {
	for _, a := range h.cfg.AllowedOrigins {
		if a == "*" || bytes.EqualFold([]byte(a), origin) {
			return true
		}
	}
	return false
}

// corsValue returns the Access-Control-Allow-Origin value for an allowed
// origin: the Origin header's, or none for an origin read from Referer (a
// request without Origin is not a CORS request).
func corsValue(origin []byte, fromHeader bool) string {
	if !fromHeader {
		return ""
	}
	return string(origin)
}

// sameOrigin reports whether origin (scheme://host[:port]) is this server's
// own: the scheme is http (the engine speaks no TLS), the rest is host, the
// request's Host. Both compare ASCII case-insensitively, as URLs do.
func sameOrigin(origin, host []byte) bool {
	const scheme = "http://"
	if len(host) == 0 || len(origin) != len(scheme)+len(host) {
		return false
	}
	return bytes.EqualFold(origin[:len(scheme)], []byte(scheme)) && bytes.EqualFold(origin[len(scheme):], host)
}

// refererOrigin returns the origin (scheme://host[:port]) of a Referer URL,
// or nil if it is absent or not an absolute http(s) URL. It aliases ref.
func refererOrigin(ref []byte) []byte {
	i := bytes.Index(ref, []byte("://"))
	if i < 0 {
		return nil
	}
	scheme := ref[:i]
	if !bytes.EqualFold(scheme, []byte("http")) && !bytes.EqualFold(scheme, []byte("https")) {
		return nil
	}
	end := len(ref)
	if j := bytes.IndexAny(ref[i+3:], "/?#"); j >= 0 {
		end = i + 3 + j
	}
	if end == i+3 || bytes.ContainsAny(ref[i+3:end], "@\\") {
		return nil // no host, or userinfo (browsers never send one)
	}
	return ref[:end]
}

// preflight answers a CORS preflight for an allowed origin.
func (h *Hub) preflight(ex *engine.Exchange, req *httpcodec.Request, cors string) {
	hs := []string{"Allow", "GET, HEAD, POST, OPTIONS"}
	if cors != "" {
		hs = append(hs,
			"Access-Control-Allow-Origin", cors,
			"Access-Control-Allow-Methods", "GET, POST",
			"Access-Control-Allow-Headers", "Content-Type, Last-Event-ID",
			"Access-Control-Max-Age", "600",
			"Vary", "Origin")
	}
	ex.Respond(http.StatusNoContent, hs, nil)
}
