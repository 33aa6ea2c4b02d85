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
//   - The whole lists are kept in their order by the tick too (sortedList:
//     the entries that changed are taken out and merged back in, never a
//     sort of everything), and "list" serves its page from them: a page
//     costs the same with 100 rooms or 100,000, and shows the lists as the
//     last tick published them, which is what the views are.

// views is the state of the published views. Lobby goroutine only.
type views struct {
	online    []rooms.Identity  // the presence view last published
	onlineN   int               // the total online with it
	rooms     []*rooms.RoomInfo // the rooms view last published
	roomsN    int
	allOnline sortedList[rooms.Identity]  // every player online, as last published
	allRooms  sortedList[*rooms.RoomInfo] // every room, as last published (shared with roomList, which replaces a room's info rather than change it)
	presence  map[string]bool             // players whose presence changed since (ids)
	touched   map[string]bool             // rooms changed since
	rehear    map[string]bool             // sessions to hear the lobby again, if still free
	armed     bool                        // a tick is on its way
	timer     rooms.Stopper

	// The snapshots of the views, encoded once for every session sent them
	// until the views change (nil: not encoded since).
	snapPresence, snapRooms []byte
}

// The lists' orders: players by name, then id; rooms waiting (joinable)
// first, then playing, then finished; then by id.
var (
	onlineOrder = sortedList[rooms.Identity]{
		id: func(p rooms.Identity) string { return p.PlayerID },
		cmp: func(a, b rooms.Identity) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.PlayerID, b.PlayerID))
		},
	}
	roomsOrder = sortedList[*rooms.RoomInfo]{
		id: func(r *rooms.RoomInfo) string { return r.ID },
		cmp: func(a, b *rooms.RoomInfo) int {
			return cmp.Or(cmp.Compare(a.State, b.State), strings.Compare(a.ID, b.ID))
		},
	}
)

// sortedList is a list kept in order (cmp, a total order: ids are unique)
// across changes: update takes out the entries that changed and merges
// their new values back in place, in O(n + k log k) for k changes among n
// entries and no new buffer, where sorting the whole list is O(n log n)
// and copies it.
type sortedList[T any] struct {
	all []T
	id  func(T) string
	cmp func(a, b T) int
}

// update replaces the entries whose ids changed by their current values;
// current reports false for an id no longer listed.
func (s *sortedList[T]) update(changed map[string]bool, current func(id string) (T, bool)) {
	add := make([]T, 0, len(changed))
	for id := range changed {
		if v, ok := current(id); ok {
			add = append(add, v)
		}
	}
	slices.SortFunc(add, s.cmp)
	keep := s.all[:0]
	for _, x := range s.all {
		if !changed[s.id(x)] {
			keep = append(keep, x)
		}
	}
	clear(s.all[len(keep):]) // what was taken out is not held
	n, k := len(keep), len(add)
	s.all = slices.Grow(keep, k)[:n+k]
	// Merge from the back, where the free room is.
	for i, j, w := n-1, k-1, n+k-1; j >= 0; w-- {
		if i >= 0 && s.cmp(s.all[i], add[j]) > 0 {
			s.all[w] = s.all[i]
			i--
		} else {
			s.all[w] = add[j]
			j--
		}
	}
}

// first returns a copy of the first n entries (a view must not share the
// list's memory: the next update rewrites it).
func (s *sortedList[T]) first(n int) []T {
	return slices.Clone(s.all[:min(n, len(s.all))])
}

// page returns up to n entries from off. It shares the list's memory: use it
// before the next update.
func (s *sortedList[T]) page(off, n int) []T {
	return s.all[min(off, len(s.all)):min(off+n, len(s.all))]
}

type presenceData struct {
	Online []rooms.Identity `json:"online"`
	Count  int              `json:"count"`
}

type roomsData struct {
	Rooms []*rooms.RoomInfo `json:"rooms"`
	Count int               `json:"count"`
}

type presenceDelta struct {
	Count   int              `json:"count"`
	Online  []rooms.Identity `json:"online"`  // entered the view, or renamed
	Offline []string         `json:"offline"` // player ids that left the view
}

type roomsDelta struct {
	Count   int               `json:"count"`
	Rooms   []*rooms.RoomInfo `json:"rooms"`   // entered the view, or changed
	Removed []string          `json:"removed"` // room ids that left the view
}

type pageData struct {
	What   string `json:"what"`
	Offset int    `json:"offset"`
	Count  int    `json:"count"`
	Online any    `json:"online,omitempty"` // []rooms.Identity, for players
	Rooms  any    `json:"rooms,omitempty"`  // []*rooms.RoomInfo, for rooms
	Req    string `json:"req,omitempty"`
}

