package httpcodec

// STUBS: the helper implementing the codec replaces this file with parser.go,
// request.go, writer.go and date.go, keeping every signature and documented
// contract below.

import "time"

// Header is one header field as received. Name and Value alias the parsed
// buffer; Value has leading and trailing OWS removed.
type Header struct {
	Name, Value []byte
}

// Request is one parsed request. Every byte slice aliases either the buffer
// passed to Parse or the Parser's own scratch space, and is valid only until
// the next call to Parse or Reset on the same Parser (the engine calls Discard
// on its inbound buffer right after handling). Copy what must outlive that.
type Request struct {
	Method     []byte // e.g. "GET"; a valid token
	Target     []byte // request-target exactly as sent
	Path       []byte // percent-decoded path of an origin-form target ("*" for OPTIONS *)
	RawPath    []byte // path as sent, before decoding
	RawQuery   []byte // bytes after '?', undecoded; nil when the target has no '?'
	ProtoMajor int    // 1
	ProtoMinor int    // 0 or 1
	Headers    []Header
	Host       []byte // value of the Host header (nil when absent, allowed on HTTP/1.0)
	// ContentLength is the declared length, or -1 for a chunked body.
	ContentLength int64
	Chunked       bool
	// Body is the whole decoded body (nil when there is none).
	Body []byte
	// KeepAlive reports whether the connection may carry another request after
	// this one: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive".
	KeepAlive bool
	// Expect100 reports whether the request carried "Expect: 100-continue".
	Expect100 bool
}

// Header returns the first value of the named field (case-insensitive), or nil.
func (r *Request) Header(name string) []byte { panic("stub") }

// HasToken reports whether any value of the named field, read as a
// comma-separated list, holds token (case-insensitive), e.g.
// HasToken("Accept-Encoding", "gzip"). Parameters after ';' are ignored.
func (r *Request) HasToken(name, token string) bool { panic("stub") }

// VisitQuery calls fn for each key=value pair of RawQuery, in order, with both
// percent-decoded and '+' read as space. The slices alias scratch space valid
// only during the call. A pair without '=' has an empty value. It stops early
// when fn returns false, and returns ErrBadRequest for an invalid %-escape.
// It does not allocate once the Parser's scratch space has grown.
func (r *Request) VisitQuery(fn func(key, value []byte) bool) error { panic("stub") }

// AppendUnescape appends the percent-decoding of s to dst. With plusSpace, '+'
// becomes ' ' (query strings and form bodies). An invalid escape returns
// ErrBadRequest and dst unchanged.
func AppendUnescape(dst, s []byte, plusSpace bool) ([]byte, error) { panic("stub") }

// VisitForm is VisitQuery for an application/x-www-form-urlencoded body or any
// other query-formatted bytes; scratch is reused and returned.
func VisitForm(scratch, form []byte, fn func(key, value []byte) bool) ([]byte, error) { panic("stub") }

// Parser is a resumable HTTP/1.1 request parser. It is not safe for
// concurrent use; one Parser serves one connection at a time.
type Parser struct{}

// NewParser returns a Parser with the given limits (zero fields take defaults).
func NewParser(l Limits) *Parser { panic("stub") }

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
func (p *Parser) Parse(buf []byte) (n int, req *Request, err error) { panic("stub") }

// HeadComplete reports whether the head of the pending request has been parsed
// and only its body is awaited; Pending returns that partial request (valid
// until the next Parse) so the engine can answer "Expect: 100-continue" or
// reject it early.
func (p *Parser) HeadComplete() bool { panic("stub") }

// Pending returns the partially parsed request whose head is complete, or nil.
// Its Body is nil.
func (p *Parser) Pending(buf []byte) *Request { panic("stub") }

// Started reports whether Parse has consumed any byte of a request not yet
// complete (the engine starts its header-read timer on the first byte).
func (p *Parser) Started() bool { panic("stub") }

// Reset forgets any partial request.
func (p *Parser) Reset() { panic("stub") }

// StatusText returns the reason phrase for a status code ("" if unknown).
func StatusText(code int) string { panic("stub") }

// AppendStatusLine appends "HTTP/1.1 <code> <reason>\r\n".
func AppendStatusLine(dst []byte, code int) []byte { panic("stub") }

// AppendHeader appends "name: value\r\n". It panics if name or value holds
// CR, LF or NUL (an invariant the engine guarantees: values it sets are its own
// or validated).
func AppendHeader(dst []byte, name, value string) []byte { panic("stub") }

// AppendDate appends "Date: <IMF-fixdate>\r\n" for now, from a cache renewed
// once per second. Safe for concurrent use.
func AppendDate(dst []byte, now time.Time) []byte { panic("stub") }

// AppendResponse appends a complete response with Content-Length: status line,
// Date, the given extra headers (name, value pairs), Content-Length, blank
// line and body. headers must have even length. With head set the body is
// omitted but Content-Length still counts it (a HEAD response).
func AppendResponse(dst []byte, code int, headers []string, body []byte, head bool) []byte {
	panic("stub")
}

// AppendChunk appends p as one chunk of a chunked body. It appends nothing for
// an empty p, so "0\r\n\r\n" is never written by accident.
func AppendChunk(dst, p []byte) []byte { panic("stub") }

// AppendChunkHeader appends the "<hex size>\r\n" line of a chunk of n bytes
// (n > 0); the caller then appends the data and "\r\n" (AppendChunkEnd).
func AppendChunkHeader(dst []byte, n int) []byte { panic("stub") }

// AppendChunkEnd appends the "\r\n" that ends a chunk's data.
func AppendChunkEnd(dst []byte) []byte { panic("stub") }

// AppendFinalChunk appends the last chunk and the empty trailer: "0\r\n\r\n".
func AppendFinalChunk(dst []byte) []byte { panic("stub") }
