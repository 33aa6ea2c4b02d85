package lobby_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/rooms/roomstest"
)

const timeout = 10 * time.Second

// shutdownTimeout bounds a test environment's shutdown.
const shutdownTimeout = 2 * time.Minute

type env struct {
	t  *testing.T
	m  *rooms.Manager
	tr *roomstest.Transport
	c  *roomstest.Clock
	l  *lobby.Lobby
}

func newEnv(t *testing.T, o lobby.Options, tr rooms.Transport) *env {
	t.Helper()
	return newEnvOn(t, o, tr, nil)
}

// newEnvOn is newEnv with the lobby on wrap's RoomService around the
// Manager (nil: the Manager).
func newEnvOn(t *testing.T, o lobby.Options, tr rooms.Transport, wrap func(*rooms.Manager) lobby.RoomService) *env {
	t.Helper()
	e := &env{t: t, tr: roomstest.NewTransport(), c: roomstest.NewClock()}
	if tr == nil {
		tr = e.tr
	}
	e.m = rooms.NewManager(tr, rooms.ManagerOptions{Clock: e.c, Logger: roomstest.DiscardLogger})
	if err := e.m.Register(nim.Game); err != nil {
		t.Fatal(err)
	}
	o.Clock, o.Logger = e.c, roomstest.DiscardLogger
	var rs lobby.RoomService = e.m
	if wrap != nil {
		rs = wrap(e.m)
	}
	e.l = lobby.New(rs, tr, o)
	t.Cleanup(func() {
		e.l.Close()
		// Disposing tens of thousands of rooms under -race on a busy
		// machine takes a while: the bound only catches a shutdown that
		// hangs.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := e.m.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return e
}

// do sends an action with fields given as key, value pairs.
func (e *env) do(s, action string, kv ...string) error {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return e.l.Handle(s, lobby.Request{Action: action, Fields: f})
}

func (e *env) must(s, action string, kv ...string) {
	e.t.Helper()
	if err := e.do(s, action, kv...); err != nil {
		e.t.Fatalf("%s %s: Handle = %v", s, action, err)
	}
}

// wait returns the first event of the type the session got that matches.
func (e *env) wait(s, typ string, match func(map[string]any) bool) map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := e.tr.Wait(ctx, s, typ, func(r roomstest.Record) bool { return match == nil || match(r.Map()) })
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Map()
}

// settle waits until the lobby and the rooms have processed everything.
func (e *env) settle() {
	e.t.Helper()
	e.settleWithin(timeout)
}

// settleWithin is settle with its own liveness bound d.
func (e *env) settleWithin(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for range 3 { // lobby → rooms → lobby (room changes)
		if err := e.l.Sync(ctx); err != nil {
			e.t.Fatal(err)
		}
		if err := e.m.WaitIdle(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) hello(s, name string, kv ...string) map[string]any {
	e.t.Helper()
	e.must(s, "hello", append([]string{"name", name}, kv...)...)
	return e.wait(s, "welcome", nil)["player"].(map[string]any)
}

func (e *env) count(s, typ string) int { return e.tr.Count(s, typ) }

func TestHello(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	e.must("s1", "hello", "name", "  Ann ", "req", "r1")
	w := e.wait("s1", "welcome", nil)
	ann := w["player"].(map[string]any)
	if ann["name"] != "Ann" || !strings.HasPrefix(ann["id"].(string), "g-") || w["req"] != "r1" {
		t.Errorf("welcome = %v", w)
	}
	// The snapshots are the views as last published: Ann is not in hers
	// yet; the next delta brings her.
	if got := e.wait("s1", "presence", nil); len(got["online"].([]any)) != 0 || got["count"] != 0.0 {
		t.Errorf("presence = %v", got)
	}
	if got := e.wait("s1", "rooms", nil); len(got["rooms"].([]any)) != 0 || got["count"] != 0.0 {
		t.Errorf("rooms = %v", got)
	}
	// The welcome sends the chat history and subscribes the session after
	// the snapshots: wait for the lobby to be done with it (without
	// publishing the lists).
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.l.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := roomstest.Types(e.tr.Events("s1")); !slices.Equal(got, []string{"welcome", "presence", "rooms", "chat-history"}) {
		t.Errorf("events = %v; want welcome, presence, rooms, chat-history", got)
	}
	for _, topic := range []string{lobby.TopicPresence, lobby.TopicRooms, lobby.TopicChat} {
		if !e.tr.Subscribed("s1", topic) {
			t.Errorf("not subscribed to %s", topic)
		}
	}
	e.settle()
	if got := e.wait("s1", "presence-delta", nil); got["count"] != 1.0 || names(got["online"]) != "Ann" || len(got["offline"].([]any)) != 0 {
		t.Errorf("presence-delta = %v", got)
	}
	e.hello("s2", "Bob")
	if got := e.wait("s2", "presence", nil); names(got["online"]) != "Ann" || got["count"] != 1.0 {
		t.Errorf("Bob's presence = %v", got)
	}
	e.settle()
	for _, s := range []string{"s1", "s2"} {
		if got := e.wait(s, "presence-delta", func(m map[string]any) bool { return m["count"] == 2.0 }); names(got["online"]) != "Bob" {
			t.Errorf("%s: presence-delta = %v", s, got)
		}
	}
	e.settle()
	if n := e.count("s1", "presence-delta"); n != 2 {
		t.Errorf("Ann got %d presence-delta events; want 2 (nothing changed after Bob)", n)
	}
}

// names returns the names of a JSON list of identities, comma-separated.
func names(list any) string {
	var out []string
	for _, p := range list.([]any) {
		out = append(out, p.(map[string]any)["name"].(string))
	}
	return strings.Join(out, ",")
}

// roomIn returns the room of a rooms-delta with that id, or nil.
func roomIn(delta map[string]any, id string) map[string]any {
	for _, r := range delta["rooms"].([]any) {
		if r := r.(map[string]any); r["id"] == id {
			return r
		}
	}
	return nil
}

// removedIn reports whether a delta's list under key holds id.
func removedIn(delta map[string]any, key, id string) bool {
	return slices.Contains(delta[key].([]any), any(id))
}

func TestHandleRefusals(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	for _, tc := range []struct {
		name   string
		action string
		kv     []string
		want   error
	}{
		{"before hello", "create", []string{"game", "nim"}, lobby.ErrHelloFirst},
		{"chat before hello", "chat", []string{"text", "hi"}, lobby.ErrHelloFirst},
		{"unknown action", "dance", nil, lobby.ErrUnknownAction},
		{"bad name", "hello", []string{"name", "a\u200db"}, rooms.ErrInvalidName},
		{"no name", "hello", nil, rooms.ErrInvalidName},
		{"long req", "hello", []string{"name", "Ann", "req", strings.Repeat("r", 65)}, lobby.ErrMalformed},
		{"huge field", "hello", []string{"name", "Ann", "x", strings.Repeat("x", 5000)}, lobby.ErrMalformed},
	} {
		if err := e.do("s1", tc.action, tc.kv...); !errors.Is(err, tc.want) {
			t.Errorf("%s: Handle = %v; want %v", tc.name, err, tc.want)
		}
	}
	e.hello("s1", "Ann")
	for _, tc := range []struct {
		name   string
		action string
		kv     []string
		want   error
	}{
		{"hello twice", "hello", []string{"name", "Ann"}, lobby.ErrAlreadyHello},
		{"unknown game", "create", []string{"game", "chess"}, rooms.ErrUnknownGame},
		{"bad options", "create", []string{"game", "nim", "options", "[1]"}, lobby.ErrMalformed},
		{"join without room", "join", nil, lobby.ErrMalformed},
		{"quickplay unknown game", "quickplay", []string{"game", "chess"}, rooms.ErrUnknownGame},
		{"bad rename", "name", []string{"name", "  "}, rooms.ErrInvalidName},
	} {
		if err := e.do("s1", tc.action, tc.kv...); !errors.Is(err, tc.want) {
			t.Errorf("%s: Handle = %v; want %v", tc.name, err, tc.want)
		}
	}
	// Asynchronous refusals come as "error" events, with req echoed.
	e.must("s1", "join", "room", "nope", "req", "j1")
	got := e.wait("s1", "error", nil)
	if got["action"] != "join" || got["reason"] != rooms.ErrNoRoom.Error() || got["req"] != "j1" {
		t.Errorf("error = %v", got)
	}
	e.must("s1", "cancel-quickplay")
	e.wait("s1", "error", func(m map[string]any) bool { return m["reason"] == lobby.ErrNotQueued.Error() })
}

func TestAuthenticator(t *testing.T) {
	auth := rooms.AuthFunc(func(ctx context.Context, r rooms.AuthRequest) (rooms.Identity, error) {
		c, err := (&http.Request{Header: r.Header}).Cookie("user")
		switch {
		case err != nil:
			return rooms.Identity{}, fmt.Errorf("%w: no session cookie", rooms.ErrAuthRefused)
		case c.Value == "slow":
			<-ctx.Done()
			return rooms.Identity{}, ctx.Err()
		}
		return rooms.Identity{PlayerID: "u-" + c.Value, Name: strings.ToUpper(c.Value[:1]) + c.Value[1:]}, nil
	})
	e := newEnv(t, lobby.Options{Auth: auth, AuthTimeout: 50 * time.Millisecond}, nil)
	hello := func(s, cookie string) {
		t.Helper()
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", "user="+cookie)
		}
		if err := e.l.Handle(s, lobby.Request{Action: "hello", Fields: map[string]string{"req": "h"}, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	hello("s1", "")
	got := e.wait("s1", "error", nil)
	if got["action"] != "hello" || got["reason"] != "rooms: authentication refused: no session cookie" || got["req"] != "h" {
		t.Errorf("refusal = %v", got)
	}
	if err := e.do("s1", "chat", "text", "hi"); !errors.Is(err, lobby.ErrHelloFirst) {
		t.Errorf("chat after a refused hello = %v; want ErrHelloFirst", err)
	}
	hello("s2", "slow")
	if got := e.wait("s2", "error", nil)["reason"]; got != context.DeadlineExceeded.Error() {
		t.Errorf("slow authenticator: reason = %v", got)
	}
	hello("s3", "ann")
	if got := e.wait("s3", "welcome", nil)["player"].(map[string]any); got["id"] != "u-ann" || got["name"] != "Ann" {
		t.Errorf("welcome player = %v", got)
	}
}

// TestChatLobbyRate: the lobby as a whole takes at most ChatLobbyRate chat
// messages a second; a message refused for it costs its sender nothing.
func TestChatLobbyRate(t *testing.T) {
	e := newEnv(t, lobby.Options{ChatRate: 2, ChatPer: 10 * time.Second, ChatLobbyRate: 3}, nil)
	for _, s := range []string{"ann", "bob", "cat", "dan"} {
		e.hello(s, s)
	}
	for _, s := range []string{"ann", "bob", "cat"} {
		e.must(s, "chat", "text", "hi from "+s)
	}
	if err := e.do("dan", "chat", "text", "me too"); !errors.Is(err, lobby.ErrChatBusy) {
		t.Fatalf("4th message of the lobby in a second: %v; want ErrChatBusy", err)
	}
	e.c.Advance(time.Second)
	// Dan's refused message did not count against his own 2 per 10 s.
	e.must("dan", "chat", "text", "me too")
	e.must("dan", "chat", "text", "again")
	if err := e.do("dan", "chat", "text", "third"); !errors.Is(err, lobby.ErrRateLimited) {
		t.Errorf("dan's 3rd message in 10 s: %v; want ErrRateLimited", err)
	}
	e.settle()
	if n := e.count("ann", "chat"); n != 5 {
		t.Errorf("ann heard %d chat messages; want 5", n)
	}
}

func TestChatLimits(t *testing.T) {
	e := newEnv(t, lobby.Options{ChatMaxLen: 10, ChatRate: 3, ChatPer: 10 * time.Second}, nil)
	e.hello("s1", "Ann")
	e.hello("s2", "Bob")
	if err := e.do("s1", "chat", "text", strings.Repeat("é", 11)); !errors.Is(err, lobby.ErrChatTooLong) {
		t.Errorf("11 runes: %v; want ErrChatTooLong", err)
	}
	for _, bad := range []string{"", "   ", "a\nb", "\x00", "\xff"} {
		if err := e.do("s1", "chat", "text", bad); !errors.Is(err, lobby.ErrMalformed) {
			t.Errorf("chat %q: %v; want ErrMalformed", bad, err)
		}
	}
	for i := range 3 {
		if err := e.do("s1", "chat", "text", fmt.Sprint(" héllo ", i, " ")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := e.do("s1", "chat", "text", "one more"); !errors.Is(err, lobby.ErrRateLimited) {
		t.Errorf("4th message in the window: %v; want ErrRateLimited", err)
	}
	if err := e.do("s2", "chat", "text", "bob too"); err != nil {
		t.Errorf("another player is limited too: %v", err)
	}
	e.c.Advance(10*time.Second - time.Millisecond)
	if err := e.do("s1", "chat", "text", "still"); !errors.Is(err, lobby.ErrRateLimited) {
		t.Errorf("before the window passed: %v; want ErrRateLimited", err)
	}
	e.c.Advance(time.Millisecond)
	if err := e.do("s1", "chat", "text", strings.Repeat("é", 10)); err != nil {
		t.Errorf("after the window: %v", err)
	}
	got := e.wait("s2", "chat", nil)
	from := got["from"].(map[string]any)
	if got["text"] != "héllo 0" || from["name"] != "Ann" || got["ts"] != float64(roomstest.Epoch.UnixMilli()) {
		t.Errorf("chat = %v", got)
	}
	e.settle()
	if n := e.count("s2", "chat"); n != 5 {
		t.Errorf("bob saw %d chat messages; want 5", n)
	}
}

// TestChatInvisible: chat refuses what names refuse as invisible: bidi
// embeddings, overrides and isolates (which reorder what follows them on
// the readers' screens), zero-width characters, the BOM and the other
// format or ignorable characters, and "Zalgo" runs of combining marks; it
// allows accents, scripts and emoji, variation selectors included.
func TestChatInvisible(t *testing.T) {
	e := newEnv(t, lobby.Options{ChatRate: 100, ChatLobbyRate: 100}, nil)
	e.hello("s1", "Ann")
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"plain", "good game", true},
		{"accents", "Zoë, déjà vu", true},
		{"decomposed accent", "Zoe\u0308", true},
		{"scripts", "李小龍 Ελένη देवनागरी لاعب", true},
		{"emoji", "gg 😀👍", true},
		{"emoji with variation selector", "I \u2764\ufe0f this", true},
		{"keycap", "1\ufe0f\u20e3", true},
		{"three marks", "a\u0301\u0302\u0303", true},
		{"LRE", "a\u202ab", false},
		{"RLE", "a\u202bb", false},
		{"PDF", "a\u202cb", false},
		{"LRO", "a\u202db", false},
		{"RLO", "evil\u202etxt.exe", false},
		{"LRI", "a\u2066b", false},
		{"RLI", "a\u2067b", false},
		{"FSI", "a\u2068b", false},
		{"PDI", "a\u2069b", false},
		{"zero width space", "a\u200bb", false},
		{"zero width non-joiner", "a\u200cb", false},
		{"zero width joiner", "a\u200db", false},
		{"word joiner", "a\u2060b", false},
		{"BOM", "\ufeffhello", false},
		{"LRM", "a\u200eb", false},
		{"soft hyphen", "a\u00adb", false},
		{"Hangul filler", "\u3164", false},
		{"tag character", "a\U000e0041b", false},
		{"private use", "a\ue000b", false},
		{"zalgo", "a\u0301\u0302\u0303\u0304", false},
		{"variation selectors piled up", "a\ufe0f\ufe0f\ufe0f\ufe0f", false},
	} {
		err := e.do("s1", "chat", "text", tc.text)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: chat refused: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, lobby.ErrMalformed):
			t.Errorf("%s: chat %+q = %v; want ErrMalformed", tc.name, tc.text, err)
		case !tc.ok && strings.Contains(err.Error(), tc.text):
			t.Errorf("%s: the error quotes the input: %v", tc.name, err)
		}
		if !tc.ok {
			if _, err := rooms.ValidateName(tc.text); err == nil {
				t.Errorf("%s: a name accepts what chat refuses", tc.name)
			}
		}
	}
}

// playNim finishes a nim game of 15 stones with moves through the Manager.
func playNim(t *testing.T, e *env, room string, first, second string) {
	t.Helper()
	seq := map[string]int{}
	for i := range 5 { // 3 × 5 = 15 stones
		who := []string{first, second}[i%2]
		seq[who]++
		msg := rooms.Message{Type: "take", MoveID: fmt.Sprint("m", i), Seq: seq[who], Data: json.RawMessage("3")}
		if err := e.m.Deliver(room, who, msg); err != nil {
			t.Fatal(err)
		}
		e.wait(who, "ack", func(m map[string]any) bool { return m["move"] == msg.MoveID })
	}
}

func TestQuickplayPlayFinishRematch(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	annID := e.hello("ann", "Ann")["id"]
	e.hello("bob", "Bob")
	e.must("ann", "quickplay", "game", "nim", "req", "q1")
	if got := e.wait("ann", "queued", nil); got["waiting"] != 1.0 || got["needed"] != 2.0 || got["req"] != "q1" {
		t.Errorf("queued = %v", got)
	}
	if err := e.do("ann", "quickplay", "game", "nim"); err != nil {
		t.Fatal(err)
	}
	e.wait("ann", "error", func(m map[string]any) bool { return m["reason"] == lobby.ErrAlreadyQueued.Error() })
	e.must("bob", "quickplay", "game", "nim")
	room := e.wait("ann", "matched", nil)["room"].(string)
	if got := e.wait("bob", "matched", nil); got["room"] != room || got["game"] != "nim" {
		t.Errorf("bob matched = %v", got)
	}
	for _, s := range []string{"ann", "bob"} {
		e.wait(s, "joined", nil)
		types := e.tr.Types(s)
		if slices.Index(types, "matched") > slices.Index(types, "joined") {
			t.Errorf("%s: joined before matched: %v", s, types)
		}
	}
	e.wait("ann", "turn", nil)
	if seat := e.wait("ann", "joined", nil)["seat"]; seat != 0.0 {
		t.Errorf("first in the queue got seat %v", seat)
	}
	// The lobby list follows the room, for those in the lobby: a player
	// with a seat hears the lobby only while a tab of it browses.
	e.hello("cat", "Cat")
	e.settle()
	e.wait("cat", "rooms-delta", func(m map[string]any) bool {
		r := roomIn(m, room)
		return r != nil && r["state"] == "playing" && len(r["players"].([]any)) == 2
	})
	if e.tr.Subscribed("ann", lobby.TopicRooms) {
		t.Error("a seated player still hears the lobby")
	}
	e.must("ann", "browse", "on", "1", "tab", "t1")
	e.wait("ann", "ok", func(m map[string]any) bool { return m["action"] == "browse" })

	playNim(t, e, room, "ann", "bob")
	if got := e.wait("bob", "finished", nil)["result"].(map[string]any); got["winner"] != annID {
		t.Errorf("finished = %v", got)
	}
	e.settle()
	// A game over leaves the list (nobody else can join or watch it).
	e.wait("ann", "rooms-delta", func(m map[string]any) bool { return removedIn(m, "removed", room) })
	// Bob, back in the lobby after the game, gets fresh snapshots.
	e.wait("bob", "rooms", func(map[string]any) bool { return e.count("bob", "rooms") >= 2 })
	if r, _ := e.tr.Last("bob", "rooms"); roomIn(r.Map(), room) != nil {
		t.Errorf("Bob's snapshot after the game lists the game over: %v", r.Map())
	}

	for _, s := range []string{"ann", "bob"} {
		if err := e.m.Deliver(room, s, rooms.Message{Type: "rematch"}); err != nil {
			t.Fatal(err)
		}
	}
	e.wait("ann", "room-state", func(m map[string]any) bool { return m["state"] == "playing" })
	turn := e.wait("ann", "turn", func(m map[string]any) bool {
		p, _ := m["player"].(map[string]any)
		return p != nil && p["id"] != nil && m["player"].(map[string]any)["seat"] == 1.0
	})
	if turn["player"].(map[string]any)["name"] != "Bob" {
		t.Errorf("rematch turn = %v; want Bob first", turn)
	}
	// The rematch is listed again.
	e.settle()
	e.wait("ann", "rooms-delta", func(m map[string]any) bool { r := roomIn(m, room); return r != nil && r["state"] == "playing" })
}

func TestCreateJoinSpectate(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	e.hello("cat", "Cat")
	e.hello("sue", "Sue")
	e.must("ann", "create", "game", "nim", "label", "ignored", "options", `{"stones":"5"}`, "req", "c1")
	created := e.wait("ann", "created", nil)
	room := created["room"].(string)
	if created["game"] != "nim" || created["req"] != "c1" {
		t.Errorf("created = %v", created)
	}
	e.wait("ann", "joined", nil)
	e.settle()
	got := roomIn(e.wait("cat", "rooms-delta", nil), room)
	if got == nil || got["label"] != "Nim, 5 stones" || got["state"] != "waiting" {
		t.Errorf("room in rooms-delta = %v", got)
	}
	e.must("bob", "join", "room", room, "req", "j1")
	if got := e.wait("bob", "ok", nil); got["action"] != "join" || got["room"] != room || got["req"] != "j1" {
		t.Errorf("ok = %v", got)
	}
	e.wait("bob", "joined", nil)
	e.must("sue", "spectate", "room", room)
	if got := e.wait("sue", "joined", nil); got["seat"] != -1.0 {
		t.Errorf("spectator joined = %v", got)
	}
	e.must("cat", "join", "room", room)
	if got := e.wait("cat", "join-rejected", nil)["reason"]; got != rooms.ErrRoomFull.Error() && got != rooms.ErrGameStarted.Error() {
		t.Errorf("join-rejected = %v", got)
	}
	e.must("bob", "leave-room", "room", room)
	e.wait("ann", "player-left", nil)
	e.wait("ann", "finished", nil) // nim: the one left wins by forfeit
	e.must("ann", "leave-room", "room", room)
	e.wait("ann", "ok", func(m map[string]any) bool { return m["action"] == "leave-room" })
	e.settle()
	e.c.Advance(rooms.DefaultEmptyGrace)
	e.settle()
	e.wait("cat", "rooms-delta", func(m map[string]any) bool { return removedIn(m, "removed", room) && m["count"] == 0.0 })
	e.settle()
	n := 0
	for _, r := range e.tr.Events("cat") {
		if r.Type == "rooms-delta" && removedIn(r.Map(), "removed", room) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("removed %d times", n)
	}
}

func TestPresence(t *testing.T) {
	e := newEnv(t, lobby.Options{AwayGrace: 30 * time.Second}, nil)
	e.hello("ann", "Ann")
	bobID := e.hello("bob", "Bob")["id"].(string)
	e.settle()
	offline := func() int {
		n := 0
		for _, r := range e.tr.Events("ann") {
			if r.Type == "presence-delta" && removedIn(r.Map(), "offline", bobID) {
				n++
			}
		}
		return n
	}
	e.l.Detached("bob")
	e.settle()
	e.c.Advance(30*time.Second - time.Millisecond)
	e.l.Attached("bob")
	e.settle()
	e.c.Advance(time.Hour)
	e.settle()
	if n := offline(); n != 0 {
		t.Fatalf("a reconnect gap made bob offline")
	}
	e.l.Detached("bob")
	e.settle()
	e.c.Advance(30 * time.Second)
	e.settle()
	e.wait("ann", "presence-delta", func(m map[string]any) bool { return removedIn(m, "offline", bobID) && m["count"] == 1.0 })
	e.l.Attached("bob")
	e.settle()
	e.wait("ann", "presence-delta", func(m map[string]any) bool { return names(m["online"]) == "Bob" && m["count"] == 2.0 })
	// An ended session is offline at once, leaves the queue, and must say
	// hello again.
	e.must("bob", "quickplay", "game", "nim")
	e.wait("bob", "queued", nil)
	e.l.SessionEnded("bob")
	e.settle()
	if n := offline(); n != 2 {
		t.Errorf("offline in %d deltas; want 2", n)
	}
	if err := e.do("bob", "chat", "text", "hi"); !errors.Is(err, lobby.ErrHelloFirst) {
		t.Errorf("ended session's chat = %v; want ErrHelloFirst", err)
	}
	e.must("ann", "quickplay", "game", "nim")
	if got := e.wait("ann", "queued", nil)["waiting"]; got != 1.0 {
		t.Errorf("queue after bob ended: waiting %v; want 1", got)
	}
	// Renaming shows in presence.
	e.must("ann", "name", "name", "Anna")
	if got := e.wait("ann", "ok", nil)["player"].(map[string]any)["name"]; got != "Anna" {
		t.Errorf("rename ok = %v", got)
	}
	e.settle()
	e.wait("ann", "presence-delta", func(m map[string]any) bool { return names(m["online"]) == "Anna" && m["count"] == 1.0 })
}

// annLeavesHerSeat: Ann and Bob quick-match into a nim game, then Ann's
// session ends (her seat is held). It returns Ann's player id and the
// joined of each.
func (e *env) annLeavesHerSeat() (annID any, ann, bob map[string]any) {
	e.t.Helper()
	annID = e.hello("ann", "Ann")["id"]
	e.hello("bob", "Bob")
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	ann, bob = e.wait("ann", "joined", nil), e.wait("bob", "joined", nil)
	e.wait("ann", "turn", nil)
	e.l.SessionEnded("ann")
	e.wait("bob", "player-dropped", nil)
	return annID, ann, bob
}

func TestHelloWithTokenReclaimsSeat(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	annID, joined, _ := e.annLeavesHerSeat()
	token, room := joined["token"].(string), joined["room"].(string)

	p := e.hello("ann2", "Whoever", "token", token)
	if p["id"] != annID || p["name"] != "Ann" {
		t.Errorf("welcome with a token = %v; want Ann's identity", p)
	}
	j := e.wait("ann2", "joined", nil)
	if j["reconnected"] != true || j["room"] != room || j["seat"] != 0.0 {
		t.Errorf("joined = %v", j)
	}
	if got := j["turn"].(map[string]any)["player"].(map[string]any)["id"]; got != annID {
		t.Errorf("turn after reclaim = %v; want Ann", got)
	}
	e.wait("bob", "player-reconnected", nil)
	// The old token is spent.
	e.must("eve", "hello", "name", "Eve", "token", token)
	if got := e.wait("eve", "error", nil); got["action"] != "hello" || got["reason"] != rooms.ErrBadToken.Error() {
		t.Errorf("spent token: %v", got)
	}
	if p := e.wait("eve", "welcome", nil)["player"].(map[string]any); p["name"] != "Eve" {
		t.Errorf("eve's welcome = %v", p)
	}
}

// unreachableRooms is a RoomService whose next Reclaim (fail) or token
// lookup (failFind) fails as a remote room's node that did not answer in
// time (the cluster's directory, a lobby.TokenFinder).
type unreachableRooms struct {
	*rooms.Manager
	fail, failFind atomic.Bool
}

func (u *unreachableRooms) FindToken(token string) (string, rooms.Identity, error) {
	if u.failFind.CompareAndSwap(true, false) {
		return "", rooms.Identity{}, errTryAgain
	}
	if room, who, ok := u.Manager.TokenOwner(token); ok {
		return room, who, nil
	}
	return "", rooms.Identity{}, rooms.ErrBadToken
}

var errTryAgain = errors.New("rooms: the room's node is not available, try again")

func (u *unreachableRooms) Reclaim(token string, p rooms.PlayerInfo) error {
	if u.fail.CompareAndSwap(true, false) {
		return errTryAgain
	}
	return u.Manager.Reclaim(token, p)
}

// TestReclaimAfterAWelcome: a hello with a seat's token whose lookup fails
// for a while (its room's node did not answer in time) is refused with
// that error, and the session may say hello again. Then the hello is
// welcomed, but the seat cannot be given back ("try again"): the welcomed
// session asks for it with reclaim and gets it; reclaim refuses a spent
// token, another player's, none, and a session that has not said hello.
func TestReclaimAfterAWelcome(t *testing.T) {
	var u *unreachableRooms
	e := newEnvOn(t, lobby.Options{}, nil, func(m *rooms.Manager) lobby.RoomService {
		u = &unreachableRooms{Manager: m}
		return u
	})
	annID, joined, bobJoined := e.annLeavesHerSeat()
	token, room := joined["token"].(string), joined["room"].(string)
	bobToken := bobJoined["token"].(string)

	if err := e.do("ann2", "reclaim", "token", token); !errors.Is(err, lobby.ErrHelloFirst) {
		t.Errorf("reclaim before hello: %v; want ErrHelloFirst", err)
	}
	u.failFind.Store(true)
	e.must("ann2", "hello", "name", "Whoever", "token", token)
	if got := e.wait("ann2", "error", nil); got["action"] != "hello" || got["reason"] != errTryAgain.Error() {
		t.Fatalf("a hello whose token could not be looked up: %v; want the error saying try again", got)
	}
	if n := e.count("ann2", "welcome"); n != 0 {
		t.Fatalf("a hello whose token could not be looked up was welcomed")
	}
	u.fail.Store(true)
	if p := e.hello("ann2", "Whoever", "token", token); p["id"] != annID {
		t.Fatalf("welcome with a token = %v; want Ann's identity", p)
	}
	// The seat not given back: the welcome's error (after it).
	e.settle()
	if n := e.count("ann2", "error"); n != 2 {
		t.Fatalf("after the second hello, ann2 got %d errors; want 2 (the seat not given back)", n)
	}
	if err := e.do("ann2", "reclaim"); !errors.Is(err, lobby.ErrMalformed) {
		t.Errorf("reclaim without a token: %v; want ErrMalformed", err)
	}
	e.must("ann2", "reclaim", "token", bobToken, "req", "r1")
	if got := e.wait("ann2", "error", func(m map[string]any) bool { return m["action"] == "reclaim" }); got["reason"] != lobby.ErrTokenOwner.Error() || got["req"] != "r1" {
		t.Errorf("reclaim of Bob's seat: %v; want %q", got, lobby.ErrTokenOwner)
	}
	e.must("ann2", "reclaim", "token", token)
	j := e.wait("ann2", "joined", nil)
	if j["reconnected"] != true || j["room"] != room {
		t.Errorf("joined after reclaim = %v", j)
	}
	e.wait("bob", "player-reconnected", nil)
	e.must("ann2", "reclaim", "token", token, "req", "r2") // spent
	if got := e.wait("ann2", "error", func(m map[string]any) bool { return m["req"] == "r2" }); got["reason"] != rooms.ErrBadToken.Error() {
		t.Errorf("reclaim with a spent token: %v; want %q", got, rooms.ErrBadToken)
	}
}

func TestTokenOfAnotherPlayer(t *testing.T) {
	auth := rooms.AuthFunc(func(_ context.Context, r rooms.AuthRequest) (rooms.Identity, error) {
		return rooms.Identity{PlayerID: "u-" + r.Name, Name: r.Name}, nil
	})
	e := newEnv(t, lobby.Options{Auth: auth}, nil)
	e.hello("ann", "ann")
	e.must("ann", "create", "game", "nim")
	token := e.wait("ann", "joined", nil)["token"].(string)
	e.hello("mal", "mallory", "token", token)
	if got := e.wait("mal", "error", nil)["reason"]; got != lobby.ErrTokenOwner.Error() {
		t.Errorf("reason = %v", got)
	}
	e.settle()
	if n := e.count("mal", "joined"); n != 0 {
		t.Error("another player's token reclaimed the seat")
	}
}

// blockingTransport holds Send to one session until released.
type blockingTransport struct {
	*roomstest.Transport
	session string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingTransport) Send(s string, ev rooms.Event) {
	if s == b.session {
		b.once.Do(func() {
			close(b.entered)
			<-b.release
		})
	}
	b.Transport.Send(s, ev)
}

func TestBusy(t *testing.T) {
	bt := &blockingTransport{Transport: roomstest.NewTransport(), session: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, lobby.Options{QueueSize: 4}, bt)
	e.tr = bt.Transport
	if err := e.do("slow", "hello", "name", "Slow"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bt.entered: // the lobby goroutine is stuck in Send
	case <-time.After(timeout):
		t.Fatal("lobby never sent")
	}
	accepted, busy := 0, 0
	for i := range 10 {
		switch err := e.do(fmt.Sprint("s", i), "hello", "name", fmt.Sprint("X", i)); {
		case err == nil:
			accepted++
		case errors.Is(err, lobby.ErrBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	if accepted != 4 || busy != 6 {
		t.Errorf("accepted %d, busy %d; want 4, 6", accepted, busy)
	}
	close(bt.release)
	for i := range accepted {
		e.wait(fmt.Sprint("s", i), "welcome", nil)
	}
}

// TestSync: a client that lost track asks for a sync and gets its welcome,
// presence, room list, and each of its rooms' joined and state again.
func TestSync(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	if err := e.do("s1", "sync"); !errors.Is(err, lobby.ErrHelloFirst) {
		t.Fatalf("sync before hello = %v; want ErrHelloFirst", err)
	}
	e.hello("s1", "Ann")
	e.must("s1", "create", "game", "nim")
	room := e.wait("s1", "joined", nil)["room"].(string)
	e.settle()
	before := map[string]int{}
	for _, typ := range []string{"welcome", "presence", "rooms", "joined", "state"} {
		before[typ] = e.count("s1", typ)
	}
	e.must("s1", "sync", "req", "r9")
	e.settle()
	for typ, n := range before {
		if got := e.count("s1", typ); got != n+1 {
			t.Errorf("after sync: %d %q events; want %d", got, typ, n+1)
		}
	}
	if j := e.wait("s1", "joined", nil); j["room"] != room {
		t.Errorf("joined = %v", j)
	}
}

// TestQuickplayWaitEnds: a player nobody is matched with leaves the queue
// after QuickplayWait with an error saying so (never waits forever); a
// wait that ended (matched, cancelled, run out) is not ended again by its
// timer.
func TestQuickplayWaitEnds(t *testing.T) {
	e := newEnv(t, lobby.Options{QuickplayWait: time.Minute}, nil)
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	noOpponent := func(m map[string]any) bool {
		return m["action"] == "quickplay" && strings.HasPrefix(m["reason"].(string), lobby.ErrNoOpponent.Error()+" within 1m: ")
	}
	e.must("ann", "quickplay", "game", "nim", "req", "q1")
	e.wait("ann", "queued", nil)
	e.settle()
	e.c.Advance(time.Minute - time.Millisecond)
	e.settle()
	if n := e.count("ann", "error"); n != 0 {
		t.Fatalf("%d errors before the wait ran out", n)
	}
	e.c.Advance(time.Millisecond)
	e.settle()
	if got := e.wait("ann", "error", noOpponent); got["req"] != "q1" {
		t.Errorf("the wait's end = %v; want the quickplay's req", got)
	}
	// Out of the queue: cancelling says so, and Bob waits alone.
	e.must("ann", "cancel-quickplay")
	e.wait("ann", "error", func(m map[string]any) bool { return m["reason"] == lobby.ErrNotQueued.Error() })
	e.must("bob", "quickplay", "game", "nim")
	if got := e.wait("bob", "queued", nil)["waiting"]; got != 1.0 {
		t.Errorf("Bob's queue: waiting %v; want 1 (Ann left it)", got)
	}
	// Matched half-way through Bob's wait: neither hears of it later.
	e.c.Advance(30 * time.Second)
	e.settle()
	e.must("ann", "quickplay", "game", "nim")
	e.wait("ann", "matched", nil)
	e.c.Advance(time.Hour)
	e.settle()
	if a, b := e.count("ann", "error"), e.count("bob", "error"); a != 2 || b != 0 {
		t.Errorf("errors after a match: Ann %d (want the two above), Bob %d (want 0)", a, b)
	}
}

// TestChatHistory: the lobby keeps the last ChatHistory messages and sends
// them, oldest first, to a session that says hello, asks for sync, or comes
// back to the lobby from a game; an empty history is an empty list.
func TestChatHistory(t *testing.T) {
	e := newEnv(t, lobby.Options{ChatHistory: 3, ChatRate: 100, ChatLobbyRate: 100}, nil)
	// history waits for the session's nth chat-history and returns it.
	history := func(s string, nth int) string {
		t.Helper()
		e.wait(s, "chat-history", func(map[string]any) bool { return e.count(s, "chat-history") >= nth })
		var got []string
		n := 0
		for _, r := range e.tr.Events(s) {
			if r.Type != "chat-history" {
				continue
			}
			if n++; n == nth {
				for _, x := range r.Map()["messages"].([]any) {
					c := x.(map[string]any)
					got = append(got, c["from"].(map[string]any)["name"].(string)+": "+c["text"].(string))
				}
			}
		}
		return strings.Join(got, ", ")
	}
	e.hello("ann", "Ann")
	if got := history("ann", 1); got != "" {
		t.Errorf("the first history = %q; want none", got)
	}
	e.hello("bob", "Bob")
	for i, text := range []string{"one", "two", "three", "four"} {
		e.must([]string{"ann", "bob"}[i%2], "chat", "text", text)
	}
	e.settle()
	e.hello("carl", "Carl")
	if got, want := history("carl", 1), "Bob: two, Ann: three, Bob: four"; got != want {
		t.Errorf("Carl's history = %q; want %q (the last 3)", got, want)
	}
	e.must("ann", "chat", "text", "five")
	e.must("carl", "sync")
	if got, want := history("carl", 2), "Ann: three, Bob: four, Ann: five"; got != want {
		t.Errorf("Carl's history after sync = %q; want %q", got, want)
	}
	// Ann and Bob play: they hear nothing of the lobby; back from the game
	// (it ended), Ann gets what was said meanwhile.
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	room := e.wait("ann", "matched", nil)["room"].(string)
	e.settle()
	e.must("carl", "chat", "text", "six")
	e.settle()
	before := e.count("ann", "chat-history")
	e.must("ann", "leave-room", "room", room)
	e.settle()
	if got, want := history("ann", before+1), "Bob: four, Ann: five, Carl: six"; got != want {
		t.Errorf("Ann's history back from her game = %q; want %q", got, want)
	}
}

// TestNamesUnique: a name is taken while another player holds it — has a
// session, or sits under it in a waiting or playing room — whatever its
// case; hello and rename say so, a player may change its own name's case,
// and a player coming back to its seat with its token keeps its name.
func TestNamesUnique(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	taken := func(m map[string]any) bool { return m["reason"] == lobby.ErrNameTaken.Error() }
	e.hello("ann", "Dup")
	for _, name := range []string{"Dup", "dup", "DUP", " dUp "} {
		s := "x-" + strings.TrimSpace(name)
		e.must(s, "hello", "name", name, "req", "h1")
		if got := e.wait(s, "error", nil); !taken(got) || got["action"] != "hello" || got["req"] != "h1" {
			t.Errorf("hello %q while Dup is online: %v; want %v", name, got, lobby.ErrNameTaken)
		}
		if n := e.count(s, "welcome"); n != 0 {
			t.Errorf("hello %q welcomed", name)
		}
	}
	// The refused session may try another name.
	e.hello("x-dup", "Bob")
	e.must("x-dup", "name", "name", "DUP")
	e.wait("x-dup", "error", taken)
	e.must("ann", "name", "name", "DUP") // her own name, in capitals
	if got := e.wait("ann", "ok", nil)["player"].(map[string]any)["name"]; got != "DUP" {
		t.Errorf("Dup renamed to DUP: %v", got)
	}
	// A name given up is free.
	e.must("ann", "name", "name", "Ann")
	e.wait("ann", "ok", func(m map[string]any) bool { return m["player"].(map[string]any)["name"] == "Ann" })
	e.hello("carl", "dup")
	e.l.SessionEnded("carl")
	e.settle()
	e.hello("dave", "Dup")

	// Ann and Bob play; Ann's page reloads (her session ends): her seat
	// holds her name, which nobody else may take; her new session, with
	// the token, is Ann again.
	e.must("ann", "quickplay", "game", "nim")
	e.must("x-dup", "quickplay", "game", "nim")
	token := e.wait("ann", "joined", nil)["token"].(string)
	e.settle()
	e.l.SessionEnded("ann")
	e.settle()
	e.must("eve", "hello", "name", "ANN")
	e.wait("eve", "error", taken)
	if p := e.hello("ann2", "Whoever", "token", token); p["name"] != "Ann" {
		t.Errorf("Ann back with her token is %v", p)
	}
}

// TestEmptyRoomsNotListed: the lobby lists a waiting room while someone is
// in it: one its creator left leaves the list at once (not after the
// room's empty grace), and a room made empty (quick play's, before its
// players join) is never listed.
func TestEmptyRoomsNotListed(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	e.hello("ann", "Ann")
	e.hello("obs", "Observer")
	e.must("ann", "create", "game", "nim")
	room := e.wait("ann", "created", nil)["room"].(string)
	e.settle()
	e.wait("obs", "rooms-delta", func(m map[string]any) bool { return roomIn(m, room) != nil })
	e.must("ann", "leave-room", "room", room)
	e.settle()
	e.wait("obs", "rooms-delta", func(m map[string]any) bool { return removedIn(m, "removed", room) })
	if _, ok := e.m.Room(room); !ok {
		t.Fatal("the room is gone already; the test wants it empty, waiting for its grace")
	}
	if _, err := e.m.Create("nim", rooms.PlayerInfo{}, nil); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.must("obs", "sync")
	e.settle()
	if r, _ := e.tr.Last("obs", "rooms"); len(r.Map()["rooms"].([]any)) != 0 || r.Map()["count"] != 0.0 {
		t.Errorf("rooms listed with two empty rooms: %v", r.Map())
	}
}

// TestForgetDropsWhatTheLobbyKnew: Forget (a cluster node whose lobby
// another node took over) drops the sessions, their players and names, the
// quick-match queue and the chat history, without a word to anyone and
// without ending the sessions in the rooms; keep cancels it.
func TestForgetDropsWhatTheLobbyKnew(t *testing.T) {
	e := newEnv(t, lobby.Options{}, nil)
	e.hello("ann", "Ann")
	e.hello("bob", "Bob")
	e.hello("carol", "Carol")
	e.must("ann", "quickplay", "game", "nim")
	e.must("bob", "quickplay", "game", "nim")
	e.wait("bob", "joined", nil)
	e.must("carol", "quickplay", "game", "nim")
	e.wait("carol", "queued", nil)
	e.must("carol", "chat", "text", "anyone?")
	e.settle()
	before := len(e.tr.Events("ann")) + len(e.tr.Events("bob")) + len(e.tr.Events("carol"))

	e.l.Forget(func() bool { return true }) // kept: the node got the lobby back
	e.settle()
	if n := e.l.Stats().PlayersOnline; n != 3 {
		t.Fatalf("a Forget kept: %d players online; want 3", n)
	}
	e.l.Forget(nil)
	e.settle()
	if n := e.l.Stats().PlayersOnline; n != 0 {
		t.Errorf("after Forget: %d players online; want none", n)
	}
	if after := len(e.tr.Events("ann")) + len(e.tr.Events("bob")) + len(e.tr.Events("carol")); after != before {
		var types []string
		for _, s := range []string{"ann", "bob", "carol"} {
			types = append(types, roomstest.Types(e.tr.Events(s))...)
		}
		t.Errorf("Forget sent %d events to the forgotten sessions; want none (%v)", after-before, types)
	}
	if n := e.count("bob", "player-dropped"); n != 0 {
		t.Errorf("Ann's seat dropped in her room: the rooms were told")
	}
	// Carol's name is free, the chat history empty, and she no longer
	// waits: a new player asking for a game waits alone.
	e.hello("carol2", "Carol")
	e.wait("carol2", "chat-history", nil)
	for _, r := range e.tr.Events("carol2") {
		if r.Type == "chat-history" && len(r.Map()["messages"].([]any)) != 0 {
			t.Errorf("chat history after Forget: %v; want none", r.Map()["messages"])
		}
	}
	e.hello("dave", "Dave")
	e.must("dave", "quickplay", "game", "nim")
	if got := e.wait("dave", "queued", nil)["waiting"]; got != 1.0 {
		t.Errorf("after Forget, a new player waits with %v in the queue; want 1 (alone)", got)
	}
	if _, ok := e.m.Room(e.wait("ann", "joined", nil)["room"].(string)); !ok {
		t.Error("Ann and Bob's room is gone after Forget")
	}
}

// groupJoinRooms is a RoomService that joins a quick-match's players with
// one JoinAll (as the cluster's directory does), counting its calls; with
// refuse set, the second player of each call is refused.
type groupJoinRooms struct {
	*rooms.Manager
	mu     sync.Mutex
	calls  [][]string // the session ids of each JoinAll, in order
	joins  int        // Join calls
	refuse bool
}

func (g *groupJoinRooms) Join(room string, p rooms.PlayerInfo) error {
	g.mu.Lock()
	g.joins++
	g.mu.Unlock()
	return g.Manager.Join(room, p)
}

func (g *groupJoinRooms) JoinAll(room string, ps []rooms.PlayerInfo) []error {
	g.mu.Lock()
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.SessionID
	}
	g.calls = append(g.calls, ids)
	refuse := g.refuse
	g.mu.Unlock()
	errs := make([]error, len(ps))
	for i, p := range ps {
		if refuse && i == 1 {
			errs[i] = rooms.ErrRoomFull
			continue
		}
		errs[i] = g.Manager.Join(room, p)
	}
	return errs
}

// TestQuickplaySeatsAGroupInOneCall: a RoomService that is a GroupJoiner
// seats a quick-match's players with one JoinAll, in queue order (the
// first in the queue gets seat 0), and each still gets matched before
// joined; a join refused in it is that player's quickplay error only.
func TestQuickplaySeatsAGroupInOneCall(t *testing.T) {
	var g *groupJoinRooms
	e := newEnvOn(t, lobby.Options{}, nil, func(m *rooms.Manager) lobby.RoomService {
		g = &groupJoinRooms{Manager: m}
		return g
	})
	for _, s := range []string{"ann", "bob", "cat", "dan"} {
		e.hello(s, strings.ToUpper(s[:1])+s[1:])
	}
	e.must("ann", "quickplay", "game", "nim")
	e.wait("ann", "queued", nil)
	e.must("bob", "quickplay", "game", "nim")
	for _, s := range []string{"ann", "bob"} {
		j := e.wait(s, "joined", nil)
		if want := map[string]float64{"ann": 0, "bob": 1}[s]; j["seat"] != want {
			t.Errorf("%s joined in seat %v, want %v", s, j["seat"], want)
		}
		types := e.tr.Types(s)
		if slices.Index(types, "matched") > slices.Index(types, "joined") {
			t.Errorf("%s: joined before matched: %v", s, types)
		}
	}
	g.mu.Lock()
	calls, joins := slices.Clone(g.calls), g.joins
	g.refuse = true
	g.mu.Unlock()
	if len(calls) != 1 || !slices.Equal(calls[0], []string{"ann", "bob"}) || joins != 0 {
		t.Fatalf("JoinAll calls %v and %d Join calls; want one JoinAll of [ann bob] and no Join", calls, joins)
	}

	e.must("cat", "quickplay", "game", "nim", "req", "c1")
	e.wait("cat", "queued", nil)
	e.must("dan", "quickplay", "game", "nim", "req", "d1")
	e.wait("cat", "joined", nil)
	if got := e.wait("dan", "error", nil); got["action"] != "quickplay" || got["reason"] != rooms.ErrRoomFull.Error() || got["req"] != "d1" {
		t.Errorf("dan's refused join: %v; want the quickplay error %q for d1", got, rooms.ErrRoomFull)
	}
	e.settle()
	if n := e.count("cat", "error"); n != 0 {
		t.Errorf("cat got %d errors for dan's refused join", n)
	}
}
