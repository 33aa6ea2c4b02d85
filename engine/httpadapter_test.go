package engine

// Tests of the net/http adapter (HandleHTTP): every request and response
// crosses a real loopback connection, written and read as raw bytes where
// framing matters (chunk boundaries, pipelining, HEAD) and parsed with
// net/http's own ReadResponse.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/testkit"
)

// adWait bounds every wait of these tests.
const adWait = 10 * time.Second

// adStart starts a server on 127.0.0.1:0 with the handlers mount adds and
// stops it when the test ends.
func adStart(t *testing.T, cfg Config, mount func(*Server)) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testkit.Logger()
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mount(s)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// adConn is a raw client connection.
type adConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func adDial(t *testing.T, s *Server) *adConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), adWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &adConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *adConn) send(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(adWait))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// response reads a response to a request of method; its body is read whole
// (an error reading it is returned with what was read).
func (c *adConn) response(method string) (*http.Response, []byte, error) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(adWait))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading the response to %s: %v", method, err)
	}
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// line reads one line (CRLF included).
func (c *adConn) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(adWait))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a line: %v (got %q)", err, l)
	}
	return l
}

// rawHead reads a response head verbatim.
func (c *adConn) rawHead() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		b.WriteString(l)
		if l == "\r\n" {
			return b.String()
		}
	}
}

// eof reports whether the server closes the connection with no more bytes.
func (c *adConn) eof() error {
	c.c.SetReadDeadline(time.Now().Add(adWait))
	n, err := io.Copy(io.Discard, c.br)
	if n > 0 {
		return fmt.Errorf("%d bytes before the close", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("still open")
	}
	return nil
}

// seenRequest is what a handler saw of its *http.Request.
type seenRequest struct {
	Method, RequestURI, Path, RawQuery, Proto, Host, RemoteAddr, Body string
	ProtoMajor, ProtoMinor                                            int
	Header                                                            http.Header
	ContentLength                                                     int64
	TransferEncoding                                                  []string
	Close                                                             bool
	NoBody                                                            bool
	CtxLive                                                           bool
}

func echoRequest(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	json.NewEncoder(w).Encode(seenRequest{
		Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor, Host: r.Host,
		RemoteAddr: r.RemoteAddr, Body: string(body), Header: r.Header, ContentLength: r.ContentLength,
		TransferEncoding: r.TransferEncoding, Close: r.Close, NoBody: r.Body == http.NoBody,
		CtxLive: r.Context().Err() == nil,
	})
}

// TestHTTPAdapterRequest: the *http.Request a handler gets is what
// net/http's server would have built from the same bytes.
func TestHTTPAdapterRequest(t *testing.T) {
	s := adStart(t, Config{}, func(s *Server) { s.HandleHTTP("/echo/", http.HandlerFunc(echoRequest)) })
	for _, tc := range []struct {
		name, raw string
		check     func(t *testing.T, r seenRequest)
	}{
		{"get with query and repeated fields", "GET /echo/a%20b?x=1&y=%C3%A9 HTTP/1.1\r\nHost: example.com:81\r\nX-Multi: one\r\nX-Multi: two\r\nAccept: */*\r\n\r\n",
			func(t *testing.T, r seenRequest) {
				if r.Method != "GET" || r.RequestURI != "/echo/a%20b?x=1&y=%C3%A9" || r.Path != "/echo/a b" || r.RawQuery != "x=1&y=%C3%A9" {
					t.Errorf("method %q target %q path %q query %q", r.Method, r.RequestURI, r.Path, r.RawQuery)
				}
				if r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Host != "example.com:81" {
					t.Errorf("proto %q %d.%d host %q", r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host)
				}
				if got := r.Header["X-Multi"]; len(got) != 2 || got[0] != "one" || got[1] != "two" {
					t.Errorf("X-Multi = %q; want [one two]", got)
				}
				if _, ok := r.Header["Host"]; ok {
					t.Errorf("Host left in Header: %v", r.Header)
				}
				if !r.NoBody || r.ContentLength != 0 || r.Close || !r.CtxLive {
					t.Errorf("NoBody %v ContentLength %d Close %v context live %v; want true 0 false true", r.NoBody, r.ContentLength, r.Close, r.CtxLive)
				}
			}},
		{"post with a length", "POST /echo/p HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
			func(t *testing.T, r seenRequest) {
				if r.Method != "POST" || r.Body != "hello world" || r.ContentLength != 11 || r.NoBody || r.TransferEncoding != nil {
					t.Errorf("method %q body %q length %d NoBody %v TE %v", r.Method, r.Body, r.ContentLength, r.NoBody, r.TransferEncoding)
				}
			}},
		{"post chunked", "PUT /echo/c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			func(t *testing.T, r seenRequest) {
				if r.Method != "PUT" || r.Body != "hello world" || r.ContentLength != -1 || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
					t.Errorf("method %q body %q length %d TE %v", r.Method, r.Body, r.ContentLength, r.TransferEncoding)
				}
				if _, ok := r.Header["Transfer-Encoding"]; ok {
					t.Errorf("Transfer-Encoding left in Header")
				}
			}},
		{"absolute-form target", "GET http://game.example/echo/abs?q HTTP/1.1\r\nHost: other\r\n\r\n",
			func(t *testing.T, r seenRequest) {
				if r.Host != "game.example" || r.Path != "/echo/abs" || r.RequestURI != "http://game.example/echo/abs?q" {
					t.Errorf("host %q path %q target %q", r.Host, r.Path, r.RequestURI)
				}
			}},
		{"connection close", "DELETE /echo/d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
			func(t *testing.T, r seenRequest) {
				if r.Method != "DELETE" || !r.Close {
					t.Errorf("method %q Close %v; want DELETE true", r.Method, r.Close)
				}
			}},
		{"http/1.0", "GET /echo/old HTTP/1.0\r\n\r\n",
			func(t *testing.T, r seenRequest) {
				if r.Proto != "HTTP/1.0" || r.ProtoMinor != 0 || !r.Close {
					t.Errorf("proto %q Close %v; want HTTP/1.0, true", r.Proto, r.Close)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := adDial(t, s)
			c.send(tc.raw)
			resp, body, err := c.response("GET")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
			}
			var r seenRequest
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if r.RemoteAddr != c.c.LocalAddr().String() {
				t.Errorf("RemoteAddr = %q; want the client's %q", r.RemoteAddr, c.c.LocalAddr())
			}
			tc.check(t, r)
		})
	}
}

