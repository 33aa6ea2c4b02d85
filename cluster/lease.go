package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cometplay/cometplay/rooms"
)

// Room ownership, in two JetStream key-value buckets every node watches:
//
//	cp_nodes  node tag → its lease {inc}: created by the node (Create, so
//	          two live nodes can never share a tag), renewed every second
//	          by compare-and-swap on its revision (Update), expired when
//	          not renewed for LeaseTTL (the bucket's TTL)
//	cp_rooms  room id → its owner record {node, inc, epoch}: created by
//	          the node that made the room, deleted when the room closes,
//	          and taken over only by compare-and-swap (a write expecting
//	          the revision the taker saw), so a record has one writer at a
//	          time
//
// A record is live while its node holds the lease it names (node and
// incarnation, rewritten less than LeaseTTL ago as this node saw it: NATS
// removes expired keys lazily); otherwise the room is an orphan: its node
// died, stalled past its lease, or restarted. Every node sees orphans in
// its watches; the room's preferred successor (highest rendezvous hash of
// the room id among the live nodes) takes the record at once, the others
// a second later if it is still an orphan; compare-and-swap lets exactly
// one win.
//
// Fencing: a node that finds its renewal refused (its lease expired), or
// sees one of its rooms' records taken or deleted by another, evicts those
// rooms (rooms.Manager.Evict: stopped without a
// word), so a stale owner stops publishing once it knows. The turn log of
// issue 14 closes the window before it knows: each of a room's outputs
// will be released only after an append fenced by the log's expected
// sequence. Until then a room cannot be rebuilt elsewhere, so the node
// that takes an orphan's record tells the lobby the room is gone and
// deletes the record. The room's players are not told (its members were
// in the dead node's memory): their moves still go to the room's first
// node by its id and are answered "not available, try again".
//
// Records are written in batches in flight together (one round trip per
// batch), a slice of work at a time, so that the watches are read while
// thousands of rooms are made or taken at once. The lease is renewed on a
// goroutine of its own, which never waits behind them.

// Bucket names and timing.
const (
	bucketNodes = "cp_nodes"
	bucketRooms = "cp_rooms"

	// DefaultLeaseTTL is how long a node's lease lasts without renewal:
	// a dead node's rooms are orphans this long after its last renewal.
	DefaultLeaseTTL = 4 * time.Second
	renewEvery      = time.Second
	// successorDelay is how long the nodes other than a room's preferred
	// successor wait before they try to take an orphan's record.
	successorDelay = time.Second
	// kvTimeout bounds one key-value call.
	kvTimeout = 2 * time.Second
	// workSlice bounds one go at writing records or taking orphans: the
	// watches, read on the same goroutine, must not wait behind a flood of
	// them (a ramp of thousands of rooms, a dead node's thousands). What
	// is left goes on after the watches' turn.
	workSlice = 200 * time.Millisecond
)

// leaseValue is a node's lease in cp_nodes.
type leaseValue struct {
	Inc string `json:"inc"` // this run of the node: random
}

// ownerRecord is a room's owner in cp_rooms.
type ownerRecord struct {
	Node  string `json:"node"`
	Inc   string `json:"inc"`   // the owner's lease incarnation
	Epoch uint32 `json:"epoch"` // 1 at creation, +1 at each takeover
}

type cachedRecord struct {
	ownerRecord
	rev uint64
}

