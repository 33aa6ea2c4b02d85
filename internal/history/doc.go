// Package history holds the events a Comet hub may still have to deliver,
// once each and out of the garbage collector's sight.
//
// An event published to a subject goes to every session subscribed to it,
// and each of them may need it again (a client that resumes with p_last, a
// long-poll client between two refreshes). Keeping a pointer to the event in
// every recipient's queue makes the live heap, and so the collector's marking
// work, grow with players times events. Here instead:
//
//   - A [Store] keeps each event once, as a compact record of its fields
//     (see [AppendField]), in slabs: large byte slices allocated whole and
//     never written after their records are handed out. A slab holds no
//     pointer, so the collector marks it as one object and never scans it,
//     however many events it holds.
//   - Ordinary slabs are carved from memory mapped outside the Go heap
//     (on Linux): the heap the collector paces itself by, and doubles
//     under GOGC=100, does not grow with the events held either.
//   - A recipient keeps only a [Ref] to the record (with the size and the
//     subscription it came through) in its [Ring]: a ring of fixed-size,
//     pointer-free entries, trimmed as the client acknowledges what it has.
//   - Each slab counts the references its records have. A slab none of whose
//     records is referenced any more, that is full, is dropped. Slabs are
//     also dropped whole, referenced or not, when they are older than the
//     store's horizon or the store holds more than its byte limit: a ring's
//     reference into a dropped slab then resolves to nothing, which its
//     owner reports as a gap.
//
// # Concurrency
//
// A Store's methods are safe for concurrent use. Put appends under the
// store's mutex; Get finds a slab in the slab table with two atomic loads
// (the table, then the generation's slot) and never locks, so the event loops that write events to
// thousands of listeners do not contend. A record's bytes are written before
// its Ref is returned and never again while its slab lives. A reader pins
// its reads (Store.Pin, Unpin: one atomic counter): the buffer of a dropped
// slab is kept (up to a few) and given to a new slab only once no read was
// pinned at some moment after the drop, so a reader that resolved a Ref may
// read its bytes until it unpins, however the slab was dropped meanwhile,
// and a store whose events come and go allocates no new bytes for them.
//
// A Ring is not safe for concurrent use: its owner guards it (the session's
// mutex).
package history
