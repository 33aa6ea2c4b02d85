package main

import (
	"context"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/rooms"
)

// TestHardeningGameRules: in the example server, nobody moves for a seat it
// does not hold. A session in no room, a player of another room and a
// spectator are refused at once (a nack naming why); a player out of turn,
// a stale seq, a malformed or illegal move, and a move after the game ended
// are refused with an "error" event naming the reason (and, for a stale
// move, the seq expected). None of them changes the board: the spectator
// sees exactly the moves that were accepted.
func TestHardeningGameRules(t *testing.T) {
	hs := startHardSite(t, comet.Config{}, 0)
	ann, bob := hs.player("Ann"), hs.player("Bob")
	carl, dave := hs.player("Carl"), hs.player("Dave")
	spec, eve := hs.player("Spec"), hs.player("Eve")
	x, o := pair(ann, bob)
	pair(carl, dave)
	if err := spec.lobby("action", "spectate", "room", ann.room); err != nil {
		t.Fatal(err)
	}
	spec.joined()
	room := ann.room
	accepted := 0
	moveData := func(cell int) string { return fmt.Sprintf(`{"cell":%d}`, cell) }

	// Refused at once, with the reason as the nack.
	for _, tc := range []struct {
		who  *hardPlayer
		kv   []string
		want string
	}{
		{eve, []string{"type", "move", "data", moveData(0), "move", "e1", "seq", "1"}, rooms.ErrNotInRoom.Error()},
		{carl, []string{"type", "move", "data", moveData(0), "move", "c1", "seq", "1"}, rooms.ErrNotInRoom.Error()},
		{spec, []string{"type", "move", "data", moveData(0), "move", "s1", "seq", "1"}, rooms.ErrSpectator.Error()},
		{spec, []string{"type", "rematch"}, rooms.ErrSpectator.Error()},
		{x, []string{"type", "move", "data", "{cell:", "move", "x1", "seq", "1"}, "data is not valid JSON"},
		{x, []string{"type", "move", "data", moveData(0), "move", "x1", "seq", "one"}, "invalid seq"},
		{x, []string{"type", "move", "data", moveData(0), "move", "x1", "seq", "-1"}, "invalid seq"},
		{x, []string{"type", "move", "data", moveData(0), "move", "x1"}, "a move needs seq"},
		{x, []string{"type", "move", "data", moveData(0), "move", strings.Repeat("m", rooms.MaxMoveIDLen+1), "seq", "1"}, "move id longer"},
		{x, []string{"type", strings.Repeat("t", rooms.MaxTypeLen+1), "data", moveData(0), "move", "x1", "seq", "1"}, "type must be"},
		{x, []string{"data", moveData(0), "move", "x1", "seq", "1"}, "type must be"},
	} {
		err := tc.who.publishRoom(room, tc.kv...)
		if !nack(err, tc.want) {
			t.Fatalf("%s publishing %v to the room: %v; want a nack %q", tc.who.name, tc.kv, err, tc.want)
		}
	}
	// A publish to a room that does not exist, or to a room subject the
	// client made up, is refused too.
	if err := eve.publishRoom("nosuchroom", "type", "move", "move", "e2", "seq", "1"); !nack(err, rooms.ErrNoRoom.Error()) {
		t.Fatalf("move to an unknown room: %v", err)
	}
	if err := eve.publishRoom(room+"/x", "type", "move", "move", "e3", "seq", "1"); err == nil {
		t.Fatal("move to a room sub-subject accepted")
	}

	// Refused by the room, with an error event.
	if err := o.move(4, "o-out-of-turn"); err != nil {
		t.Fatal(err)
	}
	if r, _ := o.errorEvent("o-out-of-turn"); r != rooms.ReasonNotYourTurn {
		t.Fatalf("out of turn: %q", r)
	}
	o.seq--
	for _, tc := range []struct{ data, id, want string }{
		{`{"cell":9}`, "x-off-board", `send {"cell": 0..8} as a move`},
		{`{"cell":-1}`, "x-negative", `send {"cell": 0..8} as a move`},
		{`{"cell":"4"}`, "x-string", `send {"cell": 0..8} as a move`},
		{`{}`, "x-empty", `send {"cell": 0..8} as a move`},
		{`null`, "x-null", `send {"cell": 0..8} as a move`},
	} {
		x.seq++
		if err := x.publishRoom(room, "type", "move", "data", tc.data, "move", tc.id, "seq", fmt.Sprint(x.seq)); err != nil {
			t.Fatal(err)
		}
		if r, _ := x.errorEvent(tc.id); r != tc.want {
			t.Fatalf("move %s: %q; want %q", tc.data, r, tc.want)
		}
		x.seq-- // refused: the seat's seq did not advance
	}
	// A message without a move id is not a move: the game refuses it.
	if err := x.publishRoom(room, "type", "move", "data", moveData(0)); err != nil {
		t.Fatal(err)
	}
	// A legal move; the other player's move to the same cell; its seq
	// ahead; then, X to move again, X's used seq (stale).
	if err := x.move(4, "x-center"); err != nil {
		t.Fatal(err)
	}
	x.next("ack")
	accepted++
	if err := o.move(4, "o-taken"); err != nil {
		t.Fatal(err)
	}
	if r, _ := o.errorEvent("o-taken"); r != "cell 4 is taken" {
		t.Fatalf("taken cell: %q", r)
	}
	o.seq--
	if err := o.publishRoom(room, "type", "move", "data", moveData(0), "move", "o-ahead", "seq", "2"); err != nil {
		t.Fatal(err)
	}
	if r, exp := o.errorEvent("o-ahead"); r != "stale move: expected seq 1" || exp != 1 {
		t.Fatalf("seq ahead: %q expected %d", r, exp)
	}
	if err := o.move(0, "o-corner"); err != nil {
		t.Fatal(err)
	}
	o.next("ack")
	accepted++
	if err := x.publishRoom(room, "type", "move", "data", moveData(1), "move", "x-stale", "seq", "1"); err != nil {
		t.Fatal(err)
	}
	if r, exp := x.errorEvent("x-stale"); r != "stale move: expected seq 2" || exp != 2 {
		t.Fatalf("stale move: %q expected %d", r, exp)
	}
	// Play to the end: X takes the middle column (4, 1, 7), O 0 and 2.
	for _, m := range []struct {
		p    *hardPlayer
		cell int
	}{{x, 1}, {o, 2}, {x, 7}} {
		id := fmt.Sprintf("%s-%d", m.p.name, m.cell)
		if err := m.p.move(m.cell, id); err != nil {
			t.Fatal(err)
		}
		m.p.next("ack")
		accepted++
	}
	x.next("finished")
	if err := o.move(8, "o-after-end"); err != nil {
		t.Fatal(err)
	}
	if r, _ := o.errorEvent("o-after-end"); r != rooms.ReasonNotInProgress {
		t.Fatalf("move after the end: %q", r)
	}
	// The spectator saw exactly the accepted moves, and the end.
	spec.next("finished")
	if n := spec.count("move"); n != accepted {
		t.Fatalf("the spectator saw %d moves; %d were accepted", n, accepted)
	}
}

