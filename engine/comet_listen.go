package engine

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Listener actions, in increasing priority.
const (
	actNone      uint8 = iota
	actHeartbeat       // stream: write hb; pull: answer with hb + refresh
	actFlush           // pull/poll: answer now with what is pending (poll's immediate answer)
	actEnd             // end the data channel cleanly (leave, replaced, session closed)
	actAbort           // write abort, then end (shutdown)
)

// listener is a session's open data channel: a stream, or a parked pull
// refresh. Its exchange and writes belong to its loop; the fields marked are
// guarded by the session's mutex.
type listener struct {
	s      *Session
	ex     *exchange
	l      *loop
	format Format
	mode   Mode // ModeStream, or the pull/poll mode of a parked refresh
	path   string

	scheduled bool      // guarded by s.mu: a runOnLoop is posted
	action    uint8     // guarded by s.mu: pending action
	replaced  bool      // guarded by s.mu: a newer listener took over; just end
	lastWrite time.Time // guarded by s.mu
	parkedAt  time.Time // guarded by s.mu
}

// requestLocked asks the loop to perform act (and deliver pending events).
// s.mu must be held.
func (lst *listener) requestLocked(act uint8) {
	if act > lst.action {
		lst.action = act
	}
	if !lst.scheduled {
		lst.scheduled = true
		lst.l.post(op{kind: opTask, task: lst})
	}
}

