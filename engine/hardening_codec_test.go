package engine

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// smuggledReq is the request an attacker hides behind an ambiguous framing.
// It targets /smuggled, whose handler records every request it gets: the
// server must never execute it.
const smuggledReq = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"

// smugglingVectors are request-smuggling and malformed-framing vectors, each
// as raw bytes followed by smuggledReq (inside what one reading of the
// framing would take as the next request). Each must be answered with
// status, then the connection closed, and the smuggled request never run.
// The limits are the defaults (httpcodec.Default*): what a deployed server
// enforces.
var smugglingVectors = []struct {
	name   string
	raw    string
	status int
}{
	// Transfer-Encoding and Content-Length together (RFC 9112 §6.1, §11.2).
	{"CL.TE", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE.CL", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + fmt.Sprintf("%x", len(smuggledReq)) + "\r\n" + smuggledReq + "\r\n0\r\n\r\n", 400},
	{"TE.CL with tab before value", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggledReq, 400},
	{"TE.CL on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE obfuscated xchunked with CL", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE obfuscated xchunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggledReq, 501},
	{"TE chunked, identity", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggledReq, 501},
	{"TE identity, chunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 501},
	{"TE twice", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 501},
	{"TE space before colon", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE obs-fold", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE empty", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \r\n\r\n" + smuggledReq, 400},
	{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledReq, 400},
	{"TE with vertical tab", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n" + smuggledReq, 400},

	// Content-Length: duplicated, conflicting or not a plain number.
	{"CL differing duplicates", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 35\r\n\r\n" + smuggledReq, 400},
	{"CL duplicates differing in form", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 00\r\n\r\n" + smuggledReq, 400},
	{"CL list", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 35\r\n\r\n" + smuggledReq, 400},
	{"CL same-value list", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 0\r\n\r\n" + smuggledReq, 400},
	{"CL plus sign", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n" + smuggledReq, 400},
	{"CL negative", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -35\r\n\r\n" + smuggledReq, 400},
	{"CL hex", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x0\r\n\r\n" + smuggledReq, 400},
	{"CL inner space", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3 5\r\n\r\n" + smuggledReq, 400},
	{"CL empty", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n" + smuggledReq, 400},
	{"CL 2^63 overflow", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9223372036854775808\r\n\r\n" + smuggledReq, 400},
	{"CL 2^64 wraps to 0", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551616\r\n\r\n" + smuggledReq, 400},
	{"CL over body limit", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n" + smuggledReq, 413},

	// Chunked framing.
	{"chunk size 17 digits (overflow)", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n" + smuggledReq, 400},
	{"chunk size 17 digits wrapping to 0", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000\r\n\r\n" + smuggledReq, 400},
	{"chunk size 2^64-1", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n" + smuggledReq, 413},
	{"chunk size over body limit", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n" + smuggledReq, 413},
	{"chunk size negative", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n" + smuggledReq, 400},
	{"chunk size 0x prefix", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n" + smuggledReq, 400},
	{"chunk size empty", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\n" + smuggledReq, 400},
	{"chunk size bare LF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n" + smuggledReq, 400},
	{"chunk size bare CR", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\r\n" + smuggledReq, 400},
	{"chunk extension bare LF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0;x\ny\r\n\r\n" + smuggledReq, 400},
	{"chunk extension NUL", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0;x\x00\r\n\r\n" + smuggledReq, 400},
	{"chunk extensions over budget", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 5000) + "\r\na\r\n0\r\n\r\n" + smuggledReq, 400},
	{"chunk data longer than its size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n" + smuggledReq, 400},
	{"chunk data without CRLF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na0\r\n\r\n" + smuggledReq, 400},
	{"trailer obs-fold", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n" + smuggledReq, 400},
	{"trailer bare LF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n" + smuggledReq, 400},
	{"trailer announces Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 35\r\n\r\n" + smuggledReq, 400},

	// Line endings and folding.
	{"bare LF line endings", "GET / HTTP/1.1\nHost: t\n\n" + smuggledReq, 400},
	{"bare LF ends a field", "GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n" + smuggledReq, 400},
	{"bare CR ends a field", "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n" + smuggledReq, 400},
	{"bare CR in a value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n" + smuggledReq, 400},
	{"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"bare CR ends the head", "GET / HTTP/1.1\r\nHost: t\r\n\r" + smuggledReq, 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n" + smuggledReq, 400},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n" + smuggledReq, 400},
	{"leading whitespace before the first field", "GET / HTTP/1.1\r\n Host: t\r\n\r\n" + smuggledReq, 400},

	// NUL and control bytes.
	{"NUL in a value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n" + smuggledReq, 400},
	{"NUL in a name", "GET / HTTP/1.1\r\nHost: t\r\nX\x00: a\r\n\r\n" + smuggledReq, 400},
	{"NUL in the target", "GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"NUL in the method", "G\x00T / HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"percent-encoded NUL in the path", "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"SOH in a value", "GET / HTTP/1.1\r\nHost: t\r\nX: \x01\r\n\r\n" + smuggledReq, 400},
	{"DEL in a value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n" + smuggledReq, 400},
	{"ESC in the target", "GET /\x1b[2J HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"vertical tab in a name", "GET / HTTP/1.1\r\nHost: t\r\nX\x0bY: a\r\n\r\n" + smuggledReq, 400},
	{"non-ASCII name", "GET / HTTP/1.1\r\nHost: t\r\nX\xc3\xa9: a\r\n\r\n" + smuggledReq, 400},
	{"space in a name", "GET / HTTP/1.1\r\nHost: t\r\nX Y: a\r\n\r\n" + smuggledReq, 400},
	{"tab before the colon", "GET / HTTP/1.1\r\nHost\t: t\r\n\r\n" + smuggledReq, 400},

	// Request line and Host.
	{"missing Host", "GET / HTTP/1.1\r\n\r\n" + smuggledReq, 400},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n" + smuggledReq, 400},
	{"Host with a path", "GET / HTTP/1.1\r\nHost: t/smuggled\r\n\r\n" + smuggledReq, 400},
	{"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"lowercase version", "GET / http/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: t\r\n\r\n" + smuggledReq, 505},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + smuggledReq, 505},
	{"HTTP/0.9 request", "GET /\r\n" + smuggledReq, 400},
	{"CONNECT tunnel", "CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n" + smuggledReq, 501},
	{"fragment in the target", "GET /#x HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 400},

	// Sizes.
	{"request line over 8 KiB", "GET /" + strings.Repeat("a", httpcodec.DefaultMaxRequestLine) + " HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 414},
	{"method of 64 KiB", strings.Repeat("G", 64<<10) + " / HTTP/1.1\r\nHost: t\r\n\r\n" + smuggledReq, 414},
	{"head over 32 KiB", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("v", httpcodec.DefaultMaxHeadBytes) + "\r\n\r\n" + smuggledReq, 431},
	{"one field of 1 MiB without an end", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("v", 1<<20), 431},
	{"101 header fields", "GET / HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("X: y\r\n", httpcodec.DefaultMaxHeaders) + "\r\n" + smuggledReq, 431},
	{"100,000 header fields", "GET / HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("A:\r\n", 100_000) + "\r\n" + smuggledReq, 431},
}

// TestHardeningSmugglingOverTheWire sends every vector of smugglingVectors
// to a server with the default limits and a handler recording requests to
// /smuggled. Each must be answered with its status and "Connection: close",
// the fixed error text (nothing of the input echoed), and the connection
// closed; the server must have parsed no request from it, and the smuggled
// request must never have run. Each vector is sent whole and again in small
// random pieces (the seed is logged). TestHTTPBadRequestsOverTheWire covers
// the lingering close that lets such an answer reach the client; the codec's
// own tests (httpcodec TestParseRejected, FuzzDifferential) cover the
// parser alone.
func TestHardeningSmugglingOverTheWire(t *testing.T) {
	var smuggled atomic.Int64
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("", "/", hText("ok"))
		s.Handle("", "/smuggled", func(w *Stream, r *Request) {
			smuggled.Add(1)
			w.Respond(200, "text/plain; charset=utf-8", []byte("SMUGGLED\n"))
		})
	})
	rng := testkit.Rand(t)
	for _, v := range smugglingVectors {
		for _, mode := range []string{"whole", "pieces"} {
			if mode == "pieces" && len(v.raw) > 4<<10 {
				continue
			}
			t.Run(v.name+"/"+mode, func(t *testing.T) {
				before := s.Stats()
				c := testkit.Dial(t, s.Addr())
				// Written concurrently: the server answers and stops reading
				// before the largest vectors are written (writes may then
				// fail, which is fine), and the answer must still arrive.
				pieces := []int{len(v.raw)}
				if mode == "pieces" {
					pieces = pieces[:0]
					for left := len(v.raw); left > 0; {
						n := min(left, 1+rng.IntN(16))
						pieces = append(pieces, n)
						left -= n
					}
				}
				go func() {
					b := []byte(v.raw)
					for _, n := range pieces {
						if _, err := c.C.Write(b[:n]); err != nil {
							return
						}
						b = b[n:]
					}
				}()
				r := c.Next("POST")
				if r.StatusCode != v.status || !r.Close {
					t.Fatalf("got %d close=%v; want %d and close", r.StatusCode, r.Close, v.status)
				}
				if want := fmt.Sprintf("%d %s\n", v.status, httpcodec.StatusText(v.status)); r.Text != want {
					t.Fatalf("body %q; want %q", r.Text, want)
				}
				if err := c.WaitEOF(testkit.Timeout); err != nil {
					t.Fatal(err)
				}
				// The connection is closed: whatever it carried has been
				// parsed or discarded by now.
				after := s.Stats()
				if n := after.Requests - before.Requests; n != 0 {
					t.Fatalf("the server parsed %d request(s) from the vector", n)
				}
				if n := after.BadRequests - before.BadRequests; n != 1 {
					t.Fatalf("bad_requests grew by %d; want 1", n)
				}
				if n := smuggled.Load(); n != 0 {
					t.Fatalf("the smuggled request ran %d time(s)", n)
				}
			})
		}
	}
	// The server is still serving, and never ran a smuggled request.
	if r := testkit.Get(t, s.Addr(), "/"); r.StatusCode != 200 || r.Text != "ok" {
		t.Fatalf("server after the vectors: %d %q", r.StatusCode, r.Text)
	}
	if n := smuggled.Load(); n != 0 {
		t.Fatalf("the smuggled request ran %d time(s)", n)
	}
}

// TestHardeningBodyIsNotARequest is the control of the vectors above: a
// well-framed body that contains a request (Content-Length and chunked) is
// a body, never executed; the connection stays usable and the next real
// request is answered.
func TestHardeningBodyIsNotARequest(t *testing.T) {
	var smuggled atomic.Int64
	var bodies []string
	done := make(chan string, 4)
	s := hStart(t, Config{}, func(s *Server) {
		s.Handle("", "/", func(w *Stream, r *Request) {
			done <- string(r.Body)
			w.Respond(200, "text/plain; charset=utf-8", []byte("ok"))
		})
		s.Handle("", "/smuggled", func(w *Stream, r *Request) {
			smuggled.Add(1)
			w.Respond(200, "text/plain; charset=utf-8", []byte("SMUGGLED\n"))
		})
	})
	for _, raw := range []string{
		fmt.Sprintf("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq),
		fmt.Sprintf("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggledReq), smuggledReq),
		fmt.Sprintf("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", len(smuggledReq), smuggledReq),
	} {
		c := testkit.Dial(t, s.Addr())
		c.Send(raw + testkit.Req("GET", "/"))
		for i := range 2 {
			if r := c.Next("GET"); r.StatusCode != 200 || r.Text != "ok" || r.Close {
				t.Fatalf("%q: response %d: %d %q close=%v", raw, i, r.StatusCode, r.Text, r.Close)
			}
		}
		bodies = append(bodies, testkit.Recv(t, done, "the first request's handler"), testkit.Recv(t, done, "the second request's handler"))
	}
	for i := 0; i < len(bodies); i += 2 {
		// Handlers run on workers in parallel: either order.
		if a, b := bodies[i], bodies[i+1]; !(a == smuggledReq && b == "" || a == "" && b == smuggledReq) {
			t.Fatalf("handler saw bodies %q, %q; want the smuggled request as a body, then none", bodies[i], bodies[i+1])
		}
	}
	if n := smuggled.Load(); n != 0 {
		t.Fatalf("a request inside a body ran %d time(s)", n)
	}
}
