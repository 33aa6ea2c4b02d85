package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// until reads p's events up to one of type typ and returns it, checking
// that p_seq goes up one by one.
func (p *tttPlayer) until(typ string) map[string]string {
	p.t.Helper()
	for {
		ev := p.s.next()
		p.count(ev)
		if ev["type"] == typ {
			return ev
		}
	}
}

// joinedRoom reads p's events up to its "joined" and returns its room.
func (p *tttPlayer) joinedRoom() string {
	p.t.Helper()
	var j struct {
		Room string `json:"room"`
	}
	json.Unmarshal([]byte(p.until("joined")["data"]), &j)
	return j.Room
}

// untilMove reads p's events up to the "move" of a cell.
func (p *tttPlayer) untilMove(cell int) map[string]string {
	p.t.Helper()
	for {
		ev := p.until("move")
		var m struct {
			Cell int `json:"cell"`
		}
		json.Unmarshal([]byte(ev["data"]), &m)
		if m.Cell == cell {
			return ev
		}
	}
}

// boardOf decodes the board of a "move" or "start" event.
func boardOf(ev map[string]string) [9]string {
	var b struct {
		Board [9]string `json:"board"`
	}
	json.Unmarshal([]byte(ev["data"]), &b)
	return b.Board
}

// moveUntilApplied publishes p's move until a node takes it: while the
// room's node is gone and nobody has rebuilt the room, the publish is
// answered with a nack ("not available, try again"), and the client
// tries again, as the browser library does. The move keeps its id and
// sequence number, so that it is applied once however often it is sent.
func (p *tttPlayer) moveUntilApplied(room string, cell, seq int) (tries int) {
	p.t.Helper()
	q := fmt.Sprintf("p_event=publish&p_format=json&p_id=%s&p_subject=/room/%s&type=move&data=%%7B%%22cell%%22%%3A%d%%7D&move=m%d&seq=%d", p.id, room, cell, seq, seq)
	return p.sendUntilAcked(q, fmt.Sprintf("move to cell %d", cell))
}

