package main

// End-to-end tests of the site (static/index.html and static/js/app.js with
// its views) in headless Chromium, against the example server's own wiring
// (newServer) on 127.0.0.1:0. Every player is an isolated browser context
// (another machine); the tabs of one player share a context. Tests wait for
// DOM conditions with deadlines, never for fixed times. They share one
// Chromium and run in parallel, each with its own server.
//
// The pages expose their state for these tests as data attributes:
// body[data-view] (name, loading, lobby, game); body[data-browse] (on, off:
// what the lobby last acknowledged of the tab's "browse"); #conn[data-state,
// data-transport, data-leader]; #game[data-state, data-role, data-mark,
// data-turn, data-result]; .cell[data-cell, data-mark, data-win].

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/games"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/rooms"
)

// wait bounds every wait for the browser: generous, for -race on a small
// machine running several tests at once.
const wait = 20 * time.Second

// site is a running example server.
type site struct {
	t    *testing.T
	s    *server
	base string
}

func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, nil)
}

// startSiteWith starts a site whose configuration change (if not nil)
// adjusts.
func startSiteWith(t *testing.T, change func(*config)) *site {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	c := config{Config: games.Config{
		HTTP:   engine.Config{Addr: "127.0.0.1:0"},
		Logger: log,
		// Poll answers come back after 50–150 ms instead of 6–10 s, so a
		// whole game over poll fits in a test; a lost listen is reported
		// to the rooms after 300 ms instead of 2 s.
		Comet: comet.Config{PollWaitMin: 50, PollWaitMax: 150, DetachGrace: 300 * time.Millisecond},
	}}
	if change != nil {
		change(&c)
	}
	s, err := newServer(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Logf("shutdown: %v", err)
		}
	})
	return &site{t: t, s: s, base: "http://" + s.HTTP().Addr() + "/"}
}

// url returns the site's address with query parameters kv (name, value…).
func (st *site) url(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return st.base
	}
	return st.base + "?" + q.Encode()
}

// player is one tab of a player.
type player struct {
	t    *testing.T
	p    *browsertest.Page
	name string
}

