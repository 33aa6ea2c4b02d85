package games

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Bridge connects the rooms runtime and the lobby to a comet Hub. It is
// their rooms.Transport over Comet sessions (events become data events
// with the fields type and data); it routes client publishes to
// "/room/<id>" to the rooms Manager and to "/lobby" to the Lobby; and it
// tells them when sessions come and go, in one order decided here.
//
// Wire contract (see docs/PROTOCOL.md, "Rooms and lobby"): a client
// publishes {p_subject=/room/<id>, type, data (JSON), move (move id), seq}
// to act in a room and {p_subject=/lobby, action, …} in the lobby; it
// receives data events {p_subject=/room/<id> or /lobby/…, type, data
// (JSON)}.
//
// Server.New builds and mounts one; use NewBridge directly only to wire a
// server by hand.
type Bridge struct {
	hub     *comet.Hub
	cluster Cluster // nil: one node
	m       *rooms.Manager
	lb      *lobby.Lobby
	watch   sessionWatcher // who hears of sessions: the lobby, or the Manager without one
	mounted bool

	hmu     sync.Mutex
	helloed map[string]struct{} // a cluster's: this node's sessions whose hello the lobby took (lobbyMoved)
}

// sessionWatcher is what hears of a session's data channel and end: the
// lobby (which tells the Manager in turn), or the Manager itself when there
// is no lobby. Both implement it.
type sessionWatcher interface {
	Attached(sessionID string)
	Detached(sessionID string)
	SessionEnded(sessionID string)
}

// NewBridge returns the bridge for hub. Create the rooms Manager and the
// Lobby with it as their Transport, then call Mount.
func NewBridge(hub *comet.Hub) *Bridge { return &Bridge{hub: hub} }

// roomPrefix is where rooms live (rooms.ManagerOptions.TopicPrefix must agree).
const roomPrefix = "/room/"

// topicPrefixProblem says what is wrong with a rooms TopicPrefix, or "":
// the bridge claims roomPrefix for the rooms.
func topicPrefixProblem(p string) string {
	if p != "" && p != roomPrefix {
		return fmt.Sprintf("must be %q (or empty), got %q", roomPrefix, p)
	}
	return ""
}

// Mount claims "/room" and "/lobby", reserves "/room" (clients cannot
// subscribe there; rooms subscribe their players), and forwards session
// events. The lobby may be nil (rooms only).
func (b *Bridge) Mount(m *rooms.Manager, lb *lobby.Lobby) error {
	if b.mounted {
		return errors.New("games: bridge already mounted")
	}
	if problem := topicPrefixProblem(m.Options().TopicPrefix); problem != "" {
		return errors.New("games: rooms TopicPrefix " + problem)
	}
	b.m, b.lb, b.watch = m, lb, m
	if lb != nil {
		b.watch = lb // the lobby tells the Manager first, then does its own bookkeeping
	}
	var rc, lc comet.SubjectHandler = roomClaim{b}, lobbyClaim{b}
	if b.cluster != nil {
		rc, lc = forwardClaim{b: b}, forwardClaim{b: b, lobby: true}
	}
	if err := b.hub.Claim(strings.TrimSuffix(roomPrefix, "/"), rc); err != nil {
		return err
	}
	if err := b.hub.Reserve(strings.TrimSuffix(roomPrefix, "/")); err != nil {
		return err
	}
	if lb != nil || b.cluster != nil {
		if err := b.hub.Claim(lobby.TopicLobby, lc); err != nil {
			return err
		}
	}
	b.hub.OnSessionEvent(b.sessionEvent)
	if b.cluster != nil {
		b.cluster.OnLobbyMoved(b.lobbyMoved)
		b.cluster.OnNodeGone(b.nodesGone)
	}
	b.mounted = true
	return nil
}

// data returns an event's JSON data as text ("null" for none), without a
// copy: rooms.Event's contract is that nobody modifies Data once it is
// passed to the Transport, and the hub copies it into the event's record
// anyway. A room's every event went through here: the copy was a tenth of
// what the server allocated at 5,000 games.
func data(ev rooms.Event) string {
	if len(ev.Data) == 0 {
		return "null"
	}
	return unsafe.String(unsafe.SliceData(ev.Data), len(ev.Data))
}

// CopiesEventData implements rooms.DataCopier: the hub puts an event's
// fields into its record (a copy) before Send, SendAll or Publish returns,
// so the rooms may reuse the buffer they encoded Data in.
func (b *Bridge) CopiesEventData() bool { return true }

