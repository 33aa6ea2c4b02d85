package comet

import (
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/httpcodec"
)

// Cluster is what the hub needs of the nodes it runs with (the cluster
// package implements it over NATS; nil: one node, as without it).
//
// A session lives on its home node, the node that answered its join: its
// public id starts with the node's tag. Any node may receive any of the
// session's requests (a load balancer that picks a node per request): a
// request for a session of another node is relayed there whole, served by
// the hub of that node as if it had come to it (control requests answered,
// data channels attached there), and the response comes back as that node
// wrote it. The wire protocol does not change.
type Cluster interface {
	// Tag is this node's tag: TagLen characters of the base64url alphabet
	// that begin the public id of every session made here.
	Tag() string
	// Attach is called once by NewHub: the cluster serves the requests
	// other nodes relay here on srv (engine.Server.ServeRelayed).
	Attach(srv *engine.Server, h *Hub)
	// Relay sends req, a request for a session of the node tag, there and
	// writes its response to x (engine.Exchange.Relay). It runs on x's
	// loop and must not block. When that node is not there (gone, or never
	// was), unknown runs on the loop instead, to answer as for an unknown
	// session.
	Relay(tag string, x *engine.Exchange, req *httpcodec.Request, unknown func(x *engine.Exchange))
}

// TagLen is the length of a node's tag (Cluster.Tag).
const TagLen = 2

// relayToHome relays the request for id, a session of another node, there
// if id names one; it reports whether it did.
func (h *Hub) relayToHome(ex *engine.Exchange, req *httpcodec.Request, id, cors string) bool {
	cl := h.cfg.Cluster
	if cl == nil || len(id) != pubIDLen+secretIDLen {
		return false
	}
	tag := id[:TagLen]
	if tag == cl.Tag() {
		return false // ours, and gone
	}
	h.stats.relayed.Add(1)
	cl.Relay(tag, ex, req, func(x *engine.Exchange) {
		h.badRequest(x, errBadID+id, cors)
	})
	return true
}

// validTag reports whether t can begin a public id: TagLen characters of
// the base64url alphabet.
func validTag(t string) bool {
	if len(t) != TagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
