package games

import (
	"fmt"
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
)

// TestLiveHeapDoesNotGrowWithPlay: pairs of players (Go clients on streams
// over loopback, acknowledging with their requests as the browser client
// does) play whole games of Nim and rematch; the live heap after four
// rounds of games is where it was after the first (a fixed amount per
// player is allowed, growth with time played is not). Before the history
// was held once and trimmed by acknowledgements, every session kept its
// last 256 events: hundreds of bytes per event received.
func TestLiveHeapDoesNotGrowWithPlay(t *testing.T) {
	const pairs, gamesPerRound, rounds = 10, 3, 10
	// Moves as fast as the clients make them: no publish rate.
	gs := startGames(t, Config{Comet: comet.Config{PublishRate: -1}, Lobby: lobby.Options{AwayGrace: time.Minute}})
	type pair struct{ p [2]*player }
	var ps []pair
	for i := range pairs {
		a, b := gs.newPlayer(fmt.Sprint("A", i)), gs.newPlayer(fmt.Sprint("B", i))
		if err := a.lobby("action", "create", "game", "nim"); err != nil {
			t.Fatal(err)
		}
		a.joined()
		if err := b.lobby("action", "join", "room", a.room); err != nil {
			t.Fatal(err)
		}
		b.joined()
		ps = append(ps, pair{[2]*player{a, b}})
	}
	moves := 0
	// play plays one game of Nim in each room (15 stones, 3 at a time),
	// then both players ask for a rematch.
	play := func(round, game int) {
		for _, pr := range ps {
			var turn string
			for turn == "" { // a turn with no player: the game is not on yet
				if who, ok := pr.p[0].wait("/room/", "turn").m()["player"].(map[string]any); ok {
					turn, _ = who["id"].(string)
				}
			}
			cur := 0
			if turn == pr.p[1].id {
				cur = 1
			}
			for heap := 15; heap > 0; cur = 1 - cur {
				p := pr.p[cur]
				n := min(3, heap)
				if err := p.move(n, fmt.Sprintf("r%dg%dh%d", round, game, heap)); err != nil {
					t.Fatalf("move: %v", err)
				}
				p.wait("/room/", "ack")
				heap -= n
				moves++
			}
			for _, p := range pr.p {
				p.wait("/room/", "finished")
			}
			for _, p := range pr.p {
				if err := p.c.Publish(t.Context(), "/room/"+p.room, "type", "rematch"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var base, movesBase int64
	for r := range rounds {
		for g := range gamesPerRound {
			play(r, g)
		}
		if r == 0 {
			base, movesBase = testkit.LiveHeap(), int64(moves)
		}
	}
	after := testkit.LiveHeap()
	grew, played := after-base, int64(moves)-movesBase
	st := gs.hub.Stats()
	t.Logf("%d players: live heap %d KiB after %d moves, %d KiB after %d more (%+d bytes); history %d bytes, %d references",
		2*pairs, base>>10, movesBase, after>>10, played, grew, st.HistoryBytes, st.HistoryRefs)
	if limit := int64(256 << 10); grew > limit {
		t.Fatalf("the live heap grew by %d KiB over %d moves (%.0f bytes a move); want it flat (at most %d KiB of noise)", grew>>10, played, float64(grew)/float64(played), limit>>10)
	}
}
