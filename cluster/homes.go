package cluster

import (
	"slices"

	"github.com/cometplay/cometplay/rooms"
)

// A node that dies cannot tell the other nodes' rooms that its sessions
// ended: their players would stay "connected" in those rooms, their
// opponents never told, their seats never dropped. So the other nodes say
// it for it: each ends, in its own rooms, the sessions of a node that is
// gone (rooms.Manager.EndSessions): their seats enter the reconnect window
// ("player-dropped"), and a reclaim with the seat's token on a new session
// brings them back ("player-reconnected").
//
// When: at once before a reclaim is run here (the client of a dead node's
// session learns of the death from its first request, answered 400 by the
// same test, and comes back within a second), and from the hello
// goroutine, once a node has been quiet for peerTimeout and NATS confirms
// it gone (for the players who do not come back).

// homeGone reports whether node tag is gone, as far as this node can tell
// at once: with the embedded NATS server, no server of the cluster has its
// subscriptions (a NATS server that stops takes its node's subscriptions
// with it, everywhere, as its routes close: that is why a request relayed
// to it is answered "no responders" at once); with an external NATS, it has
// not been heard of for peerTimeout.
func (n *Node) homeGone(tag string, peers []string) bool {
	if tag == n.opts.Node || tag == "" {
		return false
	}
	if n.ns != nil {
		return !n.ns.GlobalAccount().SubscriptionInterest("cp.n." + tag + ".req")
	}
	return !slices.Contains(peers, tag)
}

// endGoneSessions ends, in m's rooms, the sessions of every node that is
// gone (homeGone), and returns how many it ended.
func (n *Node) endGoneSessions(m *rooms.Manager) int {
	if m == nil {
		return 0
	}
	peers := n.Peers()
	gone := make(map[string]bool)
	ended := m.EndSessions(func(id string) bool {
		tag := home(id)
		g, ok := gone[tag]
		if !ok {
			g = n.homeGone(tag, peers)
			gone[tag] = g
		}
		return g
	})
	if ended > 0 {
		n.stats.homeSessionsEnded.Add(int64(ended))
		n.log.Info("cluster: sessions of a node that is gone ended in this node's rooms", "sessions", ended)
	}
	return ended
}

// sweepHomes (the hello goroutine's, every helloEvery) ends in this node's
// rooms the sessions of the nodes that went quiet since it last looked and
// that NATS no longer knows either (a node merely slow to say hello, on a
// busy machine, still has its subscriptions). homes is the nodes heard of
// whose sessions are not taken as gone.
func (n *Node) sweepHomes(homes map[string]bool) {
	peers := n.Peers()
	for _, p := range peers {
		homes[p] = true
	}
	var quiet []string
	for tag := range homes {
		if !slices.Contains(peers, tag) && n.homeGone(tag, peers) {
			quiet = append(quiet, tag)
			delete(homes, tag)
		}
	}
	if len(quiet) > 0 {
		n.endGoneSessions(n.roomsManager())
		n.games.mu.Lock()
		fns := n.games.nodeGone
		n.games.mu.Unlock()
		for _, fn := range fns {
			fn(quiet)
		}
	}
}

// OnNodeGone implements games.Cluster.
func (n *Node) OnNodeGone(fn func(tags []string)) {
	n.games.mu.Lock()
	n.games.nodeGone = append(n.games.nodeGone, fn)
	n.games.mu.Unlock()
}
