package rooms

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Ctx is a room's handle, passed to every hook. It is valid only inside the
// hooks and timer callbacks of its room, on the executor running them: it
// must not be kept and used from another goroutine (a call outside panics
// with a message saying so, and the race detector reports it). The same
// goes for the *Player and *Timer values it hands out.
//
// What a hook sends (Broadcast, Send, and the runtime's own events) is handed
// to the Transport when the hook returns, in order.
type Ctx struct {
	r *room
}

func (c *Ctx) check() {
	if !c.r.active.Load() {
		panic("rooms: Ctx used outside its room's hooks and timer callbacks")
	}
}

// ID returns the room's id.
func (c *Ctx) ID() string { return c.r.id }

// Game returns the name of the room's game.
func (c *Ctx) Game() string { return c.r.game.Name }

// Topic returns the room's topic ("/room/<id>").
func (c *Ctx) Topic() string { return c.r.topic }

// State returns the room's state.
func (c *Ctx) State() State { c.check(); return c.r.state }

// Start moves the room from waiting to playing. It requires Game.MinPlayers
// seated players (held seats count); otherwise it returns
// ErrNotEnoughPlayers, or ErrBadState when the room is not waiting.
func (c *Ctx) Start() error {
	c.check()
	r := c.r
	switch {
	case r.state != StateWaiting:
		return fmt.Errorf("%w: start from %v", ErrBadState, r.state)
	case int(r.nseated) < r.game.MinPlayers:
		return fmt.Errorf("%w: %d of %d", ErrNotEnoughPlayers, r.nseated, r.game.MinPlayers)
	}
	r.state = StatePlaying
	if r.d.replay == nil {
		r.games.started.Add(1) // Stats
	}
	for _, p := range r.seats {
		if p != nil {
			p.rematch = false
		}
	}
	r.showState()
	return nil
}

// Finish moves the room from playing to finished: the turn is cleared and
// result is broadcast as "finished" {result}. It is ignored (and logged)
// when the room is not playing.
func (c *Ctx) Finish(result any) {
	c.check()
	c.r.finish(result)
}

func (r *room) finish(result any) {
	if r.state != StatePlaying {
		r.logger().Warn("rooms: Finish ignored, room not playing", "state", r.state)
		return
	}
	r.state = StateFinished
	if r.d.replay == nil {
		r.games.finished.Add(1) // Stats
	}
	r.publish(evFinished, finishedData{Result: result})
	if r.turn != nil || r.turnTimed() {
		r.setTurn(nil, 0, nil)
	}
	r.showState()
}

// Broadcast sends an event to the room's players and spectators. data is
// encoded with encoding/json (a json.RawMessage passes through); an object is
// what clients expect. Nothing is sent, and the error says why (it is
// logged too), for a type the runtime sends itself (Reserved: "turn",
// "ack"…, ErrReservedType) or data that cannot be encoded.
func (c *Ctx) Broadcast(typ string, data any) error {
	c.check()
	if err := c.r.gameType(typ); err != nil {
		return err
	}
	return c.r.publish(typ, data)
}

// Send sends an event to one player or spectator (ignored for one that has
// left). A player whose connection is down gets it when it listens again,
// as far as the transport keeps events. Its errors are Broadcast's.
func (c *Ctx) Send(p *Player, typ string, data any) error {
	c.check()
	if err := c.r.gameType(typ); err != nil {
		return err
	}
	if p == nil || p.left {
		return nil
	}
	return c.r.sendTo(p.session, typ, data)
}

// Kick takes p out of the room at once: it gets "kicked" {room, reason}, the
// others "player-left" {reason:"kicked"}, and OnLeave(p, LeaveKicked) runs
// after the current hook returns. A spectator is just sent away.
func (c *Ctx) Kick(p *Player, reason string) {
	c.check()
	r := c.r
	if p == nil || p.left || r.byID(p.id) != p {
		return
	}
	r.sendTo(p.session, evKicked, kickedData{Room: r.id, Reason: reason})
	if p.spectator {
		r.removeSpectator(p)
		return
	}
	r.removeSeat(p, LeaveKicked)
	r.d.post = append(r.d.post, func() { r.leaveHook(p, LeaveKicked) })
}

// After calls f once, d from now, as a hook of this room. The timer is
// cancelled when the room is disposed.
func (c *Ctx) After(d time.Duration, f func(*Ctx)) *Timer {
	c.check()
	return c.r.after(d, f, 0)
}

// Every calls f every d (d > 0, or Every panics) until stopped or the room
// is disposed. The next call is scheduled when the previous one has run, so
// calls never pile up behind a busy room.
func (c *Ctx) Every(d time.Duration, f func(*Ctx)) *Timer {
	c.check()
	if d <= 0 {
		panic("rooms: Every needs a positive period")
	}
	return c.r.after(d, f, d)
}

// Now returns the time the current item started, by the Manager's clock:
// the same throughout a hook, and in a replay of the room's journal
// (Manager.Restore) the time the item first ran.
func (c *Ctx) Now() time.Time { return c.r.now() }

// Logger returns the room's logger (with "room" and "game" attributes).
func (c *Ctx) Logger() *slog.Logger { return c.r.logger() }