// TestHTTPAdapterResponse: status codes, header fields (several values,
// sorted, sanitized), sniffing, Content-Length, and bodies forbidden by the
// status.
func TestHTTPAdapterResponse(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"/created": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Set("X-Evil", "x\r\nInjected: yes")
			w.Header().Set("Bad Name", "dropped")
			w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot) // superfluous: ignored
			io.WriteString(w, `{"ok":true}`)
		},
		"/sniff": func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "<!DOCTYPE html><html><body>hi</body></html>")
		},
		"/nosniff": func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil // net/http: present but empty suppresses sniffing
			io.WriteString(w, "<html>")
		},
		"/empty": func(http.ResponseWriter, *http.Request) {},
		"/nocontent": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "body"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("Write after 204 = %v", err))
			}
		},
		"/notmodified": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		},
		"/early-hints": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints) // interim: not sent
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "ok")
		},
		"/missing": http.NotFound,
	}
	s := adStart(t, Config{}, func(s *Server) {
		for p, h := range handlers {
			s.HandleHTTP(p, h)
		}
	})
	for _, tc := range []struct {
		path, status, body string
		check              func(t *testing.T, head string, h http.Header)
	}{
		{"/created", "201 Created", `{"ok":true}`, func(t *testing.T, head string, h http.Header) {
			if got := h["Set-Cookie"]; len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
				t.Errorf("Set-Cookie = %q; want [a=1 b=2]", got)
			}
			if h.Get("X-Evil") != "x  Injected: yes" || h.Get("Injected") != "" {
				t.Errorf("X-Evil = %q, Injected = %q; want the CR LF turned into spaces", h.Get("X-Evil"), h.Get("Injected"))
			}
			if strings.Contains(head, "dropped") || len(h["Date"]) != 1 || strings.Contains(head, "1970") {
				t.Errorf("invalid name kept, or the handler's Date: %q", head)
			}
			if h.Get("Content-Length") != "11" || h.Get("Content-Type") != "application/json" || h.Get("Transfer-Encoding") != "" {
				t.Errorf("framing fields %q", head)
			}
			if i, j := strings.Index(head, "Content-Type"), strings.Index(head, "Set-Cookie"); i > j {
				t.Errorf("fields not in sorted order: %q", head)
			}
		}},
		{"/sniff", "200 OK", "<!DOCTYPE html><html><body>hi</body></html>", func(t *testing.T, _ string, h http.Header) {
			if h.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("sniffed Content-Type = %q", h.Get("Content-Type"))
			}
		}},
		{"/nosniff", "200 OK", "<html>", func(t *testing.T, _ string, h http.Header) {
			if _, ok := h["Content-Type"]; ok {
				t.Errorf("Content-Type %q sent; want none", h.Get("Content-Type"))
			}
		}},
		{"/empty", "200 OK", "", func(t *testing.T, _ string, h http.Header) {
			if h.Get("Content-Length") != "0" {
				t.Errorf("Content-Length = %q; want 0", h.Get("Content-Length"))
			}
		}},
		{"/nocontent", "204 No Content", "", func(t *testing.T, head string, h http.Header) {
			if strings.Contains(head, "Content-Length") || strings.Contains(head, "Transfer-Encoding") {
				t.Errorf("204 with framing fields: %q", head)
			}
		}},
		{"/notmodified", "304 Not Modified", "", func(t *testing.T, _ string, h http.Header) {
			if h.Get("ETag") != `"v1"` {
				t.Errorf("ETag = %q", h.Get("ETag"))
			}
		}},
		{"/early-hints", "202 Accepted", "ok", nil},
		{"/missing", "404 Not Found", "404 page not found\n", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := adDial(t, s)
			// Two requests pipelined: the second one's response must follow
			// the first one's body exactly (framing is right).
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: t\r\n\r\nGET /empty HTTP/1.1\r\nHost: t\r\n\r\n")
			head := c.rawHead()
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			// The body, by the head's Content-Length, read from the
			// connection itself so the next response stays there.
			body := make([]byte, max(resp.ContentLength, 0))
			if resp.StatusCode != 204 && resp.StatusCode != 304 && resp.ContentLength < 0 {
				t.Fatalf("no Content-Length in %q", head)
			}
			_, err = io.ReadFull(c.br, body)
			if err != nil || resp.Status != tc.status || string(body) != tc.body {
				t.Fatalf("got %q %q (%v); want %q %q", resp.Status, body, err, tc.status, tc.body)
			}
			if tc.check != nil {
				tc.check(t, head, resp.Header)
			}
			if next, _, err := c.response("GET"); err != nil || next.StatusCode != 200 {
				t.Fatalf("pipelined request after it: %v %v", next.Status, err)
			}
		})
	}
}

