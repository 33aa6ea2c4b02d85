package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

func TestPreferredSuccessor(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	count := map[string]int{}
	for i := range 300 {
		room := fmt.Sprintf("n9-%d", i)
		p := preferred(room, nodes)
		if q := preferred(room, []string{"n3", "n1", "n2"}); q != p {
			t.Fatalf("preferred(%s) depends on the order of the nodes: %s, %s", room, p, q)
		}
		count[p]++
	}
	for _, n := range nodes {
		if count[n] < 60 {
			t.Errorf("preferred successors %v: %s gets too few of 300 rooms", count, n)
		}
	}
	if preferred("x", nil) != "" {
		t.Error("a successor among no nodes")
	}
}

// stall stops the node's ownership goroutine, as a stopped process (SIGSTOP,
// a long pause) would be: its lease is not renewed, it sees nothing; its
// NATS server, loops and rooms run on. The returned function resumes it.
func (o *ownership) stall() (resume func()) {
	c := make(chan struct{})
	o.mu.Lock()
	o.stalled = c
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.stalled = nil
		o.mu.Unlock()
		close(c)
	}
}

// record reads a room's owner record from the bucket.
func (o *ownership) record(t *testing.T, room string) (ownerRecord, uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	e, err := o.roomsKV.Get(ctx, room)
	if err != nil {
		return ownerRecord{}, 0, err
	}
	var r ownerRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		t.Fatal(err)
	}
	return r, e.Revision(), nil
}

// recordFound reads a room's owner record until it is there: a KV get may
// be served by a replica that has not applied the write yet (direct gets).
func (o *ownership) recordFound(t *testing.T, room string) (rec ownerRecord, rev uint64) {
	t.Helper()
	testkit.Eventually(t, "the record of "+room+" readable", func() bool {
		var err error
		rec, rev, err = o.record(t, room)
		return err == nil
	})
	return rec, rev
}

