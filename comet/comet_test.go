package comet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/testkit"
)

// tricky is a value that breaks Pushlet 2.0.4's xml and js writers.
const tricky = "a\"b'c<d>&e\\f\nline2</script><!-- \u2028 wörld 😀"

// TestModesAndFormats delivers a published event in every mode × format and
// checks the value survives the trip byte for byte.
func TestModesAndFormats(t *testing.T) {
	th := newTestHub(t, Config{PullWaitMin: 0, PullWaitMax: 0, PollWaitMin: 0, PollWaitMax: 1})
	for _, f := range []Format{FormatJS, FormatXML, FormatXMLStrict, FormatJSON, FormatSSE} {
		for _, m := range []Mode{ModeStream, ModePull, ModePoll} {
			if f == FormatSSE && m != ModeStream {
				continue // EventSource always streams
			}
			t.Run(f.String()+"/"+m.String(), func(t *testing.T) {
				id := th.join(f)
				subject := "/mf/" + f.String() + "/" + m.String()
				var got wireEvent
				if m == ModeStream {
					s := th.openStream(f, testkit.Query("p_event", "listen", "p_id", id, "p_subject", subject))
					evs := s.next(2, 5*time.Second)
					if names(evs)[0] != "listen-ack" || names(evs)[1] != "hb" {
						t.Fatalf("stream start: %v", names(evs))
					}
					th.hub.Publish(subject, "v", tricky, "n", "1")
					got = s.next(1, 5*time.Second)[0]
				} else {
					cf := f
					if f == FormatSSE {
						cf = FormatJSON
					}
					evs := th.do(cf, testkit.Query("p_event", "listen", "p_id", id, "p_mode", m.String(), "p_subject", subject))
					if names(evs)[0] != "listen-ack" || evs[0]["p_mode"] != m.String() {
						t.Fatalf("listen: %v", evs)
					}
					th.hub.Publish(subject, "v", tricky, "n", "1")
					evs = th.do(cf, testkit.Query("p_event", "refresh", "p_id", id))
					if len(evs) != 3 || names(evs)[0] != "refresh-ack" || names(evs)[2] != "refresh" {
						t.Fatalf("refresh: %s", fmtEvents(evs))
					}
					got = evs[1]
				}
				if got.name() != "data" || got["v"] != tricky || got["p_subject"] != subject || got["p_seq"] != "1" {
					t.Fatalf("data = %q; want v=%q", got, tricky)
				}
				if f == FormatSSE && got["sse_id"] != "1" {
					t.Errorf("sse id = %q; want 1", got["sse_id"])
				}
			})
		}
	}
}

// TestJSNeverBreaksOutOfScript checks the js writer against the classic
// injection: a value closing the script element.
func TestJSNeverBreaksOutOfScript(t *testing.T) {
	b := appendEvent(nil, FormatJS, NewEvent("data", "x'y", "</script><script>alert(1)</script>", "u", "\u2028\u2029"), nil)
	s := string(b)
	if strings.Count(s, "</script>") != 1 || strings.Contains(s, "<script>alert") || strings.ContainsAny(s, "\u2028\u2029\n") {
		t.Fatalf("js event not contained: %q", s)
	}
}

