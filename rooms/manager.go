package rooms

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ManagerOptions configures a Manager. Zero fields take the defaults given.
type ManagerOptions struct {
	// Executors is the number of goroutines running room hooks (default
	// 2×GOMAXPROCS). It is the whole of the runtime's goroutines: rooms and
	// players add none.
	Executors int
	// MailboxSize bounds the client items (joins, messages, reclaims, Do)
	// waiting in one room's mailbox (default 256). Past it, the Manager
	// method returns ErrMailboxFull at once and enqueues nothing.
	MailboxSize int
	// Clock is the source of time and timers (default RealClock).
	Clock Clock
	// Logger receives the runtime's logs and is the parent of every room's
	// ctx.Logger() (default slog.Default()).
	Logger *slog.Logger
	// TopicPrefix is prepended to a room's id to make its topic (default
	// "/room/").
	TopicPrefix string
	// IDPrefix begins the id of every room this Manager creates and every
	// reconnection token it gives (a cluster node's tag, which tells any
	// node where a room lives); default none.
	IDPrefix string
	// MaxMessageBytes bounds a message's Data (default 16 KiB).
	MaxMessageBytes int
	// MaxWaitingPerPlayer and MaxWaitingPerAddr bound the waiting rooms a
	// player, and the players of one client address (PlayerInfo.Addr,
	// grouped by AddrKey), have created and not yet seen start or go:
	// default DefaultMaxWaitingPerPlayer (4) and DefaultMaxWaitingPerAddr
	// (32); -1: no cap. Past them Create refuses with ErrTooManyRooms.
	// Rooms created without a creator (quick-match) are not counted.
	MaxWaitingPerPlayer int
	MaxWaitingPerAddr   int
	// Journal, when set, receives every room's items as they are processed,
	// and each item's output waits until its entry is durable (see
	// Journal): another Manager rebuilds a room from them with Restore.
	// Manager.Do's functions must not change a room's state then (they are
	// not journaled).
	Journal Journal
	// JournalPatience is how long a room's append may wait for the Journal
	// before the room counts its journal unavailable (default
	// DefaultJournalPatience; -1: never): the client items waiting behind
	// the append, and those that come until it is done, are refused at
	// once with ErrJournalUnavailable, and the room's members are told
	// (an "error" event without a move: ReasonJournalWaiting). The item
	// whose append waits is applied, and its output released, when its
	// entry is durable.
	JournalPatience time.Duration
	// SnapshotEvery is the compaction policy of the journal: a room whose
	// game implements Persister is written down whole (an EntrySnapshot)
	// after every SnapshotEvery entries of its items, counted from its
	// creation or its last snapshot (default DefaultSnapshotEvery; negative:
	// never). Restore replays from the latest snapshot on, and a Journal
	// may drop the entries before a snapshot once it is durable. Without a
	// Journal it does nothing.
	SnapshotEvery int
}

// Manager defaults and limits.
const (
	DefaultMailboxSize = 256
	// DefaultJournalPatience is ManagerOptions.JournalPatience's default:
	// longer than a JetStream leader election after one server's loss
	// takes (NATS's Raft waits an election timeout of 4 to 9 s before it
	// elects; appends wait through it without a word: 5 s had the rooms of
	// a SIGKILL test refuse reclaims while a stream elected its leader),
	// short enough that a player whose move cannot be stored hears so
	// while still looking at the board.
	DefaultJournalPatience = 12 * time.Second
	DefaultTopicPrefix     = "/room/"
	DefaultMaxMessageBytes = 16 << 10
	// DefaultSnapshotEvery: a room's journal holds its latest snapshot and
	// at most this many entries after it (a tictactoe game is about a
	// dozen; a long-lived room is replayed from a snapshot and 100 items).
	DefaultSnapshotEvery = 100
	// MaxTypeLen bounds Message.Type and MaxMoveIDLen Message.MoveID, in bytes.
	MaxTypeLen   = 64
	MaxMoveIDLen = 64
	// MaxOptions bounds the entries of Options; MaxOptionKeyLen and
	// MaxOptionValueLen their sizes in bytes.
	MaxOptions        = 32
	MaxOptionKeyLen   = 64
	MaxOptionValueLen = 1024
	// MaxLabelLen bounds a room's label, in runes; longer labels are cut.
	MaxLabelLen = 64
	// MaxIDLen bounds PlayerInfo's SessionID and PlayerID, in bytes.
	MaxIDLen = 128
	// moveMemory is how many applied move ids a seat remembers for retries.
	moveMemory = 32
)

