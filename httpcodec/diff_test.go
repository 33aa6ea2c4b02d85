package httpcodec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// This file compares the parser with net/http's ReadRequest. Where they
// disagree on purpose, the case is a row below, with the reason; each row's
// example is checked so the list cannot go stale, and the differential fuzz
// accepts a disagreement only when a row's classifier recognizes the input.

// view is a net/http-like reading of one request's head, independent of our
// parser: lines end at LF with an optional CR, the request line splits at the
// first two spaces, fields at the first colon.
type view struct {
	head                    []byte
	reqLine                 string
	method, target, version string
	fields                  []viewField
	bareLF                  bool // a head line ends in LF without CR
	fold                    bool // a field line starts with SP or HTAB
	rest                    []byte
	complete                bool // the head has its empty line
}

type viewField struct{ name, value string }

func makeView(in []byte) view {
	var v view
	pos, first := 0, true
	for {
		i := bytes.IndexByte(in[pos:], '\n')
		if i < 0 {
			return v
		}
		line := in[pos : pos+i]
		pos += i + 1
		if len(line) == 0 || line[len(line)-1] != '\r' {
			v.bareLF = true
		} else {
			line = line[:len(line)-1]
		}
		switch {
		case first:
			first = false
			v.reqLine = string(line)
			var rest string
			v.method, rest, _ = strings.Cut(v.reqLine, " ")
			v.target, v.version, _ = strings.Cut(rest, " ")
		case len(line) == 0:
			v.head, v.rest, v.complete = in[:pos], in[pos:], true
			return v
		case line[0] == ' ' || line[0] == '\t':
			v.fold = true
		default:
			name, value, _ := strings.Cut(string(line), ":")
			v.fields = append(v.fields, viewField{name, strings.Trim(value, " \t")})
		}
	}
}

func (v view) has(name string) bool { return len(v.values(name)) > 0 }

func (v view) values(name string) []string {
	var vs []string
	for _, f := range v.fields {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

func (v view) chunked() bool {
	te := v.values("Transfer-Encoding")
	return len(te) == 1 && strings.EqualFold(te[0], "chunked") && v.version == "HTTP/1.1"
}

// chunks walks a chunked body the way net/http's chunked reader does.
type chunks struct {
	extBytes  int  // bytes after the size digits on size lines
	extCTL    bool // a control character in an extension
	total     uint64
	trailer   []byte // from after the last-chunk line through the blank line
	trailerLF bool   // the trailer has a bare-LF line
}

func walkChunks(b []byte) (c chunks) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 1 {
			return c
		}
		line := b[:i-1]
		b = b[i+1:]
		d := 0
		for d < len(line) && unhex[line[d]] < 16 {
			d++
		}
		ext := line[d:]
		c.extBytes += len(ext)
		for _, x := range ext {
			if x < 0x20 && x != '\t' || x == 0x7f {
				c.extCTL = true
			}
		}
		size, err := strconv.ParseUint(string(line[:d]), 16, 64)
		if err != nil {
			return c
		}
		if size == 0 {
			end := -1
			if bytes.HasPrefix(b, []byte("\r\n")) {
				end = 2
			} else if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
				end = i + 4
			}
			if end > 0 {
				c.trailer = b[:end]
				for _, l := range bytes.SplitAfter(c.trailer, []byte("\n")) {
					if len(l) > 0 && !bytes.HasSuffix(l, []byte("\r\n")) {
						c.trailerLF = true
					}
				}
			}
			return c
		}
		c.total += size
		if uint64(len(b)) < size+2 {
			return c
		}
		b = b[size+2:]
	}
}

var absoluteForm = regexp.MustCompile(`^(?i:https?)://([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]*)?([/?].*)?$`)

// disagreement is a deliberate difference: net/http's ReadRequest accepts
// example, we reject it with want, and match recognizes such inputs (one
// request, from its first byte) without running our parser.
type disagreement struct {
	name    string
	reason  string
	want    error
	example string
	match   func(v view, in []byte) bool
}

