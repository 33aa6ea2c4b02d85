package games

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Cluster is what a games server needs of the nodes it runs with, beyond
// the hub's comet.Cluster (the cluster package implements it over NATS;
// Config.Cluster nil: one node).
//
// Sessions live on every node (their home: the node that answered their
// join), and so do rooms: each node runs a rooms Manager and owns the
// rooms it creates (their ids begin with its tag). The lobby runs on one
// node, the games node, for all: the other nodes hand it their clients'
// publishes to /lobby and their sessions' comings and goings
// (ForwardClaim, ForwardSessionEvent), and it reaches every node's rooms
// (RoomService), creating each on the node with the fewest. A publish to
// /room/<id> goes from the session's home to the room's node. The rooms'
// and the lobby's events reach each session through its home node
// (RemoteTransport).
type Cluster interface {
	comet.Cluster
	// IsGamesNode reports whether this node runs the lobby for all now.
	// Every node has a lobby; only the games node's is fed and heard
	// (when the games node dies, another node's lobby takes over).
	IsGamesNode() bool
	// OnLobbyMoved registers fn, called (on a goroutine of the cluster's)
	// when the games node changes: the new games node's lobby knows none
	// of the sessions, which must say hello again.
	OnLobbyMoved(fn func())
	// OnNodeGone registers fn, called (on a goroutine of the cluster's)
	// with the tags of nodes found gone (quiet, and unknown to NATS): their
	// sessions cannot say they ended, so the games node's lobby ends them.
	OnNodeGone(fn func(tags []string))
	// ForwardClaim hands a client's publish to /room/<id> to the room's
	// node, or to /lobby to the games node; done gets what its handler
	// returned, or an error if that node is not there. On a loop: it must
	// not block.
	ForwardClaim(c ClaimCall, done func(error))
	// OwnsRoom reports whether the room (its id) is this node's.
	// Journal is the rooms' turn log (nil: none), which lets another node
	// rebuild a room of this one (rooms.ManagerOptions.Journal).
	Journal() rooms.Journal
	OwnsRoom(id string) bool
	// RoomIDPrefix begins the ids of the rooms this node creates
	// (rooms.ManagerOptions.IDPrefix).
	RoomIDPrefix() string
	// ServeRooms is called once by New on every node: its rooms answer the
	// games node's lobby and tell it their changes.
	ServeRooms(m *rooms.Manager)
	// RoomService returns, on the games node, the rooms of every node for
	// the lobby.
	RoomService(local *rooms.Manager) lobby.RoomService
	// ForwardSessionEvent tells the games node that a session of this
	// node attached, detached or ended, in the order they happened.
	ForwardSessionEvent(kind comet.SessionEventKind, sessionID string)
	// RemoteTransport returns the Transport of the node's rooms (and, on
	// the games node, its lobby): what is for a session of this node goes
	// to local, what is for another node's goes there; a Publish goes to
	// every node.
	RemoteTransport(local Transport) Transport
	// ServeGames is called once by New on every node: the cluster applies
	// what other nodes' rooms and lobby send for this node's sessions to
	// local, and hands forwarded claims (and, on the games node, session
	// events) to g.
	ServeGames(local Transport, g GamesHandler)
}

// Transport is a rooms.Transport that also sends to several sessions at
// once (rooms.MultiSender): the Bridge is one.
type Transport interface {
	rooms.Transport
	rooms.MultiSender
}

// ClaimCall is a client's publish to /room/… or /lobby, as the games node
// gets it from another node.
type ClaimCall struct {
	SessionID  string // the publisher's session (its secret id)
	Subject    string
	Fields     []comet.Field
	RemoteAddr string
	Header     http.Header // Cookie, Authorization, User-Agent, for a lobby hello
}

// GamesHandler is what the games node's cluster hands forwarded claims and
// session events to: the Bridge.
type GamesHandler interface {
	HandleClaim(c ClaimCall) error
	SessionEvent(kind comet.SessionEventKind, sessionID string)
}

// ErrGamesUnavailable answers a forwarded publish when the games node is
// not there.
var ErrGamesUnavailable = errors.New("games: the games node is not available, try again")

// HandleClaim implements GamesHandler: a publish to /room/… or /lobby
// forwarded by another node, handled as one of this node's.
func (b *Bridge) HandleClaim(c ClaimCall) error {
	switch {
	case strings.HasPrefix(c.Subject, roomPrefix):
		return b.handleRoom(c.SessionID, c.Subject, comet.Publish{Fields: c.Fields})
	case c.Subject == lobby.TopicLobby && b.lb != nil:
		if b.cluster != nil && !b.cluster.IsGamesNode() {
			return ErrGamesUnavailable // sent here before the lobby moved
		}
		return b.handleLobby(c.SessionID, c.Subject, c.Fields, c.RemoteAddr, c.Header)
	}
	return lobby.ErrUnknownAction
}

// SessionEvent implements GamesHandler: a session (of this node, or
// another node's) attached, detached or ended; the watcher hears of it.
func (b *Bridge) SessionEvent(kind comet.SessionEventKind, id string) {
	switch kind {
	case comet.SessionAttached:
		b.watch.Attached(id)
	case comet.SessionDetached:
		b.watch.Detached(id)
	case comet.SessionLeft:
		b.watch.SessionEnded(id)
	}
}

