package rooms_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// TestBroadcastRefusesReservedTypes: a game's Broadcast or Send of an
// event type the runtime sends is refused with an error naming it, logged,
// and sends nothing; another type is sent.
func TestBroadcastRefusesReservedTypes(t *testing.T) {
	var logs bytes.Buffer
	h := roomstest.New(t, rooms.ManagerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nim.Game)
	id := h.Create("nim", "ann", nil)
	h.Take("ann")
	types := rooms.ReservedTypes()
	if len(types) == 0 {
		t.Fatal("no reserved types")
	}
	do(t, h, id, func(c *rooms.Ctx) {
		ann := c.Player("ann")
		for _, typ := range types {
			want := `rooms: event type "` + typ + `" is reserved for the runtime`
			if err := c.Broadcast(typ, map[string]int{"x": 1}); !errors.Is(err, rooms.ErrReservedType) || err.Error() != want {
				t.Errorf("Broadcast(%q) = %v; want %q", typ, err, want)
			}
			if err := c.Send(ann, typ, nil); !errors.Is(err, rooms.ErrReservedType) || err.Error() != want {
				t.Errorf("Send(%q) = %v; want %q", typ, err, want)
			}
			if err := c.Send(nil, typ, nil); !errors.Is(err, rooms.ErrReservedType) {
				t.Errorf("Send(nil, %q) = %v; want ErrReservedType even without a player", typ, err)
			}
		}
		if err := c.Broadcast("custom", map[string]int{"x": 1}); err != nil {
			t.Errorf("Broadcast(custom) = %v", err)
		}
		if err := c.Send(ann, "whisper", nil); err != nil {
			t.Errorf("Send(whisper) = %v", err)
		}
		if err := c.Broadcast("bad-data", func() {}); err == nil || !strings.Contains(err.Error(), `event "bad-data" not sent: cannot encode its data`) {
			t.Errorf("Broadcast of a func = %v; want an encoding error", err)
		}
	})
	wantTypes(t, h.Take("ann"), "custom", "whisper")
	if n := strings.Count(logs.String(), "is reserved for the runtime"); n != 3*len(types) {
		t.Errorf("%d refusals logged; want %d:\n%s", n, 3*len(types), logs.String())
	}
	if !rooms.Reserved("turn") || rooms.Reserved("heap") || rooms.Reserved("") {
		t.Error("Reserved: turn is, heap and the empty type are not")
	}
}

// TestRuntimeEventTypesAreReserved: every event the runtime sends, through
// a game's whole life (joins, a spectator, a refused join, a refused move,
// moves, a drop and a reconnection, the end, a rematch vote, a kick, a
// leave, the room's closing), has a reserved type; and every reserved type
// is one it sends. What is neither is Nim's own.
func TestRuntimeEventTypesAreReserved(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	id := h.Create("nim", "ann", rooms.Options{"stones": "3"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Join(id, "bob"))
	must(h.Spectate(id, "cat"))
	must(h.Join(id, "dan"))                                             // the game has started: refused
	must(h.Move(id, "bob", "take", "b1", 1, 1))                         // not bob's turn: error
	must(h.Move(id, "ann", "take", "a1", 1, 1))                         // ack, took, turn
	h.Detach("bob")                                                     // player-dropped
	h.Attach("bob")                                                     // player-reconnected
	must(h.Move(id, "bob", "take", "b1", 1, 2))                         // bob takes the last stones: finished
	must(h.Send(id, "ann", "rematch", nil))                             // rematch-vote
	do(t, h, id, func(c *rooms.Ctx) { c.Kick(c.Player("cat"), "bye") }) // kicked
	must(h.Leave(id, "bob"))                                            // player-left
	do(t, h, id, func(c *rooms.Ctx) { c.Dispose() })                    // closed
	seen := map[string]bool{}
	for _, name := range []string{"ann", "bob", "cat", "dan"} {
		for _, r := range h.Events(name) {
			seen[r.Type] = true
		}
	}
	own := map[string]bool{"heap": true, "took": true}
	for typ := range seen {
		if !rooms.Reserved(typ) && !own[typ] {
			t.Errorf("the runtime sent %q, which is not reserved", typ)
		}
	}
	for _, typ := range rooms.ReservedTypes() {
		if !seen[typ] {
			t.Errorf("%q is reserved but was not sent", typ)
		}
	}
}

// TestReservedTypesDocumented: docs/ROOMS.md's tables of room events list
// exactly the reserved types.
func TestReservedTypesDocumented(t *testing.T) {
	guide, err := os.ReadFile("../docs/ROOMS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(guide), "\n### Room events\n")
	if !ok {
		t.Fatal(`docs/ROOMS.md has no "### Room events" section`)
	}
	section, _, _ = strings.Cut(section, "\n### ")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	if want := rooms.ReservedTypes(); !slices.Equal(documented, want) {
		t.Errorf("docs/ROOMS.md's room events %v; want the reserved types %v", documented, want)
	}
}
