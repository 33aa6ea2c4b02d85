package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// heldJournal keeps each append's done for the test to call.
type heldJournal struct {
	mu      sync.Mutex
	entries map[string][]rooms.Entry
	dones   []func(error)
}

func newHeldJournal() *heldJournal { return &heldJournal{entries: map[string][]rooms.Entry{}} }

func (j *heldJournal) Append(room string, e rooms.Entry, done func(error)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries[room] = append(j.entries[room], e)
	j.dones = append(j.dones, done)
}

// finish calls the appends' dones waiting, with err.
func (j *heldJournal) finish(err error) int {
	j.mu.Lock()
	ds := j.dones
	j.dones = nil
	j.mu.Unlock()
	for _, d := range ds {
		d(err)
	}
	return len(ds)
}

func (j *heldJournal) kinds(room string) []rooms.EntryKind {
	j.mu.Lock()
	defer j.mu.Unlock()
	var ks []rooms.EntryKind
	for _, e := range j.entries[room] {
		ks = append(ks, e.Kind)
	}
	return ks
}

// TestJournalHoldsOutputUntilDurable: an item's events go out only once
// its entry is durable, and the room processes nothing more meanwhile.
func TestJournalHoldsOutputUntilDurable(t *testing.T) {
	j := newHeldJournal()
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j}, probeGame(&hooks{
		message: func(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
			return ctx.Broadcast("echo", string(m.Data))
		},
	}))
	id, err := h.M.Create("probe", roomstest.Player("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The creation is appended; its output waits, and so does the
	// creator's join behind it.
	waitFor(t, func() bool { return len(j.kinds(id)) == 1 })
	if evs := h.Events("a"); len(evs) != 0 {
		t.Fatalf("before the creation is durable, a got %v", evs)
	}
	j.finish(nil)
	waitFor(t, func() bool { return len(j.kinds(id)) == 2 })
	if got := roomstest.Types(h.Events("a")); slices.Contains(got, "joined") {
		t.Fatalf("before the join is durable, a got %v", got)
	}
	drain(t, h, j)
	if got := roomstest.Types(h.Take("a")); !slices.Contains(got, "joined") {
		t.Fatalf("once durable, a got %v; want its joined", got)
	}
	// Two messages: the first is appended, the second waits behind it.
	h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "say", Data: []byte(`"one"`)})
	h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "say", Data: []byte(`"two"`)})
	waitFor(t, func() bool { return len(j.kinds(id)) == 3 })
	if evs := h.Take("a"); len(evs) != 0 {
		t.Fatalf("with the message's entry in flight, a got %v", evs)
	}
	if got := j.kinds(id); len(got) != 3 {
		t.Fatalf("entries %v: the second message was processed before the first was durable", got)
	}
	j.finish(nil)
	waitFor(t, func() bool { return len(j.kinds(id)) == 4 })
	if got := roomstest.Types(h.Take("a")); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after the first message is durable, a got %v; want its echo alone", got)
	}
	drain(t, h, j)
	if got := roomstest.Types(h.Take("a")); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after the second, a got %v", got)
	}
	if got, want := j.kinds(id), []rooms.EntryKind{rooms.EntryCreate, rooms.EntryJoin, rooms.EntryMessage, rooms.EntryMessage}; !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

// TestJournalRefusalEvictsTheRoom: an append that can never be durable
// (another node owns the room) drops the item's output and evicts the
// room without a word.
func TestJournalRefusalEvictsTheRoom(t *testing.T) {
	j := newHeldJournal()
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j}, probeGame(&hooks{}))
	id, _ := h.M.Create("probe", roomstest.Player("a"), nil)
	drain(t, h, j)
	h.Take("a")
	h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "say"})
	waitFor(t, func() bool { return len(j.kinds(id)) == 3 })
	j.finish(errors.New("wrong last sequence"))
	drain(t, h, j)
	if evs := h.Take("a"); len(evs) != 0 {
		t.Errorf("a refused append let out %v", evs)
	}
	if _, ok := h.M.Room(id); ok {
		t.Error("the room is still here after its append was refused")
	}
}

