package games

import (
	"testing"

	"github.com/cometplay/cometplay/comet"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// TestHardeningCreateWithNegativeEmptyGrace: a game whose rooms are
// disposed as soon as they are empty (Game.EmptyGrace negative) still
// seats the creator of a new room. (Found by TestHardeningMassKill: the
// empty check ran between the room's creation and its creator's join,
// which Manager.Create enqueues together, and disposed of every new room.)
func TestHardeningCreateWithNegativeEmptyGrace(t *testing.T) {
	game := nim.Game
	game.EmptyGrace = -1
	th := startGames(t, Config{Games: []rooms.Game{game}, NoLobby: true})
	m := th.m
	var ids []string
	for range 2 {
		s, err := th.hub.Join(comet.FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID())
	}
	room, err := m.Create("nim", rooms.PlayerInfo{SessionID: ids[0], PlayerID: "p0", Name: "Ann"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(room, rooms.PlayerInfo{SessionID: ids[1], PlayerID: "p1", Name: "Bob"}); err != nil {
		t.Fatalf("joining the new room: %v", err)
	}
	testkit.EventuallyWithin(t, testkit.Timeout, "both players seated", func() bool {
		info, ok := m.Room(room)
		return ok && len(info.Players) == 2 && info.State == rooms.StatePlaying
	})
	// Empty again: disposed at once.
	m.Leave(room, ids[0])
	m.Leave(room, ids[1])
	testkit.EventuallyWithin(t, testkit.Timeout, "the empty room disposed", func() bool { return m.NumRooms() == 0 })
}
