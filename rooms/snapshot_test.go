package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// chips is a game that uses every part of a room a snapshot must keep:
// ctx.Rand, its own timers (After and Every, pending across snapshots),
// OnTick, the turn and its clock, the lock, the label, the reconnect
// window, spectators, rematches and the empty room's grace. Its state is
// sent whole as "state" (Snapshotter), and it is a Persister.
type chips struct {
	Score   int          `json:"score"`
	Rolls   []int        `json:"rolls"`
	Ticks   int          `json:"ticks"`
	TickSum int64        `json:"tick_sum"` // the dts, in ms
	Rang    []string     `json:"rang"`
	Pending []chipsTimer `json:"pending"` // the game's timers pending, in the order they were armed
	every   *rooms.Timer
	wrong   int // LoadState gives back: 0 its timers and turn, 1 no timer, 2 a timer too many, 3 no turn
}

// chipsTimer is a timer of the game, written down to be armed again.
type chipsTimer struct {
	Tag    string        `json:"tag"`
	Period time.Duration `json:"period,omitempty"`
}

var chipsGame = rooms.Game{
	Name: "chips", New: func() rooms.Room { return &chips{} },
	MinPlayers: 1, MaxPlayers: 3, Spectators: true, Rematch: true,
	TickRate: 3 * time.Second, EmptyGrace: 20 * time.Second, ReconnectWindow: 15 * time.Second,
}

func (g *chips) OnCreate(ctx *rooms.Ctx, _ rooms.Options) error { return nil }
func (g *chips) OnJoin(ctx *rooms.Ctx, p *rooms.Player) error   { return nil }
func (g *chips) OnLeave(ctx *rooms.Ctx, p *rooms.Player, r rooms.LeaveReason) {
	g.Score -= 5
}
func (g *chips) OnDispose(ctx *rooms.Ctx) {}
func (g *chips) OnTick(ctx *rooms.Ctx, dt time.Duration) {
	g.Ticks++
	g.TickSum += dt.Milliseconds()
}
func (g *chips) OnRematch(ctx *rooms.Ctx) { g.Score = 0 }

func (g *chips) Snapshot(ctx *rooms.Ctx, _ *rooms.Player) any {
	var turn string
	if p := ctx.Turn(); p != nil {
		turn = p.ID()
	}
	hats := map[string]string{}
	for _, p := range append(ctx.Players(), ctx.Spectators()...) {
		hats[p.ID()] = p.JoinOptions()["hat"]
	}
	return map[string]any{"game": g, "label": ctx.Label(), "locked": ctx.Locked(), "turn": turn, "deadline": ctx.TurnDeadline().UnixMilli(), "hats": hats}
}

func (g *chips) OnMessage(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
	var n int
	json.Unmarshal(m.Data, &n)
	switch m.Type {
	case "roll":
		g.Rolls = append(g.Rolls, ctx.Rand().IntN(1000))
		return ctx.Broadcast("rolled", g.Rolls[len(g.Rolls)-1])
	case "after":
		g.after(ctx, chipsTimer{Tag: fmt.Sprintf("a%d-%d", n, ctx.Rand().IntN(100))}, time.Duration(n)*time.Second)
	case "every":
		if g.every == nil {
			g.after(ctx, chipsTimer{Tag: "every", Period: time.Duration(n+1) * time.Second}, 0)
		}
	case "stop":
		if g.every != nil {
			g.every.Stop()
			g.every = nil
			g.drop("every")
		}
	case "turn":
		g.give(ctx, p)
	case "start":
		ctx.Start()
	case "finish":
		ctx.Finish(g.Score)
	case "lock":
		ctx.Lock()
	case "unlock":
		ctx.Unlock()
	case "label":
		ctx.SetLabel(fmt.Sprintf("chips %d", n))
	case "window":
		ctx.SetReconnectWindow(time.Duration(n) * time.Second)
	default:
		return errors.New("no such thing")
	}
	return nil
}

