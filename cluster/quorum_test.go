package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// publishMove sends p's move once and returns the answer: "" for a
// publish-ack, else the nack's reason.
func (p *tttPlayer) publishMove(room string, cell, seq int) string {
	p.t.Helper()
	q := fmt.Sprintf("p_event=publish&p_format=json&p_id=%s&p_subject=/room/%s&type=move&data=%%7B%%22cell%%22%%3A%d%%7D&move=m%d&seq=%d", p.id, room, cell, seq, seq)
	st, evs := p.ctl.do(q)
	switch {
	case st == 200 && len(evs) > 0 && evs[0]["p_event"] == "publish-ack":
		return ""
	case st == 200 && len(evs) > 0 && evs[0]["p_event"] == "nack":
		return evs[0]["p_reason"]
	}
	p.t.Fatalf("%s: move to cell %d: %d %v", p.name, cell, st, evs)
	return ""
}

// errorOf decodes a room "error" event.
func errorOf(ev map[string]string) (move, reason string) {
	var d struct {
		Move   string `json:"move"`
		Reason string `json:"reason"`
	}
	json.Unmarshal([]byte(ev["data"]), &d)
	return d.Move, d.Reason
}

// moveCounter counts the "move" events of a player's events, by cell.
type moveCounter struct {
	events
	cells map[int]int
}

func (m *moveCounter) next() map[string]string {
	ev := m.events.next()
	if ev["type"] == "move" {
		var d struct {
			Cell int `json:"cell"`
		}
		json.Unmarshal([]byte(ev["data"]), &d)
		m.cells[d.Cell]++
	}
	return ev
}

// gameOn starts a tictactoe game on owner's rooms between two new players
// homed on home (a is X) and plays a's cell 0 and b's cell 4.
func gameOn(t *testing.T, owner *Node, home *testNode, na, nb string) (a, b *tttPlayer, room string) {
	t.Helper()
	a, b = &tttPlayer{t: t, name: na}, &tttPlayer{t: t, name: nb}
	for _, p := range []*tttPlayer{a, b} {
		if err := p.connect(home.addr()); err != nil {
			t.Fatal(err)
		}
	}
	m := owner.roomsManager()
	room, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: a.id, PlayerID: "p" + na, Name: na}, rooms.Options{"turn": "120"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(room, rooms.PlayerInfo{SessionID: b.id, PlayerID: "p" + nb, Name: nb}); err != nil {
		t.Fatal(err)
	}
	firstTwoMoves(a, b, room)
	// The move's last event: nothing of the room is left to read.
	a.until("turn")
	b.until("turn")
	return a, b, room
}

