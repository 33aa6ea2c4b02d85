package nim_test

import (
	"testing"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

func TestSmoke(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 2}, nim.Game)
	id := h.Create("nim", "ann", rooms.Options{"stones": "5"})
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Events("ann") {
		t.Log("ann", r)
	}
	for _, r := range h.Events("bob") {
		t.Log("bob", r)
	}
	h.Move(id, "ann", "take", "m1", 1, 3)
	h.Move(id, "bob", "take", "m1", 1, 2)
	for _, r := range h.Events("bob") {
		t.Log("bob", r)
	}
	info, _ := h.M.Room(id)
	t.Log(info)
}
