package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
		grace   = 200 * time.Millisecond // Games detach grace
		window  = 2 * time.Second        // reconnect window
		lease   = 3 * time.Second        // SessionTimeout
		onTime  = 5 * time.Second        // slack for thousands of timers firing under -race
		roomGap = -1                     // EmptyGrace: an empty room goes at once
	)
	n := testkit.Scale(2000, 5000)
	th := newTestHub(t, HubConfig{MaxSessionsPerAddr: -1, SessionTimeout: lease}, Config{MaxConnsPerAddr: -1})
	g := NewGames(th.hub)
	g.SetDetachGrace(grace)
	game := nim.Game
	game.ReconnectWindow = window
	game.EmptyGrace = roomGap
	m := rooms.NewManager(g, rooms.ManagerOptions{Logger: testLogger(t)})
	if err := m.Register(game); err != nil {
		t.Fatal(err)
	}
	lb := lobby.New(m, g, lobby.Options{Logger: testLogger(t), AwayGrace: window})
	if err := g.Mount(m, lb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	var disposedMu sync.Mutex
	var disposed []time.Time
	m.OnRoomChange(func(info rooms.RoomInfo, removed bool) {
		if removed {
			disposedMu.Lock()
			disposed = append(disposed, time.Now())
			disposedMu.Unlock()
		}
	})

	runtime.GC()
	baseG := runtime.NumGoroutine()
	var firstHeap uint64
	for round := range 2 {
		disposedMu.Lock()
		disposed = nil
		disposedMu.Unlock()
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
			s, err := th.hub.Join(FormatJSON)
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
		eventually(t, 4*testkit.Timeout, "every client listening and every game started", func() bool {
			return th.hub.Stats().StreamListeners == int64(n) && m.Stats().Rooms[rooms.StatePlaying] == int64(n/2)
		})
		held := time.Since(setup)
		// The kill starts with the first reset: a room whose players were
		// reset first hears of it that much earlier than the last one.
		killed := time.Now()
		for _, c := range conns {
			testkit.ResetClose(c)
		}
		clear(conns) // the client's sockets must not count in the heap below

		eventually(t, testkit.Timeout, "every session detached", func() bool { return th.hub.Stats().StreamListeners == 0 })
		// Every seat is held: each room is still there, its players shown
		// disconnected, before the window has run out.
		eventually(t, window, "every seat to be held disconnected", func() bool {
			for _, id := range roomIDs {
				info, ok := m.Room(id)
				if !ok {
					t.Fatalf("room %s disposed %v after the kill, within the reconnect window", id, time.Since(killed))
				}
				for _, p := range info.Players {
					if p.Connected {
						return false
					}
				}
			}
			return true
		})
		seatsHeld := time.Since(killed)
		eventually(t, grace+window+onTime, "every room disposed", func() bool {
			disposedMu.Lock()
			defer disposedMu.Unlock()
			return m.NumRooms() == 0 && len(disposed) == n/2
		})
		roomsGone := time.Since(killed)
		disposedMu.Lock()
		for _, at := range disposed {
			// A seat is held for the window from when the room heard of the
			// detach, which was at least the grace after the kill.
			if at.Sub(killed) < window {
				t.Fatalf("a room was disposed %v after the kill, before its reconnect window of %v", at.Sub(killed), window)
			}
		}
		disposedMu.Unlock()
		eventually(t, lease+onTime, "every session's lease to run out", func() bool { return th.hub.NumSessions() == 0 })
		if st := lb.Stats(); st.PlayersOnline != 0 {
			t.Fatalf("lobby: %d players online", st.PlayersOnline)
		}
		eventually(t, testkit.Timeout, "the goroutines to return to their baseline", func() bool { return runtime.NumGoroutine() <= baseG })
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

// TestHardeningLongPollVanish: a long-poll client refreshes round after
// round while events are published; in random rounds it vanishes (its
// connection reset) while its refresh is parked, right after sending it, or
// while the answer is being written (it read part of it). Its next refresh,
// on a new connection, carries p_last = the last event of the last answer it
// read whole, and the events of the lost answers come again: in the end it
// has every event exactly once, in order, without a gap. The seed is logged.
func TestHardeningLongPollVanish(t *testing.T) {
	rounds := testkit.Scale(300, 3000)
	th := newTestHub(t, HubConfig{Window: 1024, MaxSessionsPerAddr: -1})
	rng := testkit.Rand(t)
	id := th.join(FormatJSON)
	th.do(FormatJSON, q("p_event", "subscribe", "p_id", id, "p_subject", "/feed"))
	th.do(FormatJSON, q("p_event", "listen", "p_id", id, "p_mode", "pull"))
	s := th.hub.Session(id)
	th.hc.CloseIdleConnections() // from here on, only this test's raw connections
	eventually(t, testkit.Timeout, "the setup's connections to close", func() bool { return th.srv.conns.Load() == 0 })
	acceptedBase, dialed := th.srv.stats.accepted.Load(), int64(0)

	published := 0
	var got []int   // "i" of every data event received in whole answers
	var last uint64 // p_seq of the last of them
	publish := func(k int) {
		for range k {
			// Some events are large, so that an answer spans many packets.
			v := strings.Repeat("x", rng.IntN(4)*rng.IntN(8<<10))
			th.hub.Publish("/feed", "i", strconv.Itoa(published), "v", v)
			published++
		}
	}
	refresh := func() net.Conn {
		c, err := net.DialTimeout("tcp", th.srv.Addr(), testkit.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		dialed++
		fmt.Fprintf(c, "GET /comet?%s HTTP/1.1\r\nHost: x\r\n\r\n", q("p_event", "refresh", "p_id", id, "p_last", strconv.FormatUint(last, 10)))
		return c
	}
	// whole reads a complete answer and records its events.
	whole := func(c net.Conn) {
		t.Helper()
		defer c.Close()
		hc := &testkit.Conn{T: t, C: c, BR: bufio.NewReader(c)}
		r := hc.Next("GET")
		var evs []map[string]string
		if err := json.Unmarshal([]byte(r.Text), &evs); err != nil {
			t.Fatalf("answer %q: %v", r.Text, err)
		}
		for _, e := range evs {
			switch e["p_event"] {
			case "data":
				i, _ := strconv.Atoi(e["i"])
				got = append(got, i)
				last, _ = strconv.ParseUint(e["p_seq"], 10, 64)
			case "gap":
				t.Fatalf("gap: %v", e)
			}
		}
	}
	parked := func() bool { return s.Listening() }
	counts := map[string]int{}
	for round := range rounds {
		// Every earlier connection has been accepted and closed by the
		// server: a vanished client's refresh cannot arrive late and take
		// over this round's (a newer refresh ends an older one; that is the
		// protocol, not what this test is about).
		eventually(t, testkit.Timeout, "the earlier connections to be accepted and closed", func() bool {
			return th.srv.stats.accepted.Load()-acceptedBase == dialed && th.srv.conns.Load() == 0
		})
		publish(rng.IntN(5))
		switch k := rng.IntN(6); {
		case k == 0 && len(got) == published:
			// Vanish while parked; events come while nobody listens.
			c := refresh()
			eventually(t, testkit.Timeout, "the refresh to park", parked)
			testkit.ResetClose(c)
			eventually(t, testkit.Timeout, "the parked refresh to detach", func() bool { return !parked() })
			publish(1 + rng.IntN(3))
			counts["vanished while parked"]++
		case k == 1 && len(got) == published:
			// Vanish while parked, as the answer is written: an event
			// arrives and the client resets the connection at once.
			c := refresh()
			eventually(t, testkit.Timeout, "the refresh to park", parked)
			publish(1 + rng.IntN(3))
			testkit.ResetClose(c)
			counts["vanished as the parked answer was written"]++
		case k == 2:
			// Vanish right after sending the refresh.
			testkit.ResetClose(refresh())
			counts["vanished after sending"]++
		case k == 3 && published > len(got):
			// Vanish mid-answer: read a part of it, then reset.
			c := refresh()
			c.SetReadDeadline(time.Now().Add(testkit.Timeout))
			io.ReadFull(c, make([]byte, 1+rng.IntN(300)))
			testkit.ResetClose(c)
			counts["vanished mid-answer"]++
		default:
			if published == len(got) {
				publish(1) // a whole answer needs something to answer with
			}
			whole(refresh())
			counts["read whole"]++
		}
		if round%50 == 0 && t.Failed() {
			return
		}
	}
	// The client comes back for good: everything not yet read arrives.
	for len(got) < published {
		whole(refresh())
	}
	t.Logf("%d rounds, %d events: %v", rounds, published, counts)
	if len(got) != published {
		t.Fatalf("got %d events; published %d", len(got), published)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d is %d: every event exactly once and in order was expected (got %v…)", i, v, got[max(0, i-5):min(len(got), i+5)])
		}
	}
}
