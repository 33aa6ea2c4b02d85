package rooms_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// TestStats plays a game of Nim through the Manager and checks that its
// figures follow: rooms by state, games started and finished, moves applied
// and refused by reason, and an empty mailbox once settled.
func TestStats(t *testing.T) {
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	if st := h.M.Stats(); st.Rooms != [3]int64{} || st.Games["nim"] != (rooms.GameStats{}) || st.Executors <= 0 {
		t.Fatalf("fresh Stats = %+v; want no rooms, nim listed with zero games, executors > 0", st)
	}
	id := h.Create("nim", "ann", rooms.Options{"stones": "4"})
	if st := h.M.Stats(); st.Rooms[rooms.StateWaiting] != 1 || st.Created != 1 {
		t.Fatalf("after create: rooms %v created %d; want 1 waiting, 1 created", st.Rooms, st.Created)
	}
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	st := h.M.Stats()
	if st.Rooms[rooms.StatePlaying] != 1 || st.Rooms[rooms.StateWaiting] != 0 || st.Games["nim"].Started != 1 {
		t.Fatalf("after both joined: rooms %v games %v; want 1 playing, 1 started", st.Rooms, st.Games)
	}
	first := "ann"
	if turn := h.Last("ann", "turn").Map()["player"].(map[string]any)["id"]; turn != "ann" {
		first = "bob"
	}
	second := map[string]string{"ann": "bob", "bob": "ann"}[first]

	// Refused moves, each for a different reason.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Move(id, second, "take", "early", 1, 1))              // not your turn
	must(h.Move(id, first, "take", "stale", 5, 1))               // stale seq
	must(h.Move(id, first, "take", "greedy", 1, 9))              // refused by the game
	if err := h.Move(id, "cat", "take", "x", 1, 1); err == nil { // not in the room
		t.Fatal("a move from outside the room was accepted")
	}
	if err := h.Move(id, first, "", "bad", 1, 1); err == nil { // malformed
		t.Fatal("a move without a type was accepted")
	}
	// Play it out: 4 stones, 3 then 1.
	must(h.Move(id, first, "take", "m1", 1, 3))
	must(h.Move(id, second, "take", "m2", 1, 1))

	st = h.M.Stats()
	want := map[string]int64{
		rooms.RejectNotYourTurn: 1, rooms.RejectStaleSeq: 1, rooms.RejectByGame: 1,
		rooms.RejectNotInRoom: 1, rooms.RejectMalformed: 1, rooms.RejectNoRoom: 0,
	}
	for reason, n := range want {
		if got := st.MovesRejected[reason]; got != n {
			t.Errorf("MovesRejected[%s] = %d; want %d", reason, got, n)
		}
	}
	if st.Moves != 2 || st.Games["nim"] != (rooms.GameStats{Started: 1, Finished: 1}) || st.Rooms[rooms.StateFinished] != 1 {
		t.Errorf("after the game: moves %d, games %v, rooms %v; want 2 moves, 1 started and finished, 1 finished room", st.Moves, st.Games, st.Rooms)
	}
	if st.MailboxItems != 0 || st.RunQueue != 0 {
		t.Errorf("settled: mailbox %d, run queue %d; want both 0", st.MailboxItems, st.RunQueue)
	}
	// An executor counts as busy until r.run returns, just after the room
	// reported itself idle (what Settle waits for).
	for deadline := time.Now().Add(5 * time.Second); h.M.Stats().ExecutorsBusy != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("executors busy = %d long after the rooms went idle", h.M.Stats().ExecutorsBusy)
		}
	}

	// A rematch is a new game; disposing the room uncounts it.
	must(h.Send(id, "ann", "rematch", nil))
	must(h.Send(id, "bob", "rematch", nil))
	if st := h.M.Stats(); st.Games["nim"].Started != 2 || st.Rooms[rooms.StatePlaying] != 1 {
		t.Fatalf("after the rematch: games %v rooms %v; want 2 started, 1 playing", st.Games, st.Rooms)
	}
	do(t, h, id, func(c *rooms.Ctx) { c.Dispose() })
	h.Advance(time.Second)
	if st := h.M.Stats(); st.Rooms != [3]int64{} || st.Disposed != 1 {
		t.Fatalf("after dispose: rooms %v disposed %d; want none, 1", st.Rooms, st.Disposed)
	}
}

// statsAtEvent is a Transport that reads the Manager's Stats the moment a
// room's events reach it.
type statsAtEvent struct {
	*roomstest.Transport
	m    *rooms.Manager
	mu   sync.Mutex
	seen map[string][3]int64 // event type → Stats().Rooms when it first arrived
}

func (s *statsAtEvent) Publish(topic string, ev rooms.Event) {
	s.mu.Lock()
	if _, ok := s.seen[ev.Type]; !ok {
		s.seen[ev.Type] = s.m.Stats().Rooms
	}
	s.mu.Unlock()
	s.Transport.Publish(topic, ev)
}

// TestStatsBeforeEvents: a room is counted under its new state before the
// events that show it go out, so whoever saw "finished" finds the room
// finished in Stats (and in /metrics).
func TestStatsBeforeEvents(t *testing.T) {
	tr := &statsAtEvent{Transport: roomstest.NewTransport(), seen: map[string][3]int64{}}
	m := rooms.NewManager(tr, rooms.ManagerOptions{Clock: roomstest.NewClock(), Logger: roomstest.DiscardLogger})
	tr.mu.Lock()
	tr.m = m
	tr.mu.Unlock()
	t.Cleanup(func() { m.Shutdown(t.Context()) })
	if err := m.Register(nim.Game); err != nil {
		t.Fatal(err)
	}
	id, err := m.Create("nim", rooms.PlayerInfo{SessionID: "ann", PlayerID: "ann", Name: "Ann"}, rooms.Options{"stones": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(id, rooms.PlayerInfo{SessionID: "bob", PlayerID: "bob", Name: "Bob"}); err != nil {
		t.Fatal(err)
	}
	turn, err := tr.Wait(t.Context(), "ann", "turn", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := turn.Map()["player"].(map[string]any)["id"].(string)
	if err := m.Deliver(id, first, rooms.Message{Type: "take", MoveID: "m1", Seq: 1, Data: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Wait(t.Context(), "ann", "finished", nil); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	got := tr.seen["finished"]
	tr.mu.Unlock()
	if got[rooms.StateFinished] != 1 || got[rooms.StatePlaying] != 0 {
		t.Errorf("Stats().Rooms when finished went out = %v; want the room counted finished", got)
	}
}