// Manager runs the rooms: it owns their mailboxes, the executor pool, the
// reconnection tokens and the index of sessions. Every method is safe for
// concurrent use and never blocks (except Shutdown and WaitIdle, which
// wait by design): they validate, enqueue and return. Hooks never run on the
// caller's goroutine, so the games bridge may call them from the Comet
// hub's event loops.
// Results of the asynchronous steps reach players as events through the
// Transport.
type Manager struct {
	t Transport
	// copier: t is a DataCopier, so rooms encode their events' data into
	// buffers they reuse.
	copier bool
	clock  Clock
	log    *slog.Logger
	o      ManagerOptions
	sched  scheduler

	executors sync.WaitGroup
	onChange  atomic.Pointer[[]func(RoomInfo, bool)]

	sessions sessionIndex
	tokens   tokenTable
	waiting  waitingCount // waiting rooms per creator and address
	stats    managerStats // figures for monitoring (Stats)

	// Locks: mu, sessions.mu, tokens.mu, waiting.mu and room.mu are leaves:
	// none is held while taking another.
	mu      sync.Mutex // guards the fields below
	games   map[string]*Game
	rooms   map[string]*room
	closed  bool
	allGone chan struct{} // closed when closed and no room is left
}

// sessionIndex is what the Manager knows of the sessions that are in (or on
// their way into) at least one room, and of detached sessions: a session
// whose listen connection is gone is remembered until Attached or
// SessionEnded, so that a seat it takes meanwhile (a quick-match) starts in
// the reconnect window instead of looking connected.
type sessionIndex struct {
	mu sync.Mutex
	m  map[string]*sessionRec
}

type sessionRec struct {
	rooms    []roomRefs // references: memberships and pending joins
	detached bool       // its listen connection is gone
	ended    bool       // the session is gone for good
}

// roomRefs counts a session's references to one room. A session is in a
// room or two (a game, one it waits to join): a slice scanned in full costs
// less than a map per session.
type roomRefs struct {
	r *room
	n int
}

// list returns the rooms of rec.
func (rec *sessionRec) list() []*room {
	rs := make([]*room, len(rec.rooms))
	for i, rr := range rec.rooms {
		rs[i] = rr.r
	}
	return rs
}

// rooms returns the rooms session s is in (or joining).
func (x *sessionIndex) rooms(s string) []*room {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec := x.m[s]
	if rec == nil {
		return nil
	}
	return rec.list()
}

// ref records that session s has a membership or a pending join in r.
func (x *sessionIndex) ref(s string, r *room) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec := x.m[s]
	if rec == nil {
		rec = &sessionRec{}
		x.m[s] = rec
	}
	if rec.ended {
		return ErrSessionEnded
	}
	for i := range rec.rooms {
		if rec.rooms[i].r == r {
			rec.rooms[i].n++
			return nil
		}
	}
	rec.rooms = append(rec.rooms, roomRefs{r, 1})
	return nil
}

// unref drops one reference of session s to r; a session in no room is
// forgotten.
func (x *sessionIndex) unref(s string, r *room) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec := x.m[s]
	if rec == nil {
		return
	}
	for i := range rec.rooms {
		if rec.rooms[i].r == r {
			if rec.rooms[i].n--; rec.rooms[i].n <= 0 {
				rec.rooms = slices.Delete(rec.rooms, i, i+1)
			}
			break
		}
	}
	x.forgetLocked(s, rec)
}

// forgetLocked drops a record that no longer says anything.
func (x *sessionIndex) forgetLocked(s string, rec *sessionRec) {
	if len(rec.rooms) == 0 && (!rec.detached || rec.ended) {
		delete(x.m, s)
	}
}

// state returns the reported state of a session.
func (x *sessionIndex) state(s string) (detached, ended bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if rec := x.m[s]; rec != nil {
		return rec.detached, rec.ended
	}
	return false, false
}

// set records a session's state and returns its rooms.
func (x *sessionIndex) set(s string, detached, ended bool) []*room {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec := x.m[s]
	if rec == nil {
		if !detached || ended {
			return nil
		}
		rec = &sessionRec{}
		x.m[s] = rec
	}
	if rec.ended {
		return nil
	}
	rec.detached, rec.ended = detached, ended
	rs := rec.list()
	x.forgetLocked(s, rec)
	return rs
}

// tokenTable maps reconnection tokens to seats.
type tokenTable struct {
	mu sync.Mutex
	m  map[string]tokenRef
}

// tokenRef locates the seat a reconnection token reclaims. Of the seat's
// player only the id and name are read off the executor: they never change.
type tokenRef struct {
	room *room
	seat *Player
}

func (x *tokenTable) get(token string) (tokenRef, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ref, ok := x.m[token]
	return ref, ok
}

func (x *tokenTable) set(token string, ref tokenRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m[token] = ref
}

// drop forgets token if it reclaims a seat of r (not of another instance
// of r's room that replaced it: Restore).
func (x *tokenTable) drop(token string, r *room) {
	if token == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m[token].room == r {
		delete(x.m, token)
	}
}

