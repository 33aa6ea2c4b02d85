package timewheel

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the elapsed-time source of a wheel driven by the test.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) elapsed() time.Duration { return time.Duration(c.now.Load()) }
func (c *fakeClock) set(d time.Duration)    { c.now.Store(int64(d)) }

// manual returns a wheel that only moves when the test calls advance.
func manual(tick time.Duration, slots int) (*Wheel, *fakeClock) {
	c := &fakeClock{}
	return newWheel(tick, slots, c.elapsed), c
}

// waitClosed waits for ch to be closed, failing the test after timeout.
func waitClosed(t *testing.T, ch <-chan struct{}, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// barrier waits until every callback taken off w before the call has run:
// callbacks run in tick order, so a timer for the next tick runs after them.
func barrier(t *testing.T, w *Wheel) {
	t.Helper()
	var tm Timer
	done := make(chan struct{})
	w.Schedule(&tm, 0, func() { close(done) })
	waitClosed(t, done, 10*time.Second, "barrier timer")
}

func TestScheduleDeadline(t *testing.T) {
	const tick = 10 * time.Millisecond
	tests := []struct {
		name string
		now  time.Duration // clock at Schedule
		cur  uint64        // ticks swept before Schedule
		d    time.Duration
		want uint64 // tick whose sweep fires the timer
	}{
		{"zero", 0, 0, 0, 1},
		{"negative", 0, 0, -time.Hour, 1},
		{"one nanosecond", 0, 0, 1, 1},
		{"exactly one tick", 0, 0, tick, 1},
		{"just over one tick", 0, 0, tick + 1, 2},
		{"last slot", 0, 0, 8 * tick, 8},
		{"second turn", 0, 0, 20 * tick, 20},
		{"far turn", 0, 0, 1000*tick + 1, 1001},
		{"mid-tick clock", 15 * time.Millisecond, 1, tick, 3},
		{"mid-tick zero", 15 * time.Millisecond, 1, 0, 2},
		{"driver behind clock", 55 * time.Millisecond, 2, tick, 7},
		{"driver ahead of rounding", 0, 4, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, clock := manual(tick, 8)
			w.advance(tt.cur)
			clock.set(tt.now)
			var tm Timer
			var fired uint64
			w.Schedule(&tm, tt.d, func() { fired = w.cur })
			for w.cur < tt.want+20 && fired == 0 {
				w.advance(w.cur + 1)
			}
			if fired != tt.want {
				t.Errorf("Schedule(d=%v) at clock %v, tick %d fired at tick %d; want %d",
					tt.d, tt.now, tt.cur, fired, tt.want)
			}
		})
	}
}

func TestOrdering(t *testing.T) {
	const tick = time.Millisecond
	w, _ := manual(tick, 16)
	ds := []time.Duration{5, 1, 40, 3, 3, 17, 0, 16, 33, 2} // in ticks
	timers := make([]Timer, len(ds))
	var got []int
	for i, d := range ds {
		w.Schedule(&timers[i], d*tick, func() { got = append(got, i) })
	}
	for w.cur < 50 {
		w.advance(w.cur + 1)
	}
	// By deadline; equal deadlines in Schedule order; 0 fires with 1.
	want := []int{1, 6, 9, 3, 4, 0, 7, 5, 8, 2}
	if !slices.Equal(got, want) {
		t.Errorf("firing order = %v; want %v", got, want)
	}
}

func TestCancel(t *testing.T) {
	w, _ := manual(time.Millisecond, 8)
	var a, b Timer
	var fired []string
	w.Schedule(&a, 3*time.Millisecond, func() { fired = append(fired, "a") })
	w.Schedule(&b, 3*time.Millisecond, func() { fired = append(fired, "b") })
	if got := w.Len(); got != 2 {
		t.Fatalf("Len() = %d; want 2", got)
	}
	if !w.Pending(&a) {
		t.Errorf("Pending(a) = false after Schedule; want true")
	}
	if !w.Cancel(&a) {
		t.Errorf("Cancel(a) = false for a pending timer; want true")
	}
	if w.Cancel(&a) {
		t.Errorf("second Cancel(a) = true; want false")
	}
	var idle Timer
	if w.Cancel(&idle) {
		t.Errorf("Cancel(zero Timer) = true; want false")
	}
	if w.Pending(&a) {
		t.Errorf("Pending(a) = true after Cancel; want false")
	}
	if got := w.Len(); got != 1 {
		t.Errorf("Len() = %d after Cancel; want 1", got)
	}
	w.advance(10)
	if !slices.Equal(fired, []string{"b"}) {
		t.Errorf("fired = %v; want [b]", fired)
	}
	if w.Cancel(&b) {
		t.Errorf("Cancel(b) after it fired = true; want false")
	}
	if got := w.Len(); got != 0 {
		t.Errorf("Len() = %d after all fired; want 0", got)
	}
}

