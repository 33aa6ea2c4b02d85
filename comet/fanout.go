package comet

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Large fan-outs are pushed by the hub, not by their publisher.
//
// Pushing an event into its recipients' sessions costs the publisher about
// a tenth of a microsecond per recipient (each session's lock, its history
// ring, its listener's wake-up): milliseconds for 10,000, and on this
// machine's two cores, shared with the loops writing the previous event,
// several more. A Handler calling Hub.Publish would answer that much later,
// a room's or the lobby's executor would stall, and an event loop serving a
// client's publish would hold every connection it serves. So a publish whose
// subject has more than DeferFanout subscriptions is queued (its record
// copied) and the publisher returns at once; a goroutine of the hub, which
// exists only while the queue holds something, pushes the queued events in
// the order they came.
//
// Order: a producer's events reach each session in the order it published
// them. A producer is named by the caller (Hub.PublishFrom, Hub.SendFrom:
// the games package names the lobby and each room; a client's publishes
// are its session's) or is the hub's default one (Hub.Publish, Hub.Send,
// Session.Send). While a producer has an event queued or being pushed,
// its every push (a small publish, a unicast) joins the queue behind it; a
// small push runs on its publisher when its producer has nothing queued.
// Producers do not wait for each other: a room's moves are pushed at once
// while the lobby's broadcast to thousands waits in the queue.
//
// Bound: at most maxQueuedFanouts events or maxQueuedFanoutBytes of records
// wait. Past either, a publisher that may wait (Go code: Hub.Publish,
// Session.Send) pushes the queued events itself, in order, before it
// returns: whoever publishes faster than the sessions take events is slowed
// down, nothing is dropped. A client's publish, served on an event loop
// that must not wait, is refused instead with a nack ("busy"), and nothing
// of it is queued.

// DeferFanout is the number of subscriptions past which a publish is pushed
// into its sessions by the hub's fan-out goroutine rather than by its
// caller.
const DeferFanout = 256

const (
	maxQueuedFanouts     = 1024
	maxQueuedFanoutBytes = 8 << 20
	// wakeBatch is the most fan-outs whose wake-ups drain holds back to
	// post together: the first one's recipients wait for the pushes of at
	// most this many (a few milliseconds each at 10,000 recipients).
	wakeBatch = 4
)

// fanoutJob is one queued push: a multicast to subject, a unicast to to, or
// one event to each of tos.
type fanoutJob struct {
	producer string
	subject  string
	to       *Session
	tos      []*Session
	rec      []byte // the event's record (history.AppendField), owned
	size     uint32 // eventSize of its fields
	at       time.Time
}

// fanoutQueue is a hub's queue of pushes (see above).
type fanoutQueue struct {
	mu      sync.Mutex
	jobs    []fanoutJob
	head    int
	bytes   int
	by      map[string]int // jobs queued or being pushed, by producer
	running bool           // the fan-out goroutine exists
	// pending is every producer's jobs together, changed under mu and read
	// without it: while it is 0 (nearly always) a small push does not
	// take mu, the hub-wide lock every room's move would otherwise take.
	pending atomic.Int64
	// exec is held by whoever pushes queued jobs, the goroutine or an
	// overflowing publisher: one job at a time, in order.
	exec sync.Mutex
	wake wakeups // the bulk wake-ups drain gathers (under exec)

	// guarded by mu: jobs queued; jobs a publisher pushed itself; client
	// publishes refused busy
	deferred, helped, refused int64
}

// errFanoutBusy refuses a client's publish while the fan-out queue is full.
var errFanoutBusy = errors.New("busy")

