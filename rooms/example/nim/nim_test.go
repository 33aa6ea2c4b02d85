package nim_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// This file is also the model for testing a game: roomstest.Harness runs
// it on a real Manager with a recording Transport and a fake clock.

func start(t *testing.T, stones string) (*roomstest.Harness, string) {
	t.Helper()
	h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	id := h.Create("nim", "ann", rooms.Options{"stones": stones})
	if err := h.Join(id, "bob"); err != nil {
		t.Fatal(err)
	}
	return h, id
}

func TestStones(t *testing.T) {
	for _, tc := range []struct{ stones, reject, label string }{
		{"1", "", "Nim, 1 stones"},
		{"99", "", "Nim, 99 stones"},
		{"0", "stones must be a number from 1 to 99", ""},
		{"100", "stones must be a number from 1 to 99", ""},
		{"many", "stones must be a number from 1 to 99", ""},
	} {
		h := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
		id := h.Create("nim", "ann", rooms.Options{"stones": tc.stones})
		if tc.reject != "" {
			if got := h.Last("ann", "join-rejected").Map()["reason"]; got != tc.reject {
				t.Errorf("stones=%s: join-rejected = %v; want %q", tc.stones, got, tc.reject)
			}
			continue
		}
		if info, _ := h.M.Room(id); info.Label != tc.label {
			t.Errorf("stones=%s: label = %q; want %q", tc.stones, info.Label, tc.label)
		}
	}
}

func TestTakeLimits(t *testing.T) {
	h, id := start(t, "2")
	for _, tc := range []struct {
		data any
		want string
	}{
		{0, "send a take move of 1 to 2 stones"},
		{3, "send a take move of 1 to 2 stones"},
		{"two", "send a take move of 1 to 2 stones"},
	} {
		h.Move(id, "ann", "take", "x", 1, tc.data)
		if got := h.Last("ann", "error").Map()["reason"]; got != tc.want {
			t.Errorf("take %v: reason = %v; want %q", tc.data, got, tc.want)
		}
	}
	h.Send(id, "ann", "take", 1) // not a move: no move id
	if got := h.Last("ann", "error").Map()["reason"]; got != "send a take move of 1 to 2 stones" {
		t.Errorf("take without move id: reason = %v", got)
	}
	h.Move(id, "ann", "take", "a1", 1, 2)
	if got := h.Last("bob", "finished").Map()["result"].(map[string]any)["winner"]; got != "ann" {
		t.Errorf("winner = %v; want ann", got)
	}
}

func TestTimeoutTakesOneStone(t *testing.T) {
	h, id := start(t, "3")
	h.Advance(nim.TurnTimeout) // ann sleeps: one stone taken for her
	h.Move(id, "bob", "take", "b1", 1, 1)
	h.Advance(nim.TurnTimeout) // ann sleeps again and takes the last stone
	if got := h.Last("bob", "finished").Map()["result"].(map[string]any)["winner"]; got != "ann" {
		t.Errorf("winner = %v; want ann", got)
	}
}

func TestForfeit(t *testing.T) {
	h, id := start(t, "15")
	h.Detach("bob")
	h.Advance(rooms.DefaultReconnectWindow)
	res := h.Last("ann", "finished").Map()["result"].(map[string]any)
	if res["winner"] != "ann" || res["forfeit"] != "dropped" {
		t.Errorf("result = %v", res)
	}
	_ = id
}

func TestRematchAlternatesFirstPlayer(t *testing.T) {
	h, id := start(t, "1")
	h.Move(id, "ann", "take", "a1", 1, 1)
	h.Send(id, "ann", "rematch", nil)
	h.Send(id, "bob", "rematch", nil)
	turn := h.Last("ann", "turn").Map()["player"].(map[string]any)
	if turn["id"] != "bob" {
		t.Errorf("rematch turn = %v; want bob", turn)
	}
	if got := h.Last("ann", "heap").Map()["heap"]; got != 1.0 {
		t.Errorf("heap = %v", got)
	}
	h.Spectate(id, "sue")
	if got := h.Last("sue", "state").Map(); got["heap"] != 1.0 || got["stones"] != 1.0 {
		t.Errorf("spectator's snapshot = %v", got)
	}
}

// TestGuideShowsTheSource keeps docs/ROOMS.md's listings identical to the
// game's two halves: nim.go, and the page's script static/js/nim.js.
func TestGuideShowsTheSource(t *testing.T) {
	guide, err := os.ReadFile("../../../docs/ROOMS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path, lang string }{
		{"nim.go", "nim.go", "go"},
		{"persist.go", "persist.go", "go"},
		{"nim.js", "../../../static/js/nim.js", "js"},
	} {
		src, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		begin, end := "<!-- begin "+c.name+" -->\n```"+c.lang+"\n", "```\n<!-- end "+c.name+" -->"
		_, rest, ok1 := strings.Cut(string(guide), begin)
		listing, _, ok2 := strings.Cut(rest, end)
		if !ok1 || !ok2 {
			t.Errorf("docs/ROOMS.md has no listing between %q and %q", begin, end)
			continue
		}
		if listing != string(src) {
			t.Errorf("docs/ROOMS.md's listing differs from %s; paste %s into it", c.path, c.name)
		}
		if n := strings.Count(string(src), "\n"); n >= 100 {
			t.Errorf("%s has %d lines; the guide promises under 100", c.name, n)
		}
	}
}

// entries is a rooms.Journal in memory.
type entries struct {
	mu sync.Mutex
	es []rooms.Entry
}

func (j *entries) Append(_ string, e rooms.Entry, done func(error)) {
	j.mu.Lock()
	j.es = append(j.es, e)
	j.mu.Unlock()
	done(nil)
}

// TestRestoredFromItsSnapshot: a game of Nim restored on another Manager
// from its latest snapshot alone (a compacted journal) has the heap and
// the turn it had, and the turn's clock runs out there as it would have.
func TestRestoredFromItsSnapshot(t *testing.T) {
	j := &entries{}
	h := roomstest.New(t, rooms.ManagerOptions{Journal: j, SnapshotEvery: 1}, nim.Game)
	id := h.Create("nim", "ann", rooms.Options{"stones": "9"})
	h.Join(id, "bob")
	h.Move(id, "ann", "take", "a1", 1, 2)
	h.Advance(5 * time.Second)
	j.mu.Lock()
	last := j.es[len(j.es)-1]
	j.mu.Unlock()
	if last.Kind != rooms.EntrySnapshot {
		t.Fatalf("the journal ends with a %s; want a snapshot", last.Kind)
	}
	h2 := roomstest.New(t, rooms.ManagerOptions{}, nim.Game)
	h2.Advance(h.C.Now().Sub(h2.C.Now()))
	if err := h2.M.Restore(id, "nim", []rooms.Entry{last}); err != nil {
		t.Fatal(err)
	}
	h2.Settle()
	if got := h2.Last("bob", "state").Map()["heap"]; got != 7.0 {
		t.Errorf("restored heap = %v; want 7", got)
	}
	// Bob sleeps out the rest of his turn on both: one stone is taken for him.
	h.Advance(nim.TurnTimeout - 5*time.Second)
	h2.Advance(nim.TurnTimeout - 5*time.Second)
	if a, b := h.Last("ann", "took"), h2.Last("ann", "took"); a.String() != b.String() || b.Map()["player"] != "bob" {
		t.Errorf("after bob's clock ran out: live %s, restored %s", a, b)
	}
}
