package cluster

import (
	"errors"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/testkit"
)

// checkSeq fails unless the events' p_seq run from first, one by one, and
// their "i" fields from i0.
func checkSeq(t *testing.T, evs []map[string]string, first uint64, i0 int) {
	t.Helper()
	for k, ev := range evs {
		if ev["p_event"] == "gap" {
			t.Fatalf("event %d is a gap: %v", k, ev)
		}
		seq, err := strconv.ParseUint(ev["p_seq"], 10, 64)
		if err != nil || seq != first+uint64(k) {
			t.Fatalf("event %d: p_seq %q, want %d (%v)", k, ev["p_seq"], first+uint64(k), ev)
		}
		if ev["i"] != strconv.Itoa(i0+k) {
			t.Fatalf("event %d: i=%q, want %d", k, ev["i"], i0+k)
		}
	}
}

func relaysOut(nodes []*testNode) (n int64) {
	for _, tn := range nodes {
		n += tn.node.Stats().RelaysOut
	}
	return n
}

// Through a balancer that picks a node per request, a session's control
// requests and its stream go to any node; the events published on its
// home node arrive in order, p_seq contiguous, through the relay.
func TestAnyNodeStream(t *testing.T) {
	nodes := startCluster(t, 3)
	lb := perRequestLB(t, nodes)
	cl := dial(t, lb)
	st, evs := cl.do("p_event=join&p_format=json")
	if st != 200 || len(evs) != 1 || evs[0]["p_event"] != "join-ack" {
		t.Fatalf("join: %d %v", st, evs)
	}
	id := evs[0]["p_id"]
	home := nodeOf(nodes, id)
	if home == nil {
		t.Fatalf("p_id %q names no node", id)
	}
	// Several control requests on the one keep-alive connection: each goes
	// to the next node, two of three are relayed home.
	for k := range 6 {
		st, evs := cl.do("p_event=subscribe&p_id=" + id + "&p_subject=/t" + strconv.Itoa(k%2))
		if st != 200 || len(evs) != 1 || evs[0]["p_event"] != "subscribe-ack" {
			t.Fatalf("subscribe %d: %d %v", k, st, evs)
		}
	}
	for k := range 3 {
		s := openStream(t, lb, "p_event=listen&p_id="+id+"&p_mode=stream")
		if ev := s.next(); ev["p_event"] != "listen-ack" {
			t.Fatalf("listen %d: %v", k, ev)
		}
		for i := range 10 {
			if err := home.hub.Publish("/t"+strconv.Itoa(i%2), "i", strconv.Itoa(k*10+i)); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]map[string]string, 10)
		for i := range got {
			got[i] = s.next()
		}
		checkSeq(t, got, uint64(k*10+1), k*10)
		// The next listen replaces this one (as Pushlet's: one data
		// channel per session).
	}
	if relaysOut(nodes) == 0 {
		t.Fatal("no request was relayed")
	}
}

// Long-poll (pull) and poll through the per-request balancer: every
// refresh lands on another node; the events come in order, none lost.
func TestAnyNodePullAndPoll(t *testing.T) {
	nodes := startCluster(t, 3)
	lb := perRequestLB(t, nodes)
	for _, mode := range []string{"pull", "poll"} {
		t.Run(mode, func(t *testing.T) {
			cl := dial(t, lb)
			_, evs := cl.do("p_event=join&p_format=json")
			id := evs[0]["p_id"]
			home := nodeOf(nodes, id)
			if st, _ := cl.do("p_event=subscribe&p_id=" + id + "&p_subject=/t"); st != 200 {
				t.Fatalf("subscribe: %d", st)
			}
			st, evs := cl.do("p_event=listen&p_id=" + id + "&p_mode=" + mode)
			if st != 200 || evs[0]["p_event"] != "listen-ack" {
				t.Fatalf("listen: %d %v", st, evs)
			}
			const n = 30
			var got []map[string]string
			for i := 0; len(got) < n; i++ {
				if i < n {
					home.hub.Publish("/t", "i", strconv.Itoa(i))
				}
				st, evs := cl.do("p_event=refresh&p_id=" + id)
				if st != 200 {
					t.Fatalf("refresh: %d", st)
				}
				for _, ev := range evs {
					if _, numbered := ev["p_seq"]; numbered && ev["p_event"] != "hb" {
						got = append(got, ev)
					}
				}
				if i > 10*n {
					t.Fatalf("%d events after %d refreshes", len(got), i)
				}
			}
			checkSeq(t, got, 1, 0)
		})
	}
	if relaysOut(nodes) == 0 {
		t.Fatal("no request was relayed")
	}
}