var disagreements = []disagreement{
	{
		name:    "bare LF",
		reason:  "RFC 9112 §2.2 allows a recipient to accept a bare LF as line terminator; we are strict to leave no room for CR/LF interpretation differences with proxies",
		want:    ErrBadRequest,
		example: "GET / HTTP/1.1\nHost: h\n\n",
		match:   func(v view, _ []byte) bool { return v.bareLF },
	},
	{
		name:    "obs-fold",
		reason:  "RFC 9112 §5.2: a server may reject obs-fold with 400; net/http unfolds it",
		want:    ErrBadRequest,
		example: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.fold },
	},
	{
		name:    "space in a field name",
		reason:  "RFC 9112 §5.1: whitespace between field name and colon MUST be rejected, and a name is a token (RFC 9110 §5.1); net/http keeps names with spaces, uncanonicalized (go.dev/issue/34540)",
		want:    ErrBadRequest,
		example: "GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\nC D: e\r\n\r\n",
		match: func(v view, _ []byte) bool {
			return slices.ContainsFunc(v.fields, func(f viewField) bool { return strings.Contains(f.name, " ") })
		},
	},
	{
		name:    "Transfer-Encoding with Content-Length",
		reason:  "RFC 9112 §6.3: ought to be handled as an error (smuggling); net/http drops Content-Length and uses chunked",
		want:    ErrSmuggling,
		example: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.has("Transfer-Encoding") && v.has("Content-Length") },
	},
	{
		name:    "Transfer-Encoding on HTTP/1.0",
		reason:  "RFC 9112 §6.1: TE in an HTTP/1.0 message means the framing is faulty; net/http ignores the field",
		want:    ErrBadRequest,
		example: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.version == "HTTP/1.0" && v.has("Transfer-Encoding") },
	},
	{
		name:    "missing Host",
		reason:  "RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host; net/http's server checks this, ReadRequest does not",
		want:    ErrMissingHost,
		example: "GET / HTTP/1.1\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.version == "HTTP/1.1" && !v.has("Host") },
	},
	{
		name:    "invalid Host value",
		reason:  "RFC 9112 §3.2: 400 for an invalid Host; net/http's server checks httpguts.ValidHostHeader, ReadRequest does not",
		want:    ErrBadRequest,
		example: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		match: func(v view, _ []byte) bool {
			return slices.ContainsFunc(v.values("Host"), func(h string) bool {
				return strings.ContainsFunc(h, func(r rune) bool { return r >= 0x80 || !isHostChar[r] })
			})
		},
	},
	{
		name:    "HTTP version other than 1.0 and 1.1",
		reason:  "we implement HTTP/1.0 and 1.1 only (505); ReadRequest accepts any HTTP/d.d, including the HTTP/2 preface",
		want:    ErrUnsupportedVersion,
		example: "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.version != "HTTP/1.0" && v.version != "HTTP/1.1" },
	},
	{
		name:    "CONNECT",
		reason:  "we are not a proxy: CONNECT (authority-form, RFC 9112 §3.2.3) is 501",
		want:    ErrNotImplemented,
		example: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.method == "CONNECT" },
	},
	{
		name:    "asterisk-form outside OPTIONS",
		reason:  "RFC 9112 §3.2.4: asterisk-form is only for OPTIONS; net/http accepts * with any method",
		want:    ErrBadRequest,
		example: "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.target == "*" && v.method != "OPTIONS" },
	},
	{
		name:    "absolute-form outside http(s)://host[:port]",
		reason:  "RFC 9112 §3.2.2 absolute-form for our own http(s) origin; other schemes, userinfo (RFC 9110 §4.2.4), empty or exotic hosts are refused; net/http takes any URI",
		want:    ErrBadRequest,
		example: "GET foo:/bar HTTP/1.1\r\nHost: h\r\n\r\n",
		match: func(v view, _ []byte) bool {
			return !strings.HasPrefix(v.target, "/") && v.target != "*" && !absoluteForm.MatchString(v.target)
		},
	},
	{
		name:    "fragment in target",
		reason:  "RFC 9112 §3.2: a request-target has no fragment; net/http keeps '#' in the path",
		want:    ErrBadRequest,
		example: "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",
		match:   func(v view, _ []byte) bool { return strings.Contains(v.target, "#") },
	},
	{
		name:    "non-ASCII target",
		reason:  "RFC 3986 URIs are ASCII (browsers percent-encode); net/http passes raw bytes >= 0x80",
		want:    ErrBadRequest,
		example: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
		match: func(v view, _ []byte) bool {
			return strings.ContainsFunc(v.target, func(r rune) bool { return r >= 0x80 })
		},
	},
	{
		name:    "NUL in decoded path",
		reason:  "a decoded path must not contain NUL (it truncates in C APIs and file systems); net/http decodes %00",
		want:    ErrBadRequest,
		example: "GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n",
		match: func(v view, _ []byte) bool {
			path, _, _ := strings.Cut(v.target, "?")
			return strings.Contains(path, "%00")
		},
	},
	{
		name:    "control character in chunk extension",
		reason:  "RFC 9112 §7.1.1: chunk-ext is tokens and quoted-strings; net/http discards extensions unchecked",
		want:    ErrBadChunk,
		example: chunkedHead + "1;\x01\r\na\r\n0\r\n\r\n",
		match:   func(v view, _ []byte) bool { return v.chunked() && walkChunks(v.rest).extCTL },
	},
	{
		name:    "trailer held to header rules",
		reason:  "the trailer section (RFC 9112 §7.1.2) gets the same strictness as the head: no bare LF, obs-fold or space in a name; net/http reads it with ReadMIMEHeader",
		want:    ErrBadChunk,
		example: chunkedHead + "0\r\nX: a\r\n b\r\n\r\n",
		match: func(v view, _ []byte) bool {
			if !v.chunked() {
				return false
			}
			c := walkChunks(v.rest)
			t := makeView(append([]byte("T / HTTP/1.1\r\n"), c.trailer...))
			return c.trailerLF || t.bareLF || t.fold || slices.ContainsFunc(t.fields, func(f viewField) bool { return strings.Contains(f.name, " ") })
		},
	},
	{
		name:    "request line over MaxRequestLine",
		reason:  "limit: 414 beyond 8 KiB; ReadRequest has no limit",
		want:    ErrRequestLineTooLong,
		example: "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\nHost: h\r\n\r\n",
		match:   func(v view, in []byte) bool { return len(v.reqLine)+2 > DefaultMaxRequestLine },
	},
	{
		name:    "head over MaxHeadBytes",
		reason:  "limit: 431 beyond 32 KiB of head; ReadRequest has no limit (net/http's server uses 1 MB)",
		want:    ErrHeaderTooLarge,
		example: "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 33) + "\r\n",
		match: func(v view, in []byte) bool {
			return len(v.head) > DefaultMaxHeadBytes || !v.complete && len(in) > DefaultMaxHeadBytes
		},
	},
	{
		name:    "more than MaxHeaders fields",
		reason:  "limit: 431 beyond 100 fields; ReadRequest has no limit",
		want:    ErrTooManyHeaders,
		example: "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n",
		match:   func(v view, _ []byte) bool { return len(v.fields) > DefaultMaxHeaders },
	},
	{
		name:    "body over MaxBodyBytes",
		reason:  "limit: 413 beyond 1 MiB, rejected on the declaration; ReadRequest has no limit",
		want:    ErrBodyTooLarge,
		example: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n" + strings.Repeat("b", 1048577),
		match: func(v view, _ []byte) bool {
			cl, err := strconv.ParseInt(strings.Join(v.values("Content-Length")[:min(1, len(v.values("Content-Length")))], ""), 10, 64)
			return err == nil && cl > DefaultMaxBodyBytes || v.chunked() && walkChunks(v.rest).total > DefaultMaxBodyBytes
		},
	},
	{
		name:    "chunk extensions and trailer over MaxChunkExtBytes",
		reason:  "limit: 4 KiB of extension and trailer overhead per body; net/http bounds each line and the trailer at 4 KiB, not their sum",
		want:    ErrBadChunk,
		example: chunkedHead + "1;" + strings.Repeat("e", 3000) + "\r\na\r\n1;" + strings.Repeat("e", 3000) + "\r\nb\r\n0\r\n\r\n",
		match: func(v view, _ []byte) bool {
			c := walkChunks(v.rest)
			return v.chunked() && c.extBytes+len(c.trailer) > DefaultMaxChunkExtBytes
		},
	},
}

