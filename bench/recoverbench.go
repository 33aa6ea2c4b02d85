package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometplay/cometplay/cluster"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
)

// `bench cluster-recover`: issue 14's "time to recover 1,000 rooms of a
// killed node". Three nodes (as `bench cluster` starts them, the turn log
// on); every room on n2, its two players' sessions homed on n1 and n3 so
// that they outlive it; each game two moves in. Then n2's process gets
// SIGKILL, and for each room the run times, from the kill, the first
// resync reaching one of its players (the "joined" with reconnected, or
// the "state", that a room rebuilt from its turn log sends its members:
// rooms.Manager.Restore) and the first move applied after it (X's third
// move, sent at the kill and again after each nack, its "move" event
// reaching a player). A room without its resync within -within of the kill
// is lost.
//
// The lobby would place a room on one of its players' home nodes (cluster
// placeRoom), which would die with the room: the rooms are made on n2 by
// the games server's /bench/seat (mountDirectMatch), which creates a room
// and seats two sessions of other nodes in it, as the lobby's create and
// join calls on a room's node do. The players talk to their home nodes
// directly (no balancer): the measure is the cluster's, not a balancer's
// noticing a dead backend. n1, the games node (its lobby), is not the one
// killed.

// recoverVictim is the node killed: not n1, the games node.
const recoverVictim = 1 // n2

type recoverOptions struct {
	Out         string
	Rooms       int
	Within      time.Duration
	MoveRetry   time.Duration
	ServerProcs int
	CtrlConns   int
	Logs        bool
}

func recoverMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cluster-recover", flag.ContinueOnError)
	var o recoverOptions
	fs.StringVar(&o.Out, "out", "", "RESULTS.md to update (its cluster-recover section); empty prints the section")
	fs.IntVar(&o.Rooms, "rooms", 1000, "rooms on the node killed (two players each, homed on the other nodes)")
	fs.DurationVar(&o.Within, "within", time.Minute, "a room not resynced this long after the kill is lost")
	fs.DurationVar(&o.MoveRetry, "move-retry", 500*time.Millisecond, "pause before a nacked move is sent again (at once when its room's resync comes)")
	fs.IntVar(&o.ServerProcs, "server-procs", runtime.NumCPU(), "GOMAXPROCS of each node")
	fs.IntVar(&o.CtrlConns, "ctrl-conns", 16, "shared control connections per node")
	fs.BoolVar(&o.Logs, "logs", false, "print the surviving nodes' logs (their last 8 KiB, warnings and errors) at the end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Rooms < 1 || o.Within <= 0 || o.CtrlConns < 1 {
		return errors.New("bench: -rooms, -within and -ctrl-conns must be positive")
	}
	started := time.Now()
	rep := &recoverReport{o: o}
	rep.load[0] = loadAverage()
	if err := runRecover(ctx, o, rep, os.Stderr); err != nil {
		return err
	}
	rep.load[1] = loadAverage()
	return writeReport(rep, o.Out, "", "cluster-recover", invocation, started, stdout)
}

// recoveryStats sums up the times from a kill to an event in each room.
type recoveryStats struct {
	Rooms, Recovered   int
	Min, P50, P99, Max time.Duration
	// P50Lost, P99Lost: the quantile falls on a lost room (its time is
	// longer than the bound: unknown).
	P50Lost, P99Lost bool
}

// recoveryOf sums up at, each room's time of the event (unix ns; 0: it
// never came), from kill: a room whose event came more than bound after
// the kill, or never, is lost, and ranks after every room recovered in the
// quantiles (nearest rank). Min and Max are of the rooms recovered.
func recoveryOf(kill int64, at []int64, bound time.Duration) recoveryStats {
	s := recoveryStats{Rooms: len(at)}
	var ds []time.Duration
	for _, t := range at {
		if d := time.Duration(t - kill); t != 0 && d <= bound {
			ds = append(ds, max(d, 0))
		}
	}
	s.Recovered = len(ds)
	if len(at) == 0 {
		return s
	}
	slices.Sort(ds)
	if len(ds) > 0 {
		s.Min, s.Max = ds[0], ds[len(ds)-1]
	}
	rank := func(q float64) (time.Duration, bool) {
		k := max(int(math.Ceil(q*float64(len(at))))-1, 0)
		if k >= len(ds) {
			return 0, true
		}
		return ds[k], false
	}
	s.P50, s.P50Lost = rank(0.50)
	s.P99, s.P99Lost = rank(0.99)
	return s
}