// A session made on A listens through B, drops, and resumes through C
// with p_last: exactly the events after p_last, no duplicate, no loss.
func TestResumeThroughAnotherNode(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ca := dial(t, a.addr())
	_, evs := ca.do("p_event=join&p_format=json")
	id := evs[0]["p_id"]
	if nodeOf(nodes, id) != a {
		t.Fatalf("session %q not homed on the node that made it", id)
	}
	ca.do("p_event=subscribe&p_id=" + id + "&p_subject=/t")
	s := openStream(t, b.addr(), "p_event=listen&p_id="+id+"&p_mode=stream")
	s.next() // listen-ack
	for i := range 5 {
		a.hub.Publish("/t", "i", strconv.Itoa(i))
	}
	var got []map[string]string
	for range 5 {
		got = append(got, s.next())
	}
	checkSeq(t, got, 1, 0)
	s.c.Close()
	testkit.Eventually(t, "the relay through B ended", func() bool { return b.node.Stats().Open == 0 && a.node.Stats().Open == 0 })
	for i := 5; i < 10; i++ {
		a.hub.Publish("/t", "i", strconv.Itoa(i))
	}
	s2 := openStream(t, c.addr(), "p_event=listen&p_id="+id+"&p_mode=stream&p_last="+got[4]["p_seq"])
	if ev := s2.next(); ev["p_event"] != "listen-ack" {
		t.Fatalf("resume: %v", ev)
	}
	got = got[:0]
	for range 5 {
		got = append(got, s2.next())
	}
	checkSeq(t, got, 6, 5)
}

// A request for a session whose node is gone is answered as one for an
// unknown session (400), at once: the client joins again.
func TestHomeGoneIsAnUnknownSession(t *testing.T) {
	nodes := startCluster(t, 3)
	c3 := dial(t, nodes[2].addr())
	_, evs := c3.do("p_event=join&p_format=json")
	id := evs[0]["p_id"]
	nodes[2].stop()
	c1 := dial(t, nodes[0].addr())
	testkit.Eventually(t, "a 400 for the gone node's session", func() bool {
		c1.c.Send("GET /comet?p_event=hb&p_format=json&p_id=" + id + " HTTP/1.1\r\nHost: t\r\n\r\n")
		r := c1.c.Next("GET")
		return r.StatusCode == 400 && strings.Contains(r.Text, "Invalid or expired id")
	})
	if nodes[0].node.Stats().NoHome == 0 {
		t.Fatal("not counted as a relay without a home")
	}
}

// Relays cost no goroutine: many relayed streams open at once leave the
// goroutine count where a few left it.
func TestRelaysTakeNoGoroutine(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b := nodes[0], nodes[1]
	open := func(n int) {
		for range n {
			ca := dial(t, a.addr())
			_, evs := ca.do("p_event=join&p_format=json")
			s := openStream(t, b.addr(), "p_event=listen&p_id="+evs[0]["p_id"]+"&p_mode=stream")
			s.next()
		}
	}
	open(10)
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	open(100)
	if a.node.Stats().Open < 110 || b.node.Stats().Open < 110 {
		t.Fatalf("relays open: A %d, B %d, want 110", a.node.Stats().Open, b.node.Stats().Open)
	}
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Fatalf("goroutines %d with 10 relayed streams, %d with 110", before, after)
	}
}

// Through a balancer per connection, too: a session's requests on its
// connections land on any node.
func TestAnyNodePerConnection(t *testing.T) {
	nodes := startCluster(t, 3)
	lb := perConnLB(t, nodes)
	_, evs := dial(t, lb).do("p_event=join&p_format=json")
	id := evs[0]["p_id"]
	home := nodeOf(nodes, id)
	for k := range 3 {
		if st, evs := dial(t, lb).do("p_event=subscribe&p_id=" + id + "&p_subject=/t"); st != 200 || evs[0]["p_event"] != "subscribe-ack" {
			t.Fatalf("subscribe %d: %d %v", k, st, evs)
		}
	}
	s := openStream(t, lb, "p_event=listen&p_id="+id+"&p_mode=stream")
	s.next()
	home.hub.Publish("/t", "i", "0")
	checkSeq(t, []map[string]string{s.next()}, 1, 0)
	if relaysOut(nodes) == 0 {
		t.Fatal("no request was relayed")
	}
}