// ownership is a node's side of room ownership. Its goroutine (run) is the
// only one that writes to cp_rooms, and its renewer the only one that
// writes the node's lease; the rooms' executors only queue what run must
// write (ownership.roomChanged).
type ownership struct {
	n   *Node
	ttl time.Duration

	mu       sync.Mutex
	inc      string              // the incarnation of the lease held ("" none)
	leaseRev uint64              // the lease's revision
	until    time.Time           // the lease is surely valid until then (local clock)
	known    map[string]bool     // this node's rooms: whether their record is written (or being written)
	toCreate map[string]struct{} // rooms whose record is to be written
	toDelete []string            // closed rooms whose written record is to be deleted
	revs     map[string]uint64   // the revision of this node's records, from their writes' acks
	wake     chan struct{}
	ready    chan struct{}                   // closed once the first lease is held
	stalled  chan struct{}                   // tests: while set, run waits, as a stopped process would
	delay    time.Duration                   // successorDelay (tests: 0, every node races)
	manual   bool                            // tests: orphans are taken on kick only
	kick     chan struct{}                   // take orphans now
	took     func(room string, epoch uint32) // tests: each take won
	storeDir string                          // a temporary store to remove at Close ("" none)
	leaving  bool                            // the node handed its rooms over (HandOver): no lease any more
	suspects []string                        // nodes gone quiet or that said goodbye: their leases are read at once
	// healthySince: since when JetStream has answered every renewal of
	// this node's lease (zero: the last went unanswered). Only a node
	// whose own renewals have been answered for a lease's length judges
	// another's lease gone by its age or its absence (leaseGone): after a
	// JetStream stall every lease looks old, and keys expire, although
	// their nodes are alive and renewing again.
	healthySince time.Time
	renewNow     chan struct{} // the lease was lost: take a new one now (renewer)

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	// Owned by run.
	nodes   map[string]seenLease // leases in the bucket, by node
	records map[string]cachedRecord
	due     map[string]time.Time // orphans this node waits to try, by room
	js      jetstream.JetStream
	nodesKV jetstream.KeyValue
	roomsKV jetstream.KeyValue
	taking  []write // orphans' records being taken (takeOrphans)
	// lateTakes are this node's takes whose answer did not come (room →
	// the epoch written): JetStream may have written one after all (a
	// quorum back after the write's timeout), which the watch then shows
	// as this node's record, and the room is rebuilt here (onRecord).
	lateTakes map[string]uint32

	restores    []takenRoom    // rooms taken over, to rebuild (restorer; guarded by mu)
	rebuilding  map[string]int // rooms taken over and not rebuilt yet: the rebuilds under way (guarded by mu)
	nRebuilding atomic.Int32   // len(rebuilding), read without mu on every room publish (OwnsRoom)
	restoreWake chan struct{}  // restores has some

	stats struct {
		renewals, lost, created, deleted, adopted, refused, evicted, handedOver atomic.Int64
	}
}

// seenLease is a node's lease as this node's watch saw it last.
type seenLease struct {
	inc  string
	seen time.Time // when the watch delivered its last write
	rev  uint64    // that write's revision
}

// write is one write to cp_rooms, made with the others of its batch.
type write struct {
	kind  byte // 'c' create, 'd' delete, 't' take (an orphan's record)
	room  string
	rev   uint64 // delete, take: the revision the write expects
	epoch uint32 // take: the record's epoch, + 1
}

// recordBatch is how many writes to cp_rooms are in flight at once.
const recordBatch = 256

func newOwnership(n *Node, ttl time.Duration) *ownership {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &ownership{n: n, ttl: ttl, ctx: ctx, cancel: cancel, delay: successorDelay, known: make(map[string]bool), toCreate: make(map[string]struct{}), revs: make(map[string]uint64), rebuilding: make(map[string]int), wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), restoreWake: make(chan struct{}, 1),
		renewNow: make(chan struct{}, 1), ready: make(chan struct{}),
		nodes: make(map[string]seenLease), records: make(map[string]cachedRecord), due: make(map[string]time.Time), lateTakes: make(map[string]uint32)}
}

// roomChanged is the rooms Manager's OnRoomChange: a new room's record is
// queued for creation, a closed room's for deletion. On an executor: it
// only queues.
func (o *ownership) roomChanged(info rooms.RoomInfo, removed bool) {
	o.mu.Lock()
	written, known := o.known[info.ID]
	switch {
	case removed && o.rebuilding[info.ID] > 0:
		// The end of an instance of the room from before its rebuild here
		// (evicted with a lease this node lost), not of the room: the
		// rebuild's end checks that the room is here (restore).
		o.mu.Unlock()
		return
	case removed && known:
		// A record never written is just forgotten: what waits for
		// JetStream (a node alone, no quorum) is the rooms open, not
		// every room that ever was.
		delete(o.known, info.ID)
		delete(o.toCreate, info.ID)
		if written {
			o.toDelete = append(o.toDelete, info.ID)
		}
	case !removed && !known:
		o.known[info.ID] = false
		o.toCreate[info.ID] = struct{}{}
	default:
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	o.poke()
}

func (o *ownership) poke() { signal(o.wake) }

// signal makes c ready (a channel of one) unless it is already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// suspect asks the ownership goroutine to look at once for the rooms of
// nodes that said goodbye (HandOver): their
// records are candidates at once, and taken if the bucket says their
// leases are gone (leaseGone). Safe for concurrent use.
func (o *ownership) suspect(tags ...string) {
	o.mu.Lock()
	o.suspects = append(o.suspects, tags...)
	o.mu.Unlock()
	signal(o.kick)
}

// incarnation returns the incarnation of the lease held ("" none).
func (o *ownership) incarnation() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inc
}

// Holding reports whether the node holds its lease now, as far as it
// knows (renewed less than LeaseTTL − 1 s ago).
func (o *ownership) holding() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inc != "" && time.Now().Before(o.until)
}