// presenceChanged notes that a player's presence (online, name) changed.
func (l *Lobby) presenceChanged(playerID string) {
	if l.views.presence == nil {
		l.views.presence = make(map[string]bool)
	}
	l.views.presence[playerID] = true
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
		var back []string // sessions hearing the lobby again: sent the snapshots together
		for id := range l.views.rehear {
			if s := l.sessions[id]; s != nil && l.hear(s, false) {
				back = append(back, s.id)
			}
		}
		l.views.rehear = nil
		l.sendSnapshotsTo(back)
	}()
	if d, ok := l.presenceView(); ok {
		l.publish(TopicPresence, "presence-delta", d)
	}
	if len(l.views.touched) > 0 {
		touched := l.views.touched
		l.views.touched = nil
		l.views.allRooms.update(touched, func(id string) (*rooms.RoomInfo, bool) {
			info, ok := l.roomList[id]
			return info, ok
		})
		view, n := l.views.allRooms.first(l.o.RoomsShown), len(l.views.allRooms.all)
		d := roomsDelta{Count: n}
		d.Rooms, d.Removed = diffView(l.views.rooms, view, func(r *rooms.RoomInfo) string { return r.ID },
			func(r *rooms.RoomInfo) bool { return touched[r.ID] })
		if len(d.Rooms)+len(d.Removed) > 0 || n != l.views.roomsN {
			l.publish(TopicRooms, "rooms-delta", d)
		}
		l.views.rooms, l.views.roomsN = view, n
		l.views.snapRooms = nil
	}
}

// presenceView brings the presence view up to date with the players whose
// presence changed, and returns its delta (ok: something to publish).
func (l *Lobby) presenceView() (d presenceDelta, ok bool) {
	if len(l.views.presence) == 0 {
		return d, false
	}
	changed := l.views.presence
	l.views.presence = nil
	l.views.allOnline.update(changed, func(id string) (rooms.Identity, bool) {
		p := l.players[id]
		if p == nil || p.online == 0 {
			return rooms.Identity{}, false
		}
		return p.ident, true
	})
	view, n := l.views.allOnline.first(l.o.PresenceShown), len(l.views.allOnline.all)
	d.Count = n
	oldNames := make(map[string]string, len(l.views.online))
	for _, p := range l.views.online {
		oldNames[p.PlayerID] = p.Name
	}
	d.Online, d.Offline = diffView(l.views.online, view, func(p rooms.Identity) string { return p.PlayerID },
		func(p rooms.Identity) bool { return oldNames[p.PlayerID] != p.Name })
	ok = len(d.Online)+len(d.Offline) > 0 || n != l.views.onlineN
	l.views.online, l.views.onlineN = view, n
	l.views.snapPresence = nil
	return d, ok
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

// sendSnapshots sends a session the published views and the chat history.
func (l *Lobby) sendSnapshots(session string) { l.sendSnapshotsTo([]string{session}) }

// sendSnapshotsTo sends sessions the published views and the chat history:
// each encoded once until it changes (a rooms snapshot is several KiB, and
// at a tick hundreds of players may come back to the lobby), and sent to
// all of them at once when the Transport can (rooms.MultiSender), so that
// it is held once for all of them.
func (l *Lobby) sendSnapshotsTo(sessions []string) {
	if len(sessions) == 0 {
		return
	}
	for _, ev := range [...]rooms.Event{
		{Topic: TopicLobby, Type: "presence", Data: l.cached(&l.views.snapPresence, "presence", func() any {
			return presenceData{Online: orEmpty(l.views.online), Count: l.views.onlineN}
		})},
		{Topic: TopicLobby, Type: "rooms", Data: l.cached(&l.views.snapRooms, "rooms", func() any {
			return roomsData{Rooms: orEmpty(l.views.rooms), Count: l.views.roomsN}
		})},
		{Topic: TopicLobby, Type: "chat-history", Data: l.cached(&l.chatEnc, "chat-history", func() any {
			return chatHistoryData{Messages: orEmpty(l.chatLog)}
		})},
	} {
		if ev.Data == nil {
			continue // not encodable: logged by encode
		}
		if ms, ok := l.t.(rooms.MultiSender); ok && len(sessions) > 1 {
			ms.SendAll(sessions, ev)
			continue
		}
		for _, s := range sessions {
			l.t.Send(s, ev)
		}
	}
}

// cached returns *enc, first encoding data() into it if it is nil (whoever
// changes what it encodes sets it to nil). Nil if data cannot be encoded.
func (l *Lobby) cached(enc *[]byte, typ string, data func() any) []byte {
	if *enc == nil {
		*enc, _ = l.encode(typ, data())
	}
	return *enc
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// list answers the "list" action: one page of the players online or of
// the rooms, from an offset, as the last tick published them (the lists the
// views are the first entries of). It costs the page, not the list.
func (l *Lobby) list(s *session, f map[string]string, req string) {
	what, off, _ := parseList(f) // checked by Handle
	d := pageData{What: what, Offset: off, Req: req}
	if what == "players" {
		d.Count = len(l.views.allOnline.all)
		d.Online = orEmpty(l.views.allOnline.page(off, l.o.PresenceShown))
	} else {
		d.Count = len(l.views.allRooms.all)
		d.Rooms = orEmpty(l.views.allRooms.page(off, l.o.RoomsShown))
	}
	l.send(s.id, "page", d) // encoded now: the page's memory may be the list's
}

// countSeats adds delta to the seat count of each player seated in a
// waiting or playing room, and to the holds of their names there.
func (l *Lobby) countSeats(info rooms.RoomInfo, delta int) {
	if info.State != rooms.StateWaiting && info.State != rooms.StatePlaying {
		return
	}
	for _, p := range info.Players {
		l.holdName(p.Name, p.ID, delta)
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
// as it missed the deltas. It reports whether the session started hearing
// (and needs the snapshots, if it was not sent them here).
func (l *Lobby) hear(s *session, snapshots bool) bool {
	if s.pending {
		return false
	}
	want := l.seats[s.ident.PlayerID] == 0 || len(s.browsing) > 0
	if want == s.hearing {
		return false
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
	return want
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