// quantile formats a quantile of s ("> bound" when it falls on a lost room).
func (s recoveryStats) quantile(d time.Duration, lost bool, bound time.Duration) string {
	if lost {
		return "> " + fmtDur(bound)
	}
	return fmtDur(d)
}

// recoverNode is a surviving node's account of the takeover.
type recoverNode struct {
	Tag                                 string
	TakenOver, Restored, Lost, Refused  int64
	TurnLogRefused, RoomsAfter, Evicted int64
	LeasesLost                          int64
}

type recoverReport struct {
	o            recoverOptions
	records      int64         // owner records n2 had written at the kill
	setup        time.Duration // sessions, rooms and their first moves
	resync, move recoveryStats
	acked        int   // rooms whose move after the kill was acknowledged
	twice        int   // rooms resynced more than once to a player
	wrongBoard   int   // rooms whose board after the move is not the one expected
	gaps         int64 // p_seq gaps on the data channels
	nacks        int64 // nacked tries of the moves after the kill
	nackReason   string
	channelErrs  int64 // data channels lost (on a surviving node)
	nodes        []recoverNode
	timeline     recoverTimeline
	load         [2]string
}

// recPlayer is a player of a room: a session homed on a surviving node.
type recPlayer struct {
	s    *recoverSim
	id   string // session
	addr string // its home node
	name string // player id
	ctrl *ctrlConn
	room *recRoom
	wake chan struct{}

	mu      sync.Mutex
	marks   int  // marks on the board, from the last "move"
	started bool // "start" came
	last    uint64
	open    bool
}

// recRoom is a room on the victim and what its players saw of it.
type recRoom struct {
	id        string
	a, b      *recPlayer // a is X (seat 0)
	resyncAt  atomic.Int64
	moveAt    atomic.Int64
	resyncs   atomic.Int32 // "joined" reconnected after the kill, both players
	wrong     atomic.Bool
	acked     atomic.Bool
	resynced  chan struct{} // closed at the first resync
	closeOnce sync.Once
}

type recoverSim struct {
	ctx        context.Context
	killAt     atomic.Int64
	gaps       atomic.Int64
	nacks      atomic.Int64
	chErrs     atomic.Int64
	nackReason atomic.Value
}

// expectedBoard is every room's board after its move after the kill: X in
// 0, O in 4 (before the kill), X in 1.
var expectedBoard = [9]string{"X", "X", "", "", "O"}

func (p *recPlayer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// do sends a control request and waits for its answer.
func (p *recPlayer) do(target string) error {
	ch := make(chan error, 1)
	p.ctrl.send(&ctrlReq{buf: getRequest(nil, p.addr, target), done: func(status int, body []byte, err error) {
		ch <- ctrlError(status, body, err)
	}})
	select {
	case err := <-ch:
		return err
	case <-p.s.ctx.Done():
		return p.s.ctx.Err()
	}
}

// waitFor waits until cond holds (checked under p.mu) or the deadline.
func (p *recPlayer) waitFor(deadline time.Time, cond func() bool) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-p.wake:
		case <-t.C:
			return false
		case <-p.s.ctx.Done():
			return false
		}
	}
}

