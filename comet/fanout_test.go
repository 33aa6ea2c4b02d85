package comet

import (
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cometplay/cometplay/internal/history"
	"github.com/cometplay/cometplay/internal/testkit"
)

// heldValues returns field name of every event session s holds, oldest
// first.
func heldValues(s *Session, name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs []string
	for seq := s.hist.First(s.seq + 1); seq <= s.seq; seq++ {
		e, ok := s.hist.At(seq)
		if !ok {
			continue
		}
		rec, ok := s.hub.store.Get(e.Ref)
		if !ok {
			vs = append(vs, "(gone)")
			continue
		}
		vs = append(vs, history.Get(rec, name))
	}
	return vs
}

// TestLargeFanoutDoesNotHoldItsPublisher: a publish to more than
// DeferFanout sessions returns before any of them has the event (the hub's
// fan-out goroutine pushes it, held here), then reaches every one.
func TestLargeFanoutDoesNotHoldItsPublisher(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, DeferFanout+1, "/many")
	h := th.hub
	h.fan.exec.Lock() // the fan-out goroutine cannot push
	if err := h.Publish("/many", "k", "1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := held(ss[0]); n != 0 {
		t.Fatalf("the publisher pushed the event itself: a session holds %d", n)
	}
	if st := h.Stats(); st.Queued != 1 || st.Deferred != 1 {
		t.Fatalf("queued %d, deferred %d; want 1, 1", st.Queued, st.Deferred)
	}
	h.fan.exec.Unlock()
	testkit.Eventually(t, "every session to hold the event", func() bool {
		for _, s := range ss {
			if n, _ := held(s); n != 1 {
				return false
			}
		}
		return h.Stats().Queued == 0
	})
	// A small publish with nothing queued is pushed by its publisher.
	few := subscribed(t, th, 2, "/few")
	if err := h.Publish("/few", "k", "2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := held(few[0]); n != 1 {
		t.Fatalf("a small publish was not pushed at once: %d held", n)
	}
}

// TestFanoutKeepsThePublishersOrder: while a large fan-out waits, a small
// publish and a unicast to one of its sessions wait behind it, so that the
// session gets all three in the order they were published.
func TestFanoutKeepsThePublishersOrder(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, DeferFanout+1, "/many")
	s := ss[0]
	if _, err := s.Subscribe("/one", ""); err != nil {
		t.Fatal(err)
	}
	h := th.hub
	h.fan.exec.Lock()
	_ = h.Publish("/many", "k", "1")
	_ = h.Publish("/one", "k", "2")
	s.Send("/direct", "k", "3")
	if n, _ := held(s); n != 0 {
		t.Fatalf("%d events pushed past a queued one", n)
	}
	h.fan.exec.Unlock()
	testkit.Eventually(t, "the three events", func() bool { n, _ := held(s); return n == 3 })
	if got := heldValues(s, "k"); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("events in order %v, want [1 2 3]", got)
	}
}

// TestFanoutQueueIsBounded: past maxQueuedFanouts waiting events, the
// publisher pushes the queue itself before it returns (it waits here for
// the push held by the test), so the queue cannot grow without bound; every
// event still arrives, in order.
func TestFanoutQueueIsBounded(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1, Window: 4096})
	ss := subscribed(t, th, DeferFanout+1, "/many")
	h := th.hub
	const total = maxQueuedFanouts + 50
	var returned atomic.Int64
	h.fan.exec.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			_ = h.Publish("/many", "k", strconv.Itoa(i))
			returned.Add(1)
		}
	}()
	testkit.Eventually(t, "the queue to fill", func() bool { return h.Stats().Queued > maxQueuedFanouts })
	if st, r := h.Stats(), returned.Load(); st.Queued != maxQueuedFanouts+1 || r != maxQueuedFanouts {
		t.Fatalf("queued %d, publishes returned %d: the publisher did not wait at the bound (%d)", st.Queued, r, maxQueuedFanouts)
	}
	h.fan.exec.Unlock()
	testkit.Recv(t, done, "the publisher to finish")
	testkit.Eventually(t, "the queue to drain", func() bool { return h.Stats().Queued == 0 })
	got := heldValues(ss[len(ss)-1], "k")
	if len(got) != total {
		t.Fatalf("%d events held, want %d", len(got), total)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("event %d is %q: out of order", i, v)
		}
	}
}

