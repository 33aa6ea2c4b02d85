package comet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/httpcodec"
	"github.com/cometplay/cometplay/internal/ratelimit"
	"github.com/cometplay/cometplay/internal/testkit"
)

// The hostile-client tests: what one client may cost the server (a loop's
// time, memory per connection and per session, connections per address).
// docs/SECURITY.md lists them with what each proves.

// formRequest returns a POST to /comet (with query, "" or "?…") whose body
// is the form body.
func formRequest(query, body string) string {
	return "POST /comet" + query + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// postControl sends a protocol request of a JSON session as a form POST on
// c (kept alive) and returns the one event answered.
func postControl(t testing.TB, c *testkit.Conn, kv ...string) wireEvent {
	t.Helper()
	c.Send(formRequest("", testkit.Query(kv...)))
	r := c.Next("POST")
	evs := parseEvents(t, FormatJSON, r.Text)
	if r.StatusCode != 200 || len(evs) != 1 {
		t.Fatalf("%d %q", r.StatusCode, r.Text)
	}
	return evs[0]
}

// hostileFormPost returns a form POST to /comet whose body is the largest
// allowed (httpcodec.DefaultMaxBodyBytes) made of distinct empty names.
func hostileFormPost() string {
	body := hostileForm(httpcodec.DefaultMaxBodyBytes)
	return formRequest("", body[:strings.LastIndexByte(body[:httpcodec.DefaultMaxBodyBytes], '&')+1])
}

// TestHardeningHostileParams: one client pipelines the largest allowed
// bodies of distinct parameter names to a server with a single event loop;
// each is answered 400 at the parameter cap, and another client's join on
// the same loop is answered while the hostile client still has requests
// waiting. (Before the cap, reading the parameters of one such body took
// the loop about 100 s.)
func TestHardeningHostileParams(t *testing.T) {
	th := newTestHub(t, Config{}, engine.Config{Loops: 1})
	hostile := hostileFormPost()
	total := testkit.Scale(32, 256) // requests the hostile client pipelines (1 MiB each)

	hc, err := net.Dial("tcp", th.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	stop := make(chan struct{})
	var written atomic.Int64
	writerDone := make(chan struct{})
	go func() { // the hostile writer: as fast as the server reads
		defer close(writerDone)
		for range total {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := io.WriteString(hc, hostile); err != nil {
				return
			}
			written.Add(1)
		}
	}()
	var answered atomic.Int64
	var done atomic.Bool // the test is over: the reader's error is ours
	bad := make(chan string, 1)
	go func() { // the hostile reader: every answer must be the cap's 400
		br := bufio.NewReader(hc)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if !done.Load() {
					bad <- "reading answer " + strconv.Itoa(int(answered.Load())+1) + ": " + err.Error()
				}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Too many parameters (at most 64)") {
				bad <- "answer " + strconv.Itoa(int(answered.Load())+1) + ": " + resp.Status + " " + string(b)
				return
			}
			answered.Add(1)
		}
	}()

	// Once the server has the first hostile request, another client joins.
	testkit.Eventually(t, "the first hostile request to arrive", func() bool { return th.srv.Stats().Requests >= 1 })
	other := testkit.Dial(t, th.srv.Addr())
	other.Send(testkit.Req("GET", "/comet?p_event=join&p_format=json"))
	// A deadline for a stuck loop only: the answer takes a loop turn.
	other.C.SetReadDeadline(time.Now().Add(2 * engine.DefaultHeaderTimeout))
	resp, err := http.ReadResponse(other.BR, nil)
	if err != nil {
		t.Fatalf("another client's join was not answered while the hostile bodies were read: %v (hostile answers so far: %d)", err, answered.Load())
	}
	b, _ := io.ReadAll(resp.Body)
	seen := answered.Load()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "join-ack") {
		t.Fatalf("join: %s %q", resp.Status, b)
	}
	if seen >= int64(total) {
		t.Errorf("the join was answered after all %d hostile requests; want it answered while they were still pipelined", total)
	}
	t.Logf("the join was answered after %d of %d hostile requests", seen, total)
	close(stop)
	<-writerDone
	deadline := time.Now().Add(2 * engine.DefaultHeaderTimeout)
	for answered.Load() < written.Load() {
		select {
		case msg := <-bad:
			t.Fatal(msg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d hostile requests written answered", answered.Load(), written.Load())
		}
		time.Sleep(time.Millisecond)
	}
	done.Store(true)
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
}

