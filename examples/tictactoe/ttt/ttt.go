// Package ttt is the tictactoe room of the example server: two players, X
// and O, take turns marking a 3×3 board; three in a row wins. The server is
// authoritative: it owns the board, checks turn order and legal cells,
// detects wins and draws, runs the optional turn clock, and decides a
// forfeit when a player leaves or its reconnect window expires.
//
// Client messages (published to /room/<id>): {type:"move", data:{"cell":0..8},
// move:<move id>, seq:<n>}; {type:"rematch"} when finished. Events pushed
// (type, data): "start" {board, marks, first}, "move" {player, cell, mark,
// board}, "turn" (from the runtime), "finished" {winner?, line?, draw?,
// reason} (reason "shutdown" and no winner when the server stops a game),
// and "state" (the snapshot) on join, reconnect and spectate.
package ttt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cometplay/cometplay/rooms"
)

// Name is the game's name for create and quick-play.
const Name = "tictactoe"

// MaxTurnTime bounds the "turn" option (seconds).
const MaxTurnTime = 300

// Game is tictactoe's description for Manager.Register.
var Game = rooms.Game{
	Name:       Name,
	New:        func() rooms.Room { return &Room{} },
	MinPlayers: 2,
	MaxPlayers: 2,
	Rematch:    true,
	Spectators: true,
}

// lines are the eight ways to win.
var lines = [8][3]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6}, {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}}

// Room is one game's state.
type Room struct {
	board    [9]string // "", "X" or "O"
	turnTime time.Duration
	first    int // seat that plays X this round (alternates on rematch)
	moves    int
	result   *Result
}

// Result is the outcome broadcast with "finished". A game in progress when
// the server shuts down is ended by the runtime instead, with
// rooms.ShutdownResult ({"reason": "shutdown"}, no winner), which decodes
// as a Result; OnLeave then finds it finished and awards nothing.
type Result struct {
	Winner string `json:"winner,omitempty"` // player id
	Mark   string `json:"mark,omitempty"`
	Line   []int  `json:"line,omitempty"`
	Draw   bool   `json:"draw,omitempty"`
	Reason string `json:"reason"` // "line", "draw", "timeout", "left", "dropped", "kicked"
}

// OnCreate reads the options: "turn" is the turn clock in seconds (0: none).
func (g *Room) OnCreate(ctx *rooms.Ctx, opts rooms.Options) error {
	if s, ok := opts["turn"]; ok && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxTurnTime {
			return fmt.Errorf("turn must be a number of seconds from 0 to %d", MaxTurnTime)
		}
		g.turnTime = time.Duration(n) * time.Second
	}
	if ctx.Label() != "" {
		return nil // the creator named the room (lobby "create" with a label)
	}
	label := "Tictactoe"
	if g.turnTime > 0 {
		label += fmt.Sprintf(", %d s per move", int(g.turnTime/time.Second))
	}
	ctx.SetLabel(label)
	return nil
}

// OnJoin starts the game when the second player sits down.
func (g *Room) OnJoin(ctx *rooms.Ctx, p *rooms.Player) error {
	if len(ctx.Players()) == 2 && ctx.State() == rooms.StateWaiting {
		if err := ctx.Start(); err != nil {
			return err
		}
		g.deal(ctx)
	}
	return nil
}

// mark returns the mark of seat.
func (g *Room) mark(seat int) string {
	if seat == g.first {
		return "X"
	}
	return "O"
}

type moveData struct {
	Cell *int `json:"cell"`
}

var errBadMove = errors.New(`send {"cell": 0..8} as a move`)

// OnMessage applies a move. The runtime has already checked that p holds
// the turn, that the game is in progress, and the move's id and sequence.
func (g *Room) OnMessage(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
	if m.Type != "move" || !m.IsMove() {
		return errBadMove
	}
	var d moveData
	if err := json.Unmarshal(m.Data, &d); err != nil || d.Cell == nil || *d.Cell < 0 || *d.Cell > 8 {
		return errBadMove
	}
	cell := *d.Cell
	if g.board[cell] != "" {
		return fmt.Errorf("cell %d is taken", cell)
	}
	mark := g.mark(p.Seat())
	g.board[cell] = mark
	g.moves++
	ctx.Broadcast("move", movedData{Board: g.board, Cell: cell, Mark: mark, Player: p.ID()})
	if line, ok := g.winLine(mark); ok {
		g.finish(ctx, &Result{Winner: p.ID(), Mark: mark, Line: line, Reason: "line"})
		return nil
	}
	if g.moves == 9 {
		g.finish(ctx, &Result{Draw: true, Reason: "draw"})
		return nil
	}
	g.give(ctx, g.other(ctx, p))
	return nil
}