// after arms a game timer (Every when t has a period) and writes it down.
func (g *chips) after(ctx *rooms.Ctx, t chipsTimer, d time.Duration) {
	g.arm(ctx, t, d)
	g.Pending = append(g.Pending, t)
}

func (g *chips) arm(ctx *rooms.Ctx, t chipsTimer, d time.Duration) {
	if t.Period > 0 {
		g.every = ctx.Every(t.Period, func(ctx *rooms.Ctx) {
			g.Score++
			ctx.Broadcast("beat", g.Score)
		})
		return
	}
	ctx.After(d, func(ctx *rooms.Ctx) {
		g.drop(t.Tag)
		g.Rang = append(g.Rang, t.Tag)
		g.Score += 3
		ctx.Broadcast("rang", t.Tag)
	})
}

func (g *chips) drop(tag string) {
	g.Pending = slices.DeleteFunc(g.Pending, func(t chipsTimer) bool { return t.Tag == tag })
}

func (g *chips) give(ctx *rooms.Ctx, p *rooms.Player) {
	ctx.SetTurn(p, 4*time.Second, func(ctx *rooms.Ctx) {
		g.Score -= 2
		ctx.Broadcast("late", p.ID())
	})
}

func (g *chips) SaveState(*rooms.Ctx) ([]byte, error) { return json.Marshal(g) }

func (g *chips) LoadState(ctx *rooms.Ctx, b []byte) error {
	if err := json.Unmarshal(b, g); err != nil {
		return err
	}
	for _, t := range g.Pending {
		if g.wrong != 1 {
			g.arm(ctx, t, 0)
		}
	}
	if g.wrong == 2 {
		g.arm(ctx, chipsTimer{Tag: "extra"}, 0)
	}
	if p := ctx.Turn(); p != nil && g.wrong != 3 {
		g.give(ctx, p)
	}
	return nil
}

// entryLog is a Journal in memory keeping every entry as JSON.
type entryLog struct {
	mu        sync.Mutex
	all       []string
	snapshots int
}

func (j *entryLog) Append(_ string, e rooms.Entry, done func(error)) {
	b, _ := json.Marshal(e)
	j.mu.Lock()
	j.all = append(j.all, string(b))
	if e.Kind == rooms.EntrySnapshot {
		j.snapshots++
	}
	j.mu.Unlock()
	done(nil)
}

func (j *entryLog) from(n int) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.all[min(n, len(j.all)):])
}