// TestSessionsPerAddrIPv6: the sessions of an IPv6 /64 count together
// against MaxSessionsPerAddr; another /64 has its own.
func TestSessionsPerAddrIPv6(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: 3})
	for i := range 3 {
		if _, err := th.hub.newSession(FormatJSON, netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1))); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	if _, err := th.hub.newSession(FormatJSON, netip.MustParseAddr("2001:db8::ffff:1")); err != ErrTooManySessionsFromAddr {
		t.Fatalf("a fourth session from the /64: %v; want %v", err, ErrTooManySessionsFromAddr)
	}
	s, err := th.hub.newSession(FormatJSON, netip.MustParseAddr("2001:db8:0:1::1"))
	if err != nil {
		t.Fatalf("another /64: %v", err)
	}
	s.stop(ReasonLeave)
}

// TestSubscribeLimits: a comma list holds at most MaxSubjectParts
// subjects; a client's subscriptions hold at most MaxSubscribedSegments
// segments (the server's own are not counted and not refused); a client's
// subscribes and unsubscribes come out of their own token bucket, a
// repeated subscription costing nothing; each refusal is a nack with its
// reason and changes nothing.
func TestSubscribeLimits(t *testing.T) {
	th := newTestHub(t, Config{MaxSubscribedSegments: 20, SubscribeRate: 1, SubscribeBurst: 8})
	id := th.join(FormatJSON)
	s := th.hub.Session(id)
	sub := func(subject, label string) wireEvent {
		t.Helper()
		return th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", subject, "p_label", label))[0]
	}
	refill := func() { // as if a while had passed: the bucket is full again
		s.mu.Lock()
		s.ext.sub = ratelimit.Bucket{} // the zero bucket is full
		s.mu.Unlock()
	}
	list := func(n int, part string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = part + strconv.Itoa(i)
		}
		return strings.Join(parts, ",")
	}
	if ev := sub(list(MaxSubjectParts+1, "p"), ""); ev.name() != "nack" || ev["p_reason"] != "too many subjects in one list (at most 8)" {
		t.Fatalf("a list of %d: %v", MaxSubjectParts+1, ev)
	}
	if ev := sub(list(MaxSubjectParts, "p"), ""); ev.name() != "subscribe-ack" { // 8 segments
		t.Fatalf("a list of %d: %v", MaxSubjectParts, ev)
	}
	sid := sub("/a/b/c", "")["p_sid"] // 4 segments: 12
	if ev := sub("/a/b/c", ""); ev.name() != "subscribe-ack" || ev["p_sid"] != sid {
		t.Fatalf("the same subscription again: %v; want its ack with p_sid %s", ev, sid)
	}
	sub("/d/e/f", "") // 16
	if ev := sub("/g/h/i/j", ""); ev.name() != "nack" || ev["p_reason"] != "too many subject segments subscribed (at most 20)" {
		t.Fatalf("past the segments: %v", ev)
	}
	if _, err := s.Subscribe("/server/made/it/deep/down/here", ""); err != nil {
		t.Fatalf("a server subscription past the client's segments: %v", err)
	}
	if ev := sub("/g/h/i", ""); ev.name() != "subscribe-ack" { // 20
		t.Fatalf("within the segments: %v", ev)
	}
	// Four new subscriptions so far; the refused ones and the repeat took no token.
	if got := th.do(FormatJSON, testkit.Query("p_event", "unsubscribe", "p_id", id, "p_sid", sid))[0]; got.name() != "unsubscribe-ack" {
		t.Fatalf("unsubscribe: %v", got)
	}
	for _, x := range []string{"x1", "x2", "x3"} { // 1 segment each: 19; tokens 6, 7, 8 (the unsubscribe was the fifth)
		if ev := sub(x, ""); ev.name() != "subscribe-ack" {
			t.Fatalf("%s: %v", x, ev)
		}
	}
	if ev := sub("x4", ""); ev.name() != "nack" || ev["p_reason"] != "rate limited: slow down" {
		t.Fatalf("past the burst: %v", ev)
	}
	if ev := th.do(FormatJSON, testkit.Query("p_event", "unsubscribe", "p_id", id))[0]; ev.name() != "nack" || ev["p_reason"] != "rate limited: slow down" {
		t.Fatalf("unsubscribe past the burst: %v", ev)
	}
	if n := s.nsubs.Load(); n != 7 {
		t.Fatalf("%d subscriptions; want 7 (the list, /d/e/f, /g/h/i, x1, x2, x3 and the server's)", n)
	}
	refill()
	if ev := sub("x4", ""); ev.name() != "subscribe-ack" {
		t.Fatalf("after a refill: %v", ev)
	}
	if ev := th.do(FormatJSON, testkit.Query("p_event", "unsubscribe", "p_id", id))[0]; ev.name() != "unsubscribe-ack" {
		t.Fatalf("unsubscribe all: %v", ev)
	}
	s.mu.Lock()
	segs := s.ext.segs
	s.mu.Unlock()
	if segs != 0 || s.nsubs.Load() != 0 {
		t.Fatalf("after unsubscribing all: %d segments, %d subscriptions", segs, s.nsubs.Load())
	}
}

