package httpcodec

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// nasty are seeds aimed at the places parsers disagree: smuggling vectors,
// framing edge cases, overflows.
var nasty = []string{
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\t\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1, 1\r\n\r\na",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  00001\r\n\r\na",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1_0\r\n\r\na",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
	chunkedHead + "1;\n",
	chunkedHead + "ffffffffffffffff\r\n",
	chunkedHead + "10000000000000000\r\n",
	chunkedHead + "0x1\r\na\r\n0\r\n\r\n",
	chunkedHead + "-1\r\na\r\n0\r\n\r\n",
	chunkedHead + "+1\r\na\r\n0\r\n\r\n",
	chunkedHead + "1\r\na\n0\r\n\r\n",
	chunkedHead + "1 \r\na\r\n0 \r\n\r\n",
	chunkedHead + "1\t;a=b\r\na\r\n0\r\n\r\n",
	chunkedHead + "1;a=\"b\\\"c\"\r\na\r\n0\r\nX-T: 1\r\nY-T: 2\r\n\r\n",
	chunkedHead + "0\r\nContent-Length: 5\r\n\r\nhello",
	chunkedHead + "0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\na\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\na\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/5.6",
	"GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
	"GET / HTTP/10.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET http://a@b/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET http://[::1%25eth0]/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET //a/b HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET /a%2 HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET /?%zz HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nX: \x80\xff\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nX: a\x00\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nConnection: close, keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\nHost: b\r\nTrailer: Transfer-Encoding\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: b\r\nTrailer: Host\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: evil\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: b\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\n\tX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: b\r\nX:y\r\r\n\r\n",
	// Absolute-form and framing details the fuzzer rarely builds.
	"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET HTTP://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h:/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h.-_~/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://[::1]/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://[::ffff:1.2.3.4]:80/x?y HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://[fe80::1%25en0]/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://a%41/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://a:1:2/ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET https://h?x HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h/%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h/a%00 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /?# HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 01\r\n\r\nx",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: close;x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"OPTIONS http://h HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n1\r\nx\r\n0\r\nX: y\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX: y\r\nX: z\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
}

func fuzzSeeds() []string {
	var s []string
	for _, tc := range acceptCases {
		s = append(s, tc.in)
	}
	for _, tc := range rejectCases {
		if len(tc.in) < 4096 {
			s = append(s, tc.in)
		}
	}
	for _, tc := range pipelines {
		s = append(s, tc.in)
	}
	for _, d := range disagreements {
		if len(d.example) < 4096 {
			s = append(s, d.example)
		}
	}
	return append(s, nasty...)
}

// FuzzSplit checks that a fuzzer-chosen split point, and byte-at-a-time
// feeding for small inputs, agree with parsing the whole input at once.
func FuzzSplit(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add([]byte(s), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, in []byte, k uint16) {
		want := feed(Limits{}, in, whole(in))
		if len(in) == 0 {
			return
		}
		split := int(k) % len(in)
		if o := feed(Limits{}, in, splitAt(in, split)); !o.equal(want) {
			t.Fatalf("split at %d of %q:\n%v\nwhole:\n%v", split, in, o, want)
		}
		// Small limits make the limit paths reachable for the fuzzer.
		small := Limits{MaxRequestLine: 40, MaxHeadBytes: 80, MaxHeaders: 3, MaxBodyBytes: 16, MaxChunkExtBytes: 8}
		if a, b := feed(small, in, whole(in)), feed(small, in, splitAt(in, split)); !a.equal(b) {
			t.Fatalf("small limits, split at %d of %q:\n%v\nwhole:\n%v", split, in, b, a)
		}
		if len(in) <= 512 {
			if o := feed(Limits{}, in, byteAtATime(in)); !o.equal(want) {
				t.Fatalf("byte at a time %q:\n%v\nwhole:\n%v", in, o, want)
			}
		}
	})
}

// builder writes a request from parts; the round-trip fuzz parses it back.
type builder struct {
	method  string
	path    string // decoded
	query   string
	headers [][2]string
	body    []byte
	chunks  []int // chunk sizes, when chunked
	chunked bool
}

func (b *builder) bytes() []byte {
	var out []byte
	target := (&url.URL{Path: b.path}).EscapedPath()
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	if b.query != "" {
		target += "?" + url.QueryEscape(b.query)
	}
	out = fmt.Appendf(out, "%s %s HTTP/1.1\r\n", b.method, target)
	out = AppendHeader(out, "Host", "game.example.com")
	for _, h := range b.headers {
		out = AppendHeader(out, h[0], h[1])
	}
	if !b.chunked {
		out = AppendHeader(out, "Content-Length", fmt.Sprint(len(b.body)))
		out = append(out, "\r\n"...)
		return append(out, b.body...)
	}
	out = AppendHeader(out, "Transfer-Encoding", "chunked")
	out = append(out, "\r\n"...)
	rest := b.body
	for _, n := range b.chunks {
		n = min(n, len(rest))
		out = AppendChunk(out, rest[:n])
		rest = rest[n:]
	}
	out = AppendChunk(out, rest)
	return AppendFinalChunk(out)
}

