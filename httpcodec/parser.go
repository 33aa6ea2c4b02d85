package httpcodec

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
)

// state is where the parser stands in the request. Each state consumes as
// many bytes as it can before yielding to the next one or asking for more.
type state uint8

const (
	stEmptyLF      state = iota // LF of an empty line before the request line
	stMethod                    // method token, up to SP, or the CR of an empty line
	stTarget                    // request-target, up to SP
	stVersion                   // HTTP-version, up to CR
	stLineLF                    // LF ending the request line
	stFieldStart                // first byte of a field line, or CR of the blank line
	stFieldName                 // field-name, up to ':'
	stFieldOWS                  // OWS before the field value
	stFieldValue                // field value, up to CR
	stFieldLF                   // LF ending a field line
	stHeadLF                    // LF of the blank line ending the head (or the trailer)
	stBody                      // Content-Length body
	stChunkSize                 // hex digits of a chunk size
	stChunkSizeOWS              // whitespace after the size, before CR
	stChunkExt                  // chunk extensions, up to CR
	stChunkSizeLF               // LF ending a chunk-size line
	stChunkData                 // chunk data
	stChunkDataCR               // CR after chunk data
	stChunkDataLF               // LF after chunk data
	stFailed                    // the request was rejected; Reset is needed
)

var stateNames = [...]string{
	stEmptyLF:      "empty-line",
	stMethod:       "method",
	stTarget:       "target",
	stVersion:      "version",
	stLineLF:       "request-line-end",
	stFieldStart:   "header-start",
	stFieldName:    "header-name",
	stFieldOWS:     "header-ows",
	stFieldValue:   "header-value",
	stFieldLF:      "header-end",
	stHeadLF:       "head-end",
	stBody:         "body",
	stChunkSize:    "chunk-size",
	stChunkSizeOWS: "chunk-size-ows",
	stChunkExt:     "chunk-ext",
	stChunkSizeLF:  "chunk-size-end",
	stChunkData:    "chunk-data",
	stChunkDataCR:  "chunk-data-cr",
	stChunkDataLF:  "chunk-data-lf",
	stFailed:       "failed",
}

// The trailer section reuses the field states; these are their names there.
var trailerNames = [...]string{
	stFieldStart: "trailer-start",
	stFieldName:  "trailer-name",
	stFieldOWS:   "trailer-ows",
	stFieldValue: "trailer-value",
	stFieldLF:    "trailer-end",
	stHeadLF:     "trailer-section-end",
}

// keepScratch is the body scratch capacity kept between requests; a larger
// buffer, grown by one big chunked body, is released so that idle
// connections do not each pin up to MaxBodyBytes.
const keepScratch = 64 << 10

// fieldSpan locates one field line by offsets from the start of the request,
// so that it survives the caller's buffer moving between calls.
type fieldSpan struct {
	name, nameEnd, val, valEnd int
}

// Parser is a resumable HTTP/1.1 request parser. It is not safe for
// concurrent use; one Parser serves one connection at a time.
//
// A Parser keeps offsets, never slices, of the bytes it has seen: the caller
// may hand it the same bytes at a different address on every call.
type Parser struct {
	lim     Limits // resolved: no zero fields
	lineMax bound  // MaxRequestLine and its error, or MaxHeadBytes when lower
	line    bound  // lineMax from the start of the request line

	state   state
	trailer bool // the field states are reading the trailer section
	off     int  // next byte to examine, from the start of the request
	start   int  // where the request line starts, after the empty lines skipped
	scanned int  // bytes examined since NewParser; tests use it to prove there is no rescanning

	// Where the field states stop, and what they report.
	fields   bound // the head's (MaxHeadBytes), or the trailer's
	fieldBad error // error for a malformed field line

	// Request line.
	methodEnd   int // the target starts at methodEnd+1
	targetEnd   int // the version starts at targetEnd+1
	minor       int
	pathStart   int
	pathEnd     int
	queryStart  int  // -1 without '?'
	pathDecoded bool // Path is p.path, not an alias of RawPath

	// Header section.
	spans      []fieldSpan
	nameStart  int
	nameEnd    int
	valStart   int
	valEnd     int
	host       int // index in spans of the Host field, -1 when absent
	cl         int64
	clSpan     int // index in spans of the first Content-Length field, -1 when absent
	te         int // number of Transfer-Encoding fields
	teSpan     int
	connClose  bool
	connKeep   bool
	expect100  bool
	badTrailer bool // a Trailer field announces a framing field
	headEnd    int

	// Chunked body.
	chunked   bool
	chunkLeft uint64 // bytes of the current chunk not yet read, or its size while parsing it
	digits    int    // hex digits of the chunk size read so far
	bodyLen   int64  // decoded body bytes announced so far
	ext       int    // chunk-extension bytes so far

	body  []byte // decoded chunked body
	path  []byte // decoded path
	query []byte // VisitQuery scratch
	hdrs  []Header
	req   Request
	err   *ParseError
}

