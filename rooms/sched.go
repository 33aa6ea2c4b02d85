package rooms

import (
	"context"
	"sync"
)

// The run queue.
//
// Every room has a mailbox (room.q) and a flag, room.scheduled, both under
// room.mu. Enqueueing into an idle room sets the flag and pushes the room
// onto the scheduler's run queue; an executor pops it, processes up to
// runBatch items one at a time, and then either marks it idle (mailbox
// empty) or pushes it to the back of the queue. A room is therefore on the
// queue or on an executor at most once, which is what serializes its hooks,
// and the queue never holds more entries than there are rooms, so pushing
// never waits. Executors are a fixed pool: rooms cost memory, not
// goroutines.

// runBatch is how many items an executor takes from one room before letting
// the next room run: large enough to amortize the queue round trip, small
// enough that a flooded room cannot starve the others.
const runBatch = 16

// scheduler is the run queue shared by the executors.
type scheduler struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      []*room
	head   int
	closed bool
	// active counts rooms that are scheduled or running; idle is closed
	// when it drops to zero (see WaitIdle).
	active int
	idle   chan struct{}
}

func (s *scheduler) init() {
	s.cond.L = &s.mu
}

// schedule adds a room that has just become scheduled. Never blocks.
func (s *scheduler) schedule(r *room) {
	s.mu.Lock()
	if s.active == 0 {
		s.idle = make(chan struct{})
	}
	s.active++
	s.pushLocked(r)
	s.mu.Unlock()
	s.cond.Signal()
}

// requeue puts a still-scheduled room at the back of the queue.
func (s *scheduler) requeue(r *room) {
	s.mu.Lock()
	s.pushLocked(r)
	s.mu.Unlock()
	s.cond.Signal()
}

func (s *scheduler) pushLocked(r *room) {
	if s.head > 0 && s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	} else if s.head > 64 && s.head > len(s.q)/2 {
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
	s.q = append(s.q, r)
}

// wentIdle records that a scheduled room has emptied its mailbox.
func (s *scheduler) wentIdle() {
	s.mu.Lock()
	s.active--
	if s.active == 0 {
		close(s.idle)
	}
	s.mu.Unlock()
}

// next blocks until a room is ready, or returns false once the scheduler is
// closed and drained. Executors only.
func (s *scheduler) next() (*room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.head == len(s.q) {
		if s.closed {
			return nil, false
		}
		s.cond.Wait()
	}
	r := s.q[s.head]
	s.q[s.head] = nil
	s.head++
	return r, true
}

func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

// waitIdle waits until no room is scheduled or running.
func (s *scheduler) waitIdle(ctx context.Context) error {
	s.mu.Lock()
	if s.active == 0 {
		s.mu.Unlock()
		return nil
	}
	ch := s.idle
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// executor runs rooms until the scheduler closes.
func (m *Manager) executor() {
	defer m.executors.Done()
	for {
		r, ok := m.sched.next()
		if !ok {
			return
		}
		m.stats.busy.Add(1) // Stats: executors running a room
		r.run()
		m.stats.busy.Add(-1)
	}
}

// run processes up to runBatch items of r's mailbox. r is scheduled, so no
// other executor runs it concurrently.
func (r *room) run() {
	for range runBatch {
		if r.awaitAppend() {
			return
		}
		r.mu.Lock()
		it, ok := r.popLocked()
		if !ok {
			r.scheduled = false
			r.mu.Unlock()
			r.m.sched.wentIdle()
			return
		}
		r.mu.Unlock()
		r.process(&it)
	}
	if r.awaitAppend() {
		return
	}
	r.mu.Lock()
	if r.qlen() == 0 {
		r.scheduled = false
		r.mu.Unlock()
		r.m.sched.wentIdle()
		return
	}
	r.mu.Unlock()
	r.m.sched.requeue(r)
}

// enqueue adds it to r's mailbox. Items from clients (it.counted) are
// refused with ErrMailboxFull when MailboxSize of them are pending; items
// from the runtime (timers, presence changes, leaves, shutdown) are always
// accepted: each is bounded by the room's members and timers, because
// presence changes and leaves are coalesced per member and a periodic timer
// is re-armed only after it ran. Never blocks.
func (r *room) enqueue(it item) error {
	r.mu.Lock()
	if err := r.enqueueLocked(it); err != nil {
		r.mu.Unlock()
		return err
	}
	sched := !r.scheduled
	r.scheduled = true
	r.mu.Unlock()
	if sched {
		r.m.sched.schedule(r)
	}
	return nil
}

// enqueueAll adds the first items of a room just created, at once.
func (r *room) enqueueAll(its []item) {
	r.mu.Lock()
	for _, it := range its {
		_ = r.enqueueLocked(it) // a fresh room: neither closed nor full
	}
	sched := !r.scheduled
	r.scheduled = true
	r.mu.Unlock()
	if sched {
		r.m.sched.schedule(r)
	}
}

func (r *room) enqueueLocked(it item) error {
	if r.closed {
		return ErrNoRoom
	}
	if it.counted {
		if r.unstored {
			r.m.stats.journalRefused.Add(1)
			return ErrJournalUnavailable
		}
		if int(r.pending) >= r.m.o.MailboxSize {
			r.m.stats.mailboxFull.Add(1)
			return ErrMailboxFull
		}
		r.pending++
	}
	if h := int(r.qhead); h > 0 && h == len(r.q) {
		r.q, r.qhead = r.q[:0], 0
	} else if h > 32 && h > len(r.q)/2 {
		n := copy(r.q, r.q[r.qhead:])
		clear(r.q[n:])
		r.q, r.qhead = r.q[:n], 0
	}
	r.q = append(r.q, it)
	r.m.stats.mailbox.Add(1) // Stats: items in all mailboxes
	return nil
}

// keptMailbox is the most items' room an empty mailbox keeps: one
// message at a time (a move, its opponent's after it) reuses it, and a
// room between items holds no more than that (an item is a message's size,
// 112 bytes: what a join carries is behind item.entry).
const keptMailbox = 2

func (r *room) qlen() int { return len(r.q) - int(r.qhead) }

func (r *room) popLocked() (item, bool) {
	if int(r.qhead) == len(r.q) {
		if cap(r.q) > keptMailbox {
			r.q, r.qhead = nil, 0 // give back a burst's memory
		}
		return item{}, false
	}
	it := r.q[r.qhead]
	r.q[r.qhead] = item{}
	r.qhead++
	r.m.stats.mailbox.Add(-1)
	if it.counted {
		r.pending--
	}
	return it, true
}
