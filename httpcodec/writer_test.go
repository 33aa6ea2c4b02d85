package httpcodec

import (
	"bufio"
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStatusText(t *testing.T) {
	// The codes the engine uses must all have a phrase.
	for _, code := range []int{100, 101, 200, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409,
		411, 412, 413, 414, 415, 416, 426, 429, 431, 500, 501, 502, 503, 505} {
		if StatusText(code) == "" {
			t.Errorf("StatusText(%d) = \"\"; want a reason phrase", code)
		}
	}
	tests := []struct {
		code int
		want string
	}{{200, "OK"}, {413, "Content Too Large"}, {431, "Request Header Fields Too Large"}, {299, ""}, {0, ""}}
	for _, tc := range tests {
		if got := StatusText(tc.code); got != tc.want {
			t.Errorf("StatusText(%d) = %q; want %q", tc.code, got, tc.want)
		}
	}
}

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{200, "HTTP/1.1 200 OK\r\n"},
		{505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
		{299, "HTTP/1.1 299 \r\n"},
	}
	for _, tc := range tests {
		if got := string(AppendStatusLine([]byte("x"), tc.code)); got != "x"+tc.want {
			t.Errorf("AppendStatusLine(x, %d) = %q; want %q", tc.code, got, "x"+tc.want)
		}
	}
	for _, code := range []int{0, 99, 1000, -200} {
		if !panics(func() { AppendStatusLine(nil, code) }) {
			t.Errorf("AppendStatusLine(nil, %d) did not panic", code)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	if got := string(AppendHeader(nil, "Content-Type", "text/plain; charset=utf-8")); got != "Content-Type: text/plain; charset=utf-8\r\n" {
		t.Errorf("AppendHeader = %q", got)
	}
	for _, kv := range [][2]string{{"X", "a\r\nSet-Cookie: evil"}, {"X", "a\nb"}, {"X", "a\x00"}, {"X\r\n", "v"}, {"X\x00", "v"}} {
		if !panics(func() { AppendHeader(nil, kv[0], kv[1]) }) {
			t.Errorf("AppendHeader(nil, %q, %q) did not panic", kv[0], kv[1])
		}
	}
}

func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}

var dateRE = regexp.MustCompile(`^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n$`)

func TestAppendDate(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 58, 999, time.FixedZone("X", 3600))
	if got, want := string(AppendDate(nil, at)), "Date: Thu, 29 Feb 2024 22:59:58 GMT\r\n"; got != want {
		t.Errorf("AppendDate(%v) = %q; want %q", at, got, want)
	}
	// Same second, later nanoseconds: the cached line.
	if got, want := string(AppendDate([]byte("a"), at.Add(900*time.Millisecond))), "aDate: Thu, 29 Feb 2024 22:59:58 GMT\r\n"; got != want {
		t.Errorf("AppendDate(same second) = %q; want %q", got, want)
	}
	if got, want := string(AppendDate(nil, at.Add(time.Second))), "Date: Thu, 29 Feb 2024 22:59:59 GMT\r\n"; got != want {
		t.Errorf("AppendDate(next second) = %q; want %q", got, want)
	}
	// Cross-check the layout with net/http.
	now := time.Now()
	if got, want := string(AppendDate(nil, now)), "Date: "+now.UTC().Format(http.TimeFormat)+"\r\n"; got != want {
		t.Errorf("AppendDate(now) = %q; want %q", got, want)
	}
}

// TestAppendDateConcurrent hammers the cache from several goroutines across
// second boundaries; run with -race it checks the cache is safe, and every
// line must be well formed and match its own second.
func TestAppendDateConcurrent(t *testing.T) {
	base := time.Unix(1700000000, 0)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 2000; i++ {
				at := base.Add(time.Duration((i+g)%5) * time.Second)
				buf = AppendDate(buf[:0], at)
				if want := "Date: " + at.UTC().Format(http.TimeFormat) + "\r\n"; string(buf) != want || !dateRE.Match(buf) {
					errs <- string(buf) + " != " + want
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestAppendResponse(t *testing.T) {
	body := []byte(`{"ok":true}`)
	out := AppendResponse(nil, 200, []string{"Content-Type", "application/json"}, body, false)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("http.ReadResponse(%q) = %v", out, err)
	}
	var got bytes.Buffer
	got.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		resp.ContentLength != int64(len(body)) || got.String() != string(body) || resp.Header.Get("Date") == "" {
		t.Errorf("AppendResponse(200) = %q; read back as %d %v %q", out, resp.StatusCode, resp.Header, got.String())
	}
	s := string(out)
	if !strings.HasPrefix(s, "HTTP/1.1 200 OK\r\nDate: ") || !strings.HasSuffix(s, "\r\nContent-Length: 11\r\n\r\n"+string(body)) {
		t.Errorf("AppendResponse(200) = %q; want status line, Date, headers, Content-Length, body", s)
	}

	head := string(AppendResponse(nil, 200, nil, body, true))
	if !strings.HasSuffix(head, "\r\nContent-Length: 11\r\n\r\n") {
		t.Errorf("AppendResponse(head) = %q; want Content-Length 11 and no body", head)
	}
	for _, code := range []int{100, 204, 304} {
		out := string(AppendResponse(nil, code, []string{"X", "y"}, body, false))
		if strings.Contains(out, "Content-Length") || !strings.HasSuffix(out, "\r\nX: y\r\n\r\n") {
			t.Errorf("AppendResponse(%d) = %q; want no Content-Length and no body", code, out)
		}
	}
	//lint:ignore SA5012 the odd list is the point: it must panic
	if !panics(func() { AppendResponse(nil, 200, []string{"X"}, nil, false) }) {
		t.Error("AppendResponse with odd headers did not panic")
	}
}

func TestAppendChunks(t *testing.T) {
	var b []byte
	b = AppendChunk(b, []byte("hello"))
	b = AppendChunk(b, nil) // must not end the body
	b = AppendChunk(b, bytes.Repeat([]byte("x"), 26))
	b = AppendChunkHeader(b, 3)
	b = append(b, "abc"...)
	b = AppendChunkEnd(b)
	b = AppendFinalChunk(b)
	want := "5\r\nhello\r\n1a\r\n" + strings.Repeat("x", 26) + "\r\n3\r\nabc\r\n0\r\n\r\n"
	if string(b) != want {
		t.Errorf("chunk writers = %q; want %q", b, want)
	}
	for _, n := range []int{0, -1} {
		if !panics(func() { AppendChunkHeader(nil, n) }) {
			t.Errorf("AppendChunkHeader(nil, %d) did not panic", n)
		}
	}
	// Our own parser reads it back.
	in := append([]byte(chunkedHead), b...)
	_, r, err := NewParser(Limits{}).Parse(in)
	if want := "hello" + strings.Repeat("x", 26) + "abc"; err != nil || string(r.Body) != want {
		t.Fatalf("parsing the written chunks = %v, %v; want body %q", r, err, want)
	}
}
