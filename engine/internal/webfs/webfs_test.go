package webfs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

const secret = "TOP SECRET outside the webroot"

var (
	// appJS is long and repetitive: it compresses well.
	appJS = strings.Repeat("function tick(state) { return state + 1; }\n", 40)
	// noise does not compress.
	noise = func() []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, 2048)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}()
	pngData  = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 600)...)
	embedMod = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fileMod  = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

func embedded() fstest.MapFS {
	return fstest.MapFS{
		"index.html":        {Data: []byte("<html>embedded index</html>")},
		"app.js":            {Data: []byte(appJS)},
		"style.css":         {Data: []byte("body { color: red }")},
		"dir/index.html":    {Data: []byte("dir index")},
		"dir/sub/x.txt":     {Data: []byte("x")},
		"sp ace/index.html": {Data: []byte("spaced")},
		"img.png":           {Data: pngData},
		"noise.txt":         {Data: noise},
		"noext":             {Data: []byte("<!DOCTYPE html><html><body>sniffed</body></html>")},
		"big.txt":           {Data: bytes.Repeat([]byte("b"), 5000)},
		"dated.txt":         {Data: []byte("dated"), ModTime: fileMod},
		".hidden":           {Data: []byte("hidden")},
		"wdir/index.html":   {Data: []byte("embedded wdir index")},
	}
}

// webroot lays out a temporary tree and returns the webroot inside it; a
// secret file sits beside the webroot, outside it.
func webroot(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fileMod, fileMod); err != nil {
			t.Fatal(err)
		}
	}
	write("secret.txt", secret)
	write("outdir/secret.txt", secret)
	write("root/style.css", "body { color: blue }")
	write("root/extra.html", "<p>extra</p>")
	write("root/.env", "PASSWORD=1")
	write("root/%2e%2e/secret.txt", "literal dir name") // not a dot-segment
	if err := os.MkdirAll(filepath.Join(root, "wdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlinks := map[string]string{
		"link-out":    filepath.Join(tmp, "secret.txt"),
		"link-rel":    "../secret.txt",
		"linkdir-out": filepath.Join(tmp, "outdir"),
		"link-in":     "style.css",
	}
	for name, target := range symlinks {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	return root
}

func newFS(t *testing.T, o Options) *FS {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v) = %v", o, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func header(r Response, name string) (string, bool) {
	for i := 0; i+1 < len(r.Header); i += 2 {
		if r.Header[i] == name {
			return r.Header[i+1], true
		}
	}
	return "", false
}

// checkHeaders fails on fields Serve must never set and on odd pairs.
func checkHeaders(t *testing.T, r Response) {
	t.Helper()
	if len(r.Header)%2 != 0 {
		t.Errorf("Header has odd length %d: %q", len(r.Header), r.Header)
	}
	for _, name := range []string{"Content-Length", "Date"} {
		if _, ok := header(r, name); ok {
			t.Errorf("Header contains %s; the server adds it", name)
		}
	}
}

func get(path string) Request { return Request{Method: "GET", Path: path} }

func TestNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want error // nil: success
	}{
		{"empty", Options{}, nil},
		{"embedded only", Options{Embedded: embedded()}, nil},
		{"webroot", Options{Webroot: t.TempDir()}, nil},
		{"missing webroot", Options{Webroot: filepath.Join(t.TempDir(), "nope")}, fs.ErrNotExist},
		{"file webroot", Options{Webroot: file}, ErrWebrootNotDir},
		{"negative MaxFileSize", Options{MaxFileSize: -1}, ErrInvalidOptions},
		{"policy with a line break", Options{EmbeddedCSP: "default-src 'self'\r\nSet-Cookie: a=1"}, ErrInvalidOptions},
		{"webroot policy with a NUL", Options{WebrootCSP: "default-src\x00"}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.o)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New = %v; want success", err)
				}
				f.Close()
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("New = %v; want an error matching %v", err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "webfs: ") {
				t.Errorf("error %q lacks the webfs prefix", err)
			}
		})
	}
}

