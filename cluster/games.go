package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/rooms"
)

// The games side of a node (games.Cluster): the rooms' and the lobby's
// claims, session events and events across nodes; one node, the games
// node, runs the lobby for all (rooms.go has the rooms).
//
//	cp.n.<tag>.in        claims forwarded to node tag ('c', with a reply
//	                     subject: for its rooms, or the games node's lobby),
//	                     and on the games node session events ('s') and
//	                     the other nodes' room changes ('r'), in order
//	cp.n.<tag>.crep.<id> the answer to claim id of node tag
//	cp.n.<tag>.ops       rooms' and the lobby's events and subscriptions
//	                     for the sessions of node tag, in order
//
// Everything a node sends to another goes on that node's one ops subject,
// from the one outbox: each room's and the lobby's events reach a session
// in the order they were sent, as on one node.

// Op kinds on cp.n.<tag>.ops.
const (
	opSend        = 's' // session, event
	opSendAll     = 'a' // sessions, event
	opPublish     = 'p' // topic, event
	opSubscribe   = 'u' // session, topic
	opUnsubscribe = 'x' // session, topic
	opBatch       = 'b' // ops joined by the outbox (coalesce): each a uvarint length and the op
)

// Message kinds on cp.n.<tag>.in: claims for the node's rooms (or, on
// the games node, its lobby), and on the games node session events and
// the other nodes' room changes.
const (
	inClaim      = 'c'
	inSession    = 's'
	inRoomChange = 'r'
)

// gamesSide is the node's games state.
type gamesSide struct {
	mu      sync.Mutex
	pending map[uint64]pendingClaim // claims forwarded, waiting for the answer
	local   games.Transport
	handler games.GamesHandler
	rooms   *rooms.Manager // this node's rooms (ServeRooms)
	dir     *directory     // the games node's view of every node's rooms

	lobbyMoved []func()         // OnLobbyMoved
	nodeGone   []func([]string) // OnNodeGone
}

// pendingClaim is a forwarded claim waiting for its answer.
type pendingClaim struct {
	done  func(error)
	dest  string // the node it went to
	room  bool   // a room's (else the lobby's)
	since time.Time
}

// unavailable is the answer to a claim whose node is not there.
func (p pendingClaim) unavailable() error {
	if p.room {
		return errNodeUnavailable
	}
	return games.ErrGamesUnavailable
}

// inSubject is where node tag takes claims, session events and room
// changes.
func inSubject(tag string) string { return "cp.n." + tag + ".in" }

// ForwardClaim implements games.Cluster: a publish to /room/<id> goes to
// the room's node, one to /lobby to the games node. On a loop.
func (n *Node) ForwardClaim(c games.ClaimCall, done func(error)) {
	pc := pendingClaim{done: done, dest: n.gamesNode(), since: time.Now()}
	if id, ok := strings.CutPrefix(c.Subject, "/room/"); ok {
		if tag := n.roomNode(id); tag != "" {
			pc.dest, pc.room = tag, true
		}
	}
	id := n.nextID.Add(1)
	n.games.mu.Lock()
	n.games.pending[id] = pc
	n.games.mu.Unlock()
	b := []byte{inClaim}
	b = appendStr(b, c.SessionID)
	b = appendStr(b, c.Subject)
	b = appendStr(b, c.RemoteAddr)
	b = appendFields(b, c.Fields)
	var hs []comet.Field
	for name, vs := range c.Header {
		for _, v := range vs {
			hs = append(hs, comet.Field{Name: name, Value: v})
		}
	}
	b = appendFields(b, hs)
	n.stats.claimsOut.Add(1)
	n.out.push(msg{subj: inSubject(pc.dest), reply: "cp.n." + n.opts.Node + ".crep." + strconv.FormatUint(id, 36), data: b})
}

// ForwardSessionEvent implements games.Cluster.
func (n *Node) ForwardSessionEvent(kind comet.SessionEventKind, sessionID string) {
	b := append([]byte{inSession, byte(kind)}, sessionID...)
	n.out.push(msg{subj: inSubject(n.gamesNode()), data: b})
}

// ServeGames implements games.Cluster.
func (n *Node) ServeGames(local games.Transport, g games.GamesHandler) {
	n.games.mu.Lock()
	n.games.local, n.games.handler = local, g
	n.games.mu.Unlock()
	n.subscribe(map[string]nats.MsgHandler{
		"cp.n." + n.opts.Node + ".ops":    func(m *nats.Msg) { n.onOps(m.Data) },
		"cp.n." + n.opts.Node + ".crep.*": n.onClaimAnswer,
		inSubject(n.opts.Node):            n.onGamesIn,
	})
}

