package comet

import (
	"github.com/cometplay/cometplay/engine"
	"math/rand/v2"
	"strconv"
	"time"
)

// Listener actions, in increasing priority.
const (
	actNone      uint8 = iota
	actHeartbeat       // stream: write hb; pull: answer with hb + refresh
	actFlush           // pull/poll: answer now with what is pending (poll's immediate answer)
	actEnd             // end the data channel cleanly (leave, session closed)
	actAbort           // write abort, then end (shutdown)
)

// channel is where a data channel writes: an exchange on its loop, in a
// format and a mode. pathIdx indexes Config.Paths (for p_url).
type channel struct {
	ex      *engine.Exchange
	l       *engine.Loop
	format  Format
	mode    Mode // ModeStream, or the pull/poll mode of a parked refresh
	pathIdx uint8
	wait    int32 // a refresh's p_wait, asked by the client (ms; -1: none)
}

// listener is a session's open data channel: a stream, or a parked pull
// refresh. It is part of the Session and guarded by the session's mutex;
// the exchange it writes to belongs to its loop.
type listener struct {
	channel
	gen       uint32 // changes with every attach and detach: stale posts are ignored
	active    bool
	scheduled bool  // a runListener for gen is posted
	urgent    bool  // ... in the loop's urgent lane
	action    uint8 // pending action
	lastWrite int64 // UnixNano of the last write (stream heartbeats)
	parkedAt  int64 // UnixNano when a refresh parked
	stalled   int64 // UnixNano since when events wait and the connection takes no more (0: not stalled)
}

// requestLocked asks the listener's loop to deliver what is pending and
// perform act, in the loop's bulk lane. s.mu must be held and the listener
// active.
func (s *Session) requestLocked(act uint8) {
	s.requestInto(act, nil, false)
}

// urgentFanout is the most recipients an event may have for its deliveries
// to go in their loops' urgent lanes (engine.Loop.PostUrgent): a room's
// players and a few spectators, a unicast. An event to more (a lobby delta
// to every browsing player) is a fan-out: it goes in the bulk lanes, where a
// loop serves its sockets between slices, and it never holds a move's
// event behind all of its own deliveries.
const urgentFanout = 16

// requestInto is requestLocked that, with b, gathers the post in b instead
// of posting it: a fan-out posts to each loop once (wakeups.flush). urgent
// asks for the urgent lane (b's own choice when b is given); a listener
// already waiting in the bulk lane is posted again, urgently, and whichever
// run comes first delivers (the other finds nothing scheduled).
func (s *Session) requestInto(act uint8, b *wakeups, urgent bool) {
	lst := &s.lst
	if act > lst.action {
		lst.action = act
	}
	if b != nil {
		urgent = b.urgent
	}
	if lst.scheduled && (lst.urgent || !urgent) {
		return
	}
	lst.scheduled, lst.urgent = true, urgent
	switch {
	case b != nil:
		b.add(lst.l, engine.Posted{Task: (*sessionRunner)(s), Arg: lst.gen})
	case urgent:
		lst.l.PostUrgent((*sessionRunner)(s), lst.gen)
	default:
		lst.l.Post((*sessionRunner)(s), lst.gen)
	}
}

// wakeups gathers the listener deliveries a fan-out asks for, by loop, so
// that each loop's inbox is locked once per fan-out instead of once per
// listener. Not safe for concurrent use: one fan-out owns it.
type wakeups struct {
	loops  []*engine.Loop
	tasks  [][]engine.Posted
	urgent bool // post to the loops' urgent lanes (a fan-out to at most urgentFanout)
}

func (b *wakeups) add(l *engine.Loop, t engine.Posted) {
	i := l.Index()
	for len(b.loops) <= i {
		b.loops, b.tasks = append(b.loops, nil), append(b.tasks, nil)
	}
	b.loops[i] = l
	b.tasks[i] = append(b.tasks[i], t)
}