// TestHTTPAdapterFlush: each Flush sends what was written since as one
// chunk, at once: the handler goes on only after the client has read it.
func TestHTTPAdapterFlush(t *testing.T) {
	step := make(chan struct{})
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "private")
			for _, part := range []string{"a", "bb", "ccc"} {
				io.WriteString(w, part[:1])
				io.WriteString(w, part[1:]) // two writes, one chunk
				w.(http.Flusher).Flush()
				select {
				case <-step:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, "tail")
		}))
	})
	c := adDial(t, s)
	c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
	head := c.rawHead()
	if !strings.Contains(head, "Transfer-Encoding: chunked") || strings.Contains(head, "Content-Length") {
		t.Fatalf("head %q; want chunked", head)
	}
	if strings.Count(head, "Cache-Control") != 1 || !strings.Contains(head, "Cache-Control: private") {
		t.Fatalf("head %q; want the handler's Cache-Control alone", head)
	}
	for _, want := range []string{"a", "bb", "ccc"} {
		size, data := c.line(), c.line()
		if size != strconv.FormatInt(int64(len(want)), 16)+"\r\n" || data != want+"\r\n" {
			t.Fatalf("chunk %q %q; want %q", size, data, want)
		}
		step <- struct{}{}
	}
	if rest := c.line() + c.line() + c.line(); rest != "4\r\ntail\r\n0\r\n" {
		t.Fatalf("end %q", rest)
	}
	if l := c.line(); l != "\r\n" {
		t.Fatalf("after the last chunk %q", l)
	}
	// HTTP/1.0: no chunked coding; the body ends with the connection.
	c10 := adDial(t, s)
	c10.send("GET /stream HTTP/1.0\r\n\r\n")
	head = c10.rawHead()
	if strings.Contains(head, "chunked") {
		t.Fatalf("HTTP/1.0 head %q", head)
	}
	for range 3 {
		step <- struct{}{}
	}
	c10.c.SetReadDeadline(time.Now().Add(adWait))
	if b, err := io.ReadAll(c10.br); err != nil || string(b) != "abbccctail" {
		t.Fatalf("HTTP/1.0 body %q %v", b, err)
	}
}