// onClaimAnswer gives a forwarded claim's answer to the hub.
func (n *Node) onClaimAnswer(m *nats.Msg) {
	id, ok := lastID(m.Subject)
	if !ok {
		return
	}
	n.games.mu.Lock()
	pc, ok := n.games.pending[id]
	delete(n.games.pending, id)
	n.games.mu.Unlock()
	if !ok {
		return
	}
	switch {
	case len(m.Data) == 0 && m.Header.Get("Status") == "503":
		pc.done(pc.unavailable()) // nobody listens there
	case len(m.Data) == 0:
		pc.done(nil)
	default:
		pc.done(claimError(m.Data))
	}
}

type claimError string

func (e claimError) Error() string { return string(e) }

// onGamesIn runs a forwarded claim or session event on the games node (the
// subscription's goroutine).
func (n *Node) onGamesIn(m *nats.Msg) {
	n.games.mu.Lock()
	g := n.games.handler
	n.games.mu.Unlock()
	if g == nil || len(m.Data) < 2 {
		return
	}
	switch m.Data[0] {
	case inSession:
		g.SessionEvent(comet.SessionEventKind(m.Data[1]), string(m.Data[2:]))
	case inRoomChange:
		n.games.mu.Lock()
		d := n.games.dir
		n.games.mu.Unlock()
		var rc roomChange
		if d != nil && json.Unmarshal(m.Data[2:], &rc) == nil {
			d.changed(rc.Info, rc.Removed)
		}
	case inClaim:
		b := m.Data[1:]
		var c games.ClaimCall
		var ok bool
		if c.SessionID, b, ok = readStr(b); !ok {
			return
		}
		if c.Subject, b, ok = readStr(b); !ok {
			return
		}
		if c.RemoteAddr, b, ok = readStr(b); !ok {
			return
		}
		if c.Fields, b, ok = readFields(b); !ok {
			return
		}
		hs, _, ok := readFields(b)
		if !ok {
			return
		}
		for _, h := range hs {
			if c.Header == nil {
				c.Header = make(http.Header, len(hs))
			}
			c.Header.Add(h.Name, h.Value)
		}
		n.stats.claimsIn.Add(1)
		var answer []byte
		err := g.HandleClaim(c)
		if room, ok := strings.CutPrefix(c.Subject, "/room/"); ok && errors.Is(err, rooms.ErrNoRoom) && n.own.isRebuilding(room) {
			err = errNodeUnavailable // taken over, being rebuilt here
		}
		if err != nil {
			answer = []byte(err.Error())
			if len(answer) == 0 {
				answer = []byte("error")
			}
		}
		if m.Reply != "" {
			n.out.push(msg{subj: m.Reply, data: answer})
		}
	}
}

// RemoteTransport implements games.Cluster.
func (n *Node) RemoteTransport(local games.Transport) games.Transport {
	return &remoteTransport{n: n, local: local}
}

// remoteTransport is the games node's Transport: ops for its own sessions
// go to local, the others' to their node.
type remoteTransport struct {
	n     *Node
	local games.Transport
}

// home returns the tag of a session id's node.
func home(sessionID string) string {
	if len(sessionID) < comet.TagLen {
		return ""
	}
	return sessionID[:comet.TagLen]
}

func (t *remoteTransport) ops(tag string, b []byte) {
	t.n.stats.opsOut.Add(1)
	t.n.out.push(msg{subj: "cp.n." + tag + ".ops", data: b, join: joinOps})
}

// CopiesEventData implements rooms.DataCopier: events for other nodes are
// copied into their messages (appendEvent), local ones go to the local
// Transport, which says for itself.
func (t *remoteTransport) CopiesEventData() bool {
	dc, ok := t.local.(rooms.DataCopier)
	return ok && dc.CopiesEventData()
}

func (t *remoteTransport) Send(sessionID string, ev rooms.Event) {
	tag := home(sessionID)
	if tag == t.n.opts.Node {
		t.local.Send(sessionID, ev)
		return
	}
	t.ops(tag, appendEvent(appendStr([]byte{opSend}, sessionID), ev))
}

func (t *remoteTransport) SendAll(ids []string, ev rooms.Event) {
	byNode := make(map[string][]string, 4)
	for _, id := range ids {
		byNode[home(id)] = append(byNode[home(id)], id)
	}
	for tag, ids := range byNode {
		if tag == t.n.opts.Node {
			t.local.SendAll(ids, ev)
			continue
		}
		b := binary.AppendUvarint([]byte{opSendAll}, uint64(len(ids)))
		for _, id := range ids {
			b = appendStr(b, id)
		}
		t.ops(tag, appendEvent(b, ev))
	}
}

