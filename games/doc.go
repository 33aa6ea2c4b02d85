// Package games turns the HTTP server, the Comet hub, the rooms runtime and
// the lobby into one game server. New builds it from a Config (the address
// and limits, the games to run, the lobby's options, the static site) in
// the one order that works; Start starts it; Shutdown stops the rooms
// before the connections, so every player hears how the game ended:
//
//	srv, err := games.New(games.Config{
//		HTTP:  engine.Config{Addr: "127.0.0.1:8080", Static: static.FS()},
//		Games: []rooms.Game{ttt.Game},
//	})
//	if err != nil { … }
//	if err := srv.Start(); err != nil { … }
//
// New refuses a bad Config with every problem at once, each an
// engine.ConfigError named by the setting's path in Config
// ("Comet.Heartbeat"): Config.Validate reports them without building
// anything, each layer's rules being its own Validate's.
//
// Beside the constructor it holds what connects the layers: the Bridge
// (the rooms' and the lobby's rooms.Transport over Comet sessions, the
// claims that route client publishes to rooms and to the lobby, and the one
// path session events take: lobby first, which tells the rooms), the
// Prometheus metrics of every layer (Metrics), and the admin console
// (Admin, at /admin/ behind a token, with pprof at /debug/pprof/).
//
// # Concurrency
//
// Server's and Metrics' methods are safe for concurrent use. The Bridge's
// claims run on event loops (comet's SubjectHandler contract): they only
// validate and enqueue into the rooms' mailboxes and the lobby's queue,
// whose goroutines run the games' code. Session events reach the lobby and
// the rooms on the hub's event goroutine, in order. The admin console's
// page is pushed its figures by one goroutine, only while someone watches.
//
// # The life of a move
//
//  1. A player's page publishes {p_subject=/room/<id>, type, data, move,
//     seq} (a Comet publish, answered on the loop).
//  2. The room claim parses it into a rooms.Message and calls
//     rooms.Manager.Deliver, which checks the mailbox's bound and enqueues.
//  3. An executor runs the room's hook (the game's code) with the message:
//     the runtime checks seat, turn, sequence and move id first.
//  4. The room's broadcast becomes a Hub.Publish to /room/<id>; its
//     members' sessions receive it as the comet package's life of a push
//     describes; the mover's own acknowledgement is a unicast (Hub.Send).
package games