// sanitize keeps the bytes of s that keep accepts, or returns def if none.
func sanitize(s string, keep func(byte) bool, def string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if keep(s[i]) {
			b = append(b, s[i])
		}
	}
	if len(b) == 0 {
		return def
	}
	return string(b)
}

// FuzzRoundTrip builds requests with the writers (AppendHeader, AppendChunk,
// AppendFinalChunk) from fuzzed parts and parses them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add("GET", "/play/room 42/é", "a=1&b=2", "Accept\x00text/html\x00X-Empty\x00", []byte(nil), false, []byte{})
	f.Add("POST", "/move", "", "Content-Type\x00application/json\x00", []byte(`{"cell":4}`), false, []byte{})
	f.Add("POST", "/chat", "q", "X-A\x00 padded \x00", []byte("hello, chunked world"), true, []byte{1, 0, 5, 200})
	f.Add("PUT", "/%00x", "", "", bytes.Repeat([]byte("z"), 300), true, []byte{255, 1})
	f.Fuzz(func(t *testing.T, method, path, query, headers string, body []byte, chunked bool, sizes []byte) {
		if len(body) > DefaultMaxBodyBytes {
			return
		}
		b := builder{
			method:  sanitize(method, func(c byte) bool { return isTchar[c] }, "GET"),
			path:    sanitize(path, func(c byte) bool { return c != 0 }, "/"),
			query:   query,
			body:    body,
			chunked: chunked,
		}
		if b.method == "CONNECT" {
			b.method = "GET"
		}
		fields := strings.Split(headers, "\x00")
		for i := 0; i+1 < len(fields) && len(b.headers) < 20; i += 2 {
			name := sanitize(fields[i], func(c byte) bool { return isTchar[c] }, "X-Fuzz")
			switch strings.ToLower(name) {
			case "host", "content-length", "transfer-encoding", "trailer":
				name = "X-" + name
			}
			value := sanitize(fields[i+1], func(c byte) bool { return isValueChar[c] }, "")
			b.headers = append(b.headers, [2]string{name, value})
		}
		for _, s := range sizes {
			b.chunks = append(b.chunks, int(s))
		}
		in := b.bytes()
		o := feed(Limits{}, in, whole(in))
		if line := bytes.IndexByte(in, '\n') + 1; line > DefaultMaxRequestLine {
			if o.Err != ErrRequestLineTooLong {
				t.Fatalf("parsing a %d-byte request line = %v; want %v", line, o, ErrRequestLineTooLong)
			}
			return
		}
		if o.Err != nil || len(o.Reqs) != 1 || o.Rest != 0 {
			t.Fatalf("parsing %.300q = %v; want one request", in, o)
		}
		r := o.Reqs[0]
		var hs []string
		hs = append(hs, "Host: game.example.com")
		for _, h := range b.headers {
			hs = append(hs, h[0]+": "+strings.Trim(h[1], " \t"))
		}
		if b.chunked {
			hs = append(hs, "Transfer-Encoding: chunked")
		} else {
			hs = append(hs, fmt.Sprintf("Content-Length: %d", len(body)))
		}
		wantQuery := url.QueryEscape(b.query)
		switch {
		case r.Method != b.method:
			t.Errorf("method = %q; want %q", r.Method, b.method)
		case r.Path != b.path && r.Path != "/"+b.path:
			t.Errorf("path = %q; want %q", r.Path, b.path)
		case r.RawQuery != wantQuery || r.HasQuery != (wantQuery != ""):
			t.Errorf("query = %q; want %q", r.RawQuery, wantQuery)
		case r.Headers != strings.Join(hs, "\n"):
			t.Errorf("headers = %q; want %q", r.Headers, strings.Join(hs, "\n"))
		case r.Body != string(body) || r.HasBody != (len(body) > 0):
			t.Errorf("body = %q; want %q", r.Body, body)
		case r.Chunked != b.chunked:
			t.Errorf("chunked = %v; want %v", r.Chunked, b.chunked)
		}
		if t.Failed() {
			t.Logf("request: %.300q", in)
			return
		}
		if b.query != "" {
			_, req, err := NewParser(Limits{}).Parse(in)
			var got []string
			if err == nil {
				err = req.VisitQuery(func(k, v []byte) bool { got = append(got, string(k)+"="+string(v)); return true })
			}
			want := b.query + "=" // escaped whole, the query is one key without a value
			if err != nil || len(got) != 1 || got[0] != want {
				t.Errorf("VisitQuery of %q = %q, %v; want [%q]", wantQuery, got, err, want)
			}
		}
	})
}

// FuzzDifferential compares the parser with net/http's ReadRequest; see
// diff_test.go for the deliberate disagreements.
func FuzzDifferential(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := differential(in); err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
	})
}