// TestLateAppendRefusesClientItemsUntilDurable: a room whose append has
// waited past JournalPatience (a store without a quorum) answers the
// client items waiting behind it, and refuses new ones at once, with an
// explicit reason; its members hear that the game waits. Nothing of the
// item in flight goes out until its entry is durable; then it is applied
// once, its output released, and the room takes items again.
func TestLateAppendRefusesClientItemsUntilDurable(t *testing.T) {
	j := newHeldJournal()
	const patience = 5 * time.Second
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j, JournalPatience: patience}, probeGame(&hooks{
		message: func(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
			return ctx.Broadcast("echo", string(m.Data))
		},
	}))
	h.C.SetSettle(nil) // a parked room is never idle: wait on the events
	id, _ := h.M.Create("probe", roomstest.Player("a"), nil)
	drain(t, h, j)
	h.Take("a")
	say := func(s string) error {
		return h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "say", Data: []byte(`"` + s + `"`)})
	}
	// "one" is processed and its append waits; "two" waits behind it.
	if err := say("one"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(j.kinds(id)) == 3 })
	if err := say("two"); err != nil {
		t.Fatal(err)
	}
	h.C.Advance(patience - time.Millisecond)
	if err := say("three"); err != nil {
		t.Fatalf("before the patience is out: %v", err)
	}
	if evs := h.Take("a"); len(evs) != 0 {
		t.Fatalf("before the patience is out, a got %v", evs)
	}
	h.C.Advance(time.Millisecond)
	// The items waiting are answered, and a told that the game waits.
	var got []roomstest.Record
	testkit.Eventually(t, "the waiting items answered", func() bool {
		got = append(got, h.Take("a")...)
		return len(got) >= 3
	})
	var reasons []string
	for _, ev := range got {
		d := data(t, ev)
		if ev.Type != "error" {
			t.Fatalf("a got %s while the append is late; want errors only", ev)
		}
		typ, _ := d["type"].(string)
		reasons = append(reasons, fmt.Sprint(typ, ": ", d["reason"]))
	}
	want := []string{": " + rooms.ReasonJournalWaiting, "say: " + rooms.ReasonJournalUnavailable, "say: " + rooms.ReasonJournalUnavailable}
	if !slices.Equal(reasons, want) {
		t.Errorf("a's errors %q; want %q", reasons, want)
	}
	// New client items are refused at once; the runtime's wait.
	if err := say("four"); !errors.Is(err, rooms.ErrJournalUnavailable) {
		t.Errorf("a message while the append is late: %v; want ErrJournalUnavailable", err)
	}
	if err := h.M.Join(id, roomstest.Player("b")); !errors.Is(err, rooms.ErrJournalUnavailable) {
		t.Errorf("a join while the append is late: %v; want ErrJournalUnavailable", err)
	}
	if got := h.M.Stats().JournalRefused; got != 4 {
		t.Errorf("JournalRefused = %d; want 4", got)
	}
	if got := j.kinds(id); len(got) != 3 {
		t.Fatalf("entries %v while the append is late: something else was processed", got)
	}
	// The store is back: "one" goes out, once, and the room takes items.
	j.finish(nil)
	got = nil
	testkit.Eventually(t, "the late item's output", func() bool {
		got = append(got, h.Take("a")...)
		return len(got) >= 1
	})
	if len(got) != 1 || got[0].Type != "echo" || string(got[0].Data) != `"\"one\""` {
		t.Errorf("once durable, a got %v; want the echo of one", got)
	}
	if err := say("five"); err != nil {
		t.Fatalf("once durable: %v", err)
	}
	drain(t, h, j)
	if got := roomstest.Types(h.Take("a")); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("after the store is back, a got %v; want the echo of five", got)
	}
	if got, want := j.kinds(id), []rooms.EntryKind{rooms.EntryCreate, rooms.EntryJoin, rooms.EntryMessage, rooms.EntryMessage}; !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v (the refused items not journaled)", got, want)
	}
}

// TestRestoreReplacesARoomBeingEvicted: a room evicted while its append is
// in flight (a cluster node that lost its lease evicts its rooms, and may
// take one back at once) is replaced by a Restore of its id without
// waiting. When its append is answered (refused: the journal moved on), it
// ends without a word: its removal is not reported, and the restored room
// keeps the id, its members' tokens, and takes items.
func TestRestoreReplacesARoomBeingEvicted(t *testing.T) {
	j := newHeldJournal()
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j}, probeGame(&hooks{
		message: func(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
			return ctx.Broadcast("echo", string(m.Data))
		},
	}))
	var mu sync.Mutex
	var removals int
	h.M.OnRoomChange(func(info rooms.RoomInfo, removed bool) {
		if removed {
			mu.Lock()
			removals++
			mu.Unlock()
		}
	})
	id, _ := h.M.Create("probe", roomstest.Player("a"), nil)
	drain(t, h, j)
	token := h.Token("a")
	h.Take("a")
	j.mu.Lock()
	entries := slices.Clone(j.entries[id])
	j.mu.Unlock()
	say := func(s string) error {
		return h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "say", Data: []byte(`"` + s + `"`)})
	}
	if err := say("one"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(j.kinds(id)) == 3 })
	if err := h.M.Evict(id); err != nil {
		t.Fatal(err)
	}
	if err := h.M.Restore(id, "probe", entries); err != nil {
		t.Fatalf("Restore of a room being evicted: %v; want it replaced", err)
	}
	j.finish(errors.New("wrong last sequence")) // the evicted room's append
	drain(t, h, j)
	mu.Lock()
	n := removals
	mu.Unlock()
	if n != 0 {
		t.Errorf("%d removals reported; want none (the room goes on, restored)", n)
	}
	if _, ok := h.M.Room(id); !ok {
		t.Fatal("the restored room is gone with the evicted one")
	}
	if room, _, ok := h.M.TokenOwner(token); !ok || room != id {
		t.Errorf("a's token reclaims %q, %v; want the restored room's seat", room, ok)
	}
	if got := roomstest.Types(h.Take("a")); slices.Contains(got, "echo") || !slices.Contains(got, "joined") {
		t.Errorf("a got %v; want joined (the restored room) and not the evicted room's echo", got)
	}
	if err := say("two"); err != nil {
		t.Fatal(err)
	}
	drain(t, h, j)
	if got := roomstest.Types(h.Take("a")); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("the restored room answered a's message with %v; want its echo", got)
	}
}

