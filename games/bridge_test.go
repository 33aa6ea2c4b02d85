package games

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"

	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// player is a Go client with a stream.
type player struct {
	t    *testing.T
	c    *cometclient.Client
	s    *cometclient.Stream
	id   string // public player id from welcome
	room string
	tok  string
	seq  int
}

func (gs *gamesServer) newPlayer(name string) *player {
	t := gs.t.(*testing.T)
	t.Helper()
	ctx := context.Background()
	c, err := cometclient.Join(ctx, gs.base, gs.hc)
	if err != nil {
		t.Fatal(err)
	}
	p := &player{t: t, c: c}
	p.listen(false)
	if err := c.Publish(ctx, "/lobby", "action", "hello", "name", name); err != nil {
		t.Fatalf("hello: %v", err)
	}
	var w struct {
		Player struct{ ID, Name string }
	}
	p.wait("/lobby", "welcome").decode(&w)
	p.id = w.Player.ID
	return p
}

func (p *player) listen(resume bool) {
	p.t.Helper()
	s, err := p.c.Listen(context.Background(), resume)
	if err != nil {
		p.t.Fatalf("listen: %v", err)
	}
	p.s = s
	p.t.Cleanup(func() { s.Close() })
}

type got cometclient.Event

func (g got) decode(v any) {
	if err := json.Unmarshal([]byte(g["data"]), v); err != nil {
		panic(fmt.Sprintf("decode %q: %v", g["data"], err))
	}
}

func (g got) m() map[string]any {
	var m map[string]any
	g.decode(&m)
	return m
}

// wait reads events until one of type typ on a subject starting with prefix.
func (p *player) wait(prefix, typ string) got {
	p.t.Helper()
	evs, err := p.s.Until(10*time.Second, func(e cometclient.Event) bool {
		return e.Name() == "data" && strings.HasPrefix(e["p_subject"], prefix) && e["type"] == typ
	})
	if err != nil {
		var seen []string
		for _, e := range evs {
			seen = append(seen, e["type"])
		}
		p.t.Fatalf("waiting for %s %s: %v; saw %v", prefix, typ, err, seen)
	}
	return got(evs[len(evs)-1])
}

func (p *player) lobby(kv ...string) error {
	return p.c.Publish(context.Background(), "/lobby", kv...)
}

func (p *player) move(n int, moveID string) error {
	p.seq++
	return p.c.Publish(context.Background(), "/room/"+p.room, "type", "take", "data", fmt.Sprint(n), "move", moveID, "seq", fmt.Sprint(p.seq))
}

// joined waits for this player's joined event and records room and token.
func (p *player) joined() got {
	p.t.Helper()
	j := p.wait("/room/", "joined")
	var d struct {
		Room, Token string
		Seat        int
	}
	j.decode(&d)
	p.room, p.tok = d.Room, d.Token
	return j
}

// TestGamesQuickMatchPlayRematch: quick-match → play → finish → rematch,
// over loopback through the lobby and the rooms runtime.
func TestGamesQuickMatchPlayRematch(t *testing.T) {
	gs := newGamesServer(t, 30*time.Second)
	ann, bob := gs.newPlayer("Ann"), gs.newPlayer("Bob")
	if err := ann.lobby("action", "quickplay", "game", "nim"); err != nil {
		t.Fatal(err)
	}
	if err := bob.lobby("action", "quickplay", "game", "nim"); err != nil {
		t.Fatal(err)
	}
	ann.wait("/lobby", "matched")
	bob.wait("/lobby", "matched")
	ann.joined()
	bob.joined()
	if ann.room == "" || ann.room != bob.room || ann.tok == "" || ann.tok == bob.tok {
		t.Fatalf("rooms %q %q tokens %q %q", ann.room, bob.room, ann.tok, bob.tok)
	}
	// Nim with 15 stones: take 3 each until someone takes the last.
	players := []*player{ann, bob}
	turn := ann.wait("/room/", "turn").m()["player"].(map[string]any)["id"].(string)
	bob.wait("/room/", "turn")
	cur := 0
	if turn == bob.id {
		cur = 1
	}
	heap := 15
	for heap > 0 {
		p := players[cur]
		n := min(3, heap)
		if err := p.move(n, fmt.Sprintf("m%d", heap)); err != nil {
			t.Fatalf("move: %v", err)
		}
		p.wait("/room/", "ack")
		heap -= n
		cur = 1 - cur
	}
	fin := ann.wait("/room/", "finished").m()
	bob.wait("/room/", "finished")
	winner := fin["result"].(map[string]any)["winner"]
	if winner != players[1-cur].id {
		t.Fatalf("winner %v; want %s", winner, players[1-cur].id)
	}
	// Rematch: both vote, the game deals again.
	for _, p := range players {
		if err := p.c.Publish(context.Background(), "/room/"+p.room, "type", "rematch"); err != nil {
			t.Fatal(err)
		}
	}
	ann.wait("/room/", "heap")
	bob.wait("/room/", "heap")
}

