package cluster

import (
	"encoding/binary"

	"github.com/cometplay/cometplay/comet"
)

// Cross-node publishes: what a client publishes to a subject no claim
// handles reaches the subscribers of every node (cp.pub, which every node
// subscribes to), and a unicast (p_to) the node of its session
// (cp.n.<tag>.pub). A publisher's events leave its node through the one
// outbox, in order, and NATS keeps the order of one publisher on one
// subject: each producer's events arrive in the order it sent them.

// Publish implements comet.Cluster. On a loop.
func (n *Node) Publish(producer, subject, to string, fs []comet.Field) {
	size := 8 + len(producer) + len(subject) + len(to)
	for _, f := range fs {
		size += 8 + len(f.Name) + len(f.Value)
	}
	b := make([]byte, 0, size+comet.TagLen)
	b = append(b, n.opts.Node...)
	b = appendStr(b, producer)
	b = appendStr(b, subject)
	b = appendStr(b, to)
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = appendStr(b, f.Name)
		b = appendStr(b, f.Value)
	}
	subj := "cp.pub"
	if to != "" {
		subj = "cp.n." + to[:comet.TagLen] + ".pub"
	}
	n.stats.pubsOut.Add(1)
	n.out.push(msg{subj: subj, data: b})
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readStr reads what appendStr wrote; ok is false on a short or bad input.
func readStr(b []byte) (s string, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// onPublish delivers another node's publish to this node's sessions (the
// subscription's goroutine: it may wait for the hub's fan-out queue).
func (n *Node) onPublish(data []byte) {
	if len(data) < comet.TagLen || string(data[:comet.TagLen]) == n.opts.Node || n.hub == nil {
		return // ours: already delivered here
	}
	b := data[comet.TagLen:]
	var producer, subject, to string
	var ok bool
	if producer, b, ok = readStr(b); !ok {
		return
	}
	if subject, b, ok = readStr(b); !ok {
		return
	}
	if to, b, ok = readStr(b); !ok {
		return
	}
	nf, k := binary.Uvarint(b)
	if k <= 0 || nf > uint64(len(b)) {
		return
	}
	b = b[k:]
	fs := make([]comet.Field, 0, nf)
	for range nf {
		var f comet.Field
		if f.Name, b, ok = readStr(b); !ok {
			return
		}
		if f.Value, b, ok = readStr(b); !ok {
			return
		}
		fs = append(fs, f)
	}
	n.stats.pubsIn.Add(1)
	n.hub.DeliverRemote(producer, subject, to, fs)
}
