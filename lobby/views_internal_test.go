package lobby

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cometplay/cometplay/rooms"
)

// TestSortedListUpdate: through random insertions, changes of the sort key
// and removals, a sortedList equals a sort of the current entries from
// scratch. The seed is logged.
func TestSortedListUpdate(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	cur := map[string]*rooms.RoomInfo{}
	s := roomsOrder
	for step := range 300 {
		changed := map[string]bool{}
		for range rng.IntN(20) {
			id := fmt.Sprintf("r%03d", rng.IntN(200))
			changed[id] = true
			if rng.IntN(4) == 0 {
				delete(cur, id)
			} else {
				cur[id] = &rooms.RoomInfo{ID: id, State: rooms.State(rng.IntN(3)), Spectators: step}
			}
		}
		s.update(changed, func(id string) (*rooms.RoomInfo, bool) { r, ok := cur[id]; return r, ok })
		want := slices.SortedFunc(maps.Values(cur), roomsOrder.cmp)
		if !slices.EqualFunc(want, s.all, func(a, b *rooms.RoomInfo) bool {
			return a.ID == b.ID && a.State == b.State && a.Spectators == b.Spectators
		}) {
			t.Fatalf("step %d: kept %v; sorted %v", step, s.all, want)
		}
	}
}

// BenchmarkTickUpdate: what keeping the rooms in order costs a tick, with
// 20,000 rooms and 10 or 1,000 of them changed since the last one.
func BenchmarkTickUpdate(b *testing.B) {
	const n = 20000
	for _, k := range []int{10, 1000} {
		b.Run(fmt.Sprintf("rooms=%d/changed=%d", n, k), func(b *testing.B) {
			cur := make(map[string]*rooms.RoomInfo, n)
			all := make(map[string]bool, n)
			for i := range n {
				id := fmt.Sprintf("r%06d", i)
				cur[id], all[id] = &rooms.RoomInfo{ID: id}, true
			}
			s := roomsOrder
			get := func(id string) (*rooms.RoomInfo, bool) { r, ok := cur[id]; return r, ok }
			s.update(all, get)
			rng := rand.New(rand.NewPCG(1, 2))
			changed := make([]map[string]bool, 64)
			for i := range changed {
				changed[i] = map[string]bool{}
				for range k {
					changed[i][fmt.Sprintf("r%06d", rng.IntN(n))] = true
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c := changed[i%len(changed)]
				for id := range c {
					r := cur[id]
					r.State = (r.State + 1) % 3
					cur[id] = r
				}
				s.update(c, get)
			}
		})
	}
}

// TestNameHolds: the count of who holds a name, the first holder inline and
// any others beside it: each holder's holds are counted apart, the name is
// free only when every hold is released, and releasing what is not held
// changes nothing.
func TestNameHolds(t *testing.T) {
	l := &Lobby{names: make(map[string]nameHolders)}
	taken := func(name, pid string) bool { return l.nameTaken(name, pid) }
	l.holdName("Ann", "p1", 1)
	l.holdName("ANN", "p1", 1) // a seat under another case of the name
	if !taken("ann", "p2") || taken("ann", "p1") {
		t.Fatal("Ann held by p1: taken for p2, not for p1")
	}
	l.holdName("Ann", "p2", 1) // p2 came back with a token
	l.holdName("Ann", "p2", 1)
	l.holdName("Ann", "p3", -1) // never held it
	l.holdName("Bob", "p3", -1)
	if len(l.names) != 1 || !taken("Ann", "p1") || !taken("Ann", "p2") || !taken("Ann", "p3") {
		t.Fatalf("two holders: %+v", l.names)
	}
	l.holdName("Ann", "p1", -1)
	l.holdName("Ann", "p1", -1) // p1 gone: p2 holds it alone
	if taken("Ann", "p2") || !taken("Ann", "p1") {
		t.Fatalf("p2 alone: %+v", l.names)
	}
	if h := l.names[nameKey("Ann")]; h.pid != "p2" || h.n != 2 || h.more != nil {
		t.Fatalf("p2 should hold it inline twice: %+v", h)
	}
	l.holdName("Ann", "p2", -1)
	if !taken("Ann", "p1") {
		t.Fatal("p2 still holds it once")
	}
	l.holdName("Ann", "p2", -1)
	if taken("Ann", "p1") || len(l.names) != 0 {
		t.Fatalf("released by all: %+v", l.names)
	}
}
