// Package roomstest provides what tests of rooms need without a network: a
// Transport that records every event per session, a Clock that moves only
// when told, and a Harness tying them to a Manager, as net/http/httptest
// does for handlers.
package roomstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cometplay/cometplay/rooms"
)

// Record is one event as one session received it.
type Record struct {
	Session string
	Topic   string
	Type    string
	Data    json.RawMessage
	// Unicast reports whether the event was sent to this session alone
	// (Transport.Send) rather than published on a topic.
	Unicast bool
}

// String returns "type data", e.g. `ack {"move":"m1","seq":1}`.
func (r Record) String() string { return r.Type + " " + string(r.Data) }

// Decode unmarshals the event's data into v.
func (r Record) Decode(v any) error { return json.Unmarshal(r.Data, v) }

// Map returns the event's data as a map (nil if it is not an object).
func (r Record) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Data, &m)
	return m
}

// Transport is a rooms.Transport that records, for each session, every
// event sent to it or published on a topic it is subscribed to. Safe for
// concurrent use; never blocks.
type Transport struct {
	mu      sync.Mutex
	subs    map[string]map[string]bool // topic → sessions
	inbox   map[string][]Record        // session → events not yet taken
	history map[string][]Record        // session → every event
	changed chan struct{}              // closed and replaced on every event
}

// NewTransport returns an empty Transport.
func NewTransport() *Transport {
	return &Transport{
		subs:    make(map[string]map[string]bool),
		inbox:   make(map[string][]Record),
		history: make(map[string][]Record),
		changed: make(chan struct{}),
	}
}

var _ rooms.Transport = (*Transport)(nil)

func (t *Transport) recordLocked(s string, ev rooms.Event, unicast bool) {
	data := json.RawMessage(bytes.Clone(ev.Data)) // a DataCopier: the runtime reuses ev.Data's buffer
	if data == nil {
		data = json.RawMessage("null")
	}
	rec := Record{Session: s, Topic: ev.Topic, Type: ev.Type, Data: data, Unicast: unicast}
	t.inbox[s] = append(t.inbox[s], rec)
	t.history[s] = append(t.history[s], rec)
}

func (t *Transport) wakeLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// CopiesEventData implements rooms.DataCopier: what Send and Publish
// record is a copy, so the rooms under test reuse their encoding buffers,
// as they do with the games bridge.
func (t *Transport) CopiesEventData() bool { return true }

// Send records ev for the session.
func (t *Transport) Send(sessionID string, ev rooms.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recordLocked(sessionID, ev, true)
	t.wakeLocked()
}

// Publish records ev for every session subscribed to topic, in session order.
func (t *Transport) Publish(topic string, ev rooms.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := make([]string, 0, len(t.subs[topic]))
	for s := range t.subs[topic] {
		ss = append(ss, s)
	}
	slices.Sort(ss)
	for _, s := range ss {
		t.recordLocked(s, ev, false)
	}
	t.wakeLocked()
}

// Subscribe subscribes the session to topic.
func (t *Transport) Subscribe(sessionID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[topic] == nil {
		t.subs[topic] = make(map[string]bool)
	}
	t.subs[topic][sessionID] = true
	t.wakeLocked()
}

// Unsubscribe unsubscribes the session from topic.
func (t *Transport) Unsubscribe(sessionID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.subs[topic], sessionID)
	if len(t.subs[topic]) == 0 {
		delete(t.subs, topic)
	}
	t.wakeLocked()
}

// Subscribed reports whether the session is subscribed to topic.
func (t *Transport) Subscribed(sessionID, topic string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subs[topic][sessionID]
}

// Subscribers returns the sessions subscribed to topic, sorted.
func (t *Transport) Subscribers(topic string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ss := make([]string, 0, len(t.subs[topic]))
	for s := range t.subs[topic] {
		ss = append(ss, s)
	}
	slices.Sort(ss)
	return ss
}

// NumTopics returns the number of topics with subscribers.
func (t *Transport) NumTopics() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

// Events returns every event the session received, oldest first.
func (t *Transport) Events(sessionID string) []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.history[sessionID])
}

// Take returns the events the session received since the last Take and
// forgets them (Events still has them).
func (t *Transport) Take(sessionID string) []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	evs := t.inbox[sessionID]
	delete(t.inbox, sessionID)
	return evs
}

// Types returns the types of Events(sessionID), for compact assertions.
func (t *Transport) Types(sessionID string) []string {
	return Types(t.Events(sessionID))
}

// Last returns the last event of that type the session received.
func (t *Transport) Last(sessionID, typ string) (Record, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.history[sessionID]
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == typ {
			return h[i], true
		}
	}
	return Record{}, false
}

// Count returns how many events of that type the session received.
func (t *Transport) Count(sessionID, typ string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.history[sessionID] {
		if r.Type == typ {
			n++
		}
	}
	return n
}

// WaitFor waits until cond (called with no lock held) returns true, checking
// it after every event and subscription change, or until ctx is done.
func (t *Transport) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		t.mu.Lock()
		ch := t.changed
		t.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Wait waits until the session has received an event of type typ that
// matches (match nil: any), and returns the first such event.
func (t *Transport) Wait(ctx context.Context, sessionID, typ string, match func(Record) bool) (Record, error) {
	var got Record
	err := t.WaitFor(ctx, func() bool {
		for _, r := range t.Events(sessionID) {
			if r.Type == typ && (match == nil || match(r)) {
				got = r
				return true
			}
		}
		return false
	})
	if err != nil {
		return Record{}, fmt.Errorf("roomstest: %s never got %q (got %s): %w", sessionID, typ, strings.Join(t.Types(sessionID), ","), err)
	}
	return got, nil
}

// Types returns the types of the records.
func Types(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Type
	}
	return out
}