// flush posts what was gathered, and empties b for the next fan-out.
func (b *wakeups) flush() {
	for i, l := range b.loops {
		if l != nil {
			if b.urgent {
				l.PostAllUrgent(b.tasks[i])
			} else {
				l.PostAll(b.tasks[i])
			}
			clear(b.tasks[i])
			b.tasks[i] = b.tasks[i][:0]
			b.loops[i] = nil
		}
	}
}

// attachLocked makes ch the session's data channel, ending any previous one.
func (s *Session) attachLocked(ch channel) {
	h := s.hub
	if old := &s.lst; old.active {
		old.l.Post(&endTask{h: h, ex: old.ex, f: old.format, m: old.mode}, 0)
		h.stats.listenerGone(old.mode)
	}
	now := time.Now().UnixNano()
	s.lst = listener{channel: ch, gen: s.lst.gen + 1, active: true, lastWrite: now, parkedAt: now}
	ch.ex.SetOwner((*sessionOwner)(s))
	s.refreshDeadline = 0
	h.stats.listenerAdded(ch.mode)
	s.armLocked(h.cfg.Heartbeat)
	if !s.connected {
		s.connected = true
		if s.lostAt != 0 {
			s.lostAt = 0 // back within the detach grace: nobody heard of it
		} else {
			h.events.push(SessionEvent{Kind: SessionAttached, Session: s})
		}
	}
}

func (st *hubStats) listenerAdded(m Mode) {
	if m == ModeStream {
		st.listenersStream.Add(1)
	} else {
		st.listenersPull.Add(1)
	}
}

func (st *hubStats) listenerGone(m Mode) {
	if m == ModeStream {
		st.listenersStream.Add(-1)
	} else {
		st.listenersPull.Add(-1)
	}
}

// detachLocked forgets the data channel after it ended; a pull or poll
// session must now come back with a refresh in time.
func (s *Session) detachLocked() {
	lst := &s.lst
	if !lst.active {
		return
	}
	mode := lst.mode
	*lst = listener{gen: lst.gen + 1}
	s.hub.stats.listenerGone(mode)
	if s.stopped {
		return
	}
	if mode != ModeStream {
		d := s.hub.cfg.PullRefreshTimeout
		if mode == ModePoll {
			d = s.hub.cfg.PollRefreshTimeout
		}
		s.refreshDeadline = time.Now().Add(d).UnixNano()
		s.armLocked(d)
	} else {
		s.armLocked(s.hub.cfg.SessionTimeout)
	}
}

// exchangeGone runs on the loop when a data channel's connection closes
// before its response ended: the client went away (or its network did).
func (s *Session) exchangeGone(ex *engine.Exchange) {
	s.mu.Lock()
	if s.lst.active && s.lst.ex == ex {
		s.lostLocked()
	}
	s.mu.Unlock()
}

// lostLocked detaches the data channel whose connection is gone (or is
// being closed). The session is reported detached once, when no new data
// channel has come within Config.DetachGrace (the session's timer checks).
func (s *Session) lostLocked() {
	s.detachLocked()
	if s.connected && !s.stopped {
		s.connected = false
		if g := s.hub.cfg.DetachGrace; g > 0 {
			s.lostAt = time.Now().UnixNano()
			s.armLocked(g)
		} else {
			s.hub.events.push(SessionEvent{Kind: SessionDetached, Session: s})
		}
	}
}

