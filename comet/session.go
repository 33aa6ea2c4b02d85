package comet

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometplay/cometplay/internal/history"
	"github.com/cometplay/cometplay/internal/ratelimit"

	"github.com/cometplay/cometplay/internal/timewheel"
)

// Mode is how a session listens.
type Mode uint8

// Listen modes (Pushlet's names).
const (
	ModeStream Mode = iota // one response that never ends
	ModePull               // long-poll: each refresh waits for events
	ModePoll               // each refresh returns at once
)

var modeNames = [...]string{"stream", "pull", "poll"}

func (m Mode) String() string { return modeNames[m] }

func parseMode(s string) (Mode, bool) {
	for i, n := range modeNames {
		if n == s {
			return Mode(i), true
		}
	}
	return 0, false
}

// Reasons a session ends, reported in SessionEvent.Reason.
const (
	ReasonLeave          = "leave"           // the client sent leave
	ReasonExpired        = "expired"         // the lease ran out
	ReasonRefreshTimeout = "refresh-timeout" // a pull/poll client did not come back
	ReasonShutdown       = "shutdown"        // the server is stopping
	ReasonClosed         = "closed"          // closed by the server (Session.Close)
)

// SessionEventKind says what happened to a session.
type SessionEventKind uint8

// Session lifecycle events.
const (
	SessionJoined   SessionEventKind = iota + 1 // created
	SessionAttached                             // a data channel (stream or refresh) opened after none or after one was lost
	SessionDetached                             // a data channel's connection went away before its response ended (the session lives on)
	SessionLeft                                 // ended; Reason says why

	sessionDetachConfirmed // internal to Games: a detach outlived its grace
)

// SessionEvent is delivered to OnSessionEvent subscribers.
type SessionEvent struct {
	Kind    SessionEventKind
	Session *Session
	Reason  string

	gen uint64 // sessionDetachConfirmed: which detach
}

// Session is one Comet client. Its methods are safe for concurrent use.
//
// A session is kept small: an idle stream listener costs a session, its
// subscription, its connection and one exchange, and there may be tens of
// thousands of them. Its data channel (listener) is part of the struct.
type Session struct {
	hub  *Hub
	id   string     // public id (pubIDLen) + secret: whoever knows it acts as the session
	addr netip.Addr // client address that joined (invalid for Hub.Join)

	lastActive atomic.Int64 // UnixNano of the last request

	mu              sync.Mutex
	format          Format
	mode            Mode
	modeSlot        Mode // the per-mode session gauge it is counted in (modeNone until it listens)
	stopped         bool
	connected       bool  // a data channel is open, or ended normally since the last one closed
	lostAt          int64 // UnixNano when the data channel was lost, while its detach waits out DetachGrace (0: none)
	subs            []*subscription
	gone            []*subscription // unsubscribed, while held events may still name them (goneAt)
	hist            history.Ring    // the events since the last acknowledged one: references into the hub's store
	seq             uint64          // last sequence number assigned
	delivered       uint64          // last sequence number written to a data channel
	nextSub         uint32          // id of the last subscription made
	nsubs           atomic.Int32    // len(subs), read without the lock
	lst             listener
	refreshDeadline int64       // UnixNano: a pull/poll client must refresh before this (0: none)
	ext             *sessionExt // what only some sessions need; nil until then

	timer timewheel.Timer
}

// sessionExt holds a session's rarely used state, allocated on first use so
// that an idle listener stays small.
type sessionExt struct {
	pub, sub ratelimit.Bucket // publishes; client subscribes and unsubscribes
	segs     int              // trie segments of the client's subscriptions (Config.MaxSubscribedSegments)
	values   map[string]any
}

// extLocked returns the session's sessionExt, allocating it.
func (s *Session) extLocked() *sessionExt {
	if s.ext == nil {
		s.ext = new(sessionExt)
	}
	return s.ext
}

// item is one thing a data channel writes for a session: a held event
// (seq, its entry, the sid and label of the subscription it came through),
// or, with gapFrom set, the gap event for gapFrom..seq, events the session
// can no longer deliver.
type item struct {
	seq        uint64
	e          history.Entry
	gapFrom    uint64
	sid, label string
}

