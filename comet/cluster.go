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
	// Publish hands the other nodes an event a client of this node
	// published to a subject no claim handles, after it reached this
	// node's subscribers: each node gives it to its own (Hub.DeliverRemote).
	// to is "" or, for a unicast (p_to), the public or secret id of a
	// session of another node: only that node gets it. It runs on a loop
	// and must not block; fs is the callee's.
	Publish(producer, subject, to string, fs []Field)
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

// DeliverRemote pushes an event a client of another node published
// (Cluster.Publish; fs as that node made them, p_from included) to this
// node's sessions: the subscribers of subject, or the session to names
// (by its public or secret id) when to is set. Events of one producer
// keep their order. It may wait for the hub's fan-out queue (it runs on
// the cluster's goroutine, not on a loop).
func (h *Hub) DeliverRemote(producer, subject, to string, fs []Field) {
	if !validSubject(subject) {
		return
	}
	if to != "" {
		if t := h.sessionByAnyID(to); t != nil {
			_ = t.sendFields(producer, fs, true)
		}
		return
	}
	_ = h.multicast(producer, subject, fs, true)
}

// ValidTag reports whether t can be a node's tag (Cluster.Tag): TagLen
// characters of the base64url alphabet (A-Z a-z 0-9 - _).
func ValidTag(t string) bool {
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
