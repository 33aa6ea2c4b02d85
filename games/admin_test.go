package games

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"

	"github.com/google/pprof/profile"

	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/static"
)

const testAdminToken = "test-admin-token-0123456789"

// adminServer is a games server (Nim, lobby) with metrics and the admin
// console mounted.
type adminServer struct {
	*gamesServer
	admin *Admin
}

func newAdminServer(t *testing.T) *adminServer {
	t.Helper()
	game := nim.Game
	game.ReconnectWindow = 30 * time.Second
	gs := startGames(t, Config{
		HTTP:  engine.Config{Static: static.FS()}, // the console's page, from the site's admin/
		Comet: comet.Config{DetachGrace: 50 * time.Millisecond}, Games: []rooms.Game{game},
		Lobby: lobby.Options{AwayGrace: 30 * time.Second},
		Admin: AdminConfig{Token: testAdminToken, Interval: MinAdminInterval},
	})
	return &adminServer{gs, gs.Admin()}
}

// do sends a request with the given credential setter and returns status
// and body.
func (as *adminServer) do(t *testing.T, method, path string, form url.Values, cred func(*http.Request)) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, as.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cred != nil {
		cred(req)
	}
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func cookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: adminCookieName, Value: v}) }
}

// TestAdminRefusesWithoutToken: the console, its API and pprof answer 401
// without a credential and 403 with a wrong one, and serve with the right
// one, by header or by cookie.
func TestAdminRefusesWithoutToken(t *testing.T) {
	as := newAdminServer(t)
	good := as.admin.cookieValue(time.Now().Add(time.Hour))
	expired := as.admin.cookieValue(time.Now().Add(-time.Minute))
	forged := strings.Replace(good, ".", "0.", 1)
	paths := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/admin/", nil},
		{"GET", "/admin/index.html", nil},
		{"GET", "/admin/admin.js", nil},
		{"GET", "/admin/api/stats", nil},
		{"GET", "/admin/api/rooms", nil},
		{"GET", "/admin/api/sessions", nil},
		{"POST", "/admin/api/watch", url.Values{"session": {"nobody"}}},
		{"POST", "/admin/api/rooms/close", url.Values{"room": {"nosuch"}}},
		{"POST", "/admin/api/sessions/close", url.Values{"session": {"nobody"}}},
		{"GET", "/debug/pprof/", nil},
		{"GET", "/debug/pprof/heap?debug=1", nil},
		{"GET", "/debug/pprof/cmdline", nil},
	}
	creds := []struct {
		name string
		set  func(*http.Request)
		want int // 0: served
	}{
		{"none", nil, 401},
		{"basic", func(r *http.Request) { r.SetBasicAuth("admin", testAdminToken) }, 401},
		{"wrong bearer", bearer("test-admin-token-012345678"), 403},
		{"token prefix", bearer(testAdminToken[:16]), 403},
		{"forged cookie", cookie(forged), 403},
		{"expired cookie", cookie(expired), 403},
		{"bearer", bearer(testAdminToken), 0},
		{"cookie", cookie(good), 0},
	}
	for _, p := range paths {
		for _, c := range creds {
			status, body, hdr := as.do(t, p.method, p.path, p.form, c.set)
			switch {
			case c.want != 0 && status != c.want:
				t.Errorf("%s %s with %s: %d; want %d", p.method, p.path, c.name, status, c.want)
			case c.want == 0 && (status == 401 || status == 403):
				t.Errorf("%s %s with %s: %d; want it served", p.method, p.path, c.name, status)
			case c.want == 401 && hdr.Get("WWW-Authenticate") == "":
				t.Errorf("%s %s: 401 without WWW-Authenticate", p.method, p.path)
			case c.want != 0 && (strings.Contains(body, "cometplay_") || strings.Contains(body, "goroutine")):
				t.Errorf("%s %s with %s: refused but leaked %q", p.method, p.path, c.name, body)
			}
		}
	}
	// The page without a credential is the sign-in form.
	if status, body, _ := as.do(t, "GET", "/admin/", nil, nil); status != 401 || !strings.Contains(body, `action="/admin/login"`) {
		t.Fatalf("GET /admin/ signed out: %d %q", status, body)
	}
}