// sendUntilAcked sends the publish q until a node takes it (publish-ack),
// every 100 ms, and returns how many tries it took.
func (p *tttPlayer) sendUntilAcked(q, what string) (tries int) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute) // a liveness bound: leases are seconds long
	for {
		tries++
		st, evs := p.ctl.do(q)
		if st == 200 && len(evs) > 0 && evs[0]["p_event"] == "publish-ack" {
			return tries
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s not taken within a minute (last answer %d %v)", p.name, what, st, evs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstTwoMoves waits for the game's start and plays its first two moves:
// a (X) in cell 0, b (O) in cell 4.
func firstTwoMoves(a, b *tttPlayer, room string) {
	a.t.Helper()
	a.until("start")
	b.until("start")
	a.moveUntilApplied(room, 0, 1)
	a.until("ack")
	b.untilMove(0)
	b.moveUntilApplied(room, 4, 1)
	b.until("ack")
	a.untilMove(4)
}

// gameOnAThirdNode starts a tictactoe game on n3 between a, homed on n1,
// and b, homed on n2, and plays its first two moves (a X in cell 0, b O in
// cell 4).
func gameOnAThirdNode(t *testing.T, gn []*gamesNode, plain []*testNode) (a, b *tttPlayer, room string) {
	t.Helper()
	owner := gn[2].node
	a = &tttPlayer{t: t, name: "a"}
	b = &tttPlayer{t: t, name: "b"}
	if err := a.connect(plain[0].addr()); err != nil {
		t.Fatal(err)
	}
	if err := b.connect(plain[1].addr()); err != nil {
		t.Fatal(err)
	}
	m := owner.roomsManager()
	room, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: a.id, PlayerID: "pa", Name: "a"}, rooms.Options{"turn": "60"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(room, rooms.PlayerInfo{SessionID: b.id, PlayerID: "pb", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	firstTwoMoves(a, b, room) // a is X (seat 0) and moves first
	testkit.Eventually(t, "the room's owner record", func() bool { return owner.Stats().OwnerRecords >= 1 })
	return a, b, room
}

// playsOnElsewhere checks that the game of gameOnAThirdNode goes on, its
// node gone: a's move (cell 1), sent at once, is applied once; every
// acknowledged move is on the board; one of n1 and n2 rebuilt the room; the
// game plays to its end without a p_seq gap.
func playsOnElsewhere(t *testing.T, gn []*gamesNode, a, b *tttPlayer, room string, gone time.Time) {
	t.Helper()
	tries := a.moveUntilApplied(room, 1, 2)
	ack := a.until("ack")
	ev := b.untilMove(1)
	t.Logf("the move was taken %v after the owner went, at its %d. try; ack %s", time.Since(gone).Round(time.Millisecond), tries, ack["data"])
	if got, want := boardOf(ev), [9]string{"X", "X", "", "", "O"}; got != want {
		t.Errorf("b's board after the move: %q, want %q (every acknowledged move, the new one once)", got, want)
	}
	var restored int64
	for _, g := range gn[:2] {
		restored += g.node.Stats().RoomsRestored
	}
	if restored != 1 {
		t.Errorf("rooms rebuilt from their turn log: %d, want 1", restored)
	}
	b.moveUntilApplied(room, 8, 2)
	b.until("ack")
	a.untilMove(8)
	a.moveUntilApplied(room, 2, 3)
	if res := a.until("finished"); res["data"] == "" {
		t.Error("no result")
	}
	b.until("finished")
	for _, p := range []*tttPlayer{a, b} {
		if p.gaps != 0 {
			t.Errorf("%s: %d gaps in p_seq", p.name, p.gaps)
		}
	}
}

// TestARoomOutlivesItsNode: the node running a game dies (its NATS server
// stops: its lease is not renewed, its hellos stop) while both players are
// homed on other nodes. Another node takes the room over, rebuilds it from
// its turn log and fences the log; the game goes on: a move sent during the
// outage is applied once, every acknowledged move is on the board, and
// neither player misses an event (p_seq contiguous).
func TestARoomOutlivesItsNode(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	owner := gn[2].node
	a, b, room := gameOnAThirdNode(t, gn, plain)
	// The owner dies: cut off from the others, its rooms gone with it.
	owner.own.stall()
	owner.shutdownNATS()
	died := time.Now()

	playsOnElsewhere(t, gn, a, b, room, died)
}

// TestGracefulStopHandsRoomsOver: a node stopping gracefully hands its
// rooms over at once (their logs stay, its lease is deleted), instead of
// closing them: the game goes on on another node, as after a death.
func TestGracefulStopHandsRoomsOver(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	a, b, room := gameOnAThirdNode(t, gn, plain)
	stopped := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if err := gn[2].gs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gn[2].node.own.stats.handedOver.Load(); got != 1 {
		t.Errorf("rooms handed over: %d, want 1", got)
	}
	gn[2].node.Close()
	playsOnElsewhere(t, gn, a, b, room, stopped)
}

// TestStaleOwnerIsFencedByTheTurnLog: a node stalls past its lease (its
// NATS server, loops and rooms run on); another node takes its room,
// rebuilds it from the turn log and fences the log. The stale owner's next
// item is refused by the log and its room evicted, before it even learns
// of the takeover: two owners never both publish.
func TestStaleOwnerIsFencedByTheTurnLog(t *testing.T) {
	gn, _ := startGamesCluster(t, 3)
	stale := gn[1].node
	m := stale.roomsManager()
	room, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: "n2sa", PlayerID: "pa", Name: "A"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(room, rooms.PlayerInfo{SessionID: "n2sb", PlayerID: "pb", Name: "B"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the room's record and its entries", func() bool {
		st := stale.Stats()
		return st.OwnerRecords == 1 && st.TurnLogAppends >= 2
	})
	resume := stale.own.stall()
	defer resume()
	var taker *Node
	testkit.EventuallyWithin(t, time.Minute, "the room rebuilt on another node", func() bool {
		for _, g := range []*gamesNode{gn[0], gn[2]} {
			if g.node.Stats().RoomsRestored == 1 {
				taker = g.node
				return true
			}
		}
		return false
	})
	if _, ok := taker.roomsManager().Room(room); !ok {
		t.Fatalf("%s rebuilt the room but does not have it", taker.Tag())
	}
	// The stale owner, still unaware, processes an item: its append names
	// the log as it left it, which the taker's fence moved on.
	if err := m.Deliver(room, "n2sa", rooms.Message{Type: "move", Data: []byte(`{"cell":0}`), MoveID: "m1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyWithin(t, time.Minute, "the stale owner's append refused and its room evicted", func() bool {
		_, here := m.Room(room)
		return stale.Stats().TurnLogRefused == 1 && !here
	})
	if _, ok := taker.roomsManager().Room(room); !ok {
		t.Errorf("the room left %s when the stale owner was fenced", taker.Tag())
	}
}

// TestManyRoomsOutliveTheirNode: a node dies with more rooms than the
// restorer rebuilds at once; the other nodes rebuild every one of them
// from its turn log, each on exactly one node, and lose none.
func TestManyRoomsOutliveTheirNode(t *testing.T) {
	gn, _ := startGamesCluster(t, 3)
	owner := gn[2].node
	m := owner.roomsManager()
	const n = 3 * restoreWorkers
	ids := make([]string, n)
	for i := range ids {
		id, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: fmt.Sprintf("n1s%d", i), PlayerID: fmt.Sprintf("p%d", i), Name: "P"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	testkit.Eventually(t, "the rooms' records and their creations in their logs", func() bool {
		st := owner.Stats()
		return st.OwnerRecords == n && st.TurnLogAppends >= n
	})
	owner.own.stall()
	owner.shutdownNATS()
	testkit.EventuallyWithin(t, time.Minute, "every room rebuilt on another node", func() bool {
		return gn[0].node.Stats().RoomsRestored+gn[1].node.Stats().RoomsRestored >= n
	})
	for _, g := range gn[:2] {
		st := g.node.Stats()
		t.Logf("%s: taken over %d, rebuilt %d, lost %d", g.node.Tag(), st.RoomsTakenOver, st.RoomsRestored, st.RoomsLost)
		if st.RoomsLost != 0 {
			t.Errorf("%s lost %d rooms taken over", g.node.Tag(), st.RoomsLost)
		}
	}
	// A room may be taken over again from a survivor whose lease renewals
	// JetStream did not take for a lease's length (a busy machine); the
	// copy left behind is evicted once its node sees the record moved.
	where := func(id string) []string {
		var on []string
		for _, g := range gn[:2] {
			if _, ok := g.node.roomsManager().Room(id); ok {
				on = append(on, g.node.Tag())
			}
		}
		return on
	}
	for _, id := range ids {
		testkit.EventuallyWithin(t, time.Minute, "room "+id+" on one node", func() bool { return len(where(id)) == 1 })
	}
}

// roomLog returns the number of a room's entries in its turn log and the
// first of them (read from node n's JetStream).
func roomLog(t *testing.T, n *Node, room string) (count uint64, first rooms.Entry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	st, err := n.own.js.Stream(ctx, streamRoomLog)
	if err != nil {
		t.Fatal(err)
	}
	subj := roomLogPrefix + room
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	if count = info.State.Subjects[subj]; count == 0 {
		return 0, first
	}
	m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Data, &first); err != nil {
		t.Fatal(err)
	}
	return count, first
}

// TestACompactedRoomOutlivesItsNode: with a snapshot every 2 entries
// (rooms.ManagerOptions.SnapshotEvery), a game's turn log is compacted as
// it is played: once a snapshot is durable, the room's entries before it
// are purged, so its subject holds fewer entries than the room appended,
// beginning with a snapshot. Then the node running the game dies; another
// node takes the room over and rebuilds it from the snapshot and the
// entries after it, and the game goes on as in TestARoomOutlivesItsNode:
// every acknowledged move on the board, the move sent during the outage
// applied once, no p_seq gap. The new owner goes on compacting the log.
func TestACompactedRoomOutlivesItsNode(t *testing.T) {
	const every = 2
	gn, plain := startGamesClusterRooms(t, 3, nil, rooms.ManagerOptions{SnapshotEvery: every})
	owner := gn[2].node
	a, b, room := gameOnAThirdNode(t, gn, plain)
	// The room appended its creation, two joins, two moves (and changes
	// of presence, and snapshots): more than a compacted log keeps.
	var count uint64
	var first rooms.Entry
	// A snapshot and the entries after it (a snapshot appended and not
	// yet purged after it is one more for a moment: hence Eventually).
	testkit.Eventually(t, "the room's log compacted to a snapshot and at most 2 entries", func() bool {
		count, first = roomLog(t, gn[0].node, room)
		return owner.Stats().TurnLogCompactions >= 1 && first.Kind == rooms.EntrySnapshot && count <= every+1
	})
	appended := owner.Stats().TurnLogAppends // this node's only room
	t.Logf("the room appended %d entries; its log holds %d, from a %s", appended, count, first.Kind)
	if count >= uint64(appended) {
		t.Errorf("the room's log holds %d entries of the %d appended", count, appended)
	}
	owner.own.stall()
	owner.shutdownNATS()
	died := time.Now()

	playsOnElsewhere(t, gn, a, b, room, died)
	// The new owner's appends (its fence, the moves) follow the snapshot,
	// and it goes on compacting the log.
	testkit.Eventually(t, "the new owner compacting the room's log", func() bool {
		return gn[0].node.Stats().TurnLogCompactions+gn[1].node.Stats().TurnLogCompactions >= 1
	})
}

// TestACrashedNodesRoomsAreTakenBeforeItsLeaseEnds: a node whose NATS
// server goes (a crash takes it along) loses its routes at once; the
// others take its rooms when its routes have stayed down for routeGrace,
// without waiting for its lease to end: here the leases last an hour, and
// the game goes on all the same.
func TestACrashedNodesRoomsAreTakenBeforeItsLeaseEnds(t *testing.T) {
	gn, plain := startGamesClusterWith(t, 3, func(o *Options) { o.LeaseTTL = time.Hour })
	owner := gn[2].node
	a, b, room := gameOnAThirdNode(t, gn, plain)
	owner.own.stall()
	owner.shutdownNATS()
	playsOnElsewhere(t, gn, a, b, room, time.Now())
}

// TestALateAnswerToAnEvictedRoomsAppend: a node that lost its lease evicts
// its rooms, and may take one back and rebuild it (its fence sets the
// room's last sequence) while the evicted instance's append still waits
// for its answer. That answer, when it comes late, refused or a
// duplicate's, goes to the evicted instance and leaves the rebuilt room's
// sequence alone: the rebuilt room's next append expects the fence's.
func TestALateAnswerToAnEvictedRoomsAppend(t *testing.T) {
	for _, late := range []struct {
		name, ack string
		want      error
	}{
		{"refused", fmt.Sprintf(`{"error":{"code":400,"err_code":%d}}`, jetstream.JSErrCodeStreamWrongLastSequence), errFenced},
		{"a duplicate's", `{"seq":4}`, nil},
	} {
		l := newTurnLog(&Node{opts: Options{Node: "n1"}})
		var staleErr, fenceErr error = errors.New("no answer"), errors.New("no answer")
		l.pending[1] = &logAppend{room: "r", expect: 3, done: func(err error) { staleErr = err }}
		l.last["r"] = 7 // the rebuild read the log to 7 and fences it
		l.pending[2] = &logAppend{room: "r", expect: 7, done: func(err error) { fenceErr = err }}
		l.onAck(&nats.Msg{Subject: l.ackSubject(2), Data: []byte(`{"seq":8}`)})
		l.onAck(&nats.Msg{Subject: l.ackSubject(1), Data: []byte(late.ack)})
		if fenceErr != nil || staleErr != late.want {
			t.Errorf("%s: the fence answered %v, the evicted room's append %v; want nil, %v", late.name, fenceErr, staleErr, late.want)
		}
		if got := l.last["r"]; got != 8 {
			t.Errorf("%s: the room's last sequence after the late answer: %d; want the fence's, 8", late.name, got)
		}
	}
}
