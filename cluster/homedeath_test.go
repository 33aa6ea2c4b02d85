package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// kill stops a node as a crash would: its lease is not renewed, its NATS
// server goes (its hellos stop, nobody hears its subjects), and its HTTP
// server closes every connection. It hands nothing over and tells nobody.
func (g *gamesNode) kill(t *testing.T) {
	t.Helper()
	g.node.own.stall()
	g.node.shutdownNATS()
	// Its NATS client too: what it would send now (its Close, run by
	// Shutdown, flushes the queue and unsubscribes) fails at once instead of
	// waiting for a server that is gone.
	g.node.nc.Close()
	// A deadline already past: the connections are closed without a drain.
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	g.gs.HTTP().Shutdown(ctx)
}

// tryDo sends a control request through a balancer until a node answers
// it: a request the balancer sent to a dead node is answered 502, and the
// client sends it again (cometplay.js does so after a backoff).
func (p *tttPlayer) tryDo(q string) (int, []map[string]string) {
	p.t.Helper()
	deadline := time.Now().Add(testkit.Timeout)
	for {
		st, evs := p.ctl.do(q)
		if st != 502 || time.Now().After(deadline) {
			return st, evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// helloWith says hello in the lobby with the fields kv (name, token) and
// returns the player's identity from its welcome.
func (p *tttPlayer) helloWith(kv ...string) rooms.Identity {
	p.t.Helper()
	q := "p_event=publish&p_format=json&p_subject=/lobby&action=hello&p_id=" + p.id
	for i := 0; i+1 < len(kv); i += 2 {
		q += "&" + kv[i] + "=" + url.QueryEscape(kv[i+1])
	}
	if st, evs := p.tryDo(q); st != 200 || len(evs) == 0 || evs[0]["p_event"] != "publish-ack" {
		p.t.Fatalf("%s: hello: %d %v", p.name, st, evs)
	}
	var w struct {
		Player rooms.Identity `json:"player"`
	}
	json.Unmarshal([]byte(p.until("welcome")["data"]), &w)
	return w.Player
}

// rejoin is what cometplay.js and rooms.js do when a request of the
// session is answered 400 (the session is unknown: its node died): join a
// new session through the balancer, listen, and say hello with the
// player's name and the reconnection token of its seat, which makes the
// lobby give the seat back. It returns the seat's "joined".
func (p *tttPlayer) rejoin(lb, token string) map[string]string {
	p.t.Helper()
	st, evs := p.tryDo("p_event=join&p_format=json")
	if st != 200 || len(evs) == 0 {
		p.t.Fatalf("%s: join again: %d %v", p.name, st, evs)
	}
	p.id, p.lastSeq = evs[0]["p_id"], 0
	deadline := time.Now().Add(testkit.Timeout)
	for {
		s, err := tryStream(p.t, lb, "p_event=listen&p_id="+p.id+"&p_mode=stream")
		if err == nil {
			s.next() // listen-ack
			p.s = s
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: listen: %v", p.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.helloWith("name", p.name, "token", token)
	return p.until("joined")
}

// tokenOf returns the reconnection token of a seat's "joined".
func tokenOf(t *testing.T, joined map[string]string) string {
	t.Helper()
	var j struct {
		Token       string `json:"token"`
		Reconnected bool   `json:"reconnected"`
		Seq         int    `json:"seq"`
	}
	json.Unmarshal([]byte(joined["data"]), &j)
	if j.Token == "" {
		t.Fatalf("a seat's joined without a token: %s", joined["data"])
	}
	return j.Token
}

// TestAPlayerWhoseNodeDiesReclaimsItsSeat: a game runs on n3 between a,
// whose session lives on n2, and b, whose session lives on n1; both talk
// through the per-request balancer. n2 dies (no goodbye, no handover). a's
// next request is answered 400 (unknown session); a joins again through
// the balancer and says hello with its seat's token, and gets its seat
// back; b sees a dropped, then reconnected; the game finishes with every
// acknowledged move on the board, applied once, and no p_seq gap on b's
// channel.
func TestAPlayerWhoseNodeDiesReclaimsItsSeat(t *testing.T) {
	gn, plain := startGamesCluster(t, 3)
	lb := perRequestLB(t, plain)
	a := &tttPlayer{t: t, name: "a"}
	b := &tttPlayer{t: t, name: "b"}
	// Each joins at its home node, then listens and sends through the
	// balancer.
	if err := a.connectVia(plain[1].addr(), lb); err != nil {
		t.Fatal(err)
	}
	if err := b.connectVia(plain[0].addr(), lb); err != nil {
		t.Fatal(err)
	}
	a.ctl, b.ctl = dial(t, lb), dial(t, lb)
	b.s = &resumingStream{p: b, lb: lb, s: b.s.(*stream)}
	if home(a.id) != "n2" || home(b.id) != "n1" {
		t.Fatalf("homes: a %s, b %s; want n2, n1", a.id[:2], b.id[:2])
	}
	ia, ib := a.helloWith("name", "a"), b.helloWith("name", "b")
	m := gn[2].node.roomsManager()
	room, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: a.id, PlayerID: ia.PlayerID, Name: ia.Name}, rooms.Options{"turn": "60"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(room, rooms.PlayerInfo{SessionID: b.id, PlayerID: ib.PlayerID, Name: ib.Name}); err != nil {
		t.Fatal(err)
	}
	token := tokenOf(t, a.until("joined"))
	// A player of n2 who will not come back, in a room of n1: n1 learns
	// of the death without a reclaim to run (sweepHomes).
	m1 := gn[0].node.roomsManager()
	room2, err := m1.Create(ttt.Name, rooms.PlayerInfo{SessionID: "n2c", PlayerID: "pc", Name: "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.Join(room2, rooms.PlayerInfo{SessionID: "n1d", PlayerID: "pd", Name: "d"}); err != nil {
		t.Fatal(err)
	}
	firstTwoMoves(a, b, room)

	died := time.Now()
	gn[1].kill(t)
	t.Logf("kill took %v", time.Since(died))
	cDropped := make(chan time.Duration, 1)
	go func() {
		for time.Since(died) < time.Minute {
			if info, ok := m1.Room(room2); ok && len(info.Players) == 2 && !info.Players[0].Connected {
				cDropped <- time.Since(died)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(cDropped)
	}()
	// a moves: its session is gone with its node.
	q := "p_event=publish&p_format=json&p_subject=/room/" + room + "&type=move&data=%7B%22cell%22%3A1%7D&move=m2&seq=2&p_id=" + a.id
	if st, evs := a.tryDo(q); st != 400 {
		t.Fatalf("a's move after its node died: %d %v, want 400 (unknown session)", st, evs)
	}
	joined := a.rejoin(lb, token)
	reclaimed := time.Since(died)
	var j struct {
		Reconnected bool `json:"reconnected"`
		Seq         int  `json:"seq"`
	}
	json.Unmarshal([]byte(joined["data"]), &j)
	if !j.Reconnected || j.Seq != 1 {
		t.Fatalf("a's joined on its new session: %s; want its seat back (reconnected, seq 1: the move to the dead node was not applied)", joined["data"])
	}
	// b saw a drop, then come back (b's own stream may have been served
	// by n2 too: b drops and comes back itself then, which b hears of too).
	b.untilAbout("player-dropped", ia.PlayerID)
	sawDrop := time.Since(died)
	b.untilAbout("player-reconnected", ia.PlayerID)
	t.Logf("from the kill: a's seat reclaimed on %s after %v, b saw player-dropped and player-reconnected by %v",
		a.id[:2], reclaimed.Round(time.Millisecond), sawDrop.Round(time.Millisecond))

	a.moveUntilApplied(room, 1, 2)
	a.until("ack")
	if got, want := boardOf(b.untilMove(1)), [9]string{"X", "X", "", "", "O"}; got != want {
		t.Errorf("b's board after a's move on its new session: %q, want %q", got, want)
	}
	b.moveUntilApplied(room, 8, 2)
	b.until("ack")
	a.untilMove(8)
	a.moveUntilApplied(room, 2, 3)
	a.until("finished")
	b.until("finished")
	for _, p := range []*tttPlayer{a, b} {
		if p.gaps != 0 {
			t.Errorf("%s: %d gaps in p_seq", p.name, p.gaps)
		}
	}
	if got := gn[2].node.Stats().GoneSessionsEnded; got < 1 {
		t.Errorf("n3's gone_sessions_ended: %d, want a's old session at least", got)
	}
	if d, ok := <-cDropped; !ok {
		t.Error("c, of n2, still connected in its room on n1 a minute after n2 died")
	} else {
		t.Logf("c, of n2, who did not come back, dropped in its room on n1 %v after the kill", d.Round(time.Millisecond))
	}
}

// tryStream is openStream that reports a refusal (a 502 from a balancer
// whose node is gone) instead of failing the test.
func tryStream(t testing.TB, addr, query string) (*stream, error) {
	c := testkit.Dial(t, addr)
	c.Send("GET /comet?" + query + " HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := c.Head("GET")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		c.C.Close()
		return nil, fmt.Errorf("listen: %d", resp.StatusCode)
	}
	return &stream{t: t, c: c.C, br: bufio.NewReader(resp.Body)}, nil
}

// resumingStream is a stream listen through a balancer that listens again
// when its connection ends (the node serving it died), resuming after the
// last event read (p_last), as cometplay.js does.
type resumingStream struct {
	p  *tttPlayer
	lb string
	s  *stream
}

func (r *resumingStream) next() map[string]string {
	t := r.p.t
	deadline := time.Now().Add(testkit.Timeout)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no event within %v", r.p.name, testkit.Timeout)
		}
		if r.s == nil {
			s, err := tryStream(t, r.lb, fmt.Sprintf("p_event=listen&p_id=%s&p_mode=stream&p_last=%d", r.p.id, r.p.lastSeq))
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			r.s = s
		}
		r.s.c.SetReadDeadline(time.Now().Add(testkit.Timeout))
		line, err := r.s.br.ReadString('\n')
		if err != nil {
			r.s.c.Close()
			r.s = nil
			continue
		}
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var ev map[string]string
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stream line %q: %v", line, err)
		}
		if ev["p_event"] != "hb" && ev["p_event"] != "listen-ack" {
			return ev
		}
	}
}

// untilAbout reads p's events up to one of type typ about the player id.
func (p *tttPlayer) untilAbout(typ, id string) map[string]string {
	p.t.Helper()
	for {
		ev := p.until(typ)
		var d struct {
			Player struct {
				ID string `json:"id"`
			} `json:"player"`
		}
		json.Unmarshal([]byte(ev["data"]), &d)
		if d.Player.ID == id {
			return ev
		}
	}
}