// NewParser returns a Parser with the given limits (zero fields take defaults).
// Negative fields also take defaults.
func NewParser(l Limits) *Parser {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultMaxRequestLine
	}
	if l.MaxHeadBytes <= 0 {
		l.MaxHeadBytes = DefaultMaxHeadBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxChunkExtBytes <= 0 {
		l.MaxChunkExtBytes = DefaultMaxChunkExtBytes
	}
	p := &Parser{lim: l, lineMax: bound{l.MaxRequestLine, ErrRequestLineTooLong}}
	if l.MaxHeadBytes < l.MaxRequestLine {
		p.lineMax = bound{l.MaxHeadBytes, ErrHeaderTooLarge}
	}
	p.next()
	return p
}

// next readies p for the first byte of a new request. It leaves the previous
// Request and the scratch space alone: they stay valid until the next Parse.
func (p *Parser) next() {
	p.state = stMethod
	p.trailer = false
	p.off = 0
	p.startAt(0)
	p.fieldBad = ErrBadRequest
	p.queryStart = -1
	p.pathDecoded = false
	p.spans = p.spans[:0]
	p.host, p.cl, p.clSpan, p.te = -1, -1, -1, 0
	p.connClose, p.connKeep, p.expect100, p.badTrailer = false, false, false, false
	p.chunked, p.chunkLeft, p.digits, p.bodyLen, p.ext = false, 0, 0, 0, 0
}

// Reset forgets any partial request, and releases scratch space grown
// past keepScratch by a large chunked body: a Parser kept in a pool must
// not pin up to MaxBodyBytes.
func (p *Parser) Reset() {
	p.next()
	p.err = nil
	if cap(p.body) > keepScratch {
		p.body = nil
	}
}

// startAt places the start of the request line at off, after the empty
// lines before it: the limits of the line and of the head count from there.
func (p *Parser) startAt(off int) {
	p.start = off
	p.line = bound{off + p.lineMax.at, p.lineMax.err}
	p.fields = bound{off + p.lim.MaxHeadBytes, ErrHeaderTooLarge}
}

// Started reports whether Parse has consumed any byte of a request not yet
// complete (the engine starts its header-read timer on the first byte).
// Empty lines before a request line, which Parse skips, do not start it.
func (p *Parser) Started() bool { return p.off > p.start && p.state != stEmptyLF }

// HeadComplete reports whether the head of the pending request has been parsed
// and only its body is awaited; Pending returns that partial request (valid
// until the next Parse) so the engine can answer "Expect: 100-continue" or
// reject it early.
func (p *Parser) HeadComplete() bool {
	return p.trailer || p.state >= stBody && p.state < stFailed
}

// Pending returns the partially parsed request whose head is complete, or nil.
// Its Body is nil. buf must hold the same bytes last passed to Parse (it may
// live at another address).
func (p *Parser) Pending(buf []byte) *Request {
	if !p.HeadComplete() {
		return nil
	}
	return p.fill(buf)
}