// run is the ownership goroutine: it joins JetStream, takes the node's
// lease, writes the rooms' records and takes orphans', until stop. The
// lease is renewed on a goroutine of its own (renewer), started here: a
// flood of records to write or watch entries to read (thousands of rooms
// made at once, a dead node's thousands to take) must never delay a
// renewal past the lease's end, on a busy machine least of all.
func (o *ownership) run(stop <-chan struct{}) {
	if !o.setUp(stop) {
		return
	}
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		o.renewer(stop)
	}()
	// The renewer ends before the lease does (leave): it would take a new
	// one.
	defer func() { <-renewed }()
	nodes := &watch{kv: o.nodesKV, on: o.onNode, reset: func() { clear(o.nodes) }}
	recs := &watch{kv: o.roomsKV, on: o.onRecord, reset: func() { clear(o.records) }}
	defer nodes.stop()
	defer recs.stop()
	tick := time.NewTicker(renewEvery)
	defer tick.Stop()
	for {
		if !o.waitStalled(stop) {
			return
		}
		nodes.start(o.ctx, o.n)
		recs.start(o.ctx, o.n)
		select {
		case <-stop:
			<-renewed
			o.leave()
			return
		case e, ok := <-nodes.c:
			nodes.got(e, ok)
		case e, ok := <-recs.c:
			recs.got(e, ok)
		case <-o.wake:
			o.writeRecords()
		case <-o.kick:
			o.mu.Lock()
			suspects := o.suspects
			o.suspects = nil
			o.mu.Unlock()
			for _, tag := range suspects {
				// Judged by the bucket, not by a watch that may have
				// stalled with the server that went (leaseGone).
				delete(o.nodes, tag)
			}
			if nodes.up && recs.up {
				o.takeOrphans(len(suspects) == 0)
			}
		case <-tick.C:
			o.writeRecords()
			if nodes.up && recs.up {
				o.takeOrphans(false)
			}
		}
	}
}

// renewer renews the lease every renewEvery, and takes a new one at once
// when it was lost, until stop.
func (o *ownership) renewer(stop <-chan struct{}) {
	tick := time.NewTicker(renewEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		case <-o.renewNow:
		}
		if !o.waitStalled(stop) {
			return
		}
		o.renew()
	}
}

// waitStalled waits while the ownership is stalled (tests: stall); false
// if stopped first.
func (o *ownership) waitStalled(stop <-chan struct{}) bool {
	o.mu.Lock()
	stalled := o.stalled
	o.mu.Unlock()
	if stalled == nil {
		return true
	}
	select {
	case <-stalled:
		return true
	case <-stop:
		return false
	}
}

// watch is one of the node's two watches of a bucket.
type watch struct {
	kv    jetstream.KeyValue
	on    func(jetstream.KeyValueEntry)
	reset func()
	w     jetstream.KeyWatcher
	c     <-chan jetstream.KeyValueEntry
	up    bool // the bucket's values at the start are read
	retry time.Time
}

// start starts the watch if it is not running (a failed start is tried
// again a second later).
func (w *watch) start(ctx context.Context, n *Node) {
	if w.w != nil || time.Now().Before(w.retry) {
		return
	}
	// The watch lasts as long as its context: the node's.
	kw, err := w.kv.WatchAll(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cluster: watching a JetStream bucket", "bucket", w.kv.Bucket(), "err", err)
		}
		w.retry = time.Now().Add(time.Second)
		return
	}
	w.reset()
	w.w, w.c, w.up = kw, kw.Updates(), false
}

// got takes one entry of the watch (nil: the initial values are read; the
// channel closed: the watch ended and starts again).
func (w *watch) got(e jetstream.KeyValueEntry, ok bool) {
	switch {
	case !ok:
		w.stop()
	case e == nil:
		w.up = true
	default:
		w.on(e)
	}
}

func (w *watch) stop() {
	if w.w != nil {
		w.w.Stop()
	}
	w.w, w.c, w.up = nil, nil, false
}