func TestCancelFromCallbackOfSameTick(t *testing.T) {
	// Both timers are taken off the wheel together, so b can no longer be
	// cancelled when a runs: Cancel reports false and b runs.
	w, _ := manual(time.Millisecond, 8)
	var a, b Timer
	var cancelled, bRan bool
	w.Schedule(&a, time.Millisecond, func() { cancelled = w.Cancel(&b) })
	w.Schedule(&b, time.Millisecond, func() { bRan = true })
	w.advance(1)
	if cancelled || !bRan {
		t.Errorf("Cancel(b) from a = %v, b ran = %v; want false, true", cancelled, bRan)
	}

	// A timer due at a later tick is still pending and can be cancelled.
	w.Schedule(&a, time.Millisecond, func() { cancelled = w.Cancel(&b) })
	bRan = false
	w.Schedule(&b, 5*time.Millisecond, func() { bRan = true })
	for w.cur < 10 {
		w.advance(w.cur + 1)
	}
	if !cancelled || bRan {
		t.Errorf("Cancel(later b) from a = %v, b ran = %v; want true, false", cancelled, bRan)
	}
}

func TestReschedulePending(t *testing.T) {
	w, _ := manual(time.Millisecond, 8)
	var tm Timer
	var got []string
	w.Schedule(&tm, 2*time.Millisecond, func() { got = append(got, "first") })
	w.Schedule(&tm, 12*time.Millisecond, func() { got = append(got, "second") })
	if n := w.Len(); n != 1 {
		t.Fatalf("Len() = %d after moving a timer; want 1", n)
	}
	w.advance(11)
	if len(got) != 0 {
		t.Fatalf("fired %v before the new deadline", got)
	}
	w.advance(12)
	if !slices.Equal(got, []string{"second"}) {
		t.Errorf("fired = %v; want [second]", got)
	}

	// Moving earlier works too.
	got = nil
	w.Schedule(&tm, 9*time.Millisecond, func() { got = append(got, "late") })
	w.Schedule(&tm, 0, func() { got = append(got, "early") })
	w.advance(30)
	if !slices.Equal(got, []string{"early"}) {
		t.Errorf("fired = %v; want [early]", got)
	}
}

func TestRescheduleFromCallback(t *testing.T) {
	w, _ := manual(time.Millisecond, 4)
	var tm Timer
	var ticks []uint64
	var fn func()
	fn = func() {
		ticks = append(ticks, w.cur)
		if len(ticks) < 5 {
			w.Schedule(&tm, 3*time.Millisecond, fn) // its own timer, past a turn
		}
	}
	w.Schedule(&tm, 0, fn)
	// The clock stays at 0, so each reschedule is due 3 ticks after the
	// origin: already passed, it fires on the next tick.
	for w.cur < 100 {
		w.advance(w.cur + 1)
	}
	if want := []uint64{1, 3, 4, 5, 6}; !slices.Equal(ticks, want) {
		t.Errorf("fired at ticks %v; want %v", ticks, want)
	}
	if w.Pending(&tm) {
		t.Errorf("Pending = true after the last callback declined to reschedule")
	}
}

func TestCatchUpAfterStall(t *testing.T) {
	w, _ := manual(time.Millisecond, 8)
	timers := make([]Timer, 30)
	count := make([]int, len(timers))
	for i := range timers {
		w.Schedule(&timers[i], time.Duration(i)*time.Millisecond, func() { count[i]++ })
	}
	w.advance(1000) // many turns at once
	for i, c := range count {
		if c != 1 {
			t.Errorf("timer %d fired %d times; want 1", i, c)
		}
	}
	if n := w.Len(); n != 0 {
		t.Errorf("Len() = %d; want 0", n)
	}
}

func TestManyTimersFireOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))

	const n = 100_000
	w, clock := manual(time.Millisecond, 512)
	timers := make([]Timer, n)
	due := make([]uint64, n)
	fired := make([]uint64, n)
	for i := range timers {
		d := time.Duration(r.IntN(3000)) * time.Microsecond * 997 / 1000
		clock.set(time.Duration(r.IntN(int(time.Millisecond))))
		w.Schedule(&timers[i], d, func() {
			if fired[i] != 0 {
				t.Errorf("timer %d fired twice", i)
			}
			fired[i] = w.cur
		})
		due[i] = timers[i].when
	}
	if got := w.Len(); got != n {
		t.Fatalf("Len() = %d; want %d", got, n)
	}
	for w.cur < 3100 {
		w.advance(w.cur + 1 + uint64(r.IntN(3)))
	}
	for i := range n {
		if fired[i] == 0 {
			t.Fatalf("timer %d never fired", i)
		}
		if fired[i] < due[i] {
			t.Fatalf("timer %d fired at tick %d before its deadline %d", i, fired[i], due[i])
		}
	}
	if got := w.Len(); got != 0 {
		t.Errorf("Len() = %d after all fired; want 0", got)
	}
}

func TestStopManual(t *testing.T) {
	w, _ := manual(time.Millisecond, 8)
	timers := make([]Timer, 10)
	fired := 0
	for i := range timers {
		w.Schedule(&timers[i], time.Duration(i)*time.Millisecond, func() { fired++ })
	}
	w.Stop()
	w.Stop() // idempotent
	if n := w.Len(); n != 0 {
		t.Errorf("Len() = %d after Stop; want 0", n)
	}
	for i := range timers {
		if w.Pending(&timers[i]) {
			t.Errorf("Pending(timer %d) = true after Stop", i)
		}
	}
	w.Schedule(&timers[0], 0, func() { fired++ })
	if w.Pending(&timers[0]) {
		t.Errorf("Schedule on a stopped wheel armed the timer")
	}
	w.advance(100)
	if fired != 0 {
		t.Errorf("%d callbacks ran after Stop; want 0", fired)
	}
}

func TestPanics(t *testing.T) {
	w1, _ := manual(time.Millisecond, 8)
	w2, _ := manual(time.Millisecond, 8)
	var tm Timer
	w1.Schedule(&tm, time.Second, func() {})
	tests := []struct {
		name string
		f    func()
	}{
		{"zero tick", func() { New(0, 8) }},
		{"zero slots", func() { New(time.Millisecond, 0) }},
		{"nil callback", func() { w1.Schedule(new(Timer), 0, nil) }},
		{"pending on another wheel", func() { w2.Schedule(&tm, 0, func() {}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		})
	}
}

// The tests below run the real driving goroutine with a short tick.

func TestWheelFiresNoEarlier(t *testing.T) {
	w := New(time.Millisecond, 64)
	t.Cleanup(w.Stop)
	ds := []time.Duration{0, 1, time.Millisecond, 3 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond}
	for _, d := range ds {
		var tm Timer
		done := make(chan struct{})
		start := time.Now()
		var got time.Duration
		w.Schedule(&tm, d, func() { got = time.Since(start); close(done) })
		waitClosed(t, done, 10*time.Second, "timer of "+d.String())
		if got < d {
			t.Errorf("timer of %v fired after %v; want no earlier than %v", d, got, d)
		}
	}
}

type countedTimer struct {
	Timer
	start time.Time
	d     time.Duration
	fired atomic.Int32
	early atomic.Bool
}

func TestWheelManyTimers(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))

	const n = 100_000
	w := New(time.Millisecond, 256)
	t.Cleanup(w.Stop)
	timers := make([]countedTimer, n)
	var remaining atomic.Int64
	remaining.Store(n)
	all := make(chan struct{})
	for i := range timers {
		ct := &timers[i]
		ct.d = time.Duration(r.IntN(int(40 * time.Millisecond)))
		ct.start = time.Now()
		w.Schedule(&ct.Timer, ct.d, func() {
			if time.Since(ct.start) < ct.d {
				ct.early.Store(true)
			}
			if ct.fired.Add(1) == 1 && remaining.Add(-1) == 0 {
				close(all)
			}
		})
	}
	waitClosed(t, all, 30*time.Second, "all timers")
	barrier(t, w)
	for i := range timers {
		if got := timers[i].fired.Load(); got != 1 {
			t.Fatalf("timer %d fired %d times; want 1", i, got)
		}
		if timers[i].early.Load() {
			t.Fatalf("timer %d of %v fired early", i, timers[i].d)
		}
	}
	if got := w.Len(); got != 0 {
		t.Errorf("Len() = %d; want 0", got)
	}
}

