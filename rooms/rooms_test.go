package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// nimRoom starts a nim game between ann (seat 0, to move) and bob.
func nimRoom(t *testing.T, o rooms.ManagerOptions, games ...rooms.Game) (*roomstest.Harness, string) {
	t.Helper()
	h := roomstest.New(t, o, append([]rooms.Game{nim.Game}, games...)...)
	id := h.Create("nim", "ann", rooms.Options{"stones": "7"})
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := mustRoom(t, h, id).State; got != rooms.StatePlaying {
		t.Fatalf("state = %v; want playing", got)
	}
	h.Take("ann")
	h.Take("bob")
	return h, id
}

func turnOf(t *testing.T, h *roomstest.Harness, id string) string {
	t.Helper()
	var who string
	do(t, h, id, func(c *rooms.Ctx) {
		if p := c.Turn(); p != nil {
			who = p.ID()
		}
	})
	return who
}

func TestJoinEvents(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	id := h.Create("nim", "ann", nil)
	wantTypes(t, h.Take("ann"), "joined", "state")
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	// The joiner: joined first, then what OnJoin broadcast, then the snapshot.
	wantTypes(t, h.Take("bob"), "joined", "room-state", "heap", "turn", "state")
	wantTypes(t, h.Take("ann"), "player-joined", "room-state", "heap", "turn")

	j := data(t, h.Last("bob", "joined"))
	if j["room"] != id || j["game"] != "nim" || j["seat"] != 1.0 || j["state"] != "playing" || j["reconnected"] != false {
		t.Errorf("joined = %v", j)
	}
	if tok, _ := j["token"].(string); len(tok) < 20 {
		t.Errorf("joined token = %q; want a long secret", tok)
	}
	// The token is private: no other event anywhere carries it.
	tok := j["token"].(string)
	for _, name := range []string{"ann", "bob"} {
		for _, r := range h.Events(name) {
			if (r.Type != "joined" || name != "bob") && json.Valid(r.Data) && contains(string(r.Data), tok) {
				t.Errorf("%s's %s event leaks bob's token", name, r.Type)
			}
		}
	}
	if !h.T.Subscribed(roomstest.Session("bob"), "/room/"+id) {
		t.Error("bob not subscribed to the room topic")
	}
	info := mustRoom(t, h, id)
	if info.Label != "Nim, 15 stones" || !info.Locked || len(info.Players) != 2 || info.MaxPlayers != 2 {
		t.Errorf("RoomInfo = %+v", info)
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestJoinRejected(t *testing.T) {
	password := &hooks{
		create: func(c *rooms.Ctx, o rooms.Options) error { return nil },
		join: func(c *rooms.Ctx, p *rooms.Player) error {
			if p.JoinOptions()["password"] != "sesame" {
				return errors.New("wrong password")
			}
			return nil
		},
	}
	g := probeGame(password)
	g.MaxPlayers = 2
	for _, tc := range []struct {
		name   string
		setup  func(h *roomstest.Harness, id string)
		opts   rooms.Options
		reason string
	}{
		{"full", func(h *roomstest.Harness, id string) { h.JoinWith(id, "bob", rooms.Options{"password": "sesame"}) },
			rooms.Options{"password": "sesame"}, "rooms: room is full"},
		{"started", func(h *roomstest.Harness, id string) {
			do(t, h, id, func(c *rooms.Ctx) { _ = c.Start() })
		}, rooms.Options{"password": "sesame"}, "rooms: game already started"},
		{"wrong password", nil, rooms.Options{"password": "open"}, "wrong password"},
		{"no password", nil, nil, "wrong password"},
		{"locked", func(h *roomstest.Harness, id string) { do(t, h, id, func(c *rooms.Ctx) { c.Lock() }) },
			rooms.Options{"password": "sesame"}, "rooms: room is locked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := roomstest.New(t, rooms.ManagerOptions{}, g)
			id := h.Create("probe", "ann", rooms.Options{"password": "sesame"})
			if got := field(t, h, "ann", "joined", "seat"); got != 0.0 {
				t.Fatalf("creator seat = %v; want 0 (the creation options are its join options)", got)
			}
			if tc.setup != nil {
				tc.setup(h, id)
			}
			if err := h.JoinWith(id, "cat", tc.opts); err != nil {
				t.Fatalf("Join = %v; want nil (the rejection is asynchronous)", err)
			}
			rej := data(t, h.Last("cat", "join-rejected"))
			if rej["reason"] != tc.reason || rej["room"] != id {
				t.Errorf("join-rejected = %v; want reason %q", rej, tc.reason)
			}
			if _, ok := h.T.Last(roomstest.Session("cat"), "joined"); ok {
				t.Error("cat got joined too")
			}
			if h.T.Subscribed(roomstest.Session("cat"), "/room/"+id) {
				t.Error("rejected cat is subscribed")
			}
			for _, p := range mustRoom(t, h, id).Players {
				if p.ID == "cat" {
					t.Error("rejected cat is seated")
				}
			}
			if err := h.M.Deliver(id, roomstest.Session("cat"), rooms.Message{Type: "x"}); !errors.Is(err, rooms.ErrNotInRoom) {
				t.Errorf("Deliver from rejected = %v; want ErrNotInRoom", err)
			}
		})
	}
}

func TestJoinSyncErrors(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game, rooms.Game{Name: "solo", New: func() rooms.Room { return &probe{&hooks{}} }})
	if _, err := h.M.Create("chess", roomstest.Player("ann"), nil); !errors.Is(err, rooms.ErrUnknownGame) {
		t.Errorf("Create(unknown) = %v; want ErrUnknownGame", err)
	}
	if err := h.M.Join("nope", roomstest.Player("ann")); !errors.Is(err, rooms.ErrNoRoom) {
		t.Errorf("Join(unknown room) = %v; want ErrNoRoom", err)
	}
	id := h.Create("solo", "ann", nil)
	if err := h.M.Spectate(id, roomstest.Player("bob")); !errors.Is(err, rooms.ErrSpectatorsNotAllowed) {
		t.Errorf("Spectate(no spectators) = %v; want ErrSpectatorsNotAllowed", err)
	}
	bad := roomstest.Player("bob")
	bad.Name = "bob\u202e"
	if err := h.M.Join(id, bad); !errors.Is(err, rooms.ErrBadPlayer) || !errors.Is(err, rooms.ErrInvalidName) {
		t.Errorf("Join(bad name) = %v; want ErrBadPlayer wrapping ErrInvalidName", err)
	}
	if _, err := h.M.Create("solo", roomstest.Player("cat"), rooms.Options{"": "x"}); !errors.Is(err, rooms.ErrBadOptions) {
		t.Errorf("Create(bad options) = %v; want ErrBadOptions", err)
	}
	if err := h.Join(id, "ann"); err != nil {
		t.Fatal(err)
	}
	if got := field(t, h, "ann", "join-rejected", "reason"); got != rooms.ErrAlreadyJoined.Error() {
		t.Errorf("second join reason = %v; want %q", got, rooms.ErrAlreadyJoined)
	}
}

