package engine

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
)

// TestStaticMemo: memoized answers are the same as webfs's, conditional
// requests still get 304, and the memo stays bounded.
func TestStaticMemo(t *testing.T) {
	body := strings.Repeat("hello, world\n", 40) // large enough to be gzipped
	fsys := fstest.MapFS{"hello.txt": {Data: []byte(body)}}
	for i := 0; i < maxStaticMemo+10; i++ {
		fsys[fmt.Sprintf("f%d.txt", i)] = &fstest.MapFile{Data: []byte("x")}
	}
	s := hStart(t, Config{Static: fsys}, nil)
	base := "http://" + s.Addr()
	rt := &http.Transport{DisableCompression: true} // no Accept-Encoding unless the test sets it
	t.Cleanup(rt.CloseIdleConnections)
	get := func(path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	first, b1 := get("/hello.txt")
	second, b2 := get("/hello.txt")
	if first.StatusCode != 200 || b1 != body || b2 != body || first.Header.Get("ETag") == "" || first.Header.Get("ETag") != second.Header.Get("ETag") {
		t.Fatalf("memoized answer differs: %d %q / %q", first.StatusCode, first.Header, second.Header)
	}
	gz, gzBody := get("/hello.txt", "Accept-Encoding", "gzip")
	gz2, gzBody2 := get("/hello.txt", "Accept-Encoding", "gzip")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz2.Header.Get("Content-Encoding") != "gzip" || gzBody != gzBody2 || gz.Header.Get("ETag") == first.Header.Get("ETag") {
		t.Fatalf("gzip variant: %v / %v (%d, %d bytes; identity etag %q)", gz.Header, gz2.Header, len(gzBody), len(gzBody2), first.Header.Get("ETag"))
	}
	if nm, _ := get("/hello.txt", "If-None-Match", first.Header.Get("ETag")); nm.StatusCode != 304 {
		t.Fatalf("If-None-Match after memoization = %d; want 304", nm.StatusCode)
	}
	for i := 0; i < maxStaticMemo+10; i++ {
		if r, b := get(fmt.Sprintf("/f%d.txt", i)); r.StatusCode != 200 || b != "x" {
			t.Fatalf("f%d: %d %q", i, r.StatusCode, b)
		}
	}
	s.staticMemo.mu.RLock()
	n := s.staticMemo.n
	s.staticMemo.mu.RUnlock()
	if n > maxStaticMemo {
		t.Fatalf("memo holds %d answers; cap %d", n, maxStaticMemo)
	}
	if r, _ := get("/missing.txt"); r.StatusCode != 404 {
		t.Fatalf("missing = %d", r.StatusCode)
	}
}