// laxer lists what we accept although net/http rejects it, recognized by
// net/http's error and the input.
var laxer = []struct {
	name, reason, example string
	match                 func(stdErr error, in []byte) bool
}{
	{
		name: "empty lines before the request line",
		reason: "RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the request-line; we ignore MaxEmptyLines, " +
			"ReadRequest none (net/http's server discards up to 4 CR or LF bytes after a POST). readStd skips them as we do, " +
			"so the requests after them are still compared",
		example: "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		match: func(stdErr error, in []byte) bool {
			return stdErr != nil && strings.Contains(stdErr.Error(), "malformed HTTP request") && emptyLines(in) > 0
		},
	},
	{
		name:    "chunk line of 4 KiB",
		reason:  "net/http caps every chunk-size line at 4096 bytes, size digits included; we cap the sum of extension and trailer bytes (MaxChunkExtBytes), which this zero-padded line stays within",
		example: chunkedHead + "0000000000000001;" + strings.Repeat("e", 4093) + "\r\na\r\n0\r\n\r\n",
		match: func(stdErr error, in []byte) bool {
			return stdErr != nil && strings.Contains(stdErr.Error(), "header line too long")
		},
	},
}

// stdRequest is net/http's view of one request.
type stdRequest struct {
	req  *http.Request
	body []byte
}

