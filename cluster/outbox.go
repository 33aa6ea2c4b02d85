package cluster

import (
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
)

// msg is one NATS message to send.
type msg struct {
	subj, reply string
	data        []byte
}

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
	closed  bool
	wake    chan struct{}
	done    chan struct{}
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
		for i := range batch {
			m := &batch[i]
			var err error
			if m.reply != "" {
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
