package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// hardMove is one move a game driver sent and got a publish-ack for.
type hardMove struct {
	mover, opp *hardPlayer
	id         string
	acked      time.Time // when the publish-ack came back
	nth        int       // the room's nth move sent (1-based)
}

// TestHardeningShutdownUnderLoad: the example server (newServer) is shut
// down as main does (rooms, then the lobby, then the server; 5 s deadline)
// while games are being played as fast as their drivers can, and many more
// stream listeners are open. Every stream ends with "abort"; every move
// whose publish-ack arrived before the shutdown began is applied (its mover
// has the "ack") and pushed (its opponent has the "move") before that
// abort, also when the rooms are behind (every executor busy, the last
// moves still in their mailboxes as the shutdown begins); a move acknowledged during the shutdown is applied or answered
// with an error, never lost; the games in progress end without a winner
// (reason "shutdown"); and the shutdown returns within its deadline.
// The seed (the moves, the moment of the shutdown) is logged.
func TestHardeningShutdownUnderLoad(t *testing.T) {
	games := testkit.Scale(40, 200)
	extra := testkit.Scale(200, 2000)
	hs := startHardSite(t, comet.Config{MaxSessionsPerAddr: -1, PublishRate: -1}, 0)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HARDENING_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (replay with HARDENING_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	var all []*hardPlayer
	type table struct{ x, o *hardPlayer }
	tables := make([]table, games)
	for i := range tables {
		a, b := hs.player(fmt.Sprint("A", i)), hs.player(fmt.Sprint("B", i))
		x, o := pair(a, b)
		tables[i] = table{x, o}
		all = append(all, a, b)
	}
	// Other listeners: sessions with a stream and nothing else.
	for i := range extra {
		c, err := cometclient.Join(context.Background(), hs.base, hs.hc)
		if err != nil {
			t.Fatalf("listener %d: %v", i, err)
		}
		p := &hardPlayer{t: t, name: fmt.Sprint("L", i), c: c}
		p.cond = sync.NewCond(&p.mu)
		p.listen()
		all = append(all, p)
	}

	// The drivers play until target moves are acknowledged; then each
	// holds its next move until all are ready, they send them at once, and
	// the shutdown begins as soon as they are all acknowledged: moves the
	// rooms have accepted but not yet processed when it begins.
	var acked atomic.Int64
	target := int64(games * (2 + rng.IntN(4)))
	w := &wave{target: target, acked: &acked, release: make(chan struct{}), ready: make(chan struct{}, games), sent: make(chan struct{}, games)}
	moves := make([][]hardMove, games)
	var drivers sync.WaitGroup
	for g := range tables {
		seed := rng.Uint64()
		drivers.Add(1)
		wd := &waveDriver{wave: w}
		go func() {
			defer drivers.Done()
			defer wd.exit()
			moves[g] = drive(tables[g].x, tables[g].o, g, seed, wd)
		}()
	}
	for range games {
		select {
		case <-w.ready:
		case <-time.After(hardWait):
			t.Fatalf("only %d moves in %v", acked.Load(), hardWait)
		}
	}
	// The rooms fall behind: every executor is held (a hook of one room
	// each, through Manager.Do), so the last wave is accepted, acknowledged
	// and still waiting in the rooms' mailboxes when the shutdown begins.
	execs := hs.s.Rooms().Stats().Executors
	unhold := make(chan struct{})
	for i := range execs {
		if err := hs.s.Rooms().Do(tables[i].x.room, func(*rooms.Ctx) { <-unhold }); err != nil {
			t.Fatal(err)
		}
	}
	hEventuallyT(t, "every executor held", func() bool { return hs.s.Rooms().Stats().ExecutorsBusy == int64(execs) })
	close(w.release)
	for range games {
		hRecvT(t, w.sent, "the last wave of moves to be acknowledged")
	}

	const deadline = 5 * time.Second // main's
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- hs.s.Shutdown(ctx) }()
	// Release the rooms once the shutdown is under way: when a listener
	// gets its abort (which, done right, waits for the rooms), or else
	// after a moment. The verdict does not depend on which comes first.
	aborted := make(chan struct{})
	go func() {
		all[0].tryFind(0, 200*time.Millisecond, func(e cometclient.Event) bool { return e.Name() == "abort" })
		close(aborted)
	}()
	<-aborted
	close(unhold)
	// Shutdown reports the context's error when the deadline passes with
	// work left: nil means every room and connection stopped while the
	// context was live. How long it took is not checked: on a machine
	// saturated by other work this goroutine may run late.
	err := hRecvT(t, shut, "the shutdown")
	took := time.Since(start)
	if err != nil {
		t.Errorf("shutdown after %v (deadline %v): %v", took, deadline, err)
	}
	drained := make(chan struct{})
	go func() { drivers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(hardWait):
		t.Fatal("game drivers still running after the shutdown")
	}

	// Every listener got abort, last.
	for _, p := range all {
		if _, ok := p.tryFind(0, 2*time.Second, func(e cometclient.Event) bool { return e.Name() == "abort" }); !ok {
			evs := p.events()
			last := "none"
			if len(evs) > 0 {
				last = evs[len(evs)-1].Name()
			}
			t.Fatalf("%s: no abort (last event %s)", p.name, last)
		}
		if _, ok := p.tryFind(0, hardWait, func(cometclient.Event) bool { return false }); ok || !p.streamEnded() {
			t.Fatalf("%s: the stream did not end after abort", p.name)
		}
		if evs := p.events(); evs[len(evs)-1].Name() != "abort" {
			t.Fatalf("%s: events after abort: %v", p.name, evs[len(evs)-1])
		}
	}
	// A shutdown is nobody's win: no room closes with its game still in
	// progress (the runtime ends it first), and a game ended by the
	// shutdown has no winner.
	stopped := 0
	for g, tb := range tables {
		for _, p := range []*hardPlayer{tb.x, tb.o} {
			state := ""
			for _, e := range p.events() {
				if e.Name() != "data" || e["p_subject"] != "/room/"+p.room {
					continue
				}
				switch e["type"] {
				case "room-state":
					var d struct{ State string }
					json.Unmarshal([]byte(e["data"]), &d)
					state = d.State
				case "finished":
					var d struct{ Result map[string]any }
					json.Unmarshal([]byte(e["data"]), &d)
					if d.Result["reason"] == "shutdown" {
						if p == tb.x {
							stopped++
						}
						if d.Result["winner"] != nil {
							t.Fatalf("game %d: the shutdown gave %s's game to %v", g, p.name, d.Result["winner"])
						}
					}
				case "closed":
					if state == "playing" {
						t.Fatalf("game %d: %s's room closed with its game in progress", g, p.name)
					}
				}
			}
		}
	}
	t.Logf("%d games in progress ended by the shutdown, without a winner", stopped)
	// Every move acknowledged before the shutdown: applied and pushed.
	before, during, errored := 0, 0, 0
	for g, ms := range moves {
		for _, m := range ms {
			ack := hasRoomEvent(m.mover, "ack", m.id)
			if m.acked.Before(start) {
				before++
				if !ack {
					t.Fatalf("game %d: move %s acknowledged %v before the shutdown was never applied", g, m.id, start.Sub(m.acked))
				}
				if n := m.opp.countRoom("move", m.mover.room); n < m.nth {
					t.Fatalf("game %d: move %s (the room's %dth) acknowledged before the shutdown; the opponent got %d moves before abort", g, m.id, m.nth, n)
				}
				continue
			}
			during++
			if !ack {
				if !hasRoomEvent(m.mover, "error", m.id) {
					t.Fatalf("game %d: move %s acknowledged during the shutdown was neither applied nor refused", g, m.id)
				}
				errored++
			}
		}
	}
	t.Logf("%d games, %d other listeners; shutdown after %d moves took %v; %d moves acknowledged before it, all applied and pushed; %d during it (%d refused with an error)",
		games, extra, before, took.Round(time.Millisecond), before, during, errored)
}