// TestHTTPAdapterLargeBodies: large request and response bodies arrive
// whole. The response is 8 MiB against a 256 KiB MaxOutbound while the
// client does not read at first: without the adapter's pacing the server
// would close the connection as a client that does not read.
func TestHTTPAdapterLargeBodies(t *testing.T) {
	const size = 8 << 20
	payload := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\n"), size/37+1)[:size]
	sum := sha256.Sum256(payload)
	var handed atomic.Int64
	// HeaderTimeout covers a request's body too: a 3 MiB upload under -race
	// on a machine saturated by other work can take longer than the
	// default 10 s, which would answer 408. This test is about bodies, not
	// timeouts (TestHTTPTimers* are).
	cfg := Config{MaxOutbound: 256 << 10, Limits: limitsWithBody(4 << 20), HeaderTimeout: 5 * time.Minute}
	s := adStart(t, cfg, func(s *Server) {
		s.HandleHTTP("/big", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("declare") != "" {
				w.Header().Set("Content-Length", strconv.Itoa(size))
			}
			for p := payload; len(p) > 0; {
				n := min(len(p), 1000+len(p)%7919) // odd sizes
				if _, err := w.Write(p[:n]); err != nil {
					return
				}
				handed.Add(int64(n))
				p = p[n:]
			}
		}))
		s.HandleHTTP("/sum", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		}))
	})
	for _, declare := range []bool{false, true} {
		t.Run(fmt.Sprintf("declared=%v", declare), func(t *testing.T) {
			handed.Store(0)
			c := adDial(t, s)
			q := ""
			if declare {
				q = "?declare=1"
			}
			c.send("GET /big" + q + " HTTP/1.1\r\nHost: t\r\n\r\n")
			// Let the handler run ahead of the client until it must wait.
			deadline := time.Now().Add(adWait)
			for last, same := int64(-1), 0; same < 5; {
				time.Sleep(20 * time.Millisecond) // sampling, not synchronization
				n := handed.Load()
				if n == size {
					t.Fatalf("the handler wrote all %d bytes without the client reading", n)
				}
				if time.Now().After(deadline) {
					t.Fatalf("handler at %d bytes", n)
				}
				if n == last && n > 0 {
					same++ // stalled: waiting for the client
				} else {
					same = 0
				}
				last = n
			}
			resp, body, err := c.response("GET")
			if err != nil || len(body) != size || sha256.Sum256(body) != sum {
				t.Fatalf("got %d bytes (%v); want %d intact", len(body), err, size)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked == declare || declare && resp.ContentLength != size {
				t.Fatalf("TE %v, Content-Length %d with declared=%v", resp.TransferEncoding, resp.ContentLength, declare)
			}
		})
	}
	t.Run("request", func(t *testing.T) {
		req := bytes.Repeat([]byte{0xa5, 0x5a, 0}, (3<<20)/3)
		want := sha256.Sum256(req)
		resp, err := http.Post("http://"+s.Addr()+"/sum", "application/octet-stream", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != fmt.Sprintf("%d %s", len(req), hex.EncodeToString(want[:])) {
			t.Fatalf("server saw %q", b)
		}
	})
}

func limitsWithBody(n int64) httpcodec.Limits { return httpcodec.Limits{MaxBodyBytes: n} }

// TestHTTPAdapterHEAD: HEAD carries the length of the body a GET would
// get, and no body: the next pipelined response follows at once.
func TestHTTPAdapterHEAD(t *testing.T) {
	files := fstest.MapFS{"site/page.html": {Data: []byte(strings.Repeat("<p>hello</p>\n", 1000))}}
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/site/", http.FileServerFS(files))
		s.HandleHTTP("/writes", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "hello world")
		}))
		s.HandleHTTP("/declares", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "12345")
			w.Header().Set("Content-Type", "application/octet-stream")
			if r.Method != "HEAD" {
				w.Write(make([]byte, 12345))
			}
		}))
		s.HandleHTTP("/bigwrites", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Write(make([]byte, 1<<20)) // more than a chunk: still just counted
		}))
	})
	for _, tc := range []struct {
		path   string
		length string
	}{
		{"/site/page.html", "13000"},
		{"/writes", "11"},
		{"/declares", "12345"},
		{"/bigwrites", "1048576"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := adDial(t, s)
			c.send("HEAD " + tc.path + " HTTP/1.1\r\nHost: t\r\n\r\nGET /writes HTTP/1.1\r\nHost: t\r\n\r\n")
			head := c.rawHead()
			if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(head, "Content-Length: "+tc.length+"\r\n") {
				t.Fatalf("HEAD head %q; want 200 with Content-Length %s", head, tc.length)
			}
			get, body, err := c.response("GET")
			if err != nil || get.StatusCode != 200 || string(body) != "hello world" {
				t.Fatalf("the response after HEAD: %v %q %v (a HEAD body was sent?)", get.Status, body, err)
			}
		})
	}
	// The same handler's GET matches what HEAD announced.
	c := adDial(t, s)
	c.send("GET /site/page.html HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body, err := c.response("GET"); err != nil || resp.ContentLength != 13000 || len(body) != 13000 {
		t.Fatalf("GET: length %d, %d bytes, %v", resp.ContentLength, len(body), err)
	}
}

