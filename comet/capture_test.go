package comet

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
)

// The exchanges recorded from Pushlet 2.0.4 (testdata/pushlet/*.txt, copied
// from the shared protocol notes) reproduced against our server. Events are
// compared by name and field names, not ids, times, order of fields or
// values that are random. Where we deliberately differ, the expectation
// says so (see docs/PROTOCOL.md, "Differences from Pushlet 2.0.4").

// fields lists field names; every event has p_event and p_time.
func fields(extra ...string) []string {
	fs := append([]string{"p_event", "p_time"}, extra...)
	slices.Sort(fs)
	return fs
}

type wantEvent struct {
	name   string
	fields []string
}

func checkEvents(t *testing.T, what string, got []wireEvent, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %s; want %d", what, len(got), fmtEvents(got), len(want))
	}
	for i, w := range want {
		if got[i].name() != w.name || !slices.Equal(got[i].fieldNames(), w.fields) {
			t.Errorf("%s: event %d = %s%v; want %s%v", what, i, got[i].name(), got[i].fieldNames(), w.name, w.fields)
		}
	}
}

func TestCaptureJoinAndErrors(t *testing.T) {
	th := newTestHub(t, Config{})

	// 01-join.txt: xml-strict join. We add p_public (the id other clients see).
	st, h, body := th.get("/pushlet/pushlet.srv", "p_event=join&p_format=xml-strict&p_mode=pull")
	if st != 200 || h.Get("Content-Type") != "text/xml;charset=UTF-8" {
		t.Fatalf("join: %d %q", st, h.Get("Content-Type"))
	}
	for _, hk := range []string{"Expires", "Pragma"} {
		if h.Get(hk) == "" {
			t.Errorf("join: missing Pushlet header %s", hk)
		}
	}
	if got := h.Values("Cache-Control"); !slices.Equal(got, []string{"no-store, no-cache, must-revalidate", "post-check=0, pre-check=0"}) {
		t.Errorf("Cache-Control = %q", got)
	}
	if !strings.HasPrefix(body, "<pushlet><event ") || !strings.HasSuffix(body, " /></pushlet>") {
		t.Errorf("xml-strict document shape: %q", body)
	}
	checkEvents(t, "01-join", parseEvents(t, FormatXMLStrict, body),
		[]wantEvent{{"join-ack", fields("p_id", "p_format", "p_public")}})

	// 02-join-default.txt: no p_format means js.
	st, h, body = th.get("/pushlet/pushlet.srv", "p_event=join")
	if st != 200 || h.Get("Content-Type") != "text/html;charset=UTF-8" {
		t.Fatalf("js join: %d %q", st, h.Get("Content-Type"))
	}
	evs := parseEvents(t, FormatJS, body)
	checkEvents(t, "02-join-default", evs, []wantEvent{{"join-ack", fields("p_id", "p_format", "p_public")}})
	if evs[0]["p_format"] != "js" {
		t.Errorf("default format = %q; want js", evs[0]["p_format"])
	}
	if strings.HasSuffix(body, "</body></html>") {
		t.Errorf("a js control response ends without </body></html>, as Pushlet's: %q", body)
	}

	// 21-join-xml.txt: bare element, text/plain.
	st, h, body = th.get("/pushlet/pushlet.srv", "p_event=join&p_format=xml")
	if st != 200 || h.Get("Content-Type") != "text/plain;charset=UTF-8" || strings.Contains(body, "pushlet>") {
		t.Fatalf("xml join: %d %q %q", st, h.Get("Content-Type"), body)
	}

	// 03/04/05: HTTP 400 with Pushlet's messages.
	for _, c := range []struct{ query, msg string }{
		{"", "No eventType specified"},
		{"p_event=", "No eventType specified"},
		{"p_event=hb", "No id specified"},
		{"p_event=hb&p_id=", "No id specified"},
		{"p_event=hb&p_id=bogus", "Invalid or expired id: bogus"},
		{"p_event=hb&p_id=%3Cscript%3E", "Invalid or expired id: &lt;script&gt;"},
		{"p_event=join&p_format=ser", "Unsupported format: ser"},
	} {
		st, _, body := th.get("/pushlet/pushlet.srv", c.query)
		if st != http.StatusBadRequest || !strings.Contains(body, c.msg) {
			t.Errorf("GET ?%s = %d %q; want 400 with %q", c.query, st, body, c.msg)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET ?%s echoed raw markup: %q", c.query, body)
		}
	}

	// 90-join-json.txt: Pushlet answers an empty 200; json is ours.
	evs = th.do(FormatJSON, "p_event=join&p_format=json")
	checkEvents(t, "90-join-json", evs, []wantEvent{{"join-ack", fields("p_id", "p_format", "p_public")}})
}