// Single owner: a node stalls past its lease with 100 rooms; the two
// others race for every room (no successor waits), and each room is taken
// by exactly one of them. When the stale owner wakes, its writes are
// refused (its lease's renewal, a room's record on the revision it knew),
// and it evicts its rooms: they publish nothing more. Without the turn log
// (NoTurnLog) a room taken over cannot be rebuilt: the lobby drops the
// lost rooms from its list (with it, TestStaleOwnerIsFencedByTheTurnLog).
func TestSingleOwnerAfterALeaseExpires(t *testing.T) {
	gn, _ := startGamesClusterWith(t, 3, func(o *Options) { o.NoTurnLog = true })
	// The race: every node tries every orphan at once, when kicked.
	for _, g := range gn {
		g.node.own.mu.Lock()
		g.node.own.delay, g.node.own.manual = 0, true
		g.node.own.mu.Unlock()
	}
	stale := gn[1].node
	m := stale.roomsManager()
	const n = 100
	ids := make([]string, n)
	for i := range ids {
		id, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: fmt.Sprintf("n2s%d", i), PlayerID: fmt.Sprintf("p%d", i), Name: "P"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	testkit.Eventually(t, "the rooms' owner records, and the lobby listing them", func() bool {
		return stale.Stats().OwnerRecords == n && len(gn[0].node.games.dir.Rooms(ttt.Name)) == n
	})
	first, firstRev := stale.own.recordFound(t, ids[0])
	if first.Node != stale.Tag() || first.Epoch != 1 {
		t.Fatalf("record of %s: %+v; want %s's, epoch 1", ids[0], first, stale.Tag())
	}

	var mu sync.Mutex
	won := map[string]string{}
	for _, g := range []*gamesNode{gn[0], gn[2]} {
		tag := g.node.Tag()
		g.node.own.mu.Lock()
		g.node.own.took = func(id string, epoch uint32) {
			mu.Lock()
			defer mu.Unlock()
			if other, dup := won[id]; dup {
				t.Errorf("room %s taken by %s and %s", id, other, tag)
			}
			if epoch != 2 {
				t.Errorf("room %s taken at epoch %d, want 2", id, epoch)
			}
			won[id] = tag
		}
		g.node.own.mu.Unlock()
	}

	resume := stale.own.stall()
	// The others see the stale lease expire (not renewed for LeaseTTL),
	// then race for its rooms: both are kicked together until every room
	// is taken. Leases are seconds long: the waits below allow for a busy
	// machine.
	testkit.EventuallyWithin(t, time.Minute, "every room taken over", func() bool {
		signal(gn[0].node.own.kick)
		signal(gn[2].node.own.kick)
		return gn[0].node.Stats().RoomsTakenOver+gn[2].node.Stats().RoomsTakenOver == n
	})
	mu.Lock()
	for _, id := range ids {
		if won[id] == "" {
			t.Errorf("room %s taken by nobody", id)
		}
	}
	mu.Unlock()
	st1, st3 := gn[0].node.Stats(), gn[2].node.Stats()
	t.Logf("taken: %s %d, %s %d; refused (lost the race): %d, %d", gn[0].node.Tag(), st1.RoomsTakenOver,
		gn[2].node.Tag(), st3.RoomsTakenOver, st1.TakeoversRefused, st3.TakeoversRefused)
	// However the race went (a batch of takes lands at once: one node may
	// win them all before the other looks), a take on the revision the
	// stale owner left is refused once a node has won it.
	mu.Lock()
	winner := won[ids[0]]
	mu.Unlock()
	loser := gn[2].node
	if winner == loser.Tag() {
		loser = gn[0].node
	}
	loser.own.mu.Lock()
	inc := loser.own.inc
	loser.own.mu.Unlock()
	refused := loser.Stats().TakeoversRefused
	loser.own.writeBatch([]write{{kind: 't', room: ids[0], rev: firstRev, epoch: 2}}, inc)
	// (Had it won, the hook above would say the room was taken twice; the
	// node may be refused stale takes of its own meanwhile: at least one.)
	if got := loser.Stats().TakeoversRefused; got < refused+1 {
		t.Errorf("%s's late take of %s (won by %s): refused %d → %d; want one more", loser.Tag(), ids[0], winner, refused, got)
	}
	testkit.Eventually(t, "the lobby's list without the lost rooms", func() bool {
		return len(gn[0].node.games.dir.Rooms(ttt.Name)) == 0
	})

	// The stale owner, still running its rooms, writes on what it knew:
	// refused.
	b, _ := json.Marshal(ownerRecord{Node: stale.Tag(), Inc: first.Inc, Epoch: 1})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if _, err := stale.own.roomsKV.Update(ctx, ids[0], b, firstRev); err == nil {
		t.Fatal("the stale owner's write of a room's record was accepted")
	}
	if m.NumRooms() != n {
		t.Fatalf("the stale owner has %d rooms while stalled, want %d (nothing told it yet)", m.NumRooms(), n)
	}
	// NATS removes the expired lease (lazily, up to a TTL late): the stale
	// owner's renewal, when it wakes, is then refused.
	testkit.EventuallyWithin(t, time.Minute, "NATS removing the stale lease", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := stale.own.nodesKV.Get(ctx, stale.Tag())
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	resume()
	var last Stats
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		last = stale.Stats()
		if m.NumRooms() == 0 && last.LeasesLost == 1 && last.Lease && last.RoomsEvicted == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stale owner, a minute after waking: %d rooms, %d leases lost, holding one: %v, %d rooms evicted; want 0, 1, true, %d",
				m.NumRooms(), last.LeasesLost, last.Lease, last.RoomsEvicted, n)
		}
	}
	t.Logf("stale owner: %+v", stale.Stats())
	for _, id := range ids[:5] {
		if err := m.Do(id, func(*rooms.Ctx) {}); !errors.Is(err, rooms.ErrNoRoom) {
			t.Errorf("room %s on the stale owner: %v, want ErrNoRoom", id, err)
		}
	}
	// Their takers delete the lost rooms' records (queued after the take,
	// written at their next turn).
	for _, id := range ids {
		testkit.EventuallyWithin(t, time.Minute, "the record of lost room "+id+" deleted", func() bool {
			_, _, err := stale.own.record(t, id)
			return errors.Is(err, jetstream.ErrKeyNotFound)
		})
	}
	// The node goes on: a room made now is its own again.
	id, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: "n2new", PlayerID: "pnew", Name: "P"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the new room's record", func() bool {
		r, _, err := stale.own.record(t, id)
		return err == nil && r.Node == stale.Tag() && r.Inc != first.Inc
	})
	if !slices.Contains(stale.Peers(), gn[0].node.Tag()) {
		t.Error("the nodes lost sight of each other")
	}
}

