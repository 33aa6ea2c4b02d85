package rooms

import (
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// itemKind says what a mailbox item asks for.
type itemKind uint8

const (
	kCreate   itemKind = iota // run OnCreate
	kJoin                     // seat a player
	kSpectate                 // admit a spectator
	kReclaim                  // give a held seat to a new session
	kMessage                  // a player's message
	kDo                       // Manager.Do
	kLeave                    // a session leaves (coalesced per member)
	kPresence                 // a session's listen state changed (coalesced per member)
	kTimer                    // a timer fired
	kShutdown                 // Manager.Shutdown
	kEvict                    // Manager.Evict
)

// item is one unit of work in a room's mailbox. An empty mailbox keeps
// room for keptMailbox of them, so an item is kept small: what only the
// items that seat someone carry is behind entry.
type item struct {
	kind    itemKind
	counted bool // a client item, subject to MailboxSize
	// moved reports that the session reference taken for a join-like item
	// now belongs to a seat (or was released), so answering the item must
	// not release it again.
	moved bool
	// creatorNext marks a kCreate whose creator's kJoin is the next item
	// (Manager.Create enqueues both at once).
	creatorNext bool
	session     string
	msg         Message    // kMessage
	fn          func(*Ctx) // kDo
	timer       *Timer     // kTimer
	entry       *entry     // kCreate, kJoin, kSpectate, kReclaim
}

// entry is what an item that creates a room or seats someone carries.
type entry struct {
	info  PlayerInfo // kJoin, kSpectate, kReclaim
	opts  Options    // kCreate
	token string     // kReclaim
}

// outOp is a Transport call the room makes after an item.
type outOp uint8

const (
	opSend outOp = iota
	opPublish
	opSubscribe
	opUnsubscribe
)

type outEvent struct {
	op      outOp
	session string
	ev      Event
}

// room is the runtime side of one room. It is what every room costs while
// it lives, so its fields are ordered to pack and what only some rooms use
// is allocated when they first do (the logger, the maps of a large room).
type room struct {
	m     *Manager
	id    string // the end of topic
	game  *Game
	topic string
	log   *slog.Logger // made on first use (logger): most rooms never log
	ctx   Ctx

	mu        sync.Mutex // guards the fields below; never held while calling out
	q         []item     // the mailbox, from qhead
	qhead     int32
	pending   int32 // counted items in q
	scheduled bool
	closed    bool
	infoOK    bool
	evicting  bool // Manager.Evict queued its item
	// replaced: evicting, and replaced by a Restore of its id; nothing of
	// it is reported to OnRoomChange any more (its removal is not the
	// room's: the room goes on in the instance that replaced it).
	replaced bool
	// unstored: the room's append in flight has waited past
	// JournalPatience; client items are refused (ErrJournalUnavailable).
	unstored bool
	members  gates    // by session id
	info     RoomInfo // last published info

	// Everything below is owned by the executor running the room.
	active      atomic.Bool // an item is being processed (Ctx is valid)
	nseated     int32
	created     bool
	manualLock  bool
	closing     bool // dispose after the current item
	closeHook   bool // call OnDispose when closing
	closedSent  bool // "closed" already published
	evicted     bool // Manager.Evict: nothing more goes out
	shownLocked bool
	dirty       bool // public info changed since last published
	state       State
	shownState  State
	counted     State // state+1 the room is counted under in Stats (0: none yet)
	impl        Room
	seats       []*Player // by seat; nil = free
	spectators  []*Player
	idx         *memberIndex // players by id and session, for a room of more than smallRoom places
	label       string
	window      time.Duration
	timers      *Timer // the pending timers, linked through Timer.next
	turn        *Player
	clock       *turnClock // the turn's deadline (nil: never had one)
	grace       *Timer
	out         []outEvent    // Transport calls to make after the item
	enc         *eventEncoder // the item's events' data, for a DataCopier Transport (nil: none yet)
	closeReason string
	games       *gameCounters // the game's counters (Stats)
	charge      *charge       // what the room counts against while waiting (nil: nothing)

	d *roomDet // determinism and the journal (journal.go); post
}

// roomDet is what a room keeps apart from its struct, which fits its size
// class with nothing to spare: the hooks to run after the current one, and
// what makes it replayable (journal.go): its secret, its reconnection
// tokens and timers counted, its position in its journal (the items
// journaled so far), the current item's time and Rand, the entry the
// current item writes (nil: not journaled) or, in a replay, reads, and its
// append in flight. Executor only, but for jr's flags (room.mu).
type roomDet struct {
	post    []func() // hooks to run after the current one returns
	secret  [16]byte
	prefix  string // its tokens' (the IDPrefix of the Manager that made it)
	tokenN  uint32
	timerN  uint32
	armN    uint32 // timers armed (a periodic one at each period)
	pos     uint64
	itemNow time.Time
	rnd     *mrand.Rand
	cur     *Entry
	replay  *Entry
	jr      *journalState // an append in flight (nil: none yet)
	sn      *snapState    // snapshots and ticks (nil: none yet; most rooms without a Journal)
}

// journalState is a room's append in flight: the item's output, held
// until its entry is durable. Guarded by room.mu (the flags) and owned by
// the executor (the output).
type journalState struct {
	inflight, done, parked bool
	// late: the append has waited past JournalPatience (room.unstored is
	// set with it); told: the members have heard so.
	late, told bool
	gen        uint64  // appends so far: a patience timer's own is gen
	patience   Stopper // the timer that marks the append late
	err        error
	out        []outEvent
	buf        *[]outEvent
	enc        *eventEncoder
}

func newRoom(m *Manager, g *Game, id string) *room {
	r := &room{
		m: m, game: g,
		seats:  make([]*Player, g.MaxPlayers),
		window: g.ReconnectWindow,
		games:  m.stats.game(g.Name),
	}
	r.setID(id)
	r.ctx.r = r
	r.d = new(roomDet)
	r.indexLarge(0)
	return r
}

// setID names the room: its id is the end of its topic, one string for both.
func (r *room) setID(id string) {
	r.topic = r.m.o.TopicPrefix + id
	r.id = r.topic[len(r.m.o.TopicPrefix):]
}

// logger returns the room's logger (with "room" and "game" attributes),
// making it on first use. Executor only.
func (r *room) logger() *slog.Logger {
	if r.log == nil {
		r.log = r.m.log.With("room", r.id, "game", r.game.Name)
	}
	return r.log
}

// outPool holds the buffers rooms gather an item's Transport calls in;
// one that grew past maxPooledOut (a broadcast to a crowd of spectators)
// is left to the collector.
var outPool = sync.Pool{New: func() any { return new([]outEvent) }}

const maxPooledOut = 256

// process runs one item and everything it entails: deferred hooks,
// disposal, the empty check, state broadcasts, the Transport calls and the
// public info. Executor only.
func (r *room) process(it *item) {
	if r.state == StateDisposed {
		return
	}
	r.active.Store(true)
	defer r.active.Store(false)
	r.d.itemNow, r.d.rnd = r.m.clock.Now(), nil
	journaled := it.kind.journaled()
	if journaled {
		r.d.pos++
		if r.m.o.Journal != nil && r.d.replay == nil {
			r.d.cur = r.entryOf(it, r.d.itemNow)
			r.countEntry(r.d.itemNow)
		}
	}
	defer func() { r.d.itemNow, r.d.rnd, r.d.cur = time.Time{}, nil, nil }()
	// The Transport calls an item makes are gathered in a buffer borrowed
	// for the item: a room between items holds none (most rooms, most of
	// the time, idle or waiting out their grace).
	buf := outPool.Get().(*[]outEvent)
	r.out = (*buf)[:0]
	held := false
	defer func() {
		if held { // the journal's append has the output until it is done
			return
		}
		clear(r.out)
		if cap(r.out) <= maxPooledOut {
			*buf = r.out[:0]
			outPool.Put(buf)
		}
		r.out = nil
		if r.enc != nil { // the Transport is done with the data (DataCopier)
			r.enc.release()
			r.enc = nil
		}
	}()
	ok := r.guard(func() {
		r.handle(it)
		for len(r.d.post) > 0 {
			f := r.d.post[0]
			r.d.post = r.d.post[1:]
			f()
		}
		// Not between a room's creation and its creator's join: the room
		// is about to be sat in, and with a negative EmptyGrace the check
		// would dispose of it before the creator's seat is processed.
		if !it.creatorNext {
			r.checkEmpty()
		}
	})
	switch {
	case !ok:
		// What the failed item produced is not sent; it answers with the
		// reason, and the room closes without further hooks.
		clear(r.out)
		r.out, r.d.post = r.out[:0], nil
		r.answer(it, ReasonInternalError)
		r.dispose(ReasonInternalError, false)
	case r.closing:
		r.dispose(r.closeReason, r.closeHook)
	default:
		r.showState()
	}
	if r.charge != nil && r.state != StateWaiting {
		r.m.waiting.release(*r.charge) // started, or gone: rooms never wait again
		r.charge = nil
	}
	if r.dirty && r.created {
		// Counted before the events go out: whoever has seen a room's new
		// state in its events finds it in Stats too.
		r.m.stats.track(r)
	}
	if r.d.cur != nil && !r.evicted {
		held = true
		r.hold(buf, *r.d.cur)
		return
	}
	r.flush()
	r.publishInfo()
}

// hold keeps the item's output (r.out, in buf, and its events' data) until
// its journal entry e is durable, and appends e. Executor only.
func (r *room) hold(buf *[]outEvent, e Entry) {
	j := r.d.jr
	if j == nil {
		j = new(journalState)
		r.d.jr = j
	}
	r.mu.Lock()
	j.inflight, j.done, j.parked, j.err = true, false, false, nil
	j.gen++
	gen := j.gen
	r.mu.Unlock()
	j.out, j.buf, j.enc = r.out, buf, r.enc
	r.out, r.enc = nil, nil
	if p := r.m.o.JournalPatience; p > 0 {
		j.patience = r.m.clock.AfterFunc(p, func() { r.appendLate(j, gen) })
	}
	r.m.o.Journal.Append(r.id, e, func(err error) {
		r.mu.Lock()
		j.done, j.err = true, err
		parked := j.parked
		j.parked = false
		r.mu.Unlock()
		if parked {
			r.m.sched.requeue(r)
		}
	})
}

// appendLate marks the room's append gen late, if it is still in flight
// (JournalPatience passed): from now on its client items are refused, and
// a parked room goes back to an executor, which answers those waiting and
// tells the members (awaitAppend). From the clock's goroutine.
func (r *room) appendLate(j *journalState, gen uint64) {
	r.mu.Lock()
	if j.gen != gen || !j.inflight || j.done {
		r.mu.Unlock()
		return
	}
	j.late, r.unstored = true, true
	parked := j.parked
	j.parked = false
	r.mu.Unlock()
	r.m.log.Debug("rooms: the journal has not stored a room's item in time; its client items are refused until it does",
		"room", r.id, "patience", r.m.o.JournalPatience)
	if parked {
		r.m.sched.requeue(r)
	}
}

// awaitAppend reports whether the room must wait for its append in flight
// (the executor leaves it; the append's end puts it back in the run
// queue), and releases the held output of one that is done. Executor only.
func (r *room) awaitAppend() bool {
	for {
		if r.awaitOne() {
			return true
		}
		// The room as its last entry left it, the entry durable: its
		// snapshot, if due, is the next append.
		if !r.snapshotDue() || !r.appendSnapshot() {
			return false
		}
	}
}

// awaitOne is awaitAppend for one append.
func (r *room) awaitOne() bool {
	j := r.d.jr
	if j == nil {
		return false
	}
	r.mu.Lock()
	if !j.inflight {
		r.mu.Unlock()
		return false
	}
	for !j.done {
		// A late append: the client items waiting are answered (not
		// parked yet, so that the append's end cannot put the room on
		// another executor meanwhile), then the room looks again.
		tell := j.late && !j.told
		var refused []item
		if j.late {
			refused = r.takeClientItemsLocked()
		}
		if !tell && len(refused) == 0 {
			j.parked = true
			r.mu.Unlock()
			return true
		}
		j.told = true
		r.mu.Unlock()
		r.refuseUnstored(refused, tell)
		r.mu.Lock()
	}
	j.inflight, j.done = false, false
	late := j.late
	j.late, j.told, r.unstored = false, false, false
	err := j.err
	j.err = nil
	r.mu.Unlock()
	if j.patience != nil {
		j.patience.Stop()
		j.patience = nil
	}
	if late {
		r.m.log.Debug("rooms: the journal stored a room's late item; the room goes on", "room", r.id)
	}
	r.out, r.enc = j.out, j.enc
	if err != nil {
		// Another node owns the room: nothing of it goes out, and it stops.
		r.m.log.Warn("rooms: journal append refused; the room is evicted", "room", r.id, "err", err)
		r.evicted = true
	}
	r.flush()
	if !r.evicted {
		r.publishInfo()
	}
	clear(r.out)
	if cap(r.out) <= maxPooledOut {
		*j.buf = r.out[:0]
		outPool.Put(j.buf)
	}
	if r.enc != nil {
		r.enc.release()
	}
	r.out, r.enc, j.out, j.buf, j.enc = nil, nil, nil, nil, nil
	if err != nil && r.state != StateDisposed {
		r.process(&item{kind: kEvict})
	}
	return false
}

// takeClientItemsLocked takes the client items out of the room's mailbox
// (the runtime's stay, in their order) and returns them.
func (r *room) takeClientItemsLocked() []item {
	if r.pending == 0 {
		return nil
	}
	var taken []item
	q := r.q[r.qhead:]
	kept := q[:0]
	for _, it := range q {
		if it.counted {
			taken = append(taken, it)
		} else {
			kept = append(kept, it)
		}
	}
	clear(q[len(kept):])
	r.q = r.q[:int(r.qhead)+len(kept)]
	r.pending = 0
	r.m.stats.mailbox.Add(-int64(len(taken)))
	return taken
}

// refuseUnstored answers the client items taken from a room whose append
// is late with ReasonJournalUnavailable, and, when tell, tells its members
// that the game waits for its store. Nothing of the room's state goes out:
// the held output stays held. Executor only, between items.
func (r *room) refuseUnstored(its []item, tell bool) {
	buf := outPool.Get().(*[]outEvent)
	r.out = (*buf)[:0]
	if tell {
		r.publish(evError, errorData{Reason: ReasonJournalWaiting})
	}
	for i := range its {
		it := &its[i]
		if it.kind == kMessage && it.msg.IsMove() {
			r.rejectMove(it.msg, RejectJournalUnavailable)
		}
		r.answer(it, ReasonJournalUnavailable)
	}
	r.m.stats.journalRefused.Add(int64(len(its)))
	r.flush()
	if cap(r.out) <= maxPooledOut {
		*buf = r.out[:0]
		outPool.Put(buf)
	}
	r.out = nil
}

// guard runs f, recovering a panic (logged with its stack).
func (r *room) guard(f func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			r.logger().Error("rooms: panic in a room hook; the room is closed", "panic", v, "stack", string(debug.Stack()))
			r.m.stats.panics.Add(1)
			ok = false
		}
	}()
	f()
	return true
}

