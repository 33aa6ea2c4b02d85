package comet

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/history"
	"github.com/cometplay/cometplay/internal/testkit"
)

// held returns how many events a session holds, and their bytes.
func held(s *Session) (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hist.Len(), s.hist.Bytes()
}

// subscribed joins n sessions from Go, each subscribed to subject.
func subscribed(t *testing.T, th *testHub, n int, subject string) []*Session {
	t.Helper()
	var ss []*Session
	for range n {
		s, err := th.hub.Join(FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Subscribe(subject, ""); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	return ss
}

// TestEventHeldOnceForAllItsRecipients: an event published to many sessions
// is put in the history once, with a reference for each, and each session
// holds one entry for it.
func TestEventHeldOnceForAllItsRecipients(t *testing.T) {
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, 50, "/news")
	before := th.hub.store.Stats()
	th.hub.Publish("/news", "k", "v")
	st := th.hub.store.Stats()
	if st.Puts-before.Puts != 1 || st.Refs-before.Refs != 50 {
		t.Fatalf("one event to 50 sessions: %d puts, %d references; want 1 and 50", st.Puts-before.Puts, st.Refs-before.Refs)
	}
	for i, s := range ss {
		if n, _ := held(s); n != 1 {
			t.Fatalf("session %d holds %d events; want 1", i, n)
		}
	}
}

// TestAcknowledgementLetsGo: p_ack on any request lets go of the events
// delivered up to it (never of one not delivered yet), and so does the
// p_last of a listen or refresh; a slab none of whose events is held any
// more is dropped. A malformed p_ack is a nack and does nothing.
func TestAcknowledgementLetsGo(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a"))
	s := th.hub.Session(id)
	st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id))
	st.next(2, testkit.Timeout) // listen-ack, hb
	for i := 1; i <= 5; i++ {
		th.hub.Publish("/a", "i", strconv.Itoa(i))
	}
	st.next(5, testkit.Timeout)
	if n, _ := held(s); n != 5 {
		t.Fatalf("holds %d events before any acknowledgement; want 5", n)
	}
	if evs := th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id, "p_ack", "3")); evs[0].name() != "hb-ack" {
		t.Fatalf("hb with p_ack: %v", fmtEvents(evs))
	}
	if n, _ := held(s); n != 2 {
		t.Fatalf("holds %d events after p_ack=3; want 2 (4 and 5)", n)
	}
	if evs := th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id, "p_ack", "x")); evs[0].name() != "nack" || evs[0]["p_reason"] != "invalid p_ack" {
		t.Fatalf("a malformed p_ack: %v; want nack invalid p_ack", fmtEvents(evs))
	}
	// An event not delivered yet is not let go, whatever the client says.
	st.conn.Close()
	testkit.EventuallyWithin(t, testkit.Timeout, "the stream to be gone", func() bool { return !s.Listening() })
	th.hub.Publish("/a", "i", "6")
	th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id, "p_ack", "99"))
	if n, _ := held(s); n != 1 {
		t.Fatalf("holds %d events after p_ack=99 with 6 undelivered; want 1 (6)", n)
	}
	// A resume says what the client has; 6 is sent.
	st = th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_last", "5"))
	evs := st.next(3, testkit.Timeout) // listen-ack, hb, 6
	if evs[2]["i"] != "6" {
		t.Fatalf("resume after 5: %v", fmtEvents(evs))
	}
	th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id, "p_ack", "6"))
	if n, _ := held(s); n != 0 {
		t.Fatalf("holds %d events once all are acknowledged; want 0", n)
	}
	s.mu.Lock()
	buf := s.hist
	s.mu.Unlock()
	if buf.Len() != 0 || buf.Bytes() != 0 {
		t.Fatalf("an emptied history: %d events, %d bytes", buf.Len(), buf.Bytes())
	}
	if refs := th.hub.store.Stats().Refs; refs != 0 {
		t.Fatalf("the store still counts %d references", refs)
	}
}

// TestHistoryBoundedByCountAndBytes: a session keeps at most Window events
// and SessionHistoryBytes of them, the oldest going first; a client
// resuming from before what is held gets one gap event, then the rest.
func TestHistoryBoundedByCountAndBytes(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		th := newTestHub(t, Config{Window: 4})
		s := subscribed(t, th, 1, "/a")[0]
		for i := 1; i <= 10; i++ {
			th.hub.Publish("/a", "i", strconv.Itoa(i))
		}
		if n, _ := held(s); n != 4 {
			t.Fatalf("holds %d events; want Window (4)", n)
		}
		st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", s.ID(), "p_last", "0"))
		evs := st.next(2+1+4, testkit.Timeout)
		if g := evs[2]; g.name() != "gap" || g["p_gap_from"] != "1" || g["p_gap_to"] != "6" {
			t.Fatalf("want gap 1..6, got %v", fmtEvents(evs))
		}
		for k, e := range evs[3:] {
			if e["i"] != strconv.Itoa(7+k) {
				t.Fatalf("after the gap: %v", fmtEvents(evs))
			}
		}
	})
	t.Run("bytes", func(t *testing.T) {
		const limit = 16 << 10
		th := newTestHub(t, Config{SessionHistoryBytes: limit})
		s := subscribed(t, th, 1, "/a")[0]
		pad := strings.Repeat("x", 1000)
		for i := 1; i <= 100; i++ {
			th.hub.Publish("/a", "i", strconv.Itoa(i), "pad", pad)
		}
		n, b := held(s)
		if b > limit || n < 10 || n > 16 {
			t.Fatalf("holds %d events of %d bytes; want about 16 KiB of them (%d bytes at most)", n, b, limit)
		}
	})
}