// TestNoQuorumRefusesMovesUntilItIsBack: two of the three NATS servers
// stop (JetStream loses its quorum) while a game runs on the surviving
// node, n1, between two players homed there, and another on n2 (whose
// NATS is gone) between two players homed on n1.
//
// On n1: the move sent first is taken (publish-ack) and applied, but its
// turn log append goes unanswered, and nothing of it goes out. Once it has
// waited rooms.DefaultJournalPatience, the players hear that the game's
// store is unavailable, the move queued behind it is answered with an
// "error" naming that, and moves sent then are refused at once (nack);
// nothing is released meanwhile. On n2's game, the moves are answered "not
// available, try again".
//
// The two NATS servers start again on their stores and ports: the waiting
// move's append is answered (sent again with the same message id) and its
// ack and move go out; sent again, it is acknowledged and not applied
// twice. (If n1's lease expired during the outage and n1 finds it gone
// before the append is answered, it evicts the room and rebuilds it from
// its log, without the move, never acknowledged: sent again, it is applied
// once.) n1's game plays to its end; n2's room is taken over by n1 and
// rebuilt from its log, and plays to its end too. Every acknowledged move
// is on the boards, and no player misses an event (p_seq).
func TestNoQuorumRefusesMovesUntilItIsBack(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	n1 := gn[0].node
	a, b, room := gameOn(t, n1, plain[0], "a", "b")
	c, d, room2 := gameOn(t, gn[1].node, plain[0], "c", "d")
	bMoves := &moveCounter{events: b.s, cells: map[int]int{}}
	b.s = bMoves
	testkit.Eventually(t, "the rooms' owner records", func() bool {
		return n1.Stats().OwnerRecords >= 1 && gn[1].node.Stats().OwnerRecords >= 1
	})
	// NATS on n2 and n3 stops: their nodes are cut off (the games node,
	// n1, stays), and JetStream, with one server of three, has no quorum.
	var addrs []string
	for _, g := range gn[1:] {
		addrs = append(addrs, g.node.RouteAddr().String())
		g.node.shutdownNATS()
	}
	lost := time.Now()
	before := n1.Stats()
	seq0A, seq0B := plain[0].hub.Session(a.id).Seq(), plain[0].hub.Session(b.id).Seq()

	// a's move is taken and waits for its append; b's, out of turn,
	// waits behind it.
	if r := a.publishMove(room, 1, 2); r != "" {
		t.Fatalf("a's move at once: nack %q; want it taken", r)
	}
	bQueued := b.publishMove(room, 8, 2) == ""
	// Both hear that the game waits for its store; b's queued move is
	// answered, and nothing of a's move comes out. (Waited for on the
	// server first: the patience is longer than a stream read's bound.)
	testkit.EventuallyWithin(t, time.Minute, "an event for each player after the patience", func() bool {
		return plain[0].hub.Session(a.id).Seq() > seq0A && plain[0].hub.Session(b.id).Seq() > seq0B
	})
	for _, p := range []*tttPlayer{a, b} {
		var ev map[string]string
		for ev = p.s.next(); ev["type"] != "error"; ev = p.s.next() {
			p.count(ev)
			if ev["p_subject"] == "/room/"+room {
				t.Fatalf("%s got %s %s before the notice, with the move's append unanswered", p.name, ev["type"], ev["data"])
			}
		}
		p.count(ev)
		if move, reason := errorOf(ev); move != "" || reason != rooms.ReasonJournalWaiting {
			t.Errorf("%s: first error %q for move %q; want the notice %q", p.name, reason, move, rooms.ReasonJournalWaiting)
		}
	}
	waited := time.Since(lost)
	if bQueued {
		if move, reason := errorOf(b.until("error")); move != "m2" || reason != rooms.ReasonJournalUnavailable {
			t.Errorf("b's queued move answered %q for %q; want %q for m2", reason, move, rooms.ReasonJournalUnavailable)
		}
	}
	// Moves sent now are refused at once, a's own sent again included.
	for _, try := range []struct {
		p          *tttPlayer
		cell, seq  int
		wantReason string
	}{{a, 1, 2, rooms.ErrJournalUnavailable.Error()}, {b, 8, 2, rooms.ErrJournalUnavailable.Error()}} {
		if r := try.p.publishMove(room, try.cell, try.seq); r != try.wantReason {
			t.Errorf("%s's move during the outage: nack %q; want %q", try.p.name, r, try.wantReason)
		}
	}
	// n2's game: its node is out of reach.
	if r := c.publishMove(room2, 1, 2); !strings.Contains(r, "try again") {
		t.Errorf("c's move to n2's room during the outage: nack %q; want \"not available, try again\"", r)
	}
	// Nothing of a's move goes out while its append is unanswered: the
	// players' event counts stay where they are while n1 tries again.
	seqA, seqB := plain[0].hub.Session(a.id).Seq(), plain[0].hub.Session(b.id).Seq()
	retries := n1.Stats().TurnLogRetries
	testkit.EventuallyWithin(t, time.Minute, "n1 trying its append again and saying so", func() bool {
		s := n1.Stats()
		return s.TurnLogRetries >= retries+1 && s.TurnLogStalls >= 1
	})
	if sa, sb := plain[0].hub.Session(a.id).Seq(), plain[0].hub.Session(b.id).Seq(); sa != seqA || sb != seqB {
		t.Fatalf("events went out with the append unanswered: a's p_seq %d → %d, b's %d → %d", seqA, sa, seqB, sb)
	}
	s := n1.Stats()
	if s.TurnLogWaiting < 1 || s.TurnLogOldest < rooms.DefaultJournalPatience || s.RoomItemsRefused < before.RoomItemsRefused+2 {
		t.Errorf("during the outage: %d appends waiting, the oldest for %v, %d items refused; want ≥ 1, ≥ %v, ≥ %d",
			s.TurnLogWaiting, s.TurnLogOldest, s.RoomItemsRefused, rooms.DefaultJournalPatience, before.RoomItemsRefused+2)
	}

	// NATS on n2 and n3 starts again on the same stores and ports (their
	// nodes' in-process connections do not come back: they stay cut off).
	for i, g := range gn[1:] {
		o := g.node.opts
		o.Listen = addrs[i]
		ns, err := startEmbedded(o, g.node.own.storeDir, g.node.log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	back := time.Now()
	// a's waiting move is applied: its ack, and b sees it. (Unless n1's
	// lease expired during the outage and n1 found it gone before the
	// append was answered: then n1 evicts the room and rebuilds it from
	// its log, where the move is not, as it was never acknowledged; a
	// gets joined and sends its move again.)
	// JetStream elects its leaders first: seconds, more on a busy machine.
	state := func() string {
		st := n1.Stats()
		_, here := n1.roomsManager().Room(room)
		rec, rev, err := n1.own.record(t, room)
		return fmt.Sprintf("n1: holding its lease %v (%s), leases lost %d, rooms evicted %d, rebuilt %d, lost %d, appends waiting %d, room here %v; its record %+v rev %d (%v)",
			n1.own.holding(), n1.own.incarnation(), st.LeasesLost, st.RoomsEvicted, st.RoomsRestored, st.RoomsLost, st.TurnLogWaiting, here, rec, rev, err)
	}
	eventuallyOr(t, 2*time.Minute, "n1's waiting append answered", func() bool { return n1.Stats().TurnLogWaiting == 0 }, state)
	// and its output (or, if n1 lost its lease, the rebuilt room's joined)
	// queued for a: after a lost lease the room waits for its record to be
	// taken again, which waits for JetStream's elections and a lease's
	// length of answered renewals (leaseGone).
	eventuallyOr(t, 2*time.Minute, "an event for a after the outage", func() bool { return plain[0].hub.Session(a.id).Seq() > seqA }, state)
	var ev map[string]string
	for ev = a.s.next(); ev["type"] != "ack" && ev["type"] != "joined"; ev = a.s.next() {
		a.count(ev)
	}
	a.count(ev)
	released := time.Since(back)
	if ev["type"] == "joined" {
		t.Logf("n1 lost its lease and rebuilt the room before the waiting move's append was answered")
		a.moveUntilApplied(room, 1, 2)
		ev = a.until("ack")
	}
	if !strings.Contains(ev["data"], `"m2"`) {
		t.Errorf("a's ack %s; want m2's", ev["data"])
	}
	t.Logf("quorum lost for %v; the players told after %v; a's waiting move released %v after NATS was back (%s)",
		back.Sub(lost).Round(time.Millisecond), waited.Round(time.Millisecond), released.Round(time.Millisecond), ev["data"])
	if got, want := boardOf(b.untilMove(1)), [9]string{"X", "X", "", "", "O"}; got != want {
		t.Errorf("b's board after a's waiting move: %q, want %q", got, want)
	}
	// Sent again (as a client that did not see its ack would), it is
	// acknowledged and not applied again.
	a.moveUntilApplied(room, 1, 2)
	if ack := a.until("ack"); !strings.Contains(ack["data"], `"m2"`) {
		t.Errorf("a's move sent again: %s; want its ack", ack["data"])
	}
	b.moveUntilApplied(room, 8, 2)
	b.until("ack")
	if got, want := boardOf(a.untilMove(8)), [9]string{"X", "X", "", "", "O", "", "", "", "O"}; got != want {
		t.Errorf("a's board: %q, want %q (a's move once)", got, want)
	}
	a.moveUntilApplied(room, 2, 3)
	a.until("finished")
	b.until("finished")

	// n2's game goes on on n1, rebuilt from its log.
	c.moveUntilApplied(room2, 1, 2)
	if _, ok := n1.roomsManager().Room(room2); !ok {
		t.Errorf("n2's room is not on n1")
	}
	if got, want := boardOf(d.untilMove(1)), [9]string{"X", "X", "", "", "O"}; got != want {
		t.Errorf("d's board: %q, want %q", got, want)
	}
	d.moveUntilApplied(room2, 8, 2)
	d.until("ack")
	c.untilMove(8)
	c.moveUntilApplied(room2, 2, 3)
	c.until("finished")
	d.until("finished")

	for _, cell := range []int{1, 8, 2} {
		if n := bMoves.cells[cell]; n != 1 {
			t.Errorf("b saw the move to cell %d %d times; want once", cell, n)
		}
	}
	for _, p := range []*tttPlayer{a, b, c, d} {
		if p.gaps != 0 {
			t.Errorf("%s: %d gaps in p_seq", p.name, p.gaps)
		}
	}
	st := n1.Stats()
	t.Logf("both games over %v after NATS was back; n1: leases lost %d, rooms evicted %d, rebuilt %d, turn log retries %d, items refused %d",
		time.Since(back).Round(time.Millisecond), st.LeasesLost, st.RoomsEvicted, st.RoomsRestored, st.TurnLogRetries, st.RoomItemsRefused)
}