// join opens the site in browser context c with transport tr ("" for the
// automatic choice), enters name and waits for the lobby.
func (st *site) join(t *testing.T, c *browsertest.Context, name, tr string) *player {
	t.Helper()
	p := c.NewPage(t, st.url("transport", tr))
	p.SetName(name)
	pl := &player{t: t, p: p, name: name}
	pl.waitView("name")
	p.Run(`(() => {
		document.getElementById('name-input').value = ` + js(name) + `;
		document.getElementById('name-form').requestSubmit();
	})()`)
	pl.waitView("lobby")
	if tr != "" {
		pl.waitFor("the "+tr+" transport", `document.getElementById('conn').dataset.state === 'connected' && document.getElementById('conn').dataset.transport === `+js(tr))
	}
	return pl
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (pl *player) waitFor(what, cond string) {
	pl.t.Helper()
	pl.p.WaitFor(pl.name+": "+what, cond, wait)
}

func (pl *player) waitView(v string) {
	pl.t.Helper()
	pl.waitFor("the "+v+" view", `document.body.dataset.view === `+js(v))
}

// click clicks the element matching sel with the mouse (at its center, as
// a user would: it must be visible and not covered), once it is visible.
func (pl *player) click(sel string) {
	pl.t.Helper()
	pl.waitFor(sel+" to show", `(() => { const e = document.querySelector(`+js(sel)+`); return !!e && e.offsetParent !== null && !e.disabled; })()`)
	ctx, cancel := context.WithTimeout(pl.p.Context(), wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		pl.t.Fatalf("%s: click %s: %v", pl.name, sel, err)
	}
}

// room returns the room id the page shows.
func (pl *player) room() string {
	pl.t.Helper()
	return browsertest.Eval[string](pl.p, `new URLSearchParams(location.search).get('room') || ''`)
}

// view is what the game view shows.
type view struct {
	State, Role, Mark, Turn, Result string
	Board                           []string
	Win                             []int
	Disabled                        []bool // the cells' disabled property
	Players                         []string
	Text, ResultText                string
	Reconnecting                    string // the opponent-status banner, if shown
	Transport                       string
}

func (pl *player) view() view {
	pl.t.Helper()
	return browsertest.Eval[view](pl.p, `(() => {
		const g = document.getElementById('game').dataset;
		const cells = [...document.querySelectorAll('#board .cell')];
		const banner = document.getElementById('opponent-status');
		return {
			State: g.state || '', Role: g.role || '', Mark: g.mark || '', Turn: g.turn || '', Result: g.result || '',
			Board: cells.map((c) => c.dataset.mark || ''),
			Win: cells.filter((c) => c.dataset.win === 'true').map((c) => Number(c.dataset.cell)),
			Disabled: cells.map((c) => c.disabled),
			Players: [...document.querySelectorAll('#players .player .name')].map((n) => n.textContent),
			Text: document.getElementById('turn').textContent,
			ResultText: document.getElementById('result').hidden ? '' : document.getElementById('result-text').textContent,
			Reconnecting: banner.hidden ? '' : banner.textContent,
			Transport: document.getElementById('conn').dataset.transport || '',
		};
	})()`)
}

func (pl *player) waitGame(what, cond string) {
	pl.t.Helper()
	pl.waitFor(what, `(() => { const g = document.getElementById('game').dataset; return document.body.dataset.view === 'game' && (`+cond+`); })()`)
}

// boardIs is a condition: the page's board shows marks (9 of "X", "O", "").
func boardIs(marks []string) string {
	return `[...document.querySelectorAll('#board .cell')].map((c) => c.dataset.mark || '').join(',') === ` + js(strings.Join(marks, ","))
}

// play plays cells in turn on the pages of the two players, X first, each
// move by clicking the cell on the page of the player to move, and waits
// until every page in watchers (and the players') shows the move.
// It returns the board.
func play(t *testing.T, players [2]*player, watchers []*player, board []string, cells ...int) []string {
	t.Helper()
	var x, o *player
	for _, pl := range players {
		switch pl.view().Mark {
		case "X":
			x = pl
		case "O":
			o = pl
		}
	}
	if x == nil || o == nil {
		t.Fatalf("no X and O among %s and %s", players[0].name, players[1].name)
	}
	if board == nil {
		board = make([]string, 9)
	}
	board = slices.Clone(board)
	moved := 0
	for i := range board {
		if board[i] != "" {
			moved++
		}
	}
	all := append([]*player{players[0], players[1]}, watchers...)
	for _, c := range cells {
		mover, mark := x, "X"
		if moved%2 == 1 {
			mover, mark = o, "O"
		}
		mover.waitGame("my turn to play cell "+fmt.Sprint(c),
			fmt.Sprintf(`g.turn === 'me' && document.querySelector('[data-cell="%d"]').getAttribute('aria-disabled') === 'false'`, c))
		mover.click(fmt.Sprintf(`#board [data-cell="%d"]`, c))
		board[c] = mark
		moved++
		for _, pl := range all {
			pl.waitFor(fmt.Sprintf("%s at %d", mark, c), boardIs(board))
		}
	}
	return board
}

// started is a condition: the game view shows a game in progress, the
// player's mark and whose turn it is (events that may arrive in separate
// responses).
const started = `g.state === 'playing' && g.mark !== undefined && g.turn !== 'none'`

// quickMatch has a and b press quick play, a first (so a is seated first and
// plays X), and waits until both show the game in progress.
func quickMatch(t *testing.T, a, b *player) string {
	t.Helper()
	a.click("#quickplay")
	a.waitFor("waiting for an opponent", `!document.getElementById('qp-waiting').hidden`)
	b.click("#quickplay")
	for _, pl := range []*player{a, b} {
		pl.waitGame("the game to start", started)
	}
	room := a.room()
	if room == "" || b.room() != room {
		t.Fatalf("%s is in room %q, %s in %q", a.name, room, b.name, b.room())
	}
	return room
}

// TestBrowser runs the site's end-to-end tests in one Chromium.
func TestBrowser(t *testing.T) {
	b := browsertest.Start(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *browsertest.Browser)
	}{
		{"WinRematchDrawSpectator", testWinRematchDraw},
		{"CreateJoinChatPoll", testCreateJoinChat},
		{"ReloadKeepsSeat", testReload},
		{"TurnClock", testTurnClock},
		{"TwoTabsOneConnection", testTwoTabs},
		{"OpponentReconnecting", testOpponentReconnecting},
		{"ShutdownEndsWithoutResult", testShutdownNoResult},
		{"PhoneAndKeyboard", testPhoneAndKeyboard},
		{"LobbyShowMore", testLobbyShowMore},
		{"SeatedPlayerBrowsesLobby", testSeatedBrowse},
		{"NimToTheEnd", testNim},
		{"ResultInView", testResultInView},
		{"SecondWindowSamePlayer", testSecondWindow},
		{"ChatHistoryOnArrival", testChatHistory},
		{"UniqueNamesRenameSignOut", testNames},
		{"PollHurries", testPollHurries},
		{"RoomsDoNotLinger", testRoomsDoNotLinger},
		{"SmallThings", testSmallThings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, b)
		})
	}
}

