package main

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// splitReader returns its data in two reads, split at k.
type splitReader struct {
	s string
	k int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := len(r.s)
	if r.k > 0 && r.k < n {
		n = r.k
	}
	n = copy(p, r.s[:n])
	r.s = r.s[n:]
	r.k -= n
	return n, nil
}

type wantResp struct {
	status  int
	body    string
	close   bool
	chunked bool
}

// readAllResponses reads responses until a clean EOF.
func readAllResponses(r io.Reader, head bool) ([]wantResp, []Response, error) {
	rr := NewResponseReader(r)
	rr.KeepBody = true
	var got []wantResp
	var raw []Response
	for {
		resp, err := rr.Next(head)
		if err == io.EOF {
			return got, raw, nil
		}
		if err != nil {
			return got, raw, err
		}
		got = append(got, wantResp{resp.Status, string(rr.Body), resp.Close, resp.Chunked})
		raw = append(raw, resp)
		if resp.BodyLen != int64(len(rr.Body)) {
			return got, raw, errors.New("BodyLen differs from the body kept")
		}
	}
}

func TestResponseReader(t *testing.T) {
	t.Parallel()
	const cl = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n"
	const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n8;ext=1\r\n, world\n\r\n0\r\nX-Trailer: t\r\n\r\n"
	tests := []struct {
		name string
		in   string
		head bool
		want []wantResp
	}{
		{"content-length", cl, false, []wantResp{{200, "hello, world\n", false, false}}},
		{"header case and spaces", "HTTP/1.1 201 Created\r\ncontent-LENGTH:   2 \r\n\r\nok", false, []wantResp{{201, "ok", false, false}}},
		{"empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, []wantResp{{200, "", false, false}}},
		{"chunked", chunked, false, []wantResp{{200, "hello, world\n", false, true}}},
		{"chunked upper-case hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false, []wantResp{{200, "0123456789", false, true}}},
		{"pipelined", cl + chunked + "HTTP/1.1 204 No Content\r\n\r\n" + cl, false, []wantResp{
			{200, "hello, world\n", false, false}, {200, "hello, world\n", false, true}, {204, "", false, false}, {200, "hello, world\n", false, false},
		}},
		{"304 ignores Content-Length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 13\r\n\r\n" + cl, false, []wantResp{{304, "", false, false}, {200, "hello, world\n", false, false}}},
		{"HEAD ignores Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, []wantResp{{200, "", false, false}, {200, "", false, false}}},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, []wantResp{{200, "ok", true, false}}},
		{"body until EOF", "HTTP/1.1 200 OK\r\n\r\nall of it", false, []wantResp{{200, "all of it", true, false}}},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, []wantResp{{200, "ok", true, false}}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false, []wantResp{{200, "ok", false, false}}},
		{"large body", "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("x", 200000), false, []wantResp{{200, strings.Repeat("x", 200000), false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(how string, r io.Reader) {
				t.Helper()
				got, raw, err := readAllResponses(r, tt.head)
				if err != nil {
					t.Fatalf("%s: error %v after %d responses", how, err, len(got))
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%s: got %d responses %v; want %d", how, len(got), got, len(tt.want))
				}
				var wire int64
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("%s: response %d = %+v; want %+v", how, i, got[i], tt.want[i])
					}
					wire += raw[i].WireLen
				}
				if wire != int64(len(tt.in)) {
					t.Errorf("%s: wire bytes = %d; want %d", how, wire, len(tt.in))
				}
			}
			check("whole", strings.NewReader(tt.in))
			check("byte at a time", iotest.OneByteReader(strings.NewReader(tt.in)))
			if len(tt.in) < 2000 {
				for k := 1; k < len(tt.in); k++ {
					check("split at "+strconv.Itoa(k), &splitReader{tt.in, k})
				}
			}
		})
	}
}

func TestResponseReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", ErrMalformedResponse},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", ErrMalformedResponse},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", ErrMalformedResponse},
		{"differing content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", ErrMalformedResponse},
		{"chunked and content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrMalformedResponse},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ErrMalformedResponse},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ErrMalformedResponse},
		{"chunk longer than size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", ErrMalformedResponse},
		{"header line without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", ErrMalformedResponse},
		{"head too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxRespHead) + "\r\n\r\n", ErrResponseTooLarge},
		{"cut in the head", "HTTP/1.1 200 OK\r\nContent-Le", io.ErrUnexpectedEOF},
		{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", io.ErrUnexpectedEOF},
		{"cut in a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := NewResponseReader(strings.NewReader(tt.in))
			_, err := rr.Next(false)
			if !errors.Is(err, tt.want) {
				t.Errorf("Next() error = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestResponseReaderCleanEOF(t *testing.T) {
	rr := NewResponseReader(strings.NewReader(""))
	if _, err := rr.Next(false); err != io.EOF {
		t.Errorf("Next() on an empty stream = %v; want io.EOF", err)
	}
}