// runListener delivers what is pending to the data channel of generation
// gen. It runs on the channel's loop.
func (s *Session) runListener(gen uint32) {
	s.mu.Lock()
	lst := &s.lst
	if !lst.active || lst.gen != gen || !lst.scheduled {
		// A stale post, or the second of two (bulk, then urgent): the
		// other run delivered.
		s.mu.Unlock()
		return
	}
	lst.scheduled, lst.urgent = false, false
	act := lst.action
	lst.action = actNone
	ch := lst.channel
	var evs []item
	// An abort (shutdown) delivers what is pending before it: events
	// pushed before the shutdown, a room's last ones among them, must not
	// be lost (stop kept the window for this).
	slow := false
	if act < actEnd && !s.stopped || act == actAbort {
		budget := ch.ex.OutboundRoom()
		if ch.mode != ModeStream {
			budget = max(budget, 1) // a refresh answers with at least one event
		}
		// A stream whose connection takes nothing more while events wait
		// for longer than StallTimeout is a peer that stopped reading: it
		// is closed as a slow reader (it may come back and resume).
		now := time.Now().UnixNano()
		switch {
		case budget >= 0 || !s.hasPendingLocked():
			lst.stalled = 0
		case lst.stalled == 0:
			lst.stalled = now
		case now-lst.stalled > int64(s.hub.cfg.StallTimeout):
			slow = true
		}
		if slow {
			// Detach now, as if the connection were already gone (it is
			// closed just below): the session is not listening any more.
			s.lostLocked()
			s.mu.Unlock()
			ch.ex.CloseSlow()
			return
		}
		evs = s.takeLocked(s.hub.scratchFor(ch.l).items[:0], budget)
	}
	// Part of a backlog left for later (the connection was full): a stream
	// goes on when its turn comes again; the session timer retries soon.
	more := ch.mode == ModeStream && act < actEnd && !s.stopped && s.hasPendingLocked()
	// A stopped session lets go of its events once they are written, not
	// before: the references it holds may be the last into their slabs,
	// which the store would drop under the write (a gap).
	release := s.stopped
	seq := s.seq
	if s.stopped && act < actEnd {
		act = actEnd
	}
	ending := act >= actEnd || (ch.mode != ModeStream && (len(evs) > 0 || act == actHeartbeat || act == actFlush))
	if ending {
		s.detachLocked()
	} else {
		lst.lastWrite = time.Now().UnixNano()
		if more {
			s.armLocked(pacingRetry)
		}
	}
	s.mu.Unlock()
	ch.write(s.hub, s, evs, seq, act)
	if release {
		s.mu.Lock()
		s.releaseHistoryLocked()
		s.mu.Unlock()
	}
	clear(evs)
	s.hub.scratchFor(ch.l).items = evs[:0]
	if more && len(evs) > 0 {
		// The write may have gone straight to the socket: try the next
		// slice at once (if the connection is full, the timer retries).
		s.mu.Lock()
		if s.lst.active && s.lst.gen == gen {
			s.requestLocked(actNone)
		}
		s.mu.Unlock()
	}
}

// sessionRunner is a Session seen as a loop task: RunOnLoop(gen) delivers
// to its data channel of generation gen. Posting it allocates nothing.
type sessionRunner Session

func (r *sessionRunner) RunOnLoop(gen uint32) { (*Session)(r).runListener(gen) }

// sessionOwner is a Session seen as the owner of its data channel's
// exchange, so that ExchangeGone is not part of Session's API.
type sessionOwner Session

func (o *sessionOwner) ExchangeGone(ex *engine.Exchange) { (*Session)(o).exchangeGone(ex) }

// endTask ends a data channel replaced by a newer one, on its loop.
type endTask struct {
	h  *Hub
	ex *engine.Exchange
	f  Format
	m  Mode
}

func (t *endTask) RunOnLoop(uint32) {
	ch := channel{ex: t.ex, l: t.ex.Loop(), format: t.f, mode: t.m}
	ch.write(t.h, nil, nil, 0, actEnd)
}

// write writes events and the action to the channel, and ends it when the
// action or the mode says so. s may be nil for actEnd. Loop only.
func (ch channel) write(h *Hub, s *Session, evs []item, seq uint64, act uint8) {
	ex := ch.ex
	if ch.mode == ModeStream {
		b, ok := ex.StreamBuf()
		if !ok {
			return
		}
		b = ch.appendBatch(h, b, evs, seq, act, true)
		h.stats.writes.Add(1)
		if act >= actEnd {
			mark := len(b)
			b = ex.ChunkOpen(b)
			b = responseEnd(b, ch.format, true, false)
			b = ex.ChunkClose(b, mark)
			ex.Commit(b)
			ex.End()
			return
		}
		ex.Commit(b)
		return
	}
	// A parked refresh: one complete response.
	if !ex.Pending() {
		return
	}
	sc := h.scratchFor(ch.l)
	b := responseStart(sc.cbuf[:0], ch.format, false)
	b = appendEvent(b, ch.format, plain(&refreshAck, "refresh-ack"), nil)
	b = ch.appendBatch(h, b, evs, seq, act, false)
	if act < actEnd && s != nil {
		b = eventSep(b, ch.format, false)
		b = s.hub.appendRefresh(b, ch.format, s.hub.cfg.Paths[ch.pathIdx], s, ch.mode, ch.wait)
	}
	b = responseEnd(b, ch.format, false, false)
	sc.cbuf = b[:0]
	h.stats.writes.Add(1)
	ex.Respond(200, plainHeaders[ch.format], b)
}

