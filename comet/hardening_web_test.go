package comet

// The web-facing security tests: what other web sites can make a visitor's
// browser do to the server (requests without Origin, look-alike origins),
// the headers that keep the game's origin free of foreign script, and what
// the access log keeps of the session ids. docs/SECURITY.md lists them.

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/internal/testkit"
)

// Fetch Metadata (https://www.w3.org/TR/fetch-metadata/) as Chromium sends it
// for an <img> of a foreign page, an iframe of a foreign page, and a request
// of the game's own page.
var (
	fetchImgCrossSite    = []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}
	fetchFrameCrossSite  = []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}
	fetchImgSameSite     = []string{"Sec-Fetch-Site", "same-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}
	fetchSameOrigin      = []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}
	fetchTypedNavigation = []string{"Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Sec-Fetch-User", "?1"}
)

// webDo sends a request to the hub with the given header pairs (no Origin
// unless given) and returns the response with its body read (a stream's
// head only: its body is closed unread).
func webDo(t *testing.T, th *testHub, method, query string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, th.base+"/comet?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := th.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Length") == "" {
		return resp, ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestHardeningCrossSiteWithoutOrigin: a foreign page's <img>, iframe or
// link sends no Origin header, but the browser says where it comes from
// (Sec-Fetch-Site, Referer). Such requests are refused with 403 before
// they do anything: 128 <img src=".../comet?p_event=join"> on a foreign
// page cannot use up the visitor's address's session cap, and a foreign
// page that learned a session id cannot make it publish. The game's own
// pages, a user typing the URL, an allowed origin's pages and clients
// that are not browsers (no Fetch Metadata, no Referer) are served.
func TestHardeningCrossSiteWithoutOrigin(t *testing.T) {
	const partner = "https://partner.example"
	th := newTestHub(t, Config{AllowedOrigins: []string{partner}})
	self := th.base // the server's own origin
	victim := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", victim, "p_subject", "/chat"))
	vs := th.hub.Session(victim)
	join := testkit.Query("p_event", "join", "p_format", "json")
	publish := testkit.Query("p_event", "publish", "p_id", victim, "p_subject", "/chat", "msg", "csrf")
	with := func(a []string, more ...string) []string { return append(slices.Clone(a), more...) }

	refused := []struct {
		name, query string
		hdr         []string
	}{
		{"a foreign page's img, no Referer", join, fetchImgCrossSite},
		{"a foreign page's img", join, with(fetchImgCrossSite, "Referer", "https://evil.example/page.html")},
		{"a foreign page's img publishing with a known id", publish, with(fetchImgCrossSite, "Referer", "https://evil.example/")},
		{"a foreign page's iframe", join, with(fetchFrameCrossSite, "Referer", "https://evil.example/")},
		{"a link on a foreign page", join, []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}},
		{"a sibling site's img", join, with(fetchImgSameSite, "Referer", "http://other.127.0.0.1/")},
		{"a cross-site img whose Referer names the server", join, with(fetchImgCrossSite, "Referer", self+"/")},
		{"a foreign Referer, no Fetch Metadata (older browser)", publish, []string{"Referer", "https://evil.example/a/b?c"}},
		{"a look-alike Referer", join, []string{"Referer", self + ".evil.example/"}},
		{"a Referer of another scheme", join, []string{"Referer", strings.Replace(self, "http://", "https://", 1) + "/"}},
		{"a Referer that is no URL", join, []string{"Referer", "evil"}},
	}
	for _, r := range refused {
		sessions := th.hub.NumSessions()
		resp, body := webDo(t, th, "GET", r.query, r.hdr...)
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(body, "403 ") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %q, CORS %q; want 403 with a reason and no CORS header", r.name, resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if n := th.hub.NumSessions(); n != sessions {
			t.Errorf("%s: sessions %d → %d; want no new session", r.name, sessions, n)
		}
	}
	if vs.Seq() != 0 {
		t.Fatalf("refused requests published: the victim's seq is %d", vs.Seq())
	}

	served := []struct {
		name string
		hdr  []string
		cors string
	}{
		{"the game's own page", with(fetchSameOrigin, "Referer", self+"/index.html"), ""},
		{"the game's own page's img", with(fetchImgCrossSite[:0], "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Dest", "image"), ""},
		{"the URL typed in the address bar", fetchTypedNavigation, ""},
		{"the game's own page, no Fetch Metadata", []string{"Referer", self + "/play?x=1"}, ""},
		{"a client that is no browser", nil, ""},
		{"an allowed origin's img", with(fetchImgCrossSite, "Referer", partner+"/lobby"), ""},
		{"an allowed origin's fetch", with(fetchSameOrigin[:0], "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors", "Origin", partner), partner},
	}
	for _, r := range served {
		sessions := th.hub.NumSessions()
		resp, body := webDo(t, th, "GET", join, r.hdr...)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != r.cors {
			t.Errorf("%s: %d %q, CORS %q; want 200, CORS %q", r.name, resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"), r.cors)
		}
		if n := th.hub.NumSessions(); n != sessions+1 {
			t.Errorf("%s: sessions %d → %d; want one more", r.name, sessions, n)
		}
	}
	// The victim's own page may still publish.
	if resp, body := webDo(t, th, "GET", publish, with(fetchSameOrigin, "Referer", self+"/")...); resp.StatusCode != 200 || vs.Seq() != 1 {
		t.Fatalf("publish from the game's page: %d %q, seq %d", resp.StatusCode, body, vs.Seq())
	}
}