// TestClientPublishRefusedWhileTheFanoutQueueIsFull: an event loop never
// waits for the fan-out queue: a client's publish to many while it is full
// is refused with nack "busy", publishes nothing, and is accepted again
// once the queue drains. A small publish or a unicast, which does not go
// through the queue (the client has nothing queued), is still accepted.
func TestClientPublishRefusedWhileTheFanoutQueueIsFull(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1, PublishRate: -1})
	subscribed(t, th, DeferFanout+1, "/many")
	h := th.hub
	id := th.join(FormatJSON)
	pub := h.Session(id)
	h.fan.exec.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range maxQueuedFanouts + 1 {
			_ = h.Publish("/many", "k", strconv.Itoa(i)) // the last one waits: the queue is full
		}
	}()
	testkit.Eventually(t, "the queue to fill", func() bool { return h.Stats().Queued > maxQueuedFanouts })
	published := h.Stats().Published
	control := func(q string) wireEvent {
		t.Helper()
		evs := th.do(FormatJSON, "p_event=publish&p_format=json&p_id="+id+"&k=v&"+q)
		if len(evs) != 1 {
			t.Fatalf("publish (%s): %v", q, evs)
		}
		return evs[0]
	}
	if ev := control("p_subject=/many"); ev.name() != "nack" || ev["p_reason"] != "busy" {
		t.Fatalf("publish to many with the queue full: %v; want nack busy", ev)
	}
	if st := h.Stats(); st.Refused != 1 || st.Published != published || st.Queued != maxQueuedFanouts+1 {
		t.Fatalf("refused %d, published %d (was %d), queued %d", st.Refused, st.Published, published, st.Queued)
	}
	for _, q := range []string{"p_subject=/few", "p_subject=/x&p_to=" + pub.PublicID()} {
		if ev := control(q); ev.name() != "publish-ack" {
			t.Fatalf("small publish (%s) with the queue full: %v; want publish-ack", q, ev)
		}
	}
	h.fan.exec.Unlock()
	testkit.Recv(t, done, "the Go publisher to finish")
	testkit.Eventually(t, "the queue to drain", func() bool { return h.Stats().Queued == 0 })
	if ev := control("p_subject=/many"); ev.name() != "publish-ack" {
		t.Fatalf("publish after the queue drained: %v", ev)
	}
}

// TestFanoutProducersDoNotWaitForEachOther: while one producer's large
// fan-out waits (the lobby's broadcast), another producer's small publish
// and unicast to the same session (a room's move) are pushed at once; the
// waiting producer's own later events still queue behind its fan-out.
func TestFanoutProducersDoNotWaitForEachOther(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, DeferFanout+1, "/many")
	s := ss[0]
	if _, err := s.Subscribe("/room", ""); err != nil {
		t.Fatal(err)
	}
	h := th.hub
	h.fan.exec.Lock()
	_ = h.PublishFrom("lobby", "/many", "k", "1")
	_ = h.PublishFrom("room", "/room", "k", "2")
	h.SendFrom("room", s.PublicID(), "/room", "k", "3")
	if got := heldValues(s, "k"); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("another producer's events: %v, want [2 3] pushed at once", got)
	}
	h.SendFrom("lobby", s.PublicID(), "/lobby", "k", "4") // behind the lobby's fan-out
	if n, _ := held(s); n != 2 {
		t.Fatalf("%d events held: the lobby's unicast passed its queued fan-out", n)
	}
	h.fan.exec.Unlock()
	testkit.Eventually(t, "the lobby's events", func() bool { n, _ := held(s); return n == 4 })
	if got := heldValues(s, "k"); !slices.Equal(got, []string{"2", "3", "1", "4"}) {
		t.Fatalf("events in order %v, want [2 3 1 4]", got)
	}
}

