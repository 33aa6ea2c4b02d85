package nim

import (
	"encoding/json"

	"github.com/cometplay/cometplay/rooms"
)

// saved is Nim's state as SaveState writes it.
type saved struct{ Stones, Heap, First int }

// SaveState writes the game's state down (rooms.Persister): the room's
// journal is compacted to it, and a node taking the room over starts there.
func (g *Nim) SaveState(*rooms.Ctx) ([]byte, error) {
	return json.Marshal(saved{g.stones, g.heap, g.first})
}

// LoadState reads it back on a fresh Nim, and gives the turn's clock its
// callback: the runtime kept whose turn it is and when it runs out, but a
// function cannot be written down.
func (g *Nim) LoadState(ctx *rooms.Ctx, b []byte) error {
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	g.stones, g.heap, g.first = s.Stones, s.Heap, s.First
	if p := ctx.Turn(); p != nil {
		g.give(ctx, p)
	}
	return nil
}
