package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cometplay/cometplay/comet"
	"github.com/cometplay/cometplay/rooms"
)

// The turn log (issue 14): every item a room processes is appended to the
// room's subject of one JetStream stream before the item's output goes out
// (rooms.Journal), so that the node that takes the room over from a dead
// owner rebuilds it (rooms.Manager.Restore) instead of losing it.
//
// An append names the subject's last sequence it expects (the fencing
// token): a deposed owner, whose view of the log is behind the new owner's
// first append, can never write, and its room is evicted at its next item.
// An append not answered (no quorum, a lost answer) is sent again with the
// same message id, which JetStream deduplicates, until it is answered.
// While appends go unanswered, the oldest is sent again every appendRetry
// whatever its own delay (a probe); the first answer after that sends
// every waiting append again at once, so that the rooms go on as soon as
// JetStream is back rather than at their next retry. The rooms whose
// append waits refuse their clients' items meanwhile
// (rooms.ManagerOptions.JournalPatience).
// The appends take no goroutine: they leave through the node's outbox and
// their answers come to one subscription.
//
// Compaction: a room whose game is a rooms.Persister appends a snapshot of
// itself every rooms.ManagerOptions.SnapshotEvery entries. Once JetStream
// has it, the room's entries before it are purged (a purge of the room's
// subject up to the snapshot's sequence, fire and forget): the log holds
// the latest snapshot and what follows, and a new owner replays only that.
// The subject's last sequence is the snapshot's or a later one, so the
// appends' expected last sequence (the fencing) is untouched; a restorer
// reading the log meanwhile reads each entry by "next on the subject from
// a sequence", so it finds the snapshot where the purged entries were (or
// fails its read, and reads again).
const (
	streamRoomLog = "cp_roomlog"
	roomLogPrefix = "cp.roomlog."
	// appendRetry: an append not answered in this time is sent again, and
	// again after twice as long each time, up to appendRetryMax (a busy
	// JetStream answering late must not be sent every append again and
	// again).
	appendRetry    = 2 * time.Second
	appendRetryMax = 30 * time.Second
	// logDuplicates is JetStream's window for the appends' message ids: an
	// append sent again within it after its answer was lost is answered
	// as the first. JetStream keeps every id of the window in memory
	// (about 100 bytes each: 6 MB at 1,000 moves a second).
	logDuplicates = time.Minute
)

// errFenced: the room's log has entries this node did not write (another
// node took the room over): the room is not this node's any more.
var errFenced = errors.New("cluster: the room's turn log moved on without this node: another node owns the room")

// turnLog is a node's rooms.Journal.
type turnLog struct {
	n *Node

	mu      sync.Mutex
	last    map[string]uint64 // room → its subject's last sequence (0: none yet)
	pending map[uint64]*logAppend
	next    uint64
	// silent: an append waited past appendRetry and no append was
	// answered for as long (since silentSince); back: an answer came
	// since, so every waiting append is sent again at the next retry;
	// answered: the last answer; probed: when the last probe went.
	silent, back          bool
	silentSince, answered time.Time
	probed                time.Time

	appends, retries, refused, restored, restoreFailed, compactions atomic.Int64
	// stalls counts the times appends went unanswered past stallLog.
	stalls atomic.Int64
	// stalled: appends are unanswered past stallLog now (logged once).
	stalled bool
}

// stallLog is how long the oldest append waits unanswered before the node
// says so (once, and once when the answers come back): as long as a room
// waits before refusing its clients' items (rooms.DefaultJournalPatience).
const stallLog = rooms.DefaultJournalPatience

// logAppend is an append in flight.
type logAppend struct {
	room   string
	data   []byte
	expect uint64
	msgID  string
	done   func(error)
	first  time.Time // the first send
	sent   time.Time
	tries  int  // sends so far
	snap   bool // a snapshot: once durable, the entries before it go
}