func TestCreateRefused(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	changes := 0
	h.M.OnRoomChange(func(rooms.RoomInfo, bool) { changes++ }) // executor goroutine; read after Settle
	id := h.Create("nim", "ann", rooms.Options{"stones": "lots"})
	if got := field(t, h, "ann", "join-rejected", "reason"); got != "stones must be a number from 1 to 99" {
		t.Errorf("join-rejected reason = %v", got)
	}
	if _, ok := h.M.Room(id); ok || h.M.NumRooms() != 0 {
		t.Errorf("refused room still exists (NumRooms %d)", h.M.NumRooms())
	}
	if changes != 0 {
		t.Errorf("OnRoomChange called %d times for a room never created", changes)
	}
}

func TestMoves(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})

	// Not your turn, stale sequence, the game's own refusal.
	h.Move(id, "bob", "take", "b1", 1, 1)
	if got := data(t, h.Last("bob", "error")); got["reason"] != rooms.ReasonNotYourTurn || got["move"] != "b1" || got["type"] != "take" {
		t.Errorf("bob's early move: error = %v", got)
	}
	h.Move(id, "ann", "take", "a1", 2, 1)
	if got := data(t, h.Last("ann", "error")); got["reason"] != "stale move: expected seq 1" || got["expected"] != 1.0 {
		t.Errorf("stale move: error = %v", got)
	}
	h.Move(id, "ann", "take", "a1", 1, 9)
	if got := field(t, h, "ann", "error", "reason"); got != "send a take move of 1 to 3 stones" {
		t.Errorf("bad take: reason = %v", got)
	}
	if n := h.T.Count(roomstest.Session("bob"), "took"); n != 0 {
		t.Fatalf("refused moves applied: bob saw %d took", n)
	}
	h.Take("ann")

	// A move applies once; its retry is acknowledged again, not re-applied,
	// even with other data.
	h.Move(id, "ann", "take", "a1", 1, 2)
	h.Move(id, "ann", "take", "a1", 1, 2)
	h.Move(id, "ann", "take", "a1", 1, 3)
	ann := h.Take("ann")
	wantTypes(t, ann, "ack", "took", "turn", "ack", "ack")
	for _, i := range []int{0, 3, 4} {
		if d := data(t, ann[i]); d["move"] != "a1" || d["seq"] != 1.0 {
			t.Errorf("ack %d = %v; want move a1 seq 1", i, d)
		}
	}
	if n := h.T.Count(roomstest.Session("bob"), "took"); n != 1 {
		t.Errorf("bob saw %d took; want 1", n)
	}
	// The same sequence number with a new move id is stale.
	h.Move(id, "bob", "take", "b1", 1, 1) // bob's first move: seq 1 is his
	h.Move(id, "ann", "take", "a2", 1, 1)
	if got := field(t, h, "ann", "error", "reason"); got != "stale move: expected seq 2" {
		t.Errorf("reused seq: reason = %v", got)
	}
	h.Move(id, "ann", "take", "a2", 2, 1)
	if got := data(t, h.Last("ann", "ack")); got["move"] != "a2" || got["seq"] != 2.0 {
		t.Errorf("ack = %v", got)
	}
}

func TestMoveNotInProgress(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	id := h.Create("nim", "ann", nil)
	h.Move(id, "ann", "take", "a1", 1, 1)
	if got := field(t, h, "ann", "error", "reason"); got != rooms.ReasonNotInProgress {
		t.Errorf("move while waiting: reason = %v", got)
	}
}