// NewManager returns a Manager delivering events through t and starts its
// executors. Call Shutdown to stop it. Invalid options (see Validate) are
// logged and replaced by their defaults.
func NewManager(t Transport, o ManagerOptions) *Manager {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := o.Validate(); err != nil {
		o.Logger.Error("rooms: invalid ManagerOptions, defaults used instead", "err", err)
	}
	if o.Executors <= 0 {
		o.Executors = 2 * runtime.GOMAXPROCS(0)
	}
	if o.MailboxSize <= 0 {
		o.MailboxSize = DefaultMailboxSize
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.JournalPatience == 0 {
		o.JournalPatience = DefaultJournalPatience
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = DefaultTopicPrefix
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxWaitingPerPlayer == 0 || o.MaxWaitingPerPlayer < -1 {
		o.MaxWaitingPerPlayer = DefaultMaxWaitingPerPlayer
	}
	if o.SnapshotEvery == 0 {
		o.SnapshotEvery = DefaultSnapshotEvery
	}
	if o.MaxWaitingPerAddr == 0 || o.MaxWaitingPerAddr < -1 {
		o.MaxWaitingPerAddr = DefaultMaxWaitingPerAddr
	}
	dc, ok := t.(DataCopier)
	m := &Manager{
		t: t, copier: ok && dc.CopiesEventData(), clock: o.Clock, log: o.Logger, o: o,
		games:    make(map[string]*Game),
		rooms:    make(map[string]*room),
		sessions: sessionIndex{m: make(map[string]*sessionRec)},
		tokens:   tokenTable{m: make(map[string]tokenRef)},
		allGone:  make(chan struct{}),
	}
	m.sched.init()
	m.executors.Add(o.Executors)
	for range o.Executors {
		go m.executor()
	}
	return m
}

// Options returns the options in effect, defaults filled in.
func (m *Manager) Options() ManagerOptions { return m.o }

// Register adds a game. Defaults are filled in; an invalid Game is refused
// with an error wrapping ErrBadGame, a second game of one name with
// ErrGameExists. Safe for concurrent use.
func (m *Manager) Register(g Game) error {
	if g.Name == "" || len(g.Name) > MaxGameNameLen || strings.ContainsAny(g.Name, "/ \t\r\n") {
		return fmt.Errorf("%w: name must be 1..%d bytes without spaces or slashes", ErrBadGame, MaxGameNameLen)
	}
	if g.New == nil {
		return fmt.Errorf("%w: %s: New is nil", ErrBadGame, g.Name)
	}
	if g.MinPlayers == 0 {
		g.MinPlayers = 1
	}
	if g.MaxPlayers == 0 {
		g.MaxPlayers = g.MinPlayers
	}
	if g.MinPlayers < 0 || g.MaxPlayers < g.MinPlayers || g.MaxPlayers > MaxSeats {
		return fmt.Errorf("%w: %s: need 1 <= MinPlayers <= MaxPlayers <= %d", ErrBadGame, g.Name, MaxSeats)
	}
	if g.ReconnectWindow == 0 {
		g.ReconnectWindow = DefaultReconnectWindow
	}
	if g.EmptyGrace == 0 {
		g.EmptyGrace = DefaultEmptyGrace
	}
	if g.TickRate < 0 {
		return fmt.Errorf("%w: %s: negative TickRate", ErrBadGame, g.Name)
	}
	if g.MaxSpectators <= 0 {
		g.MaxSpectators = DefaultMaxSpectators
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.games[g.Name]; ok {
		return fmt.Errorf("%w: %s", ErrGameExists, g.Name)
	}
	m.games[g.Name] = &g
	return nil
}

// Game returns the registered game of that name, defaults filled in.
func (m *Manager) Game(name string) (Game, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.games[name]
	if !ok {
		return Game{}, false
	}
	return *g, true
}

// Games returns the names of the registered games, sorted.
func (m *Manager) Games() []string {
	m.mu.Lock()
	names := make([]string, 0, len(m.games))
	for n := range m.games {
		names = append(names, n)
	}
	m.mu.Unlock()
	slices.Sort(names)
	return names
}

// Create makes a room of the game and, when creator.SessionID is not empty,
// asks for the creator's seat (as Join does, with creator.Options defaulting
// to opts). It returns the new room's id at once; OnCreate runs on an
// executor, and its failure reaches the creator as "join-rejected". The
// option "label" is the room's initial label. A room with a creator counts
// against the creator's waiting rooms until it starts or goes
// (MaxWaitingPerPlayer, MaxWaitingPerAddr). Errors: ErrUnknownGame,
// ErrBadOptions, ErrBadPlayer, ErrTooManyRooms, ErrSessionEnded, ErrClosed.
func (m *Manager) Create(game string, creator PlayerInfo, opts Options) (roomID string, err error) {
	opts, err = copyOptions(opts)
	if err != nil {
		return "", err
	}
	withCreator := creator.SessionID != ""
	if withCreator {
		if creator, err = checkPlayer(creator); err != nil {
			return "", err
		}
		if creator.Options == nil {
			creator.Options = opts
		}
	}
	m.mu.Lock()
	g := m.games[game]
	m.mu.Unlock()
	if g == nil {
		return "", ErrUnknownGame
	}
	r := newRoom(m, g, m.o.IDPrefix+RandomID())
	r.d.secret, r.d.prefix = newSecret(), m.o.IDPrefix
	if withCreator {
		c := charge{player: creator.PlayerID, addr: AddrKey(creator.Addr)}
		if err := m.waiting.take(c, m.o.MaxWaitingPerPlayer, m.o.MaxWaitingPerAddr); err != nil {
			return "", err
		}
		if err := m.sessions.ref(creator.SessionID, r); err != nil {
			m.waiting.release(c)
			return "", err
		}
		r.charge = &c // released by the executor when the room stops waiting
	}
	m.mu.Lock()
	for m.rooms[r.id] != nil {
		r.setID(m.o.IDPrefix + RandomID()) // 80 random bits: in practice never
	}
	if m.closed {
		m.mu.Unlock()
		if withCreator {
			m.sessions.unref(creator.SessionID, r)
			m.waiting.release(*r.charge)
		}
		return "", ErrClosed
	}
	m.rooms[r.id] = r
	m.mu.Unlock()

	// Both items go in at once: were the creator's join enqueued after an
	// executor ran a failing OnCreate, it would find the room gone and the
	// creator would never hear why. A fresh mailbox has room for both.
	its := []item{{kind: kCreate, counted: true, entry: &entry{opts: opts}, creatorNext: withCreator}}
	if withCreator {
		its = append(its, item{kind: kJoin, counted: true, entry: &entry{info: creator}, session: creator.SessionID})
	}
	r.enqueueAll(its)
	return r.id, nil
}

// Join asks for a seat in a room for p. The answer arrives as "joined" or
// "join-rejected" (room not waiting, full, locked, or OnJoin's error).
// Errors: ErrNoRoom, ErrBadPlayer, ErrSessionEnded, ErrMailboxFull.
func (m *Manager) Join(roomID string, p PlayerInfo) error {
	return m.enter(roomID, p, kJoin)
}

// Spectate asks for a spectator's place in a room for p; the answer arrives
// as "joined" (seat -1) or "join-rejected". Spectators receive the room's
// broadcasts and cannot act. Errors: ErrNoRoom, ErrSpectatorsNotAllowed,
// ErrBadPlayer, ErrSessionEnded, ErrMailboxFull.
func (m *Manager) Spectate(roomID string, p PlayerInfo) error {
	return m.enter(roomID, p, kSpectate)
}

func (m *Manager) enter(roomID string, p PlayerInfo, kind itemKind) error {
	p, err := checkPlayer(p)
	if err != nil {
		return err
	}
	if p.Options, err = copyOptions(p.Options); err != nil {
		return err
	}
	r := m.room(roomID)
	switch {
	case r == nil:
		return ErrNoRoom
	case kind == kSpectate && !r.game.Spectators:
		return ErrSpectatorsNotAllowed
	}
	if err := m.sessions.ref(p.SessionID, r); err != nil {
		return err
	}
	if err := r.enqueue(item{kind: kind, counted: true, entry: &entry{info: p}, session: p.SessionID}); err != nil {
		m.sessions.unref(p.SessionID, r)
		return err
	}
	return nil
}

// Leave takes the session out of the room: a seated player leaves with
// LeaveLeft, a spectator just goes. Repeated calls before it is processed
// count once. Errors: ErrNoRoom, ErrNotInRoom.
func (m *Manager) Leave(roomID, sessionID string) error {
	r := m.room(roomID)
	if r == nil {
		return ErrNoRoom
	}
	r.mu.Lock()
	g, err := r.gateLocked(sessionID)
	if err == nil && !g.leaving {
		g.leaving = true
		err = r.enqueueLocked(item{kind: kLeave, session: sessionID})
	}
	sched := err == nil && !r.scheduled
	if err == nil {
		r.scheduled = true
	}
	r.mu.Unlock()
	if sched {
		m.sched.schedule(r)
	}
	return err
}

// Deliver queues a seated player's message for its room. The message is
// checked here (type 1..MaxTypeLen bytes, move id up to MaxMoveIDLen, data
// valid JSON up to MaxMessageBytes, Seq >= 0, and >= 1 for a move) and copied, so the caller's
// buffers may be reused at once. The outcome reaches the player as "ack" (a
// move) or "error". Errors: ErrNoRoom, ErrNotInRoom, ErrMailboxFull, ErrJournalUnavailable,
// ErrBadMessage, and for a spectator ErrSpectator.
func (m *Manager) Deliver(roomID, sessionID string, msg Message) (err error) {
	defer func() {
		if err != nil && msg.IsMove() {
			m.stats.rejectErr(err) // a refused move, for Stats
		}
	}()
	if err := checkMessage(&msg, m.o.MaxMessageBytes); err != nil {
		return err
	}
	r := m.room(roomID)
	if r == nil {
		return ErrNoRoom
	}
	r.mu.Lock()
	g, err := r.gateLocked(sessionID)
	if err == nil && g.spectator {
		err = ErrSpectator
	}
	if err == nil {
		err = r.enqueueLocked(item{kind: kMessage, counted: true, session: sessionID, msg: msg})
	}
	sched := err == nil && !r.scheduled
	if err == nil {
		r.scheduled = true
	}
	r.mu.Unlock()
	if sched {
		m.sched.schedule(r)
	}
	return err
}

// Do runs f on the room's executor, serialized with its hooks, as if it were
// a hook: f may use the Ctx. It is a way for server code (an admin command,
// a test) to act on a room. f is not run if the room is disposed first.
// Errors: ErrNoRoom, ErrMailboxFull.
func (m *Manager) Do(roomID string, f func(*Ctx)) error {
	r := m.room(roomID)
	if r == nil {
		return ErrNoRoom
	}
	return r.enqueue(item{kind: kDo, counted: true, fn: f})
}

// Evict stops a room without a word to anyone: no "closed" event, no
// OnLeave, nothing it would send while stopping (OnDispose runs, for the
// game's own resources). Items queued before it run as usual; those after
// are answered with ReasonEvicted. ErrNoRoom if the room is gone or an
// eviction is on its way already. It is for a server that lost the room's
// ownership to another (a cluster node whose lease lapsed): that server
// speaks for the room now, so this one must not. The room's removal is
// reported to OnRoomChange as a close, unless a Restore of its id replaced
// it meanwhile.
func (m *Manager) Evict(roomID string) error {
	r := m.room(roomID)
	if r == nil {
		return ErrNoRoom
	}
	r.mu.Lock()
	again := r.evicting
	r.evicting = true
	r.mu.Unlock()
	if again {
		return ErrNoRoom // on its way out already
	}
	return r.enqueue(item{kind: kEvict})
}

// RoomIDs returns the ids of the rooms open now, in no order.
func (m *Manager) RoomIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.rooms))
	for id := range m.rooms {
		ids = append(ids, id)
	}
	return ids
}