// TestControlWhileListenParked: a control request on a second connection is
// answered while the listen is parked (the refresh has no answer yet when
// the hb-ack comes: it did not wait for the listen to end), and a publish
// wakes it.
func TestControlWhileListenParked(t *testing.T) {
	th := newTestHub(t, Config{Heartbeat: 10 * time.Second})
	id := th.join(FormatXMLStrict)
	th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull", "p_subject", "/c"))
	done := make(chan []wireEvent, 1)
	go func() {
		_, _, body := th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "refresh", "p_id", id))
		done <- parseEvents(t, FormatXMLStrict, body)
	}()
	testkit.EventuallyWithin(t, testkit.Timeout, "refresh parked", func() bool { return th.hub.Session(id).Listening() })
	if evs := th.do(FormatXMLStrict, testkit.Query("p_event", "hb", "p_id", id)); names(evs)[0] != "hb-ack" {
		t.Fatal(evs)
	}
	select {
	case evs := <-done:
		t.Fatalf("parked refresh answered early: %v", evs)
	default:
	}
	th.do(FormatXMLStrict, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/c", "k", "v"))
	select {
	case evs := <-done:
		if len(evs) != 3 || evs[1]["k"] != "v" {
			t.Fatalf("woken refresh: %v", evs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publish did not wake the parked refresh")
	}
}

// TestLeaveEndsParkedListen: leave wakes the session's parked listen at once
// (Pushlet waits up to 20 s): well before the heartbeat, the only other
// thing that would end it.
func TestLeaveEndsParkedListen(t *testing.T) {
	const heartbeat = 20 * time.Second
	th := newTestHub(t, Config{Heartbeat: heartbeat})
	t.Run("stream", func(t *testing.T) {
		id := th.join(FormatXMLStrict)
		s := th.openStream(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id))
		s.next(2, 5*time.Second)
		start := time.Now()
		th.do(FormatXMLStrict, testkit.Query("p_event", "leave", "p_id", id))
		rest := s.readToEnd(heartbeat / 2)
		if el := time.Since(start); el >= heartbeat/2 {
			t.Errorf("stream ended %v after leave; want it at once, long before the heartbeat (%v)", el, heartbeat)
		}
		if !strings.HasSuffix(rest, "</pushlet>") {
			t.Errorf("stream should close its document: %q", rest)
		}
	})
	t.Run("pull", func(t *testing.T) {
		id := th.join(FormatXMLStrict)
		th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull"))
		done := make(chan string, 1)
		go func() {
			_, _, body := th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "refresh", "p_id", id))
			done <- body
		}()
		testkit.EventuallyWithin(t, testkit.Timeout, "refresh parked", func() bool { return th.hub.Session(id).Listening() })
		start := time.Now()
		th.do(FormatXMLStrict, testkit.Query("p_event", "leave", "p_id", id))
		select {
		case body := <-done:
			if el := time.Since(start); el >= heartbeat/2 {
				t.Errorf("refresh ended %v after leave; want it at once, long before the heartbeat (%v)", el, heartbeat)
			}
			// No refresh event: the client must not come back with a dead id.
			if evs := parseEvents(t, FormatXMLStrict, body); strings.Join(names(evs), ",") != "refresh-ack" {
				t.Errorf("ended refresh: %v", names(evs))
			}
		case <-time.After(heartbeat / 2):
			t.Fatal("parked refresh not ended by leave")
		}
	})
}

// TestResumeAcrossKilledConnection: events published while a stream is
// dead are delivered exactly once after a resume with p_last.
func TestResumeAcrossKilledConnection(t *testing.T) {
	th := newTestHub(t, Config{})
	for _, f := range []Format{FormatJSON, FormatXMLStrict, FormatSSE} {
		t.Run(f.String(), func(t *testing.T) {
			id := th.join(f)
			subj := "/resume/" + f.String()
			s := th.openStream(f, testkit.Query("p_event", "listen", "p_id", id, "p_subject", subj))
			s.next(2, 5*time.Second)
			for i := 1; i <= 5; i++ {
				th.hub.Publish(subj, "i", strconv.Itoa(i))
			}
			evs := s.next(5, 5*time.Second)
			last := evs[1]["p_seq"] // the client saw 1 and 2 ... and then its connection dies
			s.conn.Close()
			testkit.EventuallyWithin(t, testkit.Timeout, "listener detached", func() bool { return !th.hub.Session(id).Listening() })
			for i := 6; i <= 10; i++ {
				th.hub.Publish(subj, "i", strconv.Itoa(i))
			}
			var s2 *stream
			if f == FormatSSE {
				s2 = th.openStream(f, testkit.Query("p_event", "listen", "p_id", id, "p_format", "sse"), "Last-Event-ID: "+last+"\r\n")
			} else {
				s2 = th.openStream(f, testkit.Query("p_event", "listen", "p_id", id, "p_last", last))
			}
			evs = s2.next(2+8, 5*time.Second)
			var got []string
			for _, e := range evs[2:] {
				got = append(got, e["i"])
			}
			if strings.Join(got, ",") != "3,4,5,6,7,8,9,10" {
				t.Fatalf("after resume got %v; want 3..10 exactly once", got)
			}
		})
	}
}