// TestAdminLogin: the form's token sets a cookie (HttpOnly, SameSite
// Strict) that opens the page; a wrong token is refused; a cross-site POST
// is refused even with the cookie.
func TestAdminLogin(t *testing.T) {
	as := newAdminServer(t)
	if status, body, hdr := as.do(t, "POST", "/admin/login", url.Values{"token": {"not the token at all"}}, nil); status != 403 || hdr.Get("Set-Cookie") != "" || !strings.Contains(body, "not the admin token") {
		t.Fatalf("wrong token: %d, cookie %q", status, hdr.Get("Set-Cookie"))
	}
	status, _, hdr := as.do(t, "POST", "/admin/login", url.Values{"token": {testAdminToken}}, nil)
	if status != 303 || hdr.Get("Location") != "/admin/" {
		t.Fatalf("login: %d %q", status, hdr.Get("Location"))
	}
	resp := http.Response{Header: hdr}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == adminCookieName {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || strings.Contains(c.Value, testAdminToken) {
		t.Fatalf("cookie %+v", c)
	}
	status, body, _ := as.do(t, "GET", "/admin/", nil, cookie(c.Value))
	if status != 200 || !strings.Contains(body, "admin.js") {
		t.Fatalf("page with the cookie: %d %q", status, body)
	}
	crossSite := func(r *http.Request) {
		cookie(c.Value)(r)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://evil.example")
	}
	if status, _, _ := as.do(t, "POST", "/admin/api/sessions/close", url.Values{"session": {"x"}}, crossSite); status != 403 {
		t.Fatalf("cross-site POST with the cookie: %d; want 403", status)
	}
}

// TestAdminSubjectReserved: clients can neither subscribe to the admin
// subject (nor to a prefix of it) nor publish on it; a watched session gets
// the figures, another does not.
func TestAdminSubjectReserved(t *testing.T) {
	as := newAdminServer(t)
	ctx := context.Background()
	spy, err := cometclient.Join(ctx, as.base, as.hc)
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{AdminSubject, "/admin", "/admin/other", "/", "/lobby,/admin/stats"} {
		if _, err := spy.Subscribe(ctx, subject, ""); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("client subscription to %q: %v; want a nack", subject, err)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a listen that is not refused streams on
	_, err = spy.Do(lctx, "listen", "p_mode", "stream", "p_subject", AdminSubject)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("listen with p_subject %s: %v; want a nack", AdminSubject, err)
	}
	if err := spy.Publish(ctx, AdminSubject, "data", `{"forged":true}`); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("client publish to %s: %v; want a nack", AdminSubject, err)
	}
	spyStream, err := spy.Listen(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer spyStream.Close()

	page, err := cometclient.Join(ctx, as.base, as.hc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := page.Listen(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if status, body, _ := as.do(t, "POST", "/admin/api/watch", url.Values{"session": {page.Public}}, bearer(testAdminToken)); status != 200 {
		t.Fatalf("watch: %d %s", status, body)
	}
	evs, err := st.Until(5*time.Second, func(e cometclient.Event) bool { return e["p_subject"] == AdminSubject })
	if err != nil {
		t.Fatal(err)
	}
	var snap adminSnapshot
	if err := json.Unmarshal([]byte(evs[len(evs)-1]["data"]), &snap); err != nil {
		t.Fatal(err)
	}
	if v := snap.Values["cometplay_connections_open"]; len(v) != 1 || v[0].Value < 2 {
		t.Errorf("pushed figures: connections open %v", v)
	}
	if _, ok := snap.Histograms["cometplay_comet_fanout_duration_seconds"]; !ok {
		t.Errorf("pushed figures without the fan-out histogram: %v", snap.Histograms)
	}
	// The spy has been listening all along and got none of it.
	deadline := time.After(200 * time.Millisecond) // several pushes
	for {
		select {
		case e := <-spyStream.Events():
			if e["p_subject"] == AdminSubject {
				t.Fatalf("an unwatched session got %v", e)
			}
			continue
		case <-deadline:
		}
		break
	}
}

// TestAdminCloseRoomAndSession: the console closes a room (its players get
// "closed") and disconnects a session (it ends; its listener stops).
func TestAdminCloseRoomAndSession(t *testing.T) {
	as := newAdminServer(t)
	ann, bob := as.newPlayer("Ann"), as.newPlayer("Bob")
	ann.lobby("action", "create", "game", "nim")
	ann.joined()
	bob.lobby("action", "join", "room", ann.room)
	bob.joined()
	auth := bearer(testAdminToken)

	status, body, _ := as.do(t, "GET", "/admin/api/sessions?subject=/room/"+ann.room, nil, auth)
	var list struct {
		Total    int
		Sessions []adminSession
	}
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil || len(list.Sessions) != 2 {
		t.Fatalf("sessions of the room: %d %v %s", status, err, body)
	}
	if status, _, _ := as.do(t, "POST", "/admin/api/rooms/close", url.Values{"room": {ann.room}}, auth); status != 200 {
		t.Fatalf("close room: %d", status)
	}
	if r := ann.wait("/room/", "closed").m(); r["reason"] != "room closed" {
		t.Fatalf("closed: %v", r)
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "the room gone", func() bool { _, ok := as.m.Room(ann.room); return !ok })
	if status, _, _ := as.do(t, "POST", "/admin/api/rooms/close", url.Values{"room": {ann.room}}, auth); status != 404 {
		t.Fatalf("closing it again: %d; want 404", status)
	}

	if status, body, _ := as.do(t, "POST", "/admin/api/sessions/close", url.Values{"session": {bob.c.Public}, "reason": {"cheating"}}, auth); status != 200 || !strings.Contains(body, "cheating") {
		t.Fatalf("disconnect: %d %s", status, body)
	}
	if as.hub.SessionByPublicID(bob.c.Public) != nil {
		t.Fatal("the session is still live")
	}
	if _, err := bob.s.Until(5*time.Second, func(cometclient.Event) bool { return false }); !errors.Is(err, io.EOF) {
		t.Fatalf("bob's stream after the disconnect: %v; want it ended", err)
	}
	if status, _, _ := as.do(t, "POST", "/admin/api/sessions/close", url.Values{"session": {bob.c.Public}}, auth); status != 404 {
		t.Fatalf("disconnecting it again: %d; want 404", status)
	}
}

// TestAdminPprof: net/http/pprof through the adapter, with the token only:
// the heap profile in text, and a 1-second CPU profile of the server while
// it serves requests, which parses as a pprof profile.
func TestAdminPprof(t *testing.T) {
	as := newAdminServer(t)
	auth := bearer(testAdminToken)
	status, body, _ := as.do(t, "GET", "/debug/pprof/heap?debug=1", nil, auth)
	if status != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap: %d %.200q", status, body)
	}
	if status, body, _ := as.do(t, "GET", "/debug/pprof/", nil, auth); status != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("index: %d %.200q", status, body)
	}
	// Load while profiling: requests on another goroutine.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := as.hc.Get(as.base + "/debug/stats"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	start := time.Now()
	status, body, hdr := as.do(t, "GET", "/debug/pprof/profile?seconds=1", nil, auth)
	close(stop)
	wg.Wait()
	if status != 200 || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("cpu profile: %d %q %.200q", status, hdr.Get("Content-Type"), body)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("a 1 s profile took %v", d)
	}
	p, err := profile.Parse(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("cpu profile does not parse: %v", err)
	}
	if len(p.SampleType) == 0 || p.SampleType[0].Type != "samples" || p.DurationNanos < int64(time.Second/2) {
		t.Fatalf("cpu profile: sample types %v, duration %v", p.SampleType, time.Duration(p.DurationNanos))
	}
	if status, _, _ := as.do(t, "GET", "/debug/pprof/profile?seconds=1", nil, nil); status != 401 {
		t.Fatalf("cpu profile without the token: %d", status)
	}
}

