package rooms

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Snapshots: a room written down whole, so that its journal can drop what
// came before (ManagerOptions.SnapshotEvery, Persister).
//
// A snapshot is taken between two items, once the last item's entry is
// durable and before the room processes the next, and appended as the
// room's next entry (the room waits for it as for an item's). It holds
// what replaying the journal up to it would have built: the runtime's part
// of the room (seats and spectators with their sessions, tokens, move
// sequences and remembered moves, presence and rematch votes; the state,
// label, lock and reconnect window; the turn and its deadline; the pending
// timers with their numbers and due times; the counters that make tokens,
// timer numbers and ctx.Rand's seed; the last tick's time) and the game's
// (Persister.SaveState). The room's secret and its tokens' prefix are in
// the entry, as in a creation's.

// snapState is what a room keeps for its snapshots and its ticks, made when
// first needed.
type snapState struct {
	since    int       // entries journaled since the last snapshot
	lastAt   time.Time // the time of the last item journaled
	tickLast time.Time // the last tick's (Ticker)
	load     *snapLoad // while LoadState runs: the timers it gives back
}

// snap returns the room's snapState, making it.
func (r *room) snap() *snapState {
	if r.d.sn == nil {
		r.d.sn = new(snapState)
	}
	return r.d.sn
}

// countEntry counts an item journaled at time at toward the next snapshot
// (when snapshots are taken).
func (r *room) countEntry(at time.Time) {
	if r.m.o.SnapshotEvery > 0 {
		s := r.snap()
		s.since++
		s.lastAt = at
	}
}

// roomSnapshot is the runtime's form of a snapshot (Entry.Snapshot).
type roomSnapshot struct {
	Pos        uint64         `json:"pos"`
	TokenN     uint32         `json:"tokens"`
	TimerN     uint32         `json:"timers_n"`
	ArmN       uint32         `json:"armed_n"`
	State      State          `json:"state"`
	Label      string         `json:"label,omitempty"`
	Locked     bool           `json:"locked,omitempty"` // by the game (ctx.Lock)
	Window     time.Duration  `json:"window"`
	Seats      []*memberState `json:"seats"` // by seat; nil: free
	Spectators []*memberState `json:"spectators,omitempty"`
	Turn       int            `json:"turn"` // the seat whose turn it is; -1: nobody's
	TurnAt     time.Time      `json:"turn_at,omitzero"`
	TickLast   time.Time      `json:"tick_last,omitzero"`
	Timers     []timerState   `json:"pending"` // in the room's list's order
	Game       []byte         `json:"game"`
}

// memberState is a seated player or a spectator in a snapshot.
type memberState struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Options   Options  `json:"options,omitempty"`
	Session   string   `json:"session"`
	Token     string   `json:"token,omitempty"`
	Seq       int      `json:"seq,omitempty"`
	Moves     []string `json:"moves,omitempty"`
	MovesNext uint8    `json:"moves_next,omitempty"`
	Connected bool     `json:"connected,omitempty"`
	Rematch   bool     `json:"rematch,omitempty"`
}

// timerState is a pending timer in a snapshot.
type timerState struct {
	Ord    uint32        `json:"n"`
	Armed  uint32        `json:"armed"`
	Due    time.Time     `json:"due"`
	Period time.Duration `json:"period,omitempty"`
	Kind   timerKind     `json:"kind"`
	Seat   int           `json:"seat,omitempty"` // a reconnect window's
}

// snapshotDue reports whether the room's policy asks for a snapshot now.
// Executor only, between items.
func (r *room) snapshotDue() bool {
	every := r.m.o.SnapshotEvery
	if every <= 0 || r.d.sn == nil || r.d.sn.since < every || r.m.o.Journal == nil {
		return false
	}
	if !r.created || r.state == StateDisposed || r.evicted || r.closing {
		return false
	}
	_, ok := r.impl.(Persister)
	return ok
}

// appendSnapshot appends the room's snapshot and reports whether it did.
// Executor only, between items, with no append in flight.
func (r *room) appendSnapshot() bool {
	r.d.sn.since = 0 // a snapshot that cannot be taken is tried again after as many entries
	e, err := r.snapshot()
	if err != nil {
		r.logger().Error("rooms: the room's snapshot cannot be taken; its journal is not compacted", "err", err)
		return false
	}
	buf := outPool.Get().(*[]outEvent)
	r.out = (*buf)[:0]
	r.hold(buf, *e)
	return true
}

