package main

// Helpers of the example server's hardening tests (hardening_*_test.go):
// the real wiring (newServer) on 127.0.0.1:0 and Go protocol clients
// (internal/cometclient) over loopback. docs/SECURITY.md lists the tests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/games"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/cometclient"
)

// hardWait bounds every wait of these tests.
const hardWait = 20 * time.Second

// hardSite is a running example server.
type hardSite struct {
	t    *testing.T
	s    *server
	base string
	hc   *http.Client
}

// startHardSite starts newServer with hub (and the given detach grace)
// on 127.0.0.1:0; it is shut down in t.Cleanup unless the test did.
func startHardSite(t *testing.T, hub comet.Config, grace time.Duration) *hardSite {
	t.Helper()
	return startHardSiteWith(t, func(c *config) { c.Comet, c.Comet.DetachGrace = hub, grace })
}

// startHardSiteWith is startHardSite with the configuration change makes.
func startHardSiteWith(t *testing.T, change func(*config)) *hardSite {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("HARDENING_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Every client of these tests is 127.0.0.1: no cap on its connections.
	c := config{Config: games.Config{HTTP: engine.Config{Addr: "127.0.0.1:0", MaxConnsPerAddr: -1}, Logger: log}}
	change(&c)
	s, err := newServer(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	hs := &hardSite{t: t, s: s, base: "http://" + s.HTTP().Addr(),
		hc: &http.Client{Timeout: hardWait, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	t.Cleanup(func() {
		hs.hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx) // a no-op if the test shut it down already
	})
	return hs
}

// hardPlayer is one browser tab: a session, its stream, and every event the
// stream delivered, kept in order.
type hardPlayer struct {
	t    *testing.T
	name string
	c    *cometclient.Client
	st   *cometclient.Stream
	id   string // player id from welcome

	mu     sync.Mutex
	cond   *sync.Cond
	evs    []cometclient.Event
	ended  bool
	cursor int // next event next() looks at

	room, token string
	seat, seq   int
}

// player joins, listens and says hello as name.
func (hs *hardSite) player(name string) *hardPlayer {
	hs.t.Helper()
	return hs.playerWith(hs.hc, name)
}

// playerWith is player over the HTTP client hc (from another address:
// clientFrom).
func (hs *hardSite) playerWith(hc *http.Client, name string) *hardPlayer {
	hs.t.Helper()
	ctx := context.Background()
	c, err := cometclient.Join(ctx, hs.base, hc)
	if err != nil {
		hs.t.Fatalf("join: %v", err)
	}
	p := &hardPlayer{t: hs.t, name: name, c: c}
	p.cond = sync.NewCond(&p.mu)
	p.listen()
	if err := p.lobby("action", "hello", "name", name); err != nil {
		hs.t.Fatalf("hello %s: %v", name, err)
	}
	var w struct{ Player struct{ ID string } }
	p.next("welcome").JSON(&w)
	p.id = w.Player.ID
	return p
}

// listen opens the player's stream and records its events.
func (p *hardPlayer) listen() {
	p.t.Helper()
	st, err := p.c.Listen(context.Background(), false)
	if err != nil {
		p.t.Fatalf("listen %s: %v", p.name, err)
	}
	p.st = st
	p.t.Cleanup(func() { st.Close() })
	go func() {
		for e := range st.Events() {
			p.mu.Lock()
			p.evs = append(p.evs, e)
			p.mu.Unlock()
			p.cond.Broadcast()
		}
		p.mu.Lock()
		p.ended = true
		p.mu.Unlock()
		p.cond.Broadcast()
	}()
}

// tryFind returns the index of the first event at or after from satisfying
// match, waiting until d passes or the stream ends (then ok is false). It
// may be called from any goroutine.
func (p *hardPlayer) tryFind(from int, d time.Duration, match func(cometclient.Event) bool) (i int, ok bool) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, p.cond.Broadcast)
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i = from; ; {
		for ; i < len(p.evs); i++ {
			if match(p.evs[i]) {
				return i, true
			}
		}
		if p.ended || !time.Now().Before(deadline) {
			return -1, false
		}
		p.cond.Wait()
	}
}

// find is tryFind for the test goroutine: it fails the test when no event
// matches within hardWait.
func (p *hardPlayer) find(from int, what string, match func(cometclient.Event) bool) int {
	p.t.Helper()
	i, ok := p.tryFind(from, hardWait, match)
	if !ok {
		var seen []string
		for _, e := range p.events()[from:] {
			seen = append(seen, e.Name()+":"+e["type"])
		}
		p.t.Fatalf("%s: no %s; saw %v", p.name, what, seen)
	}
	return i
}

// next returns the next data event of type typ after the cursor, and moves
// the cursor past it.
func (p *hardPlayer) next(typ string) cometclient.Event {
	p.t.Helper()
	i := p.find(p.cursor, typ, func(e cometclient.Event) bool { return e.Name() == "data" && e["type"] == typ })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cursor = i + 1
	return p.evs[i]
}

// events returns a copy of every event received so far.
func (p *hardPlayer) events() []cometclient.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]cometclient.Event(nil), p.evs...)
}