func TestDeliverValidation(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{MaxMessageBytes: 64})
	ann := roomstest.Session("ann")
	for _, tc := range []struct {
		name string
		room string
		sess string
		msg  rooms.Message
		want error
	}{
		{"no room", "nope", ann, rooms.Message{Type: "take"}, rooms.ErrNoRoom},
		{"not in room", id, "sess-zed", rooms.Message{Type: "take"}, rooms.ErrNotInRoom},
		{"empty type", id, ann, rooms.Message{}, rooms.ErrBadMessage},
		{"long type", id, ann, rooms.Message{Type: string(make([]byte, 65))}, rooms.ErrBadMessage},
		{"bad json", id, ann, rooms.Message{Type: "take", Data: json.RawMessage("{")}, rooms.ErrBadMessage},
		{"big data", id, ann, rooms.Message{Type: "take", Data: json.RawMessage(`"` + string(make([]byte, 70)) + `"`)}, rooms.ErrBadMessage},
		{"negative seq", id, ann, rooms.Message{Type: "take", MoveID: "x", Seq: -1}, rooms.ErrBadMessage},
		{"move without seq", id, ann, rooms.Message{Type: "take", MoveID: "x", Data: json.RawMessage("1")}, rooms.ErrBadMessage},
	} {
		if err := h.M.Deliver(tc.room, tc.sess, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("%s: Deliver = %v; want %v", tc.name, err, tc.want)
		}
	}
	// The message is the room's copy: the caller may reuse its buffer.
	buf := []byte("2")
	if err := h.M.Deliver(id, ann, rooms.Message{Type: "take", Data: buf, MoveID: "a1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	buf[0] = '9'
	h.Settle()
	if got := data(t, h.Last("bob", "took")); got["n"] != 2.0 {
		t.Errorf("took = %v; want n 2", got)
	}
}

func TestSpectators(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	if err := h.Spectate(id, "sue"); err != nil {
		t.Fatal(err)
	}
	sue := h.Take("sue")
	wantTypes(t, sue, "joined", "state")
	j := data(t, sue[0])
	if j["seat"] != -1.0 || j["token"] != nil || j["state"] != "playing" {
		t.Errorf("spectator's joined = %v; want seat -1, no token", j)
	}
	if got := data(t, sue[1]); got["heap"] != 7.0 {
		t.Errorf("spectator's state = %v", got)
	}
	if err := h.M.Deliver(id, roomstest.Session("sue"), rooms.Message{Type: "take", MoveID: "s1", Seq: 1, Data: json.RawMessage("1")}); !errors.Is(err, rooms.ErrSpectator) {
		t.Errorf("spectator's move: Deliver = %v; want ErrSpectator", err)
	}
	h.Move(id, "ann", "take", "a1", 1, 1)
	if got := data(t, h.Last("sue", "took")); got["heap"] != 6.0 {
		t.Errorf("spectator missed the broadcast: %v", got)
	}
	if got := mustRoom(t, h, id); got.Spectators != 1 || len(got.Players) != 2 {
		t.Errorf("RoomInfo = %+v", got)
	}
	h.End("sue")
	if got := mustRoom(t, h, id).Spectators; got != 0 {
		t.Errorf("spectators after their session ended = %d", got)
	}
	if h.T.Subscribed(roomstest.Session("sue"), "/room/"+id) {
		t.Error("ended spectator still subscribed")
	}
}

// EndSessions ends the sessions it is told are gone, as if each had
// ended (a cluster node does so for a node that died): their seats drop,
// the others' do not.
func TestEndSessionsDropsTheSeatsOfTheSessionsGone(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	if n := h.M.EndSessions(func(s string) bool { return s == roomstest.Session("ann") }); n != 1 {
		t.Errorf("EndSessions = %d; want 1", n)
	}
	h.Settle()
	if _, ok := h.T.Last(roomstest.Session("bob"), "player-dropped"); !ok {
		t.Error("bob got no player-dropped")
	}
	if ps := mustRoom(t, h, id).Players; ps[0].Connected || !ps[1].Connected {
		t.Errorf("players = %+v; want ann dropped, bob connected", ps)
	}
	if n := h.M.EndSessions(func(string) bool { return true }); n != 1 {
		t.Errorf("EndSessions of every session again = %d; want 1 (bob; ann has ended already)", n)
	}
}

func TestReconnectWithinWindowKeepsSeatAndTurn(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	h.Detach("ann")
	if got := data(t, h.Last("bob", "player-dropped")); got["window_ms"] != 30000.0 {
		t.Errorf("player-dropped = %v", got)
	}
	if p := mustRoom(t, h, id).Players[0]; p.ID != "ann" || p.Connected {
		t.Errorf("held seat = %+v; want ann, not connected", p)
	}
	h.Advance(10 * time.Second)
	h.Attach("ann")
	if _, ok := h.T.Last(roomstest.Session("bob"), "player-reconnected"); !ok {
		t.Error("bob got no player-reconnected")
	}
	if got := turnOf(t, h, id); got != "ann" {
		t.Errorf("turn after reconnect = %q; want ann", got)
	}
	if got := data(t, h.Last("ann", "state")); got["heap"] != 7.0 {
		t.Errorf("state sent on reconnect = %v", got)
	}
	h.Move(id, "ann", "take", "a1", 1, 1)
	if _, ok := h.T.Last(roomstest.Session("ann"), "ack"); !ok {
		t.Error("ann cannot move after reconnecting")
	}
	// The window no longer runs.
	h.Advance(rooms.DefaultReconnectWindow)
	if _, ok := h.T.Last(roomstest.Session("bob"), "player-left"); ok {
		t.Error("ann dropped after reconnecting")
	}
}

func TestReclaimByToken(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	h.Move(id, "ann", "take", "a1", 1, 1)
	h.Move(id, "bob", "take", "b1", 1, 1)
	token := h.Token("ann")
	h.End("ann") // the old session is gone; the token still reclaims

	fresh := rooms.PlayerInfo{SessionID: "sess-ann-2", PlayerID: "someone", Name: "Someone"}
	if err := h.M.Reclaim("forged", fresh); !errors.Is(err, rooms.ErrBadToken) {
		t.Errorf("Reclaim(forged) = %v; want ErrBadToken", err)
	}
	if err := h.M.Reclaim(token, fresh); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	j := data(t, h.T.Events("sess-ann-2")[0])
	player := j["player"].(map[string]any)
	if j["reconnected"] != true || j["seat"] != 0.0 || player["id"] != "ann" || player["name"] != "ann" || j["seq"] != 1.0 {
		t.Errorf("joined after reclaim = %v", j)
	}
	if j["token"] == token || j["token"] == "" {
		t.Error("the token was not rotated")
	}
	if turn := j["turn"].(map[string]any)["player"].(map[string]any)["id"]; turn != "ann" {
		t.Errorf("joined.turn = %v; want ann", turn)
	}
	if got := turnOf(t, h, id); got != "ann" {
		t.Errorf("turn = %q; want ann", got)
	}
	if _, ok := h.T.Last(roomstest.Session("bob"), "player-reconnected"); !ok {
		t.Error("bob got no player-reconnected")
	}
	if err := h.M.Reclaim(token, rooms.PlayerInfo{SessionID: "sess-thief"}); !errors.Is(err, rooms.ErrBadToken) {
		t.Errorf("Reclaim(old token) = %v; want ErrBadToken", err)
	}
	// The new session moves as ann, with ann's sequence.
	if err := h.M.Deliver(id, "sess-ann-2", rooms.Message{Type: "take", MoveID: "a2", Seq: 2, Data: json.RawMessage("1")}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if got, ok := h.T.Last("sess-ann-2", "ack"); !ok || data(t, got)["seq"] != 2.0 {
		t.Errorf("ack for the reclaimed seat = %v", got)
	}
	if h.T.Subscribed(roomstest.Session("ann"), "/room/"+id) {
		t.Error("the old session is still subscribed")
	}
}

func TestReclaimFromLiveSessionKicksIt(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	token := h.Token("ann")
	if err := h.M.Reclaim(token, rooms.PlayerInfo{SessionID: "sess-ann-tab2"}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if got := field(t, h, "ann", "kicked", "reason"); got != rooms.ReasonReclaimed {
		t.Errorf("old session's kicked reason = %v", got)
	}
	if _, ok := h.T.Last(roomstest.Session("bob"), "player-reconnected"); ok {
		t.Error("player-reconnected for a player who never dropped")
	}
	if err := h.M.Deliver(id, roomstest.Session("ann"), rooms.Message{Type: "x"}); !errors.Is(err, rooms.ErrNotInRoom) {
		t.Errorf("old session Deliver = %v; want ErrNotInRoom", err)
	}
}

func TestReconnectWindowExpiry(t *testing.T) {
	g := &hooks{leave: func(c *rooms.Ctx, p *rooms.Player, r rooms.LeaveReason) {
		if c.State() == rooms.StatePlaying {
			c.Finish(map[string]string{"loser": p.ID(), "why": r.String()})
		}
	}}
	game := probeGame(g)
	game.ReconnectWindow = 5 * time.Second
	h := roomstest.New(t, rooms.ManagerOptions{}, game)
	id := h.Create("probe", "ann", nil)
	h.Join(id, "bob")
	do(t, h, id, func(c *rooms.Ctx) { _ = c.Start() })
	h.Detach("bob")
	if got := field(t, h, "ann", "player-dropped", "window_ms"); got != 5000.0 {
		t.Errorf("window_ms = %v", got)
	}
	h.Advance(5*time.Second - time.Millisecond)
	if n := g.log.count("leave"); n != 0 {
		t.Fatalf("OnLeave called %d times before the window expired", n)
	}
	h.Advance(time.Millisecond)
	if got := g.log.get(); !slices.Contains(got, "leave bob dropped") {
		t.Errorf("hook calls = %v; want leave bob dropped", got)
	}
	left := data(t, h.Last("ann", "player-left"))
	if left["reason"] != "dropped" || left["player"].(map[string]any)["id"] != "bob" {
		t.Errorf("player-left = %v", left)
	}
	if got := data(t, h.Last("ann", "finished"))["result"]; got.(map[string]any)["why"] != "dropped" {
		t.Errorf("finished = %v; want the game's outcome", got)
	}
	if err := h.M.Reclaim(h.Token("bob"), roomstest.Player("bob")); !errors.Is(err, rooms.ErrBadToken) {
		t.Errorf("Reclaim after expiry = %v; want ErrBadToken", err)
	}
}

func TestDetachReportedBeforeJoinProcessed(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(&hooks{}))
	id := h.Create("probe", "ann", nil)
	if err := h.M.Join(id, roomstest.Player("bob")); err != nil {
		t.Fatal(err)
	}
	h.M.SessionEnded(roomstest.Session("bob")) // before the join is processed
	h.Settle()
	if _, ok := h.T.Last(roomstest.Session("ann"), "player-dropped"); !ok {
		t.Error("a seat taken by an ended session is not held as dropped")
	}
	h.Advance(rooms.DefaultReconnectWindow)
	if got := field(t, h, "ann", "player-left", "reason"); got != "dropped" {
		t.Errorf("player-left reason = %v", got)
	}
}

// A session whose listen connection is gone when it is seated (a
// quick-match of someone who closed the tab) starts in the reconnect window.
func TestDetachedSessionIsSeatedHeld(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(&hooks{}))
	id := h.Create("probe", "ann", nil)
	h.Detach("bob") // bob is in no room yet
	h.Join(id, "bob")
	if _, ok := h.T.Last(roomstest.Session("ann"), "player-dropped"); !ok {
		t.Error("a detached session was seated as connected")
	}
	h.Attach("bob")
	if _, ok := h.T.Last(roomstest.Session("ann"), "player-reconnected"); !ok {
		t.Error("no player-reconnected after Attached")
	}
	// Attached forgets the detachment: a later seat is connected.
	h.Detach("cat")
	h.Attach("cat")
	h.Join(id, "cat")
	if n := h.T.Count(roomstest.Session("ann"), "player-dropped"); n != 1 {
		t.Errorf("player-dropped %d times; want 1", n)
	}
}

func TestTurnDeadlineRunsTimeoutAction(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	var deadline time.Time
	do(t, h, id, func(c *rooms.Ctx) { deadline = c.TurnDeadline() })
	if want := roomstest.Epoch.Add(nim.TurnTimeout); !deadline.Equal(want) {
		t.Errorf("TurnDeadline = %v; want %v", deadline, want)
	}
	h.Advance(nim.TurnTimeout - time.Millisecond)
	if n := h.T.Count(roomstest.Session("bob"), "took"); n != 0 {
		t.Fatalf("timeout action ran early")
	}
	h.Advance(time.Millisecond)
	if got := data(t, h.Last("bob", "took")); got["player"] != "ann" || got["n"] != 1.0 {
		t.Errorf("took = %v; want the timeout action (ann takes 1)", got)
	}
	turn := data(t, h.Last("bob", "turn"))
	if turn["player"].(map[string]any)["id"] != "bob" || turn["timeout_ms"] != 20000.0 {
		t.Errorf("turn = %v", turn)
	}
	// A move in time cancels the deadline.
	h.Move(id, "bob", "take", "b1", 1, 1)
	h.Advance(nim.TurnTimeout - time.Millisecond)
	if got := data(t, h.Last("bob", "took")); got["player"] != "bob" {
		t.Errorf("a stale deadline fired: %v", got)
	}
}

func TestRematch(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	h.Send(id, "ann", "rematch", nil)
	if got := field(t, h, "ann", "error", "reason"); got != rooms.ReasonNoRematch {
		t.Errorf("rematch while playing: reason = %v", got)
	}
	for i, who := range []string{"ann", "bob", "ann"} { // 7 stones: 3+3+1
		n, seq := []int{3, 3, 1}[i], []int{1, 1, 2}[i]
		h.Move(id, who, "take", fmt.Sprint(who, i), seq, n)
	}
	if got := data(t, h.Last("bob", "finished"))["result"].(map[string]any)["winner"]; got != "ann" {
		t.Fatalf("winner = %v", got)
	}
	if info := mustRoom(t, h, id); info.State != rooms.StateFinished {
		t.Fatalf("state = %v", info.State)
	}
	h.Send(id, "bob", "rematch", nil)
	if got := data(t, h.Last("ann", "rematch-vote")); got["votes"] != 1.0 || got["needed"] != 2.0 {
		t.Errorf("rematch-vote = %v", got)
	}
	h.Take("ann")
	h.Send(id, "ann", "rematch", nil)
	wantTypes(t, h.Take("ann"), "rematch-vote", "room-state", "heap", "turn")
	if got := mustRoom(t, h, id).State; got != rooms.StatePlaying {
		t.Errorf("state after rematch = %v", got)
	}
	if got := turnOf(t, h, id); got != "bob" {
		t.Errorf("first to move in the rematch = %q; want bob", got)
	}
	// Sequences carry on; move ids are the new game's: ann's "ann0", a
	// move of the last game, is a new move here, applied (not acked as a
	// retry), and a late retry of the last game's move with its own seq is
	// refused as stale, not applied.
	h.Move(id, "bob", "take", "bob-r", 2, 1)
	h.Take("ann")
	h.Move(id, "ann", "take", "ann2", 2, 1)
	if got := field(t, h, "ann", "error", "reason"); got != "stale move: expected seq 3" {
		t.Errorf("a retry from the last game: reason = %v; want stale", got)
	}
	h.Move(id, "ann", "take", "ann0", 3, 1)
	ann := h.Take("ann")
	wantTypes(t, ann, "error", "ack", "took", "turn")
	if got := data(t, ann[1]); got["move"] != "ann0" || got["seq"] != 3.0 {
		t.Errorf("ack = %v; want ann0 applied as seq 3", got)
	}
	if got := data(t, ann[2]); got["player"] != "ann" || got["heap"] != 5.0 {
		t.Errorf("took = %v; want ann's stone taken from 6", got)
	}
}

func TestKick(t *testing.T) {
	var g *hooks
	g = &hooks{message: func(c *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
		if m.Type == "kick" {
			c.Kick(c.Player(string(m.Data[1:len(m.Data)-1])), "be nice")
			if n := len(c.Players()); n != 1 {
				g.log.add("players during kick hook: %d", n)
			}
		}
		return nil
	}}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	h.Join(id, "bob")
	h.Send(id, "ann", "kick", "bob")
	if got := field(t, h, "bob", "kicked", "reason"); got != "be nice" {
		t.Errorf("kicked reason = %v", got)
	}
	if got := field(t, h, "ann", "player-left", "reason"); got != "kicked" {
		t.Errorf("player-left reason = %v", got)
	}
	calls := g.log.get()
	if i := slices.Index(calls, "leave bob kicked"); i < 0 || i != slices.Index(calls, "message ann kick \"bob\"")+1 {
		t.Errorf("calls = %v; want OnLeave(kicked) right after the kicking hook", calls)
	}
	if h.T.Subscribed(roomstest.Session("bob"), "/room/"+id) {
		t.Error("kicked bob still subscribed")
	}
}

func TestLeave(t *testing.T) {
	g := &hooks{}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	h.Join(id, "bob")
	if err := h.Leave(id, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := field(t, h, "ann", "player-left", "reason"); got != "left" {
		t.Errorf("player-left reason = %v", got)
	}
	if err := h.Leave(id, "bob"); !errors.Is(err, rooms.ErrNotInRoom) {
		t.Errorf("second Leave = %v; want ErrNotInRoom", err)
	}
	if n := g.log.count("leave bob left"); n != 1 {
		t.Errorf("OnLeave(left) called %d times", n)
	}
	// bob can take a seat again; he gets the lowest free one.
	h.Join(id, "bob")
	if got := field(t, h, "bob", "joined", "seat"); got != 1.0 {
		t.Errorf("seat = %v", got)
	}
}

func TestEmptyRoomDisposedAfterGrace(t *testing.T) {
	g := &hooks{}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	var removed []string
	h.M.OnRoomChange(func(info rooms.RoomInfo, gone bool) {
		if gone {
			removed = append(removed, info.ID) // read after Settle
		}
	})
	id := h.Create("probe", "ann", nil)
	h.Leave(id, "ann")
	h.Advance(rooms.DefaultEmptyGrace / 2)
	// Someone joining in the grace period keeps the room.
	h.Join(id, "bob")
	h.Advance(rooms.DefaultEmptyGrace)
	if _, ok := h.M.Room(id); !ok {
		t.Fatal("room with a player disposed")
	}
	h.Leave(id, "bob")
	h.Advance(rooms.DefaultEmptyGrace - time.Millisecond)
	if _, ok := h.M.Room(id); !ok {
		t.Fatal("room disposed before the grace period")
	}
	h.Advance(time.Millisecond)
	if _, ok := h.M.Room(id); ok || h.M.NumRooms() != 0 {
		t.Fatal("empty room not disposed after the grace period")
	}
	if !slices.Equal(removed, []string{id}) || g.log.count("dispose") != 1 {
		t.Errorf("removed = %v, dispose calls %d", removed, g.log.count("dispose"))
	}
	if err := h.M.Join(id, roomstest.Player("cat")); !errors.Is(err, rooms.ErrNoRoom) {
		t.Errorf("Join(disposed) = %v; want ErrNoRoom", err)
	}
}

func TestHeldSeatKeepsRoomAlive(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(&hooks{}))
	id := h.Create("probe", "ann", nil)
	h.Detach("ann")
	h.Advance(rooms.DefaultReconnectWindow - time.Second)
	if _, ok := h.M.Room(id); !ok {
		t.Fatal("room with a held seat disposed")
	}
	h.Advance(time.Second + rooms.DefaultEmptyGrace)
	if _, ok := h.M.Room(id); ok {
		t.Fatal("room not disposed after window + grace")
	}
}

func TestTimersCancelledOnDispose(t *testing.T) {
	fired := map[string]int{}
	g := &hooks{create: func(c *rooms.Ctx, _ rooms.Options) error {
		c.After(10*time.Second, func(*rooms.Ctx) { fired["after"]++ })
		c.Every(time.Second, func(*rooms.Ctx) { fired["every"]++ })
		stopped := c.After(time.Second, func(*rooms.Ctx) { fired["stopped"]++ })
		if !stopped.Stop() || stopped.Stop() {
			fired["bad stop"]++
		}
		return nil
	}}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	h.Advance(2500 * time.Millisecond)
	if fired["every"] != 2 || fired["after"] != 0 || fired["stopped"] != 0 || fired["bad stop"] != 0 {
		t.Fatalf("fired = %v; want every 2", fired)
	}
	do(t, h, id, func(c *rooms.Ctx) { c.Dispose() })
	if got := field(t, h, "ann", "closed", "reason"); got != rooms.ReasonDisposed {
		t.Errorf("closed reason = %v", got)
	}
	if n := h.C.Pending(); n != 0 {
		t.Errorf("%d clock timers still armed after dispose", n)
	}
	h.Advance(time.Minute)
	if fired["every"] != 2 || fired["after"] != 0 {
		t.Errorf("timers fired after dispose: %v", fired)
	}
}

func TestTicks(t *testing.T) {
	var dts []time.Duration
	game := rooms.Game{Name: "ticker", New: func() rooms.Room { return &ticker{probe{&hooks{}}, &dts} }, TickRate: 100 * time.Millisecond}
	h := roomstest.New(t, rooms.ManagerOptions{}, game)
	id := h.Create("ticker", "ann", nil)
	h.Advance(time.Second)
	if len(dts) != 10 {
		t.Fatalf("ticks = %d; want 10", len(dts))
	}
	for _, dt := range dts {
		if dt != 100*time.Millisecond {
			t.Fatalf("dt = %v; want 100ms", dt)
		}
	}
	do(t, h, id, func(c *rooms.Ctx) { c.Dispose() })
	h.Advance(time.Second)
	if len(dts) != 10 {
		t.Errorf("ticks after dispose: %d", len(dts))
	}
}

type ticker struct {
	probe
	dts *[]time.Duration
}

func (tk *ticker) OnTick(_ *rooms.Ctx, dt time.Duration) { *tk.dts = append(*tk.dts, dt) }

// TestShutdownEndsGamesWithoutAWinner: a shutdown ends a game in progress
// with no winner: nim, which gives a forfeit to whoever is left when a
// player leaves a game in progress, is finished by the runtime with
// {reason: "shutdown"} before its players leave, so the first seat to leave
// does not hand the second the game. A game already finished keeps its
// result; a waiting room gets no "finished".
func TestShutdownEndsGamesWithoutAWinner(t *testing.T) {
	h, playing := nimRoom(t, rooms.ManagerOptions{})
	done := h.Create("nim", "cat", rooms.Options{"stones": "1"})
	if err := h.Join(done, "dan"); err != nil {
		t.Fatal(err)
	}
	h.Move(done, "cat", "take", "c1", 1, 1)
	h.Create("nim", "eve", nil)
	for _, n := range []string{"cat", "dan", "eve"} {
		h.Take(n)
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := h.M.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "bob"} {
		evs := h.Take(name)
		types := roomstest.Types(evs)
		fin, closed := slices.Index(types, "finished"), slices.Index(types, "closed")
		if fin < 0 || closed < fin || slices.Index(types[fin+1:], "finished") >= 0 {
			t.Fatalf("%s in %s: events %v; want one finished, then closed", name, playing, types)
		}
		if got := data(t, evs[fin])["result"].(map[string]any)["reason"]; got != "shutdown" {
			t.Errorf("%s: result reason %q; want shutdown", name, got)
		}
		if r := data(t, evs[fin])["result"].(map[string]any); len(r) != 1 {
			t.Errorf("%s: result %v; want only the reason, no winner", name, r)
		}
	}
	for _, name := range []string{"cat", "dan", "eve"} {
		if types := roomstest.Types(h.Take(name)); slices.Contains(types, "finished") || !slices.Contains(types, "closed") {
			t.Errorf("%s (a room finished before, or waiting): events at shutdown %v; want closed, no finished", name, types)
		}
	}
}

func TestShutdown(t *testing.T) {
	g := &hooks{}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	a := h.Create("probe", "ann", nil)
	b := h.Create("probe", "bob", nil)
	h.Spectate(a, "sue")
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := h.M.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	calls := g.log.get()
	for _, want := range []string{"leave ann shutdown", "leave bob shutdown"} {
		if !slices.Contains(calls, want) {
			t.Errorf("calls = %v; missing %q", calls, want)
		}
	}
	if g.log.count("dispose") != 2 {
		t.Errorf("dispose calls = %d; want 2", g.log.count("dispose"))
	}
	for _, name := range []string{"ann", "bob", "sue"} {
		if got := field(t, h, name, "closed", "reason"); got != rooms.ReasonShutdown {
			t.Errorf("%s closed reason = %v", name, got)
		}
	}
	if _, err := h.M.Create("probe", roomstest.Player("cat"), nil); !errors.Is(err, rooms.ErrClosed) {
		t.Errorf("Create after Shutdown = %v; want ErrClosed", err)
	}
	if h.M.NumRooms() != 0 || h.T.NumTopics() != 0 {
		t.Errorf("after Shutdown: %d rooms, %d topics with subscribers", h.M.NumRooms(), h.T.NumTopics())
	}
	_, _ = a, b
}

func TestRoomInfoAndChanges(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	var infos []rooms.RoomInfo
	h.M.OnRoomChange(func(info rooms.RoomInfo, removed bool) { infos = append(infos, info) })
	id := h.Create("nim", "ann", rooms.Options{"label": "ignored: nim sets its own"})
	h.Join(id, "bob")
	if len(infos) < 2 {
		t.Fatalf("changes = %d", len(infos))
	}
	last := infos[len(infos)-1]
	if last.State != rooms.StatePlaying || len(last.Players) != 2 || !last.Locked || last.MinPlayers != 2 {
		t.Errorf("last change = %+v", last)
	}
	b, _ := json.Marshal(last)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "game", "label", "state", "players", "spectators", "min_players", "max_players", "locked"} {
		if _, ok := m[k]; !ok {
			t.Errorf("RoomInfo JSON lacks %q: %s", k, b)
		}
	}
	if m["state"] != "playing" {
		t.Errorf("state JSON = %v", m["state"])
	}
	if got := h.M.Rooms("nim"); len(got) != 1 || got[0].ID != id {
		t.Errorf("Rooms(nim) = %+v", got)
	}
	if got := h.M.Rooms("chess"); len(got) != 0 {
		t.Errorf("Rooms(chess) = %+v", got)
	}
}