// setUp waits for JetStream, makes (or binds) the buckets and takes the
// node's lease. False if stopped first.
func (o *ownership) setUp(stop <-chan struct{}) bool {
	js, err := jetstream.New(o.n.nc)
	if err != nil {
		o.n.log.Error("cluster: JetStream", "err", err)
		return false
	}
	o.js = js
	// Calls to JetStream's API made before its meta leader exists hang
	// until their timeout: ask for the account first, briefly.
	for warned := time.Now(); ; {
		ctx, cancel := context.WithTimeout(o.ctx, 250*time.Millisecond)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Since(warned) > 10*time.Second {
			o.n.log.Warn("cluster: waiting for JetStream (a quorum of the NATS servers)", "err", err)
			warned = time.Now()
		}
		if !sleep(stop, 250*time.Millisecond) {
			return false
		}
	}
	replicas := o.n.replicas()
	for _, b := range []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&o.nodesKV, jetstream.KeyValueConfig{Bucket: bucketNodes, History: 1, TTL: o.ttl, LimitMarkerTTL: time.Minute,
			Replicas: replicas, Storage: jetstream.FileStorage}},
		{&o.roomsKV, jetstream.KeyValueConfig{Bucket: bucketRooms, History: 1, Replicas: replicas, Storage: jetstream.FileStorage}},
	} {
		for warned := time.Now(); ; {
			ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
			kv, err := js.CreateKeyValue(ctx, b.cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = js.KeyValue(ctx, b.cfg.Bucket) // made by another node first
			}
			cancel()
			if err == nil {
				*b.kv = kv
				break
			}
			if time.Since(warned) > 10*time.Second {
				o.n.log.Warn("cluster: making a JetStream bucket", "bucket", b.cfg.Bucket, "replicas", replicas, "err", err)
				warned = time.Now()
			}
			if !sleep(stop, 250*time.Millisecond) {
				return false
			}
		}
	}
	if o.n.tlog != nil {
		for warned := time.Now(); ; {
			ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
			_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: streamRoomLog, Subjects: []string{roomLogPrefix + ">"},
				Replicas: replicas, Storage: jetstream.FileStorage, Duplicates: logDuplicates, MaxAge: logMaxAge})
			cancel()
			if err == nil {
				break
			}
			if time.Since(warned) > 10*time.Second {
				o.n.log.Warn("cluster: making the rooms' turn log stream", "stream", streamRoomLog, "replicas", replicas, "err", err)
				warned = time.Now()
			}
			if !sleep(stop, 250*time.Millisecond) {
				return false
			}
		}
	}
	for warned := time.Now(); !o.acquire(); {
		if time.Since(warned) > o.ttl+time.Second {
			o.n.log.Warn("cluster: the lease of this node's tag is held: another node runs with this tag, or this node's previous run is not yet expired", "node", o.n.opts.Node)
			warned = time.Now()
		}
		if !sleep(stop, 500*time.Millisecond) {
			return false
		}
	}
	close(o.ready)
	return true
}

// acquire creates the node's lease with a new incarnation.
func (o *ownership) acquire() bool {
	inc := randomInc()
	b, _ := json.Marshal(leaseValue{Inc: inc})
	start := time.Now()
	ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
	rev, err := o.nodesKV.Create(ctx, o.n.opts.Node, b)
	cancel()
	if err != nil {
		return false
	}
	o.mu.Lock()
	o.inc, o.leaseRev, o.until = inc, rev, start.Add(o.ttl-renewEvery)
	o.healthySince = start
	o.mu.Unlock()
	return true
}

// renew extends the lease by compare-and-swap on its revision. Refused,
// the lease is lost (it expired, and the node's rooms may have been taken
// over): the node evicts every room it has and takes a new lease.
func (o *ownership) renew() {
	o.mu.Lock()
	inc, rev, leaving := o.inc, o.leaseRev, o.leaving
	o.mu.Unlock()
	if leaving {
		return
	}
	if inc == "" {
		o.acquire()
		return
	}
	// A renewal after the lease's end (the node stalled, or JetStream had
	// no quorum) may still be taken: NATS removes an expired key lazily.
	// The other nodes may then have taken some of this node's rooms
	// meanwhile (they judge by the time of the last renewal they saw);
	// their records say so, and onRecord evicts those rooms one by one.
	b, _ := json.Marshal(leaseValue{Inc: inc})
	start := time.Now()
	ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
	newRev, err := o.nodesKV.Update(ctx, o.n.opts.Node, b, rev)
	cancel()
	switch {
	case err == nil:
		o.mu.Lock()
		if o.inc == inc { // not lost meanwhile (onNode)
			o.leaseRev, o.until = newRev, start.Add(o.ttl-renewEvery)
			if o.healthySince.IsZero() {
				o.healthySince = start
			}
		}
		o.mu.Unlock()
		o.stats.renewals.Add(1)
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) || errors.Is(err, jetstream.ErrKeyExists):
		if o.stillMine(inc) {
			return
		}
		o.lost(inc, "the lease expired")
	default:
		// No answer (no quorum, a slow server): the lease may still hold;
		// the next renewal tells.
		o.mu.Lock()
		o.healthySince = time.Time{}
		o.mu.Unlock()
		if !o.holding() {
			o.n.log.Warn("cluster: this node's lease could not be renewed in time", "err", err)
		}
	}
}

// stillMine tells a renewal refused for its revision from a lost lease: a
// renewal whose answer never came (no quorum, a timeout) may have been
// written all the same, and the next one then expects a revision that is
// no longer the last. The key holding this run's incarnation is still the
// node's lease: its revision is taken for the next renewal.
func (o *ownership) stillMine(inc string) bool {
	ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
	defer cancel()
	e, err := o.nodesKV.Get(ctx, o.n.opts.Node)
	if err != nil {
		return false
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) != nil || v.Inc != inc {
		return false
	}
	o.mu.Lock()
	if o.inc == inc {
		o.leaseRev = e.Revision()
	}
	o.mu.Unlock()
	return true
}