// Resync sends one session again what it got on joining each of its rooms:
// "joined" (with reconnected false) and the room's "state" if the game has a
// Snapshotter. A client that lost track of its rooms (a gap in its events, a
// tab opened late) asks for it through the lobby's "sync" action. The sends
// are queued like Do and may fail with ErrMailboxFull.
func (m *Manager) Resync(sessionID string) error {
	for _, r := range m.sessions.rooms(sessionID) {
		err := r.enqueue(item{kind: kDo, counted: true, fn: func(c *Ctx) {
			if p := c.r.bySession(sessionID); p != nil {
				c.r.sendJoined(p, false)
				c.r.sendSnapshot(p)
			}
		}})
		if err != nil && !errors.Is(err, ErrNoRoom) {
			return err
		}
	}
	return nil
}

// Detached reports that the session's listen connection went away. Its
// seats enter the reconnect window (other players get "player-dropped");
// the room sees LeaveDropped only if the window expires before Attached or
// Reclaim. Idempotent; a no-op for a session in no room.
func (m *Manager) Detached(sessionID string) { m.setPresence(sessionID, true, false) }

// Attached reports that the session listens again: its held seats are
// restored ("player-reconnected") and it gets a fresh "state". Idempotent.
func (m *Manager) Attached(sessionID string) { m.setPresence(sessionID, false, false) }