// TestHardeningRateLimits: each session's publishes (moves, chat and lobby
// actions included) are limited by comet.Config.PublishRate and PublishBurst:
// past the burst, "rate limited: slow down", and a refused move is not
// applied; the bucket refills and the client's retry is applied once. Lobby chat has its own, stricter limit
// (lobby.Options.ChatRate per ChatPer: 5 per 10 s): the sixth message is
// refused with "lobby: too many messages, slow down" and nobody sees it.
func TestHardeningRateLimits(t *testing.T) {
	const burst = 8
	hs := startHardSite(t, comet.Config{PublishRate: 4, PublishBurst: burst}, 0)
	ann, bob := hs.player("Ann"), hs.player("Bob")
	x, o := pair(ann, bob)

	t.Run("moves", func(t *testing.T) {
		// X, whose turn it is, spends its bucket on other publishes…
		passed := 0
		for range 3 * burst {
			err := x.c.Publish(context.Background(), "/noise", "k", "v")
			if nack(err, "rate limited: slow down") {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			passed++
		}
		if passed >= burst {
			t.Fatalf("%d publishes in a row let through; burst %d", passed, burst)
		}
		// …so its move is refused, and not applied…
		err := x.publishRoom(x.room, "type", "move", "data", `{"cell":4}`, "move", "x-limited", "seq", "1")
		if !nack(err, "rate limited: slow down") {
			t.Fatalf("move over the limit: %v", err)
		}
		// …until the bucket refills (4 per second) and the client's retry
		// goes through, applied once.
		deadline := time.Now().Add(hardWait)
		for {
			err := x.publishRoom(x.room, "type", "move", "data", `{"cell":4}`, "move", "x-limited", "seq", "1")
			if err == nil {
				break
			}
			if !nack(err, "rate limited") || time.Now().After(deadline) {
				t.Fatalf("move after the refill: %v", err)
			}
			time.Sleep(50 * time.Millisecond) // waiting for the bucket to refill is the point
		}
		x.next("ack")
		o.next("move")
		// O answers. Once X has O's move, everything its own moves caused
		// has arrived before it: one ack (a refused move applied would add
		// one: the retry, same move id, is then acknowledged again) and the
		// two moves.
		if err := o.move(0, "o-0"); err != nil {
			t.Fatal(err)
		}
		o.next("ack")
		x.next("move")
		x.next("move")
		if acks, moves := x.count("ack"), x.count("move"); acks != 1 || moves != 2 {
			t.Fatalf("X got %d acks and %d moves; want 1 and 2 (no rate-limited move may be applied)", acks, moves)
		}
	})

	t.Run("chat", func(t *testing.T) {
		hs := startHardSite(t, comet.Config{}, 0)
		cat, dan := hs.player("Cat"), hs.player("Dan")
		for i := range 5 {
			if err := cat.lobby("action", "chat", "text", fmt.Sprint("hello ", i)); err != nil {
				t.Fatalf("chat %d: %v", i, err)
			}
		}
		if err := cat.lobby("action", "chat", "text", "one too many"); !nack(err, "lobby: too many messages, slow down") {
			t.Fatalf("sixth chat: %v", err)
		}
		// Dan sees the five, then his own, never the sixth.
		if err := dan.lobby("action", "chat", "text", "marker"); err != nil {
			t.Fatal(err)
		}
		i := dan.find(0, "the marker", func(e cometclient.Event) bool {
			return e["type"] == "chat" && strings.Contains(e["data"], "marker")
		})
		n := 0
		for _, e := range dan.events()[:i] {
			if e["type"] == "chat" {
				if strings.Contains(e["data"], "one too many") {
					t.Fatal("a rate-limited chat message was broadcast")
				}
				n++
			}
		}
		if n != 5 {
			t.Fatalf("Dan saw %d chat messages before his own; want 5", n)
		}
	})
}

// TestHardeningSessionsPerAddr: over the wire, one client address holds at
// most comet.Config.MaxSessionsPerAddr live sessions; the next join is
// answered 503 with the reason and Retry-After, and creates nothing. Ending
// a session (leave) or its lease running out frees a place.
func TestHardeningSessionsPerAddr(t *testing.T) {
	const perAddr = 4
	hs := startHardSite(t, comet.Config{MaxSessionsPerAddr: perAddr, SessionTimeout: time.Second, Heartbeat: time.Second / 2}, 0)
	ctx := context.Background()
	join := func() (*cometclient.Client, error) { return cometclient.Join(ctx, hs.base, hs.hc) }
	var cs []*cometclient.Client
	for range perAddr {
		c, err := join()
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	over := func() {
		t.Helper()
		resp, err := hs.hc.Get(hs.base + "/comet?p_event=join&p_format=json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "too many sessions from this address") || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("join over the cap: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		if n := hs.s.Hub().NumSessions(); n != perAddr {
			t.Fatalf("%d sessions; want %d", n, perAddr)
		}
	}
	over()
	if err := cs[0].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := join(); err != nil {
		t.Fatalf("join after a leave: %v", err)
	}
	over()
	// Keep one session alive with heartbeats while the others' leases run
	// out: their places free up.
	deadline := time.Now().Add(hardWait)
	for hs.s.Hub().NumSessions() > 1 {
		if _, err := cs[1].Do(ctx, "hb"); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still live after their leases", hs.s.Hub().NumSessions())
		}
		time.Sleep(100 * time.Millisecond) // the heartbeat's period, not a synchronization
	}
	for range perAddr - 1 {
		if _, err := join(); err != nil {
			t.Fatalf("join after the leases ran out: %v", err)
		}
	}
	over()
}
