package main

import (
	"context"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/browsertest"
)

// TestBrowserLobbyMovesWithItsNode: the node running the lobby (n1) is
// drained while three players' pages, all on n2, are in its lobby, one of
// them waiting for a quick match. Another node takes the lobby over; each
// page says hello again by itself and shows the others online again, the
// waiting player is told to press Quick play again, and two of them then
// play a whole game.
func TestBrowserLobbyMovesWithItsNode(t *testing.T) {
	b := browsertest.Start(t)
	_, servers, nodes := startClusterSite(t)
	st := &site{t: t, s: servers[1], base: "http://" + servers[1].Addr() + "/"}
	ann := st.join(t, b.NewContext(t), "Ann", "stream")
	bob := st.join(t, b.NewContext(t), "Bob", "long-poll")
	cat := st.join(t, b.NewContext(t), "Cat", "sse")
	online := func(n int) string {
		return `document.querySelectorAll('#online li').length === ` + js(n)
	}
	for _, pl := range []*player{ann, bob, cat} {
		pl.waitFor("three players online", online(3))
	}
	cat.click("#quickplay")
	cat.waitFor("waiting for an opponent", `!document.getElementById('qp-waiting').hidden`)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := servers[0].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	nodes[0].Close()
	// A liveness bound: a starved machine slows the takeover down many
	// times.
	for deadline := time.Now().Add(time.Minute); nodes[1].Stats().GamesNode == "n1" || nodes[2].Stats().GamesNode == "n1"; {
		if time.Now().After(deadline) {
			t.Fatal("no node took the lobby over within a minute")
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}

	cat.waitFor("told to quick-play again", `(() => {
		const e = document.getElementById('qp-error');
		return !e.hidden && e.textContent.includes('Quick play again') && !document.getElementById('qp-idle').hidden;
	})()`)
	// The new lobby knew nobody: each page said hello again.
	lead := servers[1]
	if nodes[1].Stats().GamesNode == "n3" {
		lead = servers[2]
	}
	waitServer(t, "the new lobby to have the three players online", func() bool {
		return lead.Lobby().Stats().PlayersOnline == 3
	})
	for _, pl := range []*player{ann, bob, cat} {
		pl.waitFor("three players online", online(3))
		pl.waitFor("its name in the lobby", `document.getElementById('lobby-me').textContent === `+js(pl.name))
	}
	if got := nodes[1].Stats().LobbyMoves + nodes[2].Stats().LobbyMoves; got < 2 {
		t.Errorf("lobby moves seen by n2 and n3: %d, want one each", got)
	}
	quickMatch(t, ann, cat)
	play(t, [2]*player{ann, cat}, nil, nil, 0, 3, 1, 4, 2)
	for _, pl := range []*player{ann, cat} {
		pl.waitGame("the result", `g.state === 'finished'`)
	}
}