// Parse parses the request at the start of buf, which holds every byte
// received and not yet consumed. Its contract follows bufio.SplitFunc:
//
//   - (0, nil, nil): need more bytes. Call again with the same bytes plus more
//     appended; scanning resumes where it stopped, never from the start.
//   - (n, req, nil): a complete request occupies buf[:n].
//   - (0, nil, err): the request is invalid; err is a *ParseError. The
//     connection must be answered and closed; the Parser must be Reset before reuse.
//
// After a complete request the Parser is ready for the next one (pipelining):
// call Parse with buf[n:] once the caller is done with req.
//
// Calling Parse again after an error returns the same error. Passing fewer
// bytes than the previous call breaks the contract and panics.
func (p *Parser) Parse(buf []byte) (n int, req *Request, err error) {
	if p.state == stFailed {
		return 0, nil, p.err
	}
	if len(buf) < p.off {
		panic("httpcodec: Parse called with fewer bytes than the previous call")
	}
	if p.off == 0 && cap(p.body) > keepScratch {
		p.body = nil
	}
	// Each case consumes what it can and then moves to another state,
	// returns (a complete request, or p.stop where a scan ran out of bytes
	// or reached its bound), or sets bad. The loop condition is the exit of
	// the other rejections, and of expect's need-more verdict (needMore).
	// Every rejection is built by fail. Cases follow the order of the
	// states, so the common path falls through to the next one without a
	// round trip through the switch; p.state is always kept current.
	var bad error
	for bad == nil {
		switch p.state {
		case stEmptyLF:
			if bad = p.expect(buf, '\n', unbounded, ErrBadRequest); bad != nil {
				continue
			}
			p.startAt(p.off)
			p.state = stMethod
			fallthrough

		case stMethod:
			w := p.line.cut(buf)
			i := scanTchar(w, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.line, buf, i)
			}
			if i == p.start && buf[i] == '\r' {
				// RFC 9112 §2.2: a server SHOULD ignore at least one empty
				// line (CRLF) before the request line; we ignore MaxEmptyLines.
				// A bare LF is rejected, as everywhere.
				p.advance(i + 1)
				p.state = stEmptyLF
				if p.start == 2*MaxEmptyLines {
					bad = ErrBadRequest
				}
				continue
			}
			if buf[i] != ' ' || i == p.start {
				bad = ErrBadRequest
				continue
			}
			p.methodEnd = i
			p.advance(i + 1)
			p.state = stTarget
			fallthrough

		case stTarget:
			w := p.line.cut(buf)
			i := scanTarget(w, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.line, buf, i)
			}
			// RFC 9112 §3: exactly one SP on each side of the target.
			if buf[i] != ' ' || i == p.methodEnd+1 {
				bad = ErrBadRequest
				continue
			}
			p.targetEnd = i
			p.advance(i + 1)
			p.state = stVersion
			fallthrough

		case stVersion:
			// Each byte is checked as it arrives: a version we do not serve
			// is refused at once, not when (or if) the line ends.
			vs := p.targetEnd + 1
			w := p.line.cut(buf)
			i := scanVersion(w, vs, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.line, buf, i)
			}
			if i-vs < len("HTTP/1.1") {
				bad = versionError(i-vs, buf[i])
				continue
			}
			if buf[i] != '\r' {
				bad = ErrBadRequest // includes a bare LF: RFC 9112 §2.2 allows accepting it, we do not
				continue
			}
			p.minor = int(buf[i-1] - '0')
			p.advance(i + 1)
			p.state = stLineLF
			fallthrough

		case stLineLF:
			// Anything but LF makes the CR before it a bare CR, RFC 9112 §2.2.
			if bad = p.expect(buf, '\n', p.line, ErrBadRequest); bad != nil {
				continue
			}
			if bad = p.requestLine(buf); bad != nil {
				continue
			}
			p.state = stFieldStart
			fallthrough

		case stFieldStart:
			if w := p.fields.cut(buf); p.off == len(w) {
				return p.stop(p.fields, buf, p.off)
			}
			c := buf[p.off]
			if c == '\r' {
				p.advance(p.off + 1)
				p.state = stHeadLF
				continue
			}
			// A leading SP or HTAB is obs-fold: RFC 9112 §5.2 lets a server
			// reject it with 400, and we do. A bare LF is rejected too.
			if !isTchar[c] {
				bad = p.fieldBad
				continue
			}
			if !p.trailer && len(p.spans) == p.lim.MaxHeaders {
				bad = ErrTooManyHeaders
				continue
			}
			p.nameStart = p.off
			p.state = stFieldName
			fallthrough

		case stFieldName:
			w := p.fields.cut(buf)
			i := scanTchar(w, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.fields, buf, i)
			}
			// RFC 9112 §5.1: whitespace between the field name and the colon
			// MUST be rejected with 400.
			if buf[i] != ':' {
				bad = p.fieldBad
				continue
			}
			p.nameEnd = i
			p.advance(i + 1)
			p.state = stFieldOWS
			fallthrough

		case stFieldOWS:
			w := p.fields.cut(buf)
			i := scanOWS(w, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.fields, buf, i)
			}
			p.valStart = i
			p.state = stFieldValue
			fallthrough

		case stFieldValue:
			w := p.fields.cut(buf)
			i := scanValue(w, p.off)
			p.advance(i)
			if i == len(w) {
				return p.stop(p.fields, buf, i)
			}
			// RFC 9110 §5.5: NUL, CR, LF and other controls are invalid in a
			// value; a CR must start the line's CRLF.
			if buf[i] != '\r' {
				bad = p.fieldBad
				continue
			}
			p.valEnd = trimOWSRight(buf, p.valStart, i)
			p.advance(i + 1)
			p.state = stFieldLF
			fallthrough

		case stFieldLF:
			if bad = p.expect(buf, '\n', p.fields, p.fieldBad); bad != nil {
				continue
			}
			// Trailer fields are checked for syntax and dropped: RFC 9110
			// §6.5.1 forbids merging them into the header section blindly.
			if !p.trailer {
				bad = p.field(buf)
			}
			p.state = stFieldStart

		case stHeadLF:
			if bad = p.expect(buf, '\n', p.fields, p.fieldBad); bad != nil {
				continue
			}
			if p.trailer {
				return p.complete(buf, p.off)
			}
			if bad = p.head(buf); bad != nil {
				continue
			}
			switch {
			case p.chunked:
				p.body = p.body[:0]
				p.state = stChunkSize
			case p.cl > 0:
				p.state = stBody
			default:
				return p.complete(buf, p.off)
			}

		case stBody:
			end := p.headEnd + int(p.cl)
			if len(buf) < end {
				return 0, nil, nil
			}
			return p.complete(buf, end)

		case stChunkSize:
			i := p.off
			for i < len(buf) && unhex[buf[i]] < 16 && p.digits < MaxChunkSizeDigits {
				p.chunkLeft = p.chunkLeft<<4 | uint64(unhex[buf[i]])
				p.digits++
				i++
			}
			p.advance(i)
			if i == len(buf) {
				return 0, nil, nil
			}
			if unhex[buf[i]] < 16 || p.digits == 0 {
				bad = ErrBadChunk
				continue
			}
			if p.chunkLeft > uint64(p.lim.MaxBodyBytes-p.bodyLen) {
				bad = ErrBodyTooLarge // reject on the announcement, before the data arrives
				continue
			}
			switch buf[i] {
			case '\r':
				p.advance(i + 1)
				p.state = stChunkSizeLF
			case ';':
				p.state = stChunkExt
			case ' ', '\t':
				// RFC 9112 §7.1.1 allows BWS around ';' but no sender may
				// generate it; like net/http we accept it only before CRLF.
				p.state = stChunkSizeOWS
			default:
				bad = ErrBadChunk
			}

		case stChunkSizeOWS, stChunkExt:
			// Extension bytes (and the whitespace before them) count against
			// MaxChunkExtBytes over the whole body; one past the budget fails.
			budget := bound{at: p.off + p.lim.MaxChunkExtBytes - p.ext + 1}
			var i int
			if p.state == stChunkSizeOWS {
				i = scanOWS(budget.cut(buf), p.off)
			} else {
				i = scanValue(budget.cut(buf), p.off)
			}
			p.ext += i - p.off
			p.advance(i)
			if p.ext > p.lim.MaxChunkExtBytes {
				bad = ErrBadChunk
				continue
			}
			if i == len(buf) {
				return 0, nil, nil
			}
			if buf[i] != '\r' {
				bad = ErrBadChunk
				continue
			}
			p.advance(i + 1)
			p.state = stChunkSizeLF

		case stChunkSizeLF:
			if bad = p.expect(buf, '\n', unbounded, ErrBadChunk); bad != nil {
				continue
			}
			if p.chunkLeft > 0 {
				p.bodyLen += int64(p.chunkLeft)
				p.state = stChunkData
				continue
			}
			// The last chunk: the trailer section follows, read by the field
			// states within what is left of the extension budget.
			p.trailer = true
			p.fields = bound{at: p.off + p.lim.MaxChunkExtBytes - p.ext, err: ErrBadChunk}
			p.fieldBad = ErrBadChunk
			p.state = stFieldStart

		case stChunkData:
			take := len(buf) - p.off
			if uint64(take) > p.chunkLeft {
				take = int(p.chunkLeft)
			}
			p.body = append(p.body, buf[p.off:p.off+take]...)
			p.advance(p.off + take)
			p.chunkLeft -= uint64(take)
			if p.chunkLeft > 0 {
				return 0, nil, nil
			}
			p.state = stChunkDataCR
			fallthrough

		case stChunkDataCR:
			// RFC 9112 §7.1: chunk data ends with exactly CRLF.
			if bad = p.expect(buf, '\r', unbounded, ErrBadChunk); bad != nil {
				continue
			}
			p.state = stChunkDataLF
			fallthrough

		case stChunkDataLF:
			if bad = p.expect(buf, '\n', unbounded, ErrBadChunk); bad != nil {
				continue
			}
			p.digits = 0
			p.state = stChunkSize

		default:
			panic("httpcodec: bad parser state " + strconv.Itoa(int(p.state)))
		}
	}
	if _, more := bad.(needMore); more {
		return 0, nil, nil
	}
	return 0, nil, p.fail(buf, bad)
}