func (r *room) handle(it *item) {
	switch it.kind {
	case kCreate:
		r.create(it.entry.opts)
	case kJoin:
		r.join(it)
	case kSpectate:
		r.spectate(it)
	case kReclaim:
		r.reclaim(it)
	case kMessage:
		r.message(it.session, it.msg)
	case kDo:
		it.fn(&r.ctx)
	case kLeave:
		r.leave(it.session)
	case kPresence:
		r.presence(it.session)
	case kTimer:
		r.fire(it.timer)
	case kShutdown:
		r.shutdown()
	case kEvict:
		// Not a word to anyone, this item's Transport calls included
		// (flush): the room is another node's now.
		r.evicted, r.closedSent = true, true
		r.closeWith(ReasonEvicted, true)
	}
}

// closeWith asks for disposal after the current item.
func (r *room) closeWith(reason string, hook bool) {
	if !r.closing {
		r.closing, r.closeReason, r.closeHook = true, reason, hook
	}
}

func (r *room) create(opts Options) {
	impl := r.game.New()
	if impl == nil {
		panic("rooms: Game.New returned nil")
	}
	r.impl = impl
	r.label = cleanLabel(opts["label"])
	if err := impl.OnCreate(&r.ctx, opts); err != nil {
		r.logger().Info("rooms: creation refused", "err", err)
		r.closeWith(err.Error(), false)
		return
	}
	r.created = true
	r.dirty = true
	if tk, ok := impl.(Ticker); ok && r.game.TickRate > 0 {
		r.snap().tickLast = r.now()
		r.after(r.game.TickRate, r.tickFn(tk), r.game.TickRate).kind = timerTick
	}
}

