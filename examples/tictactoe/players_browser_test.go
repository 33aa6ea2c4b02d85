package main

// Browser tests of who a player is (TestBrowser runs them): a second window
// of a player, names, renaming and signing out.

import (
	"fmt"
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

// onlineAre is a condition: the lobby's list of players online shows names,
// in this order.
func onlineAre(names ...string) string {
	return namesAre("online", names) + ` && ` + textIs("online-count", fmt.Sprintf("(%d)", len(names)))
}

// testNames: names are unique among the players online, whatever their
// case (a clear error, and the player tries another); a tab renames its
// player (refused for a name taken) and signs out, then plays as someone
// else.
func testNames(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	dup := st.join(t, b.NewContext(t), "Dup", "")
	bob := &player{t: t, p: b.NewContext(t).NewPage(t, st.url()), name: "Bob"}
	bob.p.SetName("Bob")
	bob.waitView("name")
	enter := func(name string) {
		bob.p.Run(`document.getElementById('name-input').value = ` + js(name))
		bob.click("#name-submit")
	}
	enter("dup")
	const taken = "Name taken: another player online is called that (names must differ in more than case); choose another"
	bob.waitFor("the name refused", `document.body.dataset.view === 'name' && `+textIs("name-error", taken))
	if got := browsertest.Eval[string](bob.p, `document.activeElement.id`); got != "name-input" {
		t.Errorf("after the refusal the focus is on %q; want the name input", got)
	}
	enter("Bob")
	bob.waitView("lobby")
	dup.waitFor("Bob online", onlineAre("Bob", "Dup"))

	bob.click("#rename-open")
	bob.p.Run(`document.getElementById('rename-input').value = 'DUP'`)
	bob.click("#rename-submit")
	bob.waitFor("the new name refused", textIs("rename-error", taken))
	bob.p.Run(`document.getElementById('rename-input').value = 'Robert'`)
	bob.click("#rename-submit")
	bob.waitFor("the new name", textIs("me-name", "Robert")+` && document.getElementById('rename-form').hidden`)
	dup.waitFor("Bob renamed", onlineAre("Dup", "Robert"))

	bob.click("#sign-out")
	bob.waitFor("signed out", `document.body.dataset.view === 'name' && document.getElementById('name-input').value === '' && document.getElementById('continue').hidden`)
	dup.waitFor("Robert gone", onlineAre("Dup"))
	enter("Carl")
	bob.waitFor("Carl's lobby", `document.body.dataset.view === 'lobby' && `+textIs("me-name", "Carl"))
	dup.waitFor("Carl online", onlineAre("Carl", "Dup"))
	// A reload is Carl again, not Robert.
	bob.p.Navigate(st.url())
	bob.waitFor("Carl after a reload", `document.body.dataset.view === 'lobby' && `+textIs("me-name", "Carl"))
}