// TestGapEvent: a client further behind than the window is told what it
// lost before anything newer.
func TestGapEvent(t *testing.T) {
	th := newTestHub(t, Config{Window: 4})
	id := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/g"))
	for i := 1; i <= 10; i++ {
		th.hub.Publish("/g", "i", strconv.Itoa(i))
	}
	s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_last", "0"))
	evs := s.next(2+1+4, 5*time.Second)
	gap := evs[2]
	if gap.name() != "gap" || gap["p_gap_from"] != "1" || gap["p_gap_to"] != "6" || gap["p_seq"] != "6" {
		t.Fatalf("gap = %v", gap)
	}
	for k, e := range evs[3:] {
		if e["i"] != strconv.Itoa(7+k) {
			t.Fatalf("after gap: %v", evs[3:])
		}
	}
}

// TestBadInputKeepsSessionUsable: every protocol error is a nack with a
// reason, and the session still works afterwards.
func TestBadInputKeepsSessionUsable(t *testing.T) {
	th := newTestHub(t, Config{MaxFields: 4, MaxEventBytes: 1024, MaxSubscriptions: 2})
	id := th.join(FormatJSON)
	for _, c := range []struct {
		query, reason string
	}{
		{testkit.Query("p_event", "nosuch", "p_id", id), "unknown event: nosuch"},
		{testkit.Query("p_event", "publish", "p_id", id), "no subject provided"},
		{testkit.Query("p_event", "publish", "p_id", id, "p_subject", strings.Repeat("/x", 200)), "invalid subject"},
		{testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/a", "v", strings.Repeat("x", 2000)), "event too large"},
		{testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/a", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), "event too large"},
		{testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/a", "bad name", "1"), "invalid field name: bad name"},
		{testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/a", "<x", "1"), "invalid field name: <x"},
		{testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a", "p_label", strings.Repeat("l", 200)), "label too long"},
		{testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a\x01"), "invalid subject"},
		{testkit.Query("p_event", "listen", "p_id", id, "p_mode", "turbo"), "unsupported mode: turbo"},
		{testkit.Query("p_event", "listen", "p_id", id, "p_format", "ser"), "unsupported format: ser"},
		{testkit.Query("p_event", "listen", "p_id", id, "p_last", "x"), "invalid p_last"},
	} {
		evs := th.do(FormatJSON, c.query)
		if len(evs) != 1 || evs[0].name() != "nack" || evs[0]["p_reason"] != c.reason || evs[0]["p_id"] != id {
			t.Errorf("?%.80s = %v; want nack %q", c.query, evs, c.reason)
		}
	}
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/s1"))
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/s2"))
	if evs := th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/s3")); evs[0]["p_reason"] != "too many subscriptions" {
		t.Errorf("subscription cap: %v", evs)
	}
	// Still usable.
	if evs := th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/s1", "ok", "1")); evs[0].name() != "publish-ack" {
		t.Fatalf("session unusable after errors: %v", evs)
	}
	// Unsupported methods.
	req, _ := http.NewRequest("DELETE", th.base+"/pushlet/pushlet.srv?p_event=hb&p_id="+id, nil)
	resp, err := th.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("DELETE = %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestPublishDoesNotForgeControlFields: client fields named p_* are dropped.
func TestPublishDoesNotForgeControlFields(t *testing.T) {
	th := newTestHub(t, Config{})
	a, b := th.join(FormatJSON), th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", b, "p_mode", "poll", "p_subject", "/f"))
	th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", a, "p_subject", "/f", "p_seq", "999", "p_sid", "x", "p_from", "admin", "msg", "hi"))
	evs := th.do(FormatJSON, testkit.Query("p_event", "refresh", "p_id", b))
	d := evs[1]
	if d["p_seq"] != "1" || d["p_from"] != th.hub.Session(a).PublicID() || d["p_sid"] == "x" || d["msg"] != "hi" {
		t.Fatalf("forged fields got through: %v", d)
	}
}

// TestUnicastByPublicID: p_to takes the public id other clients see.
func TestUnicastByPublicID(t *testing.T) {
	th := newTestHub(t, Config{})
	a, b := th.join(FormatJSON), th.join(FormatJSON)
	pubB := th.hub.Session(b).PublicID()
	th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", b, "p_mode", "poll"))
	th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", a, "p_subject", "/dm", "p_to", pubB, "m", "psst"))
	th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", a, "p_subject", "/dm", "p_to", "nobody", "m", "lost"))
	evs := th.do(FormatJSON, testkit.Query("p_event", "refresh", "p_id", b))
	if len(evs) != 3 || evs[1]["m"] != "psst" || evs[1]["p_to"] != pubB || evs[1]["p_sid"] != "" {
		t.Fatalf("unicast: %v", evs)
	}
}

func TestSubjectMatching(t *testing.T) {
	th := newTestHub(t, Config{})
	cases := []struct {
		sub     string
		match   []string
		noMatch []string
	}{
		{"/a", []string{"/a", "/a/b", "/a/b/c"}, []string{"/ab", "/b", "a"}},
		{"/a/", []string{"/a/b", "/a/b/c"}, []string{"/a", "/ab"}},
		{"/", []string{"/a", "/x/y", "/"}, []string{"x"}},
		{"/a,/b/c", []string{"/a/x", "/b/c", "/b/c/d"}, []string{"/b", "/c"}},
		{"/stocks/aex", []string{"/stocks/aex"}, []string{"/stocks", "/stocks/aexx"}},
	}
	for _, c := range cases {
		id := th.join(FormatJSON)
		s := th.hub.Session(id)
		if _, err := s.Subscribe(c.sub, ""); err != nil {
			t.Fatal(err)
		}
		for _, p := range c.match {
			before := s.Seq()
			th.hub.Publish(p)
			if s.Seq() != before+1 {
				t.Errorf("subscription %q should receive %q", c.sub, p)
			}
		}
		for _, p := range c.noMatch {
			before := s.Seq()
			if validSubject(p) {
				th.hub.Publish(p)
			}
			if s.Seq() != before {
				t.Errorf("subscription %q should not receive %q", c.sub, p)
			}
		}
		s.Close()
	}
}

// TestMulticastOncePerSession: overlapping subscriptions deliver once, with
// the first matching subscription's sid.
func TestMulticastOncePerSession(t *testing.T) {
	th := newTestHub(t, Config{})
	s := th.hub.Session(th.join(FormatJSON))
	s.Subscribe("/a", "outer")
	s.Subscribe("/a/b", "inner")
	s.Subscribe("/a/b", "inner2")
	th.hub.Publish("/a/b/c", "k", "v")
	if s.Seq() != 1 {
		t.Fatalf("delivered %d times; want once", s.Seq())
	}
	other := th.hub.Session(th.join(FormatJSON))
	other.Subscribe("/a/b", "")
	th.hub.Publish("/a/b")
	if s.Seq() != 2 || other.Seq() != 1 {
		t.Fatalf("seqs %d, %d", s.Seq(), other.Seq())
	}
}

// TestLeaseAndRefreshTimeouts: sessions expire without requests; a pull
// client that does not refresh in time is stopped; an open stream keeps its
// session alive past the lease.
func TestLeaseAndRefreshTimeouts(t *testing.T) {
	th := newTestHub(t, Config{SessionTimeout: 300 * time.Millisecond, PullRefreshTimeout: 200 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
		PullWaitMin: 50, PullWaitMax: 100})
	var mu sync.Mutex
	reasons := map[string]string{}
	th.hub.OnSessionEvent(func(ev SessionEvent) {
		if ev.Kind == SessionLeft {
			mu.Lock()
			reasons[ev.Session.ID()] = ev.Reason
			mu.Unlock()
		}
	})
	reason := func(id string) string { mu.Lock(); defer mu.Unlock(); return reasons[id] }

	idle := th.join(FormatJSON)
	pull := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", pull, "p_mode", "pull"))
	streamer := th.join(FormatJSON)
	s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", streamer))
	s.next(2, time.Second)

	testkit.EventuallyWithin(t, testkit.Timeout, "idle session expired", func() bool { return reason(idle) == ReasonExpired })
	testkit.EventuallyWithin(t, testkit.Timeout, "pull session timed out", func() bool { return reason(pull) == ReasonRefreshTimeout })
	if st, _, _ := th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "hb", "p_id", idle)); st != 400 {
		t.Errorf("expired id answered %d; want 400", st)
	}
	// The stream has been open longer than the lease: still alive, getting hbs.
	s.next(2, 2*time.Second)
	if th.hub.Session(streamer) == nil {
		t.Fatal("an open stream did not keep its session alive")
	}
}

// TestShutdownAbortsListeners: every listener gets abort, then its response ends.
func TestShutdownAbortsListeners(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatXMLStrict)
	s := th.openStream(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id))
	s.next(2, time.Second)
	pullID := th.join(FormatXMLStrict)
	th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", pullID, "p_mode", "pull"))
	done := make(chan string, 1)
	go func() {
		resp, err := th.hc.Get(th.base + "/pushlet/pushlet.srv?" + testkit.Query("p_event", "refresh", "p_id", pullID))
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		done <- string(b[:n])
	}()
	testkit.EventuallyWithin(t, testkit.Timeout, "refresh parked", func() bool { return th.hub.Session(pullID).Listening() })
	go th.srv.Shutdown(t.Context())
	evs := s.next(1, 5*time.Second)
	if evs[0].name() != "abort" {
		t.Fatalf("stream got %v; want abort", evs)
	}
	if rest := s.readToEnd(5 * time.Second); rest != "</pushlet>" {
		t.Errorf("after abort: %q", rest)
	}
	body := <-done
	if evs := parseEvents(t, FormatXMLStrict, body); strings.Join(names(evs), ",") != "refresh-ack,abort" {
		t.Errorf("parked refresh at shutdown: %q", body)
	}
}

func TestCrossOrigin(t *testing.T) {
	th := newTestHub(t, Config{AllowedOrigins: []string{"https://game.example"}})
	do := func(method, origin string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, th.base+"/comet?p_event=join&p_format=json", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := th.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", ""); r.StatusCode != 200 {
		t.Errorf("no Origin: %d", r.StatusCode)
	}
	if r := do("GET", th.base); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same origin: %d %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := do("GET", "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("foreign origin: %d; want 403", r.StatusCode)
	}
	if r := do("GET", "https://game.example"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://game.example" {
		t.Errorf("allowed origin: %d %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	r := do("OPTIONS", "https://game.example", "Access-Control-Request-Method", "POST")
	if r.StatusCode != 204 || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
		t.Errorf("preflight: %d %v", r.StatusCode, r.Header)
	}
	// Default: same origin only.
	th2 := newTestHub(t, Config{})
	req, _ := http.NewRequest("GET", th2.base+"/comet?p_event=join", nil)
	req.Header.Set("Origin", "https://game.example")
	resp, err := th2.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("default policy let a foreign origin in: %d", resp.StatusCode)
	}
}

type claimRecorder struct {
	mu  sync.Mutex
	got []Publish
	err error
}

func (c *claimRecorder) HandlePublish(p Publish) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.got = append(c.got, p)
	return nil
}

// TestClaim: publishes under a claimed prefix reach the Go handler instead
// of subscribers; its error is the publisher's nack.
func TestClaim(t *testing.T) {
	th := newTestHub(t, Config{})
	rec := &claimRecorder{}
	if err := th.hub.Claim("/room", rec); err != nil {
		t.Fatal(err)
	}
	if err := th.hub.Claim("/room", rec); err == nil {
		t.Fatal("double claim accepted")
	}
	id := th.join(FormatJSON)
	spy := th.hub.Session(th.join(FormatJSON))
	spy.Subscribe("/room", "")
	evs := th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/room/42", "type", "move", "data", `{"cell":4}`))
	if evs[0].name() != "publish-ack" {
		t.Fatal(evs)
	}
	rec.mu.Lock()
	if len(rec.got) != 1 || rec.got[0].Subject != "/room/42" || rec.got[0].Get("data") != `{"cell":4}` || rec.got[0].Session.ID() != id {
		t.Fatalf("claim got %+v", rec.got)
	}
	rec.err = errors.New("room busy")
	rec.mu.Unlock()
	evs = th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/room/42", "type", "move"))
	if evs[0].name() != "nack" || evs[0]["p_reason"] != "room busy" {
		t.Fatalf("claim error: %v", evs)
	}
	if spy.Seq() != 0 {
		t.Fatal("a claimed publish reached subscribers")
	}
	// Outside the prefix (segment boundary): ordinary multicast.
	th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/roomy", "k", "v"))
}

// TestManyStreamListeners: 5,000 concurrent stream listeners, one event to
// all of them, and the goroutine count does not grow with them.
func TestManyStreamListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 5,000 connections")
	}
	const n = 5000
	th := newTestHub(t, Config{}, engine.Config{MaxConnsPerAddr: -1}) // every client is 127.0.0.1
	runtime.GC()
	base := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		s.Subscribe("/all", "")
		c, err := net.Dial("tcp", th.srv.Addr())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		fmt.Fprintf(c, "GET /comet?p_event=listen&p_id=%s HTTP/1.1\r\nHost: x\r\n\r\n", s.ID())
		conns = append(conns, c)
		readers = append(readers, bufio.NewReaderSize(c, 1024))
	}
	testkit.EventuallyWithin(t, 30*time.Second, "all listening", func() bool { return th.hub.Stats().StreamListeners == n })
	if g := runtime.NumGoroutine(); g > base+20 {
		t.Fatalf("goroutines grew from %d to %d with %d listeners", base, g, n)
	}
	th.hub.Publish("/all", "msg", "to everyone")
	for i, br := range readers {
		conns[i].SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("listener %d: %v", i, err)
			}
			if strings.Contains(line, `"to everyone"`) {
				break
			}
		}
	}
	if g := runtime.NumGoroutine(); g > base+20 {
		t.Fatalf("goroutines grew from %d to %d after fan-out", base, g)
	}
}

