package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// A room of more places than it scans (smallRoom, 8) finds its members
// through maps it builds on the way: seats and spectators are found, moved
// and forgotten the same either way.
func TestLargeRoomsFindTheirMembers(t *testing.T) {
	for _, c := range []struct {
		name             string
		seats, spectates int
	}{
		{"seats=2 spectators=0", 2, 0},
		{"seats=4 spectators=12 (grows past the scan)", 4, 12},
		{"seats=20 spectators=3 (indexed from the start)", 20, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &hooks{}
			g := probeGame(h)
			g.MaxPlayers = c.seats
			h2 := roomstest.New(t, rooms.ManagerOptions{}, g)
			id := h2.Create("probe", "p0", nil)
			for i := 1; i < c.seats; i++ {
				if err := h2.Join(id, fmt.Sprint("p", i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range c.spectates {
				if err := h2.Spectate(id, fmt.Sprint("s", i)); err != nil {
					t.Fatal(err)
				}
			}
			info := mustRoom(t, h2, id)
			if len(info.Players) != c.seats || info.Spectators != c.spectates {
				t.Fatalf("room has %d players, %d spectators; want %d, %d", len(info.Players), info.Spectators, c.seats, c.spectates)
			}
			do(t, h2, id, func(ctx *rooms.Ctx) {
				for i := range c.seats {
					if p := ctx.Player(fmt.Sprint("p", i)); p == nil || p.Seat() != i {
						t.Errorf("Player(p%d) = %v; want seat %d", i, p, i)
					}
				}
				for i := range c.spectates {
					if p := ctx.Player(fmt.Sprint("s", i)); p == nil || !p.Spectator() {
						t.Errorf("Player(s%d) = %v; want a spectator", i, p)
					}
				}
				if p := ctx.Player("nobody"); p != nil {
					t.Errorf("Player(nobody) = %v; want nil", p)
				}
			})
			last := fmt.Sprint("p", c.seats-1)
			if err := h2.Send(id, last, "hello", nil); err != nil {
				t.Fatal(err)
			}
			if n := h.log.count("message " + last + " hello"); n != 1 {
				t.Errorf("OnMessage from %s called %d times; want 1", last, n)
			}
			if c.spectates > 0 {
				err := h2.M.Deliver(id, roomstest.Session("s0"), rooms.Message{Type: "take", MoveID: "x", Seq: 1, Data: json.RawMessage("1")})
				if !errors.Is(err, rooms.ErrSpectator) {
					t.Errorf("spectator's move: Deliver = %v; want ErrSpectator", err)
				}
				if err := h2.Leave(id, "s0"); err != nil {
					t.Fatal(err)
				}
			}
			// A seat taken over by a new session (its token) is found under it.
			tok := h2.Token("p0")
			if err := h2.M.Reclaim(tok, rooms.PlayerInfo{SessionID: roomstest.Session("p0bis"), PlayerID: "p0", Name: "p0"}); err != nil {
				t.Fatal(err)
			}
			h2.Settle()
			if err := h2.Send(id, "p0bis", "again", nil); err != nil {
				t.Fatal(err)
			}
			if n := h.log.count("message p0 again"); n != 1 {
				t.Errorf("OnMessage from the reclaimed seat called %d times; want 1", n)
			}
			if err := h2.Send(id, "p0", "stale", nil); !errors.Is(err, rooms.ErrNotInRoom) {
				t.Errorf("message from the seat's old session: %v; want ErrNotInRoom", err)
			}
			if err := h2.Leave(id, last); err != nil {
				t.Fatal(err)
			}
			info = mustRoom(t, h2, id)
			if want := max(c.spectates-1, 0); len(info.Players) != c.seats-1 || info.Spectators != want {
				t.Errorf("after two leaves: %d players, %d spectators; want %d, %d", len(info.Players), info.Spectators, c.seats-1, want)
			}
			do(t, h2, id, func(ctx *rooms.Ctx) {
				if p := ctx.Player(last); p != nil {
					t.Errorf("Player(%s) after it left = %v; want nil", last, p)
				}
			})
		})
	}
}
