package comet

// End-to-end tests of the browser client library (static/js/cometplay.js)
// against this package's hub, in headless Chromium driven by chromedp
// (internal/browsertest). The page under test is testdata/site/test/client.html,
// served from the test server's webroot (never from the embedded site, which
// holds no test page) under the embedded pages' Content-Security-Policy; it
// records what the client emits in window.T.
//
// Pages reach the server through btProxy, a TCP relay the test can cut:
// that is how a test drops the client's connections as a network failure
// would, and keeps them down while it publishes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/static"
)

// btTricky is a value that must survive every transport: quotes, a closing
// script tag, newlines, a line separator and non-ASCII.
const btTricky = "a\"b'c<d>&e\\f\nline2\r\n</script><!-- \u2028 wörld 😀 日本"

// btWait bounds every wait for the browser.
const btWait = 10 * time.Second

// btWebroot holds the test pages, layered over the embedded site.
const btWebroot = "testdata/site"

// btServer is a server with a hub, the embedded site and the test pages,
// reached through a cuttable proxy.
type btServer struct {
	srv   *engine.Server
	hub   *Hub
	proxy *btProxy
	base  string // http://127.0.0.1:port of the proxy
}

func newBTServer(t *testing.T, cfg Config, setup ...func(*engine.Server)) *btServer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := engine.New(engine.Config{Addr: "127.0.0.1:0", Static: static.FS(), Webroot: btWebroot, WebrootCSP: engine.DefaultPageCSP, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollWaitMin == 0 && cfg.PollWaitMax == 0 {
		cfg.PollWaitMin, cfg.PollWaitMax = 50, 100
	}
	hub, err := NewHub(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range setup {
		fn(srv) // extra routes, registered before Start
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	p := newBTProxy(t, srv.Addr())
	bs := &btServer{srv: srv, hub: hub, proxy: p, base: "http://" + p.addr()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return bs
}

// clientURL returns the test page's URL with the client options opts.
func (bs *btServer) clientURL(opts map[string]any) string {
	b, err := json.Marshal(opts)
	if err != nil {
		panic(err)
	}
	return bs.base + "/test/client.html?connect=0&opts=" + url.QueryEscape(string(b))
}

// btOptions returns client options for tests: fast backoff, and a
// handshake timeout long enough for a loaded machine (a slow listen-ack would
// look like a buffering proxy and make the client fall back).
func btOptions(transport string, extra ...any) map[string]any {
	o := map[string]any{
		"transport":        transport,
		"backoff":          map[string]any{"initial": 50, "max": 400, "jitter": 0.5},
		"handshakeTimeout": 6000,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i].(string)] = extra[i+1]
	}
	return o
}

// connect starts the page's client and waits until it is connected.
func btConnect(t *testing.T, p *browsertest.Page) string {
	t.Helper()
	p.Run(`T.client.connect()`)
	p.WaitFor("connected", `T.connected()`, btWait)
	return browsertest.Eval[string](p, `T.client.publicId`)
}

// btData returns the data events the page received on subject.
func btData(t *testing.T, p *browsertest.Page, subject string) []map[string]string {
	t.Helper()
	return browsertest.Eval[[]map[string]string](p, `T.data.filter(e => e.p_subject === `+btJS(subject)+`)`)
}

func btJS(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// btWaitN waits until the page holds n data events on subject.
func btWaitN(t *testing.T, p *browsertest.Page, subject string, n int) {
	t.Helper()
	p.WaitFor(fmt.Sprintf("%d events on %s", n, subject),
		`T.data.filter(e => e.p_subject === `+btJS(subject)+`).length >= `+strconv.Itoa(n), btWait)
}

func btEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(btWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// btField returns the values of name in evs.
func btField(evs []map[string]string, name string) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e[name])
	}
	return out
}

func btSeq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

var btTransports = []string{"stream", "sse", "long-poll", "poll", "iframe"}

// TestBrowserTransports: with every transport, the client joins, subscribes,
// and receives events published from Go and from the page itself, values
// intact; a refused publish rejects with the server's reason.
func TestBrowserTransports(t *testing.T) {
	b := browsertest.Start(t)
	for _, tr := range btTransports {
		t.Run(tr, func(t *testing.T) {
			bs := newBTServer(t, Config{})
			p := b.NewPage(t, bs.clientURL(btOptions(tr)))
			pub := btConnect(t, p)
			if got := browsertest.Eval[string](p, `T.client.transport`); got != tr {
				t.Fatalf("transport = %q; want %q", got, tr)
			}
			s := bs.hub.SessionByPublicID(pub)
			if s == nil {
				t.Fatalf("no server session with public id %q", pub)
			}
			subject := "/t/" + tr
			if sid := browsertest.Eval[string](p, `T.client.subscribe(`+btJS(subject)+`)`); sid == "" {
				t.Fatal("subscribe resolved without a sid")
			}
			switch tr {
			case "stream", "sse", "iframe":
				btEventually(t, "one stream listener", func() bool { return bs.hub.Stats().StreamListeners == 1 })
			case "long-poll":
				btEventually(t, "a parked long-poll", func() bool { return bs.hub.Stats().PullListeners == 1 })
			}
			if err := bs.hub.Publish(subject, "v", btTricky, "n", "1"); err != nil {
				t.Fatal(err)
			}
			btWaitN(t, p, subject, 1)
			p.Run(`T.client.publish(` + btJS(subject) + `, {v: ` + btJS(btTricky) + `, n: 2})`)
			btWaitN(t, p, subject, 2)
			evs := btData(t, p, subject)
			if len(evs) != 2 {
				t.Fatalf("got %d events; want 2: %v", len(evs), evs)
			}
			for i, e := range evs {
				if e["v"] != btTricky {
					t.Errorf("event %d: v = %q; want %q", i, e["v"], btTricky)
				}
				if e["n"] != strconv.Itoa(i+1) || e["p_seq"] != strconv.Itoa(i+1) || e["p_event"] != "data" {
					t.Errorf("event %d = %v; want n=p_seq=%d", i, e, i+1)
				}
			}
			if evs[0]["p_from"] != "" || evs[1]["p_from"] != pub {
				t.Errorf("p_from = %q, %q; want \"\" (server), %q (the page)", evs[0]["p_from"], evs[1]["p_from"], pub)
			}
			got := browsertest.Eval[string](p, `T.client.publish('/t/x', {'bad name': 1}).then(() => 'resolved', e => e.code + ': ' + e.message)`)
			if got != "nack: invalid field name: bad name" {
				t.Errorf("refused publish: %q; want the nack's reason", got)
			}
			if errs := browsertest.Eval[[]map[string]string](p, `T.errors`); len(errs) > 0 {
				t.Errorf("client errors: %v", errs)
			}
		})
	}
}

// TestBrowserResume: with every transport, the network fails, events are
// published while the client is cut off, and after it reconnects it has
// every event exactly once, in order, in the same session. Then the server
// is made to send old events again: the client drops the duplicates.
// (The server side of the rewind uses package internals: Session.mu and
// the delivered cursor.)
func TestBrowserResume(t *testing.T) {
	b := browsertest.Start(t)
	for _, tr := range btTransports {
		t.Run(tr, func(t *testing.T) {
			cfg, opts := Config{}, btOptions(tr)
			if tr == "iframe" {
				// A document whose connection breaks stays "loading" and
				// fires no event: the iframe transport notices only that
				// heartbeats stop coming.
				cfg.Heartbeat = 300 * time.Millisecond
				opts["heartbeatTimeout"] = 1000
			}
			bs := newBTServer(t, cfg)
			p := b.NewPage(t, bs.clientURL(opts))
			pub := btConnect(t, p)
			s := bs.hub.SessionByPublicID(pub)
			p.Run(`T.client.subscribe('/r')`)
			for i := 1; i <= 5; i++ {
				bs.hub.Publish("/r", "i", strconv.Itoa(i))
			}
			btWaitN(t, p, "/r", 5)

			bs.proxy.cut()
			btEventually(t, "the server to see the listener gone", func() bool { return !s.Listening() })
			for i := 6; i <= 10; i++ {
				bs.hub.Publish("/r", "i", strconv.Itoa(i))
			}
			if s.Listening() {
				t.Fatal("the client reconnected through a cut network")
			}
			bs.proxy.restore()
			btWaitN(t, p, "/r", 10)

			if tr != "poll" && tr != "long-poll" {
				// Rewind the server's delivery cursor while the data channel
				// is open (a stream, or a parked long-poll that only the
				// next event wakes) to the oldest event the session still
				// holds (the reconnect's p_last let go of 1..5): it sends
				// those again, then 11. A poll client is never parked, and
				// each refresh of a poll or long-poll client says where it
				// is (p_last), which lets go of what it has: nothing is
				// held to send again.
				btEventually(t, "the listener back", s.Listening)
				sent := bs.hub.Stats().Delivered
				s.mu.Lock()
				held := s.hist.Len()
				s.delivered = s.seq - uint64(held)
				s.mu.Unlock()
				if held == 0 {
					t.Fatal("the session holds none of events 6..10, which the client has not acknowledged")
				}
				bs.hub.Publish("/r", "i", "11")
				btWaitN(t, p, "/r", 11)
				if d := bs.hub.Stats().Delivered - sent; d < int64(held)+1 {
					t.Fatalf("the server sent %d events after the rewind; want the %d held again and 11", d, held)
				}
			} else {
				bs.hub.Publish("/r", "i", "11")
			}
			p.Run(`T.client.publish('/r', {i: 'end'})`) // a marker after any late duplicate
			btWaitN(t, p, "/r", 12)

			evs := btData(t, p, "/r")
			want := append(btSeq(1, 11), "end")
			if got := btField(evs, "i"); !slices.Equal(got, want) {
				t.Fatalf("events %v; want %v exactly once", got, want)
			}
			if got := btField(evs, "p_seq"); !slices.Equal(got, btSeq(1, 12)) {
				t.Errorf("p_seq %v; want 1..12", got)
			}
			if n := browsertest.Eval[int](p, `T.sessions.length`); n != 1 {
				t.Errorf("%d sessions; want 1 (resumed, not re-joined)", n)
			}
			if g := browsertest.Eval[int](p, `T.gaps.length`); g != 0 {
				t.Errorf("%d gaps reported; want none", g)
			}
			if bs.hub.NumSessions() != 1 {
				t.Errorf("%d server sessions; want 1", bs.hub.NumSessions())
			}
		})
	}
}

// TestBrowserGap: a client cut off for longer than the server's window hears
// exactly which events it lost, then gets the rest.
func TestBrowserGap(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{Window: 8})
	p := b.NewPage(t, bs.clientURL(btOptions("stream")))
	s := bs.hub.SessionByPublicID(btConnect(t, p))
	p.Run(`T.client.subscribe('/g')`)
	bs.hub.Publish("/g", "i", "1")
	btWaitN(t, p, "/g", 1)
	bs.proxy.cut()
	btEventually(t, "the listener gone", func() bool { return !s.Listening() })
	for i := 2; i <= 21; i++ {
		bs.hub.Publish("/g", "i", strconv.Itoa(i))
	}
	bs.proxy.restore()
	btWaitN(t, p, "/g", 9)
	gaps := browsertest.Eval[[]map[string]int](p, `T.gaps`)
	if len(gaps) != 1 || gaps[0]["from"] != 2 || gaps[0]["to"] != 13 {
		t.Fatalf("gaps %v; want one from 2 to 13", gaps)
	}
	if got := btField(btData(t, p, "/g"), "i"); !slices.Equal(got, append([]string{"1"}, btSeq(14, 21)...)) {
		t.Fatalf("events %v; want 1 then 14..21", got)
	}
}

