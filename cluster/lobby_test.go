package cluster

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
)

// publishUntilTaken publishes to the lobby until a node takes it: while
// the games node is gone and no other has taken the lobby over, the
// publish is answered with a nack ("not available, try again").
func (p *tttPlayer) publishUntilTaken(kv ...string) int {
	p.t.Helper()
	q := "p_event=publish&p_format=json&p_id=" + p.id
	for i := 0; i+1 < len(kv); i += 2 {
		q += "&" + kv[i] + "=" + url.QueryEscape(kv[i+1])
	}
	return p.sendUntilAcked(q, fmt.Sprintf("publish %v", kv))
}

// helloBack says hello again as rooms.js does, with a seat's token if
// token is not "": a hello refused "try again" (its token's node did not
// answer in time) is said again a second later, and a seat not given back
// yet ("try again") is asked for with reclaim. It returns the room's
// joined (with a token; else nothing, once welcomed).
func (p *tttPlayer) helloBack(token string) (j joinedData) {
	p.t.Helper()
	hello := func() { p.publishUntilTaken("p_subject", "/lobby", "action", "hello", "name", p.name, "token", token) }
	hello()
	welcomed := false
	for tries := 0; ; {
		ev := p.s.next()
		p.count(ev)
		switch ev["type"] {
		case "welcome":
			if welcomed = true; token == "" {
				return j
			}
		case "joined":
			json.Unmarshal([]byte(ev["data"]), &j)
			return j
		case "error":
			var d struct{ Action, Reason string }
			json.Unmarshal([]byte(ev["data"]), &d)
			if d.Action != "hello" && d.Action != "reclaim" {
				continue
			}
			if !strings.Contains(d.Reason, "try again") || tries == 30 {
				p.t.Fatalf("%s: %s refused: %s", p.name, d.Action, d.Reason)
			}
			tries++
			time.Sleep(time.Second)
			if welcomed {
				p.publishUntilTaken("p_subject", "/lobby", "action", "reclaim", "token", token)
			} else {
				hello()
			}
		}
	}
}

// helloAt joins a player on node tn (its home), opens its data channel
// there and says hello.
func helloAt(t *testing.T, tn *testNode, name string) *tttPlayer {
	t.Helper()
	p := &tttPlayer{t: t, name: name}
	if err := p.connect(tn.addr()); err != nil {
		t.Fatal(err)
	}
	p.hello()
	return p
}

// joinedData is what a "joined" event says.
type joinedData struct {
	Room        string `json:"room"`
	Token       string `json:"token"`
	Reconnected bool   `json:"reconnected"`
}

func (p *tttPlayer) untilJoined() joinedData {
	p.t.Helper()
	var j joinedData
	json.Unmarshal([]byte(p.until("joined")["data"]), &j)
	return j
}