// maxSessionHeap is the documented bound of what one session and the
// subscriptions its client makes may hold in memory at the default caps
// (docs/SECURITY.md): about 180 KiB in the worst pattern measured.
const maxSessionHeap = 256 << 10

// TestHardeningSubscriptionMemory: sessions whose clients subscribe as
// expensively as the caps allow (lists of long subjects, deep subjects,
// many labels; every request padded with a parameter of 64 KiB that must
// not be kept) hold at most maxSessionHeap each. (Before the caps, 64
// subscribes of 2 KiB lists cost 18.4 MB a session.)
func TestHardeningSubscriptionMemory(t *testing.T) {
	n := testkit.Scale(24, DefaultMaxSessionsPerAddr) // sessions per pattern
	th := newTestHub(t, Config{})
	c := testkit.Dial(t, th.srv.Addr())
	rng := testkit.Rand(t)
	word := func(k int) string {
		const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, k)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	pad := strings.Repeat("z", 64<<10)
	post := func(kv ...string) wireEvent {
		t.Helper()
		return postControl(t, c, append(kv, "p_pad", pad)...)
	}
	list := func(parts int, part func() string) string {
		ps := make([]string, parts)
		for i := range ps {
			ps[i] = part()
		}
		return strings.Join(ps, ",")
	}
	patterns := []struct {
		name string
		subs func() [][2]string // subject, label
	}{
		{"lists of long subjects", func() (s [][2]string) { // 32 × 8 parts of 1 segment, 255 bytes each
			for range DefaultMaxSubscribedSegments / MaxSubjectParts {
				s = append(s, [2]string{list(MaxSubjectParts, func() string { return word(MaxSubjectLen - 1) }), word(MaxLabelLen)})
			}
			return s
		}},
		{"deep subjects", func() (s [][2]string) { // parts of 16 levels: a trie node with a map per segment
			deep := func() string { // "/w1/w2/…/w16": 17 segments, 240 bytes
				return "/" + list(MaxSubjectSegments, func() string { return word(14) })
			}
			segs := 0
			for {
				var parts []string
				for len(parts) < MaxSubjectParts {
					p := strings.ReplaceAll(deep(), ",", "/")
					if segs+strings.Count(p, "/")+1 > DefaultMaxSubscribedSegments {
						break
					}
					segs += strings.Count(p, "/") + 1
					parts = append(parts, p)
				}
				if len(parts) == 0 {
					return s
				}
				s = append(s, [2]string{strings.Join(parts, ","), word(MaxLabelLen)})
			}
		}},
		{"many labels", func() (s [][2]string) { // one list of 4 long subjects under 64 labels
			subject := list(4, func() string { return word(MaxSubjectLen) })
			for range DefaultMaxSubscriptions {
				s = append(s, [2]string{subject, word(MaxLabelLen)})
			}
			return s
		}},
	}
	var ms runtime.MemStats
	worst := int64(0)
	for _, p := range patterns {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := int64(ms.HeapAlloc)
		subs := 0
		var ids []string
		for range n {
			ev := post("p_event", "join", "p_format", "json")
			id := ev["p_id"]
			ids = append(ids, id)
			for _, sl := range p.subs() {
				if ev := post("p_event", "subscribe", "p_id", id, "p_subject", sl[0], "p_label", sl[1]); ev.name() != "subscribe-ack" {
					t.Fatalf("%s: subscribe %d: %v", p.name, subs, ev)
				}
				subs++
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		per := (int64(ms.HeapAlloc) - base) / int64(n)
		for _, id := range ids { // the next pattern's sessions come from this address too
			post("p_event", "leave", "p_id", id)
		}
		worst = max(worst, per)
		t.Logf("%s: %d sessions, %d subscriptions each: %d KiB a session", p.name, n, subs/n, per>>10)
	}
	t.Logf("worst: %d KiB a session, %d MiB for an address's %d sessions", worst>>10, worst*DefaultMaxSessionsPerAddr>>20, DefaultMaxSessionsPerAddr)
	if worst > maxSessionHeap {
		t.Errorf("a session holds %d KiB; want at most %d KiB", worst>>10, maxSessionHeap>>10)
	}
}

// TestHardeningHistoryMemory: sessions whose clients publish the largest
// events they may (each padded with a 64 KiB parameter, which the event must
// not keep alive: it shared the request's string once) to themselves, a
// whole Window of them, never listening nor acknowledging: each session
// holds at most SessionHistoryBytes of them, in slabs (a slab holds three
// of the largest events: a third more), and the hub at most HistoryBytes.
func TestHardeningHistoryMemory(t *testing.T) {
	n := testkit.Scale(8, 32)
	th := newTestHub(t, Config{PublishRate: -1})
	cfg := th.hub.Config()
	c := testkit.Dial(t, th.srv.Addr())
	pad := strings.Repeat("z", 64<<10)
	value := strings.Repeat("v", DefaultMaxEventBytes-1) // with the name "d": the largest event
	post := func(kv ...string) wireEvent {
		t.Helper()
		return postControl(t, c, kv...)
	}
	base := testkit.LiveHeap() // the heap and the slabs mapped outside it
	for i := range n {
		id := post("p_event", "join", "p_format", "json")["p_id"]
		subject := "/own/" + strconv.Itoa(i)
		post("p_event", "subscribe", "p_id", id, "p_subject", subject)
		for range cfg.Window {
			if ev := post("p_event", "publish", "p_id", id, "p_subject", subject, "d", value, "p_pad", pad); ev.name() != "publish-ack" {
				t.Fatalf("publish: %v", ev)
			}
		}
	}
	per := (testkit.LiveHeap() - base) / int64(n)
	limit := int64(cfg.SessionHistoryBytes)*4/3 + int64(cfg.Window)*16 + 64<<10
	st := th.hub.Stats()
	t.Logf("%d sessions, each sent %d events of %d bytes: %d KiB a session (the hub's history %d MiB); an address's %d sessions at most %d MiB, the hub's HistoryBytes (%d MiB)",
		n, cfg.Window, DefaultMaxEventBytes, per>>10, st.HistoryBytes>>20, DefaultMaxSessionsPerAddr, min(per*DefaultMaxSessionsPerAddr, cfg.HistoryBytes)>>20, cfg.HistoryBytes>>20)
	if per > limit {
		t.Errorf("a session holds %d KiB; want at most %d KiB (SessionHistoryBytes × 4/3, its ring, slack)", per>>10, limit>>10)
	}
	if st.HistoryBytes > cfg.HistoryBytes {
		t.Errorf("the hub holds %d bytes of history; HistoryBytes is %d", st.HistoryBytes, cfg.HistoryBytes)
	}
}
