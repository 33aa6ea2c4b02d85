package main

// The admin console (static/admin/) in headless Chromium against the
// example server's wiring: sign-in, live charts pushed over Comet while a
// game of tictactoe is played by two Go clients, closing the room and
// disconnecting a session from the page.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/games"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/internal/cometclient"
)

const adminTestToken = "browser-test-admin-token"

// goPlayer is a tictactoe player driven from Go over loopback.
type goPlayer struct {
	t    *testing.T
	c    *cometclient.Client
	s    *cometclient.Stream
	id   string
	room string
	seq  int
}

func newGoPlayer(t *testing.T, base, name string) *goPlayer {
	t.Helper()
	ctx := context.Background()
	c, err := cometclient.Join(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Listen(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &goPlayer{t: t, c: c, s: s}
	if err := c.Publish(ctx, "/lobby", "action", "hello", "name", name); err != nil {
		t.Fatal(err)
	}
	var w struct{ Player struct{ ID string } }
	p.wait("welcome").JSON(&w)
	p.id = w.Player.ID
	return p
}

// wait reads events until one of type typ.
func (p *goPlayer) wait(typ string) cometclient.Event {
	p.t.Helper()
	evs, err := p.s.Until(wait, func(e cometclient.Event) bool { return e["type"] == typ })
	if err != nil {
		p.t.Fatalf("waiting for %s: %v", typ, err)
	}
	return evs[len(evs)-1]
}

func (p *goPlayer) move(cell int) {
	p.t.Helper()
	p.seq++
	err := p.c.Publish(context.Background(), "/room/"+p.room, "type", "move", "data", fmt.Sprintf(`{"cell":%d}`, cell),
		"move", fmt.Sprintf("m%d", p.seq), "seq", fmt.Sprint(p.seq))
	if err != nil {
		p.t.Fatalf("move %d: %v", cell, err)
	}
	p.wait("ack")
}

func TestAdminBrowser(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := newServer(config{Config: games.Config{
		HTTP: engine.Config{Addr: "127.0.0.1:0"}, Logger: log, Comet: comet.Config{DetachGrace: 300 * time.Millisecond},
		Admin: games.AdminConfig{Token: adminTestToken, Interval: 200 * time.Millisecond}, Metrics: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	base := "http://" + s.HTTP().Addr()

	b := browsertest.Start(t)
	page := b.NewContext(t).NewPage(t, base+"/admin/")
	page.SetName("admin")
	waitFor := func(what, cond string) {
		t.Helper()
		page.WaitFor(what, cond, wait)
	}
	// afterSubmit waits across the navigation a form submission starts
	// (a poll running while the page is replaced fails; it is retried).
	afterSubmit := func(what, cond string) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			err := page.Poll(cond, time.Until(deadline))
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %v", what, err)
			}
		}
	}
	// Signed out: the form, and nothing of the figures.
	waitFor("the sign-in form", `!!document.getElementById('login')`)
	if n := browsertest.Eval[int](page, `document.querySelectorAll('canvas').length`); n != 0 {
		t.Fatalf("%d charts shown before signing in", n)
	}
	signIn := func(token string) {
		page.Run(`(() => {
			document.getElementById('token').value = ` + jsString(token) + `;
			document.getElementById('login').requestSubmit();
		})()`)
	}
	signIn("not-the-admin-token-at-all")
	afterSubmit("the refusal", `!!document.querySelector('.err') && !!document.getElementById('login')`)
	signIn(adminTestToken)
	afterSubmit("the console, connected", `document.body.dataset.state === 'connected' && !!document.querySelector('canvas[data-chart="games"]')`)
	points := func(chart string) string {
		return `Number(document.querySelector('canvas[data-chart="` + chart + `"]').dataset.points)`
	}
	last := func(chart string) string {
		return `JSON.parse(document.querySelector('canvas[data-chart="` + chart + `"]').dataset.last || '[]')`
	}
	waitFor("figures pushed", points("connections")+` >= 3`)
	if !browsertest.Eval[bool](page, `document.getElementById('cluster-card').hidden`) {
		t.Error("the cluster card shows on a server that is not a cluster node")
	}

	// A game of tictactoe by two Go clients; the charts follow it.
	ann, bob := newGoPlayer(t, base, "Ann"), newGoPlayer(t, base, "Bob")
	for _, p := range []*goPlayer{ann, bob} {
		if err := p.c.Publish(context.Background(), "/lobby", "action", "quickplay", "game", "tictactoe"); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*goPlayer{ann, bob} {
		var j struct{ Room string }
		p.wait("joined").JSON(&j)
		p.room = j.Room
	}
	var turn struct{ Player struct{ ID string } }
	ann.wait("turn").JSON(&turn)
	first, second := ann, bob
	if turn.Player.ID == bob.id {
		first, second = bob, ann
	}
	waitFor("the room, playing, in the table", `!!document.querySelector('#rooms tr[data-room=`+jsString(ann.room)+`][data-state="playing"]')`)
	if text := browsertest.Eval[string](page, `document.querySelector('#rooms tr[data-room=`+jsString(ann.room)+`]').innerText`); !strings.Contains(text, "Ann") || !strings.Contains(text, "Bob") {
		t.Fatalf("room row %q; want both players", text)
	}
	before := browsertest.Eval[int](page, points("games"))
	for i, cell := range []int{0, 3, 1, 4, 2} { // the first player wins the top row
		if i%2 == 0 {
			first.move(cell)
		} else {
			second.move(cell)
		}
	}
	first.wait("finished")
	waitFor("the games chart counting the game", last("games")+`[0] >= 1 && `+last("games")+`[1] >= 1`)
	waitFor("the rooms chart showing it finished", last("rooms")+`[2] >= 1`)
	if after := browsertest.Eval[int](page, points("games")); after <= before {
		t.Fatalf("the games chart did not update: %d points, then %d", before, after)
	}
	ink := browsertest.Eval[int](page, `(() => {
		const c = document.querySelector('canvas[data-chart="games"]');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
		return n;
	})()`)
	if ink < 50 {
		t.Fatalf("the games chart has %d drawn pixels", ink)
	}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		saveAdminScreenshot(t, page)
	}

	// Close the room from the page (two presses: arm, confirm). The table
	// is redrawn with every push, so each press finds the button and
	// clicks it in one step.
	closeBtn := `button[data-close=` + jsString(ann.room) + `]`
	for range 2 {
		page.Run(`document.querySelector(` + jsString(closeBtn) + `).click()`)
	}
	var closed struct{ Reason string }
	ann.wait("closed").JSON(&closed)
	if closed.Reason != "room closed" {
		t.Fatalf("closed: %q", closed.Reason)
	}
	waitFor("the room gone from the table", `!document.querySelector('#rooms tr[data-room=`+jsString(ann.room)+`]')`)

	// Disconnect Bob's session, with a reason.
	page.Run(`document.getElementById('sessions-filter').requestSubmit()`)
	row := `#sessions tr[data-session=` + jsString(bob.c.Public) + `]`
	waitFor("Bob's session listed", `!!document.querySelector(`+jsString(row)+`)`)
	waitFor("this page's session listed", `document.getElementById('sessions').innerText.includes('(this page)')`)
	page.Run(`(() => {
		const f = document.querySelector(` + jsString(row+` form`) + `);
		f.querySelector('input').value = 'testing the console';
		f.requestSubmit();
	})()`)
	waitFor("the disconnect reported", `document.getElementById('status').textContent.includes('testing the console')`)
	if _, err := bob.s.Until(wait, func(cometclient.Event) bool { return false }); !errors.Is(err, io.EOF) {
		t.Fatalf("Bob's stream after the disconnect: %v; want it ended", err)
	}
	// The console still gets its figures after all that.
	n := browsertest.Eval[int](page, points("connections"))
	waitFor("more figures", points("connections")+` > `+fmt.Sprint(n)+` || `+points("connections")+` >= 120`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// saveAdminScreenshot writes docs/screenshot-admin.png (docs/OPERATIONS.md
// shows it); only with UPDATE_SCREENSHOTS set.
func saveAdminScreenshot(t *testing.T, p *browsertest.Page) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.Context(), wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshot-admin.png"), png, 0o644); err != nil {
		t.Errorf("saving the screenshot: %v", err)
	}
}