func TestCapturePull(t *testing.T) {
	th := newTestHub(t, Config{Heartbeat: 300 * time.Millisecond})
	id := th.join(FormatXMLStrict)

	// 10-listen-pull.txt
	evs := th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull", "p_subject", "/temperature", "p_label", "lbl1"))
	checkEvents(t, "10-listen-pull", evs, []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format", "p_sid", "p_label")},
		{"refresh", fields("p_wait", "p_url")},
	})
	if evs[1]["p_url"] != "/pushlet/pushlet.srv?p_id="+id+"&p_event=refresh" {
		t.Errorf("p_url = %q", evs[1]["p_url"])
	}
	if w := evs[1]["p_wait"]; w < "2000" || len(w) != 4 || w > "6000" {
		t.Errorf("p_wait = %q; want 2000..6000", w)
	}

	// 11-refresh-pull.txt: an event from a server source. We also send the
	// subscription's p_label (Pushlet loses it).
	go func() {
		time.Sleep(50 * time.Millisecond)
		th.hub.Publish("/temperature", "number", "2", "city", "leeuwarden", "value", "9")
	}()
	evs = th.do(FormatXMLStrict, testkit.Query("p_event", "refresh", "p_id", id))
	checkEvents(t, "11-refresh-pull", evs, []wantEvent{
		{"refresh-ack", fields()},
		{"data", fields("number", "city", "value", "p_subject", "p_seq", "p_sid", "p_label")},
		{"refresh", fields("p_wait", "p_url")},
	})
	if evs[1]["p_label"] != "lbl1" || evs[1]["p_seq"] != "1" {
		t.Errorf("data = %v", evs[1])
	}

	// 50-pull-refresh-timeout.txt: nothing comes: hb after the read timeout.
	start := time.Now()
	evs = th.do(FormatXMLStrict, testkit.Query("p_event", "refresh", "p_id", id))
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("empty pull refresh returned after %v; want the heartbeat interval", el)
	}
	checkEvents(t, "50-pull-refresh-timeout", evs, []wantEvent{
		{"refresh-ack", fields()},
		{"hb", fields("p_seq")},
		{"refresh", fields("p_wait", "p_url")},
	})

	// 60-join-listen.txt
	evs = th.do(FormatXMLStrict, testkit.Query("p_event", "join-listen", "p_format", "xml-strict", "p_mode", "pull", "p_subject", "/x", "p_label", "L"))
	checkEvents(t, "60-join-listen", evs, []wantEvent{
		{"join-listen-ack", fields("p_id", "p_mode", "p_format", "p_sid", "p_label")},
		{"refresh", fields("p_wait", "p_url")},
	})
}