// TestGamesReconnect: a stream that drops and comes back within the window
// keeps the seat and the turn; a new session reclaims the seat with the
// private token; spectators cannot move; retried moves apply once.
func TestGamesReconnect(t *testing.T) {
	gs := newGamesServer(t, 30*time.Second)
	ann, bob := gs.newPlayer("Ann"), gs.newPlayer("Bob")
	ann.lobby("action", "create", "game", "nim")
	ann.joined()
	bob.lobby("action", "join", "room", ann.room)
	bob.joined()
	first := ann.wait("/room/", "turn").m()["player"].(map[string]any)["id"].(string)
	mover, other := ann, bob
	if first == bob.id {
		mover, other = bob, ann
	}
	// A retried move (same move id) applies once.
	if err := mover.move(2, "once"); err != nil {
		t.Fatal(err)
	}
	mover.wait("/room/", "ack")
	mover.seq-- // the client retries with the same id and seq
	if err := mover.move(2, "once"); err != nil {
		t.Fatal(err)
	}
	mover.wait("/room/", "ack")
	if took := other.wait("/room/", "took").m(); took["heap"].(float64) != 13 {
		t.Fatalf("after a retried move heap = %v; want 13", took["heap"])
	}

	// The other player's stream dies; it comes back with p_last within the
	// window: same seat, nothing lost, its turn kept.
	other.s.Close()
	testkit.EventuallyWithin(t, testkit.Timeout, "detach seen", func() bool {
		info, _ := gs.m.Room(other.room)
		for _, p := range info.Players {
			if p.ID == other.id {
				return !p.Connected
			}
		}
		return false
	})
	other.listen(true)
	if err := other.move(1, "after-reconnect"); err != nil {
		t.Fatalf("move after reconnect: %v", err)
	}
	other.wait("/room/", "ack")

	// A brand-new session (a reloaded page) reclaims mover's seat with the token.
	c2, err := cometclient.Join(context.Background(), gs.base, gs.hc)
	if err != nil {
		t.Fatal(err)
	}
	mover.c.Leave(context.Background()) // the old page is gone
	re := &player{t: t, c: c2, id: mover.id, seq: mover.seq}
	re.listen(false)
	if err := c2.Publish(context.Background(), "/lobby", "action", "hello", "name", "Ann", "token", mover.tok); err != nil {
		t.Fatalf("hello with token: %v", err)
	}
	j := re.joined().m()
	if j["reconnected"] != true || re.room != mover.room {
		t.Fatalf("reclaim: %v", j)
	}
	re.wait("/room/", "state")
	if err := re.move(1, "reclaimed"); err != nil {
		t.Fatalf("move after reclaim: %v", err)
	}
	re.wait("/room/", "ack")

	// A spectator cannot move.
	spy := gs.newPlayer("Spy")
	spy.lobby("action", "spectate", "room", ann.room)
	spy.joined()
	spy.room = ann.room
	if err := spy.move(1, "spy"); err == nil || !strings.Contains(err.Error(), "spectators cannot act") {
		t.Fatalf("spectator move: %v; want a nack", err)
	}
	// Clients cannot subscribe to room topics themselves.
	if _, err := spy.c.Subscribe(context.Background(), "/room/"+ann.room, ""); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("client subscription to a room topic: %v", err)
	}
}

// TestGamesDroppedForfeit: a player whose connection goes away and does not
// come back within the window is dropped; nim forfeits the game for it.
func TestGamesDroppedForfeit(t *testing.T) {
	gs := newGamesServer(t, 300*time.Millisecond)
	ann, bob := gs.newPlayer("Ann"), gs.newPlayer("Bob")
	ann.lobby("action", "create", "game", "nim")
	ann.joined()
	bob.lobby("action", "join", "room", ann.room)
	bob.joined()
	bob.wait("/room/", "turn")
	ann.s.Close() // ann's tab dies for good
	ann.c.Leave(context.Background())
	d := bob.wait("/room/", "player-dropped").m()
	if d["player"].(map[string]any)["id"] != ann.id {
		t.Fatalf("dropped: %v", d)
	}
	fin := bob.wait("/room/", "finished").m()
	r := fin["result"].(map[string]any)
	if r["winner"] != bob.id || r["forfeit"] != "dropped" {
		t.Fatalf("finished: %v", fin)
	}
}

// TestGamesJoinRejected: reasons reach the client.
func TestGamesJoinRejected(t *testing.T) {
	gs := newGamesServer(t, 30*time.Second)
	ann, bob, cat := gs.newPlayer("Ann"), gs.newPlayer("Bob"), gs.newPlayer("Cat")
	ann.lobby("action", "create", "game", "nim")
	ann.joined()
	bob.lobby("action", "join", "room", ann.room)
	bob.joined()
	cat.lobby("action", "join", "room", ann.room)
	if r := cat.wait("/room/", "join-rejected").m(); r["reason"] == "" {
		t.Fatalf("join-rejected without reason: %v", r)
	}
	if err := cat.c.Publish(context.Background(), "/room/nosuch", "type", "take", "data", "1"); err == nil {
		t.Fatal("a publish to an unknown room was accepted")
	}
}