func TestServe(t *testing.T) {
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t), MaxFileSize: 4096})
	tests := []struct {
		name       string
		req        Request
		wantStatus int
		wantBody   string            // compared when not ""
		wantHeader map[string]string // subset
	}{
		{"root index", get("/"), 200, "<html>embedded index</html>",
			map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}},
		{"index by name", get("/index.html"), 200, "<html>embedded index</html>", nil},
		{"webroot overrides", get("/style.css"), 200, "body { color: blue }",
			map[string]string{"Content-Type": "text/css; charset=utf-8"}},
		{"webroot extends", get("/extra.html"), 200, "<p>extra</p>", nil},
		{"embedded only", get("/app.js"), 200, appJS,
			map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Vary": "Accept-Encoding"}},
		{"dir index", get("/dir/"), 200, "dir index", nil},
		{"dir redirect", get("/dir"), 301, "",
			map[string]string{"Location": "/dir/"}},
		{"redirect escapes", get("/sp ace"), 301, "",
			map[string]string{"Location": "/sp%20ace/"}},
		{"webroot dir redirects", get("/wdir"), 301, "",
			map[string]string{"Location": "/wdir/"}},
		{"webroot dir without index falls back", get("/wdir/"), 200, "embedded wdir index", nil},
		{"no listing", get("/dir/sub/"), 404, "404 page not found\n",
			map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{"missing", get("/missing.js"), 404, "404 page not found\n", nil},
		{"file with slash", get("/app.js/"), 404, "", nil},
		{"symlink inside", get("/link-in"), 200, "body { color: blue }", nil},
		{"too large", get("/big.txt"), 404, "404 file too large to serve\n", nil},
		{"head", Request{Method: "HEAD", Path: "/extra.html"}, 200, "<p>extra</p>",
			map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"post", Request{Method: "POST", Path: "/"}, 405, "405 method not allowed\n",
			map[string]string{"Allow": "GET, HEAD"}},
		{"lowercase method", Request{Method: "get", Path: "/"}, 405, "", nil},
		{"embedded Last-Modified", get("/dated.txt"), 200, "dated",
			map[string]string{"Last-Modified": "Thu, 02 Jan 2025 03:04:05 GMT"}},
		{"webroot Last-Modified", get("/extra.html"), 200, "",
			map[string]string{"Last-Modified": "Thu, 02 Jan 2025 03:04:05 GMT", "X-Content-Type-Options": "nosniff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.Serve(tt.req)
			checkHeaders(t, got)
			if got.Status != tt.wantStatus {
				t.Errorf("Serve(%+v).Status = %d; want %d", tt.req, got.Status, tt.wantStatus)
			}
			if tt.wantBody != "" && string(got.Body) != tt.wantBody {
				t.Errorf("Serve(%+v).Body = %.80q; want %.80q", tt.req, got.Body, tt.wantBody)
			}
			for name, want := range tt.wantHeader {
				if v, _ := header(got, name); v != want {
					t.Errorf("Serve(%+v) %s = %q; want %q", tt.req, name, v, want)
				}
			}
		})
	}
}

// TestPolicyBySource: each file carries the Content-Security-Policy of the
// tree it came from when it is a document; a webroot file that overrides an
// embedded one carries the webroot's. Scripts, style sheets, images, a 304
// and a 404 carry none.
func TestPolicyBySource(t *testing.T) {
	const emb, web = "default-src 'self'", "default-src 'none'"
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t), EmbeddedCSP: emb, WebrootCSP: web})
	for path, want := range map[string]string{
		"/":            emb,
		"/app.js":      "", // not a document: no policy applies to it
		"/img.png":     "",
		"/extra.html":  web,
		"/style.css":   "", // the webroot's, overriding the embedded one, is not a document either
		"/nope.html":   "",
		"/wdir":        "", // a redirect
		"/../etc/pass": "",
	} {
		r := f.Serve(get(path))
		if got, _ := header(r, "Content-Security-Policy"); got != want {
			t.Errorf("%s (%d): Content-Security-Policy %q; want %q", path, r.Status, got, want)
		}
	}
	r := f.Serve(get("/app.js"))
	etag, _ := header(r, "ETag")
	r = f.Serve(Request{Method: "GET", Path: "/app.js", IfNoneMatch: etag})
	if _, ok := header(r, "Content-Security-Policy"); r.Status != http.StatusNotModified || ok {
		t.Errorf("304: status %d, policy sent %v", r.Status, ok)
	}
	none := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t)})
	for _, path := range []string{"/", "/extra.html"} {
		if got, ok := header(none.Serve(get(path)), "Content-Security-Policy"); ok {
			t.Errorf("%s without policies: Content-Security-Policy %q", path, got)
		}
	}
}