func (j *entryLog) entries(t *testing.T, n int) []rooms.Entry {
	var es []rooms.Entry
	for _, s := range j.from(n) {
		var e rooms.Entry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	return es
}

// chipsWorld plays random actions on one room of chips.
type chipsWorld struct {
	h     *roomstest.Harness
	rnd   *rand.Rand
	room  string
	trace []string
	// detached are the sessions the Manager was told are detached: a
	// Manager restoring the room is told so too, as a cluster's node is.
	detached map[string]bool
}

var chipsNames = []string{"ann", "bob", "cat", "dan", "eve"}

func (w *chipsWorld) step() {
	h, name := w.h, chipsNames[w.rnd.IntN(len(chipsNames))]
	s := roomstest.Session(name)
	p := roomstest.Player(name)
	p.Options = rooms.Options{"hat": fmt.Sprint(w.rnd.IntN(100))}
	switch k := w.rnd.IntN(24); {
	case k < 2:
		h.M.Join(w.room, p)
	case k < 3:
		h.M.Spectate(w.room, p)
	case k < 5:
		h.M.Leave(w.room, s)
	case k < 7:
		h.M.Detached(s)
		w.detached[s] = true
	case k < 8:
		h.M.Attached(s)
		delete(w.detached, s)
	case k < 10:
		h.C.Advance(time.Duration(w.rnd.IntN(12000)) * time.Millisecond)
	default:
		types := []string{"roll", "roll", "after", "every", "stop", "turn", "turn", "start", "finish", "rematch", "lock", "unlock", "label", "window"}
		typ := types[w.rnd.IntN(len(types))]
		h.M.Deliver(w.room, s, rooms.Message{Type: typ, Data: []byte(fmt.Sprint(w.rnd.IntN(20)))})
	}
	h.Settle()
	for _, n := range chipsNames {
		for _, ev := range h.T.Take(roomstest.Session(n)) {
			w.trace = append(w.trace, n+" "+ev.Type+" "+string(ev.Data))
		}
	}
}

// TestSnapshotRestoresTheLiveRoom: a room of chips, snapshotted every 1 to
// 8 entries, plays randomly (joins, spectators, leaves, lost and regained
// listens, sessions ending, time passing, and the game's rolls, timers,
// turns, locks, labels, reconnect windows, rematches). At random points,
// the room is restored on a fresh Manager from its latest snapshot and the
// entries after it; the restored room must be the live one (its public
// info, and what each member is sent on joining: "joined" and the game's
// whole state), and as both play on with the same actions and time, every
// member gets the same events from both and both append the same entries.
func TestSnapshotRestoresTheLiveRoom(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 3))
			every := 1 + rnd.IntN(8)
			t.Logf("seed %d: a snapshot every %d entries", seed, every)
			j := &entryLog{}
			opts := rooms.ManagerOptions{Logger: roomstest.DiscardLogger, SnapshotEvery: every}
			live := &chipsWorld{rnd: rnd, detached: map[string]bool{}}
			live.h = roomstest.New(t, rooms.ManagerOptions{Journal: j, Logger: opts.Logger, SnapshotEvery: every}, chipsGame)
			var err error
			if live.room, err = live.h.M.Create("chips", roomstest.Player("ann"), nil); err != nil {
				t.Fatal(err)
			}
			live.h.Settle()
			restores := 0
			for i := range 150 {
				live.step()
				if _, ok := live.h.M.Room(live.room); !ok {
					break
				}
				if rnd.IntN(10) == 0 {
					restores++
					compareChips(t, live, j, opts, uint64(i))
				}
			}
			if j.snapshots == 0 || restores == 0 {
				t.Errorf("%d snapshots, %d restorations: the test tested nothing", j.snapshots, restores)
			}
		})
	}
}

// compareChips restores the live room from j on a fresh Manager and
// compares them as they play on.
func compareChips(t *testing.T, live *chipsWorld, j *entryLog, opts rooms.ManagerOptions, seed uint64) {
	t.Helper()
	es := j.entries(t, 0)
	from := 0
	for i, e := range es {
		if e.Kind == rooms.EntrySnapshot {
			from = i
		}
	}
	j2 := &entryLog{}
	opts.Journal = j2
	h2 := roomstest.New(t, opts, chipsGame)
	h2.C.Advance(live.h.C.Now().Sub(h2.C.Now()))
	for s := range live.detached {
		h2.M.Detached(s)
	}
	// Only what a compacted journal keeps: the latest snapshot on.
	if err := h2.M.Restore(live.room, "chips", es[from:]); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	h2.Settle()
	a, _ := live.h.M.Room(live.room)
	b, ok := h2.M.Room(live.room)
	if !ok || !reflect.DeepEqual(a, b) {
		t.Fatalf("restored from entry %d of %d:\nlive:     %+v\nrestored: %+v", from, len(es), a, b)
	}
	for _, n := range chipsNames {
		s := roomstest.Session(n)
		live.h.T.Take(s)
		live.h.M.Resync(s)
	}
	live.h.Settle()
	for _, n := range chipsNames {
		s := roomstest.Session(n)
		x, y := joinedAndState(live.h.T.Take(s)), joinedAndState(h2.T.Take(s))
		if !slices.Equal(x, y) {
			t.Fatalf("%s on joining:\nlive:     %q\nrestored: %q", n, x, y)
		}
	}
	n0 := len(j.from(0))
	w1 := &chipsWorld{h: live.h, room: live.room, rnd: rand.New(rand.NewPCG(seed, 5)), detached: live.detached}
	w2 := &chipsWorld{h: h2, room: live.room, rnd: rand.New(rand.NewPCG(seed, 5)), detached: maps.Clone(live.detached)}
	for range 12 {
		w1.step()
		w2.step()
	}
	if !slices.Equal(w1.trace, w2.trace) {
		t.Fatalf("playing on, the members got\nlive:     %q\nrestored: %q", w1.trace, w2.trace)
	}
	if x, y := j.from(n0), j2.from(0); !slices.Equal(x, y) {
		t.Fatalf("playing on, the journals got\nlive:     %q\nrestored: %q", x, y)
	}
}

