// Package engine is cometplay's server: an HTTP/1.1 server on gnet event
// loops whose connections can be parked and written to later from any
// goroutine, and on it the Comet hub (sessions, subjects, per-session event
// queues and every Comet transport, speaking Pushlet's protocol). It is the
// only package that imports gnet.
//
// # Concurrency contract
//
// Code on an event loop never blocks and never runs user code: no lock is
// held across I/O, no channel send can wait, no Handler runs there. The
// loops run only the engine's own non-blocking code: parsing, routing, the
// Comet protocol, writing. Bytes that leave a loop are owned copies; a parsed
// request aliases the connection's inbound buffer and is valid only during
// its dispatch.
//
// Every other goroutine talks to a loop through the loop's inbox
// (loop.post): a slice guarded by a mutex and a single pending
// EventLoop.Execute, so a burst of work for one loop costs one wake-up. All
// per-connection state (conn, exchange) is owned by its loop; methods that
// may be called elsewhere say so ("safe for concurrent use").
//
// Handlers (Server.Handle) run on a fixed pool of worker goroutines fed by a
// bounded queue (Config.Workers, Config.WorkQueue); a full queue is answered
// 503 at once. Timers (header and idle timeouts, heartbeats, session leases)
// live in one hashed timing wheel driven by one goroutine; its callbacks only
// post to a loop. The goroutine count therefore does not grow with
// connections, sessions or timers.
//
// Ordinary net/http handlers mount with HandleHTTP (httpadapter.go): they
// run on the workers like any Handler and may block; their writes wait for
// the client on the worker, never on a loop. Observation costs the loops
// only atomic adds: the figures are atomics updated where things happen,
// read when Metrics is scraped (metrics.go) or the admin console is pushed
// its figures (admin.go, one goroutine).
//
// Lock order: the subject index's lock and session mutexes are never held
// together (publishers collect subscriptions under the index's read lock,
// release it, then lock each session). A session's mutex may be held while
// posting to a loop or arming a timer: the inbox and wheel mutexes are
// leaves. User callbacks (OnSessionEvent) run on the hub's event goroutine,
// never under a lock.
//
// # The life of a request
//
//  1. gnet reads bytes from the socket and calls OnTraffic on the
//     connection's loop.
//  2. conn.process peeks at the inbound buffer and calls the resumable
//     httpcodec.Parser. "Need more" keeps the parser's offsets (the next
//     call resumes where it stopped), and the bytes not parsed yet move out
//     of gnet's buffer into the connection's own (conn.in), to which later
//     bytes are appended: a request arriving slowly costs linear work and
//     about its size in memory. The header-read timer runs from the first
//     byte of a request.
//  3. Each complete request becomes an exchange appended to the
//     connection's queue (pipelined requests are answered in order, up to
//     Config.MaxPipelined in flight).
//  4. The router picks a handler. An engine handler (Comet, in-memory static
//     files) runs right there on the loop. A user Handler gets an owned copy
//     of the request and runs on a worker; its Stream posts the response to
//     the loop.
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
//  1. A client publishes (a request on any loop) or Go code calls
//     Hub.Publish.
//  2. The subject index (a trie of subject segments) yields the matching
//     subscriptions, at most one per session; the event is created once and
//     shared by every recipient.
//  3. For each recipient, Session.push appends (seq, event, subscription)
//     to the session's bounded window and, if a listener is attached and not
//     already scheduled, posts the listener to its loop.
//  4. On that loop, the listener takes the events after the session's
//     delivered cursor (a gap event first if the window overflowed) and
//     writes them: on a stream, one chunk per event, flushed in one write;
//     for a parked long-poll, one complete response. Each event's encoding
//     in the listener's format is computed once per event and cached; only
//     p_seq, p_sid and p_label are written per recipient.
//  5. A client that reconnects with p_last (or Last-Event-ID) moves the
//     cursor back and receives everything after it that the window still
//     holds.
package engine
