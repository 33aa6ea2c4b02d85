package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// Rooms across nodes. Every node runs a rooms Manager and owns the rooms
// it creates: their ids (and their seats' reconnection tokens) begin with
// the node's tag and "-", so any node knows where a room lives. The lobby,
// on the games node, creates each room on the node with the fewest rooms
// and reaches every room through the directory (a lobby.RoomService):
// calls for a room of another node are requests to it (cp.n.<tag>.rooms),
// its room list is fed by every node's changes, and session presence goes
// to every node. A client's move goes from its session's home straight to
// the room's node.

// roomRequestTimeout bounds the lobby's wait for another node's answer.
const roomRequestTimeout = 2 * time.Second

// errNodeUnavailable answers a call for a room whose node does not answer.
var errNodeUnavailable = errors.New("rooms: the room's node is not available, try again")

// RoomIDPrefix returns the prefix of the ids of the rooms this node
// creates (rooms.ManagerOptions.IDPrefix).
func (n *Node) RoomIDPrefix() string { return n.opts.Node + "-" }

// RoomOwner returns the tag of the node a room (or a reconnection token)
// belongs to, or "" if its id names none.
func RoomOwner(id string) string {
	if len(id) > comet.TagLen && id[comet.TagLen] == '-' && comet.ValidTag(id[:comet.TagLen]) {
		return id[:comet.TagLen]
	}
	return ""
}

// roomCall is a call of the games node's lobby on another node's rooms.
type roomCall struct {
	Op      string           `json:"op"`
	Room    string           `json:"room,omitempty"`
	Game    string           `json:"game,omitempty"`
	Session string           `json:"session,omitempty"`
	Token   string           `json:"token,omitempty"`
	Player  rooms.PlayerInfo `json:"player"`
	Options rooms.Options    `json:"options,omitempty"`
	// Players: "join-all"'s, joined in their order.
	Players []rooms.PlayerInfo `json:"players,omitempty"`
}

type roomAnswer struct {
	Err  string         `json:"err,omitempty"`
	Room string         `json:"room,omitempty"`
	Who  rooms.Identity `json:"who"`
	OK   bool           `json:"ok,omitempty"`
	// Errs: "join-all"'s, one for each of its players ("": joined).
	Errs []string `json:"errs,omitempty"`
}

// ServeRooms implements games.Cluster: this node's rooms answer the games
// node's calls, and their changes go to it.
func (n *Node) ServeRooms(m *rooms.Manager) {
	n.games.mu.Lock()
	n.games.rooms = m
	n.games.mu.Unlock()
	n.subscribe(map[string]nats.MsgHandler{"cp.n." + n.opts.Node + ".rooms": n.onRoomCall})
	m.OnRoomChange(n.own.roomChanged)
	m.OnRoomChange(func(info rooms.RoomInfo, removed bool) {
		if !n.IsGamesNode() {
			n.sendRoomChange(info, removed)
		}
	})
	if n.opts.Games == n.opts.Node {
		n.own.roomChanged(rooms.RoomInfo{ID: lobbyKey}, false) // the lobby's record (lobby.go)
	}
}

// roomsManager returns the node's rooms (nil before ServeRooms).
func (n *Node) roomsManager() *rooms.Manager {
	n.games.mu.Lock()
	defer n.games.mu.Unlock()
	return n.games.rooms
}

// roomGone tells the lobby that a room of a lost node is gone.
func (n *Node) roomGone(id string) {
	if n.IsGamesNode() {
		n.games.mu.Lock()
		d := n.games.dir
		n.games.mu.Unlock()
		if d != nil {
			d.changed(rooms.RoomInfo{ID: id}, true)
		}
		return
	}
	n.sendRoomChange(rooms.RoomInfo{ID: id}, true)
}

type roomChange struct {
	Info    rooms.RoomInfo `json:"info"`
	Removed bool           `json:"removed"`
}

// onRoomCall runs a call of the games node on this node's rooms.
func (n *Node) onRoomCall(m *nats.Msg) {
	n.games.mu.Lock()
	mgr := n.games.rooms
	n.games.mu.Unlock()
	var c roomCall
	if mgr == nil || json.Unmarshal(m.Data, &c) != nil {
		return
	}
	var a roomAnswer
	var err error
	switch c.Op {
	case "create":
		a.Room, err = mgr.Create(c.Game, c.Player, c.Options)
	case "join":
		err = mgr.Join(c.Room, c.Player)
	case "join-all":
		a.Errs = make([]string, len(c.Players))
		for i, p := range c.Players {
			if err := mgr.Join(c.Room, p); err != nil {
				a.Errs[i] = err.Error()
			}
		}
	case "spectate":
		err = mgr.Spectate(c.Room, c.Player)
	case "leave":
		err = mgr.Leave(c.Room, c.Session)
	case "reclaim":
		// The seat's session may be of a node that died without a word:
		// it drops first, so the reclaim is seen as its coming back.
		n.endGoneSessions(mgr)
		err = mgr.Reclaim(c.Token, c.Player)
	case "token":
		a.Room, a.Who, a.OK = mgr.TokenOwner(c.Token)
	case "resync":
		err = mgr.Resync(c.Session)
	case "attached":
		mgr.Attached(c.Session)
	case "detached":
		mgr.Detached(c.Session)
	case "ended":
		mgr.SessionEnded(c.Session)
	default:
		err = fmt.Errorf("cluster: unknown room call %q", c.Op)
	}
	if err != nil {
		a.Err = err.Error()
	}
	n.stats.roomCallsIn.Add(1)
	if m.Reply != "" {
		b, _ := json.Marshal(a)
		n.out.push(msg{subj: m.Reply, data: b})
	}
}