// appendBatch appends the items (events, and gap events where events were
// lost), and the hb or abort an action asks for. On a stream each is its
// own chunk. Events are written from their records in the hub's history,
// encoded once per event on this loop.
func (ch channel) appendBatch(h *Hub, b []byte, evs []item, seq uint64, act uint8, stream bool) []byte {
	f := ch.format
	open := func() int {
		if stream {
			mark := len(b)
			b = ch.ex.ChunkOpen(b)
			return mark
		}
		b = eventSep(b, f, false) // after refresh-ack
		return 0
	}
	closeChunk := func(mark int) {
		if stream {
			b = eventSep(b, f, true)
			b = ch.ex.ChunkClose(b, mark)
		}
	}
	put := func(ev *Event, r *recipient) {
		mark := open()
		b = appendEvent(b, f, ev, r)
		closeChunk(mark)
	}
	gap := func(from, to uint64) {
		h.stats.gaps.Add(1)
		put(oneShot("gap", "p_gap_from", strconv.FormatUint(from, 10), "p_gap_to", strconv.FormatUint(to, 10)),
			&recipient{seq: to, withSeq: true})
	}
	enc := &h.scratchFor(ch.l).enc
	delivered := 0
	h.store.Pin() // the records stay as they are while they are encoded
	for i := range evs {
		it := &evs[i]
		if it.gapFrom != 0 {
			gap(it.gapFrom, it.seq)
			continue
		}
		rec, ok := h.store.Get(it.e.Ref)
		if !ok { // let go since it was taken (the horizon, the hub's bytes)
			gap(it.seq, it.seq)
			continue
		}
		mark := open()
		b = appendEncoded(b, f, enc.encoded(it.e.Ref, rec, f), &recipient{seq: it.seq, withSeq: true, sid: it.sid, label: it.label})
		closeChunk(mark)
		delivered++
	}
	h.store.Unpin()
	h.stats.delivered.Add(int64(delivered))
	switch {
	case act == actAbort:
		put(oneShot("abort"), &recipient{seq: seq, withSeq: true})
	case act == actHeartbeat && (stream || len(evs) == 0):
		h.stats.heartbeats.Add(1)
		put(plain(&heartbeat, "hb"), &recipient{seq: seq, withSeq: true})
	}
	return b
}

// appendRefresh appends the refresh event that ends a pull or poll
// response. A poll client that asked for a shorter wait (asked ≥ 0, its
// p_wait) gets it, but not below PollWaitFloor.
func (h *Hub) appendRefresh(b []byte, f Format, path string, s *Session, m Mode, asked int32) []byte {
	lo, hi := h.cfg.PullWaitMin, h.cfg.PullWaitMax
	if m == ModePoll {
		lo, hi = h.cfg.PollWaitMin, h.cfg.PollWaitMax
	}
	wait := lo
	if hi > lo {
		wait += rand.IntN(hi - lo + 1)
	}
	if m == ModePoll && asked >= 0 {
		wait = min(wait, max(int(asked), h.cfg.PollWaitFloor))
	}
	url := path + "?p_id=" + s.id + "&p_event=refresh"
	if f == FormatJS {
		return appendJSRefresh(b, url, wait)
	}
	return appendEvent(b, f, oneShot("refresh", "p_wait", strconv.Itoa(wait), "p_url", url), nil)
}