// The callbacks of the runtime's own timers, made again when a room is
// restored from a snapshot.

// tickFn calls OnTick with the time since the last tick.
func (r *room) tickFn(tk Ticker) func(*Ctx) {
	return func(c *Ctx) {
		now := r.now()
		s := r.snap()
		dt := now.Sub(s.tickLast)
		s.tickLast = now
		tk.OnTick(c, dt)
	}
}

// windowFn ends p's reconnect window: p leaves, dropped.
func (r *room) windowFn(p *Player) func(*Ctx) {
	return func(*Ctx) {
		p.window = nil
		r.removeSeat(p, LeaveDropped)
		r.leaveHook(p, LeaveDropped)
	}
}

// graceFn ends an empty room's grace.
func (r *room) graceFn() func(*Ctx) {
	return func(*Ctx) {
		r.grace = nil
		if r.nseated == 0 {
			r.closeWith(ReasonEmpty, true)
		}
	}
}

// turnTimer makes the timer of turn clock c with mk, its callback ending
// the clock and calling onTimeout.
func (r *room) turnTimer(c *turnClock, onTimeout func(*Ctx), mk func(func(*Ctx)) *Timer) {
	var t *Timer
	t = mk(func(ctx *Ctx) {
		if c.timer == t {
			c.timer = nil
		}
		if onTimeout != nil {
			onTimeout(ctx)
		}
	})
	t.kind = timerTurn
	c.timer = t
}

