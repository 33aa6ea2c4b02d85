// Package httpcodec is cometplay's HTTP/1.1 wire codec: bytes in, requests
// out; responses in, bytes out. It knows nothing of connections, goroutines
// or gnet and imports only the standard library.
//
// # Parsing
//
// A Parser is push-based and resumable. The engine loops Peek → Parse →
// Discard: Parse(buf) returns (0, nil, nil) while the request is incomplete,
// and the next call, with the same bytes plus whatever arrived, resumes where
// the previous one stopped; it never rescans. The Parser keeps offsets, not
// slices, so the bytes may move between calls (gnet's Peek may copy).
// Pipelined requests are parsed one per call from buf[n:].
//
// The parser is deliberately strict where HTTP/1.1 framing is security
// sensitive (RFC 9112 §11.2, request smuggling), following net/http's
// transfer.go and going further:
//
//   - Lines end in CRLF. RFC 9112 §2.2 lets a recipient accept a bare LF;
//     we reject it, and a bare CR, anywhere in the head or chunk framing.
//   - Empty lines before a request line are skipped, as RFC 9112 §2.2 asks,
//     but only CRLF ones and at most MaxEmptyLines per request; one more is
//     a 400. They do not start a request (Started), nor count against the
//     line and head limits.
//   - No obs-fold (RFC 9112 §5.2), no whitespace before a field's colon
//     (§5.1), no control characters in field values (RFC 9110 §5.5).
//   - Transfer-Encoding together with Content-Length is ErrSmuggling. The only
//     transfer coding is a single "chunked" (anything else is
//     ErrNotImplemented, 501); Transfer-Encoding on HTTP/1.0 is a 400.
//   - Content-Length is 1*DIGIT. Repeated fields are accepted when
//     byte-identical and count once; a list such as "5, 5" is refused, as
//     net/http does.
//   - HTTP/1.1 requires exactly one Host, with a valid value (RFC 9112 §3.2).
//   - The target is origin-form, absolute-form with an http(s) URI, or "*"
//     for OPTIONS; CONNECT is ErrNotImplemented. The path must percent-decode
//     and must not decode to NUL.
//   - Only HTTP/1.0 and HTTP/1.1 are served (ErrUnsupportedVersion, 505).
//     The version is checked byte by byte as it arrives, and before the
//     method and the target: one that cannot become "HTTP/1.0" or "HTTP/1.1"
//     is refused at its first wrong byte, without waiting for the end of the
//     line: ErrUnsupportedVersion where a version number stands ("HTTP/2",
//     "HTTP/1.2", and so "HTTP/5.66"), ErrBadRequest otherwise.
//   - Every size is bounded by Limits, and a limit is enforced as soon as it
//     is certain to be exceeded, not when the bytes have all arrived.
//
// Every rejection is a *ParseError wrapping one sentinel; the engine maps the
// sentinel to a status. ParseError.Snippet quotes the offending bytes for
// logs; nothing from the request is ever meant to be echoed to the peer.
//
// # Writing
//
// The writers append to a caller's buffer and never allocate beyond growing
// it: status line, header fields, whole Content-Length responses, and chunks.
// AppendChunk never emits a zero-size chunk, which would end the body.
//
// # Concurrency and ownership
//
// A Parser is not safe for concurrent use; one serves one connection at a
// time. A *Request and every slice in it alias the buffer given to Parse or
// the Parser's scratch space, and are valid only until the next Parse or
// Reset on that Parser: copy whatever must outlive the handling of the
// request (for example before handing it to another goroutine).
//
// The Append functions are pure appenders, safe for concurrent use on
// distinct buffers. AppendDate shares a once-per-second cache and is safe for
// concurrent use.
package httpcodec