// forwardClaim is the claim of /room and /lobby of a node of a cluster:
// a publish to one of its rooms (or its lobby, on the games node) is
// handled here; any other goes to the node that has the room (or the
// lobby), and its answer comes back from there
// (comet.AsyncSubjectHandler).
type forwardClaim struct {
	b     *Bridge
	lobby bool
}

func (f forwardClaim) NeedsHeader(fs []comet.Field) bool {
	if f.lobby {
		return lobbyClaim{}.NeedsHeader(fs)
	}
	return false
}

// HandlePublish is not called: the hub calls HandlePublishAsync.
func (f forwardClaim) HandlePublish(comet.Publish) error {
	return errors.New("games: a forwarded claim answers through HandlePublishAsync")
}

func (f forwardClaim) HandlePublishAsync(p comet.Publish, done func(error)) {
	if f.lobby && (lobbyClaim{}).NeedsHeader(p.Fields) {
		// A hello: the session is told to say it again if the lobby moves.
		id, answer := p.Session.ID(), done
		done = func(err error) {
			if err == nil {
				f.b.saidHello(id)
			}
			answer(err)
		}
	}
	switch {
	case f.lobby && f.b.cluster.IsGamesNode():
		done(lobbyClaim{f.b}.HandlePublish(p))
		return
	case !f.lobby:
		if id, ok := strings.CutPrefix(p.Subject, roomPrefix); ok && f.b.cluster.OwnsRoom(id) {
			done(roomClaim{f.b}.HandlePublish(p))
			return
		}
	}
	f.b.cluster.ForwardClaim(ClaimCall{SessionID: p.Session.ID(), Subject: p.Subject, Fields: p.Fields, RemoteAddr: p.RemoteAddr, Header: p.Header}, done)
}

// A RoomHandover is a Cluster that can hand a stopping node's rooms over to
// the other nodes instead of closing them (the cluster package, with its
// turn log). Shutdown asks it first; it reports whether it did.
type RoomHandover interface {
	HandOver(ctx context.Context, m *rooms.Manager) bool
}

// gatedTransport is the lobby's Transport on a node of a cluster: what the
// lobby sends goes out only while its node is the games node, so that a
// node's lobby that is not (or no longer) the one in charge is never
// heard.
type gatedTransport struct {
	c Cluster
	t Transport
}

func (g gatedTransport) Send(id string, ev rooms.Event) {
	if g.c.IsGamesNode() {
		g.t.Send(id, ev)
	}
}

func (g gatedTransport) SendAll(ids []string, ev rooms.Event) {
	if g.c.IsGamesNode() {
		g.t.SendAll(ids, ev)
	}
}

func (g gatedTransport) Publish(topic string, ev rooms.Event) {
	if g.c.IsGamesNode() {
		g.t.Publish(topic, ev)
	}
}

func (g gatedTransport) Subscribe(id, topic string) {
	if g.c.IsGamesNode() {
		g.t.Subscribe(id, topic)
	}
}

func (g gatedTransport) Unsubscribe(id, topic string) {
	if g.c.IsGamesNode() {
		g.t.Unsubscribe(id, topic)
	}
}

// CopiesEventData implements rooms.DataCopier as the Transport it gates.
func (g gatedTransport) CopiesEventData() bool {
	dc, ok := g.t.(rooms.DataCopier)
	return ok && dc.CopiesEventData()
}

// saidHello notes a session of this node whose hello the lobby took.
func (b *Bridge) saidHello(id string) {
	b.hmu.Lock()
	if b.helloed == nil {
		b.helloed = make(map[string]struct{})
	}
	b.helloed[id] = struct{}{}
	b.hmu.Unlock()
}

// lobbyRestarted is the event that tells a session of the lobby's move:
// the lobby that knew it is gone; it says hello again.
var lobbyRestarted = rooms.Event{Topic: lobby.TopicLobby, Type: "restarted",
	Data: []byte(`{"reason":"the lobby restarted on another node: say hello again; quick play again"}`)}

// lobbyMoved tells this node's sessions that said hello that the lobby
// restarted (Cluster.OnLobbyMoved). A node whose lobby another node's
// replaces forgets what its own knew (Lobby.Forget): sessions end and
// players queue elsewhere from now on, and should the lobby come back
// here, a stale player would hold a name, or be matched, for good.
func (b *Bridge) lobbyMoved() {
	if b.lb != nil && !b.cluster.IsGamesNode() {
		b.lb.Forget(b.cluster.IsGamesNode)
	}
	b.hmu.Lock()
	ids := make([]string, 0, len(b.helloed))
	for id := range b.helloed {
		ids = append(ids, id)
	}
	clear(b.helloed)
	b.hmu.Unlock()
	if len(ids) > 0 {
		b.SendAll(ids, lobbyRestarted)
	}
}

// nodesGone ends, in the lobby of the games node, the sessions of nodes
// that died (Cluster.OnNodeGone): they would stay online, and hold their
// players' names, for good.
func (b *Bridge) nodesGone(tags []string) {
	if b.lb == nil || !b.cluster.IsGamesNode() {
		return
	}
	if n := b.lb.EndSessions(func(id string) bool {
		return slices.ContainsFunc(tags, func(tag string) bool { return strings.HasPrefix(id, tag) })
	}); n > 0 {
		b.hub.Logger().Info("games: the lobby ended the sessions of nodes that are gone", "nodes", tags, "sessions", n)
	}
}