// testWinRematchDraw: two players (stream and sse) quick-match and play to
// a win while a third (long-poll) watches; the winning line shows on every
// page; the spectator's cells cannot be played; a rematch swaps X and O and
// ends in a draw. A screenshot of the game in progress becomes
// docs/screenshot-game.png.
func testWinRematchDraw(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "stream")
	bob := st.join(t, b.NewContext(t), "Bob", "sse")
	room := quickMatch(t, ann, bob)
	if v := ann.view(); v.Mark != "X" || v.Turn != "me" || v.Role != "player" {
		t.Fatalf("Ann (first in the queue): mark %q, turn %q, role %q; want X, me, player", v.Mark, v.Turn, v.Role)
	}
	if v := bob.view(); v.Mark != "O" || v.Turn != "opponent" {
		t.Fatalf("Bob: mark %q, turn %q; want O, opponent", v.Mark, v.Turn)
	}

	sue := st.join(t, b.NewContext(t), "Sue", "long-poll")
	sue.waitFor("the room in the list", `!!document.querySelector('#rooms [data-room=`+js(room)+`][data-state="playing"]')`)
	sue.click(`#rooms button[data-act="watch"][data-room=` + js(room) + `]`)
	sue.waitGame("the game as a spectator", `g.role === 'spectator' && g.state === 'playing'`)
	if v := sue.view(); !slices.Equal(v.Players, []string{"Ann", "Bob"}) || slices.Contains(v.Disabled, false) {
		t.Fatalf("spectator sees players %q, disabled cells %v; want Ann and Bob, every cell disabled", v.Players, v.Disabled)
	}

	players := [2]*player{ann, bob}
	watchers := []*player{sue}
	board := play(t, players, watchers, nil, 0, 3, 1)
	shot := screenshot(t, ann)

	// The spectator cannot play: its cells are disabled buttons, and even
	// forced into a click, the page sends nothing.
	sue.p.Run(`(() => { const c = document.querySelector('[data-cell="8"]'); c.disabled = false; c.click(); })()`)
	play(t, players, watchers, board, 4, 2) // X completes the top row
	for _, pl := range []*player{ann, bob, sue} {
		pl.waitGame("the result", `g.state === 'finished'`)
		if v := pl.view(); !slices.Equal(v.Win, []int{0, 1, 2}) || v.Board[8] != "" {
			t.Errorf("%s: winning cells %v, cell 8 %q; want 0 1 2 and an empty cell 8", pl.name, v.Win, v.Board[8])
		}
	}
	if v := ann.view(); v.Result != "win" || v.ResultText != "You win!" {
		t.Errorf("Ann: result %q %q; want a win", v.Result, v.ResultText)
	}
	if v := bob.view(); v.Result != "loss" || v.ResultText != "Ann wins." {
		t.Errorf("Bob: result %q %q; want a loss", v.Result, v.ResultText)
	}
	if v := sue.view(); v.ResultText != "Ann (X) wins." {
		t.Errorf("Sue: result %q", v.ResultText)
	}

	// Rematch: Bob asks, Ann accepts; Bob plays X now and moves first.
	bob.click("#rematch")
	ann.waitFor("Bob's rematch request", `document.getElementById('rematch-status').textContent.includes('Bob wants a rematch')`)
	ann.click("#rematch")
	for _, pl := range []*player{ann, bob, sue} {
		pl.waitGame("the rematch", `g.state === 'playing' && g.turn !== 'none' && `+boardIs(make([]string, 9)))
	}
	if a, b := ann.view(), bob.view(); a.Mark != "O" || b.Mark != "X" || b.Turn != "me" {
		t.Fatalf("rematch: Ann %q, Bob %q (turn %q); want Ann O, Bob X to move", a.Mark, b.Mark, b.Turn)
	}
	// X O X / X O O / O X X: a draw.
	play(t, players, watchers, nil, 0, 1, 2, 4, 3, 5, 7, 6, 8)
	for _, pl := range []*player{ann, bob, sue} {
		pl.waitGame("the draw", `g.state === 'finished'`)
		if v := pl.view(); v.ResultText != "It’s a draw." || len(v.Win) != 0 {
			t.Errorf("%s: result %q, winning cells %v; want a draw", pl.name, v.ResultText, v.Win)
		}
	}
	for _, pl := range []*player{ann, bob, sue} {
		want := map[string]string{"Ann": "stream", "Bob": "sse", "Sue": "long-poll"}[pl.name]
		if v := pl.view(); v.Transport != want {
			t.Errorf("%s played over %q; want %q", pl.name, v.Transport, want)
		}
	}
	if info, _ := st.s.Rooms().Room(room); info.Spectators != 1 || info.State != rooms.StateFinished {
		t.Errorf("server's room: %+v; want finished with one spectator", info)
	}

	// A spectator who reloads watches again.
	sue.p.Navigate(browsertest.Eval[string](sue.p, `location.href`))
	sue.waitGame("the game watched again", `g.role === 'spectator' && g.state === 'finished' && document.getElementById('result-text').textContent === 'It’s a draw.'`)
	if v := sue.view(); v.Board[8] != "X" || slices.Contains(v.Disabled, false) {
		t.Errorf("spectator after a reload: board %q, disabled %v", v.Board, v.Disabled)
	}

	// Console errors fail the test when a page closes: close them now, and
	// publish the screenshot only if everything passed.
	for _, pl := range []*player{ann, bob, sue} {
		pl.p.Close()
	}
	if !t.Failed() {
		saveScreenshot(t, shot)
	}
}

