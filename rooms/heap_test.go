//go:build !race

package rooms_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// The race detector's instrumentation allocates, hence the build tag; make
// test runs this in a pass without it.

// nopTransport drops every event: what the test measures is the rooms' own
// heap, not the events they send.
type nopTransport struct{}

func (nopTransport) Send(string, rooms.Event)    {}
func (nopTransport) Publish(string, rooms.Event) {}
func (nopTransport) Subscribe(string, string)    {}
func (nopTransport) Unsubscribe(string, string)  {}

// duel starts when its two players are in, with a turn, as tictactoe does.
type duel struct{}

func (duel) OnCreate(*rooms.Ctx, rooms.Options) error { return nil }
func (duel) OnJoin(ctx *rooms.Ctx, p *rooms.Player) error {
	if ps := ctx.Players(); len(ps) == 2 {
		if err := ctx.Start(); err != nil {
			return err
		}
		ctx.SetTurn(ps[0], 0, nil)
	}
	return nil
}
func (duel) OnMessage(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
	for _, q := range ctx.Players() {
		if q != p {
			ctx.SetTurn(q, 0, nil)
		}
	}
	return nil
}
func (duel) OnLeave(*rooms.Ctx, *rooms.Player, rooms.LeaveReason) {}
func (duel) OnDispose(*rooms.Ctx)                                 {}

// TestAllocatedHeapPerTwoPlayerRoom: what a game of two costs the runtime
// while it is played (the room, its seats, tokens, mailbox, move logs and
// the session index), measured as the live heap it adds. It was
// 3.6 KB before the rooms found their few members without maps and kept
// the logger, the turn clock and a join's details off every room; the
// bound leaves room for the runtime's own noise, not for a map per room.
func TestAllocatedHeapPerTwoPlayerRoom(t *testing.T) {
	const n = 2000
	m := rooms.NewManager(nopTransport{}, rooms.ManagerOptions{})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if err := m.Register(rooms.Game{Name: "duel", New: func() rooms.Room { return duel{} }, MinPlayers: 2, MaxPlayers: 2}); err != nil {
		t.Fatal(err)
	}
	// Everything the test keeps (ids, its own slices) is made before the
	// first reading.
	ids := make([]string, n)
	names := make([][2]string, n)
	for i := range names {
		names[i] = [2]string{fmt.Sprintf("a%05d", i), fmt.Sprintf("b%05d", i)}
	}
	before := testkit.LiveHeap()
	for i := range n {
		a, b := names[i][0], names[i][1]
		id, err := m.Create("duel", rooms.PlayerInfo{SessionID: "s" + a, PlayerID: a, Name: a}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if err := m.Join(id, rooms.PlayerInfo{SessionID: "s" + b, PlayerID: b, Name: b}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, m)
	for seq := 1; seq <= 3; seq++ { // three moves each
		for i, id := range ids {
			for j, p := range names[i] {
				if err := m.Deliver(id, "s"+p, rooms.Message{Type: "move", MoveID: fmt.Sprint("m", seq, j), Seq: seq}); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitIdle(t, m)
	}
	per := (testkit.LiveHeap() - before) / n
	runtime.KeepAlive(ids)
	t.Logf("live heap per two-player room: %d bytes", per)
	if got := m.NumRooms(); got != n {
		t.Fatalf("NumRooms = %d; want %d", got, n)
	}
	const most = 2400
	if per > most {
		t.Errorf("live heap per two-player room = %d bytes; want at most %d", per, most)
	}
}

func waitIdle(t *testing.T, m *rooms.Manager) {
	t.Helper()
	if err := m.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// copierTransport drops every event and says it copies what it keeps (it
// keeps nothing): the rooms may reuse the buffers of their events' data.
type copierTransport struct{ nopTransport }

func (copierTransport) CopiesEventData() bool { return true }

// allocatedPerMove plays moves in n duels through t and returns the bytes
// the process allocated per move.
func allocatedPerMove(t *testing.T, tr rooms.Transport, n int) uint64 {
	m := rooms.NewManager(tr, rooms.ManagerOptions{})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if err := m.Register(rooms.Game{Name: "duel", New: func() rooms.Room { return duel{} }, MinPlayers: 2, MaxPlayers: 2}); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		a, b := fmt.Sprintf("a%05d", i), fmt.Sprintf("b%05d", i)
		id, err := m.Create("duel", rooms.PlayerInfo{SessionID: "s" + a, PlayerID: a, Name: a}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if err := m.Join(id, rooms.PlayerInfo{SessionID: "s" + b, PlayerID: b, Name: b}); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, m)
	msgs := make([][2]rooms.Message, 4)
	for seq := range msgs {
		for j := range 2 {
			msgs[seq][j] = rooms.Message{Type: "move", MoveID: fmt.Sprint("m", seq+1, j), Seq: seq + 1}
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for seq := range msgs {
		for i, id := range ids {
			j := seq % 2 // whoever holds the turn: a, then b
			_ = m.Deliver(id, fmt.Sprintf("s%c%05d", "ab"[j], i), msgs[seq][j])
		}
		waitIdle(t, m)
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n*len(msgs))
}

// TestADataCopierTransportSavesTheEventsData: with a Transport that copies
// what it keeps (the games bridge), a move's events (the ack, the turn) are
// encoded into a buffer the room reuses, not allocated each.
func TestADataCopierTransportSavesTheEventsData(t *testing.T) {
	const n = 1000
	owned := allocatedPerMove(t, nopTransport{}, n)
	reused := allocatedPerMove(t, copierTransport{}, n)
	t.Logf("allocated per move: %d bytes with a Transport that owns the data, %d with a DataCopier", owned, reused)
	// A move sends an ack to the mover (24 bytes of JSON here) and a turn
	// with the next player's summary (96): allocated for good without the
	// reuse (about 90 bytes a move in their size classes, measured).
	if reused+64 > owned {
		t.Errorf("allocated per move: %d bytes with a DataCopier, %d without; want at least 64 fewer", reused, owned)
	}
}
