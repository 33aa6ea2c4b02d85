package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// A game of Nim (rooms/example/nim) between two players, driven through the
// Manager as the engine drives it, with a recording Transport standing in
// for the players' browsers.
func Example() {
	tr := roomstest.NewTransport()
	m := rooms.NewManager(tr, rooms.ManagerOptions{Clock: roomstest.NewClock(), Logger: roomstest.DiscardLogger})
	defer m.Shutdown(context.Background())
	if err := m.Register(nim.Game); err != nil {
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
	id, _ := m.Create("nim", ann, rooms.Options{"stones": "4"})
	_ = m.Join(id, bob) // the second player starts the game
	settle()
	take := func(s, move string, seq, n int) {
		_ = m.Deliver(id, s, rooms.Message{Type: "take", MoveID: move, Seq: seq, Data: json.RawMessage(fmt.Sprint(n))})
		settle()
	}
	take("s-bob", "b1", 1, 1) // not bob's turn
	take("s-ann", "a1", 1, 3)
	take("s-bob", "b1", 1, 1) // takes the last stone

	for _, ev := range tr.Events("s-bob") {
		if ev.Type == "joined" {
			fmt.Println("joined (room id and private token elided)")
			continue
		}
		fmt.Println(ev)
	}
	// Output:
	// joined (room id and private token elided)
	// room-state {"state":"playing","locked":true}
	// heap {"heap":4}
	// turn {"player":{"id":"ann","name":"Ann","seat":0,"connected":true},"deadline_ms":1735689620000,"timeout_ms":20000}
	// state {"heap":4,"stones":4}
	// error {"move":"b1","type":"take","reason":"not your turn"}
	// took {"heap":1,"n":3,"player":"ann"}
	// turn {"player":{"id":"bob","name":"Bob","seat":1,"connected":true},"deadline_ms":1735689620000,"timeout_ms":20000}
	// ack {"move":"b1","seq":1}
	// took {"heap":0,"n":1,"player":"bob"}
	// finished {"result":{"winner":"bob"}}
	// turn {"player":null,"deadline_ms":0,"timeout_ms":0}
	// room-state {"state":"finished","locked":true}
}