// testCreateJoinChat: two players on long-poll and poll see each other
// online, chat (text that looks like HTML stays text), one creates a room, the other joins it from the live room list, and they play until O
// wins.
func testCreateJoinChat(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "long-poll")
	bob := st.join(t, b.NewContext(t), "Bob", "poll")
	for _, pl := range []*player{ann, bob} {
		pl.waitFor("both online", `[...document.querySelectorAll('#online .name')].map((n) => n.textContent).join() === 'Ann,Bob'`)
	}

	const hi = `<img src=x> hi & "bye"`
	ann.p.Run(`document.getElementById('chat-input').value = ` + js(hi))
	ann.click("#chat-form button")
	for _, pl := range []*player{ann, bob} {
		pl.waitFor("the chat line", `[...document.querySelectorAll('#chat-log .text')].some((e) => e.textContent === `+js(hi)+`)`)
		if n := browsertest.Eval[int](pl.p, `document.querySelectorAll('#chat-log img').length`); n != 0 {
			t.Errorf("%s: the chat line became HTML (%d img elements)", pl.name, n)
		}
	}

	ann.click("#create-submit")
	ann.waitGame("the new room", `g.state === 'waiting' && g.role === 'player'`)
	room := ann.room()
	sel := `#rooms [data-room=` + js(room) + `]`
	bob.waitFor("the room in the list", `!!document.querySelector(`+js(sel+`[data-state="waiting"]`)+`)`)
	bob.click(sel + ` button[data-act="join"]`)
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the game", started)
	}
	// X: 0 1 8, O: 2 4 6: O wins on the diagonal.
	play(t, [2]*player{ann, bob}, nil, nil, 0, 2, 1, 4, 8, 6)
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the result", `g.state === 'finished'`)
	}
	if v := bob.view(); v.Result != "win" || !slices.Equal(v.Win, []int{2, 4, 6}) {
		t.Errorf("Bob: result %q, line %v; want a win on 2 4 6", v.Result, v.Win)
	}
	if v := ann.view(); v.Result != "loss" || v.ResultText != "Bob wins." {
		t.Errorf("Ann: result %q %q", v.Result, v.ResultText)
	}
	for _, pl := range []*player{ann, bob} {
		want := map[string]string{"Ann": "long-poll", "Bob": "poll"}[pl.name]
		if v := pl.view(); v.Transport != want {
			t.Errorf("%s played over %q; want %q", pl.name, v.Transport, want)
		}
	}

	// Leaving a finished game goes back to the lobby.
	ann.click("#leave")
	ann.waitView("lobby")
	bob.waitGame("Ann gone", `document.getElementById('rematch-status').textContent.includes('opponent left')`)
}