// While no lease is held (JetStream not up yet: a node alone, no quorum),
// what waits to be written is the rooms open now, not every room that
// ever was: a room closed before its record was written is forgotten.
func TestRecordsWaitingAreTheRoomsOpen(t *testing.T) {
	o := newOwnership(&Node{}, 0)
	for i := range 1000 {
		id := fmt.Sprintf("n1-%d", i)
		o.roomChanged(rooms.RoomInfo{ID: id}, false)
		o.roomChanged(rooms.RoomInfo{ID: id, Label: "x"}, false) // a later change
		if i%10 != 0 {
			o.roomChanged(rooms.RoomInfo{ID: id}, true)
		}
	}
	if len(o.known) != 100 || len(o.toCreate) != 100 || len(o.toDelete) != 0 {
		t.Fatalf("waiting: %d rooms known, %d records to create, %d to delete; want 100, 100, 0", len(o.known), len(o.toCreate), len(o.toDelete))
	}
	// A room whose record was written is deleted when it closes.
	o.known["n1-0"] = true
	delete(o.toCreate, "n1-0")
	o.roomChanged(rooms.RoomInfo{ID: "n1-0"}, true)
	if !slices.Equal(o.toDelete, []string{"n1-0"}) || len(o.known) != 99 {
		t.Fatalf("to delete %v, %d known; want [n1-0], 99", o.toDelete, len(o.known))
	}
}

// A room whose record another node took while its owner's lease is fine
// (the owner missed nothing, yet the record says another owns the room)
// is evicted; the owner's other rooms and its lease stay.
func TestRoomTakenFromALiveOwnerIsEvicted(t *testing.T) {
	gn, _ := startGamesCluster(t, 3)
	owner, other := gn[1].node, gn[2].node
	m := owner.roomsManager()
	var ids []string
	for i := range 2 {
		id, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: fmt.Sprintf("n2s%d", i), PlayerID: fmt.Sprintf("p%d", i), Name: "P"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	testkit.Eventually(t, "the rooms' owner records", func() bool { return owner.Stats().OwnerRecords == 2 })
	rec, rev := owner.own.recordFound(t, ids[0])
	other.own.mu.Lock()
	inc := other.own.inc
	other.own.mu.Unlock()
	b, _ := json.Marshal(ownerRecord{Node: other.Tag(), Inc: inc, Epoch: rec.Epoch + 1})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if _, err := other.own.roomsKV.Update(ctx, ids[0], b, rev); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyWithin(t, time.Minute, "the owner evicting the room taken", func() bool {
		_, ok := m.Room(ids[0])
		return !ok
	})
	if _, ok := m.Room(ids[1]); !ok {
		t.Error("the owner's other room is gone too")
	}
	if s := owner.Stats(); s.RoomsEvicted != 1 || s.LeasesLost != 0 || !s.Lease {
		t.Errorf("owner: %d rooms evicted, %d leases lost, holding: %v; want 1, 0, true", s.RoomsEvicted, s.LeasesLost, s.Lease)
	}
}

// JetStream without a quorum (two of the three NATS servers gone): the
// node left cannot renew its lease, nor can anyone take its rooms; it
// keeps them, for longer than its lease, instead of evicting them.
func TestNoQuorumKeepsTheRooms(t *testing.T) {
	gn, _ := startGamesCluster(t, 3)
	left := gn[0].node
	m := left.roomsManager()
	id, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: "n1s", PlayerID: "p", Name: "P"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the room's owner record", func() bool { return left.Stats().OwnerRecords == 1 })
	for _, g := range gn[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		g.gs.Shutdown(ctx)
		cancel()
		g.node.Close()
	}
	// Renewals go unanswered for three lease lengths.
	time.Sleep(3 * left.own.ttl)
	if _, ok := m.Room(id); !ok {
		t.Fatal("the node evicted its room without a quorum")
	}
	if s := left.Stats(); s.RoomsEvicted != 0 || s.LeasesLost != 0 || s.Lease {
		t.Errorf("%d rooms evicted, %d leases lost, holding: %v; want 0, 0, false (no renewal answered)", s.RoomsEvicted, s.LeasesLost, s.Lease)
	}
}

// A flood of rooms (a ramp, or a dead node's rooms to take) does not keep
// the lease from its renewal: writing their records goes in slices
// between renewals.
func TestManyRoomsAtOnceKeepTheLease(t *testing.T) {
	// The records and the lease are the subject: without the turn log,
	// whose 6,000 appends of the 3,000 rooms' first items a record waits
	// for (a room's info goes out once its items are durable).
	gn, _ := startGamesClusterWith(t, 3, func(o *Options) { o.NoTurnLog = true })
	node := gn[1].node
	m := node.roomsManager()
	const n = 3000
	for i := range n {
		if _, err := m.Create(ttt.Name, rooms.PlayerInfo{SessionID: fmt.Sprintf("s%d", i), PlayerID: fmt.Sprintf("p%d", i), Name: "P"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for deadline := start.Add(5 * time.Minute); node.Stats().OwnerRecords != n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			// What the ownership holds, for whoever looks into it: this
			// timed out twice under make test-under-load's whole suite
			// (3 s alone under the same busy loops).
			node.own.mu.Lock()
			toCreate, known, toDelete, inc := len(node.own.toCreate), len(node.own.known), len(node.own.toDelete), node.own.inc
			node.own.mu.Unlock()
			st := node.Stats()
			t.Fatalf("timed out waiting for every room's record: %d of %d written; to create %d, known %d, to delete %d, lease %q; renewals %d, leases lost %d, rooms %d",
				st.OwnerRecords, n, toCreate, known, toDelete, inc, st.LeaseRenewals, st.LeasesLost, m.NumRooms())
		}
	}
	t.Logf("%d records written in %v", n, time.Since(start))
	if s := node.Stats(); s.LeasesLost != 0 || s.RoomsEvicted != 0 || m.NumRooms() != n {
		t.Errorf("%d leases lost, %d rooms evicted, %d rooms; want 0, 0, %d", s.LeasesLost, s.RoomsEvicted, m.NumRooms(), n)
	}
}

// A JetStream store NATS cannot write to is refused at Start, naming it,
// rather than as an embedded server that is never ready.
func TestUnwritableStoreIsRefused(t *testing.T) {
	file := t.TempDir() + "/file"
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, file + "/sub"} {
		_, err := Start(Options{Node: "n1", Listen: "127.0.0.1:0", StoreDir: dir, Logger: testkit.Logger()})
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Start with store %s: %v; want an error naming it", dir, err)
		}
	}
}