// needMore is expect's verdict "need more bytes"; Parse turns it into
// (0, nil, nil) and never returns it. It is a type of its own so that
// recognizing it costs one comparison of type words (comparing with an
// errors.New value calls runtime.ifaceeq).
type needMore struct{}

func (needMore) Error() string { return "httpcodec: need more bytes" }

// bound is an offset, from the start of the request, that a state's scan
// must not reach, and the rejection for reaching it: the request line's
// (414, or 431 when the head limit is lower), the head's (431), the
// trailer's (what the chunk-extension budget leaves).
type bound struct {
	at  int
	err error
}

// unbounded is the bound of the states that only the bytes received limit.
var unbounded = bound{at: math.MaxInt}

// cut returns the window of buf a scan may examine: up to the bound.
func (b bound) cut(buf []byte) []byte { return buf[:min(len(buf), b.at)] }

// stop ends the call of Parse whose scan ran to i, the end of its window
// b.cut(buf): with b.err when the bound was reached, else asking for more.
func (p *Parser) stop(b bound, buf []byte, i int) (int, *Request, error) {
	if i >= b.at {
		return 0, nil, p.fail(buf, b.err)
	}
	return 0, nil, nil
}

// expect consumes the byte at p.off, which must be c; any other byte is
// rejected with bad.
func (p *Parser) expect(buf []byte, c byte, b bound, bad error) error {
	if w := b.cut(buf); p.off == len(w) {
		if p.off >= b.at {
			return b.err
		}
		return needMore{}
	}
	if buf[p.off] != c {
		return bad
	}
	p.advance(p.off + 1)
	return nil
}