func TestHeadMatchesGet(t *testing.T) {
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t), EmbeddedModTime: embedMod})
	for _, path := range []string{"/", "/app.js", "/style.css", "/dir", "/missing"} {
		for _, ae := range []string{"", "gzip"} {
			g := f.Serve(Request{Method: "GET", Path: path, AcceptEncoding: ae})
			h := f.Serve(Request{Method: "HEAD", Path: path, AcceptEncoding: ae})
			if g.Status != h.Status || !slicesEqual(g.Header, h.Header) || !bytes.Equal(g.Body, h.Body) {
				t.Errorf("HEAD %s (AE %q) = %d %q (%d bytes); GET = %d %q (%d bytes)",
					path, ae, h.Status, h.Header, len(h.Body), g.Status, g.Header, len(g.Body))
			}
		}
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func TestTraversal(t *testing.T) {
	root := webroot(t)
	f := newFS(t, Options{Embedded: embedded(), Webroot: root})
	passwd, _ := os.ReadFile("/etc/passwd")
	paths := []string{
		"/../secret.txt",            // "/%2e%2e/secret.txt" once decoded
		"/%2e%2e/secret.txt",        // left encoded: a literal name, no traversal
		"/../../../../etc/passwd",   // decoded dot-segments
		"/a/../../secret.txt",       // climbs out through a subdirectory
		"/dir/../../secret.txt",     // through an existing directory
		"/..",                       // bare
		"/../",                      // bare with slash
		"/./",                       // current directory
		"/.",                        // current directory
		"/dir/./index.html",         // harmless but not canonical
		"//etc/passwd",              // empty segment, absolute-looking
		"//secret.txt",              // empty segment
		"/\\..\\secret.txt",         // backslashes
		"/..\\secret.txt",           // mixed
		"/secret.txt\x00.html",      // NUL
		"/link-out",                 // absolute symlink out of the root
		"/link-rel",                 // relative symlink out of the root
		"/linkdir-out/secret.txt",   // symlinked directory out of the root
		"/.env",                     // dotfile in the webroot
		"/.hidden",                  // dotfile in the embedded tree
		"/dir/.hidden",              // dotfile below
		"secret.txt",                // no leading slash
		"",                          // empty
		"/etc/passwd",               // absolute path reused as a name
		"/" + root + "/style.css",   // the webroot's own absolute path
		"/../root/../../secret.txt", // back in, then out
	}
	for _, p := range paths {
		got := f.Serve(get(p))
		checkHeaders(t, got)
		if bytes.Contains(got.Body, []byte(secret)) ||
			(len(passwd) > 0 && bytes.Contains(got.Body, passwd[:min(len(passwd), 32)])) ||
			bytes.Contains(got.Body, []byte("PASSWORD")) || bytes.Contains(got.Body, []byte("hidden")) {
			t.Errorf("Serve(%q) leaked: %d %.60q", p, got.Status, got.Body)
		}
		if p == "/%2e%2e/secret.txt" {
			if got.Status != 200 || string(got.Body) != "literal dir name" {
				t.Errorf("Serve(%q) = %d %.60q; want the file in the directory named %%2e%%2e", p, got.Status, got.Body)
			}
			continue
		}
		if got.Status != http.StatusNotFound {
			t.Errorf("Serve(%q).Status = %d; want 404", p, got.Status)
		}
	}
}

func TestContentType(t *testing.T) {
	files := fstest.MapFS{}
	tests := []struct {
		name string
		data string
		want string
	}{
		{"a.html", "", "text/html; charset=utf-8"},
		{"a.HTM", "", "text/html; charset=utf-8"},
		{"a.css", "", "text/css; charset=utf-8"},
		{"a.js", "", "text/javascript; charset=utf-8"},
		{"a.mjs", "", "text/javascript; charset=utf-8"},
		{"a.json", "", "application/json"},
		{"a.js.map", "", "application/json"},
		{"a.svg", "", "image/svg+xml"},
		{"a.png", "", "image/png"},
		{"a.jpg", "", "image/jpeg"},
		{"a.gif", "", "image/gif"},
		{"a.ico", "", "image/x-icon"},
		{"a.webp", "", "image/webp"},
		{"a.wasm", "", "application/wasm"},
		{"a.txt", "", "text/plain; charset=utf-8"},
		{"a.xml", "", "text/xml; charset=utf-8"},
		{"a.woff2", "", "font/woff2"},
		{"a.d.ts", "", "text/plain; charset=utf-8"},
		{"a.ts", "", "text/plain; charset=utf-8"},
		{"a.mp3", "", "audio/mpeg"},
		{"sniffed", "<!DOCTYPE html><p>x", "text/html; charset=utf-8"},
		{"sniffed.zzzunknown", "\x89PNG\r\n\x1a\n\x00", "image/png"},
		{"binary", "\x00\x01\x02", "application/octet-stream"},
	}
	for _, tt := range tests {
		files[tt.name] = &fstest.MapFile{Data: []byte(tt.data)}
	}
	f := newFS(t, Options{Embedded: files})
	for _, tt := range tests {
		got := f.Serve(get("/" + tt.name))
		if ct, _ := header(got, "Content-Type"); got.Status != 200 || ct != tt.want {
			t.Errorf("Serve(%q) = %d, Content-Type %q; want 200, %q", tt.name, got.Status, ct, tt.want)
		}
	}
}

func TestConditional(t *testing.T) {
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t), EmbeddedModTime: embedMod})
	etagOf := func(path, ae string) string {
		r := f.Serve(Request{Method: "GET", Path: path, AcceptEncoding: ae})
		tag, ok := header(r, "ETag")
		if !ok || r.Status != 200 {
			t.Fatalf("GET %s: %d without ETag", path, r.Status)
		}
		return tag
	}
	plainTag := etagOf("/app.js", "")
	gzTag := etagOf("/app.js", "gzip")
	if plainTag == gzTag || !strings.HasSuffix(gzTag, `-gz"`) || len(plainTag) != 18 {
		t.Fatalf("ETags identity %s, gzip %s; want distinct strong tags, gzip ending -gz", plainTag, gzTag)
	}
	lastMod := embedMod.Format(http.TimeFormat)
	weak := "W/" + plainTag

	tests := []struct {
		name           string
		path           string
		inm, ims, ae   string
		wantStatus     int
		wantTag        string // of a 304
		wantNoLastMod  bool
		wantVary       bool
		wantNotModBody bool
	}{
		{name: "exact", path: "/app.js", inm: plainTag, wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "in list", path: "/app.js", inm: `"nope", ` + plainTag + `, "other"`, wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "list without spaces", path: "/app.js", inm: `"a",` + plainTag, wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "weak", path: "/app.js", inm: weak, wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "star", path: "/app.js", inm: "*", wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "mismatch", path: "/app.js", inm: `"0000000000000000"`, wantStatus: 200},
		{name: "malformed", path: "/app.js", inm: plainTag[1 : len(plainTag)-1], wantStatus: 200},
		{name: "gzip tag without gzip", path: "/app.js", inm: gzTag, wantStatus: 200},
		{name: "gzip tag with gzip", path: "/app.js", inm: gzTag, ae: "gzip", wantStatus: 304, wantTag: gzTag, wantVary: true},
		{name: "identity tag with gzip", path: "/app.js", inm: plainTag, ae: "gzip", wantStatus: 200},
		{name: "modified since before", path: "/app.js", ims: embedMod.Add(-time.Second).Format(http.TimeFormat), wantStatus: 200},
		{name: "not modified since same", path: "/app.js", ims: lastMod, wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "not modified since later", path: "/app.js", ims: embedMod.Add(time.Hour).Format(http.TimeFormat), wantStatus: 304, wantTag: plainTag, wantVary: true},
		{name: "ims ignored with inm", path: "/app.js", inm: `"x"`, ims: lastMod, wantStatus: 200},
		{name: "ims invalid", path: "/app.js", ims: "yesterday", wantStatus: 200},
		{name: "ims on webroot file", path: "/extra.html", ims: fileMod.Format(http.TimeFormat), wantStatus: 304},
		{name: "ims before webroot file", path: "/extra.html", ims: fileMod.Add(-time.Second).Format(http.TimeFormat), wantStatus: 200},
		{name: "ims sub-second mtime", path: "/dated.txt", ims: fileMod.Format(http.TimeFormat), wantStatus: 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Method: "GET", Path: tt.path, IfNoneMatch: tt.inm, IfModifiedSince: tt.ims, AcceptEncoding: tt.ae}
			got := f.Serve(req)
			checkHeaders(t, got)
			if got.Status != tt.wantStatus {
				t.Fatalf("Serve(%+v).Status = %d; want %d", req, got.Status, tt.wantStatus)
			}
			if got.Status != 304 {
				return
			}
			if len(got.Body) != 0 {
				t.Errorf("304 with a %d-byte body", len(got.Body))
			}
			if tag, _ := header(got, "ETag"); tt.wantTag != "" && tag != tt.wantTag {
				t.Errorf("304 ETag = %q; want %q", tag, tt.wantTag)
			}
			if _, ok := header(got, "Content-Type"); ok {
				t.Errorf("304 carries Content-Type")
			}
			if cc, _ := header(got, "Cache-Control"); cc != "no-cache" {
				t.Errorf("304 Cache-Control = %q; want no-cache", cc)
			}
			if _, ok := header(got, "Vary"); ok != tt.wantVary {
				t.Errorf("304 has Vary = %v; want %v", ok, tt.wantVary)
			}
		})
	}

	// Without EmbeddedModTime an embed.FS-like file has no Last-Modified,
	// and If-Modified-Since cannot match.
	g := newFS(t, Options{Embedded: embedded()})
	r := g.Serve(get("/app.js"))
	if lm, ok := header(r, "Last-Modified"); ok {
		t.Errorf("Last-Modified = %q without EmbeddedModTime; want none", lm)
	}
	r = g.Serve(Request{Method: "GET", Path: "/app.js", IfModifiedSince: time.Now().Format(http.TimeFormat)})
	if r.Status != 200 {
		t.Errorf("If-Modified-Since without Last-Modified = %d; want 200", r.Status)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading gzip body: %v", err)
	}
	return out
}

