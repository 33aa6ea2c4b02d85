package lobby_test

// What one client address can make the lobby do: its share of the lobby's
// queue, the rate of its "list" pages and what each page costs, and the
// rooms it may leave waiting (issue 17: a list flood from one address filled
// the queue and new players got "lobby: busy"; 40 sessions made 5,000 rooms
// in 5 s).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// from sends an action from a client address.
func (e *env) from(addr, s, action string, kv ...string) error {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return e.l.Handle(s, lobby.Request{Action: action, Fields: f, RemoteAddr: addr})
}

// TestAddressShareOfTheQueue: while the lobby goroutine is held up, the
// sessions of one address flooding it (list, create, chat, quickplay, as
// many as they can) get at most QueuePerAddr actions into its queue, then
// "too many requests from your address"; an IPv6 neighbour in the same /64
// shares that share. A new player from another address (and one without an
// address) is not refused: its hello is queued and answered with welcome.
// Once the flood's actions are done, the address may act again.
func TestAddressShareOfTheQueue(t *testing.T) {
	for _, tc := range []struct{ addr, other string }{
		{"192.0.2.66", "192.0.2.66"},
		{"[2001:db8::1]:5000", "2001:db8::2"}, // one /64
	} {
		t.Run(tc.addr, func(t *testing.T) { testAddressShare(t, tc.addr, tc.other) })
	}
}

func testAddressShare(t *testing.T, addr, other string) {
	const share = 8
	bt := &blockingTransport{Transport: roomstest.NewTransport(), session: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, lobby.Options{QueueSize: 64, QueuePerAddr: share, ChatRate: 1000, ChatLobbyRate: 1000, ListRate: 1000}, bt)
	e.tr = bt.Transport
	var flood []string
	for i := range 20 {
		s := fmt.Sprint("flood", i)
		if err := e.from(addr, s, "hello", "name", fmt.Sprint("Flood", i)); err != nil {
			t.Fatal(err)
		}
		e.wait(s, "welcome", nil)
		flood = append(flood, s)
	}
	e.settle()
	// The lobby goroutine is held in Send to "slow".
	if err := e.do("slow", "hello", "name", "Slow"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bt.entered:
	case <-time.After(timeout):
		t.Fatal("lobby never sent")
	}
	accepted, refused := 0, 0
	actions := [][]string{{"list", "what", "rooms"}, {"create", "game", "nim"}, {"chat", "text", "spam"}, {"quickplay", "game", "nim"}, {"list", "what", "players"}}
	for i := range 200 {
		s, a, from := flood[i%len(flood)], actions[i%len(actions)], addr
		if i%2 == 1 {
			from = other
		}
		switch err := e.from(from, s, a[0], a[1:]...); {
		case err == nil:
			accepted++
		case errors.Is(err, lobby.ErrAddrBusy):
			refused++
		default:
			t.Fatalf("%s %v: %v", s, a, err)
		}
	}
	if accepted != share || refused != 200-share {
		t.Errorf("the flood got %d actions queued, %d refused; want %d (its share), %d", accepted, refused, share, 200-share)
	}
	if q := e.l.Stats().Queued; q != share {
		t.Errorf("queued = %d; want the flood's share, %d", q, share)
	}
	if err := e.from("198.51.100.7", "newcomer", "hello", "name", "Newcomer"); err != nil {
		t.Fatalf("a new player from another address: hello = %v; want it queued", err)
	}
	if err := e.do("local", "hello", "name", "Local"); err != nil {
		t.Fatalf("a session without an address: hello = %v; want it queued", err)
	}
	close(bt.release)
	e.wait("newcomer", "welcome", nil)
	e.wait("local", "welcome", nil)
	e.settle()
	if err := e.from(addr, flood[0], "list", "what", "rooms"); err != nil {
		t.Errorf("after the flood was served: %v; want the address free again", err)
	}
}

