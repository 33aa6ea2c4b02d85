package timewheel

import (
	"math"
	"sync"
	"time"
)

// Timer is one timer of a [Wheel]. The zero value is an idle timer. It is
// meant to be embedded by value in the struct it belongs to; it must not be
// copied while pending. All its fields are guarded by the lock of the Wheel
// it is pending on.
type Timer struct {
	_          noCopy
	next, prev *Timer
	w          *Wheel // non-nil exactly while pending
	fn         Firer
	when       uint64 // tick at which it fires
}

// noCopy makes go vet's copylocks check report copies of a Timer.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// slot is a doubly linked FIFO of the timers that hash to one tick.
type slot struct {
	head, tail *Timer
}

// Wheel is a hashed timing wheel. Create one with [New]; all its methods are
// safe for concurrent use.
type Wheel struct {
	tick    time.Duration
	elapsed func() time.Duration // monotonic time since the wheel's origin

	mu      sync.Mutex
	slots   []slot
	cur     uint64 // last tick swept
	n       int    // pending timers
	stopped bool

	batch []Firer // callbacks of the tick being run; owned by the driver

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// New returns a wheel with the given tick and number of slots, and starts
// the goroutine that drives it; call [Wheel.Stop] to end it. One turn of the
// ring spans tick*slots; for example New(50*time.Millisecond, 4096) turns
// every 204.8 s, so a 20 s heartbeat never waits for a second turn. New
// panics if tick or slots is not positive.
func New(tick time.Duration, slots int) *Wheel {
	start := time.Now()
	w := newWheel(tick, slots, func() time.Duration { return time.Since(start) })
	w.done = make(chan struct{})
	go w.run()
	return w
}

// newWheel returns a wheel that nothing drives: tests call advance and pass
// their own clock.
func newWheel(tick time.Duration, slots int, elapsed func() time.Duration) *Wheel {
	if tick <= 0 {
		panic("timewheel: non-positive tick")
	}
	if slots <= 0 {
		panic("timewheel: non-positive slot count")
	}
	return &Wheel{
		tick:    tick,
		elapsed: elapsed,
		slots:   make([]slot, slots),
		quit:    make(chan struct{}),
	}
}

// run drives the wheel until Stop.
func (w *Wheel) run() {
	defer close(w.done)
	// The ticker starts after the origin taken by New, so at each of its
	// ticks elapsed()/tick has reached at least the tick it stands for.
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.advance(uint64(w.elapsed() / w.tick))
		}
	}
}

// advance sweeps every tick up to and including target, running the
// callbacks of each tick before sweeping the next. Only the driver calls it.
func (w *Wheel) advance(target uint64) {
	for {
		w.mu.Lock()
		if w.stopped || w.cur >= target {
			w.mu.Unlock()
			return
		}
		if n := uint64(len(w.slots)); target-w.cur > n {
			// After a stall longer than a turn, one sweep of each slot
			// still finds every expired timer, because sweeping compares
			// deadlines with the current tick.
			w.cur = target - n
		}
		w.cur++
		w.expireLocked()
		w.mu.Unlock()

		for i, fn := range w.batch {
			fn.Fire()
			w.batch[i] = nil
		}
		w.batch = w.batch[:0]
	}
}

// expireLocked moves the callbacks of the timers due at w.cur from their
// slot to w.batch.
func (w *Wheel) expireLocked() {
	s := &w.slots[w.cur%uint64(len(w.slots))]
	for t := s.head; t != nil; {
		next := t.next
		if t.when <= w.cur {
			w.batch = append(w.batch, t.fn)
			w.unlinkLocked(t)
		}
		t = next
	}
}

// unlinkLocked removes pending t from its slot and makes it idle.
func (w *Wheel) unlinkLocked(t *Timer) {
	s := &w.slots[t.when%uint64(len(w.slots))]
	if t.prev == nil {
		s.head = t.next
	} else {
		t.prev.next = t.next
	}
	if t.next == nil {
		s.tail = t.prev
	} else {
		t.next.prev = t.prev
	}
	t.next, t.prev, t.w, t.fn = nil, nil, nil, nil
	w.n--
}

// Firer is a timer's callback as a method: a type that owns a timer (a
// connection, a session) implements it, so arming the timer allocates no
// closure.
type Firer interface {
	Fire()
}

// funcFirer adapts a func to Firer without allocating (a func value is
// pointer-shaped).
type funcFirer func()

func (f funcFirer) Fire() { f() }

// Schedule arms t to call fn once, d from now; if t is already pending it is
// moved, and its previous callback will not run. A d of zero or less fires on
// the next tick. It is O(1) and does not allocate. Schedule on a stopped
// wheel does nothing. It panics if fn is nil or t is pending on another
// wheel. Safe for concurrent use, including from a callback.
func (w *Wheel) Schedule(t *Timer, d time.Duration, fn func()) {
	if fn == nil {
		panic("timewheel: nil callback")
	}
	w.ScheduleFirer(t, d, funcFirer(fn))
}

// ScheduleFirer is Schedule with a Firer: f.Fire() runs when t expires.
func (w *Wheel) ScheduleFirer(t *Timer, d time.Duration, f Firer) {
	if f == nil {
		panic("timewheel: nil callback")
	}
	fn := f
	var deadline time.Duration // since the origin; 0 means the next tick
	if d > 0 {
		now := w.elapsed()
		if d > math.MaxInt64-now {
			deadline = math.MaxInt64
		} else {
			deadline = now + d
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if t.w != nil {
		if t.w != w {
			panic("timewheel: timer is pending on another wheel")
		}
		w.unlinkLocked(t)
	}
	if w.stopped {
		return
	}
	// Round up: the tick that fires the timer is swept no earlier than
	// when*tick after the origin.
	when := uint64(deadline / w.tick)
	if deadline%w.tick != 0 {
		when++
	}
	when = max(when, w.cur+1)

	s := &w.slots[when%uint64(len(w.slots))]
	t.when, t.fn, t.w = when, fn, w
	t.next, t.prev = nil, s.tail
	if s.tail == nil {
		s.head = t
	} else {
		s.tail.next = t
	}
	s.tail = t
	w.n++
}

// Cancel disarms t and reports whether it was pending. It is O(1). When
// Cancel returns false the timer was idle, or its callback has run, is
// running, or has been taken off the wheel to run imminently: Cancel cannot
// stop it any more, exactly as with [time.Timer.Stop]. Safe for concurrent
// use, including from a callback.
func (w *Wheel) Cancel(t *Timer) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.w != w {
		return false
	}
	w.unlinkLocked(t)
	return true
}

// Pending reports whether t is armed on w and has not been taken off it to
// fire. The answer may be stale by the time the caller looks at it unless
// something else orders the caller with the wheel. Safe for concurrent use.
func (w *Wheel) Pending(t *Timer) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return t.w == w
}

// Len returns the number of pending timers. Safe for concurrent use.
func (w *Wheel) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Stop ends the wheel's goroutine. Pending timers never fire and become idle;
// callbacks already taken off the wheel finish first, so when Stop returns no
// callback is running and none will run. Later calls do nothing but wait for
// the same. Stop must not be called from a callback: it would wait for
// itself. Safe for concurrent use.
func (w *Wheel) Stop() {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.stopped = true
		for i := range w.slots {
			for t := w.slots[i].head; t != nil; {
				next := t.next
				t.next, t.prev, t.w, t.fn = nil, nil, nil, nil
				t = next
			}
			w.slots[i] = slot{}
		}
		w.n = 0
		w.mu.Unlock()
		close(w.quit)
	})
	if w.done != nil {
		<-w.done
	}
}