func TestGzipNegotiation(t *testing.T) {
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t)})
	tests := []struct {
		path     string
		ae       string
		wantGzip bool
		wantVary bool
	}{
		{"/app.js", "gzip", true, true},
		{"/app.js", "gzip, deflate, br", true, true},
		{"/app.js", "GZIP", true, true},
		{"/app.js", "x-gzip", true, true},
		{"/app.js", "br;q=1.0, gzip;q=0.5", true, true},
		{"/app.js", "*", true, true},
		{"/app.js", "", false, true},
		{"/app.js", "identity", false, true},
		{"/app.js", "gzip;q=0", false, true},
		{"/app.js", "gzip; q=0.000", false, true},
		{"/app.js", "gzip;Q=0", false, true},
		{"/app.js", "*, gzip;q=0", false, true},
		{"/app.js", "*;q=0", false, true},
		{"/app.js", "gzip;q=2", false, true},
		{"/app.js", "gzip;q=abc", false, true},
		{"/app.js", "deflate", false, true},
		{"/style.css", "gzip", false, false}, // below the size threshold
		{"/img.png", "gzip", false, false},   // not text
		{"/noise.txt", "gzip", false, true},  // gzip would not be smaller
	}
	for _, tt := range tests {
		got := f.Serve(Request{Method: "GET", Path: tt.path, AcceptEncoding: tt.ae})
		ce, gz := header(got, "Content-Encoding")
		if gz != tt.wantGzip || (gz && ce != "gzip") {
			t.Errorf("Serve(%s, AE %q) Content-Encoding = %q; want gzip %v", tt.path, tt.ae, ce, tt.wantGzip)
		}
		if v, ok := header(got, "Vary"); ok != tt.wantVary || (ok && v != "Accept-Encoding") {
			t.Errorf("Serve(%s, AE %q) Vary = %q (%v); want %v", tt.path, tt.ae, v, ok, tt.wantVary)
		}
		body := got.Body
		if gz {
			if len(body) >= len(appJS) {
				t.Errorf("gzip body %d bytes not smaller than %d", len(body), len(appJS))
			}
			body = gunzip(t, body)
		}
		if tt.path == "/app.js" && string(body) != appJS {
			t.Errorf("Serve(%s, AE %q) body differs from the file after decoding", tt.path, tt.ae)
		}
	}
}

