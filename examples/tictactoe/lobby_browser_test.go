package main

// Browser tests of the lobby's bounded lists (TestBrowser runs them): the
// page shows the first players and rooms the lobby keeps live, the totals,
// "Showing N of M" and "Show more"; a seated player's tab hears the lobby
// only while it shows it. Players other than the browser's are Go protocol
// clients (hardPlayer, from the hardening helpers): cheap, and they create
// rooms and chat without a page.

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometplay/cometplay/internal/browsertest"
	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/rooms"
)

// goPlayers returns a hardSite over the site's server, to add Go players.
func (st *site) goPlayers(t *testing.T) *hardSite {
	hc := &http.Client{Timeout: hardWait, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(hc.CloseIdleConnections)
	return &hardSite{t: t, s: st.s, base: strings.TrimSuffix(st.base, "/"), hc: hc}
}

// createRoom has a Go player create a tictactoe room (it sits in it) and
// returns the room's id.
func createRoom(t *testing.T, p *hardPlayer) string {
	t.Helper()
	if err := p.lobby("action", "create", "game", "tictactoe"); err != nil {
		t.Fatalf("%s: create: %v", p.name, err)
	}
	p.joined()
	return p.room
}

// listedRooms returns the ids of the server's rooms in the lobby's order:
// waiting, playing, finished, then by id.
func listedRooms(st *site) []string {
	all := st.s.Rooms().Rooms("")
	slices.SortFunc(all, func(a, b rooms.RoomInfo) int {
		return cmp.Or(cmp.Compare(a.State, b.State), strings.Compare(a.ID, b.ID))
	})
	ids := make([]string, len(all))
	for i, r := range all {
		ids[i] = r.ID
	}
	return ids
}

// roomsAre and namesAre are conditions: the list ul#id shows the rooms
// (data-room) or the players' names given, in this order.
func roomsAre(id string, ids []string) string {
	return `[...document.querySelectorAll('#` + id + ` > li')].map((li) => li.dataset.room).join() === ` + js(strings.Join(ids, ","))
}

func namesAre(id string, names []string) string {
	return `[...document.querySelectorAll('#` + id + ` > li .name')].map((n) => n.textContent).join() === ` + js(strings.Join(names, ","))
}

// textIs is a condition: the element #id shows, and its text is text.
func textIs(id, text string) string {
	return `(() => { const e = document.getElementById(` + js(id) + `); return e.offsetParent !== null && e.textContent === ` + js(text) + `; })()`
}

// testLobbyShowMore: with the lobby showing 3 players and 3 rooms, a page
// shows the first 3 of each with the totals and "Showing 3 of M"; Show more
// pages in the next ones in the lobby's order, to the end (then the button
// goes); a room created later counts at once, and Refresh fetches the
// paged-in part again; a room paged in can be joined.
func testLobbyShowMore(t *testing.T, b *browsertest.Browser) {
	st := startSiteWith(t, func(c *config) {
		c.Lobby.PresenceShown, c.Lobby.RoomsShown = 3, 3
		c.Lobby.Tick = 20 * time.Millisecond
	})
	hs := st.goPlayers(t)
	var bots []string
	for i := 1; i <= 7; i++ {
		p := hs.player(fmt.Sprintf("Bot %d", i))
		createRoom(t, p)
		bots = append(bots, p.name)
	}
	ids := listedRooms(st)
	if len(ids) != 7 {
		t.Fatalf("%d rooms listed; want 7", len(ids))
	}

	ann := st.join(t, b.NewContext(t), "Ann", "")
	ann.waitFor("the first 3 rooms of 7", roomsAre("rooms", ids[:3])+` && `+textIs("rooms-count", "(7)")+` && `+textIs("rooms-shown", "Showing 3 of 7 rooms."))
	// Ann sorts before the bots.
	ann.waitFor("the first 3 players of 8", namesAre("online", []string{"Ann", "Bot 1", "Bot 2"})+` && `+textIs("online-count", "(8)")+` && `+textIs("online-shown", "Showing 3 of 8 players."))
	if n := browsertest.Eval[int](ann.p, `document.querySelectorAll('#rooms-more-list > li').length`); n != 0 {
		t.Fatalf("%d rooms paged in before Show more", n)
	}

	ann.click("#rooms-show-more")
	ann.waitFor("rooms 4 to 6", roomsAre("rooms-more-list", ids[3:6])+` && `+textIs("rooms-shown", "Showing 6 of 7 rooms."))
	if got := browsertest.Eval[string](ann.p, `document.getElementById('rooms-more-when').textContent`); !strings.HasPrefix(got, "As of ") || !strings.Contains(got, "not updated live") {
		t.Errorf("the rooms paged in are labelled %q; want a snapshot's time, not updated live", got)
	}
	ann.click("#rooms-show-more")
	ann.waitFor("every room", roomsAre("rooms-more-list", ids[3:])+` && document.getElementById('rooms-paging').hidden`)

	ann.click("#online-show-more")
	ann.waitFor("players 4 to 6", namesAre("online-more-list", bots[2:5])+` && `+textIs("online-shown", "Showing 6 of 8 players."))
	ann.click("#online-show-more")
	ann.waitFor("every player", namesAre("online-more-list", bots[2:])+` && document.getElementById('online-paging').hidden`)

	// A new room: the total follows at once; the paged-in part is a
	// snapshot until Refresh, which fetches it again in the new order.
	createRoom(t, hs.player("Bot 8"))
	ids = listedRooms(st)
	ann.waitFor("8 rooms", textIs("rooms-count", "(8)")+` && `+roomsAre("rooms", ids[:3]))
	ann.click("#rooms-refresh")
	ann.waitFor("rooms 4 to 8, fetched again", roomsAre("rooms-more-list", ids[3:])+` && document.getElementById('rooms-paging').hidden`)

	// A room paged in is as good as one shown live.
	room := ids[5]
	ann.click(`#rooms-more-list button[data-act="join"][data-room=` + js(room) + `]`)
	ann.waitGame("the game in a room paged in", started)
	if got := ann.room(); got != room {
		t.Errorf("Ann plays in room %q; want %q", got, room)
	}
}

// testSeatedBrowse: a player seated in a game hears nothing of the lobby
// while the game shows (a chat line sent then reaches the page only with the
// lobby's history, back in the lobby); back in the lobby (the game goes
// on), the page gets fresh lists (a room created meanwhile shows) and live
// changes (rooms and chat); back in the game, it hears nothing again.
func testSeatedBrowse(t *testing.T, b *browsertest.Browser) {
	st := startSiteWith(t, func(c *config) { c.Lobby.Tick = 20 * time.Millisecond })
	ann := st.join(t, b.NewContext(t), "Ann", "")
	bob := st.join(t, b.NewContext(t), "Bob", "")
	game := quickMatch(t, ann, bob)
	ann.waitFor("the lobby to know Ann's tab shows the game", `document.body.dataset.browse === 'off'`)

	hs := st.goPlayers(t)
	carl := hs.player("Carl")
	// The lists Carl is sent show the game under way: the lobby has
	// counted Ann's seat, so her session no longer hears it.
	carl.find(0, "the game playing in the lobby's rooms", func(e cometclient.Event) bool {
		var d struct{ Rooms []rooms.RoomInfo }
		if e.Name() != "data" || (e["type"] != "rooms" && e["type"] != "rooms-delta") || e.JSON(&d) != nil {
			return false
		}
		return slices.ContainsFunc(d.Rooms, func(r rooms.RoomInfo) bool {
			return r.ID == game && r.State == rooms.StatePlaying && len(r.Players) == 2
		})
	})
	chat := func(p *hardPlayer, text string) {
		t.Helper()
		if err := p.lobby("action", "chat", "text", text); err != nil {
			t.Fatalf("%s: chat: %v", p.name, err)
		}
	}
	// chatShows is a condition: the chat shows text, live or (earlier) with
	// the lobby's history.
	chatShows := func(text string, earlier bool) string {
		return `[...document.querySelectorAll('#chat-log li')].some((li) => li.querySelector('.text').textContent === ` + js(text) +
			` && (li.dataset.earlier === 'true') === ` + js(earlier) + `)`
	}
	chat(carl, "while you play")
	r1 := createRoom(t, carl)

	ann.click("#back-lobby")
	ann.waitView("lobby")
	ann.waitFor("Carl's room, created while Ann played", `!!document.querySelector('#rooms [data-room=`+js(r1)+`]')`+` && `+textIs("online-count", "(3)"))
	ann.waitFor("the lobby to know Ann's tab shows it", `document.body.dataset.browse === 'on'`)
	if v := browsertest.Eval[string](ann.p, `document.querySelector('#my-games button[data-room=`+js(game)+`]') ? 'yes' : 'no'`); v != "yes" {
		t.Errorf("the lobby of a seated player offers no way back to the game")
	}

	dave := hs.player("Dave")
	r2 := createRoom(t, dave)
	chat(dave, "hello Ann")
	ann.waitFor("Dave's room and chat, live", `!!document.querySelector('#rooms [data-room=`+js(r2)+`]') && `+chatShows("hello Ann", false)+` && `+textIs("online-count", "(4)"))
	// What was said while she played came with the lobby's history, not live.
	if !browsertest.Eval[bool](ann.p, chatShows("while you play", true)) || browsertest.Eval[bool](ann.p, chatShows("while you play", false)) {
		t.Errorf("a chat line sent while Ann's only tab showed her game did not come (only) with the history back in the lobby")
	}

	ann.click(`#my-games button[data-room=` + js(game) + `]`)
	ann.waitGame("the game again", started)
	ann.waitFor("the lobby to know Ann's tab shows the game again", `document.body.dataset.browse === 'off'`)
	chat(carl, "back to your game")
	ann.click("#back-lobby")
	ann.waitFor("the lobby to know Ann's tab shows it again", `document.body.dataset.view === 'lobby' && document.body.dataset.browse === 'on'`)
	chat(dave, "welcome back")
	ann.waitFor("the chat line sent after Ann came back", chatShows("welcome back", false))
	if !browsertest.Eval[bool](ann.p, chatShows("back to your game", true)) || browsertest.Eval[bool](ann.p, chatShows("back to your game", false)) {
		t.Errorf("a chat line sent while Ann's tab showed her game (the second time) did not come (only) with the history")
	}
	// The game went on all along.
	ann.click(`#my-games button[data-room=` + js(game) + `]`)
	play(t, [2]*player{ann, bob}, nil, nil, 4)
}

// testChatHistory: a player arriving in the lobby finds what was said
// before (the lobby's last messages, in order), not "No messages yet.".
func testChatHistory(t *testing.T, b *browsertest.Browser) {
	st := startSite(t)
	hs := st.goPlayers(t)
	bots := []*hardPlayer{hs.player("Bot 1"), hs.player("Bot 2")}
	for i, text := range []string{"anyone for a game?", "me, in a minute", "ok"} {
		if err := bots[i%2].lobby("action", "chat", "text", text); err != nil {
			t.Fatalf("chat: %v", err)
		}
	}
	ann := st.join(t, b.NewContext(t), "Ann", "")
	ann.waitFor("the chat so far", `[...document.querySelectorAll('#chat-log li')].map((li) => li.querySelector('.name').textContent + ': ' + li.querySelector('.text').textContent).join('|') === `+
		js("Bot 1: anyone for a game?|Bot 2: me, in a minute|Bot 1: ok")+` && document.getElementById('chat-empty').hidden`)
}