// Publish goes to every node: each delivers to its own subscribers.
func (t *remoteTransport) Publish(topic string, ev rooms.Event) {
	t.local.Publish(topic, ev)
	b := appendEvent(appendStr([]byte{opPublish}, topic), ev)
	for _, tag := range t.n.Peers() {
		t.ops(tag, b)
	}
}

func (t *remoteTransport) Subscribe(sessionID, topic string) {
	if tag := home(sessionID); tag != t.n.opts.Node {
		t.ops(tag, appendStr(appendStr([]byte{opSubscribe}, sessionID), topic))
		return
	}
	t.local.Subscribe(sessionID, topic)
}

func (t *remoteTransport) Unsubscribe(sessionID, topic string) {
	if tag := home(sessionID); tag != t.n.opts.Node {
		t.ops(tag, appendStr(appendStr([]byte{opUnsubscribe}, sessionID), topic))
		return
	}
	t.local.Unsubscribe(sessionID, topic)
}

// onOps applies what the games node sent for this node's sessions (the
// subscription's goroutine: the hub may make it wait for its fan-out
// queue, which keeps the order).
func (n *Node) onOps(b []byte) {
	n.games.mu.Lock()
	local := n.games.local
	n.games.mu.Unlock()
	if local == nil || len(b) == 0 {
		return
	}
	if b[0] != opBatch {
		n.applyOp(local, b)
		return
	}
	for b = b[1:]; len(b) > 0; {
		k, w := binary.Uvarint(b)
		if w <= 0 || k == 0 || k > uint64(len(b)-w) {
			return
		}
		n.applyOp(local, b[w:w+int(k)])
		b = b[w+int(k):]
	}
}

// applyOp applies one op (not empty).
func (n *Node) applyOp(local games.Transport, b []byte) {
	n.stats.opsIn.Add(1)
	kind, b := b[0], b[1:]
	switch kind {
	case opSend:
		id, b, ok := readStr(b)
		if ev, ok2 := readEvent(b); ok && ok2 {
			local.Send(id, ev)
		}
	case opSendAll:
		k, w := binary.Uvarint(b)
		if w <= 0 || k > uint64(len(b)) {
			return
		}
		b = b[w:]
		ids := make([]string, 0, k)
		for range k {
			var id string
			var ok bool
			if id, b, ok = readStr(b); !ok {
				return
			}
			ids = append(ids, id)
		}
		if ev, ok := readEvent(b); ok {
			local.SendAll(ids, ev)
		}
	case opPublish:
		topic, b, ok := readStr(b)
		if ev, ok2 := readEvent(b); ok && ok2 {
			local.Publish(topic, ev)
		}
	case opSubscribe, opUnsubscribe:
		id, b, ok := readStr(b)
		topic, _, ok2 := readStr(b)
		if !ok || !ok2 {
			return
		}
		if kind == opSubscribe {
			local.Subscribe(id, topic)
		} else {
			local.Unsubscribe(id, topic)
		}
	}
}

func appendEvent(b []byte, ev rooms.Event) []byte {
	b = appendStr(b, ev.Topic)
	b = appendStr(b, ev.Type)
	return append(b, ev.Data...)
}

func readEvent(b []byte) (rooms.Event, bool) {
	var ev rooms.Event
	var ok bool
	if ev.Topic, b, ok = readStr(b); !ok {
		return ev, false
	}
	if ev.Type, b, ok = readStr(b); !ok {
		return ev, false
	}
	if len(b) > 0 {
		ev.Data = b
	}
	return ev, true
}

func appendFields(b []byte, fs []comet.Field) []byte {
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = appendStr(b, f.Name)
		b = appendStr(b, f.Value)
	}
	return b
}

func readFields(b []byte) ([]comet.Field, []byte, bool) {
	k, w := binary.Uvarint(b)
	if w <= 0 || k > uint64(len(b)) {
		return nil, nil, false
	}
	b = b[w:]
	fs := make([]comet.Field, 0, k)
	for range k {
		var f comet.Field
		var ok bool
		if f.Name, b, ok = readStr(b); !ok {
			return nil, nil, false
		}
		if f.Value, b, ok = readStr(b); !ok {
			return nil, nil, false
		}
		fs = append(fs, f)
	}
	return fs, b, true
}