// SessionEnded reports that the session is gone for good. Its seats are held
// as after Detached (the window still applies and the reconnection token can
// reclaim them from a new session); its spectator places are released.
// Idempotent.
func (m *Manager) SessionEnded(sessionID string) { m.setPresence(sessionID, true, true) }

// EndSessions reports as ended (SessionEnded) every session in a room for
// which gone reports true, and returns how many it ended. It is for what a
// session's server can no longer say: a cluster node ends so the sessions
// of a node that died. gone is called with the manager's session index
// locked: it must be quick and must not call the Manager. Safe for
// concurrent use.
func (m *Manager) EndSessions(gone func(sessionID string) bool) int {
	var ids []string
	m.sessions.mu.Lock()
	for id, rec := range m.sessions.m {
		if !rec.ended && len(rec.rooms) > 0 && gone(id) {
			ids = append(ids, id)
		}
	}
	m.sessions.mu.Unlock()
	for _, id := range ids {
		m.SessionEnded(id)
	}
	return len(ids)
}

func (m *Manager) setPresence(sessionID string, detached, ended bool) {
	for _, r := range m.sessions.set(sessionID, detached, ended) {
		r.notePresence(sessionID)
	}
}

// Reclaim gives a held seat to a new session presenting the seat's private
// reconnection token (from its "joined" event), within the reconnect window.
// The seat keeps its player id, name, move sequence and turn; p's ids and
// name are not used beyond p.SessionID. The answer arrives as "joined" with
// reconnected:true and a new token (the old one stops working), or
// "join-rejected". Errors: ErrBadToken, ErrBadPlayer, ErrSessionEnded,
// ErrMailboxFull.
func (m *Manager) Reclaim(token string, p PlayerInfo) error {
	if p.SessionID == "" || len(p.SessionID) > MaxIDLen {
		return fmt.Errorf("%w: bad session id", ErrBadPlayer)
	}
	ref, ok := m.tokens.get(token)
	if !ok || token == "" {
		return ErrBadToken
	}
	if err := m.sessions.ref(p.SessionID, ref.room); err != nil {
		return err
	}
	err := ref.room.enqueue(item{kind: kReclaim, counted: true, session: p.SessionID, entry: &entry{info: p, token: token}})
	if err != nil {
		m.sessions.unref(p.SessionID, ref.room)
		if err == ErrNoRoom {
			err = ErrBadToken
		}
	}
	return err
}