func TestCapturePoll(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatXMLStrict)
	pub := th.join(FormatXMLStrict)

	// 40-poll-listen.txt
	evs := th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "poll", "p_subject", "/nothing"))
	checkEvents(t, "40-poll-listen", evs, []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format", "p_sid")},
		{"refresh", fields("p_wait", "p_url")},
	})
	if w := evs[1]["p_wait"]; len(w) < 4 || (len(w) == 4 && w < "6000") || len(w) > 5 || (len(w) == 5 && w > "10000") {
		t.Errorf("poll p_wait = %q; want 6000..10000", w)
	}

	// 41-poll-refresh-empty.txt: Pushlet blocks until an event arrives; a
	// poll must answer at once, not hold the request as a pull refresh
	// does until the heartbeat.
	start := time.Now()
	evs = th.do(FormatXMLStrict, testkit.Query("p_event", "refresh", "p_id", id))
	if el := time.Since(start); el >= DefaultHeartbeat/2 {
		t.Errorf("empty poll took %v; want it at once, long before the heartbeat (%v)", el, DefaultHeartbeat)
	}
	checkEvents(t, "41-poll-refresh-empty", evs, []wantEvent{{"refresh-ack", fields()}, {"refresh", fields("p_wait", "p_url")}})

	// 42/43: a publish with escaping and UTF-8, then the poll returns it.
	evs = th.do(FormatXMLStrict, "p_event=publish&p_id="+pub+"&p_subject=/nothing/child&msg=hello%20w%C3%B6rld&x=%3Ca%26b%3E%22q%22")
	checkEvents(t, "43-publish", evs, []wantEvent{{"publish-ack", fields()}})
	_, _, body := th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "refresh", "p_id", id))
	if !strings.Contains(body, `x="&lt;a&amp;b&gt;&quot;q&quot;"`) || !strings.Contains(body, `msg="hello wörld"`) {
		t.Errorf("escaping/UTF-8 not as Pushlet's: %q", body)
	}
	evs = parseEvents(t, FormatXMLStrict, body)
	// p_from and p_id carry the publisher's PUBLIC id (Pushlet copies the
	// secret one, which would let any subscriber act as the publisher).
	checkEvents(t, "42-poll-refresh-then-publish", evs, []wantEvent{
		{"refresh-ack", fields()},
		{"data", fields("msg", "x", "p_from", "p_subject", "p_seq", "p_sid", "p_id")},
		{"refresh", fields("p_wait", "p_url")},
	})
	if evs[1]["p_from"] == pub || evs[1]["p_id"] == pub || evs[1]["p_from"] == "" {
		t.Errorf("data event leaks the publisher's secret id or lacks p_from: %v", evs[1])
	}
	if evs[1]["x"] != `<a&b>"q"` {
		t.Errorf("x round trip = %q", evs[1]["x"])
	}
}