// lost handles the loss of the lease of incarnation inc (unless handled
// already): every room here is evicted (their records name the old
// incarnation: orphans, which a node takes), and the renewer takes a new
// lease.
func (o *ownership) lost(inc, why string) {
	o.mu.Lock()
	if inc == "" || o.inc != inc {
		o.mu.Unlock()
		return
	}
	o.stats.lost.Add(1)
	o.inc, o.leaseRev = "", 0
	clear(o.known)
	clear(o.toCreate)
	clear(o.revs)
	o.toDelete = nil
	o.mu.Unlock()
	m := o.n.roomsManager()
	var ids []string
	if m != nil {
		ids = m.RoomIDs()
		for _, id := range ids {
			if m.Evict(id) == nil {
				o.stats.evicted.Add(1)
			}
		}
	}
	o.n.log.Warn("cluster: this node lost its lease; its rooms are evicted", "why", why, "rooms", len(ids))
	signal(o.renewNow)
}

// writeRecords writes the records waiting, in batches of writes in
// flight together (one round trip to JetStream for a batch, not one per
// record): creations with the current incarnation, deletions on the
// revision written. A slice of work at a time (workSlice).
func (o *ownership) writeRecords() {
	for end := time.Now().Add(workSlice); ; {
		ws, inc := o.nextWrites()
		if len(ws) == 0 {
			return
		}
		o.writeBatch(ws, inc)
		if time.Now().After(end) {
			o.poke() // the rest after the watches' turn
			return
		}
	}
}

// nextWrites takes the next batch of records to write: deletions first.
func (o *ownership) nextWrites() ([]write, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inc == "" {
		return nil, ""
	}
	var ws []write
	for len(o.toDelete) > 0 && len(ws) < recordBatch {
		id := o.toDelete[0]
		o.toDelete = o.toDelete[1:]
		rev, ok := o.revs[id]
		delete(o.revs, id)
		if !ok {
			// Its create's answer never came: the record as the watch saw
			// it, if it is this node's.
			rec, seen := o.records[id]
			if !seen || rec.Node != o.n.opts.Node || rec.Inc != o.inc {
				continue
			}
			rev = rec.rev
		}
		ws = append(ws, write{kind: 'd', room: id, rev: rev})
	}
	for id := range o.toCreate {
		if len(ws) >= recordBatch {
			break
		}
		delete(o.toCreate, id)
		o.known[id] = true // a close from now on deletes it
		ws = append(ws, write{kind: 'c', room: id})
	}
	return ws, o.inc
}

