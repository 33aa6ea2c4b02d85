package main

// Browser tests of what the page left behind or said badly (TestBrowser
// runs them; issue 16, item 10).

import (
	"strings"
	"testing"

	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/rooms"
)

// testRoomsDoNotLinger: the lobby's list shows the rooms one can join or
// watch: a game over leaves it (and comes back with a rematch), and so does
// a room its last player left, at once rather than after the room's empty
// grace. The player whose opponent left a finished game sees who left, not
// an open seat; a closed room says so once.
func testRoomsDoNotLinger(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	carl := st.join(t, b.NewContext(t), "Carl", "")
	listed := func(room string) string { return `!!document.querySelector('#rooms [data-room=` + js(room) + `]')` }

	room := quickMatch(t, ann, bob)
	carl.waitFor("the game in the list", listed(room))
	play(t, [2]*player{ann, bob}, nil, nil, 0, 3, 1, 4, 2) // X: the top row
	carl.waitFor("the finished game gone from the list", `!`+listed(room)+` && `+textIs("rooms-empty", "No rooms yet: press Quick play or create one."))

	bob.click("#leave")
	bob.waitView("lobby")
	ann.waitFor("Bob gone from the finished game", `document.getElementById('rematch-status').textContent.includes('opponent left')`)
	if got := browsertest.Eval[string](ann.p, `document.getElementById('players').textContent`); strings.Contains(got, "Waiting for a player") || !strings.Contains(got, "Bob") || !strings.Contains(got, "left") {
		t.Errorf("Ann's players after Bob left the finished game: %q; want Bob, who left, not an open seat", got)
	}

	// A room whose only player leaves is gone from the list at once.
	hs := st.goPlayers(t)
	dave := hs.player("Dave")
	empty := createRoom(t, dave)
	carl.waitFor("Dave's room", listed(empty))
	if err := dave.lobby("action", "leave-room", "room", empty); err != nil {
		t.Fatal(err)
	}
	carl.waitFor("the empty room gone from the list", `!`+listed(empty))

	// The room closes under Ann: the page says so, once.
	if err := st.s.Rooms().Do(room, func(ctx *rooms.Ctx) { ctx.Dispose() }); err != nil {
		t.Fatal(err)
	}
	ann.waitFor("the room closed", textIs("game-notice", "This room has closed."))
}

// testSmallThings: on a small phone, long names wrap between words, never inside
// one, in the lobby and the game; the chat's Send button holds its text;
// the name hint says which characters a name may have; and a turn clock of
// "1e2" is refused (a whole number of seconds, not 100).
func testSmallThings(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	const long1, long2 = "Maximiliano Bartholomew", "Wilhelmina Konstantinova"
	ann := st.join(t, b.NewContext(t), long1, "")
	if got := browsertest.Eval[string](ann.p, `document.getElementById('name-hint').textContent`); !strings.Contains(got, "_ - . '") {
		t.Errorf("the name hint %q does not say which characters a name may have", got)
	}
	bob := st.join(t, b.NewContext(t), long2, "")
	for _, pl := range []*player{ann, bob} {
		pl.emulate(viewport{"small phone 320×568", 320, 568, true})
	}
	// wholeWords is a condition: no word of the names in the elements
	// matching sel is split over two lines.
	wholeWords := func(sel string) string {
		return `[...document.querySelectorAll(` + js(sel) + `)].filter((e) => e.offsetParent !== null).length > 0 && ` +
			`[...document.querySelectorAll(` + js(sel) + `)].filter((e) => e.offsetParent !== null).every((e) => {
				const text = e.firstChild; if (!text || text.nodeType !== 3) return true;
				let at = 0;
				return text.data.split(' ').every((w) => {
					const r = document.createRange(); r.setStart(text, at); r.setEnd(text, at + w.length); at += w.length + 1;
					return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size <= 1;
				});
			})`
	}
	ann.waitFor("whole words in the online list", wholeWords("#online .name"))
	// The text's box lies inside the button's content box: the button is
	// not squeezed below its text and padding.
	ann.waitFor("the chat's Send button holding its text", `(() => {
		const b = document.querySelector('#chat-form button'); if (b.offsetParent === null) return false;
		const r = document.createRange(); r.selectNodeContents(b);
		const t = r.getBoundingClientRect(), o = b.getBoundingClientRect(), s = getComputedStyle(b);
		return t.width > 0 && t.left >= o.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft) - 1 &&
			t.right <= o.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight) + 1;
	})()`)
	ann.p.Run(`document.getElementById('create-turn').value = '1e2'`)
	ann.click("#create-submit")
	ann.waitFor("1e2 refused", `!document.getElementById('create-error').hidden && document.body.dataset.view === 'lobby'`)
	if n := len(st.s.Rooms().Rooms("")); n != 0 {
		t.Errorf("%d rooms after a turn clock of 1e2; want none", n)
	}
	quickMatch(t, ann, bob)
	for _, pl := range []*player{ann, bob} {
		pl.waitFor("whole words in the players", wholeWords("#players .name"))
	}
}