func TestCompressedOnce(t *testing.T) {
	f := newFS(t, Options{Embedded: embedded(), Webroot: webroot(t)})
	var first []byte
	for i := range 5 {
		for _, ae := range []string{"gzip", ""} {
			r := f.Serve(Request{Method: "GET", Path: "/app.js", AcceptEncoding: ae})
			if ae == "gzip" {
				if first == nil {
					first = r.Body
				} else if &first[0] != &r.Body[0] {
					t.Errorf("request %d: gzip body is a new buffer; want the cached one", i)
				}
			}
		}
	}
	if n := f.loads.Load(); n != 1 {
		t.Errorf("loads = %d; want 1", n)
	}
	if n := f.compressions.Load(); n != 1 {
		t.Errorf("compressions = %d; want 1", n)
	}
	// Requests that never ask for gzip never compress.
	f.Serve(Request{Method: "GET", Path: "/dir/"})
	f.Serve(Request{Method: "GET", Path: "/noise.txt"})
	if n := f.compressions.Load(); n != 1 {
		t.Errorf("compressions = %d after identity requests; want 1", n)
	}
}

func TestWebrootChange(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "game.js")
	f := newFS(t, Options{Embedded: fstest.MapFS{"game.js": {Data: []byte("embedded")}}, Webroot: root})
	version := func(n int) string { return fmt.Sprintf("/* v%d */\n%s", n, appJS) } // equal sizes
	write := func(data string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	serve := func(ae string) (string, string) {
		t.Helper()
		r := f.Serve(Request{Method: "GET", Path: "/game.js", AcceptEncoding: ae})
		tag, _ := header(r, "ETag")
		if ce, _ := header(r, "Content-Encoding"); ce == "gzip" {
			return string(gunzip(t, r.Body)), tag
		}
		return string(r.Body), tag
	}

	write(version(1), fileMod)
	body1, tag1 := serve("gzip")
	serve("gzip")
	if body1 != version(1) || f.loads.Load() != 1 || f.compressions.Load() != 1 {
		t.Fatalf("v1: body ok %v, loads %d, compressions %d; want true, 1, 1",
			body1 == version(1), f.loads.Load(), f.compressions.Load())
	}

	// Same size, new modification time: reloaded and recompressed.
	write(version(2), fileMod.Add(time.Second))
	body2, tag2 := serve("gzip")
	if body2 != version(2) || tag2 == tag1 {
		t.Errorf("after rewrite: body is v2 %v, ETag %s (was %s); want v2 and a new ETag", body2 == version(2), tag2, tag1)
	}
	if n := f.compressions.Load(); n != 2 {
		t.Errorf("compressions = %d after rewrite; want 2", n)
	}

	// New size, same modification time: reloaded too.
	write(version(2)+"// longer\n", fileMod.Add(time.Second))
	if body, _ := serve(""); body != version(2)+"// longer\n" {
		t.Errorf("after growing: body %.40q; want the new content", body)
	}
	if n := f.loads.Load(); n != 3 {
		t.Errorf("loads = %d; want 3", n)
	}

	// Removed: the embedded file shows through again.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if body, _ := serve("gzip"); body != "embedded" {
		t.Errorf("after removal: body %q; want the embedded file", body)
	}
}