// Players returns the seated players by seat, including those whose seat is
// held in the reconnect window. The slice is the caller's.
func (c *Ctx) Players() []*Player {
	c.check()
	out := make([]*Player, 0, c.r.nseated)
	for _, p := range c.r.seats {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Spectators returns the spectators in order of arrival. The slice is the
// caller's.
func (c *Ctx) Spectators() []*Player {
	c.check()
	return append([]*Player(nil), c.r.spectators...)
}

// Player returns the seated player or spectator with that public id, or nil.
func (c *Ctx) Player(id string) *Player {
	c.check()
	return c.r.byID(id)
}

// SetLabel sets the label the lobby shows for the room; control characters
// are dropped and it is cut at MaxLabelLen runes.
func (c *Ctx) SetLabel(label string) {
	c.check()
	if l := cleanLabel(label); l != c.r.label {
		c.r.label = l
		c.r.dirty = true
	}
}

// Label returns the room's label.
func (c *Ctx) Label() string { c.check(); return c.r.label }

// Lock refuses new players until Unlock (a full room is locked regardless).
func (c *Ctx) Lock() {
	c.check()
	c.r.manualLock = true
	c.r.showState()
}

// Unlock undoes Lock.
func (c *Ctx) Unlock() {
	c.check()
	c.r.manualLock = false
	c.r.showState()
}

// Locked reports whether the room refuses new players: locked by the game,
// or full.
func (c *Ctx) Locked() bool { c.check(); return c.r.locked() }

// Dispose closes the room after the current hook returns: OnDispose runs,
// and everyone gets "closed" {reason:"room closed"}. Players do not get
// OnLeave.
func (c *Ctx) Dispose() {
	c.check()
	c.r.closeWith(ReasonDisposed, true)
}

// SetTurn makes it p's turn (nil: nobody's) and broadcasts "turn". While a
// turn is set, moves of other players are refused ("not your turn"). With
// timeout > 0 the turn has a deadline: when it passes, onTimeout (the game's
// timeout action, possibly nil) runs as a hook of the room; the turn stays
// p's until the game changes it. A new SetTurn replaces the deadline. The
// turn survives p's reconnections; it is cleared by Finish, and when p
// leaves unless OnLeave gave it to someone. p must be a seated player of
// this room, or SetTurn panics.
func (c *Ctx) SetTurn(p *Player, timeout time.Duration, onTimeout func(*Ctx)) {
	c.check()
	if p != nil && (p.spectator || p.left || c.r.byID(p.id) != p) {
		panic("rooms: SetTurn with a player not seated in this room")
	}
	c.r.setTurn(p, timeout, onTimeout)
}

// Turn returns the player whose turn it is, or nil.
func (c *Ctx) Turn() *Player { c.check(); return c.r.turn }

// TurnDeadline returns the current turn's deadline (zero: none).
func (c *Ctx) TurnDeadline() time.Time { c.check(); return c.r.turnAt() }

// SetReconnectWindow changes how long this room holds a seat whose
// connection went away (0: the game's ReconnectWindow; negative: not held).
// It applies to connections lost from now on.
func (c *Ctx) SetReconnectWindow(d time.Duration) {
	c.check()
	if d == 0 {
		d = c.r.game.ReconnectWindow
	}
	c.r.window = d
}

// Timer is a timer of a room (Ctx.After, Ctx.Every). Like Ctx, it may be
// used only inside its room's hooks.
type Timer struct {
	r          *room
	fn         func(*Ctx)
	period     time.Duration
	stopper    Stopper
	prev, next *Timer // the room's pending timers (room.timers)
	stopped    bool
	kind       timerKind // whose callback it runs (a snapshot names it)
	ord        uint32    // the room's ord-th timer (a journal's timer entries name it)
	armed      uint32    // the room's armed-th arming of a timer (of two due together, the first armed fires first)
	due        time.Time // when it fires next (a replay arms it for what is left)
}

// timerKind says whose a timer's callback is: the game's (ctx.After,
// ctx.Every), or one of the runtime's, which a snapshot's restoration makes
// again.
type timerKind uint8

const (
	timerGame   timerKind = iota
	timerTurn             // the turn's clock (ctx.SetTurn; its callback is the game's)
	timerTick             // Ticker
	timerWindow           // a seat's reconnect window
	timerGrace            // an empty room's grace
)

// Stop cancels the timer and reports whether it did: false if it had
// already run (After) or been stopped. A callback that was due but had not
// run yet does not run.
func (t *Timer) Stop() bool {
	t.r.ctx.check()
	return t.stop()
}

func (t *Timer) stop() bool {
	if t.stopped {
		return false
	}
	t.stopped = true
	t.r.unlinkTimer(t)
	if t.stopper != nil {
		t.stopper.Stop()
	}
	return true
}

// linkTimer adds t to the room's pending timers, which dispose stops.
func (r *room) linkTimer(t *Timer) {
	t.next = r.timers
	if t.next != nil {
		t.next.prev = t
	}
	r.timers = t
}

// unlinkTimer takes t, stopped or run, out of the room's pending timers.
func (r *room) unlinkTimer(t *Timer) {
	if t.prev != nil {
		t.prev.next = t.next
	} else if r.timers == t {
		r.timers = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

// fire runs on the clock's goroutine: it only enqueues.
func (t *Timer) fire() { _ = t.r.enqueue(item{kind: kTimer, timer: t}) }

// cleanLabel drops control and format characters and cuts at MaxLabelLen.
func cleanLabel(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = strings.Map(func(r rune) rune {
		if Invisible(r) || unicode.Is(unicode.Variation_Selector, r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxLabelLen {
		s = string([]rune(s)[:MaxLabelLen])
	}
	return s
}