// TestHTTPAdapterContentLength: a handler's Content-Length is honoured: a
// write past it fails, a body left short is cut (the connection closes).
func TestHTTPAdapterContentLength(t *testing.T) {
	over := make(chan error, 1)
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/over", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
			_, err := io.WriteString(w, "!")
			over <- err
		}))
		s.HandleHTTP("/short", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "hello")
		}))
	})
	c := adDial(t, s)
	c.send("GET /over HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body, err := c.response("GET"); err != nil || string(body) != "hello" || resp.ContentLength != 5 {
		t.Fatalf("/over: %q %v", body, err)
	}
	if err := <-over; !errors.Is(err, http.ErrContentLength) {
		t.Fatalf("write past Content-Length = %v; want http.ErrContentLength", err)
	}
	c = adDial(t, s)
	c.send("GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body, err := c.response("GET"); !errors.Is(err, io.ErrUnexpectedEOF) || string(body) != "hello" || resp.ContentLength != 10 {
		t.Fatalf("/short: %q %v; want hello then unexpected EOF", body, err)
	}
}

// TestHTTPAdapterPanic: a panic before anything is sent is a 500 and the
// connection stays usable; after the head, the connection is closed so the
// client sees the body cut; http.ErrAbortHandler aborts without a log.
func TestHTTPAdapterPanic(t *testing.T) {
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/early", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "partial, never sent")
			panic("boom")
		}))
		s.HandleHTTP("/late", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "sent")
			w.(http.Flusher).Flush()
			panic("boom")
		}))
		s.HandleHTTP("/abort", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		s.HandleHTTP("/ok", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	})
	before := s.stats.panics.Load()
	c := adDial(t, s)
	c.send("GET /early HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body, err := c.response("GET"); err != nil || resp.StatusCode != 500 || strings.Contains(string(body), "partial") {
		t.Fatalf("/early: %v %q %v; want a clean 500", resp.Status, body, err)
	}
	if resp, body, err := c.response("GET"); err != nil || string(body) != "ok" {
		t.Fatalf("after the 500: %v %q %v", resp.Status, body, err)
	}
	c = adDial(t, s)
	c.send("GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body, err := c.response("GET"); err == nil || resp.StatusCode != 200 || string(body) != "sent" {
		t.Fatalf("/late: %v %q %v; want 200, sent, then a broken body", resp.Status, body, err)
	}
	c = adDial(t, s)
	c.send("GET /abort HTTP/1.1\r\nHost: t\r\n\r\n")
	if err := c.eof(); err != nil {
		t.Fatalf("/abort: %v; want the connection closed without a response", err)
	}
	if n := s.stats.panics.Load() - before; n != 2 {
		t.Fatalf("panics counted %d; want 2 (the abort is not one)", n)
	}
}

// TestHTTPAdapterContext: the request's context ends when the client goes
// away, and when ServeHTTP returns.
func TestHTTPAdapterContext(t *testing.T) {
	gone := make(chan error, 1)
	kept := make(chan context.Context, 1)
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/wait", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				gone <- r.Context().Err()
			case <-time.After(adWait):
				gone <- errors.New("context still live after the client left")
			}
		}))
		s.HandleHTTP("/keep", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { kept <- r.Context() }))
	})
	c := adDial(t, s)
	c.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
	c.rawHead()
	c.c.Close()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("context after the client left: %v", err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/keep")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx := <-kept
	select {
	case <-ctx.Done():
	case <-time.After(adWait):
		t.Fatal("context still live after ServeHTTP returned")
	}
}

// TestHandleHTTPSubtree: a pattern ending in "/" serves its subtree with
// full paths, and redirects the bare path, as ServeMux does.
func TestHandleHTTPSubtree(t *testing.T) {
	s := adStart(t, Config{}, func(s *Server) {
		s.HandleHTTP("/tree/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }))
	})
	c := adDial(t, s)
	c.send("GET /tree/a/b HTTP/1.1\r\nHost: t\r\n\r\nGET /tree?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, body, err := c.response("GET"); err != nil || string(body) != "/tree/a/b" {
		t.Fatalf("subtree: %q %v", body, err)
	}
	if resp, _, err := c.response("GET"); err != nil || resp.StatusCode != 301 || resp.Header.Get("Location") != "/tree/?x=1" {
		t.Fatalf("bare path: %v %q %v", resp.Status, resp.Header.Get("Location"), err)
	}
}
