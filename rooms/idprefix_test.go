package rooms_test

import (
	"strings"
	"testing"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// IDPrefix begins every room id and reconnection token, and a token still
// finds its seat.
func TestIDPrefix(t *testing.T) {
	g := &hooks{}
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 1, IDPrefix: "n2-"}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	if !strings.HasPrefix(id, "n2-") {
		t.Fatalf("room id %q does not begin with the prefix", id)
	}
	tok := h.Token("ann")
	if !strings.HasPrefix(tok, "n2-") {
		t.Fatalf("token %q does not begin with the prefix", tok)
	}
	if room, who, ok := h.M.TokenOwner(tok); !ok || room != id || who.Name == "" {
		t.Fatalf("TokenOwner(%q) = %q, %v, %v", tok, room, who, ok)
	}
	for _, bad := range []string{"n 2", "n2/", strings.Repeat("x", 17)} {
		if err := (rooms.ManagerOptions{IDPrefix: bad}).Validate(); err == nil {
			t.Errorf("IDPrefix %q accepted", bad)
		}
	}
}
