package httpcodec

import "bytes"

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
	// Chunked reports whether the body came with "Transfer-Encoding: chunked".
	Chunked bool
	// Body is the whole decoded body (nil when there is none).
	Body []byte
	// KeepAlive reports whether the connection may carry another request after
	// this one: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
	// "Connection: keep-alive".
	KeepAlive bool
	// Expect100 reports whether the request carried "Expect: 100-continue".
	Expect100 bool

	p *Parser // owner of the scratch space VisitQuery reuses; nil for a hand-built Request
}

// Header returns the first value of the named field (case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// HasToken reports whether any value of the named field, read as a
// comma-separated list, holds token (case-insensitive), e.g.
// HasToken("Accept-Encoding", "gzip"). Parameters after ';' are ignored.
func (r *Request) HasToken(name, token string) bool {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) && listHas(r.Headers[i].Value, token, true) {
			return true
		}
	}
	return false
}

// VisitQuery calls fn for each key=value pair of RawQuery, in order, with both
// percent-decoded and '+' read as space. The slices alias scratch space valid
// only during the call. A pair without '=' has an empty value. It stops early
// when fn returns false, and returns ErrBadRequest for an invalid %-escape.
// It does not allocate once the Parser's scratch space has grown.
//
// Empty pairs ("a=1&&b=2") are skipped. Pairs before an invalid escape have
// already been visited when the error is returned.
func (r *Request) VisitQuery(fn func(key, value []byte) bool) error {
	if r.p == nil {
		_, err := VisitForm(nil, r.RawQuery, fn)
		return err
	}
	var err error
	r.p.query, err = VisitForm(r.p.query, r.RawQuery, fn)
	return err
}

// AppendUnescape appends the percent-decoding of s to dst. With plusSpace, '+'
// becomes ' ' (query strings and form bodies). An invalid escape returns
// ErrBadRequest and dst unchanged.
func AppendUnescape(dst, s []byte, plusSpace bool) ([]byte, error) {
	n := len(dst)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return dst[:n], ErrBadRequest
			}
			hi, lo := unhex[s[i+1]], unhex[s[i+2]]
			if hi > 15 || lo > 15 {
				return dst[:n], ErrBadRequest
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		case c == '+' && plusSpace:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// VisitForm is VisitQuery for an application/x-www-form-urlencoded body or any
// other query-formatted bytes; scratch is reused and returned.
func VisitForm(scratch, form []byte, fn func(key, value []byte) bool) ([]byte, error) {
	for len(form) > 0 {
		pair := form
		if i := bytes.IndexByte(form, '&'); i >= 0 {
			pair, form = form[:i], form[i+1:]
		} else {
			form = nil
		}
		if len(pair) == 0 {
			continue
		}
		rawKey, rawValue := pair, pair[:0]
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			rawKey, rawValue = pair[:i], pair[i+1:]
		}
		var err error
		if scratch, err = AppendUnescape(scratch[:0], rawKey, true); err != nil {
			return scratch, err
		}
		k := len(scratch)
		if scratch, err = AppendUnescape(scratch, rawValue, true); err != nil {
			return scratch, err
		}
		if !fn(scratch[:k:k], scratch[k:]) {
			break
		}
	}
	return scratch, nil
}

// listHas reports whether the comma-separated list v holds token,
// ASCII case-insensitively (RFC 9110 §5.6.1). With params, anything after a
// ';' in an element is ignored.
func listHas(v []byte, token string, params bool) bool {
	for len(v) > 0 {
		elem := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if params {
			if i := bytes.IndexByte(elem, ';'); i >= 0 {
				elem = elem[:i]
			}
		}
		if equalFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

// trimOWS removes leading and trailing SP and HTAB (RFC 9110 §5.6.3).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals s, ASCII case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