// attachLocked makes lst the session's listener, ending any previous one.
func (s *Session) attachLocked(lst *listener) {
	if old := s.lst; old != nil {
		old.replaced = true
		old.requestLocked(actEnd)
		s.hub.stats.listenerGone(old.mode)
	}
	s.lst = lst
	s.refreshDeadline = time.Time{}
	now := time.Now()
	lst.lastWrite, lst.parkedAt = now, now
	s.hub.stats.listenerAdded(lst.mode)
	s.armLocked(s.hub.cfg.Heartbeat)
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

// detachLocked removes lst after its data channel ended; pull sessions must
// now come back with a refresh in time.
func (s *Session) detachLocked(lst *listener) {
	if s.lst != lst {
		return
	}
	s.lst = nil
	s.hub.stats.listenerGone(lst.mode)
	if s.stopped {
		return
	}
	if lst.mode != ModeStream {
		d := s.hub.cfg.PullRefreshTimeout
		if lst.mode == ModePoll || s.mode == ModePoll {
			d = s.hub.cfg.PollRefreshTimeout
		}
		s.refreshDeadline = time.Now().Add(d)
		s.armLocked(d)
	} else {
		s.armLocked(s.hub.cfg.SessionTimeout)
	}
}

// exchangeGone runs on the loop when the listener's connection closes.
func (lst *listener) exchangeGone(*exchange) {
	s := lst.s
	s.mu.Lock()
	wasCurrent := s.lst == lst
	s.detachLocked(lst)
	s.mu.Unlock()
	if wasCurrent && lst.mode == ModeStream {
		s.hub.events.push(SessionEvent{Kind: SessionDetached, Session: s})
	}
}

// runOnLoop delivers what is pending to the data channel. It runs on the
// listener's loop.
func (lst *listener) runOnLoop() {
	s := lst.s
	l := lst.l
	s.mu.Lock()
	lst.scheduled = false
	act := lst.action
	lst.action = actNone
	if lst.replaced || s.lst != lst {
		s.mu.Unlock()
		if lst.replaced {
			lst.finish(nil, 0, 0, 0, actEnd)
		}
		return
	}
	var evs []queued
	var gapFrom, gapTo uint64
	if act < actEnd && !s.stopped {
		evs, gapFrom, gapTo = s.takeLocked(l.evs[:0])
	}
	seq := s.seq
	if s.stopped && act < actEnd {
		act = actEnd
	}
	ending := act >= actEnd || (lst.mode != ModeStream && (len(evs) > 0 || gapTo != 0 || act == actHeartbeat || act == actFlush))
	if ending {
		s.detachLocked(lst)
	} else {
		lst.lastWrite = time.Now()
	}
	s.mu.Unlock()
	lst.finish(evs, gapFrom, gapTo, seq, act)
	clear(evs)
	l.evs = evs[:0]
}

// finish writes events and the action to the channel (and ends it when the
// action or the mode says so). Loop only.
func (lst *listener) finish(evs []queued, gapFrom, gapTo, seq uint64, act uint8) {
	h := lst.s.hub
	if lst.mode == ModeStream {
		b, ok := lst.ex.streamBuf()
		if !ok {
			return
		}
		b = lst.appendBatch(b, evs, gapFrom, gapTo, seq, act, true)
		if act >= actEnd {
			mark := len(b)
			b = lst.ex.chunkOpen(b)
			b = responseEnd(b, lst.format, true, false)
			b = lst.ex.chunkClose(b, mark)
			lst.ex.commit(b)
			lst.ex.end()
			return
		}
		lst.ex.commit(b)
		return
	}
	// A parked refresh: one complete response.
	l := lst.l
	b := responseStart(l.cbuf[:0], lst.format, false)
	b = appendEvent(b, lst.format, NewEvent("refresh-ack"), nil)
	b = lst.appendBatch(b, evs, gapFrom, gapTo, seq, act, false)
	if act < actEnd {
		b = eventSep(b, lst.format, false)
		b = h.appendRefresh(b, lst.format, lst.path, lst.s, lst.mode)
	}
	b = responseEnd(b, lst.format, false, false)
	l.cbuf = b[:0]
	lst.ex.respond(200, h.headers(lst.format, false), b)
}

// appendBatch appends a gap event, the events, and the hb or abort an action
// asks for. On a stream each is its own chunk.
func (lst *listener) appendBatch(b []byte, evs []queued, gapFrom, gapTo, seq uint64, act uint8, stream bool) []byte {
	h := lst.s.hub
	f := lst.format
	n := 0
	put := func(ev *Event, r *recipient) {
		if stream {
			mark := len(b)
			b = lst.ex.chunkOpen(b)
			b = appendEvent(b, f, ev, r)
			b = eventSep(b, f, true)
			b = lst.ex.chunkClose(b, mark)
		} else {
			b = eventSep(b, f, false) // after refresh-ack
			b = appendEvent(b, f, ev, r)
		}
		n++
	}
	if gapTo != 0 {
		h.stats.gaps.Add(1)
		put(NewEvent("gap", "p_gap_from", strconv.FormatUint(gapFrom, 10), "p_gap_to", strconv.FormatUint(gapTo, 10)),
			&recipient{seq: gapTo, withSeq: true})
	}
	for i := range evs {
		q := &evs[i]
		r := recipient{seq: q.seq, withSeq: true}
		if q.sub != nil {
			r.sid, r.label = q.sub.sid, q.sub.label
		}
		put(q.ev, &r)
	}
	h.stats.delivered.Add(int64(len(evs)))
	switch {
	case act == actAbort:
		put(NewEvent("abort"), &recipient{seq: seq, withSeq: true})
	case act == actHeartbeat && (stream || len(evs) == 0 && gapTo == 0):
		h.stats.heartbeats.Add(1)
		put(NewEvent("hb"), &recipient{seq: seq, withSeq: true})
	}
	return b
}

// appendRefresh appends the refresh event that ends a pull or poll response.
func (h *Hub) appendRefresh(b []byte, f Format, path string, s *Session, m Mode) []byte {
	lo, hi := h.cfg.PullWaitMin, h.cfg.PullWaitMax
	if m == ModePoll {
		lo, hi = h.cfg.PollWaitMin, h.cfg.PollWaitMax
	}
	wait := lo
	if hi > lo {
		wait += rand.IntN(hi - lo + 1)
	}
	url := path + "?p_id=" + s.id + "&p_event=refresh"
	if f == FormatJS {
		return appendJSRefresh(b, url, wait)
	}
	return appendEvent(b, f, NewEvent("refresh", "p_wait", strconv.Itoa(wait), "p_url", url), nil)
}