// joinedAndState returns the "joined" (without "reconnected") and "state"
// events of evs.
func joinedAndState(evs []roomstest.Record) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Type {
		case "joined":
			var m map[string]any
			json.Unmarshal(ev.Data, &m)
			delete(m, "reconnected")
			b, _ := json.Marshal(m)
			out = append(out, "joined "+string(b))
		case "state":
			out = append(out, "state "+string(ev.Data))
		}
	}
	return out
}

// TestRestoreRefusesASnapshotItCannotLoad: a snapshot the game cannot load
// (the game is not a Persister; its LoadState gives back fewer or more
// timers than were pending, or not the turn's clock; the bytes do not
// decode) fails the restoration, and leaves no room, seat or token behind.
func TestRestoreRefusesASnapshotItCannotLoad(t *testing.T) {
	j := &entryLog{}
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j, SnapshotEvery: 1}, chipsGame)
	id := h.Create("chips", "ann", nil)
	h.Send(id, "ann", "after", 5)
	h.Send(id, "ann", "start", 0)
	h.Send(id, "ann", "turn", 0)
	token := h.Token("ann")
	es := j.entries(t, 0)
	snap := es[len(es)-1]
	if snap.Kind != rooms.EntrySnapshot {
		t.Fatalf("the journal ends with a %s", snap.Kind)
	}
	variant := func(wrong int) rooms.Game {
		g := chipsGame
		g.New = func() rooms.Room { return &chips{wrong: wrong} }
		return g
	}
	notPersister := chipsGame
	notPersister.New = func() rooms.Room { return &probe{&hooks{}} }
	garbled := snap
	garbled.Snapshot = json.RawMessage(`{"seats":"no"}`)
	for _, c := range []struct {
		name string
		game rooms.Game
		e    rooms.Entry
	}{
		{"the game is not a Persister", notPersister, snap},
		{"LoadState gives back no timer", variant(1), snap},
		{"LoadState gives back a timer too many", variant(2), snap},
		{"LoadState does not give back the turn's clock", variant(3), snap},
		{"the snapshot does not decode", chipsGame, garbled},
	} {
		h2 := roomstest.New(t, rooms.ManagerOptions{Logger: roomstest.DiscardLogger}, c.game)
		err := h2.M.Restore(id, "chips", []rooms.Entry{c.e})
		h2.Settle()
		if err == nil {
			t.Errorf("%s: Restore succeeded", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		if _, ok := h2.M.Room(id); ok || h2.M.NumRooms() != 0 {
			t.Errorf("%s: the room is there after Restore = %v", c.name, err)
		}
		if _, _, ok := h2.M.TokenOwner(token); ok {
			t.Errorf("%s: ann's token is known after Restore = %v", c.name, err)
		}
	}
	h2 := roomstest.New(t, rooms.ManagerOptions{Logger: roomstest.DiscardLogger}, chipsGame)
	if err := h2.M.Restore(id, "chips", []rooms.Entry{snap}); err != nil {
		t.Fatalf("the right game: Restore = %v", err)
	}
}
