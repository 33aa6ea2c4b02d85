package rooms

import (
	"encoding/json"
	"sync"
	"time"
)

// Transport is how the runtime reaches players. The games package's bridge
// implements it over Comet sessions; tests use roomstest.Transport. Its methods must never
// block and must be safe to call from any goroutine: the runtime calls them
// from executor goroutines, never while holding one of its locks.
type Transport interface {
	// Send queues ev for one session. Events to one session must arrive in
	// the order they were sent or published to it.
	Send(sessionID string, ev Event)
	// Publish queues ev for every session subscribed to topic.
	Publish(topic string, ev Event)
	// Subscribe subscribes a session to a topic on the server's initiative
	// (a room subscribes its players and spectators to its topic).
	Subscribe(sessionID, topic string)
	// Unsubscribe undoes Subscribe.
	Unsubscribe(sessionID, topic string)
}

// MultiSender is a Transport that can also send one event to several
// sessions at once, holding it once for all of them (the lobby sends its
// snapshots so to the players back in the lobby at a tick). The lobby uses
// it when its Transport has it, and Send to each session otherwise. The
// order of Send holds for each session.
type MultiSender interface {
	SendAll(sessionIDs []string, ev Event)
}

// DataCopier is implemented by a Transport that is done with an Event's
// Data when Send, Publish or SendAll returns: it copies whatever it keeps
// (the games package's bridge puts the event into the hub's history, the
// cluster's transport into a message). The runtime then encodes the data of
// an item's events into a buffer it reuses for the next item, instead of
// allocating each event's data for good (a sixth of what a games server
// allocated under play). A Transport that keeps Data must not implement it,
// or return false.
type DataCopier interface {
	CopiesEventData() bool
}

// Event is one event pushed to clients. The Transport owns it once passed
// (the runtime never modifies Data afterwards), unless it is a DataCopier.
type Event struct {
	// Topic is "/room/<id>" for room events (see ManagerOptions.TopicPrefix)
	// and "/lobby..." for lobby events, also on unicasts.
	Topic string
	// Type names the event ("joined", "turn", or a game's own type).
	Type string
	// Data is JSON, usually an object; nil means null.
	Data []byte
}

// Clock is the runtime's source of time. The default is the real clock;
// tests use roomstest.Clock. AfterFunc must not call f on the caller's
// goroutine before returning, and f must not block (the runtime's f only
// enqueues).
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper stops a timer; Stop reports whether it stopped the timer before it
// fired (time.Timer's semantics).
type Stopper interface {
	Stop() bool
}

// RealClock is the Clock backed by package time.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

// eventEncoder encodes an item's events' data into one buffer, reused from
// item to item through encoders (DataCopier Transports only).
type eventEncoder struct {
	buf []byte
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(eventEncoder)
	e.enc = json.NewEncoder(e)
	return e
}}

// maxPooledEncoder is the largest buffer kept for reuse: an item that sent
// more (a large snapshot to a crowd) leaves its buffer to the collector.
const maxPooledEncoder = 64 << 10

// Write appends p (json.Encoder writes each value whole, once encoded).
func (e *eventEncoder) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	return len(p), nil
}

// encode returns v's JSON as json.Marshal does, in e's buffer. The slice's
// capacity ends with it: a Transport appending to one event's Data cannot
// write over the next.
func (e *eventEncoder) encode(v any) ([]byte, error) {
	start := len(e.buf)
	if err := e.enc.Encode(v); err != nil { // nothing written on error
		return nil, err
	}
	end := len(e.buf) - 1 // Encode ends the value with a newline
	return e.buf[start:end:end], nil
}

func (e *eventEncoder) release() {
	if cap(e.buf) > maxPooledEncoder {
		e.buf = nil
	}
	e.buf = e.buf[:0]
	encoders.Put(e)
}
