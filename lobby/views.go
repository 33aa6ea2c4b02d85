package lobby

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cometplay/cometplay/rooms"
)

// The lobby's broadcasts are bounded, so that what it costs grows with the
// players rather than with their square:
//
//   - A subscriber is shown the first PresenceShown players online and the
//     first RoomsShown rooms (the views), with the totals; "list" pages
//     through the rest on demand.
//   - Changes are not published one by one: once per Tick, each view that
//     changed is published as one delta against the view published before
//     (presence-delta, rooms-delta). The snapshots a session gets (on hello,
//     sync, and when it comes back to the lobby) are those published views,
//     so the deltas that follow apply to them exactly.
//   - A session whose player holds a seat is not subscribed at all unless
//     one of its tabs says it shows the lobby ("browse").

// views is the state of the published views. Lobby goroutine only.
type views struct {
	online    []rooms.Identity // the presence view last published
	onlineN   int              // the total online with it
	rooms     []rooms.RoomInfo // the rooms view last published
	roomsN    int
	presDirty bool            // presence changed since
	touched   map[string]bool // rooms changed since
	rehear    map[string]bool // sessions to hear the lobby again, if still free
	armed     bool            // a tick is on its way
	timer     rooms.Stopper
}

type presenceData struct {
	Online []rooms.Identity `json:"online"`
	Count  int              `json:"count"`
}

type roomsData struct {
	Rooms []rooms.RoomInfo `json:"rooms"`
	Count int              `json:"count"`
}

type presenceDelta struct {
	Count   int              `json:"count"`
	Online  []rooms.Identity `json:"online"`  // entered the view, or renamed
	Offline []string         `json:"offline"` // player ids that left the view
}

type roomsDelta struct {
	Count   int              `json:"count"`
	Rooms   []rooms.RoomInfo `json:"rooms"`   // entered the view, or changed
	Removed []string         `json:"removed"` // room ids that left the view
}

type pageData struct {
	What   string `json:"what"`
	Offset int    `json:"offset"`
	Count  int    `json:"count"`
	Online any    `json:"online,omitempty"` // []rooms.Identity, for players
	Rooms  any    `json:"rooms,omitempty"`  // []rooms.RoomInfo, for rooms
	Req    string `json:"req,omitempty"`
}

// presenceChanged notes that the presence view may have changed.
func (l *Lobby) presenceChanged() {
	l.views.presDirty = true
	l.armTick()
}

// roomChangedInView notes that a room changed or went away.
func (l *Lobby) roomChangedInView(id string) {
	if l.views.touched == nil {
		l.views.touched = make(map[string]bool)
	}
	l.views.touched[id] = true
	l.armTick()
}

func (l *Lobby) armTick() {
	if l.views.armed {
		return
	}
	l.views.armed = true
	l.views.timer = l.clock.AfterFunc(l.o.Tick, func() {
		l.pmu.Lock()
		l.tickFire = true
		l.pmu.Unlock()
		l.poke()
	})
}

// flush publishes the views that changed since the last flush, then lets
// the sessions whose players lost their seats hear the lobby again.
func (l *Lobby) flush() {
	defer func() {
		for id := range l.views.rehear {
			if s := l.sessions[id]; s != nil {
				l.hear(s, true)
			}
		}
		l.views.rehear = nil
	}()
	if l.views.presDirty {
		l.views.presDirty = false
		view, n := l.shownOnline(), int(l.nOnline.Load())
		d := presenceDelta{Count: n}
		oldNames := make(map[string]string, len(l.views.online))
		for _, p := range l.views.online {
			oldNames[p.PlayerID] = p.Name
		}
		d.Online, d.Offline = diffView(l.views.online, view, func(p rooms.Identity) string { return p.PlayerID },
			func(p rooms.Identity) bool { return oldNames[p.PlayerID] != p.Name })
		if len(d.Online)+len(d.Offline) > 0 || n != l.views.onlineN {
			l.publish(TopicPresence, "presence-delta", d)
		}
		l.views.online, l.views.onlineN = view, n
	}
	if len(l.views.touched) > 0 {
		touched := l.views.touched
		l.views.touched = nil
		view, n := l.shownRooms(), len(l.roomList)
		d := roomsDelta{Count: n}
		d.Rooms, d.Removed = diffView(l.views.rooms, view, func(r rooms.RoomInfo) string { return r.ID },
			func(r rooms.RoomInfo) bool { return touched[r.ID] })
		if len(d.Rooms)+len(d.Removed) > 0 || n != l.views.roomsN {
			l.publish(TopicRooms, "rooms-delta", d)
		}
		l.views.rooms, l.views.roomsN = view, n
	}
}

// diffView compares a view with the one published before it: the entries
// that entered it or changed, in view order, and the ids of those that left
// it, sorted. Both are non-nil, for JSON arrays.
func diffView[T any](before, after []T, id func(T) string, changed func(T) bool) (entered []T, left []string) {
	gone := make(map[string]bool, len(before))
	for _, x := range before {
		gone[id(x)] = true
	}
	entered = []T{}
	for _, x := range after {
		if !gone[id(x)] || changed(x) {
			entered = append(entered, x)
		}
		delete(gone, id(x))
	}
	return entered, orEmpty(slices.Sorted(maps.Keys(gone)))
}

// sendSnapshots sends a session the published views.
func (l *Lobby) sendSnapshots(session string) {
	l.send(session, "presence", presenceData{Online: orEmpty(l.views.online), Count: l.views.onlineN})
	l.send(session, "rooms", roomsData{Rooms: orEmpty(l.views.rooms), Count: l.views.roomsN})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// online returns the players online in the presence order: by name, then id.
func (l *Lobby) online() []rooms.Identity {
	out := make([]rooms.Identity, 0, l.nOnline.Load())
	for _, p := range l.players {
		if p.online > 0 {
			out = append(out, p.ident)
		}
	}
	slices.SortFunc(out, func(a, b rooms.Identity) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.PlayerID, b.PlayerID))
	})
	return out
}

