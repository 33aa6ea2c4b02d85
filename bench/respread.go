package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits of the response reader. The bench talks to its own servers, so
// these only stop a broken peer from making it buffer without bound.
const (
	// maxRespHead bounds a response's status line and headers.
	maxRespHead = 16 << 10
	// maxChunkLine bounds a chunk-size line with its extensions.
	maxChunkLine = 1 << 10
	// respBufSize is the reader's buffer: many small pipelined responses fit
	// in one read.
	respBufSize = 64 << 10
)

// Errors of the response reader.
var (
	ErrMalformedResponse = errors.New("bench: malformed response")
	ErrResponseTooLarge  = errors.New("bench: response head too large")
)

// Response describes one response read by a ResponseReader.
type Response struct {
	Status int
	// BodyLen is the number of body bytes (decoded, for a chunked body).
	BodyLen int64
	// HeadLen and WireLen are the bytes of the head and of the whole
	// response on the wire.
	HeadLen, WireLen int64
	// Close reports whether the server said "Connection: close" or ended the
	// body by closing the connection.
	Close bool
	// Chunked reports whether the body used chunked coding.
	Chunked bool
}

// ResponseReader reads HTTP/1.1 responses from a connection, one after the
// other (pipelining): just enough parsing to find where each ends, which is
// all a load generator needs. It understands Content-Length, chunked coding
// (trailers skipped), bodiless statuses, and bodies delimited by the end of
// the connection. It is not a validating parser. Not safe for concurrent
// use.
type ResponseReader struct {
	r    io.Reader
	buf  []byte
	i, j int // buf[i:j] is read but not consumed

	// KeepBody, when set, makes Next keep the body in Body (for probes and
	// tests; the load loop leaves it off).
	KeepBody bool
	// Body is the last body read when KeepBody is set; it is reused.
	Body []byte
	// Head is the last response head when KeepBody is set; it is reused.
	Head []byte
}

// NewResponseReader returns a reader of responses from r.
func NewResponseReader(r io.Reader) *ResponseReader {
	return &ResponseReader{r: r, buf: make([]byte, respBufSize)}
}

// Reset makes the reader read from r, dropping what it has buffered.
func (rr *ResponseReader) Reset(r io.Reader) {
	rr.r, rr.i, rr.j = r, 0, 0
}