// advance moves the scan position to i, counting the bytes examined.
func (p *Parser) advance(i int) {
	p.scanned += i - p.off
	p.off = i
}

// fail records the rejection of the current request and builds its error.
func (p *Parser) fail(buf []byte, bad error) *ParseError {
	name := stateNames[p.state]
	if p.trailer && int(p.state) < len(trailerNames) && trailerNames[p.state] != "" {
		name = trailerNames[p.state]
	}
	off := min(p.off, len(buf))
	lo, hi := max(0, off-8), min(len(buf), off+8)
	p.err = &ParseError{Err: bad, State: name, Offset: off, Snippet: strconv.Quote(string(buf[lo:hi]))}
	p.state = stFailed
	return p.err
}

// complete returns the finished request occupying buf[:end] and readies p for
// the next one.
func (p *Parser) complete(buf []byte, end int) (int, *Request, error) {
	r := p.fill(buf)
	switch {
	case p.chunked:
		if len(p.body) > 0 {
			r.Body = p.body
		}
	case p.cl > 0:
		r.Body = buf[p.headEnd:end:end]
	}
	p.next()
	return end, r, nil
}

// fill builds p.req's head from the recorded offsets into buf. Slices are
// capped so that appending to one cannot overwrite the bytes after it.
func (p *Parser) fill(buf []byte) *Request {
	r := &p.req
	ts := p.methodEnd + 1
	r.Method = buf[p.start:p.methodEnd:p.methodEnd]
	r.Target = buf[ts:p.targetEnd:p.targetEnd]
	r.RawPath = buf[p.pathStart:p.pathEnd:p.pathEnd]
	r.Path = r.RawPath
	if p.pathDecoded {
		r.Path = p.path
	}
	r.RawQuery = nil
	if p.queryStart >= 0 {
		r.RawQuery = buf[p.queryStart:p.targetEnd:p.targetEnd]
	}
	r.ProtoMajor, r.ProtoMinor = 1, p.minor
	if cap(p.hdrs) < len(p.spans) {
		p.hdrs = make([]Header, len(p.spans), cap(p.spans))
	}
	hs := p.hdrs[:len(p.spans)]
	for i := range hs {
		s := &p.spans[i]
		hs[i].Name = buf[s.name:s.nameEnd:s.nameEnd]
		hs[i].Value = buf[s.val:s.valEnd:s.valEnd]
	}
	r.Headers = hs
	r.Host = nil
	if p.host >= 0 {
		r.Host = hs[p.host].Value
	}
	r.Chunked = p.chunked
	r.ContentLength = max(p.cl, 0)
	if p.chunked {
		r.ContentLength = -1
	}
	r.Body = nil
	if p.minor == 1 {
		r.KeepAlive = !p.connClose
	} else {
		r.KeepAlive = p.connKeep && !p.connClose
	}
	// RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
	r.Expect100 = p.expect100 && p.minor == 1
	r.p = p
	return r
}

