package ttt_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// longRoom plays games games of tictactoe in one room (X wins in five
// moves, then both ask for a rematch) on a Manager journaling to j, and
// returns the room's id.
func longRoom(b *testing.B, j *memJournal, every, games int) string {
	h := roomstest.New(b, rooms.ManagerOptions{Journal: j, SnapshotEvery: every, Logger: roomstest.DiscardLogger}, ttt.Game)
	id := h.Create(ttt.Name, "a", nil)
	if err := h.Join(id, "b"); err != nil {
		b.Fatal(err)
	}
	seq := map[string]int{}
	moves := 0
	for g := range games {
		x, o := "a", "b" // the first seat plays X in even games
		if g%2 == 1 {
			x, o = o, x
		}
		for i, cell := range []int{0, 3, 1, 4, 2} {
			p := x
			if i%2 == 1 {
				p = o
			}
			seq[p]++
			moves++
			if err := h.Move(id, p, "move", fmt.Sprintf("m%d", moves), seq[p], map[string]int{"cell": cell}); err != nil {
				b.Fatal(err)
			}
		}
		seq = map[string]int{}
		h.Send(id, "a", "rematch", nil)
		h.Send(id, "b", "rematch", nil)
	}
	return id
}

// BenchmarkRestoreALongLivedRoom: rebuilding a room that played 200 games
// (about 1,400 entries) from its whole journal, and from its latest
// snapshot and the entries after it (a snapshot every 100 entries, the
// journal compacted).
func BenchmarkRestoreALongLivedRoom(b *testing.B) {
	for _, c := range []struct {
		name  string
		every int
	}{{"log=whole", -1}, {"log=compacted", rooms.DefaultSnapshotEvery}} {
		b.Run(c.name, func(b *testing.B) {
			j := &memJournal{logs: map[string][][]byte{}, compact: c.every > 0}
			id := longRoom(b, j, c.every, 200)
			var es []rooms.Entry
			for _, raw := range j.logs[id] {
				var e rooms.Entry
				if err := json.Unmarshal(raw, &e); err != nil {
					b.Fatal(err)
				}
				es = append(es, e)
			}
			h := roomstest.New(b, rooms.ManagerOptions{Logger: roomstest.DiscardLogger}, ttt.Game)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := h.M.Restore(fmt.Sprint(id, i), ttt.Name, es); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				h.M.Evict(fmt.Sprint(id, i))
				h.Settle()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(es)), "entries")
		})
	}
}
