package main

// Browser tests of who a player is (TestBrowser runs them): a second window
// of a player, names, renaming and signing out.

import (
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/browsertest"
)

// testSecondWindow: a second window of the browser where Ann plays is
// offered "Continue as Ann", and told that it would be Ann too, not an
// opponent; continuing and pressing Quick play says that the other window is
// Ann too; and a wait in the queue never lasts forever: after the lobby's
// QuickplayWait the page says no opponent was found, and Quick play is back.
func testSecondWindow(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	annCtx := b.NewContext(t)
	ann := st.join(t, annCtx, "Ann", "")
	second := &player{t: t, p: annCtx.NewPage(t, st.url()), name: "Ann's second window"}
	second.p.SetName("Ann-2")
	second.waitView("name")
	second.waitFor("the offer and what it means", `document.querySelector('#continue-list button').textContent === 'Continue as Ann' && `+
		`(() => { const h = document.getElementById('continue-hint'); return h.offsetParent !== null && h.textContent.includes('not an opponent'); })()`)
	second.click("#continue-list button")
	second.waitView("lobby")
	second.click("#quickplay")
	for _, pl := range []*player{second, ann} {
		pl.waitFor("the wait, and that the other window is no opponent", `document.getElementById('qp-text').textContent.includes('1 of 2 players ready') && `+
			textIs("qp-same", "Your other window in this browser is Ann too, not an opponent. To play against yourself, open a window and enter another name."))
	}
	ann.click("#qp-cancel")
	second.waitFor("the wait cancelled", `document.getElementById('qp-waiting').hidden && !document.getElementById('qp-idle').hidden`)

	st = startSiteWith(t, func(c *config) { c.Lobby.QuickplayWait = 300 * time.Millisecond })
	carl := st.join(t, b.NewContext(t), "Carl", "")
	carl.click("#quickplay")
	carl.waitFor("the end of the wait", `!document.getElementById('qp-idle').hidden && !document.getElementById('quickplay').disabled && `+
		`document.getElementById('qp-error').textContent.startsWith('No opponent found within 300ms: nobody else asked for a game')`)
	if v := browsertest.Eval[string](carl.p, `document.getElementById('qp-error').textContent`); !strings.Contains(v, "create a room") {
		t.Errorf("the end of the wait says %q; want it to suggest creating a room", v)
	}
}