// versionError is the rejection of a request line whose HTTP-version has c
// at index k, where neither "HTTP/1.0" nor "HTTP/1.1" could have it.
// RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
// A digit where a version number goes is a version we do not serve (505,
// RFC 9110 §15.6.6), whatever follows; anything else is malformed.
func versionError(k int, c byte) error {
	if (k == 5 || k == 7) && isDigit(c) {
		return ErrUnsupportedVersion
	}
	return ErrBadRequest
}

// requestLine checks the request line just read, whose version is known to
// be one we serve: the method and the form of the target (RFC 9112 §3), and
// decodes the path. The version is checked first, byte by byte, because it
// says how to read the rest: the HTTP/2 preface "PRI * HTTP/2.0" is a 505,
// not a misplaced asterisk-form.
func (p *Parser) requestLine(buf []byte) error {
	method := buf[p.start:p.methodEnd]
	// CONNECT (authority-form, RFC 9112 §3.2.3) asks for a tunnel; we are
	// not a proxy.
	if string(method) == "CONNECT" {
		return ErrNotImplemented
	}
	ts, te := p.methodEnd+1, p.targetEnd
	switch t := buf[ts:te]; {
	case t[0] == '/': // origin-form, RFC 9112 §3.2.1
		p.pathStart = ts
	case len(t) == 1 && t[0] == '*': // asterisk-form, RFC 9112 §3.2.4: OPTIONS only
		if string(method) != "OPTIONS" {
			return ErrBadRequest
		}
		p.pathStart, p.pathEnd = ts, te
		return nil
	default: // absolute-form, RFC 9112 §3.2.2
		k := absolutePath(t)
		if k < 0 {
			return ErrBadRequest
		}
		p.pathStart = ts + k
	}
	p.pathEnd = te
	if q := bytes.IndexByte(buf[p.pathStart:te], '?'); q >= 0 {
		p.pathEnd = p.pathStart + q
		p.queryStart = p.pathEnd + 1
	}
	raw := buf[p.pathStart:p.pathEnd]
	switch {
	case len(raw) == 0: // "http://host" or "http://host?q": RFC 9112 §3.3 uses "/"
		p.path = append(p.path[:0], '/')
		p.pathDecoded = true
	case bytes.IndexByte(raw, '%') >= 0:
		dec, err := AppendUnescape(p.path[:0], raw, false)
		if err != nil || bytes.IndexByte(dec, 0) >= 0 {
			return ErrBadRequest
		}
		p.path = dec
		p.pathDecoded = true
	}
	return nil
}

// absolutePath returns the offset in t, an absolute-form target, where its
// path (or query) starts, or -1 when t is not "http(s)://host[:port]..." with
// a reg-name or an IPv6 literal as host. Userinfo is refused (RFC 9110 §4.2.4).
func absolutePath(t []byte) int {
	var i int
	switch {
	case len(t) >= 7 && equalFold(t[:7], "http://"):
		i = 7
	case len(t) >= 8 && equalFold(t[:8], "https://"):
		i = 8
	default:
		return -1
	}
	end := i
	for end < len(t) && t[end] != '/' && t[end] != '?' {
		end++
	}
	a := t[i:end]
	if len(a) == 0 {
		return -1
	}
	var port []byte
	if a[0] == '[' {
		c := bytes.IndexByte(a, ']')
		if c < 0 {
			return -1
		}
		// The same test url.Parse applies: a real IPv6 address, no zone.
		lit := a[1:c]
		if bytes.IndexByte(lit, '%') >= 0 {
			return -1
		}
		ip, err := netip.ParseAddr(string(lit))
		if err != nil || ip.Is4() {
			return -1
		}
		port = a[c+1:]
	} else {
		h := 0
		for h < len(a) && isRegNameChar[a[h]] {
			h++
		}
		if h == 0 {
			return -1
		}
		port = a[h:]
	}
	if len(port) > 0 {
		if port[0] != ':' {
			return -1
		}
		for _, c := range port[1:] {
			if !isDigit(c) {
				return -1
			}
		}
	}
	return end
}