// TestSessionEvents: the Go API sees joins, stream attach/detach and ends.
func TestSessionEvents(t *testing.T) {
	th := newTestHub(t, Config{})
	evs := make(chan SessionEvent, 16)
	th.hub.OnSessionEvent(func(e SessionEvent) { evs <- e })
	id := th.join(FormatJSON)
	expect := func(k SessionEventKind) SessionEvent {
		t.Helper()
		select {
		case e := <-evs:
			if e.Kind != k || e.Session.ID() != id {
				t.Fatalf("event %+v; want kind %d", e, k)
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %d", k)
		}
		return SessionEvent{}
	}
	expect(SessionJoined)
	s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id))
	s.next(2, time.Second)
	expect(SessionAttached)
	s.conn.Close()
	expect(SessionDetached)
	th.do(FormatJSON, testkit.Query("p_event", "leave", "p_id", id))
	if e := expect(SessionLeft); e.Reason != ReasonLeave {
		t.Fatalf("reason %q", e.Reason)
	}
}

// TestPublishRateLimit: a session publishing faster than its bucket allows
// is told to slow down, and may publish again once the bucket refills.
func TestPublishRateLimit(t *testing.T) {
	th := newTestHub(t, Config{PublishRate: 10, PublishBurst: 3})
	id := th.join(FormatJSON)
	pub := func() wireEvent {
		return th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/r", "k", "v"))[0]
	}
	for i := 0; i < 3; i++ {
		if e := pub(); e.name() != "publish-ack" {
			t.Fatalf("publish %d within the burst: %v", i, e)
		}
	}
	if e := pub(); e.name() != "nack" || e["p_reason"] != "rate limited: slow down" {
		t.Fatalf("publish over the burst: %v", e)
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "bucket refilled", func() bool { return pub().name() == "publish-ack" })
	// Other requests are not limited.
	if e := th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id))[0]; e.name() != "hb-ack" {
		t.Fatalf("hb: %v", e)
	}
}