// TestGamesManyRooms: 2,000 concurrent games through the engine keep the
// goroutine count bounded.
func TestGamesManyRooms(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 2,000 rooms")
	}
	gs := newGamesServer(t, 30*time.Second)
	runtime.GC()
	base := runtime.NumGoroutine()
	for i := 0; i < 2000; i++ {
		s, err := gs.hub.Join(comet.FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gs.m.Create("nim", rooms.PlayerInfo{SessionID: s.ID(), PlayerID: fmt.Sprint("p", i), Name: fmt.Sprint("P", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	testkit.EventuallyWithin(t, 20*time.Second, "rooms created", func() bool { return gs.m.NumRooms() == 2000 })
	if g := runtime.NumGoroutine(); g > base+20 {
		t.Fatalf("goroutines %d → %d with 2,000 rooms", base, g)
	}
	_ = http.StatusOK
}

// cookieTransport adds a Cookie header to every request.
type cookieTransport struct{ cookie string }

func (c cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Cookie", c.cookie)
	return http.DefaultTransport.RoundTrip(r)
}

// headerClaim records the Cookie of every publish to its prefix.
type headerClaim struct{ seen chan string }

func (h headerClaim) HandlePublish(p comet.Publish) error {
	h.seen <- p.Header.Get("Cookie")
	return nil
}

// TestGamesHelloForwardsHeaders: the lobby's Authenticator sees the hello's
// headers over the wire (a cookie names the player); another SubjectHandler
// gets them on every publish. Room moves and other lobby actions skip them.
func TestGamesHelloForwardsHeaders(t *testing.T) {
	auth := rooms.AuthFunc(func(_ context.Context, r rooms.AuthRequest) (rooms.Identity, error) {
		name, ok := strings.CutPrefix(r.Header.Get("Cookie"), "user=")
		if !ok {
			return rooms.Identity{}, fmt.Errorf("%w: no cookie", rooms.ErrAuthRefused)
		}
		return rooms.Identity{PlayerID: "u-" + name, Name: name}, nil
	})
	th := newGamesServerWith(t, rooms.DefaultReconnectWindow, lobby.Options{Auth: auth})
	hc := &http.Client{Transport: cookieTransport{"user=Zed"}, Timeout: 10 * time.Second}
	c, err := cometclient.Join(context.Background(), th.base, hc)
	if err != nil {
		t.Fatal(err)
	}
	p := &player{t: t, c: c}
	p.listen(false)
	if err := p.lobby("action", "hello", "name", "ignored"); err != nil {
		t.Fatal(err)
	}
	var w struct{ Player struct{ ID, Name string } }
	p.wait("/lobby", "welcome").decode(&w)
	if w.Player.ID != "u-Zed" || w.Player.Name != "Zed" {
		t.Errorf("welcome = %+v; want the cookie's player", w.Player)
	}

	seen := make(chan string, 1)
	if err := th.hub.Claim("/ext", headerClaim{seen}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), "/ext", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "user=Zed" {
		t.Errorf("a SubjectHandler got Cookie %q; want user=Zed", got)
	}
	if roomClaim.NeedsHeader(roomClaim{}, []comet.Field{{Name: "type", Value: "take"}}) {
		t.Error("a room move builds a Header")
	}
	for _, tc := range []struct {
		action string
		want   bool
	}{{"hello", true}, {"chat", false}, {"quickplay", false}} {
		if got := (lobbyClaim{}).NeedsHeader([]comet.Field{{Name: "req", Value: "1"}, {Name: "action", Value: tc.action}}); got != tc.want {
			t.Errorf("lobby %s: needsHeader = %v; want %v", tc.action, got, tc.want)
		}
	}
}

// The bridge names the producer of every event for the hub's ordering: the
// lobby for all its topics, each room for its own, so that a room's moves
// never wait behind the lobby's broadcasts.
func TestBridgeProducers(t *testing.T) {
	for topic, want := range map[string]string{
		lobby.TopicLobby:    lobby.TopicLobby,
		lobby.TopicPresence: lobby.TopicLobby,
		lobby.TopicRooms:    lobby.TopicLobby,
		lobby.TopicChat:     lobby.TopicLobby,
		"/room/r1":          "/room/r1",
		"/room/r2":          "/room/r2",
		"/lobbyist":         "/lobbyist",
	} {
		if got := producer(topic); got != want {
			t.Errorf("producer(%q) = %q, want %q", topic, got, want)
		}
	}
}
