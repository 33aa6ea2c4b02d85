package main

// Browser tests of the poll transport (TestBrowser runs them): a server
// whose poll answers come back only every 40 s, as slow as a real one's
// 6–10 s can feel, shows that the pages do not wait for them.

import (
	"testing"
	"time"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/internal/browsertest"
)

// testPollHurries: on the poll transport, with the server's waits at 40 s
// (longer than any of the test's waits), the lobby shows at once after the
// name, quick play matches, and a move shows on the mover's board at once
// (tentative until the room applied it) and reaches the other player
// within the game's short poll waits: the pages ask for them (p_wait, kept
// above the server's floor) while they wait for answers or play.
func testPollHurries(t *testing.T, b *browsertest.Browser) {
	st := startSiteWith(t, func(c *config) {
		c.Comet = comet.Config{PollWaitMin: 40000, PollWaitMax: 40000, PollWaitFloor: 100, PollRefreshTimeout: 2 * time.Minute}
	})
	ann := st.join(t, b.NewContext(t), "Ann", "poll")
	bob := st.join(t, b.NewContext(t), "Bob", "poll")
	quickMatch(t, ann, bob)
	ann.waitGame("Ann's turn", `g.turn === 'me'`)

	// The click's mark shows before any answer could arrive: the page
	// renders on microtasks, and a network answer is a task of its own.
	got := browsertest.Eval[string](ann.p, `(async () => {
		const c = document.querySelector('#board [data-cell="4"]');
		c.click();
		for (let i = 0; i < 20; i++) await null;
		return c.dataset.mark + ' ' + (c.dataset.tentative || 'applied') + ' ' + document.getElementById('turn').textContent;
	})()`)
	if got != "X true Sending your move…" {
		t.Errorf("right after the click, cell 4 shows %q; want X, tentative, and that the move is on its way", got)
	}
	board := make([]string, 9)
	board[4] = "X"
	ann.waitFor("the move applied", boardIs(board)+` && !document.querySelector('#board [data-tentative]')`)
	bob.waitGame("Ann's move, and Bob's turn", boardIs(board)+` && g.turn === 'me'`)
	play(t, [2]*player{ann, bob}, nil, board, 0, 2, 6, 3, 5, 1, 7, 8) // O X X / X X O / O O X: a draw
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the draw", `g.state === 'finished'`)
		if v := pl.view(); v.Transport != "poll" || v.ResultText != "It’s a draw." {
			t.Errorf("%s: transport %q, result %q; want poll, a draw", pl.name, v.Transport, v.ResultText)
		}
	}
}
