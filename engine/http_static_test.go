package engine

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// staticSite is the embedded tree of the static tests.
func staticSite() fstest.MapFS {
	js := "// game script\n" + strings.Repeat("function f() { return 42; }\n", 40)
	return fstest.MapFS{
		"index.html":     {Data: []byte("<!doctype html><title>root</title>")},
		"app.js":         {Data: []byte(js)},
		"style.css":      {Data: []byte("body { color: red }")},
		"data.json":      {Data: []byte(`{"a":1}`)},
		"img.png":        {Data: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300)...)},
		"sub/index.html": {Data: []byte("<p>sub index</p>")},
		"sub/page.html":  {Data: []byte("<p>sub page</p>")},
		".hidden":        {Data: []byte("hidden")},
	}
}

// TestHTTPStatic serves static files through the server: from memory on the
// loop (embedded tree only) and from a webroot on a worker, checking types,
// validators, conditional requests, HEAD, index files, gzip, and refusal of
// every path that would leave the tree.
func TestHTTPStatic(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "webroot")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "only"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("TOP SECRET"), 0o644))
	must(os.WriteFile(filepath.Join(root, "style.css"), []byte("body { color: blue }"), 0o644))
	must(os.WriteFile(filepath.Join(root, "only", "file.txt"), []byte("webroot only"), 0o644))
	must(os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(root, "link.txt")))
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	must(os.Chtimes(filepath.Join(root, "style.css"), mtime, mtime))
	embMod := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)

	site := staticSite()
	for _, mode := range []struct {
		name    string
		webroot string
	}{{"embedded on loop", ""}, {"webroot on worker", root}} {
		t.Run(mode.name, func(t *testing.T) {
			s := hStart(t, Config{Static: site, StaticModTime: embMod, Webroot: mode.webroot}, func(s *Server) {
				s.Handle("GET", "/api/x", hText("route wins"))
			})
			c := testkit.Dial(t, s.Addr())

			// Types, bodies, validators.
			wantCSS := "body { color: red }"
			if mode.webroot != "" {
				wantCSS = "body { color: blue }"
			}
			files := []struct {
				path, ctype, body string
			}{
				{"/", "text/html; charset=utf-8", string(site["index.html"].Data)},
				{"/index.html", "text/html; charset=utf-8", string(site["index.html"].Data)},
				{"/sub/", "text/html; charset=utf-8", string(site["sub/index.html"].Data)},
				{"/sub/page.html", "text/html; charset=utf-8", string(site["sub/page.html"].Data)},
				{"/app.js", "text/javascript; charset=utf-8", string(site["app.js"].Data)},
				{"/style.css", "text/css; charset=utf-8", wantCSS},
				{"/data.json", "application/json", string(site["data.json"].Data)},
				{"/img.png", "image/png", string(site["img.png"].Data)},
			}
			for _, f := range files {
				r := c.Get(f.path)
				if r.StatusCode != 200 || r.Text != f.body || r.Header.Get("Content-Type") != f.ctype {
					t.Errorf("GET %s = %d %q %q; want 200 %q", f.path, r.StatusCode, r.Header.Get("Content-Type"), r.Text, f.ctype)
					continue
				}
				if r.Header.Get("ETag") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("GET %s: headers %v", f.path, r.Header)
				}
				// HEAD: same length, no body (a body would break the next response).
				c.Send(testkit.Req("HEAD", f.path))
				h := c.Next("HEAD")
				if h.StatusCode != 200 || h.ContentLength != int64(len(f.body)) || h.Text != "" || h.Header.Get("ETag") != r.Header.Get("ETag") {
					t.Errorf("HEAD %s = %d CL %d %q", f.path, h.StatusCode, h.ContentLength, h.Text)
				}
				// If-None-Match → 304, no body, the ETag again.
				c.Send(testkit.Req("GET", f.path, "If-None-Match: "+r.Header.Get("ETag")))
				nm := c.Next("GET")
				if nm.StatusCode != 304 || nm.Text != "" || nm.Header.Get("ETag") != r.Header.Get("ETag") || nm.Header.Get("Content-Length") != "" {
					t.Errorf("If-None-Match %s = %d %q %v", f.path, nm.StatusCode, nm.Text, nm.Header)
				}
			}
			if lm := c.Get("/style.css").Header.Get("Last-Modified"); mode.webroot != "" && lm != mtime.Format(http.TimeFormat) {
				t.Errorf("webroot Last-Modified = %q; want %q", lm, mtime.Format(http.TimeFormat))
			}
			if lm := c.Get("/app.js").Header.Get("Last-Modified"); lm != embMod.Format(http.TimeFormat) {
				t.Errorf("embedded Last-Modified = %q; want %q", lm, embMod.Format(http.TimeFormat))
			}
			c.Send(testkit.Req("GET", "/app.js", "If-Modified-Since: "+embMod.Add(time.Hour).Format(http.TimeFormat)))
			if r := c.Next("GET"); r.StatusCode != 304 {
				t.Errorf("If-Modified-Since later = %d; want 304", r.StatusCode)
			}
			c.Send(testkit.Req("GET", "/app.js", "If-Modified-Since: "+embMod.Add(-time.Hour).Format(http.TimeFormat)))
			if r := c.Next("GET"); r.StatusCode != 200 {
				t.Errorf("If-Modified-Since earlier = %d; want 200", r.StatusCode)
			}

			// gzip when accepted, with its own ETag.
			c.Send(testkit.Req("GET", "/app.js", "Accept-Encoding: gzip, deflate"))
			gz := c.Next("GET")
			if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("gzip: %v", gz.Header)
			} else {
				zr, err := gzip.NewReader(strings.NewReader(gz.Text))
				must(err)
				plain, err := io.ReadAll(zr)
				must(err)
				if !bytes.Equal(plain, site["app.js"].Data) || len(gz.Text) >= len(plain) {
					t.Errorf("gzip body: %d bytes inflating to %d", len(gz.Text), len(plain))
				}
				c.Send(testkit.Req("GET", "/app.js", "Accept-Encoding: gzip", "If-None-Match: "+gz.Header.Get("ETag")))
				if r := c.Next("GET"); r.StatusCode != 304 {
					t.Errorf("gzip If-None-Match = %d", r.StatusCode)
				}
			}
			c.Send(testkit.Req("GET", "/app.js", "Accept-Encoding: gzip;q=0"))
			if r := c.Next("GET"); r.Header.Get("Content-Encoding") != "" {
				t.Errorf("gzip;q=0 still compressed")
			}
			c.Send(testkit.Req("GET", "/img.png", "Accept-Encoding: gzip"))
			if r := c.Next("GET"); r.Header.Get("Content-Encoding") != "" {
				t.Errorf("png compressed")
			}

			// Redirect, routes first, methods, webroot-only files.
			if r := c.Get("/sub"); r.StatusCode != 301 || r.Header.Get("Location") != "/sub/" {
				t.Errorf("/sub = %d %q", r.StatusCode, r.Header.Get("Location"))
			}
			if r := c.Get("/api/x"); r.Text != "route wins" {
				t.Errorf("route = %q", r.Text)
			}
			c.Send(testkit.Req("POST", "/index.html", "Content-Length: 0"))
			if r := c.Next("POST"); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("POST static = %d %v", r.StatusCode, r.Header)
			}
			wantOnly := 404
			if mode.webroot != "" {
				wantOnly = 200
			}
			if r := c.Get("/only/file.txt"); r.StatusCode != wantOnly {
				t.Errorf("/only/file.txt = %d; want %d", r.StatusCode, wantOnly)
			}

			// Nothing outside the tree, however the path is spelled.
			bad := []string{
				"/../secret.txt",
				"/%2e%2e/secret.txt",
				"/%2E%2E/secret.txt",
				"/..%2fsecret.txt",
				"/%2e%2e%2fsecret.txt",
				"/%252e%252e/secret.txt",
				"/%252e%252e%252fsecret.txt",
				"/only/../../secret.txt",
				"/only/%2e%2e/%2e%2e/secret.txt",
				"/..%5csecret.txt",
				"/%5c..%5csecret.txt",
				"/only%5c..%5c..%5csecret.txt",
				"/.hidden",
				"/%2ehidden",
				"/sub/./page.html",
				"//secret.txt",
				"/link.txt",
				"/" + filepath.Join(dir, "secret.txt"),
				"/only/file.txt%00.png",
			}
			for _, p := range bad {
				r := c.Get(p)
				if r.StatusCode == 200 || strings.Contains(r.Text, "SECRET") || strings.Contains(r.Text, "hidden\n") {
					t.Errorf("GET %s = %d %q", p, r.StatusCode, r.Text)
				}
				if r.Close { // a 400 from the codec closes: reconnect
					c = testkit.Dial(t, s.Addr())
				}
			}
			for _, raw := range []string{"GET /..\\secret.txt HTTP/1.1\r\nHost: t\r\n\r\n", "GET \\..\\secret.txt HTTP/1.1\r\nHost: t\r\n\r\n"} {
				c := testkit.Dial(t, s.Addr())
				c.Send(raw)
				if r := c.Next("GET"); r.StatusCode == 200 || strings.Contains(r.Text, "SECRET") {
					t.Errorf("%q = %d %q", raw, r.StatusCode, r.Text)
				}
			}
		})
	}
}

// TestHTTPStaticNone: without a static tree, unrouted paths are 404.
func TestHTTPStaticNone(t *testing.T) {
	s := hStart(t, Config{}, nil)
	if r := testkit.Get(t, s.Addr(), "/index.html"); r.StatusCode != 404 {
		t.Fatalf("got %d", r.StatusCode)
	}
}
