package ttt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// A game of tictactoe between Ann and Bob, driven through the Manager as
// the engine drives it, with a recording Transport standing in for the
// browsers. Sue watches; what her browser receives is printed.
func Example() {
	tr := roomstest.NewTransport()
	m := rooms.NewManager(tr, rooms.ManagerOptions{Clock: roomstest.NewClock(), Logger: roomstest.DiscardLogger})
	defer m.Shutdown(context.Background())
	if err := m.Register(ttt.Game); err != nil {
		panic(err)
	}
	settle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.WaitIdle(ctx); err != nil {
			panic(err)
		}
	}

	ann := rooms.PlayerInfo{SessionID: "s-ann", PlayerID: "ann", Name: "Ann"}
	bob := rooms.PlayerInfo{SessionID: "s-bob", PlayerID: "bob", Name: "Bob"}
	sue := rooms.PlayerInfo{SessionID: "s-sue", PlayerID: "sue", Name: "Sue"}
	id, _ := m.Create(ttt.Name, ann, nil)
	_ = m.Join(id, bob) // the second player starts the game: Ann is X
	_ = m.Spectate(id, sue)
	settle()
	move := func(s string, seq, cell int) {
		err := m.Deliver(id, s, rooms.Message{Type: "move", MoveID: fmt.Sprintf("%s-%d", s, seq), Seq: seq,
			Data: json.RawMessage(fmt.Sprintf(`{"cell":%d}`, cell))})
		if err != nil {
			fmt.Println("refused:", err)
		}
		settle()
	}
	move("s-ann", 1, 0)
	move("s-bob", 1, 4)
	move("s-ann", 2, 1)
	move("s-bob", 2, 8)
	move("s-ann", 3, 2) // the top row
	move("s-sue", 1, 5) // spectators cannot act

	for _, ev := range tr.Events("s-sue") {
		switch ev.Type {
		case "joined":
			fmt.Println("joined as a spectator:", ev.Map()["seat"])
		case "move":
			var d struct {
				Player, Mark string
				Cell         int
				Board        [9]string
			}
			_ = ev.Decode(&d)
			fmt.Printf("move %s plays %s at %d\n", d.Player, d.Mark, d.Cell)
			if filled(d.Board) == 5 {
				fmt.Println(grid(d.Board))
			}
		case "turn":
			var d struct{ Player *struct{ Name string } }
			_ = ev.Decode(&d)
			if d.Player != nil {
				fmt.Println("turn", d.Player.Name)
			}
		default:
			fmt.Println(ev)
		}
	}
	// Output:
	// refused: rooms: spectators cannot act
	// joined as a spectator: -1
	// state {"board":["","","","","","","","",""],"deadline_ms":0,"marks":{"ann":"X","bob":"O"},"result":null,"state":"playing","turn":"ann","turn_time_s":0}
	// move ann plays X at 0
	// turn Bob
	// move bob plays O at 4
	// turn Ann
	// move ann plays X at 1
	// turn Bob
	// move bob plays O at 8
	// turn Ann
	// move ann plays X at 2
	// X X X
	// . O .
	// . . O
	// finished {"result":{"winner":"ann","mark":"X","line":[0,1,2],"reason":"line"}}
	// room-state {"state":"finished","locked":true}
}

// filled counts the marks on a board.
func filled(b [9]string) int {
	n := 0
	for _, c := range b {
		if c != "" {
			n++
		}
	}
	return n
}

// grid draws a board, one row a line.
func grid(b [9]string) string {
	var sb strings.Builder
	for i, c := range b {
		if c == "" {
			c = "."
		}
		sb.WriteString(c)
		switch {
		case i == 8:
		case i%3 == 2:
			sb.WriteString("\n")
		default:
			sb.WriteString(" ")
		}
	}
	return sb.String()
}