func TestCaptureControl(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatXMLStrict)
	f := FormatXMLStrict

	// 61-control.txt
	checkEvents(t, "subscribe", th.do(f, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/stocks", "p_label", "mylabel")),
		[]wantEvent{{"subscribe-ack", fields("p_id", "p_subject", "p_sid", "p_label")}})
	checkEvents(t, "subscribe without subject", th.do(f, testkit.Query("p_event", "subscribe", "p_id", id)),
		[]wantEvent{{"nack", fields("p_id", "p_reason")}})
	checkEvents(t, "91-empty-subject", th.do(f, "p_event=subscribe&p_subject=&p_id="+id),
		[]wantEvent{{"nack", fields("p_id", "p_reason")}})
	checkEvents(t, "hb", th.do(f, testkit.Query("p_event", "hb", "p_id", id)), []wantEvent{{"hb-ack", fields()}})
	evs := th.do(f, testkit.Query("p_event", "unsubscribe", "p_id", id, "p_sid", "nosuch"))
	checkEvents(t, "unsubscribe nosuch", evs, []wantEvent{{"nack", fields("p_id", "p_reason")}})
	if evs[0]["p_reason"] != "no subscription for sid=nosuch" {
		t.Errorf("p_reason = %q", evs[0]["p_reason"])
	}
	checkEvents(t, "publish without subject", th.do(f, testkit.Query("p_event", "publish", "p_id", id)),
		[]wantEvent{{"nack", fields("p_id", "p_reason")}})
	checkEvents(t, "unicast to self", th.do(f, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/a/x", "p_to", id, "k", "v")),
		[]wantEvent{{"publish-ack", fields()}})
	// Pushlet crashes on an unknown event (truncated body, session stopped);
	// we answer nack and keep the session.
	checkEvents(t, "bogus", th.do(f, testkit.Query("p_event", "bogus", "p_id", id)), []wantEvent{{"nack", fields("p_id", "p_reason")}})
	checkEvents(t, "hb after bogus", th.do(f, testkit.Query("p_event", "hb", "p_id", id)), []wantEvent{{"hb-ack", fields()}})

	// 62-control2.txt
	id = th.join(f)
	th.do(f, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull"))
	evs = th.do(f, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a,/b", "p_label", "L"))
	sid := evs[0]["p_sid"]
	th.do(f, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/zzz", "p_to", id, "k", "v"))
	th.do(f, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/b/c", "k", "2"))
	checkEvents(t, "62 refresh", th.do(f, testkit.Query("p_event", "refresh", "p_id", id)), []wantEvent{
		{"refresh-ack", fields()},
		{"data", fields("p_from", "p_subject", "p_seq", "k", "p_id", "p_to")},
		{"data", fields("p_from", "p_subject", "p_seq", "p_sid", "p_label", "k", "p_id")},
		{"refresh", fields("p_wait", "p_url")},
	})
	evs = th.do(f, testkit.Query("p_event", "unsubscribe", "p_id", id, "p_sid", sid))
	checkEvents(t, "unsubscribe sid", evs, []wantEvent{{"unsubscribe-ack", fields("p_id", "p_sid", "p_subject", "p_label")}})
	if evs[0]["p_subject"] != "/a,/b" {
		t.Errorf("unsubscribe-ack subject = %q", evs[0]["p_subject"])
	}
	checkEvents(t, "unsubscribe all", th.do(f, testkit.Query("p_event", "unsubscribe", "p_id", id)), []wantEvent{{"unsubscribe-ack", fields("p_id")}})
	checkEvents(t, "leave", th.do(f, testkit.Query("p_event", "leave", "p_id", id)), []wantEvent{{"leave-ack", fields("p_id")}})
	if st, _, _ := th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "hb", "p_id", id)); st != 400 {
		t.Errorf("after leave: %d; want 400", st)
	}
}

func TestCapturePost(t *testing.T) {
	th := newTestHub(t, Config{})
	post := func(ct, body string) (int, string) {
		resp, err := th.hc.Post(th.base+"/pushlet/pushlet.srv", ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		if _, err := strings.NewReader("").WriteTo(b); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		n, _ := resp.Body.Read(buf)
		return resp.StatusCode, string(buf[:n])
	}
	// 70-post-join.txt: the body is one <event .../> element.
	st, body := post("text/xml", `<event p_event="join" p_format="xml-strict" />`)
	evs := parseEvents(t, FormatXMLStrict, body)
	if st != 200 || len(evs) != 1 || evs[0].name() != "join-ack" {
		t.Fatalf("POST join: %d %q", st, body)
	}
	id := evs[0]["p_id"]
	// 71-post-publish.txt, with a backslash escape and an entity.
	th.do(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "pull", "p_subject", "/p"))
	st, body = post("text/xml", `<event p_event="publish" p_id="`+id+`" p_subject="/p" msg="say \"hi\" &amp; go" />`)
	if st != 200 {
		t.Fatalf("POST publish: %d %q", st, body)
	}
	checkEvents(t, "71-post-publish", parseEvents(t, FormatXMLStrict, body), []wantEvent{{"publish-ack", fields()}})
	// A form-encoded POST (our extension).
	st, body = post("application/x-www-form-urlencoded", "p_event=publish&p_id="+id+"&p_subject=/p&msg=form+body")
	if st != 200 || !strings.Contains(body, "publish-ack") {
		t.Fatalf("form POST: %d %q", st, body)
	}
	evs = th.do(FormatXMLStrict, testkit.Query("p_event", "refresh", "p_id", id))
	if len(evs) != 4 || evs[1]["msg"] != `say "hi" & go` || evs[2]["msg"] != "form body" {
		t.Fatalf("POSTed events: %v", evs)
	}
	// A malformed body is a 400 and the session stays usable.
	for _, b := range []string{`<event p_event="publish`, `no element`, `<event p_event=publish />`} {
		if st, body := post("text/xml", b); st != 400 || !strings.Contains(body, "Malformed event body") {
			t.Errorf("POST %q = %d %q; want 400 Malformed event body", b, st, body)
		}
	}
	checkEvents(t, "hb after bad POST", th.do(FormatXMLStrict, testkit.Query("p_event", "hb", "p_id", id)), []wantEvent{{"hb-ack", fields()}})
}

func TestCaptureStreams(t *testing.T) {
	th := newTestHub(t, Config{Heartbeat: 200 * time.Millisecond})

	// 20-stream-xml.txt and 22-stream-xml-hb.txt: xml stream, hb on silence.
	id := th.join(FormatXML)
	s := th.openStream(FormatXML, testkit.Query("p_event", "listen", "p_id", id, "p_subject", "/temperature"))
	if s.hdr.Get("Content-Type") != "text/plain;charset=UTF-8" || s.hdr.Get("X-Accel-Buffering") != "no" {
		t.Errorf("stream headers: %v", s.hdr)
	}
	evs := s.next(2, 5*time.Second)
	checkEvents(t, "20 start", evs, []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format", "p_sid")},
		{"hb", fields("p_seq")},
	})
	th.hub.Publish("/temperature", "number", "3", "city", "twente", "value", "8")
	checkEvents(t, "20 data", s.next(1, 5*time.Second), []wantEvent{{"data", fields("number", "city", "value", "p_subject", "p_seq", "p_sid")}})
	start := time.Now()
	checkEvents(t, "22 hb", s.next(1, 5*time.Second), []wantEvent{{"hb", fields("p_seq")}})
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("hb after %v of silence; want the heartbeat interval", el)
	}

	// 92-stream-strict.txt: the document is opened and stays open.
	id = th.join(FormatXMLStrict)
	s = th.openStream(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id))
	c, _ := s.readChunk(5 * time.Second)
	if !strings.HasPrefix(c, "<pushlet><event ") {
		t.Errorf("first chunk %q", c)
	}
	s.buf = c
	checkEvents(t, "92", s.next(2, 5*time.Second), []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format")},
		{"hb", fields("p_seq")},
	})

	// 30-stream-js.txt: the iframe client's stream.
	id = th.join(FormatJS)
	s = th.openStream(FormatJS, testkit.Query("p_event", "listen", "p_id", id, "p_subject", "/temperature"))
	if s.hdr.Get("Content-Type") != "text/html;charset=UTF-8" {
		t.Errorf("js stream type %q", s.hdr.Get("Content-Type"))
	}
	checkEvents(t, "30 start", s.next(2, 5*time.Second), []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format", "p_sid")},
		{"hb", fields("p_seq")},
	})
	th.hub.Publish("/temperature", "number", "0", "city", "amsterdam", "value", "9")
	checkEvents(t, "30 data", s.next(1, 5*time.Second), []wantEvent{{"data", fields("number", "city", "value", "p_subject", "p_seq", "p_sid")}})
}