func newTurnLog(n *Node) *turnLog {
	return &turnLog{n: n, last: make(map[string]uint64), pending: make(map[uint64]*logAppend)}
}

// ackSubject is where JetStream answers the append id.
func (l *turnLog) ackSubject(id uint64) string {
	return "cp.n." + l.n.opts.Node + ".jack." + strconv.FormatUint(id, 36)
}

// Append implements rooms.Journal. On an executor: it only queues.
func (l *turnLog) Append(room string, e rooms.Entry, done func(error)) {
	data, err := json.Marshal(e)
	if err != nil {
		done(err) // not reached: entries are plain data
		return
	}
	inc := l.n.own.incarnation()
	l.mu.Lock()
	l.next++
	id := l.next
	expect := l.last[room]
	now := time.Now()
	a := &logAppend{room: room, data: data, expect: expect, done: done, first: now, sent: now, tries: 1, snap: e.Kind == rooms.EntrySnapshot,
		msgID: room + "." + inc + "." + strconv.FormatUint(expect+1, 10)}
	l.pending[id] = a
	l.mu.Unlock()
	l.appends.Add(1)
	l.send(id, a)
}

func (l *turnLog) send(id uint64, a *logAppend) {
	h := nats.Header{}
	h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(a.expect, 10))
	h.Set(jetstream.MsgIDHeader, a.msgID)
	l.n.out.push(msg{subj: roomLogPrefix + a.room, reply: l.ackSubject(id), data: a.data, hdr: h})
}

// pubAck is JetStream's answer to a publish to a stream.
type pubAck struct {
	Seq   uint64 `json:"seq"`
	Error *struct {
		Code        int                 `json:"code"`
		ErrCode     jetstream.ErrorCode `json:"err_code"`
		Description string              `json:"description"`
	} `json:"error"`
}

// onAck takes JetStream's answer to an append (the subscription's
// goroutine).
func (l *turnLog) onAck(m *nats.Msg) {
	id, ok := lastID(m.Subject)
	if !ok {
		return
	}
	var ack pubAck
	if len(m.Data) == 0 || json.Unmarshal(m.Data, &ack) != nil {
		return // no responders (JetStream not there yet, no quorum): sent again by retry
	}
	fenced := ack.Error != nil && wrongLastSequence(ack.Error.ErrCode)
	if ack.Error != nil && !fenced {
		return // an error that may pass: sent again by retry
	}
	l.mu.Lock()
	a := l.pending[id]
	if a == nil {
		l.mu.Unlock()
		return
	}
	delete(l.pending, id)
	// current: the room's last sequence is still the one the append
	// expected. Not so for an append of an instance of the room from
	// before its rebuild here (evicted with a lease this node lost, its
	// append answered late): the rebuild's fence set the last sequence.
	current := l.last[a.room] == a.expect
	if ack.Error != nil {
		if current {
			delete(l.last, a.room)
		}
		l.mu.Unlock()
		l.refused.Add(1)
		a.done(errFenced)
		return
	}
	if current {
		l.last[a.room] = ack.Seq
	}
	l.answered = time.Now()
	if l.silent {
		l.silent, l.back = false, true
	}
	l.mu.Unlock()
	if a.snap {
		l.compact(a.room, ack.Seq)
	}
	a.done(nil)
}

// compact purges a room's entries before its snapshot at sequence seq.
// Fire and forget: a purge lost leaves the entries to the next snapshot's
// purge, or to logMaxAge.
func (l *turnLog) compact(room string, seq uint64) {
	l.compactions.Add(1)
	b, _ := json.Marshal(struct {
		Filter string `json:"filter"`
		Seq    uint64 `json:"seq"` // purged: below it
	}{roomLogPrefix + room, seq})
	l.n.out.push(msg{subj: "$JS.API.STREAM.PURGE." + streamRoomLog, reply: "cp.n." + l.n.opts.Node + ".jpurge", data: b})
}