// streamEnded reports whether the player's stream has ended.
func (p *hardPlayer) streamEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// hasRoomEvent reports whether p received a room event typ about move id.
func hasRoomEvent(p *hardPlayer, typ, id string) bool {
	for _, e := range p.events() {
		if e["type"] != typ {
			continue
		}
		var d struct{ Move string }
		if json.Unmarshal([]byte(e["data"]), &d) == nil && d.Move == id {
			return true
		}
	}
	return false
}

// countRoom counts the data events of type typ of room that p received.
func (p *hardPlayer) countRoom(typ, room string) int {
	n := 0
	for _, e := range p.events() {
		if e.Name() == "data" && e["type"] == typ && e["p_subject"] == "/room/"+room {
			n++
		}
	}
	return n
}

// wave coordinates the drivers' last moves before the shutdown: once
// target moves are acknowledged, each driver reports ready before its next
// move and waits for release; after its publish-ack, it reports sent. A
// driver that stops first reports both.
type wave struct {
	target      int64
	acked       *atomic.Int64
	release     chan struct{}
	ready, sent chan struct{}
}

// waveDriver is one driver's part in the wave.
type waveDriver struct {
	*wave
	readied, sentDone bool
}

// before is called before each move; it reports whether this is the wave's.
func (w *waveDriver) before() bool {
	if w.readied || w.acked.Load() < w.target {
		return false
	}
	w.readied = true
	w.ready <- struct{}{}
	<-w.release
	return true
}

