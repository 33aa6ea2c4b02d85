package ttt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// game is a room with Ann (seat 0) and Bob (seat 1) seated, so playing;
// play sends moves with the right sequence numbers.
type game struct {
	t   *testing.T
	h   *roomstest.Harness
	id  string
	seq map[string]int
}

func newGame(t *testing.T, opts rooms.Options) *game {
	t.Helper()
	h := roomstest.New(t, rooms.ManagerOptions{Logger: roomstest.DiscardLogger}, ttt.Game)
	id := h.Create(ttt.Name, "ann", opts)
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	return &game{t: t, h: h, id: id, seq: map[string]int{}}
}

// move sends player's next move to cell.
func (g *game) move(player string, cell int) {
	g.t.Helper()
	g.seq[player]++
	n := g.seq[player]
	if err := g.h.Move(g.id, player, "move", fmt.Sprintf("%s%d", player, n), n, map[string]int{"cell": cell}); err != nil {
		g.t.Fatalf("move %s %d: %v", player, cell, err)
	}
	// A refused move does not count: the seat's sequence stays.
	if r, ok := g.h.T.Last(roomstest.Session(player), "ack"); !ok || r.Map()["move"] != fmt.Sprintf("%s%d", player, n) {
		g.seq[player]--
	}
}

// play alternates moves, X first; x says who plays X.
func (g *game) play(x, o string, cells ...int) {
	g.t.Helper()
	for i, c := range cells {
		if i%2 == 0 {
			g.move(x, c)
		} else {
			g.move(o, c)
		}
	}
}

// result returns the result of the last "finished" event player received.
func (g *game) result(player string) ttt.Result {
	g.t.Helper()
	var d struct{ Result ttt.Result }
	if err := g.h.Last(player, "finished").Decode(&d); err != nil {
		g.t.Fatal(err)
	}
	return d.Result
}

// lastError returns the reason of the last "error" event player received.
func (g *game) lastError(player string) string {
	g.t.Helper()
	r, ok := g.h.T.Last(roomstest.Session(player), "error")
	if !ok {
		return ""
	}
	s, _ := r.Map()["reason"].(string)
	return s
}

func (g *game) finished() bool {
	info, _ := g.h.M.Room(g.id)
	return info.State == rooms.StateFinished
}

func TestWinLines(t *testing.T) {
	for _, line := range [][3]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6}, {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}} {
		t.Run(fmt.Sprint(line), func(t *testing.T) {
			g := newGame(t, nil)
			// O takes the first two cells off the line: two marks never win.
			var other []int
			for c := range 9 {
				if !slices.Contains(line[:], c) {
					other = append(other, c)
				}
			}
			g.play("ann", "bob", line[0], other[0], line[1], other[1])
			if g.finished() {
				t.Fatal("finished before the third mark")
			}
			g.move("ann", line[2])
			got := g.result("bob")
			want := ttt.Result{Winner: "ann", Mark: "X", Line: line[:], Reason: "line"}
			if got.Winner != want.Winner || got.Mark != want.Mark || !slices.Equal(got.Line, want.Line) || got.Reason != want.Reason || got.Draw {
				t.Errorf("result = %+v; want %+v", got, want)
			}
			g.move("bob", other[2])
			if reason := g.lastError("bob"); reason != rooms.ReasonNotInProgress {
				t.Errorf("move after the win: error %q; want %q", reason, rooms.ReasonNotInProgress)
			}
		})
	}
}

func TestOWins(t *testing.T) {
	g := newGame(t, nil)
	g.play("ann", "bob", 0, 2, 1, 4, 8, 6)
	got := g.result("ann")
	if got.Winner != "bob" || got.Mark != "O" || !slices.Equal(got.Line, []int{2, 4, 6}) || got.Reason != "line" {
		t.Errorf("result = %+v; want bob, O, line 2 4 6", got)
	}
}

