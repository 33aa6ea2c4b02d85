package rooms

import "errors"

// Errors returned by the Manager's methods and the Ctx, and the reasons the
// runtime sends in "join-rejected" and "error" events (their text). Callers
// branch with errors.Is.
var (
	// ErrNoRoom: no room has that id (or it has been disposed).
	ErrNoRoom = errors.New("rooms: no such room")
	// ErrNotInRoom: the session is neither seated in nor spectating the room.
	ErrNotInRoom = errors.New("rooms: not in this room")
	// ErrMailboxFull: the room's mailbox holds ManagerOptions.MailboxSize
	// client messages not yet processed. Nothing was enqueued; the client may
	// retry later. Nothing already accepted is ever dropped.
	ErrMailboxFull = errors.New("rooms: room is busy, try again")
	// ErrJournalUnavailable: the room's last item has waited for its
	// journal entry (ManagerOptions.Journal) longer than
	// ManagerOptions.JournalPatience (a cluster's JetStream without a
	// quorum). Nothing was enqueued; the client may try again later.
	ErrJournalUnavailable = errors.New("rooms: the game's store is unavailable, try again")
	// ErrRoomFull: every seat is taken.
	ErrRoomFull = errors.New("rooms: room is full")
	// ErrRoomLocked: the game locked the room (ctx.Lock).
	ErrRoomLocked = errors.New("rooms: room is locked")
	// ErrGameStarted: the room is no longer waiting for players.
	ErrGameStarted = errors.New("rooms: game already started")
	// ErrAlreadyJoined: the player already has a seat (or watches) in the room.
	ErrAlreadyJoined = errors.New("rooms: already in this room")
	// ErrSpectatorsNotAllowed: the game does not allow spectators.
	ErrSpectatorsNotAllowed = errors.New("rooms: spectators not allowed")
	// ErrTooManySpectators: the room has Game.MaxSpectators spectators.
	ErrTooManySpectators = errors.New("rooms: too many spectators")
	// ErrSpectator: a spectator tried to send a message; spectators cannot
	// act.
	ErrSpectator = errors.New("rooms: spectators cannot act")
	// ErrUnknownGame: no game of that name is registered.
	ErrUnknownGame = errors.New("rooms: unknown game")
	// ErrRoomExists: Restore was asked for a room whose id this Manager
	// has already.
	ErrRoomExists = errors.New("rooms: a room with this id exists")
	// ErrGameExists: Register was called twice with one name.
	ErrGameExists = errors.New("rooms: game already registered")
	// ErrBadGame: Register was given an invalid Game.
	ErrBadGame = errors.New("rooms: invalid game")
	// ErrBadMessage: a message with an empty or oversized type or move id,
	// oversized or invalid JSON data.
	ErrBadMessage = errors.New("rooms: malformed message")
	// ErrBadOptions: too many or oversized options.
	ErrBadOptions = errors.New("rooms: invalid options")
	// ErrBadPlayer: a PlayerInfo without SessionID or PlayerID, or with an
	// oversized field.
	ErrBadPlayer = errors.New("rooms: invalid player")
	// ErrBadToken: the reconnection token is unknown, expired or replaced.
	ErrBadToken = errors.New("rooms: invalid or expired reconnection token")
	// ErrSessionEnded: the session was reported ended (SessionEnded).
	ErrSessionEnded = errors.New("rooms: session has ended")
	// ErrTooManyRooms: the creator (its player id, or its address) already
	// has ManagerOptions.MaxWaitingPerPlayer (MaxWaitingPerAddr) rooms
	// waiting for players; the wrapping error says which.
	ErrTooManyRooms = errors.New("rooms: too many rooms waiting for players; play or leave one first")
	// ErrClosed: the Manager is shutting down.
	ErrClosed = errors.New("rooms: manager is shut down")
	// ErrNotEnoughPlayers: ctx.Start with fewer than Game.MinPlayers seated.
	ErrNotEnoughPlayers = errors.New("rooms: not enough players to start")
	// ErrBadState: a state transition the state machine does not allow.
	ErrBadState = errors.New("rooms: not allowed in this room state")
	// ErrInvalidName: a display name ValidateName refuses; the wrapping
	// error says why.
	ErrInvalidName = errors.New("rooms: invalid name")
	// ErrAuthRefused: an Authenticator refused the request. Authenticators
	// should wrap it; its text is sent to the client.
	ErrAuthRefused = errors.New("rooms: authentication refused")
	// ErrReservedType: Ctx.Broadcast or Ctx.Send was given an event type
	// the runtime sends itself (Reserved). The error returned names it:
	// `rooms: event type "turn" is reserved for the runtime`.
	ErrReservedType = errors.New("rooms: event type reserved for the runtime")
)

// Reasons the runtime puts in "error" events for moves and messages it
// refuses before they reach OnMessage.
const (
	ReasonNotYourTurn   = "not your turn"
	ReasonNotInProgress = "game not in progress"
	ReasonSpectator     = "spectators cannot act"
	ReasonNoRematch     = "no rematch now"
	ReasonInternalError = "internal error in room"
	ReasonShutdown      = "server shutting down"
	ReasonEmpty         = "room empty"
	ReasonDisposed      = "room closed"
	ReasonReclaimed     = "seat taken over by another session"
	ReasonEvicted       = "room moved to another server"
	// ReasonJournalUnavailable answers the items that waited in a room's
	// mailbox when its journal became unavailable (ErrJournalUnavailable).
	ReasonJournalUnavailable = "the game's store is unavailable, try again"
	// ReasonJournalWaiting is the "error" event (without a move) a room's
	// members get when its journal becomes unavailable: the room waits,
	// the last item taken included, until its entry is durable.
	ReasonJournalWaiting  = "the game's store is unavailable: the game goes on when it is back"
	reasonStaleMoveFormat = "stale move: expected seq %d"
)
