package rooms

import (
	"fmt"
	"slices"
)

// The event types the runtime sends on a room's topic (docs/ROOMS.md,
// "Room events"). Clients tell the runtime's events from a game's own by
// their type, so a game cannot send one: Ctx.Broadcast and Ctx.Send refuse
// them (Reserved).
const (
	evJoined            = "joined"
	evState             = "state"
	evJoinRejected      = "join-rejected"
	evKicked            = "kicked"
	evAck               = "ack"
	evError             = "error"
	evPlayerJoined      = "player-joined"
	evPlayerLeft        = "player-left"
	evPlayerDropped     = "player-dropped"
	evPlayerReconnected = "player-reconnected"
	evRoomState         = "room-state"
	evTurn              = "turn"
	evFinished          = "finished"
	evRematchVote       = "rematch-vote"
	evClosed            = "closed"
)

// reservedTypes are the runtime's event types, sorted.
var reservedTypes = func() []string {
	ts := []string{evJoined, evState, evJoinRejected, evKicked, evAck, evError, evPlayerJoined, evPlayerLeft,
		evPlayerDropped, evPlayerReconnected, evRoomState, evTurn, evFinished, evRematchVote, evClosed}
	slices.Sort(ts)
	return ts
}()

// Reserved reports whether typ is an event type the runtime sends on a
// room's topic ("joined", "turn", "ack"…: ReservedTypes), which a game may
// therefore not broadcast or send. Safe for concurrent use.
func Reserved(typ string) bool {
	_, found := slices.BinarySearch(reservedTypes, typ)
	return found
}

// ReservedTypes returns the event types the runtime sends on a room's
// topic, sorted. The slice is the caller's.
func ReservedTypes() []string { return slices.Clone(reservedTypes) }

// reservedTypeError is ErrReservedType for one type.
type reservedTypeError string

func (e reservedTypeError) Error() string {
	return fmt.Sprintf("rooms: event type %q is reserved for the runtime", string(e))
}

func (e reservedTypeError) Is(target error) bool { return target == ErrReservedType }
