package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// TestManyRoomsFewGoroutines runs 5,000 rooms, each with a player, a
// pending timer on the real clock and a message, and checks that the
// goroutine count stays at the baseline plus the executors.
func TestManyRoomsFewGoroutines(t *testing.T) {
	const nRooms, executors, slack = 5000, 4, 5
	var created, applied atomic.Int64
	game := rooms.Game{Name: "light", New: func() rooms.Room { return &light{&created, &applied} }}
	base := runtime.NumGoroutine()
	var tr countingTransport
	m := rooms.NewManager(&tr, rooms.ManagerOptions{Executors: executors, Logger: roomstest.DiscardLogger})
	defer shutdown(t, m)
	if err := m.Register(game); err != nil {
		t.Fatal(err)
	}
	limit := base + executors + slack
	check := func(phase string) {
		t.Helper()
		if n := runtime.NumGoroutine(); n > limit {
			t.Fatalf("%s: %d goroutines; want <= %d (baseline %d + %d executors + %d)", phase, n, limit, base, executors, slack)
		}
	}
	ids := make([]string, nRooms)
	for i := range ids {
		id, err := m.Create("light", rooms.PlayerInfo{SessionID: fmt.Sprint("s", i), PlayerID: fmt.Sprint("p", i), Name: "player"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if i%500 == 0 {
			check("creating")
		}
	}
	wait(t, m)
	check("created")
	for i, id := range ids {
		if err := m.Deliver(id, fmt.Sprint("s", i), rooms.Message{Type: "hi"}); err != nil {
			t.Fatalf("Deliver = %v", err)
		}
		if i%500 == 0 {
			check("delivering")
		}
	}
	wait(t, m)
	check("delivered")
	if created.Load() != nRooms || applied.Load() != nRooms || m.NumRooms() != nRooms {
		t.Errorf("created %d, applied %d, NumRooms %d; want %d each", created.Load(), applied.Load(), m.NumRooms(), nRooms)
	}
	if n := tr.events.Load(); n < 2*nRooms {
		t.Errorf("%d events; want at least joined and state per room", n)
	}
}

// light is a cheap room for the scale test.
type light struct{ created, applied *atomic.Int64 }

func (l *light) OnCreate(c *rooms.Ctx, _ rooms.Options) error {
	l.created.Add(1)
	c.After(time.Hour, func(*rooms.Ctx) {}) // a real timer: no goroutine until it fires
	return nil
}
func (l *light) OnJoin(*rooms.Ctx, *rooms.Player) error { return nil }
func (l *light) OnMessage(*rooms.Ctx, *rooms.Player, rooms.Message) error {
	l.applied.Add(1)
	return nil
}
func (l *light) OnLeave(*rooms.Ctx, *rooms.Player, rooms.LeaveReason) {}
func (l *light) OnDispose(*rooms.Ctx)                                 {}
func (l *light) Snapshot(*rooms.Ctx, *rooms.Player) any               { return nil }

// countingTransport counts events and drops them.
type countingTransport struct{ events atomic.Int64 }

func (c *countingTransport) Send(string, rooms.Event)    { c.events.Add(1) }
func (c *countingTransport) Publish(string, rooms.Event) { c.events.Add(1) }
func (c *countingTransport) Subscribe(string, string)    {}
func (c *countingTransport) Unsubscribe(string, string)  {}

func wait(t testing.TB, m *rooms.Manager) {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := m.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v", err)
	}
}

// TestMailboxOverflow fills a room's mailbox behind a blocked hook: every
// message past MailboxSize is refused with ErrMailboxFull, and every
// accepted one is applied.
func TestMailboxOverflow(t *testing.T) {
	const size = 8
	entered, release := make(chan struct{}), make(chan struct{})
	var applied atomic.Int64
	g := &hooks{message: func(_ *rooms.Ctx, _ *rooms.Player, m rooms.Message) error {
		if m.Type == "block" {
			close(entered)
			<-release
		}
		applied.Add(1)
		return nil
	}}
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 1, MailboxSize: size}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	h.Join(id, "bob")
	ann := roomstest.Session("ann")
	if err := h.M.Deliver(id, ann, rooms.Message{Type: "block"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(roomstest.SettleTimeout):
		t.Fatal("the blocking hook never ran")
	}
	accepted, full := 0, 0
	for range 3 * size {
		switch err := h.M.Deliver(id, ann, rooms.Message{Type: "n"}); {
		case err == nil:
			accepted++
		case errors.Is(err, rooms.ErrMailboxFull):
			full++
		default:
			t.Fatalf("Deliver = %v", err)
		}
	}
	if accepted != size || full != 2*size {
		t.Errorf("accepted %d, refused %d; want %d, %d", accepted, full, size, 2*size)
	}
	for name, err := range map[string]error{
		"Join":     h.M.Join(id, roomstest.Player("cat")),
		"Spectate": h.M.Spectate(id, roomstest.Player("sue")),
		"Do":       h.M.Do(id, func(*rooms.Ctx) {}),
	} {
		if !errors.Is(err, rooms.ErrMailboxFull) {
			t.Errorf("%s on a full mailbox = %v; want ErrMailboxFull", name, err)
		}
	}
	// The runtime's own items are never refused: a leave still gets in.
	if err := h.M.Leave(id, roomstest.Session("bob")); err != nil {
		t.Errorf("Leave on a full mailbox = %v; want nil", err)
	}
	close(release)
	h.Settle()
	if got := applied.Load(); got != int64(1+accepted) {
		t.Errorf("applied %d messages; want %d (the blocker and every accepted one)", got, 1+accepted)
	}
	if got := field(t, h, "ann", "player-left", "reason"); got != "left" {
		t.Errorf("bob's leave: %v", got)
	}
	if err := h.M.Deliver(id, ann, rooms.Message{Type: "n"}); err != nil {
		t.Errorf("Deliver after draining = %v", err)
	}
}

// TestPendingAnsweredOnDispose: items accepted but not processed when the
// room goes away are answered, not dropped silently.
func TestPendingAnsweredOnDispose(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	g := &hooks{message: func(c *rooms.Ctx, _ *rooms.Player, m rooms.Message) error {
		if m.Type == "block" {
			close(entered)
			<-release
			c.Dispose()
		}
		return nil
	}}
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 1}, probeGame(g))
	id := h.Create("probe", "ann", nil)
	ann := roomstest.Session("ann")
	if err := h.M.Deliver(id, ann, rooms.Message{Type: "block"}); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := range 3 {
		if err := h.M.Deliver(id, ann, rooms.Message{Type: "n", MoveID: fmt.Sprint("m", i), Seq: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.M.Join(id, roomstest.Player("bob")); err != nil {
		t.Fatal(err)
	}
	close(release)
	h.Settle()
	if n := h.T.Count(ann, "error"); n != 3 {
		t.Errorf("ann got %d error answers; want 3", n)
	}
	if got := field(t, h, "ann", "error", "reason"); got != rooms.ReasonDisposed {
		t.Errorf("reason = %v", got)
	}
	if got := field(t, h, "bob", "join-rejected", "reason"); got != rooms.ReasonDisposed {
		t.Errorf("bob's join: %v", got)
	}
}

// serial is a room that records any overlap of its own hooks.
type serial struct {
	in         atomic.Bool
	violations *atomic.Int64
	applied    *atomic.Int64
	n          int // unsynchronized on purpose: -race reports concurrent hooks too
	pause      func()
	atomicOnly bool // skip n (the detector test overlaps hooks on purpose)
}

func (s *serial) hook(f func()) {
	if !s.in.CompareAndSwap(false, true) {
		s.violations.Add(1)
	}
	if !s.atomicOnly {
		s.n++
	}
	for range 3 {
		runtime.Gosched() // widen the window for an overlap
	}
	if s.pause != nil {
		s.pause()
	}
	if f != nil {
		f()
	}
	s.in.Store(false)
}

func (s *serial) OnCreate(c *rooms.Ctx, _ rooms.Options) error {
	s.hook(func() { c.Every(time.Millisecond, func(*rooms.Ctx) { s.hook(nil) }) })
	return nil
}
func (s *serial) OnJoin(*rooms.Ctx, *rooms.Player) error { s.hook(nil); return nil }
func (s *serial) OnMessage(*rooms.Ctx, *rooms.Player, rooms.Message) error {
	s.hook(func() { s.applied.Add(1) })
	return nil
}
func (s *serial) OnLeave(*rooms.Ctx, *rooms.Player, rooms.LeaveReason) { s.hook(nil) }
func (s *serial) OnDispose(*rooms.Ctx)                                 { s.hook(nil) }
func (s *serial) OnTick(*rooms.Ctx, time.Duration)                     { s.hook(nil) }

// TestHooksNeverRunConcurrently drives a few rooms from many goroutines at
// once (messages, Do, timers, ticks, presence changes) on many executors.
func TestHooksNeverRunConcurrently(t *testing.T) {
	const nRooms, perRoom, msgs = 4, 4, 300
	var violations, applied atomic.Int64
	game := rooms.Game{Name: "serial", MaxPlayers: perRoom, TickRate: time.Millisecond,
		New: func() rooms.Room { return &serial{violations: &violations, applied: &applied} }}
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 8, MailboxSize: 16, Logger: roomstest.DiscardLogger}, game)
	h.C.SetSettle(nil) // the clock is advanced concurrently below
	var ids []string
	for r := range nRooms {
		id := h.Create("serial", fmt.Sprint("r", r, "p0"), nil)
		for p := 1; p < perRoom; p++ {
			h.Join(id, fmt.Sprint("r", r, "p", p))
		}
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	for r, id := range ids {
		for p := range perRoom {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sess := roomstest.Session(fmt.Sprint("r", r, "p", p))
				for i := 0; i < msgs; {
					switch err := h.M.Deliver(id, sess, rooms.Message{Type: "m"}); {
					case err == nil:
						i++
					case errors.Is(err, rooms.ErrMailboxFull):
						runtime.Gosched()
					default:
						t.Error(err)
						return
					}
					if i%50 == 0 {
						_ = h.M.Do(id, func(*rooms.Ctx) {})
						h.M.Detached(sess)
						h.M.Attached(sess)
					}
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			h.C.Advance(time.Millisecond)
		}
	}()
	wg.Wait()
	h.Settle()
	if v := violations.Load(); v != 0 {
		t.Errorf("%d overlapping hook calls", v)
	}
	if got, want := applied.Load(), int64(nRooms*perRoom*msgs); got != want {
		t.Errorf("applied %d messages; want %d", got, want)
	}
}

// TestConcurrencyDetectorDetects shows the detector above is not vacuous:
// two overlapping calls of one room's hooks are caught.
func TestConcurrencyDetectorDetects(t *testing.T) {
	var violations, applied atomic.Int64
	both := make(chan struct{})
	var arrived atomic.Int32
	s := &serial{violations: &violations, applied: &applied, pause: func() {
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
		case <-time.After(roomstest.SettleTimeout):
		}
	}}
	s.atomicOnly = true
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.hook(nil)
		}()
	}
	wg.Wait()
	if violations.Load() == 0 {
		t.Error("overlapping hooks went unnoticed")
	}
}

