//go:build !race

package lobby_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// The race detector's instrumentation allocates, hence the build tag; make
// test runs this in a pass without it.

// TestAllocatedHeapPerListedRoom: what the lobby keeps of each room it lists
// (its info, once, shared by the sorted list of all rooms, and the seats
// and names of its players), measured as the live heap a lobby adds over a
// Manager holding the rooms: 401 bytes a room of one player. It was 618
// when the list and the sorted list held a copy of the info each; the bound
// leaves room for the runtime's noise, not for a second copy.
func TestAllocatedHeapPerListedRoom(t *testing.T) {
	const n = 4000
	m := rooms.NewManager(roomstest.NewTransport(), rooms.ManagerOptions{Logger: roomstest.DiscardLogger, MaxWaitingPerAddr: -1, MaxWaitingPerPlayer: -1})
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if err := m.Register(nim.Game); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := fmt.Sprintf("p%05d", i)
		if _, err := m.Create(nim.Game.Name, rooms.PlayerInfo{SessionID: "s" + p, PlayerID: p, Name: p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := testkit.LiveHeap()
	l := lobby.New(m, roomstest.NewTransport(), lobby.Options{Logger: roomstest.DiscardLogger, QueueSize: 1, AuthQueue: 1, AuthWorkers: 1})
	t.Cleanup(l.Close)
	per := (testkit.LiveHeap() - before) / n
	t.Logf("live heap per listed room: %d bytes", per)
	if got, err := l.NumListed(t.Context()); err != nil || got != n {
		t.Fatalf("rooms listed = %d (%v); want %d", got, err, n)
	}
	const most = 480
	if per > most {
		t.Errorf("live heap per listed room = %d bytes; want at most %d", per, most)
	}
}