func TestWheelConcurrent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	const workers, perWorker, ops = 8, 200, 2000
	w := New(time.Millisecond, 32)
	t.Cleanup(w.Stop)

	// Every Schedule gets a fresh callback; each may run at most once, and a
	// callback replaced by a later Schedule or cancelled must not run after
	// the barrier below.
	var mu sync.Mutex
	ran := make(map[int64]int)
	var nextID atomic.Int64
	callback := func() func() {
		id := nextID.Add(1)
		return func() {
			mu.Lock()
			ran[id]++
			mu.Unlock()
		}
	}

	timers := make([]Timer, workers*perWorker)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			mine := timers[g*perWorker : (g+1)*perWorker]
			for range ops {
				tm := &mine[r.IntN(len(mine))]
				switch r.IntN(4) {
				case 0:
					w.Cancel(tm)
				case 1:
					w.Pending(tm)
					w.Len()
				default:
					w.Schedule(tm, time.Duration(r.IntN(int(3*time.Millisecond))), callback())
				}
			}
			// Timers are also moved from callbacks on the wheel goroutine.
			tm := &mine[0]
			w.Schedule(tm, 0, func() { w.Schedule(tm, time.Millisecond, callback()) })
		}()
	}
	wg.Wait()
	barrier(t, w)
	for i := range timers {
		w.Cancel(&timers[i])
	}
	barrier(t, w)
	if got := w.Len(); got != 0 {
		t.Fatalf("Len() = %d after cancelling everything; want 0", got)
	}
	mu.Lock()
	before := len(ran)
	for id, c := range ran {
		if c != 1 {
			t.Errorf("callback %d ran %d times; want 1", id, c)
		}
	}
	mu.Unlock()

	// With nothing pending, every timer can be armed again and fires once.
	var remaining atomic.Int64
	remaining.Store(int64(len(timers)))
	all := make(chan struct{})
	for i := range timers {
		w.Schedule(&timers[i], 0, func() {
			if remaining.Add(-1) == 0 {
				close(all)
			}
		})
	}
	waitClosed(t, all, 10*time.Second, "re-armed timers")
	barrier(t, w)
	mu.Lock()
	after := len(ran)
	mu.Unlock()
	if after != before {
		t.Errorf("%d cancelled callbacks ran after Cancel; want 0", after-before)
	}
	if got := remaining.Load(); got != 0 {
		t.Errorf("remaining = %d; want 0", got)
	}
}

func TestWheelStop(t *testing.T) {
	w := New(time.Millisecond, 16)

	// A timer that keeps rescheduling itself: counter is written only by
	// callbacks, and read after Stop without a lock, so the race detector
	// reports any callback that runs after Stop returns.
	counter := 0
	var self Timer
	started := make(chan struct{})
	var fn func()
	fn = func() {
		counter++
		if counter == 3 {
			close(started)
		}
		w.Schedule(&self, 0, fn)
	}
	w.Schedule(&self, 0, fn)
	waitClosed(t, started, 10*time.Second, "self-rescheduling timer")

	var far Timer
	farRan := false
	w.Schedule(&far, time.Hour, func() { farRan = true })

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); w.Stop() }()
	}
	wg.Wait()
	w.Stop()

	seen := counter
	if seen < 3 || farRan {
		t.Errorf("counter = %d, far ran = %v; want >= 3, false", seen, farRan)
	}
	if w.Pending(&self) || w.Pending(&far) || w.Len() != 0 {
		t.Errorf("timers still pending after Stop: self %v far %v Len %d",
			w.Pending(&self), w.Pending(&far), w.Len())
	}
	select {
	case <-w.done:
	default:
		t.Errorf("driver goroutine still running after Stop returned")
	}
	w.Schedule(&far, 0, func() { farRan = true })
	if w.Pending(&far) {
		t.Errorf("Schedule after Stop armed the timer")
	}
}