// testReload: a player on the iframe transport reloads mid-game (its turn)
// and comes back on the same seat with the same mark and the turn; then
// the other player reloads while waiting; they finish the game.
func testReload(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "iframe")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	quickMatch(t, ann, bob)
	players := [2]*player{ann, bob}
	board := play(t, players, nil, nil, 4, 0)

	reload := func(pl *player, turn string) {
		t.Helper()
		pl.waitGame("turn "+turn+" before the reload", `g.turn === `+js(turn))
		before := pl.view()
		pl.p.Navigate(browsertest.Eval[string](pl.p, `location.href`))
		pl.waitGame("the game after the reload", `g.state === 'playing' && g.role === 'player' && `+boardIs(board))
		after := pl.view()
		if after.Mark != before.Mark || after.Turn != turn || before.Turn != turn {
			t.Fatalf("%s reloaded: mark %q → %q, turn %q → %q; want the same mark and turn %q",
				pl.name, before.Mark, after.Mark, before.Turn, after.Turn, turn)
		}
	}
	reload(ann, "me")
	if v := ann.view(); v.Transport != "iframe" {
		t.Errorf("Ann's transport after the reload: %q; want iframe", v.Transport)
	}
	board = play(t, players, nil, board, 2)
	reload(ann, "opponent")
	reload(bob, "me")
	play(t, players, nil, board, 1, 6) // X: 4 2 6
	for _, pl := range players {
		pl.waitGame("the result", `g.state === 'finished'`)
	}
	if v := ann.view(); v.Result != "win" || !slices.Equal(v.Win, []int{2, 4, 6}) {
		t.Errorf("Ann: result %q, line %v; want a win on 2 4 6", v.Result, v.Win)
	}
	if n := st.s.Hub().NumSessions(); n != 2 {
		t.Errorf("%d sessions after the reloads; want 2 (reloaded pages leave theirs)", n)
	}
}

// testTurnClock: a room created with a 2 s turn clock shows the countdown,
// and X, not moving, loses on time.
func testTurnClock(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	ann.p.Run(`document.getElementById('create-turn').value = '2'`)
	ann.click("#create-submit")
	ann.waitGame("the new room", `g.state === 'waiting'`)
	room := ann.room()
	sel := `#rooms [data-room=` + js(room) + `]`
	bob.waitFor("the room with its clock", `!!document.querySelector(`+js(sel)+`) && document.querySelector(`+js(sel+` .room-label`)+`).textContent === 'Tictactoe, 2 s per move'`)
	bob.click(sel + ` button[data-act="join"]`)
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the clock", started+` && !document.getElementById('clock').hidden && /^0:0[0-2]$/.test(document.getElementById('clock-time').textContent)`)
	}
	for _, pl := range []*player{ann, bob} {
		pl.waitGame("the forfeit", `g.state === 'finished'`)
	}
	if v := ann.view(); v.Result != "loss" || v.ResultText != "You ran out of time. Bob wins." {
		t.Errorf("Ann: result %q %q; want a loss on time", v.Result, v.ResultText)
	}
	if v := bob.view(); v.Result != "win" || v.ResultText != "You win: Ann ran out of time." {
		t.Errorf("Bob: result %q %q; want a win on time", v.Result, v.ResultText)
	}
}