func TestLabelFromOptions(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(&hooks{}))
	id := h.Create("probe", "ann", rooms.Options{"label": "  Friday\x00 night\u200b "})
	if got := mustRoom(t, h, id).Label; got != "Friday night" {
		t.Errorf("label = %q", got)
	}
}

func TestCtxOutsideHookPanics(t *testing.T) {
	var kept *rooms.Ctx
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(&hooks{create: func(c *rooms.Ctx, _ rooms.Options) error {
		kept = c
		return nil
	}}))
	h.Create("probe", "ann", nil)
	defer func() {
		if recover() == nil {
			t.Error("using a Ctx outside its hooks did not panic")
		}
	}()
	kept.Broadcast("x", nil)
}

func TestStrings(t *testing.T) {
	for r, want := range map[rooms.LeaveReason]string{rooms.LeaveLeft: "left", rooms.LeaveDropped: "dropped", rooms.LeaveKicked: "kicked", rooms.LeaveShutdown: "shutdown"} {
		if got := r.String(); got != want {
			t.Errorf("LeaveReason(%d).String() = %q; want %q", int(r), got, want)
		}
	}
	for s, want := range map[rooms.State]string{rooms.StateWaiting: "waiting", rooms.StatePlaying: "playing", rooms.StateFinished: "finished", rooms.StateDisposed: "disposed"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", int(s), got, want)
		}
		var back rooms.State
		if err := back.UnmarshalText([]byte(want)); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", want, back, err)
		}
	}
}

