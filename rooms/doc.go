// Package rooms is the API game developers write rooms against, and the
// runtime that runs them. It imports nothing else of cometplay's: the games
// package's bridge reaches it through Manager and it reaches players
// through the Transport the bridge gives it (over the Comet hub). docs/ROOMS.md is the guide.
//
// # Writing a game
//
// A game implements Room (five hooks) and keeps its state in its own struct.
// Game describes it (seats, reconnect window, ticks, rematch, spectators) and
// Manager.Register makes it playable. Each hook gets the room's handle,
// *Ctx: broadcast and send (of the game's own event types: those the
// runtime sends are Reserved), kick, timers cancelled on dispose, the
// clock, a logger, the players, the lobby label and lock, the state machine
// (Start, Finish, Dispose) and the turn (SetTurn). Optional capabilities
// are small interfaces found by type assertion: Ticker, Snapshotter,
// Rematcher, SpectateChecker, and Persister (a room written down whole, so
// that its journal is compacted: see Journal and
// ManagerOptions.SnapshotEvery). rooms/example/nim is a complete game;
// roomstest runs one in tests without a network.
//
// # The room state machine
//
// waiting → playing (ctx.Start, with Game.MinPlayers seated) → finished
// (ctx.Finish) → playing again (every seated player sends "rematch", when
// Game.Rematch is set); any state → disposed (ctx.Dispose, empty for
// Game.EmptyGrace, a panic, Manager.Shutdown, which first finishes a game
// in progress without a winner: ShutdownResult). Players take seats only
// while waiting and not locked; a room whose seats are all taken is locked.
// Moves are accepted only while playing.
//
// # Concurrency
//
// The Manager's methods are safe for concurrent use and never block
// (Shutdown and WaitIdle excepted, which wait by design): they validate
// their arguments, copy what they keep, append to the room's mailbox and
// return. They never run a hook, so the bridge calls them from the Comet
// hub's event loops.
//
// Hooks run on a fixed pool of executor goroutines
// (ManagerOptions.Executors, default 2×GOMAXPROCS). A room with work is on
// the run queue or on an executor, never both and never twice, so a room's
// hooks, timer callbacks and Do functions run one at a time, in mailbox
// order; different rooms run in parallel. A hook therefore uses its room's
// state without locks, and must not block: it holds an executor. The number
// of goroutines does not grow with rooms, players or timers.
//
// Mailboxes are bounded. A room holds at most ManagerOptions.MailboxSize
// client items (Join, Spectate, Reclaim, Deliver, Do, and a Create's first
// two) waiting to be processed; past that the method returns ErrMailboxFull
// at once and enqueues nothing, so the client may retry. The runtime's own
// items (timers, Leave, Detached, Attached, SessionEnded, Shutdown) are never
// refused; they are bounded anyway, because presence changes and leaves are
// coalesced per member and a periodic timer is re-armed only after it ran.
// Nothing accepted is dropped: if the room goes away first, each pending
// join gets "join-rejected" and each pending message "error", with the
// reason the room closed. With a Journal whose append has waited past
// ManagerOptions.JournalPatience, the client items are answered the same
// way, and new ones refused with ErrJournalUnavailable, until the append
// is done (see Journal).
//
// What a hook sends is collected and handed to the Transport after the hook
// returns, in order, outside every lock. The runtime never calls user code
// (hooks, OnRoomChange callbacks) while holding one of its locks.
//
// # Life of a move
//
//  1. The Comet hub parses a player's publish on an event loop and the
//     games bridge (the room subject's claim handler) calls
//     Manager.Deliver(roomID, sessionID, msg).
//  2. Deliver checks the message (type, sizes, JSON, a move's Seq) and
//     that the session is seated in the room, copies it into the room's
//     mailbox and, if the room was idle, puts the room on the run queue. Its error (ErrNoRoom,
//     ErrNotInRoom, ErrMailboxFull, ErrJournalUnavailable, ErrBadMessage,
//     ErrSpectator) is the bridge's to answer as a nack.
//  3. An executor takes the room off the queue and processes up to 16 of
//     its items before letting the next room run.
//  4. For a move (a message with a MoveID) the runtime answers a retry of
//     a move applied in this game (a rematch starts a new one) with its
//     "ack" again, refuses a move when the room is not playing, when it is
//     another player's turn, or when its Seq is not the seat's next, and
//     otherwise calls OnMessage.
//  5. If OnMessage accepts it, the seat's sequence advances and the mover
//     gets "ack" {move, seq} before whatever the move caused; if it returns
//     an error the mover gets "error" with the error's text. The events go
//     to the Transport, then the room's public info to OnRoomChange if it
//     changed.
//
// # Seats and reconnection
//
// A seated player whose listen connection goes away (Detached, or
// SessionEnded) keeps its seat for the reconnect window: the others get
// "player-dropped", the room sees nothing. If the same session listens
// again (Attached), or a new session presents the seat's private
// reconnection token (Reclaim), the seat is restored with its turn, move
// sequence and identity, and the others get "player-reconnected". Only when
// the window expires does the room get OnLeave(LeaveDropped). The token is
// sent only in the seat's own "joined" event, and replaced on every reclaim.
//
// # Ownership
//
// Manager methods copy the strings, options and message data they keep:
// the caller may reuse its buffers at once. A Message's Data is the room's
// own. An Event's Data belongs to the Transport once passed. RoomInfo values
// are copies. A *Ctx, and the *Player and *Timer values it hands out, are
// valid only inside the room's hooks and timer callbacks.
package rooms
