package cluster

import (
	"encoding/json"
	"strconv"

	"github.com/cometplay/cometplay/rooms"
)

// The games node, the node whose lobby serves every node's players, is the
// holder of the lobby's record: key lobbyKey in cp_rooms, an owner record
// like a room's. Options.Games creates it; when its node's lease is gone
// (a crash, a stall past the lease, a graceful stop) the other nodes take
// it over exactly as they take a room's record (one wins, by
// compare-and-swap; ownership.takeOrphans), and every node follows the
// record in its watch (onRecord → setGamesNode):
//
//   - lobby publishes, session events and the rooms' changes go to the new
//     games node;
//   - each node sends it the info of every room it runs, so that its room
//     list is whole again;
//   - each node tells its sessions that said hello that the lobby
//     restarted (games.Cluster.OnLobbyMoved): they say hello again (with
//     a held seat's token: the seat stays theirs), which rebuilds the
//     presence, and a player waiting for a quick match is told to ask
//     again (what the old lobby held, its queue and chat history, died
//     with it).
//
// Until one node sees the record, each takes Options.Games for the games
// node.
const lobbyKey = "lobby"

// gamesNode returns the tag of the games node, as this node knows it.
func (n *Node) gamesNode() string { return *n.gamesTag.Load() }

// IsGamesNode implements games.Cluster.
func (n *Node) IsGamesNode() bool { return n.gamesNode() == n.opts.Node }

// OnLobbyMoved implements games.Cluster.
func (n *Node) OnLobbyMoved(fn func()) {
	n.games.mu.Lock()
	n.games.lobbyMoved = append(n.games.lobbyMoved, fn)
	n.games.mu.Unlock()
}

// setGamesNode follows the lobby's record of epoch (its watch, the
// ownership goroutine) or its taker's announcement (onMoved, which comes
// first while JetStream elects leaders): an older epoch than one already
// seen changes nothing.
func (n *Node) setGamesNode(tag string, epoch uint32) {
	n.gamesMu.Lock()
	if epoch < n.gamesEpoch {
		n.gamesMu.Unlock()
		return
	}
	n.gamesEpoch = epoch
	old := n.gamesTag.Swap(&tag)
	n.gamesMu.Unlock()
	if *old == tag {
		return
	}
	n.log.Warn("cluster: the lobby moved", "from", *old, "to", tag)
	n.stats.lobbyMoves.Add(1)
	n.games.mu.Lock()
	m, d, fns := n.games.rooms, n.games.dir, n.games.lobbyMoved
	n.games.mu.Unlock()
	if tag == n.opts.Node {
		if d != nil {
			d.forgetRemote() // the others send theirs again
		}
	} else if m != nil {
		for _, info := range m.Rooms("") {
			n.sendRoomChange(info, false)
		}
	}
	if len(fns) > 0 {
		// Off the ownership goroutine: the hub may make a sender wait.
		go func() {
			for _, fn := range fns {
				fn()
			}
		}()
	}
}

// sendRoomChange tells the games node of a change of one of this node's
// rooms.
func (n *Node) sendRoomChange(info rooms.RoomInfo, removed bool) {
	b, _ := json.Marshal(roomChange{Info: info, Removed: removed})
	n.out.push(msg{subj: inSubject(n.gamesNode()), data: append([]byte{inRoomChange, 0}, b...)})
}

// forgetRemote drops what the directory knew of other nodes' rooms (they
// send it again to a new games node).
func (d *directory) forgetRemote() {
	d.mu.Lock()
	clear(d.remote)
	clear(d.placed)
	d.mu.Unlock()
}

// announceLobby tells every node at once that this node took the lobby
// (epoch): their watches of the records may lag for seconds while
// JetStream elects a new leader for a stream whose leader died.
func (n *Node) announceLobby(epoch uint32) {
	n.out.push(msg{subj: subjMoved, data: []byte(lobbyKey + " " + n.opts.Node + " " + strconv.FormatUint(uint64(epoch), 10))})
}