// retry sends again the appends not answered in time (appendRetry, doubled
// at each try), all of them once an answer came after a silence, and the
// oldest as a probe during a silence; it says when appends wait past
// stallLog, and when they are answered again. From the hello goroutine,
// every second.
func (l *turnLog) retry() {
	now := time.Now()
	var ids []uint64
	var as []*logAppend
	var oldestID uint64
	var oldest *logAppend
	l.mu.Lock()
	back := l.back
	l.back = false
	for id, a := range l.pending {
		if oldest == nil || a.first.Before(oldest.first) {
			oldestID, oldest = id, a
		}
		due := now.Sub(a.sent) >= min(appendRetry<<min(a.tries-1, 8), appendRetryMax)
		if back && a.tries > 1 {
			due, a.tries = true, 1 // JetStream answers again: no more waiting
		}
		if due {
			a.sent = now
			a.tries++
			ids, as = append(ids, id), append(as, a)
		}
	}
	var waited time.Duration
	if oldest != nil {
		waited = now.Sub(oldest.first)
	}
	if oldest != nil && waited >= appendRetry && now.Sub(l.answered) >= appendRetry && !l.silent {
		l.silent, l.silentSince = true, oldest.first
	}
	if l.silent && oldest != nil && len(ids) == 0 && now.Sub(l.probed) >= appendRetry {
		oldest.sent = now
		ids, as = append(ids, oldestID), append(as, oldest)
	}
	if len(ids) > 0 && l.silent {
		l.probed = now
	}
	logStall := !l.stalled && waited >= stallLog
	logBack := l.stalled && !l.silent && waited < stallLog
	if logStall {
		l.stalled = true
		l.stalls.Add(1)
	}
	if logBack {
		l.stalled = false
	}
	pending, since := len(l.pending), l.silentSince
	l.mu.Unlock()
	switch {
	case logStall:
		l.n.log.Warn("cluster: JetStream has not answered the turn log's appends: no quorum? The rooms waiting refuse their clients' items until it answers",
			"waited", waited.Round(time.Millisecond), "appends_waiting", pending)
	case logBack:
		l.n.log.Info("cluster: JetStream answers the turn log's appends again; the rooms go on",
			"after", now.Sub(since).Round(time.Millisecond), "appends_waiting", pending)
	}
	for i, id := range ids {
		l.retries.Add(1)
		l.send(id, as[i])
	}
}

// waiting returns the appends waiting for their answer and how long the
// oldest of them has waited.
func (l *turnLog) waiting() (n int, oldest time.Duration) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.pending {
		oldest = max(oldest, now.Sub(a.first))
	}
	return len(l.pending), oldest
}

// fence appends this node's owner entry to a room's log after sequence
// last, and waits for the answer (at most timeout). On the restorer.
func (l *turnLog) fence(room string, last uint64, timeout time.Duration) error {
	l.mu.Lock()
	l.last[room] = last
	l.mu.Unlock()
	res := make(chan error, 1)
	l.Append(room, rooms.Entry{Kind: rooms.EntryOwner, Time: time.Now(), Session: l.n.opts.Node}, func(err error) { res <- err })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-t.C:
		return errors.New("cluster: no answer from JetStream to a turn log's fence")
	}
}

// forget drops what the log knows of a room that closed or left.
func (l *turnLog) forget(room string) {
	l.mu.Lock()
	delete(l.last, room)
	l.mu.Unlock()
}

// read returns a room's entries and the last sequence of its subject.
func (l *turnLog) read(ctx context.Context, js jetstream.JetStream, room string) ([]rooms.Entry, uint64, error) {
	subj := roomLogPrefix + room
	st, err := js.Stream(ctx, streamRoomLog)
	if err != nil {
		return nil, 0, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return nil, 0, err
	}
	count := info.State.Subjects[subj]
	if count == 0 {
		return nil, 0, nil
	}
	// One get per entry, each bound by ctx (an ordered consumer retries
	// forever when its server goes): a room's log is tens of entries.
	entries := make([]rooms.Entry, 0, count)
	var last uint64
	for seq := uint64(1); uint64(len(entries)) < count; seq = last + 1 {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return nil, 0, err
		}
		var e rooms.Entry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
		last = m.Sequence
	}
	return entries, last, nil
}