// TestHelloKeepsItsPlace: a hello keeps its place in its address's share
// while the Authenticator works on it, so one address cannot fill the
// Authenticator's queue either.
func TestHelloKeepsItsPlace(t *testing.T) {
	gate := make(chan struct{})
	auth := rooms.AuthFunc(func(ctx context.Context, r rooms.AuthRequest) (rooms.Identity, error) {
		if r.RemoteAddr == "192.0.2.66" {
			select {
			case <-gate:
			case <-ctx.Done():
				return rooms.Identity{}, ctx.Err()
			}
		}
		return rooms.Guest.Authenticate(ctx, r)
	})
	e := newEnv(t, lobby.Options{Auth: auth, QueuePerAddr: 3, AuthWorkers: 2, AuthTimeout: time.Hour}, nil)
	for i := range 3 {
		if err := e.from("192.0.2.66", fmt.Sprint("a", i), "hello", "name", fmt.Sprint("A", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.settle() // the hellos are with the Authenticator now, not in the queue
	if q := e.l.Stats().Queued; q != 0 {
		t.Fatalf("queued = %d; want 0", q)
	}
	if err := e.from("192.0.2.66", "a3", "hello", "name", "A3"); !errors.Is(err, lobby.ErrAddrBusy) {
		t.Fatalf("a 4th hello while 3 are authenticated: %v; want ErrAddrBusy", err)
	}
	close(gate)
	for i := range 3 {
		e.wait(fmt.Sprint("a", i), "welcome", nil)
	}
	e.settle()
	if err := e.from("192.0.2.66", "a3", "hello", "name", "A3"); err != nil {
		t.Fatalf("after the welcomes: %v", err)
	}
	e.wait("a3", "welcome", nil)
}

// TestListRate: a session may list ListRate pages in any ListPer; more are
// refused at once, not queued. Other sessions have their own.
func TestListRate(t *testing.T) {
	e := newEnv(t, lobby.Options{ListRate: 3, ListPer: 10 * time.Second}, nil)
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	for i := range 3 {
		e.must("ann", "list", "what", "rooms", "req", fmt.Sprint(i))
	}
	if err := e.do("ann", "list", "what", "players"); !errors.Is(err, lobby.ErrRateLimited) {
		t.Errorf("4th list in the window: %v; want ErrRateLimited", err)
	}
	e.must("bob", "list", "what", "rooms")
	e.c.Advance(10*time.Second - time.Millisecond)
	if err := e.do("ann", "list", "what", "rooms"); !errors.Is(err, lobby.ErrRateLimited) {
		t.Errorf("before the window passed: %v; want ErrRateLimited", err)
	}
	e.c.Advance(time.Millisecond)
	e.must("ann", "list", "what", "rooms")
	e.settle()
	if n := e.count("ann", "page"); n != 4 {
		t.Errorf("ann got %d pages; want 4", n)
	}
}

// TestCreateCaps: through the lobby, a player may leave only
// rooms.DefaultMaxWaitingPerPlayer rooms waiting, and the players of one
// address rooms.DefaultMaxWaitingPerAddr; past them "create" is answered
// with an error event saying so, and nothing is created.
func TestCreateCaps(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	const addr = "203.0.113.5"
	perPlayer, perAddr := rooms.DefaultMaxWaitingPerPlayer, rooms.DefaultMaxWaitingPerAddr
	players := perAddr/perPlayer + 1
	created, refused := 0, map[string]int{}
	for p := range players {
		s := fmt.Sprint("p", p)
		if err := e.from(addr, s, "hello", "name", fmt.Sprint("P", p)); err != nil {
			t.Fatal(err)
		}
		e.wait(s, "welcome", nil)
		for i := range perPlayer + 1 {
			req := fmt.Sprint(s, "-", i)
			if err := e.from(addr, s, "create", "game", "nim", "req", req); err != nil {
				t.Fatal(err)
			}
			e.settle()
			if r, ok := e.tr.Last(s, "created"); ok && r.Map()["req"] == req {
				created++
				continue
			}
			r, ok := e.tr.Last(s, "error")
			if !ok || r.Map()["req"] != req || r.Map()["action"] != "create" {
				t.Fatalf("%s: neither created nor an error", req)
			}
			reason := r.Map()["reason"].(string)
			if !strings.HasPrefix(reason, rooms.ErrTooManyRooms.Error()) {
				t.Fatalf("%s: error %q; want %q", req, reason, rooms.ErrTooManyRooms)
			}
			refused[reason[len(rooms.ErrTooManyRooms.Error()):]]++
		}
	}
	if created != perAddr {
		t.Errorf("%d rooms created from one address; want %d", created, perAddr)
	}
	wantPlayer := players - 1 // each full player's extra create, but the last player's
	if refused[fmt.Sprintf(" (at most %d per player)", perPlayer)] != wantPlayer ||
		refused[fmt.Sprintf(" (at most %d from one address)", perAddr)] != perPlayer+1 {
		t.Errorf("refusals = %v; want %d per player, %d per address", refused, wantPlayer, perPlayer+1)
	}
	if n := e.m.NumRooms(); n != perAddr {
		t.Errorf("%d rooms; want %d", n, perAddr)
	}
}

// listAlloc returns the bytes allocated per "list" of the rooms' second
// page, with n rooms in the lobby.
func listAlloc(t testing.TB, n, lists int) float64 {
	e := newEnv(t.(*testing.T), lobby.Options{ListRate: lists + 1}, nil)
	fillRooms(t, e.m, n)
	e.hello("ann", "Ann")
	// Liveness bounds: 20,000 rooms listed, and 200 pages of them, on a
	// starved machine under -race may take longer than the other tests'
	// waits.
	e.settleWithin(6 * timeout)
	if got := e.page("ann", "rooms", 0)["count"]; got != float64(n) {
		t.Fatalf("count = %v; want %d", got, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*timeout)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range lists {
		if err := e.do("ann", "list", "what", "rooms", "offset", "30"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := e.count("ann", "page"); got != lists+1 {
		t.Fatalf("%d pages; want %d", got, lists+1)
	}
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(lists)
}

// TestListCostIndependentOfRooms: a "list" page costs the page, not the
// list: the bytes the lobby allocates for one (its page's event, the
// recording transport's copy) are about the same with 1,000 rooms as with
// 20,000. Copying and sorting every room per request, as "list" used to,
// allocated 20× as much at 20,000 rooms (≈2.3 MB a page) and ran on the
// lobby's one goroutine. Bytes, not time: CPU contention cannot change them.
func TestListCostIndependentOfRooms(t *testing.T) {
	small, large := listAlloc(t, 1000, 200), listAlloc(t, 20000, 200)
	t.Logf("bytes allocated per list: %.0f with 1,000 rooms, %.0f with 20,000 (×%.2f)", small, large, large/small)
	if large > 2*small {
		t.Errorf("a list allocates %.0f bytes with 20,000 rooms, %.0f with 1,000: it grows with the rooms", large, small)
	}
}

// fillRooms creates n Nim rooms, each waiting with its creator in it (the
// lobby lists no empty room).
func fillRooms(t testing.TB, m *rooms.Manager, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprint("c", i)
		if _, err := m.Create("nim", rooms.PlayerInfo{SessionID: id, PlayerID: id, Name: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// countingTransport discards events, counting them.
type countingTransport struct{ sent atomic.Int64 }

func (c *countingTransport) Send(string, rooms.Event)    { c.sent.Add(1) }
func (c *countingTransport) Publish(string, rooms.Event) {}
func (c *countingTransport) Subscribe(string, string)    {}
func (c *countingTransport) Unsubscribe(string, string)  {}

// BenchmarkList: one "list" page (Handle, then the lobby goroutine: the
// page and its event) with 1,000 and 20,000 rooms in the lobby.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprint("rooms=", n), func(b *testing.B) {
			m, l, ctx := benchLobby(b, rooms.ManagerOptions{}, lobby.Options{ListRate: 2*b.N + 10}, "", func(m *rooms.Manager) {
				fillRooms(b, m, n)
			})
			if m.WaitIdle(ctx) != nil || l.Sync(ctx) != nil {
				b.Fatal("setup timed out")
			}
			handleAll(ctx, b, l, lobby.Request{Action: "list", Fields: map[string]string{"what": "rooms", "offset": "30"}})
		})
	}
}

// BenchmarkWaitingRoom: what one waiting room costs, created through the
// lobby by a seated creator (the unit of the per-player and per-address
// caps): the time of a "create" (Handle, the lobby goroutine, OnCreate and
// the creator's seat on an executor, the lobby's lists) and the heap it
// keeps (retained-B/room, after a garbage collection).
func BenchmarkWaitingRoom(b *testing.B) {
	m, l, ctx := benchLobby(b, rooms.ManagerOptions{MaxWaitingPerPlayer: -1, MaxWaitingPerAddr: -1}, lobby.Options{}, "192.0.2.1", nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	handleAll(ctx, b, l, lobby.Request{Action: "create", Fields: map[string]string{"game": "nim"}, RemoteAddr: "192.0.2.1"})
	if m.WaitIdle(ctx) != nil || l.Sync(ctx) != nil || m.WaitIdle(ctx) != nil || l.Sync(ctx) != nil {
		b.Fatal("timed out")
	}
	b.StopTimer()
	if n := m.NumRooms(); n != b.N {
		b.Fatalf("%d rooms; want %d", n, b.N)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "retained-B/room")
}

// BenchmarkChat: the lobby's side of one chat message (Handle's checks and
// rates, the lobby goroutine, encoding the event once); delivering it costs
// the engine about 90 ns per lobby subscriber (engine
// BenchmarkPublishFanout).
func BenchmarkChat(b *testing.B) {
	_, l, ctx := benchLobby(b, rooms.ManagerOptions{}, lobby.Options{ChatRate: 1 << 30, ChatLobbyRate: 1 << 30}, "", nil)
	handleAll(ctx, b, l, lobby.Request{Action: "chat", Fields: map[string]string{"text": strings.Repeat("é", lobby.DefaultChatMaxLen)}})
}

// benchLobby starts a Manager with nim (options mo), lets setup act on it,
// then starts a lobby on it (options o) over a transport that discards
// everything, and says hello as "ann" from addr. Both stop in b.Cleanup.
func benchLobby(b *testing.B, mo rooms.ManagerOptions, o lobby.Options, addr string, setup func(*rooms.Manager)) (*rooms.Manager, *lobby.Lobby, context.Context) {
	tr := &countingTransport{}
	mo.Clock, mo.Logger = roomstest.NewClock(), roomstest.DiscardLogger
	m := rooms.NewManager(tr, mo)
	if err := m.Register(nim.Game); err != nil {
		b.Fatal(err)
	}
	if setup != nil {
		setup(m)
	}
	o.Clock, o.Logger = roomstest.NewClock(), roomstest.DiscardLogger
	l := lobby.New(m, tr, o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	b.Cleanup(func() {
		l.Close()
		m.Shutdown(ctx)
		cancel()
	})
	if err := l.Handle("ann", lobby.Request{Action: "hello", Fields: map[string]string{"name": "Ann"}, RemoteAddr: addr}); err != nil {
		b.Fatal(err)
	}
	for tr.sent.Load() == 0 { // the welcome
		runtime.Gosched()
	}
	return m, l, ctx
}

// handleAll has "ann" send req b.N times, with the benchmark's timer reset
// first, waiting for the lobby whenever its queue is full, and then for the
// lobby to have done them all.
func handleAll(ctx context.Context, b *testing.B, l *lobby.Lobby, req lobby.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for err := l.Handle("ann", req); err != nil; err = l.Handle("ann", req) {
			if !errors.Is(err, lobby.ErrBusy) && !errors.Is(err, lobby.ErrAddrBusy) {
				b.Fatal(err)
			}
			if err := l.Sync(ctx); err != nil { // let the lobby catch up
				b.Fatal(err)
			}
		}
	}
	if err := l.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}