// listen reads p's data channel (a stream) until it ends.
func (p *recPlayer) listen(opened chan<- error) {
	w, err := dialWire(p.addr, 5*time.Second, false)
	if err != nil {
		opened <- err
		return
	}
	defer w.Close()
	stop := context.AfterFunc(p.s.ctx, func() { w.Close() })
	defer stop()
	if _, err := w.c.Write(getRequest(nil, p.addr, "/comet?p_event=listen&p_id="+p.id+"&p_mode=stream&p_format=json")); err != nil {
		opened <- err
		return
	}
	w.c.SetReadDeadline(time.Now().Add(time.Minute))
	h, err := w.readHead()
	if err == nil && (h.status != 200 || !h.chunked) {
		err = fmt.Errorf("listen: HTTP %d", h.status)
	}
	opened <- err
	if err != nil {
		return
	}
	var sp streamSplitter
	for {
		w.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		chunk, err := w.readChunk()
		if err != nil {
			if p.s.ctx.Err() == nil {
				p.s.chErrs.Add(1)
			}
			return
		}
		sp.feed(chunk, p.handle)
		w.release()
	}
}

// handle takes one event of p's data channel.
func (p *recPlayer) handle(obj []byte) {
	e := scanEvent(obj)
	switch {
	case rawIs(e.name, "gap"):
		p.s.gaps.Add(1)
		return
	case !rawIs(e.name, "data"):
		return
	}
	now := time.Now().UnixNano()
	kill := p.s.killAt.Load()
	p.mu.Lock()
	if seq := uint64(rawNum(e.seq)); seq != p.last+1 {
		p.s.gaps.Add(1)
		p.last = max(p.last, seq)
	} else {
		p.last = seq
	}
	r := p.room
	switch {
	case rawIs(e.typ, "start"):
		p.started = true
	case rawIs(e.typ, "move"):
		var d moveData
		if decodeData(e, &d) {
			marks := 0
			for _, c := range d.Board {
				if c != "" {
					marks++
				}
			}
			p.marks = marks
			if kill != 0 && r != nil && r.moveAt.CompareAndSwap(0, now) && d.Board != expectedBoard {
				r.wrong.Store(true)
			}
		}
	case kill == 0 || r == nil:
	case rawIs(e.typ, "joined"):
		var d struct {
			Reconnected bool `json:"reconnected"`
		}
		if decodeData(e, &d) && d.Reconnected {
			r.resyncs.Add(1)
			r.resync(now)
		}
	case rawIs(e.typ, "state"):
		r.resync(now)
	}
	p.mu.Unlock()
	p.signal()
}

func (r *recRoom) resync(now int64) {
	if r.resyncAt.CompareAndSwap(0, now) {
		r.closeOnce.Do(func() { close(r.resynced) })
	}
}

// moveTarget is a player's move in its room.
func (p *recPlayer) moveTarget(cell, seq int) string {
	return fmt.Sprintf("/comet?p_event=publish&p_format=json&p_id=%s&p_subject=/room/%s&type=move&data=%%7B%%22cell%%22%%3A%d%%7D&move=m%d&seq=%d",
		p.id, p.room.id, cell, seq, seq)
}

// moveAfterKill sends X's third move (cell 1) until a node takes it, as a
// client does with a nack that says to try again: after a pause, or at
// once when the room's resync comes. The move keeps its id and sequence,
// so it is applied once however often it is sent.
func (s *recoverSim) moveAfterKill(r *recRoom, retry time.Duration, until time.Time) {
	target := r.a.moveTarget(1, 2)
	wake := r.resynced
	for {
		err := r.a.do(target)
		if err == nil {
			r.acked.Store(true)
			return
		}
		if s.ctx.Err() != nil || time.Now().After(until) {
			return
		}
		s.nacks.Add(1)
		s.nackReason.CompareAndSwap(nil, err.Error())
		t := time.NewTimer(retry + rand.N(retry/4+1))
		select {
		case <-t.C:
		case <-wake:
			wake = nil // once
		case <-s.ctx.Done():
		}
		t.Stop()
	}
}

