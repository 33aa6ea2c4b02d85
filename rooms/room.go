package rooms

import (
	"encoding/json"
	"fmt"
	"time"
)

// Room is what a game developer implements: the logic of one room, with the
// game's state in the implementing struct. Game.New makes a fresh Room for
// every room.
//
// The runtime calls the hooks one at a time, never concurrently for one room,
// on an executor goroutine (never on an engine event loop), with the room's
// handle. A hook must not block: it holds an executor while it runs. A hook
// that panics is recovered; its room is closed (players get "closed" with the
// reason "internal error in room") and no further hook of it runs, not even
// OnDispose. Other rooms are unaffected.
type Room interface {
	// OnCreate is called once, before any join, with the options the room
	// was created with. An error aborts the creation: the creator's join is
	// rejected with the error's text and the room is discarded without
	// OnDispose.
	OnCreate(ctx *Ctx, opts Options) error
	// OnJoin is called when a player asks for a seat, after the runtime's own
	// checks (the room is waiting, not locked, not full, the player is not
	// already in it). p is already seated: ctx.Players() includes it, so a
	// game can call ctx.Start() here when enough players are in. An error
	// rejects the join; its text is the reason sent to the client
	// ("join-rejected"). Broadcasts made during OnJoin reach the joiner too,
	// after its "joined" event.
	OnJoin(ctx *Ctx, p *Player) error
	// OnMessage is called with a seated player's message. Spectators' messages
	// never reach it. For a move (m.IsMove()) the runtime has already checked
	// that the room is playing, that it is p's turn when a turn is set, that
	// the move is not a retry of an applied move and that its sequence
	// number is the next one. An error rejects the message (or move) with its
	// text as the reason; a rejected move is not recorded and may be retried.
	OnMessage(ctx *Ctx, p *Player, m Message) error
	// OnLeave is called after a seated player has left the room: p is no
	// longer in ctx.Players(). A reconnect gap is not a leave: a player whose
	// connection goes away keeps its seat for the reconnect window and leaves
	// with LeaveDropped only when the window expires.
	OnLeave(ctx *Ctx, p *Player, reason LeaveReason)
	// OnDispose is called once when the room goes away (empty after the grace
	// period, ctx.Dispose, or Manager.Shutdown). Timers are already stopped.
	OnDispose(ctx *Ctx)
}

// Ticker is implemented by a Room that wants OnTick called every
// Game.TickRate for as long as the room exists. dt is the time since the
// previous tick (or since OnCreate) by the Manager's clock. Ticks do not pile
// up: the next tick is scheduled when the previous one has run.
type Ticker interface {
	OnTick(ctx *Ctx, dt time.Duration)
}

// Snapshotter is implemented by a Room that can describe its whole state to
// one player. The runtime sends the result as a "state" event to a player
// who joins, reconnects or spectates (forPlayer is then the spectator, with
// Spectator() true), right after "joined".
type Snapshotter interface {
	Snapshot(ctx *Ctx, forPlayer *Player) any
}

// Persister is implemented by a Room whose whole state can be written down
// and read back, so that its journal can be compacted: with a Journal, the
// runtime writes a snapshot of the room (its own state and SaveState's
// bytes) every ManagerOptions.SnapshotEvery entries, and Manager.Restore
// starts from the latest snapshot instead of the room's creation (a journal
// may then drop what precedes it). A game without it is replayed from its
// creation. See docs/ROOMS.md, "Determinism".
//
// SaveState returns the game's state, between two items (it must not send
// or change anything). LoadState is called instead of OnCreate on a fresh
// Room (Game.New) with those bytes, the runtime's part of the room already
// restored: its seats and spectators, the turn and its deadline, the label,
// the lock, its own timers (reconnect windows, the empty room's grace, the
// tick). The game's callbacks are what the runtime cannot write down:
// LoadState gives them back by calling ctx.After and ctx.Every for each of
// the game's timers that were pending, in the order it armed them, and
// ctx.SetTurn with the turn's player if a turn is set. Those calls arm
// nothing new: each takes the place, the due time and the number of the
// timer it stands for (ctx.SetTurn's timeout is not used; nothing is
// broadcast). A LoadState that gives back fewer or more timers than were
// pending, or another turn, fails the restoration. Nothing LoadState sends
// goes out.
type Persister interface {
	SaveState(ctx *Ctx) ([]byte, error)
	LoadState(ctx *Ctx, state []byte) error
}