// testTwoTabs: a second tab of a player, opened on the game's address,
// shares the first tab's session and connection, shows the game and plays
// in it; when the first tab closes, the second carries on with the same
// session.
func testTwoTabs(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	annCtx := b.NewContext(t)
	ann := st.join(t, annCtx, "Ann", "stream")
	bob := st.join(t, b.NewContext(t), "Bob", "stream")
	room := quickMatch(t, ann, bob)
	board := play(t, [2]*player{ann, bob}, nil, nil, 4, 0)

	tab := &player{t: t, p: annCtx.NewPage(t, st.url("room", room)), name: "Ann's second tab"}
	tab.p.SetName("Ann-tab2")
	tab.waitGame("the game in the second tab", `g.state === 'playing' && g.mark === 'X' && g.turn === 'me' && `+boardIs(board))
	if v := tab.view(); !slices.Equal(v.Players, []string{"Ann", "Bob"}) {
		t.Errorf("second tab shows players %q", v.Players)
	}
	leaders := func() string {
		return browsertest.Eval[string](ann.p, `document.getElementById('conn').dataset.leader`) + " " +
			browsertest.Eval[string](tab.p, `document.getElementById('conn').dataset.leader`)
	}
	if got := leaders(); got != "true false" {
		t.Errorf("leaders (first tab, second tab) = %s; want true false", got)
	}
	waitServer(t, "one session and one stream per player", func() bool {
		return st.s.Hub().NumSessions() == 2 && st.s.Hub().Stats().StreamListeners == 2
	})

	// Either tab plays; every tab shows it.
	board = play(t, [2]*player{tab, bob}, []*player{ann}, board, 8)
	board = play(t, [2]*player{tab, bob}, []*player{ann}, board, 2)

	// A tab opened on the home page offers to continue as Ann (the same
	// session) rather than making a new player; her game is a click away.
	home := &player{t: t, p: annCtx.NewPage(t, st.url()), name: "Ann's home tab"}
	home.p.SetName("Ann-home")
	home.waitView("name")
	if v := browsertest.Eval[string](home.p, `document.getElementById('name-input').value`); v != "" {
		t.Errorf("a new tab next to Ann's has the name %q filled in; want none (it is more likely another player)", v)
	}
	home.click(`#continue-list button`)
	home.waitView("lobby")
	home.click(`#my-games button[data-room=` + js(room) + `]`)
	home.waitGame("Ann's game", `g.mark === 'X' && `+boardIs(board))
	home.p.Close()
	if n := st.s.Hub().NumSessions(); n != 2 {
		t.Errorf("%d sessions with three tabs of Ann; want 2", n)
	}

	ann.p.Close()
	tab.waitFor("the second tab to take over", `document.getElementById('conn').dataset.leader === 'true' && document.getElementById('conn').dataset.state === 'connected'`)
	play(t, [2]*player{tab, bob}, nil, board, 6) // X: 4 8 6
	board[6] = "X"
	bob.waitGame("the move of the new leader", boardIs(board))
	if n := st.s.Hub().NumSessions(); n != 2 {
		t.Errorf("%d sessions after the first tab closed; want 2", n)
	}
	if v := bob.view(); v.Reconnecting != "" {
		t.Errorf("Bob saw Ann reconnecting (%q) although her session never went away", v.Reconnecting)
	}
}

// testOpponentReconnecting: when a player's page goes away, the opponent
// sees that it is reconnecting; the player opens the game's address again
// (a new tab) and gets its seat back; the indicator goes away.
func testOpponentReconnecting(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "sse")
	bobCtx := b.NewContext(t)
	bob := st.join(t, bobCtx, "Bob", "")
	room := quickMatch(t, ann, bob)
	board := play(t, [2]*player{ann, bob}, nil, nil, 4)

	bob.p.Close()
	ann.waitGame("Bob reconnecting", `!document.getElementById('opponent-status').hidden && document.querySelector('#players [data-seat="1"] .away-tag') !== null`)
	if v := ann.view(); !strings.Contains(v.Reconnecting, "Bob is reconnecting") {
		t.Errorf("Ann's indicator: %q", v.Reconnecting)
	}

	bob = &player{t: t, p: bobCtx.NewPage(t, st.url("room", room)), name: "Bob again"}
	bob.waitGame("the seat back", `g.state === 'playing' && g.mark === 'O' && g.turn === 'me' && `+boardIs(board))
	ann.waitGame("Bob back", `document.getElementById('opponent-status').hidden && document.querySelector('#players .away-tag') === null`)
	play(t, [2]*player{ann, bob}, nil, board, 0, 8) // both can still play
}

// testShutdownNoResult: when the server stops (its rooms shut down), a game
// in progress ends with no winner, and both players' pages say so instead
// of showing one of them a win.
func testShutdownNoResult(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	quickMatch(t, ann, bob)
	play(t, [2]*player{ann, bob}, nil, nil, 4)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := st.s.Rooms().Shutdown(ctx); err != nil { // the rooms only: the pages stay connected
		t.Fatal(err)
	}
	const want = "The server is restarting: the game ended without a result."
	for _, pl := range []*player{ann, bob} {
		pl.waitFor("the game ended without a result", `document.getElementById('game-notice').textContent === `+js(want))
	}
}