// admit applies the runtime's rules for a seat.
func (r *room) admit(p PlayerInfo) error {
	switch {
	case r.state != StateWaiting:
		return ErrGameStarted
	case r.byID(p.PlayerID) != nil || r.bySession(p.SessionID) != nil:
		return ErrAlreadyJoined
	case int(r.nseated) >= len(r.seats):
		return ErrRoomFull
	case r.manualLock:
		return ErrRoomLocked
	}
	return nil
}

func (r *room) join(it *item) {
	info := it.entry.info
	if err := r.admit(info); err != nil {
		r.reject(it, err.Error())
		return
	}
	p := &Player{id: info.PlayerID, name: info.Name, seat: int32(slices.Index(r.seats, nil)),
		connected: true, joinOpts: info.Options, session: info.SessionID}
	r.seats[p.seat] = p
	r.nseated++
	r.index(p)
	it.moved = true // the seat holds the session's reference now

	mark := len(r.out)
	if err := r.impl.OnJoin(&r.ctx, p); err != nil {
		r.unseat(p)
		// Whatever OnJoin sent the joiner is dropped; its broadcasts stand.
		r.out = slices.DeleteFunc(r.out, func(o outEvent) bool {
			return o.op == opSend && o.session == p.session
		})
		r.reject(it, err.Error())
		return
	}
	if p.left { // the game kicked the joiner from OnJoin
		return
	}
	tail := slices.Clone(r.out[mark:])
	r.out = r.out[:mark]
	r.setToken(p)
	r.mu.Lock()
	r.members.set(p.session, gate{})
	r.mu.Unlock()
	r.publish(evPlayerJoined, playerData{p.Summary()})
	r.subscribe(p.session)
	r.sendJoined(p, false)
	r.out = append(r.out, tail...)
	r.sendSnapshot(p)
	r.dirty = true
	r.presence(p.session) // a Detached reported while the join was queued
}

func (r *room) spectate(it *item) {
	info := it.entry.info
	switch {
	case !r.game.Spectators:
		r.reject(it, ErrSpectatorsNotAllowed.Error())
		return
	case len(r.spectators) >= r.game.MaxSpectators:
		r.reject(it, ErrTooManySpectators.Error())
		return
	case r.byID(info.PlayerID) != nil || r.bySession(info.SessionID) != nil:
		r.reject(it, ErrAlreadyJoined.Error())
		return
	}
	p := &Player{id: info.PlayerID, name: info.Name, seat: -1, spectator: true,
		connected: true, joinOpts: info.Options, session: info.SessionID}
	if sc, ok := r.impl.(SpectateChecker); ok {
		if err := sc.OnSpectate(&r.ctx, p); err != nil {
			r.reject(it, err.Error())
			return
		}
	}
	r.indexLarge(1)
	r.spectators = append(r.spectators, p)
	r.index(p)
	it.moved = true
	r.mu.Lock()
	r.members.set(p.session, gate{spectator: true})
	r.mu.Unlock()
	r.subscribe(p.session)
	r.sendJoined(p, false)
	r.sendSnapshot(p)
	r.dirty = true
	r.presence(p.session)
}

func (r *room) reclaim(it *item) {
	var p *Player
	for _, q := range r.seats {
		if q != nil && q.token == it.entry.token {
			p = q
			break
		}
	}
	s := it.session
	if p == nil {
		r.reject(it, ErrBadToken.Error())
		return
	}
	if old := p.session; old != s {
		if r.bySession(s) != nil {
			r.reject(it, ErrAlreadyJoined.Error())
			return
		}
		r.moveSession(p, s)
		r.mu.Lock()
		r.members.del(old)
		r.members.set(s, gate{})
		r.mu.Unlock()
		r.unsubscribe(old)
		if _, ended := r.sessionState(old); !ended {
			r.sendTo(old, evKicked, kickedData{r.id, ReasonReclaimed})
		}
		r.m.sessions.unref(old, r)
	} else {
		r.m.sessions.unref(s, r) // the seat already holds this session's reference
	}
	it.moved = true
	r.m.tokens.drop(p.token, r)
	r.setToken(p)
	detached, ended := r.sessionState(s)
	up := !detached && !ended
	if up && !p.connected {
		r.reconnect(p, false)
	}
	r.subscribe(s)
	r.sendJoined(p, true)
	r.sendSnapshot(p)
	if !up && p.connected {
		r.disconnect(p)
	}
	r.dirty = true
}