// TestBrowserFallback: behind a proxy that buffers streams, no listen-ack
// arrives in time; the client falls back to long-poll and works.
func TestBrowserFallback(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{}, func(srv *engine.Server) {
		srv.HandlePrefix("GET", "/buffered/", btBufferingProxy(srv))
	})
	p := b.NewPage(t, bs.clientURL(btOptions("auto",
		"transportUrls", map[string]string{"stream": "/buffered/comet"},
		"handshakeTimeout", 400)))
	pub := btConnect(t, p)
	p.WaitFor("long-poll", `T.client.transport === 'long-poll'`, btWait)
	if tr := browsertest.Eval[[]string](p, `T.transports`); !slices.Equal(tr, []string{"long-poll"}) {
		t.Errorf("transports used %v; want only long-poll (the stream never connected)", tr)
	}
	fallbacks := browsertest.Eval[[]string](p, `T.errors.filter(e => e.code === 'fallback').map(e => e.message)`)
	if len(fallbacks) != 1 || !strings.Contains(fallbacks[0], "stream buffered") {
		t.Errorf("fallback errors %q; want one saying the stream is buffered", fallbacks)
	}
	p.Run(`T.client.subscribe('/f')`)
	btEventually(t, "a parked long-poll and no stream", func() bool {
		st := bs.hub.Stats()
		return st.PullListeners == 1 && st.StreamListeners == 0
	})
	bs.hub.Publish("/f", "v", btTricky)
	btWaitN(t, p, "/f", 1)
	if got := btData(t, p, "/f")[0]["v"]; got != btTricky {
		t.Errorf("v = %q", got)
	}
	if bs.hub.NumSessions() != 1 || bs.hub.SessionByPublicID(pub) == nil {
		t.Errorf("sessions: %d; want the client's one", bs.hub.NumSessions())
	}
}