func TestCaptureJSPull(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatJS)
	// 31-js-forced-pull.txt (we force pull only when configured; here asked).
	st, _, body := th.get("/pushlet/pushlet.srv", testkit.Query("p_id", id, "p_event", "listen", "p_mode", "pull", "p_subject", "/temperature"))
	if st != 200 || !strings.HasSuffix(body, "</script></body></html>") {
		t.Fatalf("js pull listen: %d %q", st, body)
	}
	evs := parseEvents(t, FormatJS, body)
	checkEvents(t, "31", evs, []wantEvent{
		{"listen-ack", fields("p_id", "p_mode", "p_format", "p_sid")},
		{"refresh", fields("p_wait", "p_url")},
	})
	if evs[1]["p_url"] != "/pushlet/pushlet.srv?p_id="+id+"&p_event=refresh" {
		t.Errorf("js refresh url %q", evs[1]["p_url"])
	}
	// 32-js-pull-refresh.txt
	th.hub.Publish("/temperature", "number", "0", "city", "amsterdam", "value", "9")
	_, _, body = th.get("/pushlet/pushlet.srv", testkit.Query("p_event", "refresh", "p_id", id))
	checkEvents(t, "32", parseEvents(t, FormatJS, body), []wantEvent{
		{"refresh-ack", fields()},
		{"data", fields("number", "city", "value", "p_subject", "p_seq", "p_sid")},
		{"refresh", fields("p_wait", "p_url")},
	})
}

func TestForcePullByUserAgent(t *testing.T) {
	th := newTestHub(t, Config{ForcePullAgents: []string{"Safari"}})
	id := th.join(FormatXMLStrict)
	req, _ := http.NewRequest("GET", th.base+"/pushlet/pushlet.srv?"+testkit.Query("p_event", "listen", "p_id", id, "p_mode", "stream"), nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36")
	resp, err := th.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	evs := parseEvents(t, FormatXMLStrict, string(b[:n]))
	if evs[0]["p_mode"] != "pull" {
		t.Fatalf("mode = %q; want pull forced by User-Agent", evs[0]["p_mode"])
	}
	// Off by default.
	th2 := newTestHub(t, Config{})
	id = th2.join(FormatXMLStrict)
	s := th2.openStream(FormatXMLStrict, testkit.Query("p_event", "listen", "p_id", id), "User-Agent: Safari\r\n")
	if evs := s.next(2, 5*time.Second); evs[0]["p_mode"] != "stream" {
		t.Fatalf("mode = %q; want stream when forcing is off", evs[0]["p_mode"])
	}
}