// setToken gives p a fresh reconnection token (derived from the room's
// secret: a replay gives the same).
func (r *room) setToken(p *Player) {
	p.token = r.nextToken()
	r.m.tokens.set(p.token, tokenRef{room: r, seat: p})
}

// reject answers a join-like item.
func (r *room) reject(it *item, reason string) {
	if !it.moved {
		it.moved = true
		r.m.sessions.unref(it.session, r)
	}
	r.sendTo(it.session, evJoinRejected, rejectData{Room: r.id, Reason: reason})
}

// answer tells the sender of an item that will not be processed why.
func (r *room) answer(it *item, reason string) {
	switch it.kind {
	case kJoin, kSpectate, kReclaim:
		r.reject(it, reason)
	case kMessage:
		r.sendError(it.session, it.msg, reason, 0)
	}
}

func (r *room) message(s string, msg Message) {
	p := r.bySession(s)
	switch {
	case p == nil:
		r.rejectMove(msg, RejectNotInRoom)
		r.sendError(s, msg, ErrNotInRoom.Error(), 0)
		return
	case p.spectator:
		r.rejectMove(msg, RejectSpectator)
		r.sendError(s, msg, ReasonSpectator, 0)
		return
	case msg.Type == "rematch" && r.game.Rematch:
		r.vote(p)
		return
	case !msg.IsMove():
		if err := r.impl.OnMessage(&r.ctx, p, msg); err != nil {
			r.sendError(s, msg, err.Error(), 0)
		}
		return
	}
	if seq, ok := p.moves.find(msg.MoveID, p.seq); ok {
		r.sendTo(s, evAck, ackData{Move: msg.MoveID, Seq: seq})
		return
	}
	switch {
	case r.state != StatePlaying:
		r.rejectMove(msg, RejectNotInProgress)
		r.sendError(s, msg, ReasonNotInProgress, 0)
		return
	case r.turn != nil && r.turn != p:
		r.rejectMove(msg, RejectNotYourTurn)
		r.sendError(s, msg, ReasonNotYourTurn, 0)
		return
	case msg.Seq != p.seq+1: // Deliver refuses a move without seq
		r.rejectMove(msg, RejectStaleSeq)
		r.sendError(s, msg, fmt.Sprintf(reasonStaleMoveFormat, p.seq+1), p.seq+1)
		return
	}
	mark := len(r.out)
	if err := r.impl.OnMessage(&r.ctx, p, msg); err != nil {
		r.rejectMove(msg, RejectByGame)
		r.sendError(s, msg, err.Error(), 0)
		return
	}
	if r.d.replay == nil {
		r.m.stats.moves.Add(1)
	}
	p.seq++
	p.moves.add(msg.MoveID)
	if ev, err := r.event(evAck, ackData{Move: msg.MoveID, Seq: p.seq}); err == nil {
		// The mover learns its move was applied before its consequences.
		r.out = slices.Insert(r.out, mark, outEvent{op: opSend, session: s, ev: ev})
	}
}

func (r *room) vote(p *Player) {
	if r.state != StateFinished {
		r.sendError(p.session, Message{Type: "rematch"}, ReasonNoRematch, 0)
		return
	}
	if p.rematch {
		return
	}
	p.rematch = true
	votes := 0
	for _, q := range r.seats {
		if q != nil && q.rematch {
			votes++
		}
	}
	r.publish(evRematchVote, voteData{Player: p.Summary(), Votes: votes, Needed: max(int(r.nseated), r.game.MinPlayers)})
	r.checkRematch()
}

// checkRematch starts the rematch once every seated player voted.
func (r *room) checkRematch() {
	if !r.game.Rematch || r.state != StateFinished || int(r.nseated) < r.game.MinPlayers {
		return
	}
	for _, q := range r.seats {
		if q != nil && !q.rematch {
			return
		}
	}
	for _, q := range r.seats {
		if q != nil {
			// A new game: its moves may reuse the last game's ids. A late
			// retry of one of those carries an old seq and is refused as
			// stale, never applied.
			q.rematch = false
			q.moves.reset()
		}
	}
	r.state = StatePlaying
	if r.d.replay == nil {
		r.games.started.Add(1) // a rematch is a new game (Stats)
	}
	r.showState()
	if rm, ok := r.impl.(Rematcher); ok {
		rm.OnRematch(&r.ctx)
	}
}

func (r *room) leave(s string) {
	p := r.bySession(s)
	switch {
	case p == nil:
	case p.spectator:
		r.removeSpectator(p)
	default:
		r.removeSeat(p, LeaveLeft)
		r.leaveHook(p, LeaveLeft)
	}
}

// unseat frees p's seat and forgets its session, without events.
func (r *room) unseat(p *Player) {
	r.unindex(p)
	r.seats[p.seat] = nil
	r.nseated--
	p.left, p.connected, p.rematch = true, false, false
	if p.window != nil {
		p.window.stop()
		p.window = nil
	}
	r.m.tokens.drop(p.token, r)
	p.token = ""
	r.mu.Lock()
	r.members.del(p.session)
	r.mu.Unlock()
	r.m.sessions.unref(p.session, r)
	r.dirty = true
}

