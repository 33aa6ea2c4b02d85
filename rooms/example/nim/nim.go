// Package nim is the example game of docs/ROOMS.md: two players take turns
// removing 1 to 3 stones from a heap; whoever takes the last stone wins.
package nim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cometplay/cometplay/rooms"
)

// Game is Nim's description for Manager.Register.
var Game = rooms.Game{Name: "nim", New: func() rooms.Room { return &Nim{} }, MinPlayers: 2, Rematch: true, Spectators: true}

// TurnTimeout is how long a player has to move before the game moves for it.
const TurnTimeout = 20 * time.Second

// Nim is one room's state.
type Nim struct {
	stones, heap int
	first        int // seat that moves first; alternates on rematch
}

func (g *Nim) OnCreate(ctx *rooms.Ctx, opts rooms.Options) error {
	g.stones = 15
	if s, ok := opts["stones"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 99 {
			return errors.New("stones must be a number from 1 to 99")
		}
		g.stones = n
	}
	ctx.SetLabel(fmt.Sprintf("Nim, %d stones", g.stones))
	return nil
}

func (g *Nim) OnJoin(ctx *rooms.Ctx, p *rooms.Player) error {
	if len(ctx.Players()) == 2 { // seated players include p
		if err := ctx.Start(); err != nil {
			return err
		}
		g.deal(ctx)
	}
	return nil
}

func (g *Nim) OnMessage(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
	var n int
	if m.Type != "take" || !m.IsMove() || json.Unmarshal(m.Data, &n) != nil || n < 1 || n > 3 || n > g.heap {
		return fmt.Errorf("send a take move of 1 to %d stones", min(3, g.heap))
	}
	g.take(ctx, p, n)
	return nil
}

func (g *Nim) OnLeave(ctx *rooms.Ctx, p *rooms.Player, reason rooms.LeaveReason) {
	if rest := ctx.Players(); ctx.State() == rooms.StatePlaying && len(rest) == 1 {
		ctx.Finish(map[string]string{"winner": rest[0].ID(), "forfeit": reason.String()})
	}
}

func (g *Nim) OnDispose(ctx *rooms.Ctx) {}

// OnRematch deals a new heap; the other player moves first.
func (g *Nim) OnRematch(ctx *rooms.Ctx) {
	g.first = 1 - g.first
	g.deal(ctx)
}

// Snapshot is sent to whoever joins, reconnects or watches.
func (g *Nim) Snapshot(ctx *rooms.Ctx, _ *rooms.Player) any {
	return map[string]int{"stones": g.stones, "heap": g.heap}
}

func (g *Nim) deal(ctx *rooms.Ctx) {
	g.heap = g.stones
	ctx.Broadcast("heap", map[string]int{"heap": g.heap})
	g.give(ctx, ctx.Players()[g.first])
}

// give hands the turn to p; if p does not move in time, it takes one stone.
func (g *Nim) give(ctx *rooms.Ctx, p *rooms.Player) {
	ctx.SetTurn(p, TurnTimeout, func(ctx *rooms.Ctx) { g.take(ctx, p, 1) })
}

func (g *Nim) take(ctx *rooms.Ctx, p *rooms.Player, n int) {
	g.heap -= n
	ctx.Broadcast("took", map[string]any{"player": p.ID(), "n": n, "heap": g.heap})
	if g.heap == 0 {
		ctx.Finish(map[string]string{"winner": p.ID()})
		return
	}
	g.give(ctx, ctx.Players()[1-p.Seat()])
}