// Rematcher is implemented by a Room that wants to be told when a rematch
// starts (Game.Rematch): the runtime has already moved the room from finished
// back to playing.
type Rematcher interface {
	OnRematch(ctx *Ctx)
}

// SpectateChecker is implemented by a Room that wants to vet spectators
// (for example, a password). The runtime calls OnSpectate after its own
// checks; an error refuses the spectator with its text as the reason.
// Without it every spectator is admitted while Game.Spectators is set.
type SpectateChecker interface {
	OnSpectate(ctx *Ctx, p *Player) error
}

// Options are the string options a room is created with (and a player joins
// with, see PlayerInfo.Options). The runtime reads one key itself: "label",
// the room's initial lobby label (the game may change it with ctx.SetLabel).
type Options map[string]string

// ShutdownResult is the result of a game the runtime ends because the
// Manager shuts down (Manager.Shutdown): the game was in progress and has
// no winner. Its "finished" event is {"result": {"reason": "shutdown"}}.
type ShutdownResult struct {
	Reason string `json:"reason"` // "shutdown"
}

// LeaveReason says why a seated player left a room.
type LeaveReason int

const (
	// LeaveLeft: the player asked to leave (Manager.Leave).
	LeaveLeft LeaveReason = iota
	// LeaveDropped: the player's connection went away and the reconnect
	// window expired.
	LeaveDropped
	// LeaveKicked: the game kicked the player (ctx.Kick).
	LeaveKicked
	// LeaveShutdown: the server is shutting down (Manager.Shutdown).
	LeaveShutdown
)

var leaveNames = [...]string{"left", "dropped", "kicked", "shutdown"}

// String returns "left", "dropped", "kicked" or "shutdown", the reason's
// name on the wire.
func (r LeaveReason) String() string {
	if r >= 0 && int(r) < len(leaveNames) {
		return leaveNames[r]
	}
	return fmt.Sprintf("LeaveReason(%d)", int(r))
}