// push queues the push of record rec for job, or reports false when the
// caller should push it now: the fan-out is small and its producer has
// nothing queued. With the queue full, a caller that may wait pushes the
// queue itself; one that may not (an event loop) gets errFanoutBusy and
// nothing is queued.
func (q *fanoutQueue) push(h *Hub, job fanoutJob, rec []byte, large, mayWait bool) (bool, error) {
	if !large && q.pending.Load() == 0 {
		// Nothing is queued: not this producer's either. (Another
		// producer's job queued meanwhile need not go first.)
		return false, nil
	}
	q.mu.Lock()
	if !large && q.by[job.producer] == 0 {
		q.mu.Unlock()
		return false, nil
	}
	if !mayWait && q.fullLocked() {
		q.refused++
		q.mu.Unlock()
		return true, errFanoutBusy
	}
	job.rec = append([]byte(nil), rec...)
	job.at = time.Now()
	q.jobs = append(q.jobs, job)
	q.bytes += len(rec)
	q.pending.Add(1)
	if q.by == nil {
		q.by = make(map[string]int)
	}
	q.by[job.producer]++
	q.deferred++
	over := q.fullLocked()
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if over {
		q.drain(h, true)
	}
	if start {
		go q.run(h)
	}
	return true, nil
}

// fullLocked reports whether the queue is past one of its bounds.
func (q *fanoutQueue) fullLocked() bool {
	return len(q.jobs)-q.head > maxQueuedFanouts || q.bytes > maxQueuedFanoutBytes
}

// run is the fan-out goroutine: it pushes until the queue is empty, then
// ends (push starts another for the next job).
func (q *fanoutQueue) run(h *Hub) {
	for {
		q.drain(h, false)
		q.mu.Lock()
		if q.head == len(q.jobs) {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// drain pushes the queued jobs in order until none is left. The wake-ups
// of consecutive large fan-outs are posted together once the queue is
// empty (or after wakeBatch of them): a session that several of them
// reach (the lobby's presence and rooms deltas of one tick, to every
// browsing player) is written them at once, with one write instead of one
// each, and its session is scheduled once.
func (q *fanoutQueue) drain(h *Hub, helping bool) {
	q.exec.Lock()
	defer q.exec.Unlock()
	gathered := 0
	for {
		q.mu.Lock()
		if q.head == len(q.jobs) {
			q.mu.Unlock()
			if gathered > 0 {
				q.wake.flush()
			}
			return
		}
		job := q.jobs[q.head]
		q.jobs[q.head] = fanoutJob{}
		q.head++
		q.bytes -= len(job.rec)
		if q.head == len(q.jobs) {
			q.jobs, q.head = q.jobs[:0], 0
			if cap(q.jobs) > maxQueuedFanouts {
				q.jobs = nil
			}
		}
		if helping {
			q.helped++
		}
		q.mu.Unlock()
		switch {
		case job.to != nil:
			h.unicastRecord(job.to, job.rec, job.size)
		case job.tos != nil:
			h.sendAllRecord(job.tos, job.rec, job.size, &q.wake)
			gathered++
		default:
			h.multicastRecord(job.subject, job.rec, job.size, job.at, &q.wake)
			gathered++
		}
		if gathered >= wakeBatch {
			q.wake.flush()
			gathered = 0
		}
		q.mu.Lock()
		q.pending.Add(-1)
		if q.by[job.producer]--; q.by[job.producer] == 0 {
			delete(q.by, job.producer)
		}
		q.mu.Unlock()
	}
}

// FanoutStats are the figures of the fan-out queue.
type FanoutStats struct {
	Queued   int   `json:"fanouts_queued"`   // events waiting or being pushed
	Deferred int64 `json:"fanouts_deferred"` // events pushed by the hub rather than their publisher
	Helped   int64 `json:"fanouts_helped"`   // of those, pushed by a publisher that found the queue full
	Refused  int64 `json:"fanouts_refused"`  // client publishes refused (nack "busy") while it was full
}

func (q *fanoutQueue) stats() FanoutStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return FanoutStats{Queued: int(q.pending.Load()), Deferred: q.deferred, Helped: q.helped, Refused: q.refused}
}