func TestDraw(t *testing.T) {
	g := newGame(t, nil)
	// X O X / X O O / O X X
	g.play("ann", "bob", 0, 1, 2, 4, 3, 5, 7, 6)
	if g.finished() {
		t.Fatal("finished after eight moves")
	}
	g.move("ann", 8)
	if got := g.result("bob"); !got.Draw || got.Winner != "" || got.Reason != "draw" || got.Line != nil {
		t.Errorf("result = %+v; want a draw", got)
	}
}

func TestIllegalMoves(t *testing.T) {
	g := newGame(t, nil)
	g.move("ann", 4)
	for _, tc := range []struct {
		name string
		data any
		want string
	}{
		{"taken", map[string]int{"cell": 4}, "cell 4 is taken"},
		{"negative", map[string]int{"cell": -1}, `send {"cell": 0..8} as a move`},
		{"past the board", map[string]int{"cell": 9}, `send {"cell": 0..8} as a move`},
		{"not a number", map[string]string{"cell": "a"}, `send {"cell": 0..8} as a move`},
		{"no cell", map[string]int{"row": 1}, `send {"cell": 0..8} as a move`},
		{"not an object", 3, `send {"cell": 0..8} as a move`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := g.h.Move(g.id, "bob", "move", "bad-"+tc.name, 1, tc.data); err != nil {
				t.Fatal(err)
			}
			if got := g.lastError("bob"); got != tc.want {
				t.Errorf("error = %q; want %q", got, tc.want)
			}
		})
	}
	// Not a move: no move id.
	if err := g.h.Send(g.id, "bob", "move", map[string]int{"cell": 1}); err != nil {
		t.Fatal(err)
	}
	if got := g.lastError("bob"); got != `send {"cell": 0..8} as a move` {
		t.Errorf("message without a move id: error %q", got)
	}
	// Refused moves left the board and the turn alone.
	g.move("bob", 0)
	if r := g.h.Last("ann", "move").Map(); r["cell"] != 0.0 || r["mark"] != "O" {
		t.Errorf("bob's move after the refusals: %v", r)
	}
}

func TestTurnOrder(t *testing.T) {
	g := newGame(t, nil)
	for _, tc := range []struct {
		name   string
		player string
		cell   int
		seq    int
		want   string // error reason; "" for a move applied
	}{
		{"O cannot start", "bob", 0, 1, rooms.ReasonNotYourTurn},
		{"X starts", "ann", 0, 1, ""},
		{"X cannot move twice", "ann", 1, 2, rooms.ReasonNotYourTurn},
		{"stale sequence", "bob", 1, 2, "stale move: expected seq 1"},
		{"O moves", "bob", 1, 1, ""},
		{"O cannot move twice", "bob", 2, 2, rooms.ReasonNotYourTurn},
		{"X again", "ann", 2, 2, ""},
	} {
		id := fmt.Sprintf("%s-%d-%d", tc.player, tc.seq, tc.cell)
		if err := g.h.Move(g.id, tc.player, "move", id, tc.seq, map[string]int{"cell": tc.cell}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ack, acked := g.h.T.Last(roomstest.Session(tc.player), "ack")
		applied := acked && ack.Map()["move"] == id
		if tc.want == "" && !applied {
			t.Errorf("%s: not applied (error %q)", tc.name, g.lastError(tc.player))
		}
		if tc.want != "" && (applied || g.lastError(tc.player) != tc.want) {
			t.Errorf("%s: error %q (applied %v); want %q", tc.name, g.lastError(tc.player), applied, tc.want)
		}
	}
	var turn struct{ Player struct{ ID string } }
	if err := g.h.Last("ann", "turn").Decode(&turn); err != nil || turn.Player.ID != "bob" {
		t.Errorf("turn = %+v (%v); want bob", turn, err)
	}
}

func TestForfeit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		leave  func(g *game)
		reason string
	}{
		{"left", func(g *game) { g.h.Leave(g.id, "ann") }, "left"},
		{"dropped", func(g *game) {
			g.h.Detach("ann")
			if g.finished() {
				g.t.Fatal("a lost connection forfeits before the reconnect window")
			}
			if r := g.h.Last("bob", "player-dropped").Map(); r["window_ms"] != float64(rooms.DefaultReconnectWindow.Milliseconds()) {
				g.t.Errorf("player-dropped = %v", r)
			}
			g.h.Advance(rooms.DefaultReconnectWindow)
		}, "dropped"},
		{"session ended", func(g *game) {
			g.h.End("ann")
			g.h.Advance(rooms.DefaultReconnectWindow)
		}, "dropped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGame(t, nil)
			g.play("ann", "bob", 4, 0)
			tc.leave(g)
			got := g.result("bob")
			if got.Winner != "bob" || got.Mark != "O" || got.Reason != tc.reason || got.Line != nil {
				t.Errorf("result = %+v; want bob wins (O) by %s", got, tc.reason)
			}
		})
	}
}