// TestSessionsPerAddrCap: one address cannot hold more than its share of
// sessions; ending one frees a place.
func TestSessionsPerAddrCap(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: 3})
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, th.join(FormatJSON))
	}
	st, _, body := th.get("/comet", "p_event=join&p_format=json")
	if st != http.StatusServiceUnavailable || !strings.Contains(body, "too many sessions from this address") {
		t.Fatalf("4th join from one address = %d %q; want 503", st, body)
	}
	// Sessions made from Go have no address and are not counted.
	if _, err := th.hub.Join(FormatJSON); err != nil {
		t.Fatal(err)
	}
	th.do(FormatJSON, testkit.Query("p_event", "leave", "p_id", ids[0]))
	if id := th.join(FormatJSON); id == "" {
		t.Fatal("join after a leave refused")
	}
}

// TestSessionsPerAddrBehindATrustedProxy: behind a load balancer whose
// X-Forwarded-For is trusted (engine.Config.TrustedProxies), sessions count
// against the address it forwarded, not against the balancer's; without
// that trust the header changes nothing, and every client behind the
// balancer is one address.
func TestSessionsPerAddrBehindATrustedProxy(t *testing.T) {
	join := func(th *testHub, client string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", th.base+"/comet?p_event=join&p_format=json", nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := th.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	trusting := newTestHub(t, Config{MaxSessionsPerAddr: 2}, engine.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for _, client := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"} {
		if st, body := join(trusting, client); st != http.StatusOK {
			t.Fatalf("join forwarded for %s = %d %q; want 200", client, st, body)
		}
	}
	if st, body := join(trusting, "203.0.113.1"); st != http.StatusServiceUnavailable || !strings.Contains(body, "too many sessions from this address") {
		t.Fatalf("3rd join forwarded for one client = %d %q; want 503", st, body)
	}
	if st, body := join(trusting, "192.0.2.9, 203.0.113.3"); st != http.StatusOK {
		t.Fatalf("join for a third client = %d %q; want 200", st, body)
	}
	for _, s := range trusting.hub.Sessions() {
		if a := s.RemoteAddr(); a != "203.0.113.1" && a != "203.0.113.2" && a != "203.0.113.3" {
			t.Errorf("session of %q; want one of the forwarded clients", a)
		}
	}

	plain := newTestHub(t, Config{MaxSessionsPerAddr: 2})
	join(plain, "203.0.113.1")
	join(plain, "203.0.113.2")
	if st, _ := join(plain, "203.0.113.3"); st != http.StatusServiceUnavailable {
		t.Fatalf("3rd join through an untrusted peer = %d; want 503 (X-Forwarded-For ignored)", st)
	}
}