// subjMoved carries "<room id> <node>": a node rebuilt a room taken over;
// and "lobby <node> <epoch>": a node took the lobby over (lobby.go).
const subjMoved = "cp.moved"

// onMoved notes where a room taken over lives now.
func (n *Node) onMoved(m *nats.Msg) {
	room, tag, ok := strings.Cut(string(m.Data), " ")
	if room == lobbyKey {
		// "lobby <node> <epoch>" (announceLobby)
		tag, e, _ := strings.Cut(tag, " ")
		if epoch, err := strconv.ParseUint(e, 10, 32); err == nil && comet.ValidTag(tag) {
			n.setGamesNode(tag, uint32(epoch))
		}
		return
	}
	if ok && comet.ValidTag(tag) {
		n.moved.set(room, tag)
	}
}

// roomNodes maps the rooms that live on another node than their id's
// prefix names (taken over) to that node. Safe for concurrent use; read
// for every room publish (ForwardClaim, OwnsRoom) and written rarely, so a
// sync.Map: its reads take no lock.
type roomNodes struct{ m sync.Map }

func (r *roomNodes) get(id string) (string, bool) {
	tag, ok := r.m.Load(id)
	if !ok {
		return "", false
	}
	return tag.(string), true
}

func (r *roomNodes) set(id, tag string) {
	if tag == "" || strings.HasPrefix(id, tag+"-") {
		r.m.Delete(id)
		return
	}
	r.m.Store(id, tag)
}

// roomNode returns the node of a room or a token id ("" none): the owner
// a record names if the room was taken over, else the one its prefix
// names.
func (n *Node) roomNode(id string) string {
	if tag, ok := n.moved.get(id); ok {
		return tag
	}
	return RoomOwner(id)
}

// restorePatience is how long a node tries to read and fence the log of a
// room it took over (JetStream electing new leaders after a server died)
// before it gives the room up.
const restorePatience = 30 * time.Second

// logMaxAge bounds how long JetStream keeps a room's log: a room's log is
// purged when the room closes (its record deleted), and one nobody purged
// (its node died and nobody could rebuild the room) goes after this.
const logMaxAge = 24 * time.Hour

// purgeLog removes a closed room's log (after its record's deletion: this
// node owned it to the end). Fire and forget: what is not purged goes at
// logMaxAge.
func (n *Node) purgeLog(room string) {
	if n.tlog == nil {
		return
	}
	n.tlog.forget(room)
	b, _ := json.Marshal(map[string]string{"filter": roomLogPrefix + room})
	n.out.push(msg{subj: "$JS.API.STREAM.PURGE." + streamRoomLog, reply: "cp.n." + n.opts.Node + ".jpurge", data: b})
}

// takenRoom is a room whose record this node won, to rebuild.
type takenRoom struct {
	room string
	inc  string // the incarnation of the lease it was taken with
	rev  uint64 // its record's revision
}

// restoring queues the rebuilding of a room this node took over (the
// ownership goroutine: reading the log takes round trips, which the
// restorer makes).
func (o *ownership) restoring(room, inc string, rev uint64) {
	o.mu.Lock()
	o.restores = append(o.restores, takenRoom{room, inc, rev})
	if o.rebuilding[room] == 0 {
		o.nRebuilding.Add(1)
	}
	o.rebuilding[room]++
	o.mu.Unlock()
	signal(o.restoreWake)
}

