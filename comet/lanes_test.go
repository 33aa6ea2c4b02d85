package comet

import (
	"strconv"
	"testing"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/testkit"
)

// deliveredProbe is a loop task that reports how many events the hub had
// written when the loop ran it.
type deliveredProbe struct {
	h   *Hub
	got chan int64
}

func (p *deliveredProbe) RunOnLoop(uint32) { p.got <- p.h.stats.delivered.Load() }

// TestSmallDeliveriesGoAheadOfAFanOut: an event to a room's two players and
// a unicast are written before a lobby fan-out published just before them
// (to more than urgentFanout listeners on the same loop), not after all of
// its deliveries, as a move's event waited behind the lobby's deltas at
// 5,000 games. A listener already waiting for the fan-out gets both events
// at once, once each, in p_seq order. The loop is held while everything is
// published, and a probe in the urgent lane, posted last, counts what was
// written ahead of the fan-out: the order does not depend on the machine's
// speed.
func TestSmallDeliveriesGoAheadOfAFanOut(t *testing.T) {
	th := newTestHub(t, Config{}, engine.Config{Loops: 1})
	open := func(subject string) (string, *stream) {
		id := th.join(FormatJSON)
		s := th.openStream(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_subject", subject))
		if evs := s.next(2, testkit.Timeout); names(evs)[0] != "listen-ack" || names(evs)[1] != "hb" {
			t.Fatalf("stream start: %v", names(evs))
		}
		return id, s
	}
	const crowd = 3 * urgentFanout
	lobby := make([]*stream, crowd)
	for i := range lobby {
		_, lobby[i] = open("/lobby")
	}
	_, a := open("/room/1")        // a player
	_, b := open("/lobby,/room/1") // a player who also browses the lobby
	cID, c := open("/lobby")       // gets a unicast
	l := th.srv.Loops()[0]

	hold := testkit.NewHold()
	l.Post(hold, 0)
	testkit.Recv(t, hold.Entered, "the loop to be held")
	before := th.hub.stats.delivered.Load()
	th.hub.Publish("/lobby", "n", "delta")  // crowd+2 recipients: bulk
	th.hub.Publish("/room/1", "n", "move")  // 2 recipients: urgent
	th.hub.Send(cID, "/dm", "n", "private") // a unicast: urgent
	probe := &deliveredProbe{h: th.hub, got: make(chan int64, 1)}
	l.PostUrgent(probe, 0)
	hold.Release()

	// a: the move; b: the delta and the move; c: the delta and the unicast.
	if ahead := testkit.Recv(t, probe.got, "the probe") - before; ahead != 5 {
		t.Fatalf("%d events were written before the probe; want the 5 of the move and the unicast (b and c with their lobby delta), ahead of the fan-out to %d", ahead, crowd+2)
	}
	want := func(s *stream, who string, vals ...string) {
		t.Helper()
		evs := s.next(len(vals), testkit.Timeout)
		for i, e := range evs {
			if e.name() != "data" || e["n"] != vals[i] || e["p_seq"] != strconv.Itoa(i+1) {
				t.Fatalf("%s: %s; want %v with p_seq from 1", who, fmtEvents(evs), vals)
			}
		}
	}
	want(a, "a", "move")
	want(b, "b", "delta", "move")
	want(c, "c", "delta", "private")
	for i, s := range lobby {
		want(s, "lobby listener "+strconv.Itoa(i), "delta")
	}
	// Nothing was written twice: the next event is each one's next.
	th.hub.Publish("/room/1", "n", "next")
	if e := b.next(1, testkit.Timeout)[0]; e["n"] != "next" || e["p_seq"] != "3" {
		t.Fatalf("b after: %s", fmtEvents([]wireEvent{e}))
	}
	if e := a.next(1, testkit.Timeout)[0]; e["n"] != "next" || e["p_seq"] != "2" {
		t.Fatalf("a after: %s", fmtEvents([]wireEvent{e}))
	}
}
