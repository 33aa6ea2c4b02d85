package main

// The browser half of docs/ROOMS.md's Nim (static/nim.html, static/js/nim.js
// on the rooms client) played in two browser contexts against a server
// running rooms/example/nim (TestBrowser runs it).

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/games"
	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/rooms"
	"github.com/cometplay/cometplay/rooms/example/nim"
	"github.com/cometplay/cometplay/static"
)

// startNim starts a server with the embedded site whose rooms run Nim
// (games.New, as examples/nim serves it) and returns the address of its Nim
// page.
func startNim(t *testing.T) string {
	t.Helper()
	srv, err := games.New(games.Config{
		HTTP: engine.Config{Addr: "127.0.0.1:0", Static: static.FS()},
		// Poll waits of 50–150 ms, as startSite's.
		Comet:  comet.Config{PollWaitMin: 50, PollWaitMax: 150},
		Games:  []rooms.Game{nim.Game},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + srv.Addr() + "/nim.html"
}

// testNim: two players open the Nim page, enter their names, quick-play and
// take stones in turn (each as many as it may, up to 3) until the heap is
// empty: the one who took the last stone is told it won, the other who won;
// a rematch deals the heap again.
func testNim(t *testing.T, b *browsertest.Browser) {
	addr := startNim(t)
	var pl [2]*player
	for i, name := range []string{"Ann", "Bob"} {
		p := b.NewContext(t).NewPage(t, addr)
		p.SetName(name)
		pl[i] = &player{t: t, p: p, name: name}
		pl[i].waitFor("the name form", `document.body.dataset.status === 'idle' && !document.getElementById('pick').hidden`)
		p.Run(`document.getElementById('name').value = ` + js(name))
		pl[i].click(`#pick button[type="submit"]`)
		pl[i].waitFor("the lobby", `document.body.dataset.status === 'ready' && !document.getElementById('lobby').hidden`)
	}
	pl[0].click("#quickplay")
	pl[0].waitFor("the queue", `document.getElementById('queue').textContent.includes('1 of 2')`)
	pl[1].click("#quickplay")
	const playing = `document.getElementById('game').dataset.state === 'playing'`
	for _, p := range pl {
		p.waitFor("the game", playing+` && document.getElementById('heap').textContent === '15 stones left'`)
	}

	// Ann was first in the queue: she has seat 0 and moves first.
	const myTurn = `document.getElementById('game').dataset.turn === 'me'`
	heap, mover := 15, 0
	for heap > 0 {
		pl[mover].waitFor("my turn", myTurn)
		n := min(3, heap)
		pl[mover].click("#take" + strconv.Itoa(n))
		heap -= n
		left := strconv.Itoa(heap) + " stones left"
		if heap == 1 {
			left = "1 stone left"
		}
		for _, p := range pl {
			p.waitFor(left, `document.getElementById('heap').textContent === `+js(left))
		}
		mover = 1 - mover
	}
	winner, loser := pl[1-mover], pl[mover]
	winner.waitFor("the win", `document.getElementById('game').dataset.state === 'finished' && document.getElementById('turn').textContent === 'You win!'`)
	loser.waitFor("the loss", `document.getElementById('game').dataset.state === 'finished' && document.getElementById('turn').textContent === `+js(winner.name+" wins."))
	if n := browsertest.Eval[int](loser.p, `document.querySelectorAll('#log li').length`); n < 5 {
		t.Errorf("%s's log shows %d takes; want every take (at least 5)", loser.name, n)
	}

	for _, p := range pl {
		p.click("#rematch")
	}
	for _, p := range pl {
		p.waitFor("the rematch", playing+` && document.getElementById('heap').textContent === '15 stones left' && document.querySelectorAll('#log li').length === 0`)
	}
}