// writeBatch makes the writes of a batch and waits for their answers (at
// most kvTimeout). A take won is the node's: it tells the lobby the room
// is gone and queues the record's deletion. A create or a delete that
// failed for another reason than compare-and-swap, or whose answer did not
// come, is queued again (for the next tick, not at once: JetStream may be
// down); a take is tried again at the next look if still an orphan.
func (o *ownership) writeBatch(ws []write, inc string) {
	futures := make([]jetstream.PubAckFuture, len(ws))
	var again []write
	for i, w := range ws {
		m := nats.NewMsg("$KV." + bucketRooms + "." + w.room)
		switch w.kind {
		case 'c':
			m.Data, _ = json.Marshal(ownerRecord{Node: o.n.opts.Node, Inc: inc, Epoch: 1})
		case 't':
			m.Data, _ = json.Marshal(ownerRecord{Node: o.n.opts.Node, Inc: inc, Epoch: w.epoch})
		case 'd':
			m.Header.Set("KV-Operation", "DEL")
		}
		// Compare-and-swap: a create expects no record, the others the
		// revision they saw.
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(w.rev, 10))
		f, err := o.js.PublishMsgAsync(m)
		if err != nil {
			again = append(again, w)
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(kvTimeout)
	defer timeout.Stop()
	timedOut := false
	for i, f := range futures {
		if f == nil {
			continue
		}
		w := ws[i]
		if timedOut {
			select {
			case ack := <-f.Ok():
				o.written(w, inc, ack.Sequence)
			default:
				again = append(again, w)
				o.takeLate(w)
			}
			continue
		}
		select {
		case ack := <-f.Ok():
			o.written(w, inc, ack.Sequence)
		case err := <-f.Err():
			switch {
			case !casRefused(err):
				again = append(again, w)
				o.takeLate(w)
			case w.kind == 't':
				o.stats.refused.Add(1) // another node took it first, or it changed
			case w.kind == 'c':
				// A create retried after an answer that never came: written
				// the first time if the record is this node's. Not known
				// yet (a read that failed): tried again.
				switch rev, mine, err := o.recordOf(w.room, inc); {
				case err != nil:
					again = append(again, w)
				case mine:
					o.written(w, inc, rev)
				}
			}
		case <-timeout.C:
			o.n.log.Warn("cluster: no answer from JetStream in time for room owner records; tried again", "writes", len(ws)-i)
			timedOut = true
			again = append(again, w)
			o.takeLate(w)
		case <-o.ctx.Done():
			return
		}
	}
	o.requeue(again)
}

// takeLate notes a take whose answer did not come (or an error that does
// not say it was not written): see lateTakes.
func (o *ownership) takeLate(w write) {
	if w.kind == 't' {
		o.lateTakes[w.room] = w.epoch
	}
}

// casRefused reports whether err is JetStream refusing a write for its
// expected revision (the compare of compare-and-swap).
func casRefused(err error) bool {
	var e *jetstream.APIError
	return errors.As(err, &e) && wrongLastSequence(e.ErrorCode)
}

// wrongLastSequence reports whether a JetStream error code says a write's
// expected last sequence was not the stream's or subject's (a replicated
// stream answers with the second code).
func wrongLastSequence(code jetstream.ErrorCode) bool {
	return code == jetstream.JSErrCodeStreamWrongLastSequence || code == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// recordOf returns the revision of room's record and whether it is this
// node's (incarnation inc): from the watch if it delivered it, else read
// from the bucket (err: that read failed).
func (o *ownership) recordOf(room, inc string) (uint64, bool, error) {
	if rec, ok := o.records[room]; ok && rec.Node == o.n.opts.Node && rec.Inc == inc {
		return rec.rev, true, nil
	}
	ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
	defer cancel()
	e, err := o.roomsKV.Get(ctx, room)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	var r ownerRecord
	if json.Unmarshal(e.Value(), &r) != nil || r.Node != o.n.opts.Node || r.Inc != inc {
		return 0, false, nil
	}
	return e.Revision(), true, nil
}

// requeue queues again the creates and deletes of ws (takes are tried
// again at the next look for orphans).
func (o *ownership) requeue(ws []write) {
	if len(ws) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range ws {
		switch w.kind {
		case 'c':
			// Still marked written: if it closes meanwhile, its delete
			// finds the record in the watch, should the first try have
			// written it after all.
			if _, open := o.known[w.room]; open {
				o.toCreate[w.room] = struct{}{}
			}
		case 'd':
			o.toDelete = append(o.toDelete, w.room)
			o.revs[w.room] = w.rev
		}
	}
}

// written takes the answer to a write that succeeded, made with the lease
// of incarnation inc.
func (o *ownership) written(w write, inc string, rev uint64) {
	if w.kind != 'd' && o.incarnation() != inc {
		// The lease was lost meanwhile (renewer): the record names the
		// old incarnation, an orphan, which a node takes (this one too).
		return
	}
	if w.room == lobbyKey {
		o.mu.Lock()
		o.known[lobbyKey] = true
		o.revs[lobbyKey] = rev
		o.mu.Unlock()
		if w.kind == 't' || w.kind == 'c' && o.n.opts.Games != o.n.opts.Node {
			epoch := max(w.epoch, 1)               // a create writes epoch 1
			o.n.setGamesNode(o.n.opts.Node, epoch) // its watch says so too, later
			o.n.announceLobby(epoch)
		}
		return
	}
	switch w.kind {
	case 'c':
		o.stats.created.Add(1)
		o.mu.Lock()
		o.revs[w.room] = rev // for its deletion, queued when it closes (or already)
		o.mu.Unlock()
	case 'd':
		o.stats.deleted.Add(1)
		o.n.purgeLog(w.room)
	case 't':
		delete(o.lateTakes, w.room) // written: not to be rebuilt again when the watch shows it
		o.stats.adopted.Add(1)
		o.mu.Lock()
		took := o.took
		o.mu.Unlock()
		if took != nil {
			took(w.room, w.epoch)
		}
		o.n.moved.set(w.room, o.n.opts.Node)
		o.restoring(w.room, inc, rev)
	}
}

// leaseGone confirms, by reading it, that the lease a record names is gone
// before its room is taken: a watch that stalls (its consumer moving to
// another NATS server after one died) delivers no renewal for a while, and
// every node then looks dead. Gone: the key names another incarnation,
// or, once this node's own renewals have been answered for LeaseTTL
// (healthySince), the key is not there or was last written (by the NATS
// server's clock) LeaseTTL ago or more: right after JetStream stalled,
// every live node's key looks old or has expired, and its node renews it
// at its next turn. A lease renewed since the watch's last delivery is alive
// (and noted so). What cannot be read counts as alive, for now. The
// answers are kept in checked for the rest of one look.
func (o *ownership) leaseGone(node, inc string, checked map[string]bool) bool {
	key := node + "/" + inc
	if v, ok := checked[key]; ok {
		return v
	}
	if o.n.routeGone(node) {
		checked[key] = true // its NATS server is gone: so is its process (routes.go)
		return true
	}
	// Age and absence say nothing right after a JetStream stall
	// (healthySince); another incarnation does.
	o.mu.Lock()
	healthy := o.healthySince
	o.mu.Unlock()
	judge := !healthy.IsZero() && time.Since(healthy) >= o.ttl
	ctx, cancel := context.WithTimeout(o.ctx, kvTimeout)
	e, err := o.nodesKV.Get(ctx, node)
	cancel()
	gone := false
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		gone = judge
	case err != nil:
	default:
		var v leaseValue
		json.Unmarshal(e.Value(), &v)
		seen := o.nodes[node]
		switch {
		case v.Inc != inc:
			gone = true
		case e.Revision() > seen.rev:
			o.nodes[node] = seenLease{inc: v.Inc, seen: time.Now(), rev: e.Revision()}
		default:
			gone = judge && time.Since(e.Created()) >= o.ttl
		}
	}
	checked[key] = gone
	return gone
}

// onNode follows cp_nodes: the live leases.
func (o *ownership) onNode(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		delete(o.nodes, e.Key())
		if e.Key() == o.n.opts.Node {
			// The removal of this node's key, unless of a lease it has
			// replaced since.
			o.mu.Lock()
			inc := o.inc
			held := inc != "" && e.Revision() > o.leaseRev
			o.mu.Unlock()
			if held {
				o.lost(inc, "the lease expired")
			}
		}
		return
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) == nil {
		o.nodes[e.Key()] = seenLease{inc: v.Inc, seen: time.Now(), rev: e.Revision()}
	}
}

