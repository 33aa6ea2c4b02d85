package main

// Browser tests of what the page shows without scrolling (TestBrowser runs
// them).

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cometplay/cometplay/internal/browsertest"
)

// viewport is a screen size to emulate.
type viewport struct {
	name          string
	width, height int64
	phone         bool
}

// laptopsAndPhone are common screens: two laptops' browser windows (what a
// 1366×768 and a 1280×800 screen leave to the page) and a phone.
var laptopsAndPhone = []viewport{
	{"laptop 1366×657", 1366, 657, false},
	{"laptop 1280×757", 1280, 757, false},
	{"phone 390×844", 390, 844, true},
}

// emulate gives the player's page the viewport's size.
func (pl *player) emulate(v viewport) {
	pl.t.Helper()
	ctx, cancel := context.WithTimeout(pl.p.Context(), wait)
	defer cancel()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if v.phone {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
		pl.t.Fatal(err)
	}
	pl.waitFor(v.name, fmt.Sprintf(`innerWidth === %d && innerHeight === %d`, v.width, v.height))
}

// inView is a condition: the element matching sel shows, wholly inside the
// viewport as the page is now (scrolled or not).
func inView(sel string) string {
	return `(() => { const e = document.querySelector(` + js(sel) + `); if (!e || e.offsetParent === null) return false;
		const r = e.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; })()`
}

// testResultInView: at the end of a game, on common laptop and phone
// screens, both players see the outcome and the Rematch button without
// scrolling (not "Game over." above nine cells).
func testResultInView(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	players := [2]*player{ann, bob}
	quickMatch(t, ann, bob)
	for i, v := range laptopsAndPhone {
		for _, pl := range players {
			pl.emulate(v)
		}
		if i > 0 {
			bob.click("#rematch")
			ann.click("#rematch")
			for _, pl := range players {
				pl.waitGame("the rematch on the "+v.name, `g.state === 'playing' && g.turn !== 'none' && `+boardIs(make([]string, 9)))
			}
		}
		// X takes the left column.
		play(t, players, nil, nil, 0, 1, 3, 4, 6)
		for _, pl := range players {
			pl.waitGame("the result on the "+v.name, `g.state === 'finished'`)
			pl.waitFor("the result and Rematch in view on the "+v.name, inView("#result-text")+` && `+inView("#rematch"))
		}
	}
}