func TestCacheBound(t *testing.T) {
	files := fstest.MapFS{}
	const n, size = 10, 1000
	for i := range n {
		files[fmt.Sprintf("f%d.txt", i)] = &fstest.MapFile{Data: bytes.Repeat([]byte{byte('a' + i)}, size)}
	}
	tests := []struct {
		name      string
		budget    int64
		wantLoads int64 // after two passes over all files
	}{
		{"all fit", 1 << 20, n},
		{"three fit", 3 * (size + entryOverhead + 16), 2 * n},
		{"disabled", -1, 2 * n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFS(t, Options{Embedded: files, CacheBytes: tt.budget})
			for range 2 {
				for i := range n {
					r := f.Serve(Request{Method: "GET", Path: fmt.Sprintf("/f%d.txt", i), AcceptEncoding: "gzip"})
					if r.Status != 200 {
						t.Fatalf("status %d", r.Status)
					}
				}
			}
			if got := f.loads.Load(); got != tt.wantLoads {
				t.Errorf("loads = %d; want %d", got, tt.wantLoads)
			}
			used, _ := f.cache.stats()
			if tt.budget > 0 && used > tt.budget {
				t.Errorf("cache holds %d bytes; budget %d", used, tt.budget)
			}
		})
	}
}

func TestConcurrentServe(t *testing.T) {
	root := webroot(t)
	f := newFS(t, Options{Embedded: embedded(), Webroot: root, EmbeddedModTime: embedMod})
	versions := []string{"short " + appJS, "a longer version " + appJS}
	livePath := filepath.Join(root, "live.js")
	if err := os.WriteFile(livePath, []byte(versions[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		// Atomic replacements, so that readers never see a torn file.
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(root, fmt.Sprintf("live.tmp%d", i%2))
			if err := os.WriteFile(tmp, []byte(versions[i%2]), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, livePath); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	want := map[string]string{"/app.js": appJS, "/style.css": "body { color: blue }", "/": "<html>embedded index</html>"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				ae := []string{"", "gzip"}[(g+i)%2]
				for _, path := range []string{"/app.js", "/style.css", "/", "/live.js", "/missing"} {
					r := f.Serve(Request{Method: "GET", Path: path, AcceptEncoding: ae})
					body := r.Body
					if ce, _ := header(r, "Content-Encoding"); ce == "gzip" {
						zr, err := gzip.NewReader(bytes.NewReader(body))
						if err != nil {
							t.Errorf("%s: %v", path, err)
							return
						}
						if body, err = io.ReadAll(zr); err != nil {
							t.Errorf("%s: %v", path, err)
							return
						}
					}
					switch path {
					case "/missing":
						if r.Status != 404 {
							t.Errorf("%s: status %d", path, r.Status)
						}
					case "/live.js":
						if string(body) != versions[0] && string(body) != versions[1] {
							t.Errorf("%s: body %.30q is neither version", path, body)
						}
					default:
						if string(body) != want[path] {
							t.Errorf("%s: body %.30q; want %.30q", path, body, want[path])
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-writerDone
}