// TestHistoryPastTheHorizonIsLetGo: events older than ResumeHorizon are
// dropped from the store whether anyone holds them or not; the session lets
// go of its references at its next check, and a client resuming from before
// gets a gap.
func TestHistoryPastTheHorizonIsLetGo(t *testing.T) {
	th := newTestHub(t, Config{})
	var mu sync.Mutex
	now := time.Now().UnixNano()
	clock := func() int64 { mu.Lock(); defer mu.Unlock(); return now }
	store, err := history.NewStore(history.Config{MaxBytes: th.hub.cfg.HistoryBytes, Horizon: th.hub.cfg.ResumeHorizon, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	th.hub.store = store
	s := subscribed(t, th, 1, "/a")[0]
	for i := 1; i <= 3; i++ {
		th.hub.Publish("/a", "i", strconv.Itoa(i))
	}
	mu.Lock()
	now += int64(th.hub.cfg.ResumeHorizon + time.Second)
	mu.Unlock()
	store.Expire()
	th.hub.Publish("/a", "i", "4")
	s.check() // the session's timer
	if n, _ := held(s); n != 1 {
		t.Fatalf("holds %d events after the horizon passed 1..3; want 1 (4)", n)
	}
	st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", s.ID(), "p_last", "0"))
	evs := st.next(4, testkit.Timeout)
	if evs[2].name() != "gap" || evs[2]["p_gap_from"] != "1" || evs[2]["p_gap_to"] != "3" || evs[3]["i"] != "4" {
		t.Fatalf("want gap 1..3 then 4: %v", fmtEvents(evs))
	}
}

// TestHubHistoryBounded: the hub's history never holds more than
// HistoryBytes: past it the oldest events go, and the sessions that held
// them get a gap (no silent loss).
func TestHubHistoryBounded(t *testing.T) {
	const maxEvent = 1 << 10
	limit := int64(minHistoryEvents * maxEvent) // the smallest allowed: one slab
	th := newTestHub(t, Config{MaxEventBytes: maxEvent, HistoryBytes: limit, Window: 1 << 16, SessionHistoryBytes: 1 << 30, MaxSessionsPerAddr: -1})
	ss := subscribed(t, th, 3, "/a")
	pad := strings.Repeat("x", 900)
	for i := 1; i <= 500; i++ {
		th.hub.Publish("/a", "i", strconv.Itoa(i), "pad", pad)
		if b := th.hub.store.Stats().Bytes; b > limit {
			t.Fatalf("after %d events the history holds %d bytes; limit %d", i, b, limit)
		}
	}
	st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", ss[0].ID(), "p_last", "0"))
	evs := st.next(3, testkit.Timeout)
	if g := evs[2]; g.name() != "gap" || g["p_gap_from"] != "1" {
		t.Fatalf("the first events were let go for the hub's limit; want a gap from 1: %v", fmtEvents(evs))
	}
}

// TestHeldEventsKeepTheirSubscription: an event held for a session carries
// the sid and label of the subscription it came through, even when the
// session unsubscribed before it was delivered.
func TestHeldEventsKeepTheirSubscription(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatJSON)
	ack := th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", id, "p_subject", "/a", "p_label", "mine"))
	sid := ack[0]["p_sid"]
	th.hub.Publish("/a", "i", "1")
	th.do(FormatJSON, testkit.Query("p_event", "unsubscribe", "p_id", id, "p_sid", sid))
	st := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_last", "0"))
	evs := st.next(3, testkit.Timeout)
	if e := evs[2]; e["i"] != "1" || e["p_sid"] != sid || e["p_label"] != "mine" {
		t.Fatalf("want the event with p_sid %s and p_label mine: %v", sid, fmtEvents(evs))
	}
	s := th.hub.Session(id)
	th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id, "p_ack", "1"))
	s.mu.Lock()
	gone := len(s.gone)
	s.mu.Unlock()
	if gone != 0 {
		t.Fatalf("%d unsubscribed subscriptions kept once no held event names them", gone)
	}
}

// TestHeldEventsAreInvisibleToTheCollector: a thousand sessions each
// holding two hundred events cost the collector about an object per
// session (its ring) and per slab, not one or more per event held.
func TestHeldEventsAreInvisibleToTheCollector(t *testing.T) {
	const sessions, events = 1000, 200
	th := newTestHub(t, Config{MaxSessionsPerAddr: -1, MaxSessions: 2 * sessions})
	ss := subscribed(t, th, sessions, "/a")
	objects := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapObjects
	}
	before := objects()
	for i := range events {
		th.hub.Publish("/a", "i", strconv.Itoa(i))
	}
	// A publish to more than DeferFanout sessions is pushed by the hub's
	// fan-out goroutine: measure once it has pushed them all, not while its
	// queue still holds copies of the events.
	testkit.Eventually(t, "every session holds the events published", func() bool {
		for _, s := range ss {
			s.mu.Lock()
			seq := s.seq
			s.mu.Unlock()
			if seq < events {
				return false
			}
		}
		return true
	})
	after := objects()
	runtime.KeepAlive(ss)
	st := th.hub.store.Stats()
	grew := int64(after) - int64(before)
	t.Logf("%d sessions holding %d events each (%d entries) in %d slabs: heap objects %d -> %d", sessions, events, sessions*events, st.Slabs, before, after)
	if limit := int64(2*sessions + st.Slabs + 2000); grew > limit {
		t.Fatalf("holding %d events for %d sessions grew the heap by %d objects; want at most %d (rings and slabs)", events, sessions, grew, limit)
	}
}