// count returns how many data events of type typ have arrived.
func (p *hardPlayer) count(typ string) int {
	n := 0
	for _, e := range p.events() {
		if e.Name() == "data" && e["type"] == typ {
			n++
		}
	}
	return n
}

func (p *hardPlayer) lobby(kv ...string) error {
	return p.c.Publish(context.Background(), "/lobby", kv...)
}

// publishRoom publishes fields to the player's room (or another).
func (p *hardPlayer) publishRoom(room string, kv ...string) error {
	return p.c.Publish(context.Background(), "/room/"+room, kv...)
}

// joined waits for the player's "joined" and records room, token, seat, seq.
func (p *hardPlayer) joined() {
	p.t.Helper()
	var d struct {
		Room, Token string
		Seat, Seq   int
	}
	if err := p.next("joined").JSON(&d); err != nil {
		p.t.Fatal(err)
	}
	p.room, p.token, p.seat, p.seq = d.Room, d.Token, d.Seat, d.Seq
}

// move sends a tictactoe move to the player's room with the next seq.
func (p *hardPlayer) move(cell int, moveID string) error {
	p.seq++
	return p.publishRoom(p.room, "type", "move", "data", fmt.Sprintf(`{"cell":%d}`, cell), "move", moveID, "seq", fmt.Sprint(p.seq))
}

// errorEvent waits for the next "error" event about move id and returns its
// reason and expected seq.
func (p *hardPlayer) errorEvent(moveID string) (reason string, expected int) {
	p.t.Helper()
	i := p.find(p.cursor, "error for move "+moveID, func(e cometclient.Event) bool {
		if e.Name() != "data" || e["type"] != "error" {
			return false
		}
		var d struct{ Move string }
		json.Unmarshal([]byte(e["data"]), &d)
		return d.Move == moveID
	})
	var d struct {
		Reason   string
		Expected int
	}
	json.Unmarshal([]byte(p.events()[i]["data"]), &d)
	return d.Reason, d.Expected
}

// pair seats a and b in a new tictactoe room created by a, and returns who
// holds the first turn and who does not.
func pair(a, b *hardPlayer) (first, second *hardPlayer) {
	a.t.Helper()
	if err := a.lobby("action", "create", "game", "tictactoe"); err != nil {
		a.t.Fatalf("create: %v", err)
	}
	a.joined()
	if err := b.lobby("action", "join", "room", a.room); err != nil {
		b.t.Fatalf("join: %v", err)
	}
	b.joined()
	var st struct{ First string }
	if err := a.next("start").JSON(&st); err != nil {
		a.t.Fatal(err)
	}
	b.next("start")
	if st.First == a.id {
		return a, b
	}
	return b, a
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address local (127.0.0.x): another client address on this
// machine, for the per-address limits.
func clientFrom(t *testing.T, local string) *http.Client {
	d := &net.Dialer{Timeout: hardWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 256}
	hc := &http.Client{Timeout: hardWait, Transport: tr}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// nack reports whether err is a nack whose reason contains want.
func nack(err error, want string) bool {
	var ne *cometclient.NackError
	return errors.As(err, &ne) && strings.Contains(ne.Reason, want)
}