// TestShutdownNoWinner: a server shutdown is nobody's forfeit: the game in
// progress ends with the reason "shutdown" and no winner (it used to go to
// the seat that left last, seat 1).
func TestShutdownNoWinner(t *testing.T) {
	g := newGame(t, nil)
	g.play("ann", "bob", 4, 0)
	ctx, cancel := context.WithTimeout(context.Background(), roomstest.SettleTimeout)
	defer cancel()
	if err := g.h.M.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ann", "bob"} {
		if got := g.result(p); got.Winner != "" || got.Mark != "" || got.Line != nil || got.Draw || got.Reason != "shutdown" {
			t.Errorf("%s: result = %+v; want no winner, reason shutdown", p, got)
		}
		if n := g.h.T.Count(roomstest.Session(p), "finished"); n != 1 {
			t.Errorf("%s: %d finished events; want 1", p, n)
		}
	}
}

func TestReconnectKeepsTheGame(t *testing.T) {
	g := newGame(t, nil)
	g.play("ann", "bob", 4, 0)
	g.h.Detach("ann")
	g.h.Advance(rooms.DefaultReconnectWindow / 2)
	g.h.Attach("ann")
	g.h.Advance(rooms.DefaultReconnectWindow)
	if g.finished() {
		t.Fatal("the game ended although ann came back within the window")
	}
	var st struct {
		Board [9]string
		Turn  string
		Marks map[string]string
	}
	if err := g.h.Last("ann", "state").Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Board[4] != "X" || st.Board[0] != "O" || st.Turn != "ann" || st.Marks["ann"] != "X" {
		t.Errorf("snapshot after the reconnection = %+v", st)
	}
	g.move("ann", 8)
	if r := g.h.Last("bob", "move").Map(); r["cell"] != 8.0 {
		t.Errorf("ann's move after reconnecting: %v", r)
	}
}

func TestTurnClock(t *testing.T) {
	g := newGame(t, rooms.Options{"turn": "2"})
	if info, _ := g.h.M.Room(g.id); info.Label != "Tictactoe, 2 s per move" {
		t.Errorf("label = %q", info.Label)
	}
	var turn struct {
		Player    struct{ ID string }
		TimeoutMS int64 `json:"timeout_ms"`
	}
	if err := g.h.Last("bob", "turn").Decode(&turn); err != nil || turn.Player.ID != "ann" || turn.TimeoutMS != 2000 {
		t.Errorf("first turn = %+v (%v); want ann with 2000 ms", turn, err)
	}
	// A move in time hands the clock over, fresh.
	g.h.Advance(1500 * time.Millisecond)
	g.move("ann", 4)
	g.h.Advance(1500 * time.Millisecond)
	if g.finished() {
		t.Fatal("bob lost on time with 500 ms left")
	}
	g.h.Advance(500 * time.Millisecond)
	if got := g.result("ann"); got.Winner != "ann" || got.Mark != "X" || got.Reason != "timeout" {
		t.Errorf("result = %+v; want ann wins (X) on time", got)
	}
}

