package roomstest

import (
	"sync"
	"time"

	"github.com/cometplay/cometplay/rooms"
)

// Epoch is where a Clock starts: 2025-01-01 00:00:00 UTC.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a rooms.Clock that moves only when Advance is called. Timers
// fire on the goroutine calling Advance. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    uint64
	settle func()
	fired  int
}

type fakeTimer struct {
	c    *Clock
	at   time.Time
	seq  uint64
	f    func()
	done bool
}

var _ rooms.Clock = (*Clock)(nil)

// NewClock returns a Clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that fires when Advance reaches now+d (d <= 0: at
// the next Advance, even Advance(0)).
func (c *Clock) AfterFunc(d time.Duration, f func()) rooms.Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop disarms the timer and reports whether it had not fired yet.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			break
		}
	}
	return true
}

// SetSettle sets a function Advance calls after each timer it fires, before
// looking for the next one; the Harness uses it to let the Manager process
// the timer (and arm the timers that follows from it) first.
func (c *Clock) SetSettle(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle = f
}

// Advance moves the clock forward by d, firing due timers one at a time in
// deadline order (ties in the order they were armed), with the clock set to
// each timer's deadline while it fires. Timers armed meanwhile fire too if
// due by now+d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		idx := -1
		for i, t := range c.timers {
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq)) {
				next, idx = t, i
			}
		}
		if next == nil {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		c.timers = append(c.timers[:idx], c.timers[idx+1:]...)
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.fired++
		settle := c.settle
		c.mu.Unlock()
		next.f()
		if settle != nil {
			settle()
		}
	}
}

// Pending returns the number of armed timers.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Fired returns the number of timers fired so far.
func (c *Clock) Fired() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fired
}