// TestPanicClosesOnlyThatRoom: a panic in a hook closes its room with a
// reason; the executor survives and other rooms keep working.
func TestPanicClosesOnlyThatRoom(t *testing.T) {
	g := &hooks{
		create: func(_ *rooms.Ctx, o rooms.Options) error {
			if o["panic"] != "" {
				panic("in OnCreate")
			}
			return nil
		},
		join: func(_ *rooms.Ctx, p *rooms.Player) error {
			if p.ID() == "crash" {
				panic("in OnJoin")
			}
			return nil
		},
		message: func(c *rooms.Ctx, _ *rooms.Player, m rooms.Message) error {
			if m.Type == "boom" {
				c.Broadcast("half-done", nil) // not sent: the failed hook's output is dropped
				panic("in OnMessage")
			}
			c.Broadcast("echo", m.Data)
			return nil
		},
	}
	h := roomstest.New(t, rooms.ManagerOptions{Executors: 1, Logger: roomstest.DiscardLogger}, probeGame(g))
	a := h.Create("probe", "ann", nil)
	h.Spectate(a, "sue")
	b := h.Create("probe", "bob", nil)
	h.Send(a, "ann", "boom", nil)
	for _, who := range []string{"ann", "sue"} {
		if got := field(t, h, who, "closed", "reason"); got != rooms.ReasonInternalError {
			t.Errorf("%s: closed reason = %v", who, got)
		}
	}
	if n := h.T.Count(roomstest.Session("ann"), "half-done"); n != 0 {
		t.Error("the panicking hook's broadcast was sent")
	}
	if got := field(t, h, "ann", "error", "reason"); got != rooms.ReasonInternalError {
		t.Errorf("the panicking message's answer = %v", got)
	}
	if _, ok := h.M.Room(a); ok {
		t.Error("the panicked room still exists")
	}
	if err := h.M.Deliver(a, roomstest.Session("ann"), rooms.Message{Type: "x"}); !errors.Is(err, rooms.ErrNoRoom) {
		t.Errorf("Deliver to panicked room = %v", err)
	}
	if n := g.log.count("dispose"); n != 0 {
		t.Errorf("OnDispose ran %d times after a panic", n)
	}
	// The other room, on the same single executor, still works.
	h.Send(b, "bob", "ping", 1)
	if _, ok := h.T.Last(roomstest.Session("bob"), "echo"); !ok {
		t.Error("the other room stopped working")
	}
	// Panics in OnJoin and OnCreate reject the joiner.
	h.Join(b, "crash")
	if got := field(t, h, "crash", "join-rejected", "reason"); got != rooms.ReasonInternalError {
		t.Errorf("panic in OnJoin: join-rejected = %v", got)
	}
	c := h.Create("probe", "cat", rooms.Options{"panic": "yes"})
	if got := field(t, h, "cat", "join-rejected", "reason"); got != rooms.ReasonInternalError {
		t.Errorf("panic in OnCreate: join-rejected = %v", got)
	}
	if _, ok := h.M.Room(c); ok || h.M.NumRooms() != 0 {
		t.Errorf("rooms left: %d", h.M.NumRooms())
	}
}

// TestNimGameOverWire plays a whole nim game through the Manager.
func TestNimGameOverWire(t *testing.T) {
	h, id := nimRoom(t, rooms.ManagerOptions{})
	seq := map[string]int{}
	for i, n := range []int{3, 1, 2, 1} { // 7 stones; bob takes the last
		who := []string{"ann", "bob"}[i%2]
		seq[who]++
		if err := h.M.Deliver(id, roomstest.Session(who), rooms.Message{Type: "take", MoveID: fmt.Sprint(i), Seq: seq[who], Data: json.RawMessage(fmt.Sprint(n))}); err != nil {
			t.Fatal(err)
		}
		h.Settle()
	}
	res := data(t, h.Last("ann", "finished"))["result"].(map[string]any)
	if res["winner"] != "bob" {
		t.Errorf("result = %v", res)
	}
	_ = nim.Game
}