func TestNoClockNoTimeout(t *testing.T) {
	g := newGame(t, rooms.Options{"turn": "0"})
	if info, _ := g.h.M.Room(g.id); info.Label != "Tictactoe" {
		t.Errorf("label = %q", info.Label)
	}
	g.h.Advance(time.Hour)
	if g.finished() {
		t.Fatal("a game without a clock ended on its own")
	}
}

func TestTurnOption(t *testing.T) {
	for _, turn := range []string{"-1", "301", "two", "1.5"} {
		h := roomstest.New(t, rooms.ManagerOptions{Logger: roomstest.DiscardLogger}, ttt.Game)
		h.Create(ttt.Name, "ann", rooms.Options{"turn": turn})
		want := "turn must be a number of seconds from 0 to 300"
		if got := h.Last("ann", "join-rejected").Map()["reason"]; got != want {
			t.Errorf("turn=%s: join-rejected %v; want %q", turn, got, want)
		}
	}
}

func TestRematchAlternatesX(t *testing.T) {
	g := newGame(t, nil)
	g.play("ann", "bob", 0, 3, 1, 4, 2) // ann (X) wins
	g.h.Send(g.id, "ann", "rematch", nil)
	if got := g.h.Last("bob", "rematch-vote").Map(); got["votes"] != 1.0 || got["needed"] != 2.0 {
		t.Errorf("rematch-vote = %v", got)
	}
	g.h.Send(g.id, "bob", "rematch", nil)
	var start struct {
		Board [9]string
		Marks map[string]string
		First string
	}
	if err := g.h.Last("ann", "start").Decode(&start); err != nil {
		t.Fatal(err)
	}
	if start.First != "bob" || start.Marks["bob"] != "X" || start.Marks["ann"] != "O" || start.Board != [9]string{} {
		t.Errorf("rematch start = %+v; want an empty board, bob X and first", start)
	}
	// Bob (X) moves first now; ann may not.
	g.move("ann", 0)
	if got := g.lastError("ann"); got != rooms.ReasonNotYourTurn {
		t.Errorf("ann first in the rematch: error %q; want %q", got, rooms.ReasonNotYourTurn)
	}
	g.play("bob", "ann", 0, 1, 2, 4, 3, 5, 7, 6, 8) // a draw
	if got := g.result("ann"); !got.Draw {
		t.Fatalf("result = %+v; want a draw", got)
	}
	g.h.Send(g.id, "bob", "rematch", nil)
	g.h.Send(g.id, "ann", "rematch", nil)
	if err := g.h.Last("bob", "start").Decode(&start); err != nil {
		t.Fatal(err)
	}
	if start.First != "ann" || start.Marks["ann"] != "X" {
		t.Errorf("second rematch start = %+v; want ann X again", start)
	}
	// No rematch while playing.
	g.h.Send(g.id, "ann", "rematch", nil)
	if got := g.lastError("ann"); got != rooms.ReasonNoRematch {
		t.Errorf("rematch while playing: error %q; want %q", got, rooms.ReasonNoRematch)
	}
}

func TestSpectator(t *testing.T) {
	g := newGame(t, nil)
	g.play("ann", "bob", 4)
	if err := g.h.Spectate(g.id, "sue"); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Board [9]string
		Turn  string
		State string
	}
	if err := g.h.Last("sue", "state").Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Board[4] != "X" || st.Turn != "bob" || st.State != "playing" {
		t.Errorf("spectator's snapshot = %+v", st)
	}
	if err := g.h.Move(g.id, "sue", "move", "s1", 1, map[string]int{"cell": 0}); !errors.Is(err, rooms.ErrSpectator) {
		t.Errorf("spectator's move: %v; want %v", err, rooms.ErrSpectator)
	}
	g.move("bob", 0)
	if r := g.h.Last("sue", "move").Map(); r["cell"] != 0.0 || r["mark"] != "O" {
		t.Errorf("spectator saw %v", r)
	}
}