// emptyLines returns the length of the empty lines (CRLF) at the start of in
// that the parser skips: at most MaxEmptyLines of them.
func emptyLines(in []byte) int {
	n := 0
	for n < 2*MaxEmptyLines && bytes.HasPrefix(in[n:], []byte("\r\n")) {
		n += 2
	}
	return n
}

// readStd reads up to max requests from in with http.ReadRequest, as
// net/http's server would from a connection (a 4 KiB bufio.Reader). Before
// each request it skips the empty lines we skip (see laxer).
func readStd(in []byte, max int) ([]stdRequest, error) { return readStdSkipping(in, max, true) }

// readStdSkipping is readStd, skipping empty lines only if skip is set.
func readStdSkipping(in []byte, max int, skip bool) ([]stdRequest, error) {
	br := bufio.NewReader(bytes.NewReader(in))
	var reqs []stdRequest
	for len(reqs) < max {
		if peek, _ := br.Peek(2 * MaxEmptyLines); skip {
			br.Discard(emptyLines(peek))
		}
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return reqs, nil
		}
		if err != nil {
			return reqs, err
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return reqs, err
		}
		reqs = append(reqs, stdRequest{req, body})
	}
	return reqs, nil
}

// readOurs parses up to max requests from in, in one buffer.
func readOurs(in []byte, max int) (reqs []got, err error) {
	p := NewParser(Limits{})
	for start := 0; len(reqs) < max && start < len(in); {
		n, r, err := p.Parse(in[start:])
		if err != nil {
			return reqs, err
		}
		if r == nil {
			return reqs, errIncomplete
		}
		reqs = append(reqs, snap(r, n))
		start += n
	}
	return reqs, nil
}

var errIncomplete = errors.New("incomplete request")