// TestHardeningSameOriginChecksScheme: the server speaks plain HTTP, so the
// only origin that is its own is http://<Host>. An Origin naming the host
// under another scheme (https, a made-up one) is foreign unless listed in
// AllowedOrigins, or unless the browser itself says the request is
// same-origin (Sec-Fetch-Site), as it does for a page served over TLS by a
// proxy in front of the server.
func TestHardeningSameOriginChecksScheme(t *testing.T) {
	const host = "game.example:8080"
	join := testkit.Query("p_event", "join", "p_format", "json")
	do := func(th *testHub, origin string, more ...string) (*http.Response, string) {
		t.Helper()
		return webDo(t, th, "GET", join, append([]string{"Host", host, "Origin", origin}, more...)...)
	}
	th := newTestHub(t, Config{})
	for _, o := range []string{"https://" + host, "evil://" + host, "ws://" + host, "javascript://" + host,
		"file://" + host, "//" + host, host, "http:/" + host, "http://" + host + "/", "http://user@" + host} {
		if resp, body := do(th, o); resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: %d %q; want 403", o, resp.StatusCode, body)
		}
	}
	if th.hub.NumSessions() != 0 {
		t.Fatalf("%d sessions joined from foreign origins", th.hub.NumSessions())
	}
	for _, o := range []string{"http://" + host, "HTTP://" + strings.ToUpper(host)} {
		if resp, body := do(th, o); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("same Origin %q: %d %q; want 200 without CORS", o, resp.StatusCode, body)
		}
	}
	// A page at https://host behind a TLS proxy: the browser vouches.
	if resp, body := do(th, "https://"+host, fetchSameOrigin...); resp.StatusCode != 200 {
		t.Errorf("https origin the browser calls same-origin: %d %q; want 200", resp.StatusCode, body)
	}
	// Or the operator lists it.
	listed := newTestHub(t, Config{AllowedOrigins: []string{"https://" + host}})
	if resp, body := do(listed, "https://"+host); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://"+host {
		t.Errorf("listed https origin: %d %q; want 200 with CORS", resp.StatusCode, body)
	}
	if resp, _ := do(listed, "evil://"+host); resp.StatusCode != http.StatusForbidden {
		t.Errorf("evil:// beside a listed https origin: %d; want 403", resp.StatusCode)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's loops and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHardeningAccessLogRedactsSessionIDs: with the access log on, no
// session's secret reaches the log, wherever the request carried its p_id
// (query string, percent-encoded name, form body): the log keeps the
// public part (the first 11 characters, which every subscriber sees as
// p_from) and says REDACTED for the rest.
func TestHardeningAccessLogRedactsSessionIDs(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	th := newTestHub(t, Config{}, engine.Config{AccessLog: true, Logger: log})
	id := th.join(FormatJSON)
	pub, secret := id[:11], id[11:]
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a"))
	th.do(FormatJSON, "p_event=hb&p%5Fid="+id)
	th.do(FormatJSON, "p_id="+id+"&p_event=publish&p_subject=/a&p_id="+id)
	resp, err := th.hc.PostForm(th.base+"/comet", url.Values{"p_event": {"hb"}, "p_id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The last request is logged before it is answered.
	out := logBuf.String()
	if n := strings.Count(out, "msg=request"); n != 5 {
		t.Fatalf("%d requests logged; want 5:\n%s", n, out)
	}
	if strings.Contains(out, secret) || strings.Contains(out, secret[:8]) {
		t.Fatalf("the access log holds the session's secret:\n%s", out)
	}
	for _, want := range []string{"p_id=" + pub + ".REDACTED", "p%5Fid=" + pub + ".REDACTED"} {
		if !strings.Contains(out, want) {
			t.Errorf("the access log lacks %q:\n%s", want, out)
		}
	}
}

// csp parses a Content-Security-Policy value into its directives.
func csp(policy string) map[string][]string {
	d := map[string][]string{}
	for part := range strings.SplitSeq(policy, ";") {
		f := strings.Fields(part)
		if len(f) > 0 {
			d[strings.ToLower(f[0])] = f[1:]
		}
	}
	return d
}

// checkPagePolicy checks that policy lets a page run only its own origin's
// script files: no inline script, no eval, no other source, no plugins,
// no <base> pointing elsewhere.
func checkPagePolicy(t *testing.T, what, policy string) {
	t.Helper()
	d := csp(policy)
	script := d["script-src"]
	if script == nil {
		script = d["default-src"]
	}
	if !slices.Equal(script, []string{"'self'"}) {
		t.Errorf("%s: script sources %q (policy %q); want only 'self'", what, script, policy)
	}
	if !slices.Equal(d["object-src"], []string{"'none'"}) || !slices.Equal(d["base-uri"], []string{"'none'"}) {
		t.Errorf("%s: object-src %q, base-uri %q; want 'none'", what, d["object-src"], d["base-uri"])
	}
	if !slices.Equal(d["default-src"], []string{"'self'"}) && !slices.Equal(d["default-src"], []string{"'none'"}) {
		t.Errorf("%s: default-src %q; want 'self' or 'none'", what, d["default-src"])
	}
}

// TestHardeningSecurityHeaders: every response the engine writes says
// X-Content-Type-Options: nosniff (static files, Comet answers in every
// format, streams, errors of every layer, Handlers, net/http handlers, the
// 503 of the connection cap), so that no response is ever read as another
// type than it says (an xml event stream as HTML, a JSON answer as
// script). The embedded site's files carry a Content-Security-Policy that
// runs only the origin's own script files; webroot files carry
// Config.WebrootCSP when set. Comet's js documents (the iframe transport's
// forever-frame) may run their own inline script elements and nothing
// else: no other source, no eval; every other Comet answer and the 400
// page may run nothing.
func TestHardeningSecurityHeaders(t *testing.T) {
	site := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><title>x</title><script src=app.js></script>")},
		"app.js":     {Data: []byte("console.log(1)")},
		"img/a.svg":  {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	}
	webroot := t.TempDir()
	if err := os.WriteFile(filepath.Join(webroot, "mine.html"), []byte("<!doctype html><script>inline()</script>"), 0o644); err != nil {
		t.Fatal(err)
	}
	const mineCSP = "default-src 'self'; script-src 'self' 'unsafe-inline'"
	var srvs []*engine.Server
	for _, wcsp := range []string{"", mineCSP} {
		srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Logger: testLogger(t), Static: site, Webroot: webroot, WebrootCSP: wcsp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewHub(srv, Config{PullWaitMin: 10, PullWaitMax: 20}); err != nil {
			t.Fatal(err)
		}
		srv.Handle("GET", "/h", func(w *engine.Stream, _ *engine.Request) { w.Respond(http.StatusOK, "text/plain", []byte("handler")) })
		srv.HandleHTTP("/adapter", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") }))
		srv.HandleHTTP("/adapter-nosniff", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			io.WriteString(w, "{}")
		}))
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Shutdown(t.Context()) })
		srvs = append(srvs, srv)
	}
	addr := srvs[0].Addr()

	type check struct {
		name, req string
		status    int
		policy    func(t *testing.T, what, policy string) // nil: no policy wanted
	}
	page := checkPagePolicy
	none := func(t *testing.T, what, policy string) {
		t.Helper()
		d := csp(policy)
		if !slices.Equal(d["default-src"], []string{"'none'"}) || d["script-src"] != nil {
			t.Errorf("%s: policy %q; want default-src 'none' and no script", what, policy)
		}
	}
	jsDoc := func(t *testing.T, what, policy string) {
		t.Helper()
		d := csp(policy)
		if !slices.Equal(d["default-src"], []string{"'none'"}) || !slices.Equal(d["script-src"], []string{"'unsafe-inline'"}) {
			t.Errorf("%s: policy %q; want default-src 'none', script-src 'unsafe-inline' only", what, policy)
		}
	}
	get := func(target string, hdr ...string) string { return testkit.Req("GET", target, hdr...) }
	checks := []check{
		{"page", get("/"), 200, page},
		{"script file (not a document: no policy)", get("/app.js"), 200, nil},
		{"svg image", get("/img/a.svg"), 200, page},
		{"missing file", get("/nope.html"), 404, nil},
		{"webroot page, no WebrootCSP", get("/mine.html"), 200, nil},
		{"js join", get("/comet?p_event=join&p_format=js"), 200, jsDoc},
		{"js pull listen", get("/comet?p_event=join-listen&p_format=js&p_mode=pull"), 200, jsDoc},
		{"xml-strict join", get("/comet?p_event=join&p_format=xml-strict"), 200, none},
		{"xml join", get("/comet?p_event=join&p_format=xml"), 200, none},
		{"json join", get("/comet?p_event=join&p_format=json"), 200, none},
		{"sse join", get("/comet?p_event=join&p_format=sse"), 200, none},
		{"400 page", get("/comet?p_event=listen&p_id=nobody"), 400, none},
		{"403 origin", get("/comet?p_event=join", "Origin: https://evil.example"), 403, nil},
		{"403 cross-site", get("/comet?p_event=join", "Sec-Fetch-Site: cross-site"), 403, nil},
		{"405 method", testkit.Req("PUT", "/comet?p_event=join", "Content-Length: 0"), 405, nil},
		{"preflight", testkit.Req("OPTIONS", "/comet"), 204, nil},
		{"handler", get("/h"), 200, nil},
		{"net/http handler", get("/adapter"), 200, nil},
		{"net/http handler with its own nosniff", get("/adapter-nosniff"), 200, nil},
		{"405 route", testkit.Req("POST", "/h", "Content-Length: 0"), 405, nil},
		{"400 parser", "GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n", 400, nil},
	}
	for _, c := range checks {
		conn := testkit.Dial(t, addr)
		conn.Send(c.req)
		method := strings.Fields(c.req)[0]
		r := conn.Next(method)
		what := fmt.Sprintf("%s (%d)", c.name, r.StatusCode)
		if r.StatusCode != c.status {
			t.Errorf("%s: want status %d: %q", what, c.status, r.Text)
		}
		if got := r.Header.Values("X-Content-Type-Options"); !slices.Equal(got, []string{"nosniff"}) {
			t.Errorf("%s: X-Content-Type-Options %q; want one nosniff", what, got)
		}
		policy := r.Header.Get("Content-Security-Policy")
		switch {
		case c.policy != nil:
			c.policy(t, what, policy)
		case policy != "" && c.status < 300:
			t.Errorf("%s: unexpected policy %q", what, policy)
		}
		if c.name == "js pull listen" && (!strings.Contains(r.Text, "setTimeout(refresh, ") || strings.Contains(r.Text, `setTimeout("`)) {
			t.Errorf("%s: the refresh script evaluates a string, which the policy forbids: %q", what, r.Text)
		}
	}
	if got := testkit.Get(t, srvs[1].Addr(), "/mine.html").Header.Get("Content-Security-Policy"); got != mineCSP {
		t.Errorf("webroot page with WebrootCSP: policy %q; want %q", got, mineCSP)
	}
	if got := testkit.Get(t, srvs[1].Addr(), "/").Header.Get("Content-Security-Policy"); got != engine.DefaultPageCSP {
		t.Errorf("embedded page: policy %q; want DefaultPageCSP %q", got, engine.DefaultPageCSP)
	}

	// A js stream's head.
	conn := testkit.Dial(t, addr)
	conn.Send(get("/comet?p_event=join-listen&p_format=js&p_mode=stream"))
	head, err := conn.Head("GET")
	if err != nil {
		t.Fatal(err)
	}
	jsDoc(t, "js stream", head.Header.Get("Content-Security-Policy"))
	if head.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("js stream: no nosniff: %v", head.Header)
	}
	conn.C.Close()

	// The 503 of the connection cap, written before any request is read.
	capped := newTestHub(t, Config{}, engine.Config{MaxConns: 1, Loops: 1}).srv
	first := testkit.Dial(t, capped.Addr())
	if r := first.Get("/"); r.StatusCode != 404 {
		t.Fatalf("first connection: %d", r.StatusCode)
	}
	second := testkit.Dial(t, capped.Addr())
	r, err := second.Head("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 503 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("connection cap: %d %v; want 503 with nosniff", r.StatusCode, r.Header)
	}
}