// ID returns the secret session id (p_id). Treat it as a credential.
func (s *Session) ID() string { return s.id }

// PublicID returns the id shown to other clients (p_from, p_to).
func (s *Session) PublicID() string { return s.id[:pubIDLen] }

// RemoteAddr returns the IP address of the client that joined ("" for a
// session joined from Go).
func (s *Session) RemoteAddr() string {
	if !s.addr.IsValid() {
		return ""
	}
	return s.addr.String()
}

// allowPublish takes one token from the session's publish bucket.
func (s *Session) allowPublish() bool {
	cfg := &s.hub.cfg
	if cfg.PublishRate < 0 {
		return true
	}
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extLocked().pub.Take(now, cfg.PublishRate, time.Second, cfg.PublishBurst)
}

// allowSubscribeLocked takes one token from the bucket of the client's
// subscribes and unsubscribes.
func (s *Session) allowSubscribeLocked() bool {
	cfg := &s.hub.cfg
	return cfg.SubscribeRate < 0 || s.extLocked().sub.Take(time.Now().UnixNano(), cfg.SubscribeRate, time.Second, cfg.SubscribeBurst)
}

// Format returns the session's format.
func (s *Session) Format() Format {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.format
}

// Listening reports whether a data channel is open (a stream, or a parked refresh).
func (s *Session) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lst.active
}

// Stopped reports whether the session has ended.
func (s *Session) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Set stores a value for the layers above (the player of a session).
func (s *Session) Set(key string, v any) {
	s.mu.Lock()
	x := s.extLocked()
	if x.values == nil {
		x.values = make(map[string]any)
	}
	x.values[key] = v
	s.mu.Unlock()
}

// Get returns a value stored with Set.
func (s *Session) Get(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ext == nil {
		return nil
	}
	return s.ext.values[key]
}

// Seq returns the last sequence number assigned to an event of the session.
func (s *Session) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// touch renews the lease.
func (s *Session) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// Send queues a data event for this session only (unicast: no p_sid).
// It is the hub's default producer's (see Hub.PublishFrom).
func (s *Session) Send(subject string, kv ...string) {
	fb := dataFields(subject, kv)
	_ = s.sendFields("", fb.fs, true) // it may wait: never refused
	fb.put()
}

// SendEvent queues ev for this session only, from the hub's default
// producer.
func (s *Session) SendEvent(ev *Event) { _ = s.sendFields("", ev.fields, true) }

// sendFields holds an event of these fields for this session alone, as
// multicast does (errFanoutBusy for a caller that may not wait while the
// fan-out queue is full).
func (s *Session) sendFields(producer string, fs []Field, mayWait bool) error {
	h := s.hub
	buf := records.Get().(*recordBuf)
	buf.b = record(buf.b[:0], fs)
	size := uint32(eventSize(fs))
	queued, err := h.fan.push(h, fanoutJob{producer: producer, to: s, size: size}, buf.b, false, mayWait)
	if !queued {
		h.unicastRecord(s, buf.b, size) // nothing queued to go before it
	}
	buf.put()
	return err
}

// Subscribe adds a subscription, as the subscribe request does, and returns
// its sid. Subscribing again to the same subject with the same label returns
// the existing sid. The subscription keeps subject and label as given (not
// copies): a substring of a large string keeps all of it alive.
func (s *Session) Subscribe(subject, label string) (string, error) {
	sub, err := s.subscribe(subject, label, false)
	if err != nil {
		return "", err
	}
	return sub.sid, nil
}

// Unsubscribe removes the subscription with the given sid; it reports
// whether there was one.
func (s *Session) Unsubscribe(sid string) bool {
	removed, _ := s.unsubscribe(sid, false)
	return removed != nil
}