// TestLobbyOutlivesTheGamesNode: the games node (n1, whose lobby serves
// every node) dies while two games are played, one on n2 and one on n3, a
// player waits for a quick match and another is in the lobby, all homed on
// n2 and n3. One of them takes the lobby over; its lobby lists both games'
// rooms (the other node's only if that node tells it) before anyone says
// hello again; every session that said hello is told the lobby restarted
// and says hello again (the seated players with their seats' tokens, and
// keep their seats); the new lobby has every player online; the waiting
// player, told to, asks for a quick match again and is matched; a game
// goes on to its end; nobody misses an event (no p_seq gap).
func TestLobbyOutlivesTheGamesNode(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	connect := func(name string, node int) *tttPlayer { return helloAt(t, plain[node], name) }
	// A game on n2 and one on n3: whichever takes the lobby over, the
	// other's room is listed by the new lobby only if its node tells it.
	match := func(node int, x, y string) (*tttPlayer, *tttPlayer, joinedData, joinedData) {
		p, q := connect(x, node), connect(y, node)
		p.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
		q.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
		jp, jq := p.untilJoined(), q.untilJoined()
		if jq.Room != jp.Room || RoomOwner(jp.Room) != gn[node].node.Tag() {
			t.Fatalf("%s in %q, %s in %q: want one room, on their node %s", x, jp.Room, y, jq.Room, gn[node].node.Tag())
		}
		p.until("start")
		q.until("start")
		return p, q, jp, jq
	}
	a, b, ja, jb := match(1, "a", "b")
	e, f, je, jf := match(2, "e", "f")
	room := ja.Room
	a.moveUntilApplied(room, 0, 1) // a is X
	a.until("ack")
	b.untilMove(0)
	c, d := connect("c", 1), connect("d", 2)
	c.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
	c.until("queued")

	// The games node dies: cut off from the others, its lobby gone with it.
	gn[0].node.own.stall()
	gn[0].node.shutdownNATS()
	died := time.Now()

	// A liveness bound: the lease is seconds long, a starved machine slows
	// its takeover down many times.
	testkit.EventuallyWithin(t, time.Minute, "another node to take the lobby over", func() bool {
		return gn[1].node.gamesNode() != "n1" && gn[2].node.gamesNode() != "n1"
	})
	games := gn[1].node.gamesNode()
	t.Logf("the lobby moved to %s %v after the games node went", games, time.Since(died).Round(time.Millisecond))
	for _, p := range []*tttPlayer{a, b, c, d, e, f} {
		p.until("restarted")
	}
	if gn[2].node.gamesNode() != games {
		t.Fatalf("the games node is %q for n2 and %q for n3: want one of them", games, gn[2].node.gamesNode())
	}
	lead := gn[1]
	if games == "n3" {
		lead = gn[2]
	}
	testkit.Eventually(t, "the new lobby to list both games' rooms", func() bool {
		_, ab := lead.node.games.dir.Room(ja.Room)
		_, ef := lead.node.games.dir.Room(je.Room)
		return ab && ef
	})

	// Each says hello again, the seated ones with their seats' tokens.
	for _, s := range []struct {
		p     *tttPlayer
		token string
		room  string
	}{{a, ja.Token, ja.Room}, {b, jb.Token, ja.Room}, {e, je.Token, je.Room}, {f, jf.Token, je.Room}, {c, "", ""}, {d, "", ""}} {
		if j := s.p.helloBack(s.token); j.Room != s.room || j.Reconnected != (s.token != "") {
			t.Errorf("%s: joined %+v after its hello with its token, want room %s reconnected", s.p.name, j, s.room)
		}
	}
	testkit.Eventually(t, "the new lobby to list every player", func() bool {
		return lead.gs.Lobby().Stats().PlayersOnline == 6
	})
	t.Logf("the new lobby listed every player %v after the games node went", time.Since(died).Round(time.Millisecond))

	// The waiting player asks again, and is matched.
	c.publishUntilTaken("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
	d.publishUntilTaken("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
	if jc, jd := c.untilJoined(), d.untilJoined(); jc.Room == "" || jc.Room != jd.Room {
		t.Errorf("c joined %q, d %q: want one new room", jc.Room, jd.Room)
	}

	// The game goes on to its end.
	b.moveUntilApplied(room, 4, 1)
	b.until("ack")
	a.untilMove(4)
	a.moveUntilApplied(room, 1, 2)
	a.until("ack")
	b.untilMove(1)
	b.moveUntilApplied(room, 8, 2)
	b.until("ack")
	if got, want := boardOf(a.untilMove(8)), [9]string{"X", "X", "", "", "O", "", "", "", "O"}; got != want {
		t.Errorf("a's board: %q, want %q", got, want)
	}
	a.moveUntilApplied(room, 2, 3)
	a.until("finished")
	b.until("finished")
	for _, p := range []*tttPlayer{a, b, c, d, e, f} {
		if p.gaps != 0 {
			t.Errorf("%s: %d gaps in p_seq", p.name, p.gaps)
		}
	}
	if st := lead.node.Stats(); st.LobbyMoves != 1 || st.GamesNode != games {
		t.Errorf("%s's stats: lobby moves %d, games node %q; want 1, %q", lead.node.Tag(), st.LobbyMoves, st.GamesNode, games)
	}
}

// TestTheLobbyForgetsADeadNodesPlayers: a node dies with a player of its
// in the lobby; its sessions cannot say they ended, so the games node's
// lobby ends them once the node is gone: the player is offline, and its
// name free for whoever comes back with it.
func TestTheLobbyForgetsADeadNodesPlayers(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	connect := func(name string, node int) *tttPlayer { return helloAt(t, plain[node], name) }
	connect("x", 1)
	connect("y", 2)
	lobby := gn[0].gs.Lobby()
	testkit.Eventually(t, "two players online", func() bool { return lobby.Stats().PlayersOnline == 2 })
	gn[1].kill(t)
	died := time.Now()
	testkit.EventuallyWithin(t, time.Minute, "the dead node's player offline", func() bool { return lobby.Stats().PlayersOnline == 1 })
	t.Logf("the dead node's player went offline %v after the kill", time.Since(died).Round(time.Millisecond))
	connect("x", 2) // its welcome, not "name taken"
	testkit.Eventually(t, "x online again", func() bool { return lobby.Stats().PlayersOnline == 2 })
}

// TestAReplacedLobbyForgetsItsPlayers: the games node, n1, stalls past its
// lease (its ownership paused) with two players in its lobby, one of them
// waiting for a quick match; another node takes the lobby over. Once n1
// hears of it (the taker's announcement, or its own watch when it runs
// again), its own lobby, which nobody hears any more, forgets them: should
// the lobby come back to n1, they would hold their names, and the waiting
// one would be matched, for good.
func TestAReplacedLobbyForgetsItsPlayers(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	c, d := helloAt(t, plain[1], "c"), helloAt(t, plain[2], "d")
	c.publish("p_subject", "/lobby", "action", "quickplay", "game", ttt.Name)
	c.until("queued")
	old := gn[0].gs.Lobby()
	testkit.Eventually(t, "n1's lobby to have both players", func() bool { return old.Stats().PlayersOnline == 2 })

	resume := gn[0].node.own.stall()
	// A liveness bound: the lease is seconds long, a starved machine slows
	// its takeover down many times.
	testkit.EventuallyWithin(t, time.Minute, "another node to take the lobby over", func() bool {
		return gn[1].node.gamesNode() != "n1" && gn[2].node.gamesNode() != "n1"
	})
	for _, p := range []*tttPlayer{c, d} {
		p.until("restarted")
	}
	resume()
	testkit.EventuallyWithin(t, time.Minute, "n1's lobby to forget its players", func() bool {
		return old.Stats().PlayersOnline == 0
	})
	// The new lobby has them once they say hello again.
	c.helloBack("")
	d.helloBack("")
	lead := gn[1]
	if gn[1].node.gamesNode() == "n3" {
		lead = gn[2]
	}
	testkit.Eventually(t, "the new lobby to list both players", func() bool {
		return lead.gs.Lobby().Stats().PlayersOnline == 2
	})
}

// TestALobbyWhoseGamesNodeNeverCame: the nodes are told the games node is
// n9, which never starts (as a first games node that stops or dies before
// it holds a lease: it never writes the lobby's record). Once it has not
// been live for the lease's TTL, one node creates the record, every node
// follows it, and players say hello there and are welcomed.
func TestALobbyWhoseGamesNodeNeverCame(t *testing.T) {
	gn, plain := startGamesClusterWith(t, 3, func(o *Options) { o.Games = "n9" })
	// A liveness bound: the lease's TTL, then a create through JetStream.
	testkit.EventuallyWithin(t, time.Minute, "the nodes to agree on a games node of theirs", func() bool {
		g := gn[0].node.gamesNode()
		return g != "n9" && gn[1].node.gamesNode() == g && gn[2].node.gamesNode() == g
	})
	for i := range plain {
		helloAt(t, plain[i], fmt.Sprintf("p%d", i))
	}
}