func TestRegister(t *testing.T) {
	m := rooms.NewManager(roomstest.NewTransport(), rooms.ManagerOptions{Executors: 1, Logger: roomstest.DiscardLogger})
	defer shutdown(t, m)
	newRoom := func() rooms.Room { return &probe{&hooks{}} }
	for _, tc := range []struct {
		name string
		g    rooms.Game
		want error
	}{
		{"no name", rooms.Game{New: newRoom}, rooms.ErrBadGame},
		{"slash", rooms.Game{Name: "a/b", New: newRoom}, rooms.ErrBadGame},
		{"no New", rooms.Game{Name: "x"}, rooms.ErrBadGame},
		{"max < min", rooms.Game{Name: "x", New: newRoom, MinPlayers: 3, MaxPlayers: 2}, rooms.ErrBadGame},
		{"ok", rooms.Game{Name: "x", New: newRoom}, nil},
		{"twice", rooms.Game{Name: "x", New: newRoom}, rooms.ErrGameExists},
	} {
		if err := m.Register(tc.g); !errors.Is(err, tc.want) {
			t.Errorf("%s: Register = %v; want %v", tc.name, err, tc.want)
		}
	}
	g, ok := m.Game("x")
	if !ok || g.MinPlayers != 1 || g.MaxPlayers != 1 || g.ReconnectWindow != rooms.DefaultReconnectWindow ||
		g.EmptyGrace != rooms.DefaultEmptyGrace || g.MaxSpectators != rooms.DefaultMaxSpectators {
		t.Errorf("defaults: %+v", g)
	}
	o := m.Options()
	if o.MailboxSize != rooms.DefaultMailboxSize || o.TopicPrefix != "/room/" || o.Executors != 1 {
		t.Errorf("options: %+v", o)
	}
}