// roomErrors are the rooms' errors a call's answer may name: the lobby
// tells some of them apart (errors.Is).
var roomErrors = []error{
	rooms.ErrNoRoom, rooms.ErrNotInRoom, rooms.ErrMailboxFull, rooms.ErrRoomFull, rooms.ErrRoomLocked,
	rooms.ErrGameStarted, rooms.ErrAlreadyJoined, rooms.ErrSpectatorsNotAllowed, rooms.ErrTooManySpectators,
	rooms.ErrSpectator, rooms.ErrUnknownGame, rooms.ErrBadMessage, rooms.ErrBadOptions, rooms.ErrBadPlayer,
	rooms.ErrBadToken, rooms.ErrSessionEnded, rooms.ErrTooManyRooms, rooms.ErrClosed, rooms.ErrNotEnoughPlayers,
	rooms.ErrBadState, rooms.ErrInvalidName, rooms.ErrAuthRefused, rooms.ErrReservedType,
}

// roomError turns an answer's error text back into the rooms' error it
// names (wrapped with the rest of the text), or a plain error.
func roomError(s string) error {
	if s == "" {
		return nil
	}
	for _, e := range roomErrors {
		if rest, ok := strings.CutPrefix(s, e.Error()); ok {
			if rest == "" {
				return e
			}
			return fmt.Errorf("%w%s", e, rest)
		}
	}
	return errors.New(s)
}

// placementSlack is how many rooms more than the least loaded node's the
// creator's home node may hold and still be given a new room: a room on
// its creator's home saves a NATS hop on each of the creator's moves (home
// to room) and on each event to the creator (room to home). Small beside
// the counts it is compared with, so the nodes stay within a few rooms
// of each other.
func placementSlack(least int) int { return max(2, least/32) }

// placeRoom picks the node for a new room from each live node's rooms:
// of the homes (tags) of the sessions that will play in it, the one with
// the fewest rooms, if it holds at most placementSlack more than the least
// loaded node; else the least loaded (the smallest tag among equals).
func placeRoom(loads map[string]int, homes ...string) string {
	tag, least := "", 0
	for peer, load := range loads {
		if tag == "" || load < least || load == least && peer < tag {
			tag, least = peer, load
		}
	}
	near, nearLoad := "", 0
	for _, h := range homes {
		if load, ok := loads[h]; ok && (near == "" || load < nearLoad) {
			near, nearLoad = h, load
		}
	}
	if near != "" && nearLoad <= least+placementSlack(least) {
		return near
	}
	return tag
}

// directory is the games node's lobby.RoomService: its own rooms, and
// every other node's through calls and their changes.
type directory struct {
	n     *Node
	local *rooms.Manager

	mu     sync.Mutex
	remote map[string]rooms.RoomInfo // other nodes' rooms, by id, as their last change said
	placed map[string]int            // rooms created on a node whose first change has not come
	fns    []func(rooms.RoomInfo, bool)
}

// RoomService implements games.Cluster (the games node's lobby's rooms).
func (n *Node) RoomService(local *rooms.Manager) lobby.RoomService {
	d := &directory{n: n, local: local, remote: make(map[string]rooms.RoomInfo), placed: make(map[string]int)}
	n.games.mu.Lock()
	n.games.dir = d
	n.games.mu.Unlock()
	return d
}

// call sends c to node tag and waits for its answer (on the lobby's
// goroutine: a node gone quiet is not waited for).
func (d *directory) call(tag string, c roomCall) (roomAnswer, error) {
	if !d.n.isPeer(tag) {
		return roomAnswer{}, errNodeUnavailable
	}
	b, _ := json.Marshal(c)
	d.n.stats.roomCallsOut.Add(1)
	m, err := d.n.nc.Request("cp.n."+tag+".rooms", b, roomRequestTimeout)
	if err != nil {
		return roomAnswer{}, errNodeUnavailable
	}
	var a roomAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return roomAnswer{}, err
	}
	return a, roomError(a.Err)
}