// fakeNodesKV is a cp_nodes bucket holding at most one key's entry (nil:
// not found); only Get is used.
type fakeNodesKV struct {
	jetstream.KeyValue
	entry jetstream.KeyValueEntry
}

func (kv fakeNodesKV) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	if kv.entry == nil {
		return nil, jetstream.ErrKeyNotFound
	}
	return kv.entry, nil
}

type fakeLeaseEntry struct {
	jetstream.KeyValueEntry
	inc     string
	rev     uint64
	created time.Time
}

func (e fakeLeaseEntry) Value() []byte      { b, _ := json.Marshal(leaseValue{Inc: e.inc}); return b }
func (e fakeLeaseEntry) Revision() uint64   { return e.rev }
func (e fakeLeaseEntry) Created() time.Time { return e.created }

// TestLeaseGoneOnlyForANodeRenewingItsOwn: after a JetStream stall every
// lease in the bucket looks old (or has expired) although its node is
// alive; a node judges another's lease gone by its age or its absence only
// once its own renewals have been answered for a lease's length. Another
// incarnation is gone whatever this node's state.
func TestLeaseGoneOnlyForANodeRenewingItsOwn(t *testing.T) {
	const ttl = 4 * time.Second
	o := newOwnership(&Node{opts: Options{Node: "n2"}}, ttl)
	o.nodes["n1"] = seenLease{inc: "a", rev: 7, seen: time.Now().Add(-2 * ttl)}
	old := fakeLeaseEntry{inc: "a", rev: 7, created: time.Now().Add(-2 * ttl)}
	for _, c := range []struct {
		name    string
		healthy time.Duration // how long this node's renewals have been answered (0: the last was not)
		entry   jetstream.KeyValueEntry
		gone    bool
	}{
		{"an old key, this node's renewals unanswered", 0, old, false},
		{"an old key, this node's renewals answered again just now", time.Second, old, false},
		{"an old key, this node's renewals answered for a lease's length", ttl + time.Second, old, true},
		{"no key, this node's renewals unanswered", 0, nil, false},
		{"no key, this node's renewals answered again just now", time.Second, nil, false},
		{"no key, this node's renewals answered for a lease's length", ttl + time.Second, nil, true},
		{"another incarnation, this node's renewals unanswered", 0, fakeLeaseEntry{inc: "b", rev: 9, created: time.Now()}, true},
		{"a renewal the watch missed", ttl + time.Second, fakeLeaseEntry{inc: "a", rev: 8, created: time.Now()}, false},
	} {
		o.healthySince = time.Time{}
		if c.healthy > 0 {
			o.healthySince = time.Now().Add(-c.healthy)
		}
		o.nodesKV = fakeNodesKV{entry: c.entry}
		if got := o.leaseGone("n1", "a", map[string]bool{}); got != c.gone {
			t.Errorf("%s: gone %v, want %v", c.name, got, c.gone)
		}
	}
}
