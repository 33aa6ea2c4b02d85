// Package lobby is where players meet: who is online, the live list of
// rooms, creating and joining rooms (as a player or a spectator),
// quick-match, and chat. It sits on a rooms.Manager and talks to clients
// through the same rooms.Transport; it imports rooms and nothing else of
// cometplay's. docs/ROOMS.md, "What the browser sees", lists its events.
//
// # Concurrency
//
// Handle, Detached, Attached and SessionEnded are called by the games
// package's bridge on the Comet hub's event loops: they are safe for concurrent use and never block. Handle
// checks what is cheap at once (the action, field sizes, that the session
// said hello, chat length and rate, names) and returns those errors for the
// bridge to send as a nack; everything else is queued (at most
// Options.QueueSize actions, then ErrBusy) for the lobby's one goroutine,
// and its outcome reaches the session as events. The Authenticator runs on
// Options.AuthWorkers goroutines of its own with a deadline, so a slow one
// delays only hellos. Session events and room changes are coalesced (the
// latest state per session, the set of changed rooms), so they are never
// refused and their backlog is bounded by the sessions and rooms.
//
// # Presence
//
// A session is online from its welcome. When its listen connection goes
// away (Detached) it stays online for Options.AwayGrace (default 30 s, the
// rooms' reconnect window), so a Comet reconnect gap shows nothing; if it
// has not listened again by then, it leaves the presence list, and comes
// back if it returns. SessionEnded makes it offline at once and forgets it
// (it must say hello again). Presence is per player: a player with two
// sessions is online while either is, and listed once.
//
// The lobby forwards Detached, Attached and SessionEnded to the Manager;
// those are idempotent, so a caller that also calls the Manager directly
// does no harm.
//
// # Who hears the lobby
//
// The lobby's broadcasts are bounded so that its cost grows with the
// players, not their square: subscribers are shown the first PresenceShown
// players and RoomsShown rooms with the totals ("list" pages through the
// rest, from the whole lists the tick keeps in order: a page costs the
// page, however many rooms there are); changes are published once per Tick
// as one delta per list against the list published before; and a session whose player holds a seat in a
// waiting or playing room is unsubscribed from the lobby's topics unless one
// of its tabs says it shows the lobby ("browse"). See views.go.
//
// # Identity
//
// "hello" runs the Authenticator (default rooms.Guest: a valid name and a
// fresh random id). With a reconnection token, hello also reclaims the held
// seat (Manager.Reclaim); a guest then takes the identity the seat was held
// for, while with another Authenticator the token must belong to the
// authenticated player (else ErrTokenOwner).
package lobby