// testPhoneAndKeyboard: on a phone-sized touch screen, every control of the
// lobby and the game is at least 44 px square, nothing overflows sideways,
// and a player plays by tapping; the other plays with the keyboard alone
// (Tab to the board, arrow keys, Enter) and sees where the focus is.
func testPhoneAndKeyboard(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	ann := st.join(t, b.NewContext(t), "Ann", "")
	ctx, cancel := context.WithTimeout(ann.p.Context(), wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	ann.waitFor("the phone layout", `innerWidth === 360`)
	checkPhone(t, ann)
	bob := st.join(t, b.NewContext(t), "Bob", "")
	quickMatch(t, ann, bob)
	checkPhone(t, ann)

	tap := func(cell int) {
		t.Helper()
		ann.waitGame("Ann's turn", `g.turn === 'me'`)
		ctx, cancel := context.WithTimeout(ann.p.Context(), wait)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Tap(chromedp.CSS(fmt.Sprintf(`#board [data-cell="%d"]`, cell)))); err != nil {
			t.Fatalf("tap: %v", err)
		}
	}
	keys := func(k string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bob.p.Context(), wait)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatalf("keys: %v", err)
		}
	}
	focused := func() string {
		return browsertest.Eval[string](bob.p, `(() => {
			const e = document.activeElement;
			const o = getComputedStyle(e);
			return (e.dataset.cell ?? e.id ?? e.tagName) + (o.outlineStyle === 'solid' && parseFloat(o.outlineWidth) >= 2 ? ' outlined' : '');
		})()`)
	}
	board := make([]string, 9)
	mark := func(cell int, m string) {
		t.Helper()
		board[cell] = m
		for _, pl := range []*player{ann, bob} {
			pl.waitFor(fmt.Sprintf("%s at %d", m, cell), boardIs(board))
		}
	}

	tap(4)
	mark(4, "X")
	// The game view put the focus on its heading; the board comes next.
	bob.waitGame("Bob's turn", `g.turn === 'me'`)
	keys("\t")
	if got := focused(); got != "0 outlined" {
		t.Fatalf("after Tab the focus is on %q; want cell 0, outlined", got)
	}
	keys(kb.ArrowRight + kb.ArrowDown + kb.ArrowLeft + kb.ArrowUp + kb.ArrowUp)
	if got := focused(); got != "0 outlined" {
		t.Fatalf("after right, down, left, up, up the focus is on %q; want cell 0", got)
	}
	keys(kb.Enter)
	mark(0, "O")
	tap(2)
	mark(2, "X")
	bob.waitGame("Bob's turn", `g.turn === 'me'`)
	keys(kb.ArrowDown + kb.ArrowDown + kb.Enter) // 0 → 3 → 6
	mark(6, "O")
	tap(1)
	mark(1, "X")
	checkPhone(t, ann)
}

// checkPhone fails the test if a visible control of the page is smaller
// than 44 × 44 px or the page is wider than the screen.
func checkPhone(t *testing.T, pl *player) {
	t.Helper()
	small := browsertest.Eval[[]string](pl.p, `[...document.querySelectorAll('button, input, a[href], select, textarea, summary')]
		.filter((e) => e.offsetParent !== null && !e.classList.contains('skip'))
		.map((e) => [e, e.getBoundingClientRect()])
		.filter(([, r]) => r.width < 44 || r.height < 44)
		.map(([e, r]) => (e.id || e.className || e.tagName) + ' ' + Math.round(r.width) + '×' + Math.round(r.height))`)
	if len(small) > 0 {
		t.Errorf("%s (%s view): controls smaller than 44 px: %v", pl.name, browsertest.Eval[string](pl.p, `document.body.dataset.view`), small)
	}
	if w := browsertest.Eval[int](pl.p, `document.documentElement.scrollWidth - innerWidth`); w > 0 {
		t.Errorf("%s: the page is %d px wider than the screen", pl.name, w)
	}
}

// waitServer polls a server-side condition until it holds or wait passes.
func waitServer(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronization
	}
}

// screenshot captures the player's page.
func screenshot(t *testing.T, pl *player) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(pl.p.Context(), wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// saveScreenshot writes docs/screenshot-game.png (the README shows it).
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "screenshot-game.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("saving the screenshot: %v", err)
	}
}