// TestHardeningForeignPageCannotJoin: in a real browser, a page of another
// site carrying <img src=".../comet?p_event=join"> (with and without a
// Referer) and an <iframe> of the same URL makes no session: the visitor's
// address keeps its session cap. The same <img> on the game's own page
// does join, so the count would show the foreign ones.
func TestHardeningForeignPageCannotJoin(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	const n = 8
	var page strings.Builder
	page.WriteString("<!doctype html><title>foreign</title><body>")
	for i := range n {
		fmt.Fprintf(&page, `<img src="%s/comet?p_event=join&amp;p_format=json&amp;n=%d">`, bs.base, i)
		fmt.Fprintf(&page, `<img referrerpolicy="no-referrer" src="%s/comet?p_event=join&amp;p_format=json&amp;r=%d">`, bs.base, i)
	}
	fmt.Fprintf(&page, `<iframe src="%s/comet?p_event=join&amp;p_format=js"></iframe>`, bs.base)
	// The iframe transport's frame page, on the game's origin, opens the
	// frame it is told to in its hash: its requests are the game's own.
	// It must open nothing but a listen, which needs the session's secret.
	frame := func(src string) string { return "/js/cometplay-frame.html#cb=x&src=" + url.QueryEscape(src) }
	for _, src := range []string{
		"/comet?p_event=join&p_format=js",
		bs.base + "/comet?p_event=join-listen&p_format=js&p_mode=pull",
		"/comet?p_event=listen&x=&p_event=join&p_format=js",
		"/comet?p%5Fevent=join&p_event=listen&p_format=js",
		"/comet?p_event=listen%00&p_format=js",
		frame("/comet?p_event=join&p_format=js"), // a frame page in a frame page: its parent is the game's origin
	} {
		fmt.Fprintf(&page, `<iframe src="%s%s"></iframe>`, bs.base, html.EscapeString(frame(src)))
	}
	page.WriteString("</body>")
	foreign := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page.String())
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go foreign.Serve(ln)
	t.Cleanup(func() { foreign.Close() })
	// "localhost" and "127.0.0.1" are different sites to the browser.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := b.NewPage(t, "http://localhost:"+port+"/")
	// NewPage waited for the load event, which waits for every image and
	// every frame, those the frame pages made too: every request was sent
	// and answered.
	if got := browsertest.Eval[int](p, `document.images.length`); got != 2*n {
		t.Fatalf("the foreign page has %d images; want %d", got, 2*n)
	}
	if s := bs.hub.NumSessions(); s != 0 {
		t.Fatalf("a foreign page's images and iframe made %d sessions; want none", s)
	}

	own := b.NewPage(t, bs.clientURL(btOptions("stream")))
	own.Run(`new Promise((resolve) => { const i = new Image(); i.onload = i.onerror = resolve; i.src = '/comet?p_event=join&p_format=json'; })`)
	if s := bs.hub.NumSessions(); s != 1 {
		t.Fatalf("the game's own page's image made %d sessions; want 1", s)
	}
}