// runRecover is the run: nodes, sessions, rooms, moves, the kill, the
// recovery, the survivors' accounts.
func runRecover(ctx context.Context, o recoverOptions, rep *recoverReport, progress io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &recoverSim{ctx: ctx}
	po := playersOptions{ServerProcs: o.ServerProcs, Nodes: 3}
	fmt.Fprintln(progress, "cluster-recover: starting three nodes")
	nodes, err := startClusterNodes(ctx, po, 1, 3)
	if err != nil {
		return err
	}
	victim := nodes[recoverVictim]
	defer func() {
		// Together: the second of two to stop alone would have no
		// JetStream quorum left to hand its rooms over with.
		var wg sync.WaitGroup
		for i, c := range nodes {
			if i != recoverVictim || !victim.exited() {
				wg.Go(func() { stopChild(c, progress) })
			}
		}
		wg.Wait()
	}()
	homes := []*Child{nodes[0], nodes[2]}
	ctrls := map[string][]*ctrlConn{}
	for _, c := range nodes {
		for range o.CtrlConns {
			ctrls[c.Addr] = append(ctrls[c.Addr], newCtrlConn(c.Addr, func(error) {}))
		}
	}
	defer func() {
		cancel()
		for _, cs := range ctrls {
			for _, c := range cs {
				c.close()
			}
		}
	}()
	setup := time.Now()
	deadline := setup.Add(3 * time.Minute)

	// Sessions: a of room i homed on n1 and b on n3, or the other way
	// round, by turns.
	rs := make([]*recRoom, o.Rooms)
	var ps []*recPlayer
	for i := range rs {
		r := &recRoom{resynced: make(chan struct{})}
		ha, hb := homes[i%2], homes[1-i%2]
		r.a = &recPlayer{s: s, addr: ha.Addr, name: "x" + strconv.Itoa(i), room: r, wake: make(chan struct{}, 1)}
		r.b = &recPlayer{s: s, addr: hb.Addr, name: "o" + strconv.Itoa(i), room: r, wake: make(chan struct{}, 1)}
		r.a.ctrl = ctrls[ha.Addr][i%o.CtrlConns]
		r.b.ctrl = ctrls[hb.Addr][i%o.CtrlConns]
		rs[i] = r
		ps = append(ps, r.a, r.b)
	}
	fmt.Fprintf(progress, "cluster-recover: %d sessions on n1 and n3\n", len(ps))
	joinErrs := make(chan error, len(ps))
	for _, p := range ps {
		p.ctrl.send(&ctrlReq{buf: getRequest(nil, p.addr, "/comet?p_event=join&p_format=json"), done: func(status int, body []byte, err error) {
			if err = ctrlError(status, body, err); err == nil {
				if p.id = joinID(body); p.id == "" {
					err = fmt.Errorf("join: no p_id in %.100s", body)
				}
			}
			joinErrs <- err
		}})
	}
	for range ps {
		if err := <-joinErrs; err != nil {
			return fmt.Errorf("bench: join: %w", err)
		}
	}
	opened := make(chan error, len(ps))
	for _, p := range ps {
		go p.listen(opened)
	}
	for range ps {
		if err := <-opened; err != nil {
			return fmt.Errorf("bench: data channel: %w", err)
		}
	}

	fmt.Fprintf(progress, "cluster-recover: %d rooms on n2\n", o.Rooms)
	seatErrs := make(chan error, len(rs))
	vctrl := ctrls[victim.Addr]
	for i, r := range rs {
		target := "/bench/seat?game=" + ttt.Name + "&a=" + r.a.id + "&pa=" + r.a.name + "&b=" + r.b.id + "&pb=" + r.b.name
		vctrl[i%len(vctrl)].send(&ctrlReq{buf: getRequest(nil, victim.Addr, target), done: func(status int, body []byte, err error) {
			if err == nil && status != 200 {
				err = fmt.Errorf("HTTP %d: %.100s", status, body)
			}
			if err == nil {
				var ans struct {
					Room string `json:"room"`
				}
				eachObject(body, func(obj []byte) {
					eachField(obj, func(name, raw []byte) bool {
						if string(name) == "room" {
							ans.Room = unq(raw)
						}
						return true
					})
				})
				if cluster.RoomOwner(ans.Room) != "n2" {
					err = fmt.Errorf("a room not on n2: %.100s", body)
				}
				r.id = ans.Room
			}
			seatErrs <- err
		}})
	}
	for range rs {
		if err := <-seatErrs; err != nil {
			return fmt.Errorf("bench: seat: %w", err)
		}
	}

	// Two moves in each game (X in 0, O in 4), 64 games at a time.
	fmt.Fprintln(progress, "cluster-recover: two moves in every game")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var setupErr atomic.Value
	for _, r := range rs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := func() error {
				for _, p := range []*recPlayer{r.a, r.b} {
					if !p.waitFor(deadline, func() bool { return p.started }) {
						return fmt.Errorf("room %s: %s saw no start", r.id, p.name)
					}
				}
				if err := r.a.do(r.a.moveTarget(0, 1)); err != nil {
					return fmt.Errorf("room %s: X's move: %w", r.id, err)
				}
				if !r.b.waitFor(deadline, func() bool { return r.b.marks >= 1 }) {
					return fmt.Errorf("room %s: O saw no move", r.id)
				}
				if err := r.b.do(r.b.moveTarget(4, 1)); err != nil {
					return fmt.Errorf("room %s: O's move: %w", r.id, err)
				}
				if !r.a.waitFor(deadline, func() bool { return r.a.marks >= 2 }) {
					return fmt.Errorf("room %s: X saw no move", r.id)
				}
				return nil
			}()
			if err != nil {
				setupErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := setupErr.Load().(error); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// The rooms' owner records written: a room whose record is not is
	// known to no other node.
	for {
		st, err := debugStats(victim.Addr)
		if err == nil {
			rep.records = statInt(st, "owner_records_created")
			if rep.records >= int64(o.Rooms) {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: n2 wrote %d of its %d rooms' owner records", rep.records, o.Rooms)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	rep.setup = time.Since(setup)

	fmt.Fprintf(progress, "cluster-recover: SIGKILL to n2 (pid %d)\n", victim.Pid())
	kill := time.Now()
	s.killAt.Store(kill.UnixNano())
	if err := victim.cmd.Process.Kill(); err != nil {
		return err
	}
	until := kill.Add(o.Within)
	sampled := make(chan recoverTimeline, 1)
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() { sampled <- sampleTakeover(sctx, []*Child{nodes[0], nodes[2]}, o.Rooms, kill) }()
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.moveAfterKill(r, o.MoveRetry, until)
		}()
	}
	for {
		done := 0
		for _, r := range rs {
			if r.resyncAt.Load() != 0 && r.moveAt.Load() != 0 {
				done++
			}
		}
		if done == len(rs) || time.Now().After(until) {
			fmt.Fprintf(progress, "cluster-recover: %d of %d rooms back %v after the kill\n", done, len(rs), time.Since(kill).Round(time.Millisecond))
			break
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	wg.Wait()
	// The events of the rooms' resyncs and moves still on their way.
	_ = sleepCtx(ctx, time.Second)
	stopSampling()
	rep.timeline = <-sampled

	resync, moved := make([]int64, len(rs)), make([]int64, len(rs))
	for i, r := range rs {
		resync[i], moved[i] = r.resyncAt.Load(), r.moveAt.Load()
		if r.acked.Load() {
			rep.acked++
		}
		if r.resyncs.Load() > 2 {
			rep.twice++
		}
		if r.wrong.Load() {
			rep.wrongBoard++
		}
	}
	rep.resync = recoveryOf(kill.UnixNano(), resync, o.Within)
	rep.move = recoveryOf(kill.UnixNano(), moved, o.Within)
	rep.gaps, rep.nacks, rep.channelErrs = s.gaps.Load(), s.nacks.Load(), s.chErrs.Load()
	rep.nackReason, _ = s.nackReason.Load().(string)
	for i, c := range nodes {
		if i == recoverVictim {
			continue
		}
		st, err := debugStats(c.Addr)
		if err != nil {
			return err
		}
		rep.nodes = append(rep.nodes, recoverNode{Tag: "n" + strconv.Itoa(i+1),
			TakenOver: statInt(st, "rooms_taken_over"), Restored: statInt(st, "rooms_restored"), Lost: statInt(st, "rooms_lost"),
			Refused: statInt(st, "takeovers_refused"), TurnLogRefused: statInt(st, "turn_log_refused"), Evicted: statInt(st, "rooms_evicted"),
			RoomsAfter: statInt(st, "rooms"), LeasesLost: statInt(st, "leases_lost")})
	}
	if o.Logs {
		for i, c := range nodes {
			if i != recoverVictim {
				fmt.Fprintf(progress, "cluster-recover: n%d's log:\n%s\n", i+1, c.log)
			}
		}
	}
	return nil
}

// recoverTimeline is when the survivors took and rebuilt the rooms, from
// the kill, as their /debug/stats said when sampled (0: never seen).
type recoverTimeline struct {
	FirstTaken, AllTaken, FirstRestored, AllRestored time.Duration
	Every                                            time.Duration // the sampling period
}

// sampleTakeover reads the survivors' rooms_taken_over and rooms_restored
// every 100 ms until ctx ends or all rooms are rebuilt.
func sampleTakeover(ctx context.Context, nodes []*Child, rooms int, kill time.Time) recoverTimeline {
	tl := recoverTimeline{Every: 100 * time.Millisecond}
	for {
		var taken, restored int64
		for _, c := range nodes {
			if st, err := debugStats(c.Addr); err == nil {
				taken += statInt(st, "rooms_taken_over")
				restored += statInt(st, "rooms_restored")
			}
		}
		at := time.Since(kill)
		note := func(d *time.Duration, ok bool) {
			if *d == 0 && ok {
				*d = at
			}
		}
		note(&tl.FirstTaken, taken > 0)
		note(&tl.AllTaken, taken >= int64(rooms))
		note(&tl.FirstRestored, restored > 0)
		note(&tl.AllRestored, restored >= int64(rooms))
		if tl.AllRestored != 0 || sleepCtx(ctx, tl.Every) != nil {
			return tl
		}
	}
}

// statInt reads a number of a node's /debug/stats "cluster" object.
func statInt(st map[string]any, name string) int64 {
	cl, _ := st["cluster"].(map[string]any)
	v, _ := cl[name].(float64)
	return int64(v)
}

// retaken is how many takes of the survivors went beyond the rooms: rooms
// taken over again, from a survivor whose lease the other judged gone.
func (rep *recoverReport) retaken() int64 {
	var n int64
	for _, s := range rep.nodes {
		n += s.TakenOver
	}
	return max(n-int64(rep.o.Rooms), 0)
}

func (rep *recoverReport) config() string {
	return fmt.Sprintf("%d rooms on n2 of three nodes, players homed on n1 and n3, turn log on, SIGKILL", rep.o.Rooms)
}

func (rep *recoverReport) targets() []target {
	o := rep.o
	r := rep.resync
	all := r.Recovered == r.Rooms && rep.twice == 0 && rep.retaken() == 0 && rep.wrongBoard == 0 && rep.move.Recovered == rep.move.Rooms
	return []target{
		{What: fmt.Sprintf("a killed node's rooms: every one resynced to its players and playing on (within %v), none taken twice, every acknowledged move kept", o.Within),
			Config: rep.config(), Measured: fmt.Sprintf("%d of %d", min(r.Recovered, rep.move.Recovered), r.Rooms), Met: all,
			Context: fmt.Sprintf("resynced %d, first move after the kill applied %d; resynced twice %d; taken over again from a survivor %d; boards not as expected %d", r.Recovered, rep.move.Recovered, rep.twice, rep.retaken(), rep.wrongBoard)},
		{What: "kill → each room's first resync reaching a player: p99 within 5 s (issue 14's owner-death bound)",
			Config: rep.config(), Measured: r.quantile(r.P99, r.P99Lost, o.Within), Met: !r.P99Lost && r.P99 <= 5*time.Second,
			Context: fmt.Sprintf("p50 %s, first %s, max %s; lease %v", r.quantile(r.P50, r.P50Lost, o.Within), fmtDur(r.Min), fmtDur(r.Max), cluster.DefaultLeaseTTL)},
	}
}

func (rep *recoverReport) writeCharts(string) error { return nil }

func (rep *recoverReport) summary() string {
	var b strings.Builder
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "%s (%s): %s %s; %s\n", t.What, t.Config, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

func (rep *recoverReport) markdown(header, _ string) string {
	o := rep.o
	var b strings.Builder
	b.WriteString("## Cluster: a killed node's rooms recovered\n\n")
	b.WriteString(header)
	fmt.Fprintf(&b, "\nIssue 14's owner death, timed: three nodes (`bench serve -kind games -node nX`, as in the cluster section, the turn log on, n1 the games node), %d tictactoe rooms on n2, each with its two players' sessions homed on n1 and n3 (the room made on n2 by the bench's `/bench/seat`, as the lobby's create and join calls on a room's node do: the lobby itself would place a room on one of its players' home nodes), their data channels (streams) and moves straight to their home nodes, no balancer. Every game two moves in, and every room's owner record written (%d), n2's process gets SIGKILL. From then on, each room's X sends its third move, again %v after each nack (at once when its room's resync comes). Timed from the kill, for each room: its first resync reaching one of its players (the `joined` with reconnected, or the `state`, that a room rebuilt from its turn log sends its members) and its first move applied (the move's event reaching a player). A room with neither within %v is lost, and ranks after every other in the quantiles. The other nodes see n2's NATS routes go down (its lease counts as gone once they stay down 500 ms; without that, it would expire %v after its last renewal), take its rooms' records as soon as JetStream answers (a stream whose leader was n2's server elects another first, after Raft's election timeout of 4-9 s), and rebuild each room from its turn log, sixteen at a time per node (cluster/routes.go, cluster/turnlog.go `restorer`). Setting the rooms up took %v. Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		o.Rooms, rep.records, o.MoveRetry, o.Within, cluster.DefaultLeaseTTL, rep.setup.Round(time.Second), rep.load[0], rep.load[1])
	b.WriteString(targetsTable("### Targets", "context", rep.targets()))
	b.WriteString("### From the kill\n\n| to | rooms | first | p50 | p99 | max | lost |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		what string
		s    recoveryStats
	}{{"the room's first resync reaching a player", rep.resync}, {"the room's first move applied after the kill", rep.move}} {
		s := row.s
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %d |\n", row.what, s.Rooms, fmtDur(s.Min),
			s.quantile(s.P50, s.P50Lost, o.Within), s.quantile(s.P99, s.P99Lost, o.Within), fmtDur(s.Max), s.Rooms-s.Recovered)
	}
	b.WriteString("\n### The survivors' account\n\n| node | rooms taken over | rebuilt from the turn log | lost (not rebuilt) | takes refused (another node first) | its own lease lost | rooms evicted (taken from it) | rooms after |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range rep.nodes {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", n.Tag, n.TakenOver, n.Restored, n.Lost, n.Refused, n.LeasesLost, n.Evicted, n.RoomsAfter)
	}
	tl, never := rep.timeline, func(d time.Duration) string {
		if d == 0 {
			return "not seen"
		}
		return fmtDur(d)
	}
	fmt.Fprintf(&b, "\nFrom the kill, as the survivors' `/debug/stats` said (read every %v): the first room taken over at %s, every room at %s; the first rebuilt at %s, every one at %s.\n",
		tl.Every, never(tl.FirstTaken), never(tl.AllTaken), never(tl.FirstRestored), never(tl.AllRestored))
	fmt.Fprintf(&b, "\nMoves after the kill acknowledged: %d of %d; their nacked tries: %d", rep.acked, o.Rooms, rep.nacks)
	if rep.nackReason != "" {
		fmt.Fprintf(&b, " (the first: %q)", rep.nackReason)
	}
	fmt.Fprintf(&b, ". Rooms resynced more than once to a player: %d; boards after the move not X in 0 and 1, O in 4: %d; p_seq gaps on the players' data channels: %d; data channels lost: %d.\n\n",
		rep.twice, rep.wrongBoard, rep.gaps, rep.channelErrs)
	return b.String()
}