// TokenOwner returns the room and public identity of the seat a
// reconnection token reclaims. The lobby uses it to give a guest who comes
// back with a token its old identity.
func (m *Manager) TokenOwner(token string) (roomID string, who Identity, ok bool) {
	ref, ok := m.tokens.get(token)
	if !ok {
		return "", Identity{}, false
	}
	return ref.room.id, Identity{PlayerID: ref.seat.id, Name: ref.seat.name}, true
}

// Rooms returns a snapshot of the rooms of a game ("" for all), sorted by
// id. A room appears once OnCreate has succeeded.
func (m *Manager) Rooms(game string) []RoomInfo {
	m.mu.Lock()
	rs := make([]*room, 0, len(m.rooms))
	for _, r := range m.rooms {
		if game == "" || r.game.Name == game {
			rs = append(rs, r)
		}
	}
	m.mu.Unlock()
	out := make([]RoomInfo, 0, len(rs))
	for _, r := range rs {
		if info, ok := r.publicInfo(); ok {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Room returns a snapshot of one room.
func (m *Manager) Room(id string) (RoomInfo, bool) {
	r := m.room(id)
	if r == nil {
		return RoomInfo{}, false
	}
	return r.publicInfo()
}

// NumRooms returns the number of rooms, including those being created.
func (m *Manager) NumRooms() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms)
}

// OnRoomChange registers fn to be called after each change of a room's
// public info (removed false) and once when a room is disposed (removed
// true, info.State StateDisposed). Calls for one room come in order, from
// executor goroutines; fn must not block and must not call back into the
// Manager's waiting methods (Shutdown, WaitIdle). A panic in fn is logged.
func (m *Manager) OnRoomChange(fn func(info RoomInfo, removed bool)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var fns []func(RoomInfo, bool)
	if p := m.onChange.Load(); p != nil {
		fns = slices.Clone(*p)
	}
	fns = append(fns, fn)
	m.onChange.Store(&fns)
}

func (m *Manager) roomChanged(info RoomInfo, removed bool) {
	p := m.onChange.Load()
	if p == nil {
		return
	}
	for _, fn := range *p {
		func() {
			defer func() {
				if v := recover(); v != nil {
					m.log.Error("rooms: panic in OnRoomChange callback", "panic", v)
				}
			}()
			fn(info, removed)
		}()
	}
}

// WaitIdle waits until no room has work queued or running, or ctx is done.
// Timers that fire later are not waited for. It exists for tests and tools;
// it must not be called from a hook.
func (m *Manager) WaitIdle(ctx context.Context) error { return m.sched.waitIdle(ctx) }

// Shutdown closes every room: a game in progress is finished without a
// winner ("finished" {result: ShutdownResult}), each seated player gets
// OnLeave(shutdown), everyone gets "closed" {reason:"server shutting
// down"}, then OnDispose runs. It waits for the rooms and then the executors, or until ctx is done
// (returning ctx.Err(); a room whose hook blocks forever keeps its
// executor). New rooms are refused with ErrClosed from the start.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	rs := make([]*room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rs = append(rs, r)
	}
	if len(m.rooms) == 0 {
		m.closeAllGoneLocked()
	}
	m.mu.Unlock()
	for _, r := range rs {
		_ = r.enqueue(item{kind: kShutdown}) // ErrNoRoom: already disposed
	}
	select {
	case <-m.allGone:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.sched.close()
	done := make(chan struct{})
	go func() { m.executors.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) closeAllGoneLocked() {
	select {
	case <-m.allGone:
	default:
		close(m.allGone)
	}
}

// Restore rebuilds room id of game from its journal's entries (Journal),
// as another Manager made it: from its latest snapshot (EntrySnapshot) if
// there is one, else from its creation, each entry is processed again, as
// it was, with nothing sent (no event, Transport call nor public info), no
// hook's time but the entry's, and the sessions' states it read then.
// Entries before the latest snapshot are not read: a journal may have
// dropped them. Then the
// room's pending timers are armed for what is left of them (one whose time
// has passed fires at once: a turn clock that ran out meanwhile is a
// timeout), its public info is published, and each member is sent
// "joined" (reconnected) and the room's "state", so that clients that
// followed the room elsewhere go on here. The room takes its place among
// the Manager's with its id; its next items are journaled from its
// position on. Games that want their rooms restored keep to the
// determinism rules of docs/ROOMS.md.
//
// A room with that id here that is being evicted (Evict) is replaced: it
// stops as evicted rooms do, its removal unreported (OnRoomChange), and
// the restored room takes its id at once. (A cluster node that lost its
// lease evicts its rooms, and may take one back before the eviction is
// done: the room waits for its journal's answer to an item.)
//
// Errors: ErrUnknownGame, ErrClosed, ErrRoomExists (a room with that id is
// here, not being evicted), or an error naming the first entry that
// cannot be replayed.
func (m *Manager) Restore(id, game string, entries []Entry) error {
	m.mu.Lock()
	g := m.games[game]
	closed := m.closed
	old := m.rooms[id]
	m.mu.Unlock()
	exists := false
	if old != nil {
		old.mu.Lock()
		exists = !old.evicting
		old.mu.Unlock()
	}
	from := -1 // the latest snapshot
	for i := len(entries) - 1; i >= 0 && from < 0; i-- {
		if entries[i].Kind == EntrySnapshot {
			from = i
		}
	}
	switch {
	case g == nil:
		return ErrUnknownGame
	case closed:
		return ErrClosed
	case exists:
		return ErrRoomExists
	case from < 0 && (len(entries) == 0 || entries[0].Kind != EntryCreate):
		return errors.New("rooms: restore: a journal begins with its room's creation or has a snapshot")
	}
	r := newRoom(m, g, id)
	first := &entries[max(from, 0)]
	if len(first.Secret) != len(r.d.secret) {
		return fmt.Errorf("rooms: restore: the journal's %s has no secret", first.Kind)
	}
	copy(r.d.secret[:], first.Secret)
	r.d.prefix = first.Prefix
	// Nothing runs the room but this until it is restored: what its
	// replayed items queue (presence checks) waits in its mailbox.
	r.scheduled = true
	var err error
	start := 0
	if from >= 0 {
		r.d.replay = first
		if err = r.load(first); err != nil {
			err = fmt.Errorf("rooms: restore %s: entry %d (snapshot): %w", id, from, err)
		}
		if sn := r.d.sn; sn != nil { // made by load, unless it failed early
			sn.since, sn.lastAt = 0, first.Time
		}
		start = from + 1
	}
	for i := start; i < len(entries) && err == nil; i++ {
		e := entries[i]
		if e.Kind == EntryOwner || e.Kind == EntrySnapshot {
			continue
		}
		e.Seen = slices.Clone(e.Seen)
		r.d.replay = &e
		var it item
		if it, err = r.itemOf(&e); err != nil {
			err = fmt.Errorf("rooms: restore %s: entry %d: %w", id, i, err)
			break
		}
		switch it.kind {
		case kJoin, kSpectate, kReclaim:
			// The reference the Manager took when it was asked (enter,
			// Reclaim); the item gives it to a seat or releases it.
			_ = m.sessions.ref(it.session, r)
		}
		r.process(&it)
		r.countEntry(e.Time)
		if r.state == StateDisposed && i < len(entries)-1 {
			err = fmt.Errorf("rooms: restore %s: the room closed at entry %d of %d (%s: %s)", id, i, len(entries), e.Kind, r.closeReasonOr())
			break
		}
	}
	r.d.replay = nil
	if err == nil && r.state == StateDisposed {
		err = ErrNoRoom // the journal ends with the room closed
	}
	// A room that is not restored goes without a word: nothing is said of
	// a room that never was here (a replay sends nothing).
	abandon := func() {
		if r.state != StateDisposed {
			r.d.replay = &Entry{}
			r.dispose(ReasonEvicted, false)
			r.d.replay = nil
		}
	}
	if err != nil {
		abandon()
		return err
	}
	if !m.replaceEvicting(id) {
		abandon()
		return ErrRoomExists
	}
	m.mu.Lock()
	if m.rooms[id] != nil || m.closed {
		m.mu.Unlock()
		abandon()
		return ErrRoomExists
	}
	m.rooms[id] = r
	m.mu.Unlock()
	// Armed in the order they were armed where the room was: of two due
	// at once, the first armed fires first there (a clock's timers due
	// together fire in the order they were armed), and here.
	var pending []*Timer
	for t := r.timers; t != nil; t = t.next {
		pending = append(pending, t)
	}
	slices.SortFunc(pending, func(a, b *Timer) int { return cmp.Compare(a.armed, b.armed) })
	now := m.clock.Now()
	for _, t := range pending {
		t.stopper = m.clock.AfterFunc(max(t.due.Sub(now), 0), t.fire)
	}
	// The members hear of the room again, first thing on this Manager.
	r.mu.Lock()
	r.q = slices.Insert(r.q, int(r.qhead), item{kind: kDo, fn: func(c *Ctx) { c.r.resyncAll() }})
	r.mu.Unlock()
	r.dirty = true
	r.publishInfo()
	m.sched.schedule(r)
	return nil
}

// resyncAll subscribes every member to the room's topic again (the
// Transport of this Manager may not have their subscriptions), sends each
// "joined" (reconnected) and the room's state, and the room's state and
// turn to all. Executor only.
func (r *room) resyncAll() {
	for _, p := range r.seats {
		if p != nil {
			r.subscribe(p.session)
		}
	}
	for _, p := range r.spectators {
		r.subscribe(p.session)
	}
	r.publish(evRoomState, stateData{State: r.state, Locked: r.locked()})
	for _, p := range r.seats {
		if p != nil {
			r.sendJoined(p, true)
			r.sendSnapshot(p)
		}
	}
	for _, p := range r.spectators {
		r.sendJoined(p, true)
		r.sendSnapshot(p)
	}
	if r.turn != nil {
		r.publish(evTurn, r.turnData())
	}
}

func (m *Manager) room(id string) *room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[id]
}