// removeSeat takes a seated player out with "player-left"; the caller runs
// leaveHook (now, or after the current hook for a kick).
func (r *room) removeSeat(p *Player, reason LeaveReason) {
	r.unseat(p)
	r.publish(evPlayerLeft, leftData{Player: p.Summary(), Reason: reason})
	r.unsubscribe(p.session)
}

func (r *room) leaveHook(p *Player, reason LeaveReason) {
	r.impl.OnLeave(&r.ctx, p, reason)
	if r.turn == p {
		r.setTurn(nil, 0, nil)
	}
	r.checkRematch()
}

func (r *room) removeSpectator(p *Player) {
	r.unindex(p)
	r.spectators = slices.DeleteFunc(r.spectators, func(q *Player) bool { return q == p })
	p.left, p.connected = true, false
	r.mu.Lock()
	r.members.del(p.session)
	r.mu.Unlock()
	r.unsubscribe(p.session)
	r.m.sessions.unref(p.session, r)
	r.dirty = true
}

// presence reconciles a member with its session's reported state.
func (r *room) presence(s string) {
	r.mu.Lock()
	if g := r.members.get(s); g != nil {
		g.presence = false
	}
	r.mu.Unlock()
	p := r.bySession(s)
	if p == nil {
		return
	}
	detached, ended := r.sessionState(s)
	switch {
	case p.spectator:
		if ended {
			r.removeSpectator(p)
		}
	case (detached || ended) && p.connected:
		r.disconnect(p)
	case !detached && !ended && !p.connected:
		r.reconnect(p, true)
	}
}

// disconnect starts p's reconnect window.
func (r *room) disconnect(p *Player) {
	p.connected = false
	r.dirty = true
	if r.window < 0 {
		r.removeSeat(p, LeaveDropped)
		r.leaveHook(p, LeaveDropped)
		return
	}
	r.publish(evPlayerDropped, droppedData{Player: p.Summary(), WindowMS: ms(r.window)})
	p.window = r.after(r.window, r.windowFn(p), 0)
	p.window.kind = timerWindow
}

// reconnect ends p's reconnect window.
func (r *room) reconnect(p *Player, snapshot bool) {
	if p.window != nil {
		p.window.stop()
		p.window = nil
	}
	p.connected = true
	r.dirty = true
	r.publish(evPlayerReconnected, playerData{p.Summary()})
	if snapshot {
		r.sendSnapshot(p)
	}
}

// notePresence queues a presence check for a member session, once.
func (r *room) notePresence(s string) {
	r.mu.Lock()
	g := r.members.get(s)
	if g == nil || g.presence || r.closed {
		r.mu.Unlock()
		return
	}
	g.presence = true
	_ = r.enqueueLocked(item{kind: kPresence, session: s}) // not counted: cannot fail
	sched := !r.scheduled
	r.scheduled = true
	r.mu.Unlock()
	if sched {
		r.m.sched.schedule(r)
	}
}

// gateLocked returns the member gate of a session.
func (r *room) gateLocked(s string) (*gate, error) {
	if r.closed {
		return nil, ErrNoRoom
	}
	g := r.members.get(s)
	if g == nil {
		return nil, ErrNotInRoom
	}
	return g, nil
}

func (r *room) fire(t *Timer) {
	if t.stopped {
		return
	}
	if t.period == 0 {
		t.stopped = true
		r.unlinkTimer(t)
	}
	t.fn(&r.ctx)
	if t.period > 0 && !t.stopped && !r.closing {
		t.due = r.now().Add(t.period)
		r.d.armN++
		t.armed = r.d.armN
		if r.d.replay == nil {
			t.stopper = r.m.clock.AfterFunc(t.period, t.fire)
		}
	}
}

func (r *room) shutdown() {
	if r.state == StatePlaying {
		// The game ends without a winner before anyone leaves: OnLeave
		// then sees it finished, so the seats leaving one by one (the
		// first, then the second...) cannot hand the last one the game.
		r.finish(ShutdownResult{Reason: LeaveShutdown.String()})
	}
	r.publish(evClosed, closedData{Reason: ReasonShutdown})
	r.closedSent = true
	for _, p := range r.seats {
		if p != nil {
			r.removeSeat(p, LeaveShutdown)
			r.leaveHook(p, LeaveShutdown)
		}
	}
	r.closeWith(ReasonShutdown, true)
}

// checkEmpty disposes of a room nobody sits in, after the grace period.
func (r *room) checkEmpty() {
	if !r.created || r.closing {
		return
	}
	if r.nseated > 0 {
		if r.grace != nil {
			r.grace.stop()
			r.grace = nil
		}
		return
	}
	if r.grace != nil {
		return
	}
	// A game started or over that nobody sits in can never be sat in
	// again (joins are for waiting rooms; a held seat counts as seated):
	// it closes at once instead of holding its memory for the grace.
	if r.game.EmptyGrace < 0 || r.state != StateWaiting {
		r.closeWith(ReasonEmpty, true)
		return
	}
	r.grace = r.after(r.game.EmptyGrace, r.graceFn(), 0)
	r.grace.kind = timerGrace
}