// alive reports whether node's lease of incarnation inc is alive as far as
// this node can tell: in the bucket, and renewed (its last write seen here)
// less than LeaseTTL ago. NATS removes an expired key lazily (up to
// another TTL late); a key not rewritten for LeaseTTL is expired, however
// late NATS notices: its holder stopped renewing at least that long ago,
// and holds itself valid for a second less.
func (o *ownership) alive(node, inc string, now time.Time) bool {
	l, ok := o.nodes[node]
	return ok && l.inc == inc && now.Sub(l.seen) <= o.ttl
}

// onRecord follows cp_rooms. A room of this node's whose record names
// another owner now is evicted.
func (o *ownership) onRecord(e jetstream.KeyValueEntry) {
	id := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		delete(o.records, id)
		delete(o.due, id)
		delete(o.lateTakes, id)
		o.n.moved.set(id, "")
		// This node deletes the records of its rooms once they closed
		// (forgetting them first): one deleted while the room is still
		// here was taken over (and closed) by another node.
		o.evictIfMine(id, "")
		return
	}
	var r ownerRecord
	if json.Unmarshal(e.Value(), &r) != nil {
		return
	}
	o.records[id] = cachedRecord{ownerRecord: r, rev: e.Revision()}
	if id == lobbyKey {
		o.n.setGamesNode(r.Node, r.Epoch)
	} else {
		o.n.moved.set(id, r.Node)
	}
	o.mu.Lock()
	inc := o.inc
	o.mu.Unlock()
	ours := r.Node == o.n.opts.Node && r.Inc == inc
	if epoch, late := o.lateTakes[id]; late {
		delete(o.lateTakes, id)
		if ours && r.Epoch == epoch {
			// A take of this node's written after its answer was given
			// up for lost: the room is this node's, to rebuild.
			o.n.log.Info("cluster: a room's take was written after all; the room is rebuilt here", "room", id)
			o.written(write{kind: 't', room: id, epoch: epoch}, inc, e.Revision())
			return
		}
	}
	if !ours {
		o.evictIfMine(id, r.Node)
	}
}

// evictIfMine evicts a room of this node whose record says it is not its
// own any more.
func (o *ownership) evictIfMine(id, owner string) {
	o.mu.Lock()
	_, mine := o.known[id]
	delete(o.known, id)
	delete(o.toCreate, id)
	delete(o.revs, id)
	o.mu.Unlock()
	if !mine {
		return
	}
	if o.n.tlog != nil {
		o.n.tlog.forget(id)
	}
	if m := o.n.roomsManager(); m != nil && m.Evict(id) == nil {
		o.stats.evicted.Add(1)
		o.n.log.Warn("cluster: a room of this node was taken over; evicted", "room", id, "owner", owner)
	}
}