// TestResumeTakesTheLaterPoint: an EventSource whose URL carries an old
// p_last reconnects by itself with a newer Last-Event-ID; the later wins.
func TestResumeTakesTheLaterPoint(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/l"))
	for i := 1; i <= 6; i++ {
		th.hub.Publish("/l", "i", strconv.Itoa(i))
	}
	s := th.openStream(FormatSSE, testkit.Query("p_event", "listen", "p_id", id, "p_format", "sse", "p_last", "2"), "Last-Event-ID: 4\r\n")
	evs := s.next(2+2, 5*time.Second)
	if evs[2]["i"] != "5" || evs[3]["i"] != "6" {
		t.Fatalf("resumed with %v; want 5 and 6", evs[2:])
	}
}

// TestSubscriptionListsAndRemoval: repeated parts of a list count once, and
// removing subscriptions in any order leaves the others intact.
func TestSubscriptionListsAndRemoval(t *testing.T) {
	th := newTestHub(t, Config{})
	var ss []*Session
	var sids []string
	for i := 0; i < 6; i++ {
		s := th.hub.Session(th.join(FormatJSON))
		sid, err := s.Subscribe("/x,/x,/x/y,/z/", "")
		if err != nil {
			t.Fatal(err)
		}
		ss, sids = append(ss, s), append(sids, sid)
	}
	th.hub.Publish("/x/y")
	for _, s := range ss {
		if s.Seq() != 1 {
			t.Fatalf("a list with repeated parts delivered %d times", s.Seq())
		}
	}
	// Remove every other subscription; the rest still receive, the removed don't.
	for i := 0; i < len(ss); i += 2 {
		ss[i].Unsubscribe(sids[i])
	}
	th.hub.Publish("/z/w")
	th.hub.Publish("/x")
	for i, s := range ss {
		want := uint64(3)
		if i%2 == 0 {
			want = 1
		}
		if s.Seq() != want {
			t.Errorf("session %d: seq %d; want %d", i, s.Seq(), want)
		}
	}
}