// UnsubscribeSubject removes every subscription to exactly subject (label
// whatever); it reports how many there were.
func (s *Session) UnsubscribeSubject(subject string) int {
	var sids []string
	s.mu.Lock()
	for _, sub := range s.subs {
		if sub.subject == subject {
			sids = append(sids, sub.sid)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, sid := range sids {
		if removed, _ := s.unsubscribe(sid, false); removed != nil {
			n++
		}
	}
	return n
}

// Close ends the session with ReasonClosed (its listener ends at once).
func (s *Session) Close() { s.stop(ReasonClosed) }

// pushRef gives the session an event held in the hub's store (one of the
// references Put counted for its recipients), through sub (nil: a unicast),
// and wakes its listener (through wake, when a fan-out gathers the wakeups;
// a unicast's in the loop's urgent lane). It reports false, keeping nothing,
// when the session has stopped: the caller releases the reference. Safe
// from any goroutine.
func (s *Session) pushRef(ref history.Ref, size uint32, sub *subscription, wake *wakeups) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.seq++
	var id uint32
	if sub != nil {
		id = sub.id
	}
	cfg := &s.hub.cfg
	if old, ok := s.hist.Push(s.seq, history.Entry{Ref: ref, Size: size, Sub: id}, cfg.Window); ok {
		s.hub.store.Release(old.Ref)
	}
	for s.hist.Bytes() > int64(cfg.SessionHistoryBytes) && s.hist.Len() > 1 {
		s.dropOldestLocked()
	}
	if s.lst.active {
		s.requestInto(actNone, wake, wake == nil) // a unicast is urgent
	}
	s.mu.Unlock()
	return true
}

// dropOldestLocked lets the oldest held event go.
func (s *Session) dropOldestLocked() {
	if e, ok := s.hist.PopFront(); ok {
		s.hub.store.Release(e.Ref)
	}
}

// ackLocked lets go of what the client has: the events up to upTo, and
// never one not delivered yet.
func (s *Session) ackLocked(upTo uint64) {
	upTo = min(upTo, s.delivered)
	for s.hist.Len() > 0 && s.hist.First(0) <= upTo {
		s.dropOldestLocked()
	}
	s.pruneGoneLocked()
}

// trimLocked lets go of the oldest events the store no longer holds (past
// the resume horizon, or the hub's byte limit): a client resuming from
// there gets the gap it would get anyway.
func (s *Session) trimLocked() {
	for s.hist.Len() > 0 {
		e, _ := s.hist.At(s.hist.First(0))
		if s.hub.store.Alive(e.Ref) {
			break
		}
		s.dropOldestLocked()
	}
	s.pruneGoneLocked()
}

// releaseHistoryLocked lets go of everything held (the session ends).
func (s *Session) releaseHistoryLocked() {
	st := s.hub.store
	s.hist.Reset(func(e history.Entry) { st.Release(e.Ref) })
	s.gone = nil
}

// pruneGoneLocked forgets the unsubscribed subscriptions no held event
// came through.
func (s *Session) pruneGoneLocked() {
	if len(s.gone) == 0 {
		return
	}
	first := s.hist.First(s.seq + 1)
	kept := s.gone[:0]
	for _, sub := range s.gone {
		if sub.goneAt >= first {
			kept = append(kept, sub)
		}
	}
	clear(s.gone[len(kept):])
	s.gone = kept
	if len(kept) == 0 {
		s.gone = nil // most sessions unsubscribe rarely: no array kept for it
	}
}

// subByID returns the subscription an event came through (it may have been
// unsubscribed since), or nil.
func (s *Session) subByID(id uint32) *subscription {
	for _, list := range [2][]*subscription{s.subs, s.gone} {
		for _, sub := range list {
			if sub.id == id {
				return sub
			}
		}
	}
	return nil
}

// takeLocked appends to dst what a data channel should write now: the held
// events after the delivered cursor, a gap item where events are no longer
// held, and advances the cursor past them. It stops once the events taken
// add up to budget bytes (always taking at least one; budget < 0: none),
// leaving the rest pending: a large backlog goes out in slices a slow but
// live client can absorb instead of overflowing its connection's outbound
// cap.
func (s *Session) takeLocked(dst []item, budget int) []item {
	if s.delivered >= s.seq || budget < 0 {
		return dst
	}
	gap := func(q uint64) {
		if n := len(dst); n > 0 && dst[n-1].gapFrom != 0 && dst[n-1].seq+1 == q {
			dst[n-1].seq = q
			return
		}
		dst = append(dst, item{seq: q, gapFrom: q})
	}
	if first := s.hist.First(s.seq + 1); s.delivered+1 < first {
		dst = append(dst, item{seq: first - 1, gapFrom: s.delivered + 1})
		s.delivered = first - 1
	}
	size := 0
	for q := s.delivered + 1; q <= s.seq; q++ {
		e, _ := s.hist.At(q)
		if !s.hub.store.Alive(e.Ref) {
			gap(q) // let go by the store: past the horizon or the hub's bytes
			s.delivered = q
			continue
		}
		if size > 0 && size+int(e.Size) > budget {
			break // the rest on the next turn
		}
		size += int(e.Size)
		it := item{seq: q, e: e}
		if e.Sub != 0 {
			if sub := s.subByID(e.Sub); sub != nil {
				it.sid, it.label = sub.sid, sub.label
			}
		}
		dst = append(dst, it)
		s.delivered = q
	}
	return dst
}

// pacingRetry is how soon a channel whose connection was too full to take
// its pending events tries again.
const pacingRetry = 20 * time.Millisecond

// resumeLocked moves the delivered cursor back to last (a client's p_last or
// Last-Event-ID): everything after it still held is sent again, and what
// the client says it has is let go.
func (s *Session) resumeLocked(last uint64) {
	s.delivered = min(last, s.seq)
	s.ackLocked(last)
}

// hasPendingLocked reports whether events wait for delivery.
func (s *Session) hasPendingLocked() bool { return s.delivered < s.seq }

// Errors of a client's subscribe and unsubscribe (answered as nacks).
var (
	errSubscribeRate   = errors.New("rate limited: slow down")
	errTooManySegments = errors.New("too many subject segments subscribed")
)

// subscribe adds (or finds) a subscription. A client's (client true) is
// charged to the session's subscribe bucket and segment budget when it is
// new; the server's (rooms, lobby, Session.Subscribe) is not.
func (s *Session) subscribe(subject, label string, client bool) (*subscription, error) {
	parts, err := splitSubjects(subject)
	if err != nil {
		return nil, err
	}
	if len(label) > MaxLabelLen {
		return nil, errLabelTooLong
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, errSessionStopped
	}
	for _, sub := range s.subs {
		if sub.subject == subject && sub.label == label {
			s.mu.Unlock()
			return sub, nil
		}
	}
	if len(s.subs) >= s.hub.cfg.MaxSubscriptions {
		s.mu.Unlock()
		return nil, errTooManySubs
	}
	var segs int
	if client {
		segs = subjectSegments(parts)
		if s.extLocked().segs+segs > s.hub.cfg.MaxSubscribedSegments {
			s.mu.Unlock()
			return nil, errTooManySegments
		}
		if !s.allowSubscribeLocked() {
			s.mu.Unlock()
			return nil, errSubscribeRate
		}
		s.ext.segs += segs
	}
	// Copies of a client's subject and label: they are parts of the string
	// holding every parameter of its request, which they must not keep
	// alive. The server's are its own strings (a room's topic), kept as
	// they are: a copy for each member would hold the same bytes again.
	if client {
		subject, label = strings.Clone(subject), strings.Clone(label)
	}
	s.nextSub++
	sub := &subscription{sess: s, id: s.nextSub, subject: subject, label: label, sid: s.newSIDLocked(), segs: int32(segs)}
	s.subs = append(s.subs, sub)
	s.nsubs.Store(int32(len(s.subs)))
	s.mu.Unlock()
	// Indexed after the session lock is released: publishers lock the index
	// and then sessions, never the other way round.
	s.hub.index.add(sub, parts)
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped { // raced with stop: undo
		s.hub.index.remove(sub)
		return nil, errSessionStopped
	}
	return sub, nil
}

// unsubscribe removes one subscription by sid, or all with sid "". A
// client's (client true) takes a token from the session's subscribe bucket
// first (errSubscribeRate when it is empty).
func (s *Session) unsubscribe(sid string, client bool) ([]*subscription, error) {
	s.mu.Lock()
	if client && !s.allowSubscribeLocked() {
		s.mu.Unlock()
		return nil, errSubscribeRate
	}
	var removed []*subscription
	if sid == "" {
		removed, s.subs = s.subs, nil
	} else {
		for i, sub := range s.subs {
			if sub.sid == sid {
				removed = []*subscription{sub}
				s.subs = append(s.subs[:i:i], s.subs[i+1:]...)
				break
			}
		}
	}
	for _, sub := range removed {
		if sub.segs > 0 {
			s.ext.segs -= int(sub.segs)
		}
		if s.hist.Len() > 0 {
			// Held events that came through it still name it (p_sid, p_label).
			sub.goneAt = s.seq
			s.gone = append(s.gone, sub)
		}
	}
	s.nsubs.Store(int32(len(s.subs)))
	s.mu.Unlock()
	for _, sub := range removed {
		s.hub.index.remove(sub)
	}
	return removed, nil
}

// newSIDLocked returns a subscription id unique within the session, in
// Pushlet's style (5 letters, consonant/vowel alternating).
func (s *Session) newSIDLocked() string {
	const cons, vows = "bcdfghjklmnpqrstvwz", "aeiouy"
	for {
		var b [5]byte
		for i := range b {
			if i%2 == 0 {
				b[i] = cons[rand.IntN(len(cons))]
			} else {
				b[i] = vows[rand.IntN(len(vows))]
			}
		}
		sid := string(b[:])
		unique := true
		for _, sub := range s.subs {
			if sub.sid == sid {
				unique = false
				break
			}
		}
		if unique {
			return sid
		}
	}
}

// armLocked schedules the session's check in d.
func (s *Session) armLocked(d time.Duration) {
	s.hub.srv.Timers().ScheduleFirer(&s.timer, d, (*sessionTimer)(s))
}

// sessionTimer is a Session seen as the timer wheel's callback, so that
// Fire is not part of Session's API and arming the timer allocates nothing.
type sessionTimer Session

func (t *sessionTimer) Fire() { (*Session)(t).check() }

// check runs on the timer wheel's goroutine: it ends expired sessions, asks
// listeners for heartbeats, and re-arms itself for the next deadline.
func (s *Session) check() {
	now := time.Now().UnixNano()
	cfg := &s.hub.cfg
	hb := int64(cfg.Heartbeat)
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.trimLocked() // what the store let go of past the horizon
	var expire string
	next := int64(cfg.SessionTimeout)
	if lst := &s.lst; lst.active {
		s.touch()              // an open stream or a parked refresh keeps the lease
		since := lst.lastWrite // stream: silence
		if lst.mode != ModeStream {
			since = lst.parkedAt // parked refresh: how long it waited
		}
		due := since + hb
		if now >= due {
			s.requestLocked(actHeartbeat)
			due = now + hb
		} else if s.hasPendingLocked() {
			s.requestLocked(actNone) // a paced backlog: try again
		}
		next = due - now
		if s.hasPendingLocked() {
			next = min(next, int64(pacingRetry))
		}
	} else {
		if s.lostAt != 0 {
			if due := s.lostAt + int64(cfg.DetachGrace); now >= due {
				s.lostAt = 0
				s.hub.events.push(SessionEvent{Kind: SessionDetached, Session: s})
			} else {
				next = min(next, due-now)
			}
		}
		leaseEnd := s.lastActive.Load() + int64(cfg.SessionTimeout)
		switch {
		case s.refreshDeadline != 0 && now >= s.refreshDeadline:
			expire = ReasonRefreshTimeout
		case now >= leaseEnd:
			expire = ReasonExpired
		default:
			next = min(next, leaseEnd-now)
			if s.refreshDeadline != 0 {
				next = min(next, s.refreshDeadline-now)
			}
		}
	}
	if expire == "" {
		s.armLocked(max(time.Duration(next), time.Millisecond))
	}
	s.mu.Unlock()
	if expire != "" {
		s.stop(expire)
	}
}

// stop ends the session: its listener ends at once, its subscriptions and
// its entry are removed, and SessionLeft is reported.
func (s *Session) stop(reason string) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.lostAt = 0 // SessionLeft says it all
	s.hub.stats.sessions[s.modeSlot][s.format].Add(-1)
	subs := s.subs
	s.subs = nil
	s.nsubs.Store(0)
	if s.lst.active {
		if reason == ReasonShutdown {
			s.requestLocked(actAbort)
		} else {
			s.requestLocked(actEnd)
		}
	}
	// At shutdown the listener first writes what is still pending (events
	// pushed just before, such as the rooms' last ones), then the abort:
	// runListener takes them and releases the window. Otherwise the window
	// goes now.
	if reason != ReasonShutdown || !s.lst.active {
		s.releaseHistoryLocked()
	}
	s.mu.Unlock()
	s.hub.srv.Timers().Cancel(&s.timer)
	for _, sub := range subs {
		s.hub.index.remove(sub)
	}
	s.hub.unregister(s)
	s.hub.stats.leaves.Add(1)
	s.hub.stats.sessionEnded(reason)
	s.hub.srv.Logger().Debug("session ended", "reason", reason, "remote", s.RemoteAddr(), "public_id", s.PublicID())
	s.hub.events.push(SessionEvent{Kind: SessionLeft, Session: s, Reason: reason})
}