// takeOrphans tries to take the records of rooms whose owner's lease is
// gone: at once where this node is the room's preferred successor, after
// successorDelay elsewhere; in batches of writes in flight together, a
// slice of work at a time (workSlice).
func (o *ownership) takeOrphans(kicked bool) {
	o.mu.Lock()
	inc, delay, manual := o.inc, o.delay, o.manual
	leaving := o.leaving
	o.mu.Unlock()
	if inc == "" || leaving || manual && !kicked {
		return
	}
	now := time.Now()
	end := now.Add(workSlice)
	// The candidates for preferred successor: this node (holding its
	// lease) and the nodes heard saying hello, whose routes are up. Not
	// the leases' watch, which stalls for seconds while JetStream elects
	// a leader after a death: every node then saw itself alone, and the
	// survivors raced for every room.
	live := []string{o.n.opts.Node}
	for _, tag := range o.n.Peers() {
		if !o.n.routeGone(tag) {
			live = append(live, tag)
		}
	}
	successors := make(map[string][]string, 2) // by owner: live without it
	ws := o.taking[:0]
	checked := make(map[string]bool)
	for id, rec := range o.records {
		if o.alive(rec.Node, rec.Inc, now) || (rec.Node == o.n.opts.Node && rec.Inc == inc) {
			delete(o.due, id)
			continue
		}
		at, waiting := o.due[id]
		if !waiting {
			cands, ok := successors[rec.Node]
			if !ok {
				cands = slices.DeleteFunc(slices.Clone(live), func(tag string) bool { return tag == rec.Node })
				successors[rec.Node] = cands
			}
			at = now
			if preferred(id, cands) != o.n.opts.Node {
				at = now.Add(delay)
			}
			o.due[id] = at
		}
		if now.Before(at) {
			continue
		}
		delete(o.due, id) // tried once; due again at the next look if still an orphan
		if !o.leaseGone(rec.Node, rec.Inc, checked) {
			continue
		}
		ws = append(ws, write{kind: 't', room: id, rev: rec.rev, epoch: rec.Epoch + 1})
		if len(ws) == recordBatch {
			o.writeBatch(ws, inc)
			ws = ws[:0]
			if time.Now().After(end) {
				signal(o.kick) // the rest after the watches' turn
				break
			}
		}
	}
	if o.lobbyUnwritten(live, delay, now) {
		ws = append(ws, write{kind: 'c', room: lobbyKey})
	}
	if len(ws) > 0 {
		o.writeBatch(ws, inc)
	}
	clear(ws)
	o.taking = ws[:0]
}

// lobbyUnwritten reports whether this node should create the lobby's
// record: nobody has (its first games node, Options.Games, went before it
// held a lease, or never came), and that node has not been live (among
// live) for the lease's TTL, plus delay unless this node is the preferred
// successor. The create expects no record: one node wins, and every node
// follows it as after a take. Ownership goroutine, both watches up.
func (o *ownership) lobbyUnwritten(live []string, delay time.Duration, now time.Time) bool {
	games := o.n.opts.Games
	if _, ok := o.records[lobbyKey]; ok || games == o.n.opts.Node || slices.Contains(live, games) {
		delete(o.due, lobbyKey)
		return false
	}
	at, waiting := o.due[lobbyKey]
	if !waiting {
		at = now.Add(o.ttl)
		if preferred(lobbyKey, live) != o.n.opts.Node {
			at = at.Add(delay)
		}
		o.due[lobbyKey] = at
	}
	if now.Before(at) {
		return false
	}
	delete(o.due, lobbyKey) // tried once; due again if still unwritten
	return true
}

// leave ends the lease at Close, so that the others take what is left at
// once rather than after LeaseTTL.
func (o *ownership) leave() {
	o.mu.Lock()
	inc, rev := o.inc, o.leaseRev
	o.inc = ""
	o.mu.Unlock()
	if inc == "" {
		return
	}
	// Best effort: the last node of a cluster stopping has no quorum left
	// to write to, and its lease expires anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = o.nodesKV.Delete(ctx, o.n.opts.Node, jetstream.LastRevision(rev))
}

// preferred returns the room's preferred successor among nodes: the highest
// rendezvous hash of (room, node).
func preferred(room string, nodes []string) string {
	best, bestH := "", uint64(0)
	for _, tag := range nodes {
		h := fnv.New64a()
		h.Write([]byte(room))
		h.Write([]byte{0})
		h.Write([]byte(tag))
		if s := h.Sum64(); best == "" || s > bestH || (s == bestH && tag < best) {
			best, bestH = tag, s
		}
	}
	return best
}

func randomInc() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits d or until stop; false if stopped.
func sleep(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}

// tempStore makes a temporary JetStream store for a node without StoreDir.
func tempStore(node string) (string, error) {
	return os.MkdirTemp("", "cometplay-"+node+"-")
}