// TestLargeBacklogPaced: a stream resuming a backlog far larger than its
// connection's outbound cap gets it in slices, every event once, in order,
// instead of being closed as a slow reader.
func TestLargeBacklogPaced(t *testing.T) {
	th := newTestHub(t, Config{MaxEventBytes: 32 << 10, SessionHistoryBytes: 8 << 20}, engine.Config{MaxOutbound: 64 << 10})
	id := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/big"))
	big := strings.Repeat("x", 15<<10)
	const n = 256 // 3.8 MB: 60 times the cap, more than the kernel's buffers hold
	for i := 1; i <= n; i++ {
		th.hub.Publish("/big", "i", strconv.Itoa(i), "pad", big)
	}
	// A small receive window, so that the server's writes really wait for
	// the reader.
	c := testkit.DialSmallRcvbuf(t, th.srv.Addr(), 16<<10)
	s := th.openStreamOn(c.C, FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_last", "0"))
	evs := s.next(2+n, 30*time.Second)
	for k, e := range evs[2:] {
		if e.name() != "data" || e["i"] != strconv.Itoa(k+1) {
			t.Fatalf("event %d = %s %q; want data %d", k, e.name(), e["i"], k+1)
		}
	}
	if st := th.srv.Stats(); st.SlowClosed != 0 {
		t.Fatalf("the resuming stream was closed as a slow reader %d times", st.SlowClosed)
	}
}