// dispose closes the room: timers, OnDispose (when hook), "closed", the
// members' subscriptions, tokens and pending items.
func (r *room) dispose(reason string, hook bool) {
	r.closing = false
	r.state = StateDisposed
	for t := r.timers; t != nil; t = r.timers {
		if !t.stop() {
			r.unlinkTimer(t) // not pending: only its link was left
		}
	}
	if r.clock != nil {
		r.clock.timer = nil
	}
	r.grace = nil
	if hook && r.created {
		r.guard(func() { r.impl.OnDispose(&r.ctx) })
	}
	if !r.closedSent {
		r.publish(evClosed, closedData{Reason: reason})
		r.closedSent = true
	}
	for _, p := range r.seats {
		if p != nil {
			r.unseat(p)
			r.unsubscribe(p.session)
		}
	}
	for _, p := range slices.Clone(r.spectators) {
		r.removeSpectator(p)
	}
	r.turn = nil
	r.mu.Lock()
	r.closed = true
	pending := slices.Clone(r.q[r.qhead:])
	r.m.stats.mailbox.Add(-int64(len(pending)))
	clear(r.q)
	r.q, r.qhead, r.pending = nil, 0, 0
	r.mu.Unlock()
	for i := range pending {
		r.answer(&pending[i], reason)
	}
	r.m.removeRoom(r)
	r.dirty = true
}

// showState broadcasts "room-state" when the state or the lock changed.
func (r *room) showState() {
	if r.state == StateDisposed {
		return
	}
	l := r.locked()
	if r.state == r.shownState && l == r.shownLocked {
		return
	}
	r.shownState, r.shownLocked = r.state, l
	r.dirty = true
	r.publish(evRoomState, stateData{State: r.state, Locked: l})
}

func (r *room) locked() bool { return r.manualLock || int(r.nseated) >= len(r.seats) }

// publishInfo stores the public info and tells OnRoomChange.
func (r *room) publishInfo() {
	if !r.dirty || !r.created || r.d.replay != nil {
		return
	}
	r.m.stats.track(r) // every state change ends here: count the room under its state
	r.dirty = false
	info := RoomInfo{
		ID: r.id, Game: r.game.Name, Label: r.label, State: r.state,
		Players: r.summaries(), Spectators: len(r.spectators),
		MinPlayers: r.game.MinPlayers, MaxPlayers: len(r.seats), Locked: r.locked(),
	}
	removed := r.state == StateDisposed
	r.mu.Lock()
	r.info, r.infoOK = info, !removed
	replaced := r.replaced
	r.mu.Unlock()
	if !replaced {
		r.m.roomChanged(info, removed)
	}
}

// publicInfo returns the last published info. Safe for concurrent use.
func (r *room) publicInfo() (RoomInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := r.info
	info.Players = slices.Clone(info.Players)
	return info, r.infoOK
}

func (r *room) summaries() []PlayerSummary {
	out := make([]PlayerSummary, 0, r.nseated)
	for _, p := range r.seats {
		if p != nil {
			out = append(out, p.Summary())
		}
	}
	return out
}

// turnClock is the deadline of a room's turn, for the games that give
// turns one (most rooms never have one).
type turnClock struct {
	at    time.Time // the deadline; zero = none
	timer *Timer    // pending until the deadline
}

// turnAt returns the current turn's deadline (zero: none).
func (r *room) turnAt() time.Time {
	if r.clock == nil {
		return time.Time{}
	}
	return r.clock.at
}

// turnTimed reports whether the turn's deadline is still pending.
func (r *room) turnTimed() bool { return r.clock != nil && r.clock.timer != nil }

func (r *room) setTurn(p *Player, timeout time.Duration, onTimeout func(*Ctx)) {
	if s := r.d.sn; s != nil && s.load != nil {
		s.load.resumeTurn(r, p, onTimeout) // LoadState gives the turn's callback back
		return
	}
	if c := r.clock; c != nil {
		if c.timer != nil {
			c.timer.stop()
		}
		c.at, c.timer = time.Time{}, nil
	}
	r.turn = p
	if p != nil && timeout > 0 {
		if r.clock == nil {
			r.clock = new(turnClock)
		}
		c := r.clock
		c.at = r.now().Add(timeout)
		r.turnTimer(c, onTimeout, func(f func(*Ctx)) *Timer { return r.after(timeout, f, 0) })
	}
	r.publish(evTurn, r.turnData())
}

func (r *room) turnData() turnData {
	var d turnData
	if r.turn != nil {
		s := r.turn.Summary()
		d.Player = &s
	}
	if at := r.turnAt(); !at.IsZero() {
		d.DeadlineMS = at.UnixMilli()
		d.TimeoutMS = max(0, ms(at.Sub(r.now())))
	}
	return d
}

// after arms a timer whose callback runs as an item of the room.
func (r *room) after(d time.Duration, f func(*Ctx), period time.Duration) *Timer {
	if s := r.d.sn; s != nil && s.load != nil {
		return s.load.rearm(r, f, period) // LoadState gives a game's timer back
	}
	r.d.timerN++
	r.d.armN++
	t := &Timer{r: r, fn: f, period: period, ord: r.d.timerN, armed: r.d.armN, due: r.now().Add(max(d, 0))}
	if r.state == StateDisposed {
		t.stopped = true
		return t
	}
	r.linkTimer(t)
	if r.d.replay == nil { // a replay arms its timers at its end (Restore)
		t.stopper = r.m.clock.AfterFunc(max(d, 0), t.fire)
	}
	return t
}

// Output: everything a room says goes through the outbox and is handed to
// the Transport after the item, outside every lock.

// event encodes an event of the room, or logs and returns why it cannot.
func (r *room) event(typ string, data any) (Event, error) {
	var b []byte
	var err error
	if r.m.copier && r.active.Load() {
		if r.enc == nil {
			r.enc = encoders.Get().(*eventEncoder)
		}
		b, err = r.enc.encode(data)
	} else {
		b, err = json.Marshal(data)
	}
	if err != nil {
		err = fmt.Errorf("rooms: event %q not sent: cannot encode its data: %w", typ, err)
		r.logger().Error(err.Error())
		return Event{}, err
	}
	return Event{Topic: r.topic, Type: typ, Data: b}, nil
}