// snapshot returns the room's snapshot entry. Executor only, between items.
func (r *room) snapshot() (*Entry, error) {
	ps := r.impl.(Persister)
	var game []byte
	var err error
	r.active.Store(true)
	r.d.itemNow, r.d.rnd = r.d.sn.lastAt, nil
	ok := r.guard(func() { game, err = ps.SaveState(&r.ctx) })
	r.active.Store(false)
	r.d.itemNow, r.d.rnd = time.Time{}, nil
	clear(r.out) // SaveState sends nothing
	r.out = nil
	switch {
	case !ok:
		return nil, errors.New("SaveState panicked")
	case err != nil:
		return nil, err
	}
	s := roomSnapshot{
		Pos: r.d.pos, TokenN: r.d.tokenN, TimerN: r.d.timerN, ArmN: r.d.armN,
		State: r.state, Label: r.label, Locked: r.manualLock, Window: r.window,
		Seats: make([]*memberState, len(r.seats)), Turn: -1, TurnAt: r.turnAt(), TickLast: r.snap().tickLast,
		Game: game,
	}
	windows := map[*Timer]int{}
	for i, p := range r.seats {
		if p != nil {
			s.Seats[i] = memberOf(p)
			if p.window != nil {
				windows[p.window] = i
			}
		}
	}
	for _, p := range r.spectators {
		s.Spectators = append(s.Spectators, memberOf(p))
	}
	if r.turn != nil {
		s.Turn = int(r.turn.seat)
	}
	for t := r.timers; t != nil; t = t.next {
		ts := timerState{Ord: t.ord, Armed: t.armed, Due: t.due, Period: t.period, Kind: t.kind}
		if t.kind == timerWindow {
			ts.Seat = windows[t]
		}
		s.Timers = append(s.Timers, ts)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return &Entry{Kind: EntrySnapshot, Time: r.d.sn.lastAt, Game: r.game.Name, Secret: r.d.secret[:], Prefix: r.d.prefix, Snapshot: b}, nil
}

func memberOf(p *Player) *memberState {
	return &memberState{ID: p.id, Name: p.name, Options: p.joinOpts, Session: p.session, Token: p.token, Seq: p.seq,
		Moves: p.moves.ids, MovesNext: p.moves.next, Connected: p.connected, Rematch: p.rematch}
}

// player makes the Player of a member of a snapshot.
func (ms *memberState) player(seat int32) *Player {
	p := &Player{id: ms.ID, name: ms.Name, joinOpts: ms.Options, session: ms.Session, token: ms.Token, seq: ms.Seq,
		seat: seat, spectator: seat < 0, connected: ms.Connected, rematch: ms.Rematch}
	if len(ms.Moves) > moveMemory || int(ms.MovesNext) >= max(len(ms.Moves), 1) {
		return nil
	}
	p.moves.ids, p.moves.next = ms.Moves, ms.MovesNext
	return p
}

// snapLoad is what LoadState gives back: the game's timers that were
// pending (in the order they were armed) and the turn's clock.
type snapLoad struct {
	game      []timerState // the game's, by number
	next      int          // the next of game to give back
	turn      *timerState  // the turn's clock, if pending
	turnBound bool
	made      map[uint32]*Timer // the timers given back, by number
	err       error
}

// rearm gives back the game's next pending timer (ctx.After, ctx.Every in
// LoadState).
func (l *snapLoad) rearm(r *room, f func(*Ctx), period time.Duration) *Timer {
	if l.next >= len(l.game) {
		l.fail(fmt.Errorf("LoadState armed more timers than the %d of the game's that were pending", len(l.game)))
		return &Timer{r: r, stopped: true}
	}
	ts := l.game[l.next]
	l.next++
	if ts.Period != period {
		l.fail(fmt.Errorf("LoadState's timer %d has the period %v; the pending one had %v", l.next, period, ts.Period))
	}
	return l.make(r, ts, f)
}

// resumeTurn gives back the turn's callback (ctx.SetTurn in LoadState).
func (l *snapLoad) resumeTurn(r *room, p *Player, onTimeout func(*Ctx)) {
	switch {
	case p != r.turn:
		l.fail(errors.New("LoadState set the turn to another player than the room's"))
	case l.turn != nil && !l.turnBound:
		l.turnBound = true
		r.turnTimer(r.clock, onTimeout, func(f func(*Ctx)) *Timer { return l.make(r, *l.turn, f) })
	}
}

func (l *snapLoad) make(r *room, ts timerState, f func(*Ctx)) *Timer {
	t := &Timer{r: r, fn: f, period: ts.Period, ord: ts.Ord, armed: ts.Armed, due: ts.Due, kind: ts.Kind}
	l.made[ts.Ord] = t
	return t
}

func (l *snapLoad) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// load makes the room what snapshot entry e says, calling the game's
// LoadState. Executor only (Restore), r fresh; r.d.replay is e.
func (r *room) load(e *Entry) error {
	var s roomSnapshot
	if err := json.Unmarshal(e.Snapshot, &s); err != nil {
		return fmt.Errorf("the snapshot does not decode: %w", err)
	}
	impl := r.game.New()
	ps, ok := impl.(Persister)
	if !ok {
		return errors.New("the game does not implement Persister: it cannot load a snapshot")
	}
	if len(s.Seats) != len(r.seats) {
		return fmt.Errorf("the snapshot has %d seats; the game %d", len(s.Seats), len(r.seats))
	}
	r.impl, r.created = impl, true
	r.state, r.label, r.manualLock, r.window = s.State, s.Label, s.Locked, s.Window
	r.d.pos, r.d.tokenN, r.d.timerN, r.d.armN = s.Pos, s.TokenN, s.TimerN, s.ArmN
	r.snap().tickLast = s.TickLast
	members := make([]*Player, 0, len(s.Seats)+len(s.Spectators))
	for i, ms := range s.Seats {
		if ms == nil {
			continue
		}
		p := ms.player(int32(i))
		if p == nil {
			return fmt.Errorf("the snapshot's seat %d does not decode", i)
		}
		r.seats[i] = p
		r.nseated++
		members = append(members, p)
	}
	for _, ms := range s.Spectators {
		p := ms.player(-1)
		if p == nil {
			return errors.New("a spectator of the snapshot does not decode")
		}
		r.spectators = append(r.spectators, p)
		members = append(members, p)
	}
	r.indexLarge(0)
	r.mu.Lock()
	for _, p := range members {
		r.members.set(p.session, gate{spectator: p.spectator})
	}
	r.mu.Unlock()
	for _, p := range members {
		_ = r.m.sessions.ref(p.session, r) // the member's reference, as a join takes it
		if p.token != "" {
			r.m.tokens.set(p.token, tokenRef{room: r, seat: p})
		}
	}
	if s.Turn >= 0 {
		if s.Turn >= len(r.seats) || r.seats[s.Turn] == nil {
			return fmt.Errorf("the snapshot's turn is seat %d's, which is free", s.Turn)
		}
		r.turn = r.seats[s.Turn]
	}
	if !s.TurnAt.IsZero() {
		r.clock = &turnClock{at: s.TurnAt}
	}
	r.shownState, r.shownLocked = r.state, r.locked()

	// The runtime's timers are made again here, the game's by LoadState.
	l := &snapLoad{made: make(map[uint32]*Timer, len(s.Timers))}
	for _, ts := range s.Timers {
		switch ts.Kind {
		case timerGame:
			l.game = append(l.game, ts)
		case timerTurn:
			if r.clock == nil {
				return errors.New("the snapshot has a turn clock pending without a deadline")
			}
			l.turn = &ts
		case timerTick:
			tk, ok := impl.(Ticker)
			if !ok {
				return errors.New("the snapshot has a tick pending; the game has no OnTick")
			}
			l.make(r, ts, r.tickFn(tk))
		case timerWindow:
			if ts.Seat < 0 || ts.Seat >= len(r.seats) || r.seats[ts.Seat] == nil {
				return fmt.Errorf("the snapshot has a reconnect window for seat %d, which is free", ts.Seat)
			}
			p := r.seats[ts.Seat]
			p.window = l.make(r, ts, r.windowFn(p))
		case timerGrace:
			r.grace = l.make(r, ts, r.graceFn())
		default:
			return fmt.Errorf("the snapshot has a timer of unknown kind %d", ts.Kind)
		}
	}
	slices.SortFunc(l.game, func(a, b timerState) int { return int(a.Ord) - int(b.Ord) })
	var err error
	r.snap().load = l
	r.active.Store(true)
	ok = r.guard(func() { err = ps.LoadState(&r.ctx, s.Game) })
	r.active.Store(false)
	r.d.sn.load = nil
	clear(r.out) // nothing LoadState sends goes out
	r.out = nil
	switch {
	case !ok:
		return errors.New("LoadState panicked")
	case err != nil:
		return fmt.Errorf("LoadState: %w", err)
	case l.err != nil:
		return l.err
	case l.next < len(l.game):
		return fmt.Errorf("LoadState gave back %d of the game's %d pending timers", l.next, len(l.game))
	case l.turn != nil && !l.turnBound:
		return errors.New("LoadState did not give the turn's clock back (ctx.SetTurn)")
	}
	// Pending, in the order they were: the room's list is built from its
	// end.
	for i := len(s.Timers) - 1; i >= 0; i-- {
		r.linkTimer(l.made[s.Timers[i].Ord])
	}
	return nil
}
