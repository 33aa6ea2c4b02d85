package cluster

import (
	"strings"
	"time"
)

// A node whose process dies takes its embedded NATS server with it: the
// route connections of the other servers to it close at once (a crash, a
// SIGKILL, a machine's reboot), long before its lease ends. Each node
// watches its server's routes (every helloEvery): a node whose routes went
// down and stayed down for routeGrace, and whose hellos stopped, is a
// suspect (ownership.suspect), and its lease counts as gone (leaseGone),
// however recently it was renewed.
// Taking its rooms early is safe: a node that is in fact alive (a
// partition of that one route) is fenced by the turn log at its rooms'
// next appends and evicts them, and cannot write to JetStream without a
// quorum anyway. With an external NATS (Options.NATS) there are no routes
// to watch: leases alone tell.

// routeGrace is how long a node's routes must stay down before its lease
// counts as gone: a route that is re-made at once (a blip) deposes nobody.
const routeGrace = 500 * time.Millisecond

// routePrefix begins the embedded NATS servers' names (startEmbedded).
const routePrefix = "cometplay-"

// watchRoutes notes the nodes whose routes went down, and those back.
func (n *Node) watchRoutes() {
	if n.ns == nil {
		return
	}
	rz, err := n.ns.Routez(nil)
	if err != nil {
		return
	}
	up := make(map[string]bool, len(rz.Routes))
	for _, r := range rz.Routes {
		if tag, ok := strings.CutPrefix(r.RemoteName, routePrefix); ok {
			up[tag] = true
		}
	}
	now := time.Now()
	var down []string
	n.peersMu.Lock()
	for tag := range n.routed {
		if !up[tag] {
			if _, was := n.routeDown[tag]; !was {
				n.routeDown[tag] = now
				down = append(down, tag)
			}
		}
	}
	for tag := range up {
		delete(n.routeDown, tag)
		n.routed[tag] = true
	}
	n.peersMu.Unlock()
	if len(down) > 0 {
		n.log.Warn("cluster: the NATS routes to nodes went down", "nodes", down)
		n.own.suspect(down...)
	}
}

// routeGone reports whether node tag's routes have been down for
// routeGrace (and were up before), and it has not said hello for
// helloGrace: a route that drops and is re-made (NATS resolves duplicate
// routes between two servers by closing one, a busy machine may time one
// out) deposes nobody whose hellos still come.
func (n *Node) routeGone(tag string) bool {
	n.peersMu.Lock()
	since, down := n.routeDown[tag]
	heard, known := n.peers[tag]
	n.peersMu.Unlock()
	return down && time.Since(since) >= routeGrace && (!known || time.Since(heard) >= helloGrace)
}

// helloGrace is how long a node whose routes are down must also have been
// silent: one and a half hellos.
const helloGrace = helloEvery * 3 / 2
