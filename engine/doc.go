// Package engine is cometplay's HTTP/1.1 server on gnet event loops: its
// connections can be parked and written to later from any goroutine. It
// knows nothing of Comet: the comet package builds the Comet hub on it, and
// the games package a game server on both. It is the only package that
// imports gnet.
//
// What it serves: Handlers (Handle, HandlePrefix) on a fixed pool of
// workers, ordinary net/http handlers (HandleHTTP, httpadapter.go), the
// static site (Config.Static and Config.Webroot, on the loop from memory),
// and, for a protocol layer such as comet, LoopHandlers that answer on the
// loop itself (HandleLoop, layer.go).
//
// # Concurrency contract
//
// Code on an event loop never blocks and never runs an application's code:
// no lock is held across I/O, no channel send can wait, no Handler runs
// there. The loops run only the engine's own non-blocking code (parsing,
// routing, static files, writing) and the LoopHandlers and LoopTasks of the
// protocol layers built into cometplay, which obey the same rules (comet's
// protocol; its SubjectHandlers, documented there as loop code). Bytes that
// leave a loop are owned copies; a parsed request aliases the connection's
// inbound buffer and is valid only during its dispatch.
//
// Every other goroutine talks to a loop through the loop's inbox
// (Loop.Post, loop.post): a slice guarded by a mutex and a single pending
// EventLoop.Execute, so a burst of work for one loop costs one wake-up. All
// per-connection state (conn, Exchange) is owned by its loop; methods that
// may be called elsewhere say so ("safe for concurrent use").
//
// Handlers (Server.Handle) run on a fixed pool of worker goroutines fed by a
// bounded queue (Config.Workers, Config.WorkQueue); a full queue is answered
// 503 at once. A connection's requests parsed in one batch (pipelined) go to
// one worker in one hand-off and run in order, the rest handed back to the
// queue when a Handler takes longer than a millisecond; the responses they
// complete reach the loop in one post and leave in one write. A request
// costs the Handler path one allocation (its Stream, Request and room for
// a few header fields, 384 bytes) and one for its strings; the batch, the
// response fields' slice and, once the response is complete, the exchange
// are reused. An exchange carries a generation that its Stream's ops
// repeat, so an op that comes after its response ended (a chunk after a
// HEAD's head) is dropped instead of reaching the next request.
//
// A loop's inbox has two lanes. The engine's own work (a Handler's response,
// timers, closes) is urgent and done first; a protocol layer's tasks
// (Loop.Post: comet's deliveries) are done a few hundred at a time, between
// which gnet serves the loop's sockets: a fan-out to thousands of listeners
// holds no response, request or other connection behind all of it. (gnet
// runs a task that a task posts in the same pass over its queue, so the
// next slice is posted by one goroutine per server, the kicker, once the
// current one returned.) Timers live in one hashed timing wheel driven by one
// goroutine (Server.Timers): the connections' header and idle timeouts here,
// the Comet sessions' leases, heartbeats and detach graces in comet. Its
// callbacks only post to a loop. (A net/http handler whose client reads
// slowly waits for its backlog to drain with the runtime's timers, on its
// worker: at most one per worker. The clock demo, when mounted, ticks its
// streams from one goroutine of its own, and Shutdown polls the connection
// count on the goroutine that called it.) The goroutine count therefore
// does not grow with connections, sessions or timers.
//
// Ordinary net/http handlers mounted with HandleHTTP run on the workers like
// any Handler and may block; their writes wait for the client on the
// worker, never on a loop. Observation costs the loops only atomic adds:
// the figures are atomics updated where things happen, read when the
// Prometheus collectors (Server.Collectors) are scraped.
//
// # The life of a request
//
//  1. gnet reads bytes from the socket and calls OnTraffic (on gnetEvents,
//     which keeps gnet's callbacks out of the Server's API) on the
//     connection's loop.
//  2. conn.process parses what arrived with the resumable httpcodec.Parser.
//     "Need more" keeps the parser's offsets (the next call resumes where it
//     stopped) and moves the unparsed bytes into the connection's own
//     buffer; the header-read timer runs from the first byte of a request.
//  3. Each complete request becomes an Exchange appended to the
//     connection's queue (pipelined requests are answered in order, up to
//     Config.MaxPipelined in flight).
//  4. The router picks a handler. A LoopHandler (comet's protocol) and the
//     static files run right there on the loop. A Handler gets an owned
//     copy of the request (its Stream, Request and strings in two
//     allocations) and runs on a worker, with the other requests of the
//     batch; its Stream posts the response to the loop's urgent lane.
//  5. The exchange at the head of the queue writes straight into the loop's
//     output batch; a later one holds its bytes until those before it are
//     done. At the end of OnTraffic the batch is written with one write.
//  6. When the head exchange finishes, the next one's held bytes are
//     released; when the queue empties, parsing resumes and the idle timer
//     starts. A response that is not keep-alive half-closes the connection
//     and lingers briefly so the peer reads it before the close.
//
// # The life of a push
//
// A push is a response written later, from anywhere:
//
//  1. A Handler calls Stream.Park (or Start) and returns; its worker is
//     free. A LoopHandler keeps the Exchange and answers later.
//  2. Any goroutine writes: Stream.Write posts a chunk to the connection's
//     loop (bounded by Config.MaxOutbound); a protocol layer posts a
//     LoopTask that writes through the Exchange on the loop (comet's
//     listeners: see the comet package's life of a push): Loop.Post for the
//     bulk lane (a fan-out, run in slices between which the loop serves its
//     sockets), Loop.PostUrgent for a small delivery that must not wait
//     behind one.
//  3. The loop drains its inbox in one Run: each chunk or task appends to
//     the connection's output and is written at once; a peer whose queued
//     bytes pass MaxOutbound is closed as a slow reader.
//  4. When the connection goes away first, the Exchange's owner is told on
//     the loop (ExchangeOwner): a Stream's writes then fail with ErrClosed,
//     a Comet session detaches its listener.
package engine
