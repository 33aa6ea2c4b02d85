package engine

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Games connects the rooms runtime and the lobby to a Hub. It is their
// rooms.Transport over Comet sessions (events become data events with the
// fields type and data); it routes client publishes to "/room/<id>" to the
// rooms Manager and to "/lobby" to the Lobby; and it tells both when
// sessions come and go.
//
// Wire contract (see docs/PROTOCOL.md, "Rooms and lobby"): a client publishes
// {p_subject=/room/<id>, type, data (JSON), move (move id), seq} to act in a
// room and {p_subject=/lobby, action, …} in the lobby; it receives data
// events {p_subject=/room/<id> or /lobby/…, type, data (JSON)}.
type Games struct {
	hub     *Hub
	m       *rooms.Manager
	lb      *lobby.Lobby
	grace   time.Duration
	mounted bool

	// Used only on the hub's event goroutine.
	pending map[*Session]uint64 // detaches waiting out the grace, by generation
	gen     uint64
}

// DefaultDetachGrace is how long a session's lost data channel must stay
// lost before rooms and lobby hear of it: a stream that reconnects at once
// (a network blip, a long-poll client between two refreshes whose request
// was cut) does not make its player flicker "dropped".
const DefaultDetachGrace = 2 * time.Second

// NewGames returns the bridge for h. Create the rooms Manager and the Lobby
// with it as their Transport, then call Mount.
func NewGames(h *Hub) *Games {
	return &Games{hub: h, grace: DefaultDetachGrace, pending: make(map[*Session]uint64)}
}

// SetDetachGrace changes DefaultDetachGrace (before Mount).
func (g *Games) SetDetachGrace(d time.Duration) { g.grace = d }

// roomPrefix is where rooms live (rooms.ManagerOptions.TopicPrefix must agree).
const roomPrefix = "/room/"

// Mount claims "/room" and "/lobby", reserves "/room" (clients cannot
// subscribe there; rooms subscribe their players), and forwards session
// events. The lobby may be nil (rooms only).
func (g *Games) Mount(m *rooms.Manager, lb *lobby.Lobby) error {
	if g.mounted {
		return errors.New("engine: Games already mounted")
	}
	if p := m.Options().TopicPrefix; p != "" && p != roomPrefix {
		return errors.New("engine: rooms TopicPrefix must be " + roomPrefix + ", got " + p)
	}
	g.m, g.lb = m, lb
	if err := g.hub.Claim(strings.TrimSuffix(roomPrefix, "/"), roomClaim{g}); err != nil {
		return err
	}
	if err := g.hub.Reserve(strings.TrimSuffix(roomPrefix, "/")); err != nil {
		return err
	}
	if lb != nil {
		if err := g.hub.Claim(lobby.TopicLobby, lobbyClaim{g}); err != nil {
			return err
		}
	}
	g.hub.events.subscribe(g.sessionEvent, true)
	g.mounted = true
	return nil
}

// toEvent turns a rooms event into a data event.
func toEvent(ev rooms.Event) *Event {
	data := "null"
	if len(ev.Data) > 0 {
		// The Transport owns ev.Data (rooms.Transport's contract: never
		// modified once passed), so the event holds it without a copy.
		data = unsafe.String(unsafe.SliceData(ev.Data), len(ev.Data))
	}
	e, fs := allocEvent(5)
	e.setFields(append(fs, Field{"p_event", "data"}, Field{"p_time", unixTime()}, Field{"p_subject", ev.Topic},
		Field{"type", ev.Type}, Field{"data", data}))
	return e
}

// Send implements rooms.Transport.
func (g *Games) Send(sessionID string, ev rooms.Event) {
	if s := g.hub.Session(sessionID); s != nil {
		e := toEvent(ev)
		e.solo = true
		s.push(e, nil)
	}
}

// Publish implements rooms.Transport. The event is encoded once per format
// for all its recipients.
func (g *Games) Publish(topic string, ev rooms.Event) {
	if validSubject(topic) {
		g.hub.multicast(topic, toEvent(ev))
	}
}

// Subscribe implements rooms.Transport (a server-side subscription).
func (g *Games) Subscribe(sessionID, topic string) {
	if s := g.hub.Session(sessionID); s != nil {
		if _, err := s.subscribe(topic, "", false); err != nil {
			g.hub.srv.log.Warn("games: subscribe failed", "topic", topic, "err", err)
		}
	}
}

// Unsubscribe implements rooms.Transport.
func (g *Games) Unsubscribe(sessionID, topic string) {
	if s := g.hub.Session(sessionID); s != nil {
		s.UnsubscribeSubject(topic)
	}
}

// roomClaim receives publishes to /room/<id>.
type roomClaim struct{ g *Games }

var errNoRoomSubject = errors.New("rooms: publish to /room/<id>")

func (roomClaim) needsHeader([]Field) bool { return false }

func (lobbyClaim) needsHeader(fs []Field) bool {
	for _, f := range fs {
		if f.Name == "action" {
			return f.Value == "hello"
		}
	}
	return false
}

// HandlePublish runs on an event loop: Deliver only validates and enqueues.
func (rc roomClaim) HandlePublish(p Publish) error {
	id, ok := strings.CutPrefix(p.Subject, roomPrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return errNoRoomSubject
	}
	msg := rooms.Message{Type: p.Get("type"), MoveID: p.Get("move")}
	if d := p.Get("data"); d != "" {
		msg.Data = []byte(d)
	}
	if s := p.Get("seq"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errors.New("rooms: invalid seq")
		}
		msg.Seq = n
	}
	return rc.g.m.Deliver(id, p.Session.ID(), msg)
}

// lobbyClaim receives publishes to /lobby.
type lobbyClaim struct{ g *Games }

// HandlePublish runs on an event loop: Handle only validates and enqueues.
func (lc lobbyClaim) HandlePublish(p Publish) error {
	if p.Subject != lobby.TopicLobby {
		return lobby.ErrUnknownAction
	}
	fields := make(map[string]string, len(p.Fields))
	for _, f := range p.Fields {
		fields[f.Name] = f.Value
	}
	return lc.g.lb.Handle(p.Session.ID(), lobby.Request{Fields: fields, RemoteAddr: p.RemoteAddr, Header: p.Header})
}

// sessionEvent runs on the hub's event goroutine, so the Manager and the
// Lobby hear of each session's attach, detach and end in order.
func (g *Games) sessionEvent(ev SessionEvent) {
	s := ev.Session
	switch ev.Kind {
	case SessionAttached:
		if _, waiting := g.pending[s]; waiting {
			delete(g.pending, s) // back within the grace: nobody noticed
			return
		}
		if g.lb != nil {
			g.lb.Attached(s.ID()) // the lobby forwards to the Manager
		} else {
			g.m.Attached(s.ID())
		}
	case SessionDetached:
		g.gen++
		gen := g.gen
		g.pending[s] = gen
		time.AfterFunc(g.grace, func() {
			// Confirmed through the queue, in order with later events.
			g.hub.events.push(SessionEvent{Kind: sessionDetachConfirmed, Session: s, gen: gen})
		})
	case sessionDetachConfirmed:
		if g.pending[s] != ev.gen {
			return // re-attached (or detached again) meanwhile
		}
		delete(g.pending, s)
		if g.lb != nil {
			g.lb.Detached(s.ID())
		} else {
			g.m.Detached(s.ID())
		}
	case SessionLeft:
		delete(g.pending, s)
		if g.lb != nil {
			g.lb.SessionEnded(s.ID())
		} else {
			g.m.SessionEnded(s.ID())
		}
	}
}