// sessionEventQueue delivers SessionEvents to subscribers on one goroutine.
// Pushing never blocks: the queue grows (it is bounded by the number of
// sessions times their few lifecycle events).
type sessionEventQueue struct {
	mu      sync.Mutex
	q       []SessionEvent
	fns     []eventSub
	wake    chan struct{}
	started bool
	log     *slog.Logger
}

func (q *sessionEventQueue) init(log *slog.Logger) {
	q.wake = make(chan struct{}, 1)
	q.log = log
}

// eventSub is one subscriber; only internal ones see internal kinds.
type eventSub struct {
	fn       func(SessionEvent)
	internal bool
}

func (q *sessionEventQueue) subscribe(fn func(SessionEvent), internal bool) {
	q.mu.Lock()
	q.fns = append(q.fns, eventSub{fn, internal})
	if !q.started {
		q.started = true
		go q.run()
	}
	q.mu.Unlock()
}

func (q *sessionEventQueue) push(ev SessionEvent) {
	q.mu.Lock()
	if len(q.fns) == 0 {
		q.mu.Unlock()
		return
	}
	q.q = append(q.q, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *sessionEventQueue) run() {
	for range q.wake {
		for {
			q.mu.Lock()
			batch := q.q
			q.q = nil
			fns := q.fns
			q.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, ev := range batch {
				for _, sub := range fns {
					if ev.Kind >= sessionDetachConfirmed && !sub.internal {
						continue
					}
					q.call(sub.fn, ev)
				}
			}
		}
	}
}

func (q *sessionEventQueue) call(fn func(SessionEvent), ev SessionEvent) {
	defer func() {
		if v := recover(); v != nil {
			q.log.Error("session event handler panic", "panic", v)
		}
	}()
	fn(ev)
}

// SessionInfo describes a session, as an operator's console lists it.
type SessionInfo struct {
	PublicID   string
	RemoteAddr string
	Format     Format
	// Mode is the mode of its last listen: "stream", "pull", "poll", or
	// "none" before the first.
	Mode       string
	Listening  bool      // a data channel is open
	Subjects   []string  // of its subscriptions
	LastActive time.Time // of its last request (or open data channel)
	Seq        uint64    // last sequence number assigned
}

// Info returns a snapshot of the session's state.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{
		PublicID: s.PublicID(), RemoteAddr: s.RemoteAddr(), Format: s.format, Mode: modeLabels[s.modeSlot],
		Listening: s.lst.active, LastActive: time.Unix(0, s.lastActive.Load()), Seq: s.seq,
	}
	for _, sub := range s.subs {
		in.Subjects = append(in.Subjects, sub.subject)
	}
	return in
}