// A client's publishes reach the subscribers of every node, in order, and
// a unicast (p_to) its session on another node only.
func TestPublishesReachEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	lb := perRequestLB(t, nodes)
	ids := make([]string, 3)
	streams := make([]*stream, 3)
	for i, tn := range nodes {
		c := dial(t, tn.addr())
		_, evs := c.do("p_event=join&p_format=json")
		ids[i] = evs[0]["p_id"]
		c.do("p_event=subscribe&p_id=" + ids[i] + "&p_subject=/chat")
		// Each listens through the next node.
		streams[i] = openStream(t, nodes[(i+1)%3].addr(), "p_event=listen&p_id="+ids[i]+"&p_mode=stream")
		streams[i].next()
	}
	pub := dial(t, lb)
	for k := range 10 {
		st, evs := pub.do("p_event=publish&p_format=json&p_id=" + ids[0] + "&p_subject=/chat&i=" + strconv.Itoa(k))
		if st != 200 || evs[0]["p_event"] != "publish-ack" {
			t.Fatalf("publish %d: %d %v", k, st, evs)
		}
	}
	// A unicast from the first session to the third's public id, then
	// one more multicast.
	if st, _ := pub.do("p_event=publish&p_format=json&p_id=" + ids[0] + "&p_subject=/chat&p_to=" + ids[2][:11] + "&i=to3"); st != 200 {
		t.Fatalf("unicast: %d", st)
	}
	pub.do("p_event=publish&p_format=json&p_id=" + ids[0] + "&p_subject=/chat&i=10")
	for i, s := range streams {
		var got []map[string]string
		for range 10 {
			got = append(got, s.next())
		}
		checkSeq(t, got, 1, 0)
		for _, ev := range got {
			if ev["p_from"] != ids[0][:11] {
				t.Fatalf("node %d: p_from %q, want %q", i+1, ev["p_from"], ids[0][:11])
			}
		}
		ev := s.next()
		if i == 2 {
			if ev["i"] != "to3" {
				t.Fatalf("the unicast's target got %v", ev)
			}
			ev = s.next()
		}
		if ev["i"] != "10" {
			t.Fatalf("node %d: %v after the unicast, want i=10", i+1, ev)
		}
	}
	if nodes[0].node.Stats().PublishesOut != 12 || nodes[1].node.Stats().PublishesIn != 11 || nodes[2].node.Stats().PublishesIn != 12 {
		t.Fatalf("publishes out of n1 %d, into n2 %d, into n3 %d; want 12, 11, 12",
			nodes[0].node.Stats().PublishesOut, nodes[1].node.Stats().PublishesIn, nodes[2].node.Stats().PublishesIn)
	}
}

// A client that stops reading a relayed stream is closed by the node that
// holds its connection, at that node's outbound cap, and the home node's
// listener is detached: the cap holds on relayed channels.
func TestRelayedSlowReaderIsClosed(t *testing.T) {
	nodes := startClusterWith(t, 3, engine.Config{MaxOutbound: 64 << 10})
	a, b := nodes[0], nodes[1]
	ca := dial(t, a.addr())
	_, evs := ca.do("p_event=join&p_format=json")
	id := evs[0]["p_id"]
	ca.do("p_event=subscribe&p_id=" + id + "&p_subject=/t")
	c := testkit.DialSmallRcvbuf(t, b.addr(), 4<<10)
	c.Send("GET /comet?p_event=listen&p_mode=stream&p_id=" + id + " HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, err := c.Head("GET"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("listen: %v %v", resp, err)
	}
	testkit.Eventually(t, "the listener attached on A", func() bool { return a.hub.Stats().StreamListeners == 1 })
	// The client reads nothing more; A keeps publishing.
	big := strings.Repeat("x", 4<<10)
	for i := 0; b.srv.Stats().SlowClosed == 0; i++ {
		if i > 10000 {
			t.Fatal("B never closed the slow reader")
		}
		a.hub.Publish("/t", "i", strconv.Itoa(i), "pad", big)
		if i%64 == 63 {
			time.Sleep(time.Millisecond)
		}
	}
	testkit.Eventually(t, "A's listener detached", func() bool { return a.hub.Stats().StreamListeners == 0 })
	testkit.Eventually(t, "the relays ended", func() bool { return a.node.Stats().Open == 0 && b.node.Stats().Open == 0 })
}

