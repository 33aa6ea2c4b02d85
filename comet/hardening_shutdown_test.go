package comet

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestHardeningShutdownDeliversPending: events queued for a session but not
// yet written when the server shuts down (its loop busy, or the events
// pushed just before, as the rooms' last events are) reach the listener
// before its abort, on a stream and on a parked long-poll alike. (Found by
// TestHardeningShutdownUnderLoad in examples/tictactoe: the abort dropped
// them, so a move's "ack" or "error" could be lost at shutdown.)
func TestHardeningShutdownDeliversPending(t *testing.T) {
	th := newTestHub(t, Config{})
	const events = 5
	var streams []*stream
	for range 4 {
		id := th.join(FormatJSON)
		s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_subject", "/news"))
		s.next(2, testkit.Timeout) // listen-ack, hb
		streams = append(streams, s)
	}
	pullID := th.join(FormatJSON)
	th.do(FormatJSON, testkit.Query("p_event", "subscribe", "p_id", pullID, "p_subject", "/news"))
	th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", pullID, "p_mode", "pull"))
	pulled := make(chan string, 1)
	go func() {
		st, _, body := th.get("/comet", testkit.Query("p_event", "refresh", "p_id", pullID))
		pulled <- strconv.Itoa(st) + " " + body
	}()
	testkit.EventuallyWithin(t, testkit.Timeout, "the refresh to park", func() bool { return th.hub.Session(pullID).Listening() })

	// Hold every loop: the listeners cannot write what is published now.
	release := holdLoops(t, th)
	for i := range events {
		th.hub.Publish("/news", "n", strconv.Itoa(i))
	}
	done := make(chan error, 1)
	go func() { done <- th.srv.Shutdown(context.Background()) }()
	testkit.EventuallyWithin(t, testkit.Timeout, "the shutdown hooks to end every session", func() bool { return th.hub.NumSessions() == 0 })
	release()
	for i, s := range streams {
		evs := s.next(events+1, testkit.Timeout)
		for k, e := range evs[:events] {
			if e.name() != "data" || e["n"] != strconv.Itoa(k) {
				t.Fatalf("stream %d: %s; want the %d pending events, then abort", i, fmtEvents(evs), events)
			}
		}
		if evs[events].name() != "abort" {
			t.Fatalf("stream %d: %s; want abort after the pending events", i, fmtEvents(evs))
		}
	}
	got := testkit.Recv(t, pulled, "the parked refresh's answer")
	st, body, _ := strings.Cut(got, " ")
	evs := parseEvents(t, FormatJSON, body)
	if st != "200" || len(evs) != events+2 || evs[0].name() != "refresh-ack" || evs[events+1].name() != "abort" {
		t.Fatalf("parked refresh at shutdown: %s %s; want refresh-ack, the %d events, abort", st, fmtEvents(evs), events)
	}
	if err := testkit.Recv(t, done, "Shutdown to return"); err != nil {
		t.Fatal(err)
	}
}

// TestHardeningShutdownKeepsPendingEventsUntilWritten: at shutdown a
// listener writes what is pending, and only then lets go of its events: a
// session that alone held full slabs released them before the write, the
// store dropped the slabs, and the events it was about to write became a
// gap (TestHardeningShutdownUnderLoad lost a move's "ack" so, now and then).
func TestHardeningShutdownKeepsPendingEventsUntilWritten(t *testing.T) {
	th := newTestHub(t, Config{})
	id := th.join(FormatJSON)
	s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_subject", "/own"))
	s.next(2, testkit.Timeout) // listen-ack, hb
	release := holdLoops(t, th)
	// Events of 6 KiB: two to a slab, so that the first slabs are full
	// (sealed) and this session holds their only references.
	const events = 7
	big := strings.Repeat("x", 6<<10)
	for i := range events {
		th.hub.Publish("/own", "n", strconv.Itoa(i), "big", big)
	}
	done := make(chan error, 1)
	go func() { done <- th.srv.Shutdown(context.Background()) }()
	testkit.EventuallyWithin(t, testkit.Timeout, "the shutdown hooks to end every session", func() bool { return th.hub.NumSessions() == 0 })
	release()
	evs := s.next(events+1, testkit.Timeout)
	for k, e := range evs[:events] {
		if e.name() != "data" || e["n"] != strconv.Itoa(k) || e["big"] != big {
			t.Fatalf("event %d: %s %q; want the %d pending events whole, then abort", k, e.name(), e["n"], events)
		}
	}
	if evs[events].name() != "abort" {
		t.Fatalf("after the events: %s; want abort", evs[events].name())
	}
	if err := testkit.Recv(t, done, "Shutdown to return"); err != nil {
		t.Fatal(err)
	}
	if st := th.hub.store.Stats(); st.Refs != 0 {
		t.Fatalf("%d references held after the shutdown; want none", st.Refs)
	}
}

// holdLoops keeps every event loop of th busy until the returned release
// is called: what is published meanwhile waits in the sessions' queues.
func holdLoops(t *testing.T, th *testHub) (release func()) {
	t.Helper()
	var holds []*testkit.Hold
	for _, l := range th.srv.Loops() {
		b := testkit.NewHold()
		l.Post(b, 0)
		testkit.Recv(t, b.Entered, "a loop to be held")
		holds = append(holds, b)
	}
	return func() {
		for _, b := range holds {
			b.Release()
		}
	}
}
