package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// TestPlaceRoom: a new room goes to the home node of its creator (or, for
// a quick-match, of the less loaded of its players' homes) while that node
// holds at most placementSlack more rooms than the least loaded one,
// else to the least loaded node.
func TestPlaceRoom(t *testing.T) {
	for _, c := range []struct {
		name  string
		loads map[string]int
		homes []string
		want  string
	}{
		{"the creator's home is the least loaded", map[string]int{"n1": 5, "n2": 3, "n3": 4}, []string{"n2"}, "n2"},
		{"the creator's home within the slack", map[string]int{"n1": 10, "n2": 12, "n3": 11}, []string{"n2"}, "n2"},
		{"the creator's home past the slack", map[string]int{"n1": 10, "n2": 13, "n3": 11}, []string{"n2"}, "n1"},
		{"the slack grows with the counts", map[string]int{"n1": 320, "n2": 330, "n3": 331}, []string{"n2"}, "n2"},
		{"… by a 32nd", map[string]int{"n1": 320, "n2": 331, "n3": 331}, []string{"n3"}, "n1"},
		{"an empty cluster", map[string]int{"n1": 0, "n2": 0, "n3": 0}, []string{"n3"}, "n3"},
		{"a creator of a node that is gone", map[string]int{"n1": 4, "n2": 2, "n3": 3}, []string{"n4"}, "n2"},
		{"two players: the less loaded of their homes", map[string]int{"n1": 10, "n2": 12, "n3": 11}, []string{"n2", "n3"}, "n3"},
		{"two players, both homes past the slack", map[string]int{"n1": 10, "n2": 13, "n3": 14}, []string{"n3", "n2"}, "n1"},
		{"two players of one node", map[string]int{"n1": 1, "n2": 0, "n3": 0}, []string{"n1", "n1"}, "n1"},
		{"no creator's home: the least loaded, the smallest tag among equals", map[string]int{"n1": 4, "n2": 2, "n3": 2}, nil, "n2"},
	} {
		if got := placeRoom(c.loads, c.homes...); got != c.want {
			t.Errorf("%s: placeRoom(%v, %q) = %q, want %q", c.name, c.loads, c.homes, got, c.want)
		}
	}
}

// TestLobbyCallsWaitForNoQuietNode: the lobby's calls on another node's
// rooms run on its goroutine; one for a node not heard of lately is
// answered "not available" at once, not after a request's timeout (this
// node has no NATS connection: a request would fail the test).
func TestLobbyCallsWaitForNoQuietNode(t *testing.T) {
	n := &Node{peers: map[string]time.Time{"n2": time.Now().Add(-2 * peerTimeout)}}
	d := &directory{n: n}
	for _, tag := range []string{"n2", "n3"} {
		if _, err := d.call(tag, roomCall{Op: "join", Room: tag + "-r"}); !errors.Is(err, errNodeUnavailable) {
			t.Errorf("a call on quiet node %s: %v, want %v", tag, err, errNodeUnavailable)
		}
	}
}

// TestJoinAllOnAnotherNode: the lobby's JoinAll seats a quick-match's
// players in a room of another node with one call, in their order, and
// answers each player's error apart (a room that is not there: every one).
func TestJoinAllOnAnotherNode(t *testing.T) {
	gn, _ := startGamesCluster(t, 3)
	d := gn[0].node.games.dir
	room, err := gn[1].gs.Rooms().Create(ttt.Name, rooms.PlayerInfo{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.owner(room) != "n2" {
		t.Fatalf("room %s: owner %q for n1's directory, want n2", room, d.owner(room))
	}
	ps := []rooms.PlayerInfo{
		{SessionID: "n1" + strings.Repeat("a", 20), PlayerID: "pa", Name: "Ann"},
		{SessionID: "n3" + strings.Repeat("b", 20), PlayerID: "pb", Name: "Bob"},
	}
	calls := gn[0].node.Stats().RoomCallsOut
	if errs := d.JoinAll(room, ps); len(errs) != 2 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("JoinAll = %v, want two nil errors", errs)
	}
	if got := gn[0].node.Stats().RoomCallsOut - calls; got != 1 {
		t.Errorf("JoinAll made %d room calls, want 1", got)
	}
	testkit.Eventually(t, "both players seated on n2, in their order", func() bool {
		info, ok := gn[1].gs.Rooms().Room(room)
		return ok && len(info.Players) == 2 && info.Players[0].Name == "Ann" && info.Players[0].Seat == 0 && info.Players[1].Name == "Bob" && info.Players[1].Seat == 1
	})
	calls = gn[0].node.Stats().RoomCallsOut
	errs := d.JoinAll("n2-nosuchroom", ps)
	if got := gn[0].node.Stats().RoomCallsOut - calls; got != 1 {
		t.Errorf("JoinAll to n2's room made %d room calls, want 1", got)
	}
	if len(errs) != 2 || !errors.Is(errs[0], rooms.ErrNoRoom) || !errors.Is(errs[1], rooms.ErrNoRoom) {
		t.Errorf("JoinAll to a room n2 does not have = %v, want ErrNoRoom for each", errs)
	}
}
