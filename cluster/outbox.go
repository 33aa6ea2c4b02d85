package cluster

import (
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// msg is one NATS message to send.
type msg struct {
	subj, reply string
	data        []byte
	hdr         nats.Header // nil: none
	// join says how the message may be joined with the one before it on
	// its subject (coalesce).
	join joinKind
	// owned: data was made by coalesce, which may append to it.
	owned bool
}

// joinKind says how the messages of a subject may be joined into one.
type joinKind uint8

const (
	joinNone joinKind = iota
	// joinOps: the games node's ops for a node's sessions (games.go),
	// joined in an opBatch.
	joinOps
	// joinRelay: bytes of a relayed response (kindData, then kindEnd
	// last): kindData joins with the next kindData or kindEnd.
	joinRelay
)

// maxJoined bounds a message made of several.
const maxJoined = 64 << 10

// maxQueuedBytes bounds what the outbox holds while NATS does not take it
// (a reconnecting connection): past it, messages are dropped and counted.
// A relay that loses bytes is broken; its client's reconnection (with
// p_last) repairs what it missed.
const maxQueuedBytes = 64 << 20

// outbox hands messages from the event loops to NATS: a loop must never
// wait, and nats.Conn.Publish may (it takes the connection's lock, which
// its flusher holds while it writes). One goroutine sends them, in the
// order they were pushed.
type outbox struct {
	nc  *nats.Conn
	log *slog.Logger

	mu      sync.Mutex
	q       []msg
	bytes   int
	dropped int64 // messages dropped at maxQueuedBytes (or after close)
	// sent: messages handed to NATS; joined: messages joined into another
	// (coalesce) instead.
	sent, joined atomic.Int64
	closed       bool
	wake         chan struct{}
	done         chan struct{}
}

func newOutbox(nc *nats.Conn, log *slog.Logger) *outbox {
	o := &outbox{nc: nc, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.run()
	return o
}

// push queues m. Safe for concurrent use; never blocks.
func (o *outbox) push(m msg) {
	o.mu.Lock()
	if o.closed || o.bytes+len(m.data) > maxQueuedBytes {
		o.dropped++
		o.mu.Unlock()
		return
	}
	o.q = append(o.q, m)
	o.bytes += len(m.data)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	defer close(o.done)
	var batch []msg
	for {
		o.mu.Lock()
		batch, o.q = o.q, batch[:0]
		o.bytes = 0
		closed := o.closed
		o.mu.Unlock()
		n := len(batch)
		batch = coalesce(batch)
		o.joined.Add(int64(n - len(batch)))
		o.sent.Add(int64(len(batch)))
		for i := range batch {
			m := &batch[i]
			var err error
			if m.hdr != nil {
				err = o.nc.PublishMsg(&nats.Msg{Subject: m.subj, Reply: m.reply, Data: m.data, Header: m.hdr})
			} else if m.reply != "" {
				err = o.nc.PublishRequest(m.subj, m.reply, m.data)
			} else {
				err = o.nc.Publish(m.subj, m.data)
			}
			if err != nil {
				o.log.Debug("cluster: publish", "subject", m.subj, "err", err)
			}
			*m = msg{}
		}
		if closed {
			o.nc.Flush()
			return
		}
		if len(batch) == 0 {
			<-o.wake
		}
	}
}

// close sends what is queued and stops the goroutine.
func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	<-o.done
}

// droppedCount returns how many messages were dropped at the bound.
func (o *outbox) droppedCount() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// coalesce joins, in place, each message of batch that may be (join) into
// the last message before it to the same node when that has the same
// subject: one NATS message instead of several, each of which costs the
// NATS servers and clients on its way a parse, a delivery and the
// goroutine hand-offs between them. The order of the messages to each node
// is kept; a message to every node (a subject not of one node) is joined
// with nothing and nothing is joined across it.
func coalesce(batch []msg) []msg {
	if len(batch) < 2 {
		return batch
	}
	type lastTo struct {
		node string
		i    int
	}
	var buf [8]lastTo
	lasts := buf[:0]
	out := batch[:0]
	for k := range batch {
		m := batch[k]
		node, ok := subjectNode(m.subj)
		if !ok {
			lasts = lasts[:0]
			out = append(out, m)
			continue
		}
		j := -1
		for x := range lasts {
			if lasts[x].node == node {
				j = x
				break
			}
		}
		if j >= 0 && joinInto(&out[lasts[j].i], &m) {
			continue
		}
		if j >= 0 {
			lasts[j].i = len(out)
		} else {
			lasts = append(lasts, lastTo{node, len(out)})
		}
		out = append(out, m)
	}
	clear(batch[len(out):])
	return out
}

// subjectNode returns the node a subject of one node is for (cp.n.<tag>.…).
func subjectNode(subj string) (string, bool) {
	rest, ok := strings.CutPrefix(subj, "cp.n.")
	if !ok {
		return "", false
	}
	tag, _, ok := strings.Cut(rest, ".")
	return tag, ok
}

// joinInto appends m to p if both may be joined; it reports whether it
// did.
func joinInto(p, m *msg) bool {
	if m.join == joinNone || p.join != m.join || p.hdr != nil || m.hdr != nil || p.subj != m.subj || p.reply != "" || m.reply != "" ||
		len(p.data)+len(m.data)+2*binary.MaxVarintLen32 > maxJoined {
		return false
	}
	switch m.join {
	case joinOps:
		if len(m.data) == 0 {
			return false
		}
		if !p.owned {
			b := make([]byte, 0, 1+2*binary.MaxVarintLen32+len(p.data)+len(m.data))
			b = append(b, opBatch)
			b = binary.AppendUvarint(b, uint64(len(p.data)))
			p.data, p.owned = append(b, p.data...), true
		}
		p.data = binary.AppendUvarint(p.data, uint64(len(m.data)))
		p.data = append(p.data, m.data...)
	case joinRelay:
		if len(p.data) == 0 || p.data[0] != kindData || len(m.data) == 0 {
			return false
		}
		if !p.owned {
			p.data, p.owned = append(make([]byte, 0, len(p.data)+len(m.data)), p.data...), true
		}
		p.data[0] = m.data[0]
		p.data = append(p.data, m.data[1:]...)
	default:
		return false
	}
	return true
}