func (r *room) publish(typ string, data any) error {
	ev, err := r.event(typ, data)
	if err == nil {
		r.out = append(r.out, outEvent{op: opPublish, ev: ev})
	}
	return err
}

func (r *room) sendTo(s, typ string, data any) error {
	ev, err := r.event(typ, data)
	if err == nil {
		r.out = append(r.out, outEvent{op: opSend, session: s, ev: ev})
	}
	return err
}

// gameType returns, and logs, ErrReservedType for an event type a game may
// not send (Reserved).
func (r *room) gameType(typ string) error {
	if !Reserved(typ) {
		return nil
	}
	err := reservedTypeError(typ)
	r.logger().Error("rooms: event not sent", "err", err)
	return err
}

func (r *room) subscribe(s string) {
	r.out = append(r.out, outEvent{op: opSubscribe, session: s})
}

func (r *room) unsubscribe(s string) {
	r.out = append(r.out, outEvent{op: opUnsubscribe, session: s})
}

func (r *room) flush() {
	t := r.m.t
	if r.evicted || r.d.replay != nil {
		r.out = r.out[:0]
		return
	}
	for _, o := range r.out {
		switch o.op {
		case opSend:
			t.Send(o.session, o.ev)
		case opPublish:
			t.Publish(r.topic, o.ev)
		case opSubscribe:
			t.Subscribe(o.session, r.topic)
		case opUnsubscribe:
			t.Unsubscribe(o.session, r.topic)
		}
	}
	clear(r.out)
	r.out = r.out[:0]
}

func (r *room) sendJoined(p *Player, reconnected bool) {
	d := joinedData{
		Room: r.id, Game: r.game.Name, Seat: int(p.seat), Player: p.Summary(), Token: p.token,
		Players: r.summaries(), State: r.state, Locked: r.locked(), Reconnected: reconnected, Seq: p.seq,
	}
	if r.turn != nil {
		t := r.turnData()
		d.Turn = &t
	}
	r.sendTo(p.session, evJoined, d)
}

func (r *room) sendSnapshot(p *Player) {
	if sn, ok := r.impl.(Snapshotter); ok {
		r.sendTo(p.session, evState, sn.Snapshot(&r.ctx, p))
	}
}

// rejectMove counts a refused move for Stats (other messages are not counted).
func (r *room) rejectMove(msg Message, reason string) {
	if msg.IsMove() && r.d.replay == nil {
		r.m.stats.reject(reason)
	}
}

func (r *room) sendError(s string, msg Message, reason string, expected int) {
	r.sendTo(s, evError, errorData{Move: msg.MoveID, Type: msg.Type, Reason: reason, Expected: expected})
}

// Event payloads (see docs/ROOMS.md, "What the browser sees").

type playerData struct {
	Player PlayerSummary `json:"player"`
}

type leftData struct {
	Player PlayerSummary `json:"player"`
	Reason LeaveReason   `json:"reason"`
}

type droppedData struct {
	Player   PlayerSummary `json:"player"`
	WindowMS int64         `json:"window_ms"`
}

type joinedData struct {
	Room        string          `json:"room"`
	Game        string          `json:"game"`
	Seat        int             `json:"seat"`
	Player      PlayerSummary   `json:"player"`
	Token       string          `json:"token,omitempty"`
	Players     []PlayerSummary `json:"players"`
	State       State           `json:"state"`
	Locked      bool            `json:"locked"`
	Reconnected bool            `json:"reconnected"`
	Seq         int             `json:"seq"`
	Turn        *turnData       `json:"turn"`
}

type rejectData struct {
	Room   string `json:"room"`
	Reason string `json:"reason"`
}

type kickedData struct {
	Room   string `json:"room"`
	Reason string `json:"reason"`
}

type stateData struct {
	State  State `json:"state"`
	Locked bool  `json:"locked"`
}

type turnData struct {
	Player     *PlayerSummary `json:"player"`
	DeadlineMS int64          `json:"deadline_ms"`
	TimeoutMS  int64          `json:"timeout_ms"`
}

type finishedData struct {
	Result any `json:"result"`
}

type closedData struct {
	Reason string `json:"reason"`
}

type ackData struct {
	Move string `json:"move"`
	Seq  int    `json:"seq"`
}

type errorData struct {
	Move     string `json:"move,omitempty"`
	Type     string `json:"type,omitempty"`
	Reason   string `json:"reason"`
	Expected int    `json:"expected,omitempty"`
}

type voteData struct {
	Player PlayerSummary `json:"player"`
	Votes  int           `json:"votes"`
	Needed int           `json:"needed"`
}

// moveLog remembers a seat's last moveMemory applied move ids. Their
// sequence numbers are consecutive, up to the seat's last (Player.seq): the
// log keeps the ids only, in the order they were applied.
type moveLog struct {
	ids  []string // oldest first until full, then a ring whose oldest is at next
	next uint8
}

// find returns the sequence number of the applied move id, given the
// seat's last.
func (l *moveLog) find(id string, last int) (int, bool) {
	n := len(l.ids)
	for i, x := range l.ids {
		if x == id {
			age := n - 1 - (i-int(l.next)+n)%n // moves applied after it
			return last - age, true
		}
	}
	return 0, false
}

// add records the next applied move.
func (l *moveLog) add(id string) {
	if len(l.ids) < moveMemory {
		l.ids = append(l.ids, id)
		return
	}
	l.ids[l.next] = id
	l.next = uint8((int(l.next) + 1) % moveMemory)
}

// reset forgets every move (a new game), keeping the buffer.
func (l *moveLog) reset() {
	clear(l.ids)
	l.ids, l.next = l.ids[:0], 0
}