// TestRestoreErrors: Restore refuses what it cannot rebuild.
func TestRestoreErrors(t *testing.T) {
	j := newHeldJournal()
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j}, probeGame(&hooks{}))
	id, _ := h.M.Create("probe", roomstest.Player("a"), nil)
	drain(t, h, j)
	es := j.entries[id]
	for _, c := range []struct {
		name, id, game string
		entries        []rooms.Entry
		want           error
	}{
		{"unknown game", "r1", "chess", es, rooms.ErrUnknownGame},
		{"a room with the id is here", id, "probe", es, rooms.ErrRoomExists},
		{"no entries", "r1", "probe", nil, nil},
		{"not beginning with the creation", "r1", "probe", es[1:], nil},
		{"an unknown kind", "r1", "probe", append(slices.Clone(es), rooms.Entry{Kind: "teleport"}), nil},
	} {
		err := h.M.Restore(c.id, c.game, c.entries)
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Restore = %v, want %v", c.name, err, c.want)
		}
	}
	if _, ok := h.M.Room("r1"); ok {
		t.Error("a failed Restore left its room")
	}
}

// TestRandIsReplayed: ctx.Rand draws the same numbers in a replay of the
// room's journal as it drew live.
func TestRandIsReplayed(t *testing.T) {
	game := probeGame(&hooks{
		create: func(ctx *rooms.Ctx, _ rooms.Options) error {
			ctx.SetLabel("dealt " + string(rune('a'+ctx.Rand().IntN(26))))
			return nil
		},
		message: func(ctx *rooms.Ctx, p *rooms.Player, m rooms.Message) error {
			return ctx.Broadcast("roll", ctx.Rand().IntN(1_000_000))
		},
	})
	j := newHeldJournal()
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j}, game)
	id, _ := h.M.Create("probe", roomstest.Player("a"), nil)
	settle := func() { drain(t, h, j) }
	settle()
	for range 5 {
		h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "roll"})
		settle()
	}
	live := roomstest.Types(h.Events("a"))
	var rolls []string
	for _, ev := range h.Events("a") {
		if ev.Type == "roll" {
			rolls = append(rolls, string(ev.Data))
		}
	}
	if len(rolls) != 5 || len(slices.Compact(slices.Clone(rolls))) < 4 {
		t.Fatalf("live rolls %v (events %v): want five, not all the same", rolls, live)
	}
	h2 := roomstest.New(t, rooms.ManagerOptions{}, game)
	if err := h2.M.Restore(id, "probe", j.entries[id]); err != nil {
		t.Fatal(err)
	}
	h2.Settle()
	a, _ := h.M.Room(id)
	b, _ := h2.M.Room(id)
	if a.Label != b.Label {
		t.Errorf("label %q live, %q restored", a.Label, b.Label)
	}
	// The next roll is the same on both: the position in the journal
	// seeds it.
	h.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "roll"})
	settle()
	h2.Take("a")
	h2.M.Deliver(id, roomstest.Session("a"), rooms.Message{Type: "roll"})
	h2.Settle()
	x, y := h.Last("a", "roll"), h2.Last("a", "roll")
	if string(x.Data) != string(y.Data) {
		t.Errorf("the next roll: %s live, %s restored", x.Data, y.Data)
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	testkit.Eventually(t, "the journal's appends", f)
}

// drain makes the journal's appends durable until the Manager is idle.
func drain(t *testing.T, h *roomstest.Harness, j *heldJournal) {
	t.Helper()
	for range 10_000 {
		j.finish(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		err := h.M.WaitIdle(ctx)
		cancel()
		j.mu.Lock()
		pending := len(j.dones)
		j.mu.Unlock()
		if err == nil && pending == 0 {
			return
		}
	}
	t.Fatal("the Manager did not go idle with every append durable")
}