// TestHardeningClientRefusesForeignURLs: cometplay.js accepts only URLs of
// the page's own origin over http(s) for every URL option (url,
// transportUrls, frameUrl): a javascript: frameUrl would run script on
// the game's origin (the iframe transport sets it as a frame's src), a
// foreign url would hand the session id to another site. The constructor
// throws a TypeError that names the option.
func TestHardeningClientRefusesForeignURLs(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	p := b.NewPage(t, bs.clientURL(btOptions("stream")))
	other := strings.Replace(bs.base, "http://", "https://", 1)
	bad := []struct{ opts, option string }{
		{`{transport: 'iframe', shared: false, frameUrl: "javascript:window.top.pwned=1"}`, "frameUrl"},
		{`{transport: 'iframe', frameUrl: "JavaScript:window.top.pwned=1"}`, "frameUrl"},
		{`{transport: 'iframe', frameUrl: "data:text/html,<script>top.pwned=1</script>"}`, "frameUrl"},
		{`{transport: 'iframe', frameUrl: "http://evil.example/cometplay-frame.html"}`, "frameUrl"},
		{`{transport: 'iframe', frameUrl: "//evil.example/cometplay-frame.html"}`, "frameUrl"},
		{`{frameUrl: "javascript:1"}`, "frameUrl"},
		{`{url: "javascript:window.top.pwned=1"}`, "url"},
		{`{url: "http://evil.example/comet"}`, "url"},
		{`{url: "` + other + `/comet"}`, "url"},
		{`{url: "ws://` + strings.TrimPrefix(bs.base, "http://") + `/comet"}`, "url"},
		{`{url: "blob:` + bs.base + `/x"}`, "url"},
		{`{transportUrls: {stream: "https://evil.example/comet"}}`, "transportUrls.stream"},
		{`{transportUrls: {iframe: "javascript:1"}}`, "transportUrls.iframe"},
	}
	for _, c := range bad {
		got := browsertest.Eval[string](p, `(() => { try { new T.CometClient(`+c.opts+`); return 'accepted'; } catch (e) { return e.name + ': ' + e.message; } })()`)
		if !strings.HasPrefix(got, "TypeError: ") || !strings.Contains(got, c.option) || !strings.Contains(got, "origin") {
			t.Errorf("new CometClient(%s) = %q; want a TypeError naming %s and the origin rule", c.opts, got, c.option)
		}
	}
	if browsertest.Eval[bool](p, `window.pwned !== undefined`) {
		t.Fatal("a refused URL ran script")
	}
	good := []string{
		`{}`,
		`{url: '/pushlet/pushlet.srv'}`,
		`{url: 'comet'}`,
		`{url: location.origin + '/comet', transportUrls: {stream: '/comet'}, frameUrl: '/js/cometplay-frame.html'}`,
	}
	for _, opts := range good {
		got := browsertest.Eval[string](p, `(() => { try { const c = new T.CometClient(`+opts+`); return new URL(c.options.url).origin === location.origin ? 'ok' : c.options.url; } catch (e) { return e.name + ': ' + e.message; } })()`)
		if got != "ok" {
			t.Errorf("new CometClient(%s) = %q; want accepted", opts, got)
		}
	}
}