// owner returns the node of a room or token id ("" or this node: local).
func (d *directory) owner(id string) string {
	if tag := d.n.roomNode(id); tag != "" && tag != d.n.opts.Node {
		return tag
	}
	return ""
}

var _ lobby.GroupPlacer = (*directory)(nil)

func (d *directory) Games() []string                     { return d.local.Games() }
func (d *directory) Game(name string) (rooms.Game, bool) { return d.local.Game(name) }

// Create places the room on the node with the fewest rooms (those the
// directory knows of from their changes, and those it placed there whose
// first change has not come yet), or on the creator's home node if that
// holds at most placementSlack more (placeRoom).
func (d *directory) Create(game string, creator rooms.PlayerInfo, opts rooms.Options) (string, error) {
	return d.create(game, creator, opts, home(creator.SessionID))
}

// CreateFor implements lobby.GroupPlacer: the room goes to the home node
// of one of its players, as Create's to its creator's.
func (d *directory) CreateFor(game string, sessionIDs []string, opts rooms.Options) (string, error) {
	homes := make([]string, len(sessionIDs))
	for i, id := range sessionIDs {
		homes[i] = home(id)
	}
	return d.create(game, rooms.PlayerInfo{}, opts, homes...)
}

func (d *directory) create(game string, creator rooms.PlayerInfo, opts rooms.Options, homes ...string) (string, error) {
	self := d.n.opts.Node
	d.mu.Lock()
	loads := make(map[string]int, 4)
	for _, p := range d.n.Peers() {
		loads[p] = d.placed[p]
	}
	for id := range d.remote {
		if o := RoomOwner(id); o != "" {
			if _, alive := loads[o]; alive {
				loads[o]++
			}
		}
	}
	d.mu.Unlock()
	loads[self] = d.local.NumRooms()
	tag := placeRoom(loads, homes...)
	if tag == self {
		return d.local.Create(game, creator, opts)
	}
	a, err := d.call(tag, roomCall{Op: "create", Game: game, Player: creator, Options: opts})
	if errors.Is(err, errNodeUnavailable) {
		return d.local.Create(game, creator, opts) // that node went: here instead
	}
	if err == nil {
		d.mu.Lock()
		if _, known := d.remote[a.Room]; !known {
			d.placed[tag]++
		}
		d.mu.Unlock()
	}
	return a.Room, err
}

func (d *directory) Join(room string, p rooms.PlayerInfo) error {
	if tag := d.owner(room); tag != "" {
		_, err := d.call(tag, roomCall{Op: "join", Room: room, Player: p})
		return err
	}
	return d.local.Join(room, p)
}

var _ lobby.GroupJoiner = (*directory)(nil)

// JoinAll implements lobby.GroupJoiner: a quick-match's players join the
// room's node with one call, not one call each (the lobby waits for each
// on its goroutine).
func (d *directory) JoinAll(room string, ps []rooms.PlayerInfo) []error {
	errs := make([]error, len(ps))
	tag := d.owner(room)
	if tag == "" {
		for i, p := range ps {
			errs[i] = d.local.Join(room, p)
		}
		return errs
	}
	a, err := d.call(tag, roomCall{Op: "join-all", Room: room, Players: ps})
	for i := range errs {
		switch {
		case err != nil:
			errs[i] = err
		case i >= len(a.Errs):
			errs[i] = fmt.Errorf("cluster: node %s answered %d of %d joins", tag, len(a.Errs), len(ps))
		default:
			errs[i] = roomError(a.Errs[i])
		}
	}
	return errs
}

func (d *directory) Spectate(room string, p rooms.PlayerInfo) error {
	if tag := d.owner(room); tag != "" {
		_, err := d.call(tag, roomCall{Op: "spectate", Room: room, Player: p})
		return err
	}
	return d.local.Spectate(room, p)
}

func (d *directory) Leave(room, session string) error {
	if tag := d.owner(room); tag != "" {
		_, err := d.call(tag, roomCall{Op: "leave", Room: room, Session: session})
		return err
	}
	return d.local.Leave(room, session)
}

func (d *directory) Reclaim(token string, p rooms.PlayerInfo) error {
	if tag, _ := d.tokenNode(token); tag != "" {
		_, err := d.call(tag, roomCall{Op: "reclaim", Token: token, Player: p})
		return err
	}
	d.n.endGoneSessions(d.local) // as onRoomCall's reclaim
	return d.local.Reclaim(token, p)
}

