package httpcodec

import (
	"strconv"
	"time"
)

// StatusText returns the reason phrase for a status code ("" if unknown).
// Phrases are those of RFC 9110 §15.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 422:
		return "Unprocessable Content"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// AppendStatusLine appends "HTTP/1.1 <code> <reason>\r\n". An unknown code
// gets an empty reason, which RFC 9112 §4 allows. It panics unless code has
// three digits (RFC 9110 §15).
func AppendStatusLine(dst []byte, code int) []byte {
	if code < 100 || code > 999 {
		panic("httpcodec: status code " + strconv.Itoa(code) + " is not three digits")
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendUint(dst, uint64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(code)...)
	return append(dst, "\r\n"...)
}

// AppendHeader appends "name: value\r\n". It panics if name or value holds
// CR, LF or NUL (an invariant the engine guarantees: values it sets are its own
// or validated).
func AppendHeader(dst []byte, name, value string) []byte {
	if !safeFieldText(name) || !safeFieldText(value) {
		panic("httpcodec: header field holds CR, LF or NUL")
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

func safeFieldText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// AppendResponse appends a complete response with Content-Length: status line,
// Date, the given extra headers (name, value pairs), Content-Length, blank
// line and body. headers must have even length. With head set the body is
// omitted but Content-Length still counts it (a HEAD response).
//
// For 1xx, 204 and 304, which never have a body (RFC 9110 §6.4.1), neither
// Content-Length nor body is written: RFC 9110 §8.6 forbids the field on 1xx
// and 204, and a 304's would have to describe the 200 it stands for.
func AppendResponse(dst []byte, code int, headers []string, body []byte, head bool) []byte {
	if len(headers)%2 != 0 {
		panic("httpcodec: AppendResponse headers must be name, value pairs")
	}
	dst = AppendStatusLine(dst, code)
	dst = AppendDate(dst, time.Now())
	for i := 0; i < len(headers); i += 2 {
		dst = AppendHeader(dst, headers[i], headers[i+1])
	}
	if code < 200 || code == 204 || code == 304 {
		return append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendUint(dst, uint64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	if !head {
		dst = append(dst, body...)
	}
	return dst
}

// AppendChunk appends p as one chunk of a chunked body. It appends nothing for
// an empty p, so "0\r\n\r\n" is never written by accident.
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(p)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, p...)
	return append(dst, "\r\n"...)
}

// AppendChunkHeader appends the "<hex size>\r\n" line of a chunk of n bytes
// (n > 0); the caller then appends the data and "\r\n" (AppendChunkEnd).
// It panics if n <= 0: a zero size would end the body.
func AppendChunkHeader(dst []byte, n int) []byte {
	if n <= 0 {
		panic("httpcodec: AppendChunkHeader needs n > 0")
	}
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, "\r\n"...)
}

// AppendChunkEnd appends the "\r\n" that ends a chunk's data.
func AppendChunkEnd(dst []byte) []byte { return append(dst, "\r\n"...) }

// AppendFinalChunk appends the last chunk and the empty trailer: "0\r\n\r\n".
func AppendFinalChunk(dst []byte) []byte { return append(dst, "0\r\n\r\n"...) }

// AppendRequest appends r as a request message again, as a node of a
// cluster relays it to the node that serves it: the request line and the
// fields as received, except the framing ones (Content-Length,
// Transfer-Encoding, Expect, which described the bytes on the client's
// connection), then Content-Length and the decoded body when there is a
// body or the method is POST. The result parses to the same method,
// target, fields, body and keep-alive choice.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	if r.ProtoMinor == 0 {
		dst = append(dst, " HTTP/1.0\r\n"...)
	} else {
		dst = append(dst, " HTTP/1.1\r\n"...)
	}
	for _, h := range r.Headers {
		if equalFold(h.Name, "Content-Length") || equalFold(h.Name, "Transfer-Encoding") || equalFold(h.Name, "Expect") {
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	if r.Body != nil || string(r.Method) == "POST" {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(r.Body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, r.Body...)
}