// replaceEvicting makes room id's place free for a Restore: a room there
// being evicted is marked replaced and forgotten (it runs on to its end
// unreported). False if a room there is not being evicted.
func (m *Manager) replaceEvicting(id string) bool {
	old := m.room(id)
	if old == nil {
		return true
	}
	old.mu.Lock()
	leaving := old.evicting
	old.replaced = leaving
	old.mu.Unlock()
	if !leaving {
		return false
	}
	m.mu.Lock()
	if m.rooms[id] == old {
		delete(m.rooms, id)
	}
	m.mu.Unlock()
	return true
}

// removeRoom forgets a disposed room.
func (m *Manager) removeRoom(r *room) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms[r.id] == r { // not another with its id (a Restore that failed)
		delete(m.rooms, r.id)
	}
	if m.closed && len(m.rooms) == 0 {
		m.closeAllGoneLocked()
	}
}

// checkPlayer validates a PlayerInfo and returns it with its strings
// cloned (the caller may alias reused buffers).
func checkPlayer(p PlayerInfo) (PlayerInfo, error) {
	if p.SessionID == "" || len(p.SessionID) > MaxIDLen || p.PlayerID == "" || len(p.PlayerID) > MaxIDLen {
		return p, fmt.Errorf("%w: session and player ids must be 1..%d bytes", ErrBadPlayer, MaxIDLen)
	}
	if len(p.Addr) > MaxIDLen {
		return p, fmt.Errorf("%w: address longer than %d bytes", ErrBadPlayer, MaxIDLen)
	}
	name, err := ValidateName(p.Name)
	if err != nil {
		return p, fmt.Errorf("%w: %w", ErrBadPlayer, err)
	}
	p.Name = name
	cloneTogether(&p.SessionID, &p.PlayerID, &p.Name, &p.Addr)
	return p, nil
}

