package lobby_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

// clientView is what a client knows of the lobby's lists after applying,
// in order, the snapshots and deltas it received, as static/js/rooms.js
// does.
type clientView struct {
	online  map[string]string          // player id → name
	onlineN int                        // the total it was told
	rooms   map[string]json.RawMessage // room id → RoomInfo
	roomsN  int
}

func viewOf(t *testing.T, recs []roomstest.Record) clientView {
	t.Helper()
	v := clientView{online: map[string]string{}, rooms: map[string]json.RawMessage{}}
	type ident struct{ ID, Name string }
	for _, r := range recs {
		var d struct {
			Online  []ident
			Offline []string
			Rooms   []json.RawMessage
			Removed []string
			Count   int
		}
		switch r.Type {
		case "presence", "presence-delta", "rooms", "rooms-delta":
			if err := r.Decode(&d); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
		default:
			continue
		}
		switch r.Type {
		case "presence":
			clear(v.online)
		case "rooms":
			clear(v.rooms)
		}
		for _, p := range d.Online {
			v.online[p.ID] = p.Name
		}
		for _, id := range d.Offline {
			delete(v.online, id)
		}
		for _, raw := range d.Rooms {
			var r struct{ ID string }
			_ = json.Unmarshal(raw, &r)
			v.rooms[r.ID] = raw
		}
		for _, id := range d.Removed {
			delete(v.rooms, id)
		}
		if strings.HasPrefix(r.Type, "presence") {
			v.onlineN = d.Count
		} else {
			v.roomsN = d.Count
		}
	}
	return v
}

