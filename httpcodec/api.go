package httpcodec

// This file fixes the exported API of the codec: the engine is written against it.
// Implementations live in parser.go, request.go, writer.go, date.go and chars.go.

import "errors"

// Default limits. Each is a named assumption about what a browser game client sends:
// requests are small GETs with a handful of headers, or POSTs of a move or a chat line.
const (
	// DefaultMaxRequestLine bounds "METHOD SP target SP HTTP/x.y CRLF" (answered 414).
	// 8 KiB is what nginx and most proxies accept for a URL.
	DefaultMaxRequestLine = 8 << 10
	// DefaultMaxHeadBytes bounds the whole head, request line included (answered 431).
	DefaultMaxHeadBytes = 32 << 10
	// DefaultMaxHeaders bounds the number of header fields (answered 431).
	DefaultMaxHeaders = 100
	// DefaultMaxBodyBytes bounds a decoded request body (answered 413).
	DefaultMaxBodyBytes = 1 << 20
	// MaxChunkSizeDigits is the number of hex digits a chunk size may have:
	// 16 digits already exceed any body we accept; more is an overflow attempt.
	MaxChunkSizeDigits = 16
	// MaxEmptyLines is the number of empty lines (CRLF) ignored before a
	// request line; one more is a 400. RFC 9112 §2.2 asks a server to ignore
	// at least one, which old clients send after a POST body (RFC 2616 §4.1
	// already said so); net/http's server discards up to 4 CR or LF bytes
	// there, two empty lines. Four lines leave a margin over both while
	// bounding what a peer makes the parser skip (8 bytes per request).
	MaxEmptyLines = 4
	// DefaultMaxChunkExtBytes bounds the chunk-extension and trailer overhead
	// of one chunked body (answered 400), as net/http's chunked reader does
	// against tiny chunks carrying huge extensions.
	DefaultMaxChunkExtBytes = 4 << 10
)

// Limits are the configurable bounds of a Parser. The zero value of a field
// means its default.
type Limits struct {
	MaxRequestLine   int
	MaxHeadBytes     int
	MaxHeaders       int
	MaxBodyBytes     int64
	MaxChunkExtBytes int
}

// Sentinel errors. The engine maps them to statuses in one function.
// Every error returned by Parse wraps exactly one of them in a *ParseError.
var (
	ErrBadRequest         = errors.New("httpcodec: malformed request")                     // 400
	ErrRequestLineTooLong = errors.New("httpcodec: request line too long")                 // 414
	ErrHeaderTooLarge     = errors.New("httpcodec: request header fields too large")       // 431
	ErrTooManyHeaders     = errors.New("httpcodec: too many header fields")                // 431
	ErrBodyTooLarge       = errors.New("httpcodec: request body too large")                // 413
	ErrUnsupportedVersion = errors.New("httpcodec: HTTP version not supported")            // 505
	ErrNotImplemented     = errors.New("httpcodec: transfer coding not implemented")       // 501
	ErrMissingHost        = errors.New("httpcodec: missing Host header")                   // 400
	ErrBadContentLength   = errors.New("httpcodec: invalid Content-Length")                // 400
	ErrSmuggling          = errors.New("httpcodec: Transfer-Encoding with Content-Length") // 400
	ErrBadChunk           = errors.New("httpcodec: malformed chunked body")                // 400
)

// ParseError reports where parsing failed. Snippet is a short, quoted and
// escaped excerpt for logs; it is never echoed to the peer.
type ParseError struct {
	Err     error  // one of the sentinels above
	State   string // parser state name, e.g. "header-name"
	Offset  int    // byte offset in the request, skipped empty lines included, where the error was found
	Snippet string // strconv.Quote of at most 16 bytes around Offset
}

func (e *ParseError) Error() string {
	return e.Err.Error() + " (state " + e.State + ", offset " + itoa(e.Offset) + ", near " + e.Snippet + ")"
}

func (e *ParseError) Unwrap() error { return e.Err }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