// isRebuilding reports whether room was taken over by this node and is not
// rebuilt yet (nor given up): its publishes are answered "not available,
// try again" meanwhile, not "no such room", which a client takes as the
// end of its game. Safe for concurrent use.
func (o *ownership) isRebuilding(room string) bool {
	if o.nRebuilding.Load() == 0 {
		return false // the usual case, without the lock: every room publish asks
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rebuilding[room] > 0
}

// restoreWorkers is how many rooms taken over a node rebuilds at once.
// Rebuilding a room is mostly waiting for JetStream (reading its log, an
// answer per entry, and fencing it): one at a time, a dead node's 1,000
// rooms took 5-10 s more than its lease to come back (bench
// cluster-recover); the rooms are independent (a Manager restores rooms
// concurrently as its executors run them).
const restoreWorkers = 16

// restorer rebuilds the rooms this node took over, restoreWorkers at a
// time, in the order they were taken, until stop. restoreWorkers
// goroutines per node.
func (n *Node) restorer(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range restoreWorkers {
		wg.Go(func() { n.restoreLoop(stop) })
	}
	wg.Wait()
}

// restoreLoop is one of the restorer's goroutines: it takes the next room
// to rebuild, waking another for the one after.
func (n *Node) restoreLoop(stop <-chan struct{}) {
	o := n.own
	for {
		select {
		case <-stop:
			return
		case <-o.restoreWake:
		}
		for {
			o.mu.Lock()
			if len(o.restores) == 0 {
				o.restores = nil
				o.mu.Unlock()
				break
			}
			t := o.restores[0]
			o.restores = o.restores[1:]
			more := len(o.restores) > 0
			o.mu.Unlock()
			if more {
				signal(o.restoreWake)
			}
			n.restore(t)
			select {
			case <-stop:
				return
			default:
			}
		}
	}
}

// restore rebuilds a room taken over from its turn log. A room that cannot
// be rebuilt (no log: NoTurnLog, or its node made it before the log; an
// error) is gone: the lobby is told, and its record and log are deleted.
func (n *Node) restore(t takenRoom) {
	o := n.own
	m := n.roomsManager()
	restored := false
	defer func() {
		o.mu.Lock()
		if o.rebuilding[t.room]--; o.rebuilding[t.room] <= 0 {
			delete(o.rebuilding, t.room)
			o.nRebuilding.Add(-1)
		}
		o.mu.Unlock()
		if !restored {
			return
		}
		if _, here := m.Room(t.room); !here {
			// It closed at once, while its removal was not heard
			// (roomChanged): its record goes now.
			o.roomChanged(rooms.RoomInfo{ID: t.room}, true)
		}
	}()
	// lapsed: the lease this node took the room with is lost. The record
	// names that incarnation: an orphan again, which a node takes (this
	// one too) and rebuilds; this rebuild stops without a word.
	lapsed := func() bool { return o.incarnation() != t.inc }
	gone := func(why string, err error) {
		n.log.Warn("cluster: a room taken over cannot be rebuilt; it is gone", "room", t.room, "why", why, "err", err)
		if n.tlog != nil {
			n.tlog.restoreFailed.Add(1)
		}
		n.moved.set(t.room, "")
		o.mu.Lock()
		delete(o.known, t.room)
		o.toDelete = append(o.toDelete, t.room)
		o.revs[t.room] = t.rev
		o.mu.Unlock()
		n.roomGone(t.room)
		o.poke()
	}
	if n.tlog == nil || m == nil {
		gone("no turn log here", nil)
		return
	}
	// Read the log, then fence it: an entry of this node's after the last
	// one read, which a deposed owner still running (stalled past its
	// lease) cannot follow. Its appends are refused from then on and it
	// evicts the room. If it appended after the read, read again.
	// JetStream may be electing new leaders meanwhile (the dead node's
	// server led some): what fails for a while is tried again.
	var entries []rooms.Entry
	for try, until := 0, time.Now().Add(restorePatience); ; try++ {
		if try > 0 && !sleep(n.stop, time.Duration(min(try, 10))*100*time.Millisecond) || lapsed() {
			return
		}
		// Short tries: a request to a stream whose leader is gone waits
		// for its timeout, while a new leader is usually there in a
		// second or two.
		ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
		es, last, err := n.tlog.read(ctx, o.js, t.room)
		cancel()
		if err == nil && len(es) == 0 {
			gone("it has no turn log", nil)
			return
		}
		if err == nil {
			if err = n.tlog.fence(t.room, last, kvTimeout); err == nil {
				entries = es
				break
			}
		}
		if time.Now().After(until) && !lapsed() {
			gone("its turn log cannot be read and fenced", err)
			return
		}
		n.log.Debug("cluster: rebuilding a room taken over: tried again", "room", t.room, "err", err)
	}
	// This node's before the room says anything: its info marks it known
	// (no record to create: the take wrote it).
	o.mu.Lock()
	if o.inc != t.inc {
		o.mu.Unlock()
		return // lapsed
	}
	o.known[t.room] = true
	o.revs[t.room] = t.rev
	o.mu.Unlock()
	err := m.Restore(t.room, entries[0].Game, entries)
	if errors.Is(err, rooms.ErrRoomExists) {
		// An instance of the room from before is here, not being evicted:
		// rebuilt by an earlier take of this node's, with a lease lost
		// since. The log, fenced just now, is the room: that instance's
		// appends are refused from now on. It goes without a word, and
		// this one replaces it (Restore replaces a room being evicted).
		m.Evict(t.room)
		err = m.Restore(t.room, entries[0].Game, entries)
	}
	if err != nil {
		n.tlog.forget(t.room)
		gone("its turn log does not replay", err)
		return
	}
	restored = true
	n.tlog.restored.Add(1)
	// Every node routes the room here from its watch of the records; a
	// watch may lag (its consumer moving after a server died): say it too.
	n.out.push(msg{subj: subjMoved, data: []byte(t.room + " " + n.opts.Node)})
	n.log.Info("cluster: a room taken over was rebuilt from its turn log", "room", t.room, "entries", len(entries))
}

// Journal implements games.Cluster: the rooms' turn log (nil with
// NoTurnLog).
func (n *Node) Journal() rooms.Journal {
	if n.tlog == nil {
		return nil
	}
	return n.tlog
}

// HandOver implements games.RoomHandover: at a graceful stop, this node's
// rooms go to the other nodes at once instead of closing. It forgets them
// (their records and logs stay), evicts each (stopped without a word,
// once the output of the items already processed has gone out), and
// deletes the node's lease: the others take the records at once, not a
// lease's length later, and rebuild the rooms from their logs. The
// members homed here lose their sessions with the node: their clients
// join again elsewhere and reclaim their seats with their tokens, which
// the other nodes find (directory.tokenNode). It returns false, and the
// rooms close as on one node, without the turn log, a lease or another
// node.
func (n *Node) HandOver(ctx context.Context, m *rooms.Manager) bool {
	o := n.own
	if n.tlog == nil || len(n.Peers()) == 0 {
		return false
	}
	o.mu.Lock()
	if o.inc == "" {
		o.mu.Unlock()
		return false
	}
	o.leaving = true
	clear(o.known)
	clear(o.toCreate)
	clear(o.revs)
	o.toDelete = nil
	o.mu.Unlock()
	ids := m.RoomIDs()
	for _, id := range ids {
		if m.Evict(id) == nil {
			o.stats.handedOver.Add(1)
		}
		n.tlog.forget(id)
	}
	_ = m.WaitIdle(ctx)
	o.leave()
	// The others look for its rooms at once.
	n.out.push(msg{subj: "cp.nodes", data: []byte(byePrefix + n.opts.Node)})
	n.log.Info("cluster: this node's rooms are handed over to the other nodes", "rooms", len(ids))
	return true
}