// TestAdminDisabled: without a token the console is off: its paths answer
// 404, even though the embedded site holds the page's files, with a page
// saying how to turn it on (HTML for the console, text for pprof's
// clients), under the console's policy and never cached.
func TestAdminDisabled(t *testing.T) {
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Static: static.FS(), Logger: testkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := comet.NewHub(srv, comet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := MountAdmin(srv, hub, AdminConfig{})
	if err != nil || a.Enabled() {
		t.Fatalf("MountAdmin without a token: %v, enabled %v", err, a.Enabled())
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	for _, p := range []string{"/admin/", "/admin/index.html", "/admin/admin.js", "/admin/api/rooms", "/debug/pprof/", "/debug/pprof/heap"} {
		resp, err := http.Get("http://" + srv.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s with the console off: %d; want 404", p, resp.StatusCode)
		}
		wantType, wantSays := "text/html; charset=utf-8", "The admin console is off"
		if strings.HasPrefix(p, "/debug/") {
			wantType, wantSays = "text/plain; charset=utf-8", "pprof is off"
		}
		h := resp.Header
		if h.Get("Content-Type") != wantType || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s with the console off: headers %v; want %s, no-store, nosniff", p, h, wantType)
		}
		if strings.HasPrefix(p, "/admin/") && h.Get("Content-Security-Policy") != adminCSP {
			t.Errorf("GET %s with the console off: CSP %q; want the console's", p, h.Get("Content-Security-Policy"))
		}
		for _, say := range []string{wantSays, "COMETPLAY_ADMIN_TOKEN=", "at least 16 bytes", "-admin-token", "Config.Admin.Token"} {
			if !strings.Contains(string(body), say) {
				t.Errorf("GET %s with the console off: the page does not say %q:\n%s", p, say, body)
			}
		}
	}
	if _, err := MountAdmin(srv, hub, AdminConfig{Token: "short"}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a short token: %v", err)
	}
}

// TestLogFloodWrongAdminToken: a client sending wrong admin tokens, which
// the server logs as a warning, gets at most Config.LogLimit lines in a
// minute however many it sends.
func TestLogFloodWrongAdminToken(t *testing.T) {
	var c testkit.LogCapture
	th := startGames(t, Config{Logger: slog.New(&c), Admin: AdminConfig{Token: testAdminToken, Assets: fstest.MapFS{"index.html": {Data: []byte("admin")}}}})
	const n = 100
	start := time.Now()
	for range n {
		req, _ := http.NewRequest("GET", th.base+"/debug/pprof/", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-0123456789")
		resp, err := th.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong token: %d", resp.StatusCode)
		}
	}
	refused := 0
	for _, l := range c.Lines() {
		if strings.Contains(l, "admin: refused a wrong credential") {
			refused++
		}
	}
	// The burst, and what refilled while the requests were sent.
	most := engine.DefaultLogLimit + int(time.Since(start)*engine.DefaultLogLimit/time.Minute) + 1
	if refused < engine.DefaultLogLimit || refused > most {
		t.Errorf("%d wrong tokens logged %d times; want %d to %d", n, refused, engine.DefaultLogLimit, most)
	}
}