// TestWaitingRoomCaps: a player, and the players of one address, may have
// only so many rooms waiting for players (the flood made 5,000 in
// 5 s from 40 sessions of one address). A room counts from Create until it
// starts or goes; rooms without a creator (quick-match) do not count; an
// IPv6 /64 is one address.
func TestWaitingRoomCaps(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{MaxWaitingPerPlayer: 2, MaxWaitingPerAddr: 3}, nim.Game)
	who := func(name, addr string) rooms.PlayerInfo {
		p := roomstest.Player(name)
		p.Addr = addr
		return p
	}
	create := func(p rooms.PlayerInfo) (string, error) {
		t.Helper()
		id, err := h.M.Create("nim", p, nil)
		h.Settle()
		return id, err
	}
	mustCreate := func(p rooms.PlayerInfo) string {
		t.Helper()
		id, err := create(p)
		if err != nil {
			t.Fatalf("%s from %s: Create = %v", p.Name, p.Addr, err)
		}
		return id
	}
	refused := func(p rooms.PlayerInfo, why string) {
		t.Helper()
		if _, err := create(p); !errors.Is(err, rooms.ErrTooManyRooms) || !strings.Contains(err.Error(), why) {
			t.Fatalf("%s from %s: Create = %v; want ErrTooManyRooms (%s)", p.Name, p.Addr, err, why)
		}
	}
	ann, bob, cat := who("ann", "192.0.2.1"), who("bob", "192.0.2.1:4242"), who("cat", "192.0.2.1")
	a1 := mustCreate(ann)
	mustCreate(ann)
	refused(ann, "per player")
	mustCreate(bob) // the same address (the port does not matter): its 3rd
	refused(cat, "from one address")
	mustCreate(who("dan", "192.0.2.2")) // another address
	for range 3 {
		h.Create("nim", "", nil) // quick-match rooms have no creator
	}

	// A room that starts no longer counts.
	if err := h.Join(a1, "eve"); err != nil {
		t.Fatal(err)
	}
	if got := mustRoom(t, h, a1).State; got != rooms.StatePlaying {
		t.Fatalf("state = %v", got)
	}
	a3 := mustCreate(ann)
	refused(ann, "per player")
	refused(cat, "from one address")

	// Nor does one that goes (its creator left; empty for EmptyGrace).
	if err := h.Leave(a3, "ann"); err != nil {
		t.Fatal(err)
	}
	refused(cat, "from one address") // still there, empty, for the grace
	h.Advance(rooms.DefaultEmptyGrace)
	if _, ok := h.M.Room(a3); ok {
		t.Fatal("the empty room is still there")
	}
	mustCreate(cat)

	// IPv6: a /64 is one address.
	v6 := []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "[2001:db8:1:2::7]:80", "2001:db8:1:2::5"}
	for i, addr := range v6[:3] {
		mustCreate(who(fmt.Sprint("v", i), addr))
	}
	refused(who("v3", v6[3]), "from one address")
	mustCreate(who("w", "2001:db8:1:3::1")) // the next /64

	// No cap.
	h2 := roomstest.New(t, rooms.ManagerOptions{MaxWaitingPerPlayer: -1, MaxWaitingPerAddr: -1}, nim.Game)
	for i := range 10 {
		if _, err := h2.M.Create("nim", who("zed", "192.0.2.9"), nil); err != nil {
			t.Fatalf("room %d without caps: %v", i, err)
		}
	}
	if got := h.M.Options(); got.MaxWaitingPerPlayer != 2 || got.MaxWaitingPerAddr != 3 {
		t.Errorf("options = %+v", got)
	}
	if got := roomstest.New(t, rooms.ManagerOptions{}).M.Options(); got.MaxWaitingPerPlayer != rooms.DefaultMaxWaitingPerPlayer || got.MaxWaitingPerAddr != rooms.DefaultMaxWaitingPerAddr {
		t.Errorf("default options = %+v", got)
	}
}

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:8080", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::/64"},
		{"[2001:db8::1]:443", "2001:db8::/64"},
		{"2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"", ""},
		{"not an address", "not an address"},
	} {
		if got := rooms.AddrKey(tc.in); got != tc.want {
			t.Errorf("AddrKey(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestStartedRoomNobodySitsInClosesAtOnce: a room whose game started or
// ended and whose last seated player left can never be sat in again (joins
// are for waiting rooms), so it closes at once, without the EmptyGrace a
// waiting room gets; its spectators are told why. A held seat still keeps
// it.
func TestStartedRoomNobodySitsInClosesAtOnce(t *testing.T) {
	for _, finish := range []bool{false, true} {
		t.Run(map[bool]string{false: "playing", true: "finished"}[finish], func(t *testing.T) {
			g := &hooks{message: func(c *rooms.Ctx, _ *rooms.Player, m rooms.Message) error {
				switch m.Type {
				case "start":
					return c.Start()
				case "finish":
					c.Finish(nil)
				}
				return nil
			}}
			h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
			id := h.Create("probe", "ann", nil)
			if err := h.Join(id, "bob"); err != nil {
				t.Fatal(err)
			}
			if err := h.Spectate(id, "cat"); err != nil {
				t.Fatal(err)
			}
			if err := h.Send(id, "ann", "start", nil); err != nil {
				t.Fatal(err)
			}
			if finish {
				if err := h.Send(id, "ann", "finish", nil); err != nil {
					t.Fatal(err)
				}
			}
			h.Detach("bob") // a held seat counts as seated
			if err := h.Leave(id, "ann"); err != nil {
				t.Fatal(err)
			}
			if _, ok := h.M.Room(id); !ok {
				t.Fatal("room disposed while bob's seat is held")
			}
			h.Advance(rooms.DefaultReconnectWindow) // bob's window ends: nobody sits in it
			if _, ok := h.M.Room(id); ok {
				t.Fatal("a started room nobody sits in is still there")
			}
			if got := field(t, h, "cat", "closed", "reason"); got != rooms.ReasonEmpty {
				t.Errorf("spectator told %v; want %q", got, rooms.ReasonEmpty)
			}
			if n := g.log.count("dispose"); n != 1 {
				t.Errorf("OnDispose ran %d times", n)
			}
		})
	}
}

func TestEvictSaysNothing(t *testing.T) {
	g := &hooks{}
	h := roomstest.New(t, rooms.ManagerOptions{}, probeGame(g))
	a := h.Create("probe", "ann", nil)
	b := h.Create("probe", "bob", nil)
	h.Spectate(a, "sue")
	var removed []string
	h.M.OnRoomChange(func(info rooms.RoomInfo, gone bool) {
		if gone {
			removed = append(removed, info.ID)
		}
	})
	for _, n := range []string{"ann", "bob", "sue"} {
		h.Take(n)
	}
	if ids := h.M.RoomIDs(); len(ids) != 2 || !slices.Contains(ids, a) || !slices.Contains(ids, b) {
		t.Fatalf("RoomIDs = %v; want %s and %s", ids, a, b)
	}
	if err := h.M.Evict(a); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	for _, n := range []string{"ann", "sue"} {
		if evs := h.Take(n); len(evs) != 0 {
			t.Errorf("%s got %v after the eviction of its room; want nothing", n, roomstest.Types(evs))
		}
	}
	if _, ok := h.M.Room(a); ok {
		t.Error("evicted room still listed")
	}
	if !slices.Equal(removed, []string{a}) {
		t.Errorf("rooms reported removed %v; want [%s]", removed, a)
	}
	calls := g.log.get()
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "leave") }) || g.log.count("dispose") != 1 {
		t.Errorf("hooks %v; want OnDispose once and no OnLeave", calls)
	}
	if err := h.Send(a, "ann", "ping", nil); !errors.Is(err, rooms.ErrNoRoom) {
		t.Errorf("a message to the evicted room: %v; want ErrNoRoom", err)
	}
	if err := h.M.Evict(a); !errors.Is(err, rooms.ErrNoRoom) {
		t.Errorf("second Evict: %v; want ErrNoRoom", err)
	}
	// The other room is untouched.
	if err := h.Join(b, "cat"); err != nil {
		t.Fatal(err)
	}
	if evs := h.Take("bob"); len(evs) == 0 {
		t.Error("the other room's player got nothing when someone joined it")
	}
}
