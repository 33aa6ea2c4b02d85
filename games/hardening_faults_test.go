package games

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
)

// TestHardeningMassKill: 5,000 stream clients, seated in pairs in 2,500
// nim games (engine, hub, rooms and lobby wired as in the example), are
// killed at once (every connection reset). Every session detaches; after
// the detach grace every seat enters its reconnect window (the room is
// still there, its players shown disconnected); no room is disposed before
// the window has passed, and every one is disposed soon after; the sessions'
// leases run out, leaving none; and the goroutine count returns to its
// baseline. Two rounds: the heap after the second is no larger than after
// the first. Windows and leases are shortened for the test.
func TestHardeningMassKill(t *testing.T) {
	const (
		grace   = 200 * time.Millisecond // the hub's detach grace
		window  = 2 * time.Second        // reconnect window
		lease   = 3 * time.Second        // SessionTimeout
		onTime  = 5 * time.Second        // slack for thousands of timers firing under -race
		roomGap = -1                     // EmptyGrace: an empty room goes at once
	)
	n := testkit.Scale(2000, 5000)
	game := nim.Game
	game.ReconnectWindow = window
	game.EmptyGrace = roomGap
	th := startGames(t, Config{
		HTTP:  engine.Config{MaxConnsPerAddr: -1},
		Comet: comet.Config{MaxSessionsPerAddr: -1, SessionTimeout: lease, Heartbeat: lease / 2, DetachGrace: grace},
		Games: []rooms.Game{game},
		Lobby: lobby.Options{AwayGrace: window},
	})
	m, lb := th.m, th.lb
	// What the rooms report, in their order: when each was disposed, and
	// whether it showed both its seats held disconnected (after the kill)
	// before that. Observed from the rooms' own changes, not by polling
	// against the window: on a machine saturated by other work a poll may
	// come late, the rooms' order does not.
	var (
		disposedMu sync.Mutex
		disposed   []time.Time
		afterKill  atomic.Bool
		seenHeld   = map[string]time.Time{}
		notHeld    []string // rooms disposed without having shown their seats held
	)
	m.OnRoomChange(func(info rooms.RoomInfo, removed bool) {
		disposedMu.Lock()
		defer disposedMu.Unlock()
		if removed {
			disposed = append(disposed, time.Now())
			if _, ok := seenHeld[info.ID]; !ok && afterKill.Load() {
				notHeld = append(notHeld, info.ID)
			}
			return
		}
		if !afterKill.Load() || len(info.Players) != 2 {
			return
		}
		for _, p := range info.Players {
			if p.Connected {
				return
			}
		}
		if _, ok := seenHeld[info.ID]; !ok {
			seenHeld[info.ID] = time.Now()
		}
	})

	runtime.GC()
	baseG := runtime.NumGoroutine()
	var firstHeap uint64
	for round := range 2 {
		disposedMu.Lock()
		disposed, notHeld = nil, nil
		clear(seenHeld)
		disposedMu.Unlock()
		afterKill.Store(false)
		conns := make([]net.Conn, n)
		t.Cleanup(func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		})
		var roomIDs []string
		var first rooms.PlayerInfo
		setup := time.Now()
		for i := range n {
			s, err := th.hub.Join(comet.FormatJSON)
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.DialTimeout("tcp", th.srv.Addr(), testkit.Timeout)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			conns[i] = c
			fmt.Fprintf(c, "GET /comet?p_event=listen&p_id=%s HTTP/1.1\r\nHost: x\r\n\r\n", s.ID())
			p := rooms.PlayerInfo{SessionID: s.ID(), PlayerID: fmt.Sprint("p", i), Name: fmt.Sprint("P", i)}
			if i%2 == 0 {
				first = p
				continue
			}
			id, err := m.Create("nim", first, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Join(id, p); err != nil {
				t.Fatal(err)
			}
			roomIDs = append(roomIDs, id)
		}
		testkit.EventuallyWithin(t, 4*testkit.Timeout, "every client listening and every game started", func() bool {
			return th.hub.Stats().StreamListeners == int64(n) && m.Stats().Rooms[rooms.StatePlaying] == int64(n/2)
		})
		held := time.Since(setup)
		// The kill starts with the first reset: a room whose players were
		// reset first hears of it that much earlier than the last one.
		killed := time.Now()
		afterKill.Store(true)
		for _, c := range conns {
			testkit.ResetClose(c)
		}
		clear(conns) // the client's sockets must not count in the heap below

		testkit.EventuallyWithin(t, testkit.Timeout, "every session detached", func() bool { return th.hub.Stats().StreamListeners == 0 })
		testkit.EventuallyWithin(t, grace+window+onTime, "every room disposed", func() bool {
			disposedMu.Lock()
			defer disposedMu.Unlock()
			return m.NumRooms() == 0 && len(disposed) == n/2
		})
		roomsGone := time.Since(killed)
		disposedMu.Lock()
		// Every seat was held: each room showed its players disconnected
		// before it went.
		if len(notHeld) > 0 || len(seenHeld) != len(roomIDs) {
			t.Fatalf("%d of %d rooms disposed without showing both seats held disconnected first (e.g. %v)", len(notHeld), len(roomIDs), notHeld[:min(len(notHeld), 3)])
		}
		var seatsHeld time.Duration
		for _, at := range seenHeld {
			seatsHeld = max(seatsHeld, at.Sub(killed))
		}
		for _, at := range disposed {
			// A seat is held for the window from when the room heard of the
			// detach, which was at least the grace after the kill.
			if at.Sub(killed) < window {
				t.Fatalf("a room was disposed %v after the kill, before its reconnect window of %v", at.Sub(killed), window)
			}
		}
		disposedMu.Unlock()
		testkit.EventuallyWithin(t, lease+onTime, "every session's lease to run out", func() bool { return th.hub.NumSessions() == 0 })
		if st := lb.Stats(); st.PlayersOnline != 0 {
			t.Fatalf("lobby: %d players online", st.PlayersOnline)
		}
		testkit.EventuallyWithin(t, testkit.Timeout, "the goroutines to return to their baseline", func() bool { return runtime.NumGoroutine() <= baseG })
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		t.Logf("round %d: %d clients in %d games (set up in %v) killed; seats held disconnected after %v, rooms disposed after %v, sessions ended after %v; heap allocated %d KiB",
			round, n, n/2, held.Round(time.Millisecond), seatsHeld.Round(time.Millisecond), roomsGone.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), ms.HeapAlloc>>10)
		// The first round grows maps and pools to their working size; what a
		// second one adds is what it leaked. The slack (1 MiB and 64 bytes
		// a client) covers what the rest of a shuffled package run does
		// meanwhile; what a client's session, seat and room leave behind
		// when leaked is far more.
		if round == 0 {
			firstHeap = ms.HeapAlloc
		} else if ms.HeapAlloc > firstHeap+1<<20+uint64(n)*64 {
			t.Fatalf("heap allocated %d KiB after the second round, %d KiB after the first", ms.HeapAlloc>>10, firstHeap>>10)
		}
	}
}