// btBufferingProxy forwards a request to the server and answers only when
// the server's response is complete, as a proxy that buffers does: a stream
// never gets through.
func btBufferingProxy(srv *engine.Server) engine.Handler {
	return func(w *engine.Stream, r *engine.Request) {
		path := strings.TrimPrefix(r.Path, "/buffered")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-w.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+path+"?"+r.RawQuery, nil)
		if err != nil {
			w.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.Respond(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestBrowserSharedTabs: two tabs of one browser share one session and one
// connection; the follower subscribes and publishes through the leader and
// gets only its own subscriptions' events; when the leader tab closes, the
// follower takes over the same session with no event lost; the last tab
// out leaves the session.
func TestBrowserSharedTabs(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	var left sync.Map
	bs.hub.OnSessionEvent(func(ev SessionEvent) {
		if ev.Kind == SessionLeft {
			left.Store(ev.Session.PublicID(), ev.Reason)
		}
	})
	c := b.NewContext(t)
	u := bs.clientURL(btOptions("stream", "name", "shared"))
	a := c.NewPage(t, u)
	a.SetName("tabA")
	pub := btConnect(t, a)
	if !browsertest.Eval[bool](a, `T.client.isLeader`) {
		t.Fatal("the first tab is not the leader")
	}
	tb := c.NewPage(t, u)
	tb.SetName("tabB")
	if got := btConnect(t, tb); got != pub {
		t.Fatalf("second tab's public id %q; want the shared %q", got, pub)
	}
	if browsertest.Eval[bool](tb, `T.client.isLeader`) {
		t.Fatal("the second tab is a leader too")
	}
	if n := bs.hub.NumSessions(); n != 1 {
		t.Fatalf("%d sessions for two tabs; want 1", n)
	}
	btEventually(t, "one stream listener", func() bool { return bs.hub.Stats().StreamListeners == 1 })

	a.Run(`T.client.subscribe('/share')`)
	tb.Run(`T.client.subscribe('/share')`)
	tb.Run(`T.client.subscribe('/only-b')`)
	bs.hub.Publish("/only-b", "k", "b1")
	bs.hub.Publish("/share", "k", "s1")
	tb.Run(`T.client.publish('/share', {k: 's2'})`)
	for _, p := range []*browsertest.Page{a, tb} {
		btWaitN(t, p, "/share", 2)
		evs := btData(t, p, "/share")
		if got := btField(evs, "k"); !slices.Equal(got, []string{"s1", "s2"}) {
			t.Errorf("%s: /share events %v; want s1, s2", p.Name(), got)
		}
		if evs[1]["p_from"] != pub {
			t.Errorf("%s: p_from of the follower's publish = %q; want %q", p.Name(), evs[1]["p_from"], pub)
		}
	}
	btWaitN(t, tb, "/only-b", 1)
	if n := browsertest.Eval[int](a, `T.data.filter(e => e.p_subject === '/only-b').length`); n != 0 {
		t.Errorf("the leader tab got %d events of the follower's subscription", n)
	}
	if st := bs.hub.Stats(); st.StreamListeners != 1 || bs.hub.NumSessions() != 1 {
		t.Errorf("after traffic: %d stream listeners, %d sessions; want 1, 1", st.StreamListeners, bs.hub.NumSessions())
	}

	// Publish steadily while the leader tab closes.
	const n = 60
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			bs.hub.Publish("/share", "i", strconv.Itoa(i))
			time.Sleep(5 * time.Millisecond) // pacing the publisher, not synchronization
		}
	}()
	btWaitN(t, tb, "/share", 2+10)
	a.Close()
	<-done
	tb.WaitFor("the follower to take over", `T.client.isLeader`, btWait)
	btWaitN(t, tb, "/share", 2+n)
	if got := btField(btData(t, tb, "/share")[2:], "i"); !slices.Equal(got, btSeq(1, n)) {
		t.Fatalf("events across the takeover %v; want 1..%d exactly once", got, n)
	}
	if sessions := browsertest.Eval[int](tb, `T.sessions.length`); sessions != 1 {
		t.Errorf("the new leader saw %d sessions; want 1 (the same one resumed)", sessions)
	}
	if bs.hub.SessionByPublicID(pub) == nil {
		r, _ := left.Load(pub)
		t.Fatalf("the session ended when the leader tab closed (reason %v)", r)
	}
	btEventually(t, "the new leader's stream", func() bool { return bs.hub.Stats().StreamListeners == 1 })
	// The follower's subscription survived: it publishes through no one now.
	bs.hub.Publish("/only-b", "k", "b2")
	btWaitN(t, tb, "/only-b", 2)

	// A follower closing leaves the session alone; the last tab out leaves it.
	tc := c.NewPage(t, u)
	tc.SetName("tabC")
	btConnect(t, tc)
	tc.Close()
	tb.Run(`T.client.publish('/share', {k: 'after-c'})`)
	btWaitN(t, tb, "/share", 2+n+1)
	if bs.hub.SessionByPublicID(pub) == nil {
		t.Fatal("a follower closing ended the session")
	}
	tb.Close()
	btEventually(t, "the last tab's leave", func() bool { return bs.hub.SessionByPublicID(pub) == nil })
	if r, _ := left.Load(pub); r != ReasonLeave {
		t.Errorf("session ended with %v; want %q", r, ReasonLeave)
	}
}

// TestBrowserFollowerOrder: messages of different tabs are not ordered
// with each other, so after a takeover a follower may get the old leader's
// last events after the new leader's. The test plays such a late sender on
// the tabs' channel: the follower delivers in sequence order, reports
// events that never come as a gap, and ignores the state of a tab that is
// not its leader.
func TestBrowserFollowerOrder(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	c := b.NewContext(t)
	u := bs.clientURL(btOptions("stream", "name", "order"))
	leader := c.NewPage(t, u)
	btConnect(t, leader)
	f := c.NewPage(t, u)
	btConnect(t, f)
	f.Run(`T.client.subscribe('/o')`)
	last := browsertest.Eval[int](f, `(() => {
		const o = T.client.options, L = T.client.lastSeq, pub = T.client.publicId;
		const bc = new BroadcastChannel('cometplay:' + o.name + ':' + o.url);
		const ev = (seq, k) => ({k: 'ev', from: 'late-tab', session: pub,
			ev: {p_event: 'data', p_seq: String(seq), p_subject: '/o', p_sid: 'x', k}});
		bc.postMessage({k: 'state', from: 'late-tab', state: 'reconnecting', transport: 'poll'});
		bc.postMessage(ev(L + 2, 'second'));
		setTimeout(() => bc.postMessage(ev(L + 1, 'first')), 300);
		setTimeout(() => bc.postMessage(ev(L + 5, 'fifth')), 500);
		return L;
	})()`)
	btWaitN(t, f, "/o", 3)
	if got := btField(btData(t, f, "/o"), "k"); !slices.Equal(got, []string{"first", "second", "fifth"}) {
		t.Fatalf("follower delivered %v; want first, second, fifth", got)
	}
	gaps := browsertest.Eval[[]map[string]int](f, `T.gaps`)
	if len(gaps) != 1 || gaps[0]["from"] != last+3 || gaps[0]["to"] != last+4 {
		t.Errorf("gaps %v; want one from %d to %d", gaps, last+3, last+4)
	}
	if st := browsertest.Eval[string](f, `T.client.state + ' ' + T.client.transport`); st != "connected stream" {
		t.Errorf("follower state %q after a stranger's state message; want connected stream", st)
	}
	if n := browsertest.Eval[int](leader, `T.data.length`); n != 0 {
		t.Errorf("the leader took %d events from another tab", n)
	}
}

// TestBrowserTwoPlayers: two isolated browser contexts (two players on two
// machines) get a session each; one sends to the other alone by public id.
func TestBrowserTwoPlayers(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	u := bs.clientURL(btOptions("auto"))
	p1 := b.NewContext(t).NewPage(t, u)
	p1.SetName("player1")
	p2 := b.NewContext(t).NewPage(t, u)
	p2.SetName("player2")
	pub1, pub2 := btConnect(t, p1), btConnect(t, p2)
	if pub1 == pub2 || bs.hub.NumSessions() != 2 {
		t.Fatalf("players share a session (%q, %q, %d sessions); want one each", pub1, pub2, bs.hub.NumSessions())
	}
	if !browsertest.Eval[bool](p1, `T.client.isLeader`) || !browsertest.Eval[bool](p2, `T.client.isLeader`) {
		t.Fatal("each player's only tab must lead its own connection")
	}
	p1.Run(`T.client.publish('/dm', {text: 'psst'}, {to: ` + btJS(pub2) + `})`)
	btWaitN(t, p2, "/dm", 1)
	ev := btData(t, p2, "/dm")[0]
	if ev["text"] != "psst" || ev["p_from"] != pub1 || ev["p_to"] != pub2 {
		t.Fatalf("unicast event %v", ev)
	}
	p1.Run(`T.client.publish('/dm', {text: 'back'}, {to: ` + btJS(pub1) + `})`)
	btWaitN(t, p1, "/dm", 1)
	if n := browsertest.Eval[int](p2, `T.data.length`); n != 1 {
		t.Errorf("player2 got %d events; want only the one sent to it", n)
	}
}

// TestBrowserBeaconLeave: closing the page sends leave with sendBeacon, and
// the server ends the session at once (not by expiry).
func TestBrowserBeaconLeave(t *testing.T) {
	b := browsertest.Start(t)
	for _, tr := range []string{"stream", "long-poll"} {
		t.Run(tr, func(t *testing.T) {
			bs := newBTServer(t, Config{})
			reason := make(chan string, 1)
			bs.hub.OnSessionEvent(func(ev SessionEvent) {
				if ev.Kind == SessionLeft {
					reason <- ev.Reason
				}
			})
			// The long-poll case also runs the client unshared (no leader
			// election): the last tab out is then simply the only one.
			p := b.NewPage(t, bs.clientURL(btOptions(tr, "shared", tr == "stream")))
			pub := btConnect(t, p)
			p.Close()
			select {
			case r := <-reason:
				if r != ReasonLeave {
					t.Fatalf("session ended by %q; want %q", r, ReasonLeave)
				}
			case <-time.After(btWait):
				t.Fatal("closing the page did not end the session")
			}
			if bs.hub.SessionByPublicID(pub) != nil {
				t.Fatal("session still registered")
			}
		})
	}
}

// TestBrowserSessionLost: when the server forgets the session (HTTP 400),
// the client joins a new one, subscribes again and tells the application.
func TestBrowserSessionLost(t *testing.T) {
	b := browsertest.Start(t)
	for _, tr := range []string{"stream", "sse", "long-poll", "iframe"} {
		t.Run(tr, func(t *testing.T) {
			bs := newBTServer(t, Config{})
			p := b.NewPage(t, bs.clientURL(btOptions(tr)))
			pub := btConnect(t, p)
			p.Run(`T.client.subscribe('/x', 'lbl')`)
			bs.hub.SessionByPublicID(pub).Close()
			p.WaitFor("a new session", `T.sessions.length === 2 && T.connected()`, btWait)
			sess := browsertest.Eval[[]map[string]any](p, `T.sessions`)
			pub2, _ := sess[1]["publicId"].(string)
			if pub2 == "" || pub2 == pub || sess[1]["previous"] != pub {
				t.Fatalf("session events %v; want a new id with previous %q", sess, pub)
			}
			if bs.hub.NumSessions() != 1 || bs.hub.SessionByPublicID(pub2) == nil {
				t.Fatalf("server sessions: %d; want only %q", bs.hub.NumSessions(), pub2)
			}
			bs.hub.Publish("/x", "after", "rejoin")
			btWaitN(t, p, "/x", 1)
			if ev := btData(t, p, "/x")[0]; ev["after"] != "rejoin" || ev["p_seq"] != "1" {
				t.Fatalf("event on the new session: %v", ev)
			}
		})
	}
}

// btProxy relays TCP connections to the server; cut closes them all and
// refuses new ones until restore, like a network outage.
type btProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newBTProxy(t *testing.T, target string) *btProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &btProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *btProxy) addr() string { return p.ln.Addr().String() }