// sameRequest compares one request as both parsers saw it, after applying
// the header edits ReadRequest makes (it removes framing fields it has
// consumed and adds Cache-Control for "Pragma: no-cache").
func sameRequest(ours got, std stdRequest) error {
	r := std.req
	var diffs []string
	check := func(what string, a, b any) {
		if a != b {
			diffs = append(diffs, fmt.Sprintf("%s: ours %q, net/http %q", what, a, b))
		}
	}
	check("method", ours.Method, r.Method)
	check("target", ours.Target, r.RequestURI)
	check("proto", ours.Proto, fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor))
	check("body", ours.Body, string(std.body))
	check("content length", ours.CL, r.ContentLength)
	check("keep-alive", ours.KeepAlive, !r.Close)
	// ReadRequest moves Host out of the header map into r.Host, where the
	// authority of an absolute-form target overrides it (RFC 9112 §3.2.2);
	// our Request keeps the field (see Request.Host).
	if strings.HasPrefix(ours.Target, "/") || ours.Target == "*" {
		check("host", ours.Host, r.Host)
	}
	want := http.Header{}
	if ours.Headers != "" {
		for _, line := range strings.Split(ours.Headers, "\n") {
			name, value, _ := strings.Cut(line, ": ")
			want.Add(name, value)
		}
	}
	want.Del("Host")
	want.Del("Transfer-Encoding")
	if ours.Chunked {
		want.Del("Content-Length")
		want.Del("Trailer")
	} else if cl := want.Values("Content-Length"); len(cl) > 1 {
		want["Content-Length"] = cl[:1]
	}
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"}
	}
	for k := range want {
		if !slices.Equal(want[k], r.Header[k]) {
			diffs = append(diffs, fmt.Sprintf("header %s: ours %q, net/http %q", k, want[k], r.Header[k]))
		}
	}
	for k := range r.Header {
		if want[k] == nil {
			diffs = append(diffs, fmt.Sprintf("header %s: ours absent, net/http %q", k, r.Header[k]))
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

// classify returns the disagreements that explain rejecting in, a request
// net/http accepts.
func classify(in []byte) []disagreement {
	v := makeView(in)
	var ds []disagreement
	for _, d := range disagreements {
		if d.match(v, in) {
			ds = append(ds, d)
		}
	}
	return ds
}

// differential parses in (up to four pipelined requests) with both parsers
// and returns an error for any disagreement not explained by the tables.
func differential(in []byte) error {
	const max = 4
	ours, ourErr := readOurs(in, max)
	std, stdErr := readStd(in, max)
	start := 0
	for i := 0; i < max; i++ {
		switch {
		case i < len(ours) && i < len(std):
			if err := sameRequest(ours[i], std[i]); err != nil {
				return fmt.Errorf("request %d differs: %v", i, err)
			}
			start += ours[i].N
		case i < len(std): // net/http accepts, we reject
			rest := in[start:]
			ds := classify(rest[emptyLines(rest):])
			for _, d := range ds {
				if errors.Is(ourErr, d.want) {
					return nil
				}
			}
			var names []string
			for _, d := range ds {
				names = append(names, d.name+" ("+d.want.Error()+")")
			}
			return fmt.Errorf("request %d: net/http accepts, we reject with %v; matching disagreements: %v", i, ourErr, names)
		case i < len(ours): // we accept, net/http rejects
			for _, l := range laxer {
				if l.match(stdErr, in[start:]) {
					return nil
				}
			}
			return fmt.Errorf("request %d: we accept, net/http rejects with %v", i, stdErr)
		default:
			return nil
		}
	}
	return nil
}

func TestDeliberateDisagreements(t *testing.T) {
	for _, d := range disagreements {
		t.Run(d.name, func(t *testing.T) {
			if d.reason == "" {
				t.Error("no reason given")
			}
			in := []byte(d.example)
			std, err := readStd(in, 1)
			if err != nil || len(std) != 1 {
				t.Errorf("http.ReadRequest(%.80q) = %v; want it accepted (else this row is stale)", in, err)
			}
			_, _, err = NewParser(Limits{}).Parse(in)
			if !errors.Is(err, d.want) {
				t.Errorf("Parse(%.80q) = %v; want %v", in, err, d.want)
			}
			if !d.match(makeView(in), in) {
				t.Errorf("classifier of %q does not recognize its own example", d.name)
			}
			if err := differential(in); err != nil {
				t.Errorf("differential(%.80q) = %v; want the disagreement explained", in, err)
			}
		})
	}
	for _, l := range laxer {
		t.Run("laxer/"+l.name, func(t *testing.T) {
			in := []byte(l.example)
			_, stdErr := readStdSkipping(in, 1, false)
			if stdErr == nil {
				t.Errorf("http.ReadRequest(%.80q) accepted; want it rejected (else this row is stale)", in)
			}
			if _, r, err := NewParser(Limits{}).Parse(in); err != nil || r == nil {
				t.Errorf("Parse(%.80q) = %v, %v; want accepted", in, r, err)
			}
			if !l.match(stdErr, in) {
				t.Errorf("classifier of %q does not recognize its own example", l.name)
			}
			if err := differential(in); err != nil {
				t.Errorf("differential(%.80q) = %v; want agreement", in, err)
			}
		})
	}
}

// TestDifferentialCorpus runs the differential over every seed, so plain
// go test exercises it without -fuzz.
func TestDifferentialCorpus(t *testing.T) {
	for _, s := range fuzzSeeds() {
		if err := differential([]byte(s)); err != nil {
			t.Errorf("differential(%q): %v", s, err)
		}
	}
}