// fill reads more bytes, compacting the buffer first. It returns
// io.ErrUnexpectedEOF at a premature end of the stream.
func (rr *ResponseReader) fill() error {
	if rr.i > 0 {
		rr.j = copy(rr.buf, rr.buf[rr.i:rr.j])
		rr.i = 0
	}
	if rr.j == len(rr.buf) {
		return ErrResponseTooLarge
	}
	for range 100 { // a Reader may return 0, nil; it must not do so forever
		n, err := rr.r.Read(rr.buf[rr.j:])
		rr.j += n
		switch {
		case n > 0:
			return nil
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// Next reads the next response. head says that it answers a HEAD request,
// whose body is empty whatever the headers say. At a clean end of the stream
// between responses it returns io.EOF; a response cut short gives
// io.ErrUnexpectedEOF.
func (rr *ResponseReader) Next(head bool) (Response, error) {
	var resp Response
	// Find the end of the head.
	end := -1
	for {
		if k := bytes.Index(rr.buf[rr.i:rr.j], crlfcrlf); k >= 0 {
			end = rr.i + k + len(crlfcrlf)
			break
		}
		if rr.j-rr.i >= maxRespHead {
			return resp, ErrResponseTooLarge
		}
		if err := rr.fill(); err != nil {
			if err == io.ErrUnexpectedEOF && rr.i == rr.j {
				return resp, io.EOF // clean end between responses
			}
			return resp, err
		}
	}
	h := rr.buf[rr.i:end]
	if len(h) > maxRespHead {
		return resp, ErrResponseTooLarge
	}
	resp.HeadLen = int64(len(h))
	if rr.KeepBody {
		rr.Head = append(rr.Head[:0], h...)
	}
	cl, err := parseHead(h, &resp)
	rr.i = end
	if err != nil {
		return resp, err
	}
	rr.Body = rr.Body[:0]
	switch {
	case head || resp.Status/100 == 1 || resp.Status == 204 || resp.Status == 304:
		// No body (RFC 9112 §6.3 rules 1 and 2).
	case resp.Chunked:
		err = rr.skipChunked(&resp)
	case cl >= 0:
		err = rr.skip(cl, &resp)
	default:
		// Delimited by the end of the connection (RFC 9112 §6.3 rule 8).
		resp.Close = true
		err = rr.skip(-1, &resp)
	}
	resp.WireLen += resp.HeadLen
	return resp, err
}

var crlfcrlf = []byte("\r\n\r\n")

// skip consumes n body bytes (n < 0: until EOF).
func (rr *ResponseReader) skip(n int64, resp *Response) error {
	for n != 0 {
		if rr.i == rr.j {
			if err := rr.fill(); err != nil {
				if n < 0 && err == io.ErrUnexpectedEOF {
					return nil
				}
				return err
			}
		}
		k := int64(rr.j - rr.i)
		if n >= 0 {
			k = min(k, n)
			n -= k
		}
		if rr.KeepBody {
			rr.Body = append(rr.Body, rr.buf[rr.i:rr.i+int(k)]...)
		}
		rr.i += int(k)
		resp.BodyLen += k
		resp.WireLen += k
	}
	return nil
}

// line returns the next CRLF-terminated line (without CRLF) and consumes it.
func (rr *ResponseReader) line() ([]byte, error) {
	for {
		if k := bytes.Index(rr.buf[rr.i:rr.j], crlf); k >= 0 {
			l := rr.buf[rr.i : rr.i+k]
			rr.i += k + 2
			return l, nil
		}
		if rr.j-rr.i > maxChunkLine {
			return nil, fmt.Errorf("%w: chunk line too long", ErrMalformedResponse)
		}
		if err := rr.fill(); err != nil {
			return nil, err
		}
	}
}

var crlf = []byte("\r\n")

// skipChunked consumes a chunked body and its trailer section.
func (rr *ResponseReader) skipChunked(resp *Response) error {
	for {
		l, err := rr.line()
		if err != nil {
			return err
		}
		resp.WireLen += int64(len(l)) + 2
		if k := bytes.IndexByte(l, ';'); k >= 0 {
			l = l[:k] // chunk extensions
		}
		size, ok := parseHex(trimOWS(l))
		if !ok {
			return fmt.Errorf("%w: bad chunk size", ErrMalformedResponse)
		}
		if size == 0 {
			break
		}
		if err := rr.skip(size, resp); err != nil {
			return err
		}
		l, err = rr.line()
		if err != nil {
			return err
		}
		if len(l) != 0 {
			return fmt.Errorf("%w: chunk data longer than its size", ErrMalformedResponse)
		}
		resp.WireLen += 2
	}
	for { // trailer section, up to the empty line
		l, err := rr.line()
		if err != nil {
			return err
		}
		resp.WireLen += int64(len(l)) + 2
		if len(l) == 0 {
			return nil
		}
	}
}

// parseHead parses the status line and the framing headers of h (which ends
// with CRLF CRLF). It returns the Content-Length, or -1 when absent.
func parseHead(h []byte, resp *Response) (int64, error) {
	// "HTTP/1.x SSS reason"
	if len(h) < 12 || !bytes.HasPrefix(h, []byte("HTTP/1.")) || h[8] != ' ' {
		return -1, fmt.Errorf("%w: bad status line", ErrMalformedResponse)
	}
	status := 0
	for _, c := range h[9:12] {
		if c < '0' || c > '9' {
			return -1, fmt.Errorf("%w: bad status code", ErrMalformedResponse)
		}
		status = status*10 + int(c-'0')
	}
	resp.Status = status
	http10 := h[7] == '0'
	keepAlive := false
	cl := int64(-1)
	k := bytes.Index(h, crlf)
	h = h[k+2:]
	for len(h) > 2 {
		k := bytes.Index(h, crlf)
		l := h[:k]
		h = h[k+2:]
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return -1, fmt.Errorf("%w: bad header line", ErrMalformedResponse)
		}
		name, value := l[:colon], trimOWS(l[colon+1:])
		switch {
		case len(name) == 14 && asciiEqualFold(name, "content-length"):
			n, ok := parseDec(value)
			if !ok || (cl >= 0 && n != cl) {
				return -1, fmt.Errorf("%w: bad Content-Length", ErrMalformedResponse)
			}
			cl = n
		case len(name) == 17 && asciiEqualFold(name, "transfer-encoding"):
			if !asciiEqualFold(value, "chunked") {
				return -1, fmt.Errorf("%w: unsupported Transfer-Encoding %q", ErrMalformedResponse, value)
			}
			resp.Chunked = true
		case len(name) == 10 && asciiEqualFold(name, "connection"):
			switch {
			case asciiEqualFold(value, "close"):
				resp.Close = true
			case asciiEqualFold(value, "keep-alive"):
				keepAlive = true
			}
		}
	}
	if resp.Chunked && cl >= 0 {
		return -1, fmt.Errorf("%w: both Content-Length and chunked", ErrMalformedResponse)
	}
	if http10 && !keepAlive {
		resp.Close = true
	}
	return cl, nil
}

// trimOWS removes optional whitespace (spaces and tabs) around a field value.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold reports whether b equals s (lower-case ASCII) ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func parseDec(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}
