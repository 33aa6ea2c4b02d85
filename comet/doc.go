// Package comet is cometplay's Comet hub, built on the engine's HTTP
// server: sessions, subjects, each session's event history and every
// Comet transport (stream, SSE, forever-iframe, long-poll, poll), speaking
// Pushlet's protocol (docs/PROTOCOL.md) so that Pushlet's own JavaScript
// clients work unmodified, extended with JSON, SSE and resume without loss.
//
// NewHub mounts the protocol on an engine.Server at Config.Paths
// ("/pushlet/pushlet.srv" and "/comet"). Go code publishes with
// Hub.Publish and Hub.Send, subscribes sessions server-side with
// Session.Subscribe, routes client publishes to a subject prefix with
// Hub.Claim, and hears of sessions coming and going with
// Hub.OnSessionEvent. The games package builds the rooms runtime and the
// lobby on these.
//
// # Concurrency contract
//
// The protocol runs on the engine's event loops (engine.Server.HandleLoop):
// parsing a request's parameters, answering control requests, attaching
// and writing data channels. That code never blocks: it takes only a
// session's mutex or the subject index's lock, never around I/O, and posts
// to loops (engine.Loop.Post), which never waits. A SubjectHandler given to
// Hub.Claim runs there too, so it must not block: it validates and hands
// the publish on (the games package enqueues it in a room's or the lobby's
// mailbox).
//
// Every exported method is safe for concurrent use. Session lifecycle
// callbacks (OnSessionEvent) run on one goroutine of the hub, in order,
// never under a lock. Session timers (leases, heartbeats, the detach grace)
// are entries in the server's one timing wheel (engine.Server.Timers).
//
// Lock order: the subject index's lock and session mutexes are never held
// together (publishers collect subscriptions under the index's read lock,
// release it, then lock each session). A session's mutex may be held while
// posting to a loop or arming a timer: the inbox and wheel mutexes are
// leaves.
//
// # The life of a request
//
//  1. The engine parses a request to a protocol path and calls Hub.serve
//     on the connection's loop (the request aliases the inbound buffer).
//  2. The origin check runs (same origin, Fetch Metadata, AllowedOrigins);
//     the parameters of the query and of a form or Pushlet XML body are
//     read in one pass, bounded by Config.MaxParams.
//  3. join creates a session; other events look the session up by its
//     secret id (p_id), compared in constant time.
//  4. A control request (subscribe, publish, hb, leave…) is answered at
//     once on the same Exchange; a publish to a claimed subject goes to its
//     SubjectHandler, any other is fanned out (the life of a push).
//  5. A data channel (listen in stream mode, or a pull/poll refresh) is
//     attached to the session: a stream starts its chunked response and
//     keeps it; a parked refresh waits for an event or a heartbeat.
//
// # The life of a push
//
//  1. A client publishes (a request on any loop) or Go code calls
//     Hub.Publish. The event is encoded once, as a pointer-free record. If
//     its subject has more than DeferFanout (256) subscriptions, or its
//     producer (the lobby, a room, a client's session, or the hub's default
//     one: Hub.PublishFrom) has a push queued, the record is queued for the
//     hub's fan-out goroutine (fanout.go; it exists only while something is
//     queued) and the publisher returns at once: a Handler's answer, the
//     lobby's executor or a loop serving a client's publish never waits for
//     a fan-out to thousands, and a room's move never waits behind the
//     lobby's. Queued pushes run one at a time in the order they came, so
//     each producer's events keep their order; past maxQueuedFanouts (1,024)
//     waiting, the publisher pushes the queue itself before it returns (a
//     client's publish to many is refused "busy" instead). Otherwise the
//     publisher pushes it now.
//  2. The subject index (a trie of subject segments) yields the matching
//     subscriptions, at most one per session. The record goes into the
//     hub's history store
//     (internal/history: slabs the collector never scans), with one
//     reference per recipient.
//  3. For each recipient, the session gives the event its next p_seq and
//     appends (seq, reference, size, subscription) to its own small ring;
//     what a session holds is bounded by count (Config.Window), bytes
//     (SessionHistoryBytes; HistoryBytes for the hub) and age
//     (ResumeHorizon). If a listener is attached and not already scheduled,
//     the session posts it to its loop (a sessionRunner task): an event to at
//     most urgentFanout (16) recipients, a room's players, and a unicast go
//     in the loop's urgent lane; a larger fan-out (a lobby delta) goes in
//     the bulk lane, which the loop runs in slices between serving its
//     sockets. A move's event thus never waits behind a lobby's deliveries
//     to thousands; a listener already waiting in the bulk lane is posted
//     again, urgently, and whichever run comes first delivers both.
//  4. On that loop, the listener takes the events after the session's
//     delivered cursor (a gap event first if some were let go) and writes
//     them: on a stream, one chunk per event, flushed in one write; for a
//     parked long-poll, one complete response. Each event's encoding in a
//     format family is computed once per loop (encCache, a small cache of
//     the records written last); only p_seq, p_sid and p_label are written
//     per recipient. The records are read under the store's pin
//     (history.Store.Pin): a slab let go meanwhile keeps its bytes until
//     no read is pinned, after which its buffer serves a new slab.
//  5. An acknowledgement lets go of what the client has: a listen or
//     refresh carrying p_last (or Last-Event-ID), or p_ack on any control
//     request. A reference released by its last holder frees the record's
//     bytes. A client that reconnects with p_last moves the cursor back and
//     receives everything after it that is still held.
package comet