// Send implements rooms.Transport.
func (b *Bridge) Send(sessionID string, ev rooms.Event) {
	b.hub.SendFrom(producer(ev.Topic), sessionID, ev.Topic, "type", ev.Type, "data", data(ev))
}

// SendAll implements rooms.MultiSender: one event held once for all the
// sessions (the lobby's snapshots at a tick).
func (b *Bridge) SendAll(sessionIDs []string, ev rooms.Event) {
	b.hub.SendAllFrom(producer(ev.Topic), sessionIDs, ev.Topic, "type", ev.Type, "data", data(ev))
}

// Publish implements rooms.Transport. The event is held once for all its
// recipients.
func (b *Bridge) Publish(topic string, ev rooms.Event) {
	b.hub.PublishFrom(producer(topic), topic, "type", ev.Type, "data", data(ev))
}

// producer names who sends an event of topic, for the hub's ordering
// (comet.Hub.PublishFrom): the lobby, whatever its topic, or the room whose
// topic it is. Each keeps its own order and waits for no other: a room's
// moves never queue behind the lobby's broadcast to thousands.
func producer(topic string) string {
	if topic == lobby.TopicLobby || strings.HasPrefix(topic, lobby.TopicLobby+"/") {
		return lobby.TopicLobby
	}
	return topic
}

// Subscribe implements rooms.Transport (a server-side subscription).
func (b *Bridge) Subscribe(sessionID, topic string) {
	if s := b.hub.Session(sessionID); s != nil {
		if _, err := s.Subscribe(topic, ""); err != nil {
			b.hub.Logger().Warn("games: subscribe failed", "topic", topic, "err", err)
		}
	}
}

// Unsubscribe implements rooms.Transport.
func (b *Bridge) Unsubscribe(sessionID, topic string) {
	if s := b.hub.Session(sessionID); s != nil {
		s.UnsubscribeSubject(topic)
	}
}

// roomClaim receives publishes to /room/<id>.
type roomClaim struct{ b *Bridge }

var errNoRoomSubject = errors.New("rooms: publish to /room/<id>")

// NeedsHeader implements comet.HeaderNeeder: a move reads no header.
func (roomClaim) NeedsHeader([]comet.Field) bool { return false }

// HandlePublish runs on an event loop: Deliver only validates and enqueues.
func (rc roomClaim) HandlePublish(p comet.Publish) error {
	return rc.b.handleRoom(p.Session.ID(), p.Subject, p)
}

// handleRoom delivers a publish to /room/<id> (p's fields) to the room.
func (b *Bridge) handleRoom(sessionID, subject string, p comet.Publish) error {
	id, ok := strings.CutPrefix(subject, roomPrefix)
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
	return b.m.Deliver(id, sessionID, msg)
}

// lobbyClaim receives publishes to /lobby.
type lobbyClaim struct{ b *Bridge }

// NeedsHeader implements comet.HeaderNeeder: only a hello reads the
// headers (an Authenticator may look at cookies).
func (lobbyClaim) NeedsHeader(fs []comet.Field) bool {
	for _, f := range fs {
		if f.Name == "action" {
			return f.Value == "hello"
		}
	}
	return false
}

// HandlePublish runs on an event loop: Handle only validates and enqueues.
func (lc lobbyClaim) HandlePublish(p comet.Publish) error {
	return lc.b.handleLobby(p.Session.ID(), p.Subject, p.Fields, p.RemoteAddr, p.Header)
}

// handleLobby hands a publish to /lobby to the lobby.
func (b *Bridge) handleLobby(sessionID, subject string, fs []comet.Field, remote string, header http.Header) error {
	if subject != lobby.TopicLobby {
		return lobby.ErrUnknownAction
	}
	fields := make(map[string]string, len(fs))
	for _, f := range fs {
		fields[f.Name] = f.Value
	}
	return b.lb.Handle(sessionID, lobby.Request{Fields: fields, RemoteAddr: remote, Header: header})
}

// sessionEvent runs on the hub's event goroutine, so the watcher hears of
// each session's attach, detach and end in order. A detach comes only once
// the data channel stayed lost for the hub's DetachGrace.
func (b *Bridge) sessionEvent(ev comet.SessionEvent) {
	id := ev.Session.ID()
	if b.cluster != nil && ev.Kind == comet.SessionLeft {
		b.hmu.Lock()
		delete(b.helloed, id)
		b.hmu.Unlock()
	}
	if b.cluster != nil && !b.cluster.IsGamesNode() {
		switch ev.Kind {
		case comet.SessionAttached, comet.SessionDetached, comet.SessionLeft:
			b.cluster.ForwardSessionEvent(ev.Kind, id)
		}
		return
	}
	b.SessionEvent(ev.Kind, id)
}