// When a node goes quiet without a word (a crash), the relays at the other
// end end once it has been silent for peerTimeout: the streams its
// clients were reading through the others are detached on their home
// nodes, and the clients reading its sessions' streams through other
// nodes are disconnected (they reconnect).
func TestRelaysOfAQuietNodeEnd(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	// A session of A read through B, and one of C read through A.
	ca := dial(t, a.addr())
	_, evs := ca.do("p_event=join&p_format=json")
	sa := openStream(t, b.addr(), "p_event=listen&p_mode=stream&p_id="+evs[0]["p_id"])
	sa.next()
	cc := dial(t, c.addr())
	_, evs = cc.do("p_event=join&p_format=json")
	sc := openStream(t, a.addr(), "p_event=listen&p_mode=stream&p_id="+evs[0]["p_id"])
	sc.next()
	testkit.Eventually(t, "both streams attached", func() bool {
		return a.hub.Stats().StreamListeners == 1 && c.hub.Stats().StreamListeners == 1
	})
	// B and C leave NATS first, as a crash would: nothing they would have
	// said about their clients reaches A.
	b.node.Close()
	c.node.Close()
	testkit.Eventually(t, "A's listener read through B detached", func() bool { return a.hub.Stats().StreamListeners == 0 })
	sc.c.SetReadDeadline(time.Now().Add(testkit.Timeout))
	if _, err := io.Copy(io.Discard, sc.br); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stream of C's session read through A: %v, want it closed", err)
	}
	if got := a.node.Stats().Reaped; got != 2 {
		t.Errorf("A reaped %d relays, want 2", got)
	}
}

// The forever-iframe transport (Pushlet's js format) through any node: the
// script chunks come through the relay, numbered one by one.
func TestAnyNodeIframe(t *testing.T) {
	nodes := startCluster(t, 3)
	lb := perRequestLB(t, nodes)
	cl := dial(t, lb)
	cl.c.Send("GET /comet?p_event=join&p_format=js HTTP/1.1\r\nHost: t\r\n\r\n")
	r := cl.c.Next("GET")
	m := regexp.MustCompile(`'p_id', *"([^"]+)"`).FindStringSubmatch(r.Text)
	if r.StatusCode != 200 || m == nil {
		t.Fatalf("join: %d %q", r.StatusCode, r.Text)
	}
	id := m[1]
	home := nodeOf(nodes, id)
	cl.c.Send("GET /comet?p_event=subscribe&p_subject=/t&p_id=" + id + " HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := cl.c.Next("GET"); r.StatusCode != 200 || !strings.Contains(r.Text, "subscribe-ack") {
		t.Fatalf("subscribe: %d %q", r.StatusCode, r.Text)
	}
	s := openStream(t, lb, "p_event=listen&p_mode=stream&p_id="+id)
	for i := range 5 {
		home.hub.Publish("/t", "i", strconv.Itoa(i))
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	want := regexp.MustCompile(`parent\.push\('p_seq', *"5",[^)]*'p_event', *"data"[^)]*'i', *"4"`)
	for !want.MatchString(got.String()) {
		s.c.SetReadDeadline(time.Now().Add(testkit.Timeout))
		n, err := s.br.Read(buf)
		if err != nil {
			t.Fatalf("iframe stream: %v; got %q", err, got.String())
		}
		got.Write(buf[:n])
	}
	for i := 1; i <= 5; i++ {
		if !regexp.MustCompile(`'p_seq', *"` + strconv.Itoa(i) + `"`).MatchString(got.String()) {
			t.Fatalf("event %d missing from %q", i, got.String())
		}
	}
}