// field examines the field line just read, rejecting what RFC 9112 makes
// fatal as early as possible, and records it.
func (p *Parser) field(buf []byte) error {
	name := buf[p.nameStart:p.nameEnd]
	val := buf[p.valStart:p.valEnd]
	p.spans = append(p.spans, fieldSpan{p.nameStart, p.nameEnd, p.valStart, p.valEnd})
	idx := len(p.spans) - 1
	switch len(name) {
	case 4:
		if !equalFold(name, "host") {
			break
		}
		// RFC 9112 §3.2: more than one Host, or an invalid value, is a 400.
		if p.host >= 0 {
			return ErrBadRequest
		}
		for _, c := range val {
			if !isHostChar[c] {
				return ErrBadRequest
			}
		}
		p.host = idx
	case 6:
		if equalFold(name, "expect") && listHas(val, "100-continue", false) {
			p.expect100 = true
		}
	case 7:
		// RFC 9110 §6.5.1: framing fields cannot be trailers; net/http's
		// fixTrailer rejects announcing them, and so do we.
		if equalFold(name, "trailer") &&
			(listHas(val, "transfer-encoding", false) || listHas(val, "content-length", false) || listHas(val, "trailer", false)) {
			p.badTrailer = true
		}
	case 10:
		if equalFold(name, "connection") {
			p.connClose = p.connClose || listHas(val, "close", false)
			p.connKeep = p.connKeep || listHas(val, "keep-alive", false)
		}
	case 14:
		if !equalFold(name, "content-length") {
			break
		}
		// RFC 9110 §8.6: 1*DIGIT. A list such as "5, 5" is refused, as
		// net/http does; repeated fields must be byte-identical (net/http
		// compares the trimmed strings too) and then count once.
		if p.clSpan >= 0 {
			s := p.spans[p.clSpan]
			if !bytes.Equal(val, buf[s.val:s.valEnd]) {
				return ErrBadContentLength
			}
			return nil
		}
		if len(val) == 0 {
			return ErrBadContentLength
		}
		var n int64
		for _, c := range val {
			if !isDigit(c) {
				return ErrBadContentLength
			}
			d := int64(c - '0')
			if n > (math.MaxInt64-d)/10 {
				return ErrBadContentLength
			}
			n = n*10 + d
		}
		p.cl, p.clSpan = n, idx
	case 17:
		if equalFold(name, "transfer-encoding") {
			p.te++
			p.teSpan = idx
		}
	}
	return nil
}

// head checks the complete header section and decides the body's framing
// (RFC 9112 §6.3).
func (p *Parser) head(buf []byte) error {
	if p.minor == 1 && p.host < 0 {
		return ErrMissingHost // RFC 9112 §3.2
	}
	p.headEnd = p.off
	if p.te == 0 {
		if p.cl > p.lim.MaxBodyBytes {
			return ErrBodyTooLarge
		}
		return nil
	}
	// RFC 9112 §6.1 lets a server process TE and ignore CL; §6.3 and §11.2
	// call the pair a smuggling attempt that ought to be an error. It is.
	if p.cl >= 0 {
		return ErrSmuggling
	}
	// RFC 9112 §6.1: TE in an HTTP/1.0 message means faulty framing.
	if p.minor == 0 {
		return ErrBadRequest
	}
	// Like net/http and nginx we implement a single coding, chunked, sent in
	// a single field: anything else ("gzip, chunked", two fields) is 501.
	s := p.spans[p.teSpan]
	if p.te > 1 || !equalFold(buf[s.val:s.valEnd], "chunked") {
		if s.val == s.valEnd {
			return ErrBadRequest
		}
		return ErrNotImplemented
	}
	if p.badTrailer {
		return ErrBadRequest
	}
	p.chunked = true
	return nil
}