func (p *btProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		relay := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go relay(up, c)
		go relay(c, up)
	}
}

// cut closes every relayed connection and refuses new ones.
func (p *btProxy) cut() {
	p.mu.Lock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *btProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestBrowserAcknowledges: the client library acknowledges what its data
// channel delivered, so the server lets go of it: with its next request
// (p_ack on a publish), and on a channel that no request follows, at once
// past 64 events (or 5 s after the first, which this test does not wait
// for).
func TestBrowserAcknowledges(t *testing.T) {
	b := browsertest.Start(t)
	bs := newBTServer(t, Config{})
	p := b.NewPage(t, bs.clientURL(btOptions("stream")))
	pub := btConnect(t, p)
	s := bs.hub.SessionByPublicID(pub)
	p.Run(`T.client.subscribe('/r')`)
	btEventually(t, "the subscription", func() bool { return len(s.Info().Subjects) == 1 })
	for i := 1; i <= 5; i++ {
		bs.hub.Publish("/r", "i", strconv.Itoa(i))
	}
	btWaitN(t, p, "/r", 5)
	if n, _ := held(s); n == 0 {
		t.Fatal("the session holds nothing before the client acknowledged anything")
	}
	p.Run(`T.client.publish('/elsewhere', {k: 1})`) // a request of the session: it carries p_ack
	btEventually(t, "the publish's acknowledgement to let the events go", func() bool { n, _ := held(s); return n == 0 })

	for i := 6; i <= 75; i++ {
		bs.hub.Publish("/r", "i", strconv.Itoa(i))
	}
	btWaitN(t, p, "/r", 75)
	btEventually(t, "the client to acknowledge past 64 events", func() bool { n, _ := held(s); return n < 64 })
}