// MarshalText encodes the reason as its name.
func (r LeaveReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Message is one message from a player to its room.
type Message struct {
	// Type is chosen by the game ("move", "chat"...). The runtime handles
	// "rematch" itself when Game.Rematch is set.
	Type string
	// Data is the client's JSON payload, validated as JSON by the runtime
	// (empty becomes null). It is the room's own copy.
	Data json.RawMessage
	// MoveID is the client's move id. A non-empty MoveID marks a move: moves
	// are deduplicated per seat within one game, so a retried move is
	// acknowledged again but applied once; a rematch starts a new game
	// whose moves may reuse the previous game's ids.
	MoveID string
	// Seq is the per-seat move sequence number the client expects this move
	// to get: a seat's first move is 1, and each move must carry the seat's
	// next number (a move without one is refused with ErrBadMessage, a
	// stale one with "stale move"). Messages that are not moves ignore it.
	Seq int
}

// IsMove reports whether m is a move (it carries a MoveID).
func (m Message) IsMove() bool { return m.MoveID != "" }

// Game describes one kind of room. Zero fields take the defaults given.
type Game struct {
	// Name identifies the game (1–64 bytes), e.g. "nim".
	Name string
	// New returns a fresh Room for each room of this game.
	New func() Room
	// MinPlayers is the number of seated players ctx.Start requires and the
	// number of waiting players quick-match puts together (default 1).
	MinPlayers int
	// MaxPlayers is the number of seats (default MinPlayers). A room whose
	// seats are all taken is locked.
	MaxPlayers int
	// ReconnectWindow is how long a seat is held after its player's
	// connection goes away (default DefaultReconnectWindow; negative: not
	// held, the player is dropped at once).
	ReconnectWindow time.Duration
	// EmptyGrace is how long a waiting room with no seated player (held
	// seats count as seated) lives before it is disposed (default
	// DefaultEmptyGrace; negative: disposed as soon as it is empty). A room
	// whose game started or ended is disposed as soon as nobody sits in it:
	// only waiting rooms take joins.
	EmptyGrace time.Duration
	// TickRate is the period of OnTick for rooms implementing Ticker (0: no
	// ticks).
	TickRate time.Duration
	// Rematch allows a rematch from finished: when every seated player has
	// sent {type:"rematch"}, the runtime moves the room back to playing and
	// calls OnRematch if the room implements Rematcher.
	Rematch bool
	// Spectators allows spectators (Manager.Spectate).
	Spectators bool
	// MaxSpectators caps the spectators of one room (default
	// DefaultMaxSpectators).
	MaxSpectators int
}

// Game defaults and limits.
const (
	DefaultReconnectWindow = 30 * time.Second
	DefaultEmptyGrace      = 30 * time.Second
	DefaultMaxSpectators   = 100
	// MaxSeats bounds Game.MaxPlayers.
	MaxSeats = 1000
	// MaxGameNameLen bounds Game.Name.
	MaxGameNameLen = 64
)

// PlayerInfo identifies a session asking to enter a room.
type PlayerInfo struct {
	// SessionID is the transport's routing key for the session: secret,
	// never sent to other clients.
	SessionID string
	// PlayerID is the player's stable public id.
	PlayerID string
	// Name is the display name (see ValidateName).
	Name string
	// Options are the join options the client sent (for example
	// "password"), visible to OnJoin as p.JoinOptions(). For Manager.Create,
	// nil means the creation options.
	Options Options
	// Addr is the client's IP address (as the engine saw it; a port is
	// ignored), which per-address limits count under (see AddrKey); "" for
	// none. It is never shown to the room or to other players.
	Addr string
}

// Player is a seated player or a spectator of one room. Its methods, like
// Ctx's, may be called only inside its room's hooks. A Player keeps its
// identity across reconnections: the *Player a game holds stays valid for the
// seat's whole life.
type Player struct {
	id, name string
	joinOpts Options

	// runtime state, owned by the room's executor
	session   string // current session (secret)
	token     string // private reconnection token (seated players)
	seq       int    // last applied move sequence number
	moves     moveLog
	window    *Timer // reconnect window while disconnected
	seat      int32
	spectator bool
	connected bool
	rematch   bool // voted for a rematch
	left      bool
}

// ID returns the player's stable public id.
func (p *Player) ID() string { return p.id }

// Name returns the player's display name.
func (p *Player) Name() string { return p.name }

// Seat returns the player's seat, 0-based, or -1 for a spectator. A player
// that has left keeps the seat number it had.
func (p *Player) Seat() int { return int(p.seat) }

// Spectator reports whether p is a spectator.
func (p *Player) Spectator() bool { return p.spectator }

// Connected reports whether the player's connection is up; false while its
// seat is held in the reconnect window, and after it left.
func (p *Player) Connected() bool { return p.connected }

// Seq returns the sequence number of the player's last applied move (0
// before the first).
func (p *Player) Seq() int { return p.seq }

// JoinOptions returns the options the player joined with (see
// PlayerInfo.Options). The map must not be modified.
func (p *Player) JoinOptions() Options { return p.joinOpts }

// Summary returns the player's public description.
func (p *Player) Summary() PlayerSummary {
	return PlayerSummary{ID: p.id, Name: p.name, Seat: int(p.seat), Connected: p.connected}
}

// State is the state of a room. The runtime enforces the transitions
// waiting → playing (ctx.Start) → finished (ctx.Finish) → playing (rematch)
// and any → disposed.
type State int

const (
	// StateWaiting: players may join; the game has not started.
	StateWaiting State = iota
	// StatePlaying: the game is on; moves are accepted; no one may join.
	StatePlaying
	// StateFinished: the game is over; a rematch may restart it.
	StateFinished
	// StateDisposed: the room is gone.
	StateDisposed
)

var stateNames = [...]string{"waiting", "playing", "finished", "disposed"}

// String returns "waiting", "playing", "finished" or "disposed".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes the state as its name, so JSON carries "playing".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if string(b) == n {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("rooms: unknown state %q", b)
}

// RoomInfo is the public description of a room, as the lobby lists it.
type RoomInfo struct {
	ID         string          `json:"id"`
	Game       string          `json:"game"`
	Label      string          `json:"label"`
	State      State           `json:"state"`
	Players    []PlayerSummary `json:"players"`
	Spectators int             `json:"spectators"`
	MinPlayers int             `json:"min_players"`
	MaxPlayers int             `json:"max_players"`
	Locked     bool            `json:"locked"`
}

// PlayerSummary is the public description of a player.
type PlayerSummary struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Seat      int    `json:"seat"`
	Connected bool   `json:"connected"`
}