// after is called after a move's publish-ack.
func (w *waveDriver) after(inWave bool) {
	w.acked.Add(1)
	if inWave {
		w.sentDone = true
		w.sent <- struct{}{}
	}
}

// exit reports a stopped driver as ready and sent.
func (w *waveDriver) exit() {
	if !w.readied {
		w.ready <- struct{}{}
	}
	if !w.sentDone {
		w.sent <- struct{}{}
	}
}

// hEventuallyT polls cond until it holds, or fails after hardWait.
func hEventuallyT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hardWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hRecvT waits for a value on ch for at most hardWait.
func hRecvT[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hardWait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// drive plays tictactoe in x and o's room as fast as the server answers:
// random free cells, a rematch after each round, until a publish fails or a
// stream ends (the shutdown). It returns the moves that got a publish-ack.
// It runs on its own goroutine: it never fails the test itself.
func drive(x, o *hardPlayer, g int, seed uint64, w *waveDriver) []hardMove {
	rng := rand.New(rand.NewPCG(seed, 2))
	var out []hardMove
	players := [2]*hardPlayer{x, o}
	// Each player's position in its events, for this driver only.
	pos := map[*hardPlayer]int{x: 0, o: 0}
	wait := func(p *hardPlayer, match func(cometclient.Event) bool) (cometclient.Event, bool) {
		i, ok := p.tryFind(pos[p], hardWait, match)
		if !ok {
			return nil, false
		}
		pos[p] = i + 1
		return p.events()[i], true
	}
	seqs := map[*hardPlayer]int{x: x.seq, o: o.seq}
	n := 0
	for round := 0; ; round++ {
		var board [9]string
		turn := 0
		if round > 0 {
			// Rematch: both vote; the other player starts.
			for _, p := range players {
				if p.publishRoom(p.room, "type", "rematch") != nil {
					return out
				}
			}
			var st struct{ First string }
			for _, p := range players {
				e, ok := wait(p, func(e cometclient.Event) bool { return e["type"] == "start" })
				if !ok || json.Unmarshal([]byte(e["data"]), &st) != nil {
					return out
				}
			}
			if st.First == o.id {
				turn = 1
			}
		}
		for {
			p, opp := players[turn], players[1-turn]
			var free []int
			for c, m := range board {
				if m == "" {
					free = append(free, c)
				}
			}
			cell := free[rng.IntN(len(free))]
			inWave := w.before()
			n++
			id := fmt.Sprintf("g%d-%d", g, n)
			err := p.publishRoom(p.room, "type", "move", "data", fmt.Sprintf(`{"cell":%d}`, cell), "move", id, "seq", strconv.Itoa(seqs[p]+1))
			if err != nil {
				return out
			}
			out = append(out, hardMove{mover: p, opp: opp, id: id, acked: time.Now(), nth: n})
			w.after(inWave)
			e, ok := wait(p, func(e cometclient.Event) bool {
				if e["type"] != "ack" && e["type"] != "error" {
					return false
				}
				var d struct{ Move string }
				json.Unmarshal([]byte(e["data"]), &d)
				return d.Move == id
			})
			if !ok || e["type"] != "ack" {
				return out
			}
			var d struct{ Seq int }
			json.Unmarshal([]byte(e["data"]), &d)
			seqs[p] = d.Seq
			board[cell] = p.name // three of one player's cells win, whatever its mark
			if won(board) || len(free) == 1 {
				break
			}
			turn = 1 - turn
		}
	}
}

// won reports whether a mark has three in a row.
func won(b [9]string) bool {
	for _, l := range [8][3]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6}, {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}} {
		if b[l[0]] != "" && b[l[0]] == b[l[1]] && b[l[1]] == b[l[2]] {
			return true
		}
	}
	return false
}