// cloneTogether clones the strings ss point to into one allocation: a
// player's ids, name and address live and go together, and one object of
// 80 bytes costs less than four of 16 to 48 (100 bytes a player seated).
func cloneTogether(ss ...*string) {
	n := 0
	for _, s := range ss {
		n += len(*s)
	}
	buf := make([]byte, 0, n)
	for _, s := range ss {
		if *s == "" {
			continue
		}
		off := len(buf)
		buf = append(buf, *s...)
		*s = unsafe.String(&buf[off], len(*s))
	}
}

// copyOptions validates and copies options.
func copyOptions(o Options) (Options, error) {
	if o == nil {
		return nil, nil
	}
	if len(o) > MaxOptions {
		return nil, fmt.Errorf("%w: more than %d", ErrBadOptions, MaxOptions)
	}
	c := make(Options, len(o))
	for k, v := range o {
		if k == "" || len(k) > MaxOptionKeyLen || len(v) > MaxOptionValueLen {
			return nil, fmt.Errorf("%w: keys must be 1..%d bytes, values at most %d", ErrBadOptions, MaxOptionKeyLen, MaxOptionValueLen)
		}
		c[strings.Clone(k)] = strings.Clone(v)
	}
	return c, nil
}

// checkMessage validates msg and makes it the room's own copy.
func checkMessage(msg *Message, maxData int) error {
	switch {
	case msg.Type == "" || len(msg.Type) > MaxTypeLen:
		return fmt.Errorf("%w: type must be 1..%d bytes", ErrBadMessage, MaxTypeLen)
	case len(msg.MoveID) > MaxMoveIDLen:
		return fmt.Errorf("%w: move id longer than %d bytes", ErrBadMessage, MaxMoveIDLen)
	case msg.Seq < 0:
		return fmt.Errorf("%w: negative seq", ErrBadMessage)
	case msg.IsMove() && msg.Seq == 0:
		// Without its seq a move would skip the stale-move check: a retry
		// of a move whose id the seat no longer remembers (moveMemory, a
		// rematch) would be applied again.
		return fmt.Errorf("%w: a move needs seq (the seat's next move number, from 1)", ErrBadMessage)
	case len(msg.Data) > maxData:
		return fmt.Errorf("%w: data longer than %d bytes", ErrBadMessage, maxData)
	case len(msg.Data) > 0 && !json.Valid(msg.Data):
		return fmt.Errorf("%w: data is not valid JSON", ErrBadMessage)
	}
	msg.Type, msg.MoveID = strings.Clone(msg.Type), strings.Clone(msg.MoveID)
	if len(msg.Data) == 0 {
		msg.Data = json.RawMessage("null")
	} else {
		msg.Data = slices.Clone(msg.Data)
	}
	return nil
}

// ms converts a duration to whole milliseconds for the wire.
func ms(d time.Duration) int64 { return d.Milliseconds() }