// listedRooms returns the rooms in the list order: waiting (joinable)
// first, then playing, then finished; then by id.
func (l *Lobby) listedRooms() []rooms.RoomInfo {
	out := slices.AppendSeq(make([]rooms.RoomInfo, 0, len(l.roomList)), maps.Values(l.roomList))
	slices.SortFunc(out, func(a, b rooms.RoomInfo) int {
		return cmp.Or(cmp.Compare(a.State, b.State), strings.Compare(a.ID, b.ID))
	})
	return out
}

func (l *Lobby) shownOnline() []rooms.Identity {
	all := l.online()
	return slices.Clip(all[:min(len(all), l.o.PresenceShown)])
}

func (l *Lobby) shownRooms() []rooms.RoomInfo {
	all := l.listedRooms()
	return slices.Clip(all[:min(len(all), l.o.RoomsShown)])
}

// list answers the "list" action: one page of the players online or of
// the rooms, from an offset, as they are now.
func (l *Lobby) list(s *session, f map[string]string, req string) {
	what, off, _ := parseList(f) // checked by Handle
	d := pageData{What: what, Offset: off, Req: req}
	if what == "players" {
		all := l.online()
		d.Count = len(all)
		d.Online = orEmpty(all[min(off, len(all)):min(off+l.o.PresenceShown, len(all))])
	} else {
		all := l.listedRooms()
		d.Count = len(all)
		d.Rooms = orEmpty(all[min(off, len(all)):min(off+l.o.RoomsShown, len(all))])
	}
	l.send(s.id, "page", d)
}

// countSeats adds delta to the seat count of each player seated in a
// waiting or playing room.
func (l *Lobby) countSeats(info rooms.RoomInfo, delta int) {
	if info.State != rooms.StateWaiting && info.State != rooms.StatePlaying {
		return
	}
	for _, p := range info.Players {
		if n := l.seats[p.ID] + delta; n > 0 {
			l.seats[p.ID] = n
		} else {
			delete(l.seats, p.ID)
		}
	}
}

// reseat updates whether the sessions of the players of a room, before and
// after a change, hear the lobby. A session that takes a seat stops hearing
// it at once; one whose player has no seat left hears it again at the next
// tick if it still has none then: a player who quick-matches again right
// after a game never leaves its game for the lobby, and costs no snapshots.
func (l *Lobby) reseat(before, after rooms.RoomInfo) {
	for _, list := range [][]rooms.PlayerSummary{before.Players, after.Players} {
		for _, ps := range list {
			p := l.players[ps.ID]
			if p == nil {
				continue
			}
			for _, s := range p.sessions {
				if l.seats[ps.ID] > 0 || s.hearing {
					l.hear(s, true)
					continue
				}
				if l.views.rehear == nil {
					l.views.rehear = make(map[string]bool)
				}
				l.views.rehear[s.id] = true
				l.armTick()
			}
		}
	}
}

// hear subscribes the session to the lobby's broadcasts when it is in the
// lobby (no seat, or a tab browsing it) and unsubscribes it otherwise.
// With snapshots, a session that starts hearing is first sent the views,
// as it missed the deltas.
func (l *Lobby) hear(s *session, snapshots bool) {
	if s.pending {
		return
	}
	want := l.seats[s.ident.PlayerID] == 0 || len(s.browsing) > 0
	if want == s.hearing {
		return
	}
	s.hearing = want
	for _, topic := range [...]string{TopicPresence, TopicRooms, TopicChat} {
		if want {
			l.t.Subscribe(s.id, topic)
		} else {
			l.t.Unsubscribe(s.id, topic)
		}
	}
	if want && snapshots {
		l.sendSnapshots(s.id)
	}
}

// browse answers the "browse" action: whether one of the session's tabs
// shows the lobby.
func (l *Lobby) browse(s *session, f map[string]string, req string) error {
	on, _ := parseBrowse(f) // checked by Handle
	tab := f["tab"]
	if on && !s.browsing[tab] {
		if len(s.browsing) >= MaxBrowseTabs {
			return ErrTooManyTabs
		}
		if s.browsing == nil {
			s.browsing = make(map[string]bool, 1)
		}
		s.browsing[tab] = true
	} else if !on {
		delete(s.browsing, tab)
	}
	l.hear(s, true)
	l.send(s.id, "ok", okData{Action: "browse", Req: req})
	return nil
}

func parseBrowse(f map[string]string) (bool, error) {
	if len(f["tab"]) > MaxReqLen {
		return false, fmt.Errorf("%w: tab longer than %d bytes", ErrMalformed, MaxReqLen)
	}
	switch f["on"] {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: browse needs on=1 or on=0", ErrMalformed)
}

// maxListOffset bounds the offset of a "list" request.
const maxListOffset = 1 << 30

func parseList(f map[string]string) (what string, offset int, err error) {
	what = f["what"]
	if what != "rooms" && what != "players" {
		return "", 0, fmt.Errorf("%w: list needs what=rooms or what=players", ErrMalformed)
	}
	if o := f["offset"]; o != "" {
		offset, err = strconv.Atoi(o)
		if err != nil || offset < 0 || offset > maxListOffset {
			return "", 0, fmt.Errorf("%w: offset must be a whole number from 0", ErrMalformed)
		}
	}
	return what, offset, nil
}