// movedData is the "move" event's data (a struct, not a map: it is sent on
// every move).
type movedData struct {
	Board  [9]string `json:"board"`
	Cell   int       `json:"cell"`
	Mark   string    `json:"mark"`
	Player string    `json:"player"`
}

func (g *Room) winLine(mark string) ([]int, bool) {
	for i := range lines {
		l := &lines[i]
		if g.board[l[0]] == mark && g.board[l[1]] == mark && g.board[l[2]] == mark {
			line := *l // a copy, allocated only for the winning line
			return line[:], true
		}
	}
	return nil, false
}

// other returns p's opponent.
func (g *Room) other(ctx *rooms.Ctx, p *rooms.Player) *rooms.Player {
	for _, q := range ctx.Players() {
		if q != p {
			return q
		}
	}
	return nil
}

// give hands the turn to p, with the clock if there is one: running out of
// time loses the game.
func (g *Room) give(ctx *rooms.Ctx, p *rooms.Player) {
	ctx.SetTurn(p, g.turnTime, func(ctx *rooms.Ctx) {
		if w := g.other(ctx, p); w != nil {
			g.finish(ctx, &Result{Winner: w.ID(), Mark: g.mark(w.Seat()), Reason: "timeout"})
		}
	})
}

func (g *Room) finish(ctx *rooms.Ctx, r *Result) {
	g.result = r
	ctx.Finish(r) // also clears the turn
}

// OnLeave: a player who leaves a game in progress (or whose reconnect
// window expires) forfeits it.
func (g *Room) OnLeave(ctx *rooms.Ctx, p *rooms.Player, reason rooms.LeaveReason) {
	if ctx.State() != rooms.StatePlaying {
		return
	}
	if w := g.other(ctx, p); w != nil {
		g.finish(ctx, &Result{Winner: w.ID(), Mark: g.mark(w.Seat()), Reason: reason.String()})
	}
}

// OnDispose has nothing to release.
func (g *Room) OnDispose(ctx *rooms.Ctx) {}

// OnRematch starts a new round; the other player plays X and moves first.
func (g *Room) OnRematch(ctx *rooms.Ctx) {
	g.first = 1 - g.first
	g.deal(ctx)
}

// deal clears the board and gives the first turn to X.
func (g *Room) deal(ctx *rooms.Ctx) {
	g.board = [9]string{}
	g.moves = 0
	g.result = nil
	ps := ctx.Players()
	ctx.Broadcast("start", map[string]any{"board": g.board, "marks": g.marks(ctx), "first": ps[g.first].ID()})
	g.give(ctx, ps[g.first])
}

func (g *Room) marks(ctx *rooms.Ctx) map[string]string {
	m := map[string]string{}
	for _, p := range ctx.Players() {
		m[p.ID()] = g.mark(p.Seat())
	}
	return m
}

// saved is the room's state as SaveState writes it.
type saved struct {
	Board    [9]string     `json:"board"`
	TurnTime time.Duration `json:"turn_time"`
	First    int           `json:"first"`
	Moves    int           `json:"moves"`
	Result   *Result       `json:"result,omitempty"`
}

// SaveState writes the room's state down (rooms.Persister): its turn log
// is compacted to it.
func (g *Room) SaveState(*rooms.Ctx) ([]byte, error) {
	return json.Marshal(saved{Board: g.board, TurnTime: g.turnTime, First: g.first, Moves: g.moves, Result: g.result})
}

// LoadState reads what SaveState wrote, and gives the turn clock its
// callback back (the runtime kept its player and deadline).
func (g *Room) LoadState(ctx *rooms.Ctx, b []byte) error {
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	g.board, g.turnTime, g.first, g.moves, g.result = s.Board, s.TurnTime, s.First, s.Moves, s.Result
	if p := ctx.Turn(); p != nil {
		g.give(ctx, p)
	}
	return nil
}

// Snapshot is the whole state, sent to whoever joins, reconnects or watches.
func (g *Room) Snapshot(ctx *rooms.Ctx, _ *rooms.Player) any {
	var turn string
	if p := ctx.Turn(); p != nil {
		turn = p.ID()
	}
	var deadline int64
	if d := ctx.TurnDeadline(); !d.IsZero() {
		deadline = d.UnixMilli()
	}
	return map[string]any{
		"board":       g.board,
		"marks":       g.marks(ctx),
		"turn":        turn,
		"deadline_ms": deadline,
		"result":      g.result,
		"state":       ctx.State().String(),
		"turn_time_s": int(g.turnTime / time.Second),
	}
}