// checkLists fails the test if the lists the lobby keeps in order differ
// from a sort of its players and rooms.
func (e *env) checkLists() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.l.CheckLists(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// page asks for one page of the lobby's lists and returns it.
func (e *env) page(s, what string, offset int) map[string]any {
	e.t.Helper()
	req := fmt.Sprintf("%s-%d-%d", what, offset, e.count(s, "page"))
	e.must(s, "list", "what", what, "offset", fmt.Sprint(offset), "req", req)
	return e.wait(s, "page", func(m map[string]any) bool { return m["req"] == req })
}

// checkView compares what session s knows, from its events, with the first
// page of each list: after settle the published views are the current ones.
func (e *env) checkView(s string, shownPlayers, shownRooms int) {
	e.t.Helper()
	v := viewOf(e.t, e.tr.Events(s))
	players := e.page(s, "players", 0)
	want := map[string]string{}
	for _, p := range players["online"].([]any) {
		p := p.(map[string]any)
		want[p["id"].(string)] = p["name"].(string)
	}
	if len(want) > shownPlayers {
		e.t.Errorf("%s: a page of %d players; PresenceShown is %d", s, len(want), shownPlayers)
	}
	if fmt.Sprint(v.online) != fmt.Sprint(want) || float64(v.onlineN) != players["count"] {
		e.t.Errorf("%s: client's presence %v (count %d); server's %v (count %v)", s, v.online, v.onlineN, want, players["count"])
	}
	rs := e.page(s, "rooms", 0)
	wantRooms := map[string]string{}
	for _, r := range rs["rooms"].([]any) {
		b, _ := json.Marshal(r)
		wantRooms[r.(map[string]any)["id"].(string)] = string(b)
	}
	got := map[string]string{}
	for id, raw := range v.rooms {
		var m any
		_ = json.Unmarshal(raw, &m)
		b, _ := json.Marshal(m)
		got[id] = string(b)
	}
	if len(wantRooms) > shownRooms {
		e.t.Errorf("%s: a page of %d rooms; RoomsShown is %d", s, len(wantRooms), shownRooms)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRooms) || float64(v.roomsN) != rs["count"] {
		e.t.Errorf("%s: client's rooms\n%v (count %d)\nserver's\n%v (count %v)", s, got, v.roomsN, wantRooms, rs["count"])
	}
}

// TestViewsFollowRandomChanges: through random arrivals, departures,
// renames, rooms created, joined, played, left and removed, a client that
// applies its snapshots and deltas knows exactly the server's shown lists,
// and the whole lists the lobby keeps in order (which "list" pages
// through) are what sorting everything from scratch gives.
func TestViewsFollowRandomChanges(t *testing.T) {
	const shown = 4
	e := newEnv(t, lobby.Options{PresenceShown: shown, RoomsShown: shown}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	e.hello("obs", "Observer")
	var live []string    // sessions said hello
	var waiting []string // rooms waiting for a second player
	n := 0
	for step := range 120 {
		switch op := rng.IntN(7); {
		case op <= 1 || len(live) < 2:
			n++
			s := fmt.Sprint("s", n)
			e.hello(s, fmt.Sprintf("P%02d %s", rng.IntN(30), s)) // names are unique
			live = append(live, s)
		case op == 2:
			i := rng.IntN(len(live))
			e.l.SessionEnded(live[i])
			live = slices.Delete(live, i, i+1)
		case op == 3:
			s := live[rng.IntN(len(live))]
			e.must(s, "name", "name", fmt.Sprintf("P%02d %s", rng.IntN(30), s))
		case op == 4:
			s := live[rng.IntN(len(live))]
			e.must(s, "create", "game", "nim", "req", fmt.Sprint("c", step))
			if r, ok := e.tr.Last(s, "created"); ok && r.Map()["req"] == fmt.Sprint("c", step) {
				waiting = append(waiting, r.Map()["room"].(string))
			} else {
				e.settle()
				if r, ok := e.tr.Last(s, "created"); ok && r.Map()["req"] == fmt.Sprint("c", step) {
					waiting = append(waiting, r.Map()["room"].(string))
				}
			}
		case op == 5 && len(waiting) > 0:
			s := live[rng.IntN(len(live))]
			e.must(s, "join", "room", waiting[0])
			waiting = waiting[1:]
		case op == 6:
			s := live[rng.IntN(len(live))]
			e.must(s, "browse", "on", fmt.Sprint(rng.IntN(2)), "tab", "t")
		}
		if step%3 == 0 {
			e.settle()
			e.checkLists()
			e.c.Advance(rooms.DefaultEmptyGrace / 2) // empty rooms go away
		}
		if step%20 == 19 {
			e.settle()
			e.checkView("obs", shown, shown)
		}
	}
	e.settle()
	e.checkView("obs", shown, shown)
	// Every session that hears the lobby now knows the same.
	for _, s := range live {
		if e.tr.Subscribed(s, lobby.TopicRooms) {
			e.checkView(s, shown, shown)
		}
	}
}

// TestTickCoalesces: changes are published once per tick, as one delta.
func TestTickCoalesces(t *testing.T) {
	tick := 200 * time.Millisecond
	e := newEnv(t, lobby.Options{Tick: tick}, nil)
	const players = 30
	for i := range players {
		e.hello(fmt.Sprint("s", i), fmt.Sprintf("P%02d", i))
	}
	for i := range players / 2 {
		e.must(fmt.Sprint("s", i), "create", "game", "nim")
	}
	for i := range players / 2 {
		e.wait(fmt.Sprint("s", i), "joined", nil)
	}
	if err := e.m.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := e.count("s29", "presence-delta") + e.count("s29", "rooms-delta"); n != 0 {
		t.Fatalf("%d deltas before the tick", n)
	}
	e.c.Advance(tick)
	d := e.wait("s29", "presence-delta", nil)
	if d["count"] != float64(players) || len(d["online"].([]any)) != players {
		t.Errorf("presence-delta = %v", d)
	}
	if d := e.wait("s29", "rooms-delta", nil); d["count"] != float64(players/2) {
		t.Errorf("rooms-delta = %v", d)
	}
	e.settle()
	if n := e.count("s29", "presence-delta"); n != 1 {
		t.Errorf("%d presence-delta events; want 1", n)
	}
	if n := e.count("s29", "rooms-delta"); n != 1 {
		t.Errorf("%d rooms-delta events; want 1", n)
	}
}

// TestSeatedPlayersLeaveTheLobby: a player who holds a seat stops hearing
// the lobby unless one of its tabs browses it; it hears it again, after
// fresh snapshots, when the game is over.
func TestSeatedPlayersLeaveTheLobby(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	hears := func(s string) bool {
		in := e.tr.Subscribed(s, lobby.TopicPresence)
		if e.tr.Subscribed(s, lobby.TopicRooms) != in || e.tr.Subscribed(s, lobby.TopicChat) != in {
			t.Fatalf("%s: subscribed to some of the lobby's topics only", s)
		}
		return in
	}
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	room := e.wait("ann", "joined", nil)["room"].(string)
	e.settle()
	if hears("ann") || hears("bob") {
		t.Fatal("seated players still hear the lobby")
	}
	// Two tabs: the lobby is heard while either browses.
	snaps := e.count("ann", "rooms")
	e.must("ann", "browse", "on", "1", "tab", "a")
	e.must("ann", "browse", "on", "1", "tab", "b")
	e.settle()
	if !hears("ann") || e.count("ann", "rooms") != snaps+1 {
		t.Fatalf("browsing: hears %v, %d snapshots; want one", hears("ann"), e.count("ann", "rooms")-snaps)
	}
	e.must("ann", "browse", "on", "0", "tab", "a")
	e.settle()
	if !hears("ann") {
		t.Fatal("tab b still browses, yet ann does not hear the lobby")
	}
	e.must("ann", "browse", "on", "0", "tab", "b")
	e.settle()
	if hears("ann") {
		t.Fatal("no tab browses, yet ann hears the lobby")
	}
	e.checkViewIfHearing(t, "bob")
	// The game ends: both are back in the lobby, with fresh snapshots.
	snaps = e.count("bob", "rooms")
	playNim(t, e, room, "ann", "bob")
	e.wait("bob", "finished", nil)
	e.settle()
	if !hears("ann") || !hears("bob") || e.count("bob", "rooms") != snaps+1 {
		t.Fatalf("after the game: hears %v %v; bob got %d snapshots", hears("ann"), hears("bob"), e.count("bob", "rooms")-snaps)
	}
	e.checkView("bob", lobby.DefaultShown, lobby.DefaultShown)
	e.checkView("ann", lobby.DefaultShown, lobby.DefaultShown)

	// Refusals.
	for _, kv := range [][]string{{"on", "yes"}, {"on", ""}, {"on", "1", "tab", strings.Repeat("t", lobby.MaxReqLen+1)}} {
		if err := e.do("ann", "browse", kv...); !errors.Is(err, lobby.ErrMalformed) {
			t.Errorf("browse %q = %v; want ErrMalformed", kv, err)
		}
	}
	for _, kv := range [][]string{{"what", "games"}, {"what", "rooms", "offset", "-1"}, {"what", "players", "offset", "x"}, {"what", "rooms", "offset", "99999999999"}} {
		if err := e.do("ann", "list", kv...); !errors.Is(err, lobby.ErrMalformed) {
			t.Errorf("list %q = %v; want ErrMalformed", kv, err)
		}
	}
	for i := range lobby.MaxBrowseTabs + 1 {
		e.must("ann", "browse", "on", "1", "tab", fmt.Sprint(i), "req", fmt.Sprint("b", i))
	}
	if got := e.wait("ann", "error", nil); got["reason"] != lobby.ErrTooManyTabs.Error() || got["req"] != fmt.Sprint("b", lobby.MaxBrowseTabs) {
		t.Errorf("tab %d: error = %v", lobby.MaxBrowseTabs, got)
	}
}

// TestRequeueStaysOutOfTheLobby: players who leave a finished game and
// quick-match again before the tick never hear the lobby in between, and
// get no snapshots; one who stays out of a game hears it at the tick.
func TestRequeueStaysOutOfTheLobby(t *testing.T) {
	tick := time.Hour // ticks only when the test says
	e := newEnv(t, lobby.Options{Tick: tick}, nil)
	drain := func() {
		for range 3 {
			if err := e.l.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := e.m.WaitIdle(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range []string{"ann", "bob", "cat"} {
		e.hello(s, s)
	}
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	room := e.wait("ann", "joined", nil)["room"].(string)
	drain()
	snaps := map[string]int{"ann": e.count("ann", "rooms"), "bob": e.count("bob", "rooms")}
	playNim(t, e, room, "ann", "bob")
	e.wait("bob", "finished", nil)
	for _, s := range []string{"ann", "bob"} {
		e.must(s, "leave-room", "room", room)
		e.wait(s, "ok", func(m map[string]any) bool { return m["action"] == "leave-room" })
	}
	e.must("ann", "quickplay", "game", "nim")
	e.must("cat", "quickplay", "game", "nim")
	e.wait("cat", "joined", nil)
	drain()
	e.c.Advance(tick)
	drain()
	if got := e.count("ann", "rooms") - snaps["ann"]; got != 0 || e.tr.Subscribed("ann", lobby.TopicRooms) {
		t.Errorf("ann, seated again before the tick: %d snapshots, hears the lobby: %v", got, e.tr.Subscribed("ann", lobby.TopicRooms))
	}
	if got := e.count("bob", "rooms") - snaps["bob"]; got != 1 || !e.tr.Subscribed("bob", lobby.TopicRooms) {
		t.Errorf("bob, out of any game at the tick: %d snapshots (want 1), hears the lobby: %v", got, e.tr.Subscribed("bob", lobby.TopicRooms))
	}
}

func (e *env) checkViewIfHearing(t *testing.T, s string) {
	t.Helper()
	if e.tr.Subscribed(s, lobby.TopicRooms) {
		e.checkView(s, lobby.DefaultShown, lobby.DefaultShown)
	}
}

// TestPages: "list" pages through every player online and every room.
func TestPages(t *testing.T) {
	e := newEnv(t, lobby.Options{PresenceShown: 3, RoomsShown: 2}, nil)
	for i := range 7 {
		e.hello(fmt.Sprint("s", i), fmt.Sprintf("P%d", i))
		e.must(fmt.Sprint("s", i), "create", "game", "nim")
		e.settle()
	}
	e.settle()
	if got := e.wait("s6", "presence", nil); len(got["online"].([]any)) != 3 || got["count"] != 6.0 {
		t.Errorf("s6's snapshot (made before its own hello was published) = %v", got)
	}
	var all []string
	for off := 0; off < 10; off += 3 {
		p := e.page("s0", "players", off)
		if p["count"] != 7.0 || p["offset"] != float64(off) || p["what"] != "players" {
			t.Errorf("page = %v", p)
		}
		for _, x := range p["online"].([]any) {
			all = append(all, x.(map[string]any)["name"].(string))
		}
	}
	if got := strings.Join(all, ","); got != "P0,P1,P2,P3,P4,P5,P6" {
		t.Errorf("players paged: %s", got)
	}
	var ids []string
	for off := 0; off < 8; off += 2 {
		p := e.page("s0", "rooms", off)
		if p["count"] != 7.0 {
			t.Errorf("page = %v", p)
		}
		for _, x := range p["rooms"].([]any) {
			ids = append(ids, x.(map[string]any)["id"].(string))
		}
	}
	if len(ids) != 7 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 7 {
		t.Errorf("rooms paged: %v", ids)
	}
	if p := e.page("s0", "rooms", 1000); p["count"] != 7.0 || len(p["rooms"].([]any)) != 0 {
		t.Errorf("page past the end = %v", p)
	}
}

// TestLobbyScalesLinearly: what the lobby sends grows with the players, not
// with their square. Players arrive in batches, one tick per batch, say
// hello, quick-play and are seated; the bytes of lobby events all sessions
// receive, for 10× the players, must be far below the 100× of a lobby that
// tells everyone about everyone.
func TestLobbyScalesLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 players; run without -short")
	}
	bytes := func(players int) int {
		e := newEnv(t, lobby.Options{}, nil)
		const batch = 100
		for b := 0; b < players; b += batch {
			for i := b; i < b+batch; i++ {
				s := fmt.Sprint("s", i)
				e.must(s, "hello", "name", fmt.Sprintf("P%05d", i))
			}
			for i := b; i < b+batch; i++ {
				s := fmt.Sprint("s", i)
				e.wait(s, "welcome", nil)
				e.must(s, "quickplay", "game", "nim")
			}
			e.settle()
		}
		total := 0
		for i := range players {
			for _, r := range e.tr.Events(fmt.Sprint("s", i)) {
				if strings.HasPrefix(r.Topic, lobby.TopicLobby) {
					total += len(r.Data)
				}
			}
		}
		if got := e.page("s0", "players", 0)["count"]; got != float64(players) {
			t.Fatalf("%v players online; want %d", got, players)
		}
		return total
	}
	small, large := bytes(500), bytes(5000)
	ratio := float64(large) / float64(small)
	t.Logf("lobby bytes: %d for 500 players, %d for 5,000: ×%.1f", small, large, ratio)
	if ratio > 20 {
		t.Errorf("10× the players cost ×%.1f the lobby bytes; want linear (≈10)", ratio)
	}
}

// multiTransport is the recording transport with rooms.MultiSender: it
// notes every SendAll and records each of its unicasts.
type multiTransport struct {
	*roomstest.Transport
	mu    sync.Mutex
	calls []sendAll
}

type sendAll struct {
	typ      string
	sessions []string
}

func (m *multiTransport) SendAll(ids []string, ev rooms.Event) {
	m.mu.Lock()
	m.calls = append(m.calls, sendAll{ev.Type, slices.Sorted(slices.Values(ids))})
	m.mu.Unlock()
	for _, id := range ids {
		m.Transport.Send(id, ev)
	}
}

func (m *multiTransport) sendAlls() []sendAll {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// TestSnapshotsSentTogether: the players back in the lobby at one tick are
// sent the snapshots together (rooms.MultiSender: each encoded and held
// once for all), and their views are right.
func TestSnapshotsSentTogether(t *testing.T) {
	mt := &multiTransport{Transport: roomstest.NewTransport()}
	e := newEnv(t, lobby.Options{}, mt)
	e.tr = mt.Transport
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	room := e.wait("ann", "joined", nil)["room"].(string)
	e.settle()
	before := len(mt.sendAlls())
	playNim(t, e, room, "ann", "bob")
	e.wait("bob", "finished", nil)
	e.settle()
	calls := mt.sendAlls()[before:]
	types := map[string]bool{}
	for _, c := range calls {
		if !slices.Equal(c.sessions, []string{"ann", "bob"}) {
			t.Errorf("%s sent to %v; want both players at once", c.typ, c.sessions)
		}
		types[c.typ] = true
	}
	if len(types) != 3 || !types["presence"] || !types["rooms"] || !types["chat-history"] {
		t.Fatalf("snapshots sent together: %v; want presence, rooms and chat-history once each", calls)
	}
	e.checkView("ann", lobby.DefaultShown, lobby.DefaultShown)
	e.checkView("bob", lobby.DefaultShown, lobby.DefaultShown)
}