// tokenNode returns the node of a token's room ("": this one): the node
// its prefix names, or, when that node is gone or has the room no more (it
// was taken over), the node that knows the token. Tokens are asked for
// rarely (a reclaim), so the other nodes are simply asked in turn; err
// says that one of them did not answer (and none knew the token).
func (d *directory) tokenNode(token string) (tag string, err error) {
	tag = d.owner(token)
	switch {
	case tag == "":
		if _, _, ok := d.local.TokenOwner(token); ok {
			return "", nil
		}
	case slices.Contains(d.n.Peers(), tag):
		return tag, nil
	default:
		if _, _, ok := d.local.TokenOwner(token); ok {
			return "", nil
		}
	}
	for _, p := range d.n.Peers() {
		if p == tag {
			continue
		}
		a, e := d.call(p, roomCall{Op: "token", Token: token})
		switch {
		case e == nil && a.OK:
			return p, nil
		case e != nil:
			err = e
		}
	}
	return tag, err
}

func (d *directory) TokenOwner(token string) (string, rooms.Identity, bool) {
	room, who, err := d.FindToken(token)
	return room, who, err == nil
}

var _ lobby.TokenFinder = (*directory)(nil)

// FindToken implements lobby.TokenFinder: a token whose node, or one of
// the nodes asked for it, did not answer in time is not taken for a bad
// one (errNodeUnavailable: "try again"); its seat may well be held there.
// A token of a node that is gone, which no node knows (its room is not
// rebuilt yet, or will not be), is a bad one.
func (d *directory) FindToken(token string) (string, rooms.Identity, error) {
	tag, unsure := d.tokenNode(token)
	if tag != "" && d.n.isPeer(tag) {
		a, err := d.call(tag, roomCall{Op: "token", Token: token})
		switch {
		case err != nil:
			return "", rooms.Identity{}, err
		case !a.OK:
			return "", rooms.Identity{}, rooms.ErrBadToken
		}
		return a.Room, a.Who, nil
	}
	if tag == "" {
		if room, who, ok := d.local.TokenOwner(token); ok {
			return room, who, nil
		}
	}
	if unsure != nil {
		return "", rooms.Identity{}, unsure
	}
	return "", rooms.Identity{}, rooms.ErrBadToken
}

// Resync asks every node: the session may sit in rooms of several.
func (d *directory) Resync(session string) error {
	err := d.local.Resync(session)
	for _, tag := range d.n.Peers() {
		if _, e := d.call(tag, roomCall{Op: "resync", Session: session}); e == nil {
			err = nil
		}
	}
	return err
}

func (d *directory) Room(id string) (rooms.RoomInfo, bool) {
	if d.owner(id) != "" {
		d.mu.Lock()
		info, ok := d.remote[id]
		d.mu.Unlock()
		return info, ok
	}
	return d.local.Room(id)
}

func (d *directory) Rooms(game string) []rooms.RoomInfo {
	all := d.local.Rooms(game)
	d.mu.Lock()
	for _, info := range d.remote {
		if game == "" || info.Game == game {
			all = append(all, info)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(all, func(a, b rooms.RoomInfo) int { return strings.Compare(a.ID, b.ID) })
	return all
}

func (d *directory) OnRoomChange(fn func(rooms.RoomInfo, bool)) {
	d.local.OnRoomChange(fn)
	d.mu.Lock()
	d.fns = append(d.fns, fn)
	d.mu.Unlock()
}

// changed records another node's room change and tells the lobby.
func (d *directory) changed(info rooms.RoomInfo, removed bool) {
	d.mu.Lock()
	old, known := d.remote[info.ID]
	if tag := RoomOwner(info.ID); !known && d.placed[tag] > 0 {
		d.placed[tag]-- // its first change
	}
	if removed {
		switch {
		case known && info.Game == "":
			info = old // a lost room's removal names only its id
		case !known && info.Game == "":
			d.mu.Unlock()
			return // a lost room never listed, or already gone
		}
		delete(d.remote, info.ID)
	} else {
		d.remote[info.ID] = info
	}
	fns := d.fns
	d.mu.Unlock()
	for _, fn := range fns {
		fn(info, removed)
	}
}

// presence tells every node's rooms of a session's attach, detach or end.
func (d *directory) presence(op, session string) {
	b, _ := json.Marshal(roomCall{Op: op, Session: session})
	for _, tag := range d.n.Peers() {
		d.n.out.push(msg{subj: "cp.n." + tag + ".rooms", data: b})
	}
}

func (d *directory) Attached(session string) {
	d.local.Attached(session)
	d.presence("attached", session)
}

func (d *directory) Detached(session string) {
	d.local.Detached(session)
	d.presence("detached", session)
}

func (d *directory) SessionEnded(session string) {
	d.local.SessionEnded(session)
	d.presence("ended", session)
}

// OwnsRoom implements games.Cluster.
func (n *Node) OwnsRoom(id string) bool {
	tag := n.roomNode(id)
	if tag == n.opts.Node && n.own.isRebuilding(id) {
		return false // its claims are answered "try again" (onGamesIn)
	}
	return tag == "" || tag == n.opts.Node
}
