package rooms

// How a room finds its members.
//
// Most rooms are small (tictactoe seats two and has no spectators), and a Go
// map of strings costs about 250 bytes from its first entry. A room with at
// most smallRoom places (seats and spectators) therefore finds a player by
// scanning its seats and spectators, and keeps its member gates in a slice;
// a larger room builds maps, once, and keeps them for its life.

// smallRoom is the most places (seats plus spectators) a room scans instead
// of indexing them in maps.
const smallRoom = 8

// memberIndex finds the players of a large room. Executor only.
type memberIndex struct {
	byID      map[string]*Player
	bySession map[string]*Player
}

// indexLarge builds the room's index when it outgrows smallRoom places,
// with extra the places about to be added. Executor only.
func (r *room) indexLarge(extra int) {
	if r.idx != nil || len(r.seats)+len(r.spectators)+extra <= smallRoom {
		return
	}
	r.idx = &memberIndex{byID: make(map[string]*Player), bySession: make(map[string]*Player)}
	for _, p := range r.seats {
		if p != nil {
			r.index(p)
		}
	}
	for _, p := range r.spectators {
		r.index(p)
	}
}

// index records p, just seated or admitted as a spectator, in the maps of a
// large room.
func (r *room) index(p *Player) {
	if r.idx != nil {
		r.idx.byID[p.id], r.idx.bySession[p.session] = p, p
	}
}

// unindex forgets p, just unseated or gone as a spectator.
func (r *room) unindex(p *Player) {
	if r.idx == nil {
		return
	}
	delete(r.idx.byID, p.id)
	if r.idx.bySession[p.session] == p {
		delete(r.idx.bySession, p.session)
	}
}

// moveSession gives p the session s in place of its current one.
func (r *room) moveSession(p *Player, s string) {
	if r.idx != nil {
		delete(r.idx.bySession, p.session)
		r.idx.bySession[s] = p
	}
	p.session = s
}

// byID returns the seated player or spectator with that player id, or nil.
func (r *room) byID(id string) *Player {
	if r.idx != nil {
		return r.idx.byID[id]
	}
	for _, p := range r.seats {
		if p != nil && p.id == id {
			return p
		}
	}
	for _, p := range r.spectators {
		if p.id == id {
			return p
		}
	}
	return nil
}

// bySession returns the seated player or spectator of session s, or nil.
func (r *room) bySession(s string) *Player {
	if r.idx != nil {
		return r.idx.bySession[s]
	}
	for _, p := range r.seats {
		if p != nil && p.session == s {
			return p
		}
	}
	for _, p := range r.spectators {
		if p.session == s {
			return p
		}
	}
	return nil
}

// gate is what other goroutines may know of a member session, under room.mu.
type gate struct {
	spectator bool
	leaving   bool // a kLeave is queued
	presence  bool // a kPresence is queued
}

// gates holds a room's member gates by session: a slice scanned in full
// while the room has at most smallRoom members, a map beyond. Guarded by
// room.mu; a *gate it returns is valid until the next change of the set.
type gates struct {
	list []gateEntry
	m    map[string]*gate
}

type gateEntry struct {
	session string
	g       gate
}

// get returns the gate of session s, or nil.
func (x *gates) get(s string) *gate {
	if x.m != nil {
		return x.m[s]
	}
	for i := range x.list {
		if x.list[i].session == s {
			return &x.list[i].g
		}
	}
	return nil
}

// set gives session s the gate g.
func (x *gates) set(s string, g gate) {
	if p := x.get(s); p != nil {
		*p = g
		return
	}
	if x.m == nil && len(x.list) < smallRoom {
		if x.list == nil {
			x.list = make([]gateEntry, 0, 2)
		}
		x.list = append(x.list, gateEntry{s, g})
		return
	}
	if x.m == nil {
		x.m = make(map[string]*gate, len(x.list)+1)
		for i := range x.list {
			x.m[x.list[i].session] = &x.list[i].g
		}
		x.list = nil
	}
	x.m[s] = &g
}

// del forgets the gate of session s.
func (x *gates) del(s string) {
	if x.m != nil {
		delete(x.m, s)
		return
	}
	for i := range x.list {
		if x.list[i].session == s {
			last := len(x.list) - 1
			x.list[i] = x.list[last]
			x.list[last] = gateEntry{}
			x.list = x.list[:last]
			return
		}
	}
}