// TestSendAllHoldsTheEventOnce: SendAllFrom puts one record in the store
// for all its sessions (unknown ids skipped), each session holding it once,
// in its producer's order.
func TestSendAllHoldsTheEventOnce(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, 3, "/x")
	h := th.hub
	puts := h.store.Stats().Puts
	ids := []string{ss[0].PublicID(), "nobody", ss[1].ID(), ss[2].PublicID()}
	if n := h.SendAllFrom("lobby", ids, "/lobby", "k", "1"); n != 3 {
		t.Fatalf("reached %d sessions, want 3", n)
	}
	if d := h.store.Stats().Puts - puts; d != 1 {
		t.Fatalf("%d records put, want 1 for all three sessions", d)
	}
	for _, s := range ss {
		if got := heldValues(s, "k"); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("session holds %v", got)
		}
	}
	// Behind the same producer's queued fan-out, it waits its turn.
	big := subscribed(t, th, DeferFanout+1, "/many")
	h.fan.exec.Lock()
	_ = h.PublishFrom("lobby", "/many", "k", "2")
	h.SendAllFrom("lobby", []string{big[0].PublicID(), big[1].PublicID()}, "/lobby", "k", "3")
	if n, _ := held(big[0]); n != 0 {
		t.Fatalf("%d events held: SendAll passed its producer's queued fan-out", n)
	}
	h.fan.exec.Unlock()
	testkit.Eventually(t, "both events", func() bool { n, _ := held(big[0]); return n == 2 })
	if got := heldValues(big[0], "k"); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("events in order %v, want [2 3]", got)
	}
}

// TestSmallPushTakesNoHubLock: with nothing queued, a small publish and a
// unicast (every room's move) do not take the fan-out queue's lock, which
// every producer shares: here it is held, and they are pushed anyway.
func TestSmallPushTakesNoHubLock(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	s := subscribed(t, th, 2, "/room")[0]
	h := th.hub
	h.fan.mu.Lock()
	defer h.fan.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.PublishFrom("room", "/room", "k", "1")
		h.SendFrom("room", s.PublicID(), "/room", "k", "2")
	}()
	testkit.Recv(t, done, "the small pushes, with the queue's lock held")
	if got := heldValues(s, "k"); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("session holds %v", got)
	}
}

// TestConsecutiveFanoutsReachAListenerInOneWrite: large fan-outs queued
// together (the lobby's presence and rooms deltas of one tick, to every
// browsing player) wake each listener once, after the last of them is
// pushed: its data channel is written both events at once, not one write
// for each.
func TestConsecutiveFanoutsReachAListenerInOneWrite(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	subscribed(t, th, DeferFanout, "/presence")
	subscribed(t, th, DeferFanout, "/rooms")
	id := th.join(FormatJSON)
	st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_subject", "/presence,/rooms"))
	st.next(2, testkit.Timeout) // listen-ack, hb
	h := th.hub
	for round := range 3 {
		before := h.Stats()
		h.fan.exec.Lock() // both are queued before the fan-out goroutine pushes either
		h.PublishFrom("/lobby", "/presence", "d", "p"+strconv.Itoa(round))
		h.PublishFrom("/lobby", "/rooms", "d", "r"+strconv.Itoa(round))
		h.fan.exec.Unlock()
		evs := st.next(2, testkit.Timeout)
		if evs[0]["d"] != "p"+strconv.Itoa(round) || evs[1]["d"] != "r"+strconv.Itoa(round) {
			t.Fatalf("round %d: %s; want the presence delta, then the rooms delta", round, fmtEvents(evs))
		}
		after := h.Stats()
		if w := after.ChannelWrites - before.ChannelWrites; w != 1 || after.Delivered-before.Delivered != 2 {
			t.Fatalf("round %d: %d writes for %d events; want 1 for 2", round, w, after.Delivered-before.Delivered)
		}
	}
}
