package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The listeners of the listener scenarios, run in a load process: idle
// stream listeners (for the server's memory per listener), receipts of
// published events (fan-out latency, sustained deliveries), and long-poll
// sessions that refresh without pause (churn), each checking its p_seq.
// Every event the scenarios publish carries k (its number) and t (the unix
// ns at which its publish request was written).

// listenersConfig configures the listeners of one load process.
type listenersConfig struct {
	Addr string `json:"addr"`
	// Kind is the server kind: the Comet ones (games, nethttp-comet) are
	// joined and listened to with p_subject; the gnet floor is held with
	// GET /floor/hold.
	Kind      string `json:"kind"`
	Subject   string `json:"subject"`
	Ramp      int    `json:"ramp"` // listeners opened per second
	CtrlConns int    `json:"ctrl_conns"`
}

// fanoutGot is a load process's receipts of one event.
type fanoutGot struct {
	K         int64     `json:"k"`
	Received  int       `json:"received"`
	Listeners int       `json:"listeners"`
	Max       int64     `json:"max_ns"` // latest receipt, ns after t
	Latency   Histogram `json:"latency"`
}

// listenersResult is a load process's report of a sustained phase.
type listenersResult struct {
	Deliveries int64            `json:"deliveries"`
	Latency    Histogram        `json:"latency"`
	Gaps       int64            `json:"gaps"`
	SeqErrors  int64            `json:"seq_errors"`
	Errors     map[string]int64 `json:"errors"`
	Sample     []string         `json:"sample"`
}

// churnResult is a load process's report of the long-poll churn.
type churnResult struct {
	Sessions  int   `json:"sessions"`
	Requests  int64 `json:"requests"`
	Events    int64 `json:"events"`
	Missing   int64 `json:"missing"`   // published events a session did not receive
	Duplicate int64 `json:"duplicate"` // received twice
	Gaps      int64 `json:"gaps"`
	SeqErrors int64 `json:"seq_errors"`
	Errors    int64 `json:"errors"`
}

type listenerSet struct {
	cfg    listenersConfig
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   []*ctrlConn
	comet  bool

	mu        sync.Mutex
	conns     []*wireConn
	ids       []string // p_id of the Comet listeners
	open      int
	openErrs  int
	fanout    map[int64]*fanoutGot // receipts by event, while fan-out is on
	winStart  atomic.Int64
	winEnd    atomic.Int64
	sustained listenersResult

	churn *churnSet
	wg    sync.WaitGroup
}

func runListenersChild(ctx context.Context, cfg listenersConfig, cmds <-chan string, out *lineWriter) error {
	ls := &listenerSet{cfg: cfg, comet: cfg.Kind != kindGnet}
	ls.ctx, ls.cancel = context.WithCancel(ctx)
	defer ls.stop()
	ls.winStart.Store(1<<63 - 1)
	ls.sustained.Errors = map[string]int64{}
	if ls.comet {
		for range max(1, cfg.CtrlConns) {
			ls.ctrl = append(ls.ctrl, newCtrlConn(cfg.Addr, func(err error) { ls.fail("control connection", err) }))
		}
	}
	for cmd := range cmds {
		f := strings.Fields(cmd)
		if len(f) == 0 {
			continue
		}
		arg := func(i int) int64 {
			if i >= len(f) {
				return 0
			}
			n, _ := strconv.ParseInt(f[i], 10, 64)
			return n
		}
		switch f[0] {
		case "open":
			t0 := time.Now()
			n, errs := ls.openUpTo(int(arg(1)))
			out.send("opened", map[string]any{"listeners": n, "errors": errs, "took_ns": time.Since(t0)})
		case "fanout":
			ls.mu.Lock()
			if f[1] == "on" {
				ls.fanout = map[int64]*fanoutGot{}
			} else {
				ls.fanout = nil
			}
			ls.mu.Unlock()
			out.send("fanout", f[1])
		case "await":
			out.send("got", ls.await(arg(1), time.Duration(arg(2))*time.Millisecond))
		case "window":
			ls.winEnd.Store(arg(2))
			ls.winStart.Store(arg(1))
		case "report":
			ls.mu.Lock()
			res := ls.sustained
			ls.sustained = listenersResult{Errors: map[string]int64{}}
			ls.mu.Unlock()
			out.send("result", res)
		case "close":
			ls.closeAll()
			out.send("closed", map[string]int{})
		case "churn":
			cs, err := startChurn(ls, int(arg(1)))
			if err != nil {
				return err
			}
			ls.churn = cs
			out.send("churning", map[string]int{"sessions": int(arg(1))})
		case "churn-report":
			if ls.churn == nil {
				return errors.New("bench: churn-report without churn")
			}
			out.send("churned", ls.churn.finish(arg(1), arg(2)))
			ls.churn = nil
		case "finish":
			return nil
		default:
			return fmt.Errorf("bench: listeners: unknown command %q", cmd)
		}
	}
	return nil
}

func (ls *listenerSet) stop() {
	ls.cancel()
	ls.closeAll()
	if ls.churn != nil {
		ls.churn.finish(0, 0)
	}
	ls.wg.Wait()
	for _, c := range ls.ctrl {
		c.close()
	}
}

func (ls *listenerSet) fail(kind string, err error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.sustained.Errors[kind]++
	if len(ls.sustained.Sample) < 5 && err != nil {
		ls.sustained.Sample = append(ls.sustained.Sample, kind+": "+err.Error())
	}
}

// join creates a session over the control connections and returns p_id.
func join(ctx context.Context, c *ctrlConn, host string) (string, error) {
	type ans struct {
		id  string
		err error
	}
	ch := make(chan ans, 1)
	c.send(&ctrlReq{buf: getRequest(nil, host, "/comet?p_event=join&p_format=json"), done: func(status int, body []byte, err error) {
		if err = ctrlError(status, body, err); err != nil {
			ch <- ans{err: err}
			return
		}
		ch <- ans{id: joinID(body)}
	}})
	select {
	case a := <-ch:
		if a.err == nil && a.id == "" {
			a.err = errors.New("join-ack without p_id")
		}
		return a.id, a.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// openUpTo opens listeners, Ramp per second, until n are open (or failed).
func (ls *listenerSet) openUpTo(n int) (open, errs int) {
	ls.mu.Lock()
	start := ls.open + ls.openErrs
	ls.mu.Unlock()
	var wg sync.WaitGroup
	every := time.Second / time.Duration(max(1, ls.cfg.Ramp))
	next := time.Now()
	for i := start; i < n && ls.ctx.Err() == nil; i++ {
		wg.Add(1)
		ls.wg.Add(1)
		go func() {
			defer ls.wg.Done()
			ls.listen(i, wg.Done)
		}()
		next = next.Add(every)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	wg.Wait()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.open, ls.openErrs
}

// listen opens listener i and reads its events until its connection
// closes; opened is called once it is open or has failed.
func (ls *listenerSet) listen(i int, opened func()) {
	once := sync.OnceFunc(opened)
	defer once()
	fail := func(err error) {
		ls.mu.Lock()
		ls.openErrs++
		ls.mu.Unlock()
		if ls.ctx.Err() == nil {
			ls.fail("open", err)
		}
	}
	host := ls.cfg.Addr
	target, id := "/floor/hold", ""
	if ls.comet {
		var err error
		if id, err = join(ls.ctx, ls.ctrl[i%len(ls.ctrl)], host); err != nil {
			fail(err)
			return
		}
		target = "/comet?p_event=listen&p_id=" + id + "&p_mode=stream&p_format=json&p_subject=" + ls.cfg.Subject
	}
	w, err := dialWire(host, 10*time.Second, false)
	if err != nil {
		fail(err)
		return
	}
	defer w.Close()
	if _, err := w.c.Write(getRequest(nil, host, target)); err != nil {
		fail(err)
		return
	}
	w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	h, err := w.readHead()
	if err == nil && (h.status != 200 || !h.chunked) {
		err = fmt.Errorf("listen: HTTP %d, chunked %v", h.status, h.chunked)
	}
	if err != nil {
		fail(err)
		return
	}
	w.c.SetReadDeadline(time.Time{})
	ls.mu.Lock()
	ls.conns = append(ls.conns, w)
	if ls.comet {
		ls.ids = append(ls.ids, id)
	}
	ls.open++
	ls.mu.Unlock()
	once()
	var last uint64
	var sp streamSplitter
	for {
		chunk, err := w.readChunk()
		if err != nil {
			return // closed by close or the end
		}
		now := time.Now().UnixNano()
		sp.feed(chunk, func(obj []byte) {
			e := scanEvent(obj)
			switch {
			case rawIs(e.name, "data"):
				if ls.comet {
					if seq := uint64(rawNum(e.seq)); seq != last+1 {
						ls.mu.Lock()
						ls.sustained.SeqErrors++
						ls.mu.Unlock()
						last = max(last, seq)
					} else {
						last = seq
					}
				}
				ls.receipt(rawNum(e.k), now-rawNum(e.t), now)
			case rawIs(e.name, "gap"):
				ls.mu.Lock()
				ls.sustained.Gaps++
				ls.mu.Unlock()
				last = max(last, uint64(rawNum(e.seq)))
			}
		})
		w.release()
	}
}

// receipt records that a listener got event k lat ns after its publish.
func (ls *listenerSet) receipt(k, lat, now int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.fanout != nil {
		g := ls.fanout[k]
		if g == nil {
			g = &fanoutGot{K: k}
			ls.fanout[k] = g
		}
		g.Received++
		g.Max = max(g.Max, lat)
		g.Latency.Record(time.Duration(lat))
	}
	if now >= ls.winStart.Load() && now < ls.winEnd.Load() {
		ls.sustained.Deliveries++
		ls.sustained.Latency.Record(time.Duration(lat))
	}
}

// await waits until every open listener got event k, or timeout.
func (ls *listenerSet) await(k int64, timeout time.Duration) fanoutGot {
	deadline := time.Now().Add(timeout)
	for {
		ls.mu.Lock()
		g := ls.fanout[k]
		n := ls.open
		if g != nil && g.Received >= n || time.Now().After(deadline) {
			res := fanoutGot{K: k, Listeners: n}
			if g != nil {
				res = *g
				res.Listeners = n
				delete(ls.fanout, k)
			}
			ls.mu.Unlock()
			return res
		}
		ls.mu.Unlock()
		time.Sleep(500 * time.Microsecond)
	}
}

// closeAll ends every listener: the Comet sessions leave (so that later
// events are not queued for them), then the connections close.
func (ls *listenerSet) closeAll() {
	ls.mu.Lock()
	conns, ids := ls.conns, ls.ids
	ls.conns, ls.ids, ls.open, ls.openErrs = nil, nil, 0, 0
	ls.mu.Unlock()
	var wg sync.WaitGroup
	for i, id := range ids {
		if ls.ctx.Err() != nil {
			break
		}
		wg.Add(1)
		ls.ctrl[i%len(ls.ctrl)].send(&ctrlReq{buf: getRequest(nil, ls.cfg.Addr, "/comet?p_event=leave&p_id="+id), done: func(status int, body []byte, err error) {
			if err := ctrlError(status, body, err); err != nil {
				ls.fail("leave", err)
			}
			wg.Done()
		}})
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
}

// churnSet is the long-poll churn: sessions that refresh again as soon as
// each answer arrives.
type churnSet struct {
	ls       *listenerSet
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	sessions []*churnSession
	requests atomic.Int64
	errors   atomic.Int64
}

type churnSession struct {
	mu        sync.Mutex
	got       map[int64]int // k → receipts
	gaps      int64
	seqErrors int64
	events    int64
}

// startChurn starts n long-poll sessions and returns once each has its
// first answer (so it is subscribed).
func startChurn(ls *listenerSet, n int) (*churnSet, error) {
	if !ls.comet {
		return nil, errors.New("bench: churn needs a Comet server")
	}
	cs := &churnSet{ls: ls}
	cs.ctx, cs.cancel = context.WithCancel(ls.ctx)
	var ready sync.WaitGroup
	every := time.Second / time.Duration(max(1, ls.cfg.Ramp))
	for i := range n {
		s := &churnSession{got: map[int64]int{}}
		cs.sessions = append(cs.sessions, s)
		ready.Add(1)
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			cs.run(i, s, ready.Done)
		}()
		time.Sleep(every)
	}
	ready.Wait()
	return cs, nil
}

func (cs *churnSet) run(i int, s *churnSession, ready func()) {
	once := sync.OnceFunc(ready)
	defer once()
	ls := cs.ls
	host := ls.cfg.Addr
	id, err := join(cs.ctx, ls.ctrl[i%len(ls.ctrl)], host)
	if err != nil {
		cs.errors.Add(1)
		return
	}
	w, err := dialWire(host, 10*time.Second, false)
	if err != nil {
		cs.errors.Add(1)
		return
	}
	defer w.Close()
	stop := context.AfterFunc(cs.ctx, func() { w.Close() })
	defer stop()
	target := "/comet?p_event=listen&p_id=" + id + "&p_mode=pull&p_format=json&p_subject=" + churnSubject
	var last uint64
	req := getRequest(nil, host, target)
	for {
		if _, err := w.c.Write(req); err != nil {
			break
		}
		w.c.SetReadDeadline(time.Now().Add(time.Minute))
		h, err := w.readHead()
		var body []byte
		if err == nil {
			body, err = w.readBody(h)
		}
		if err != nil {
			break
		}
		if h.status != 200 {
			cs.errors.Add(1)
			break
		}
		cs.requests.Add(1)
		s.mu.Lock()
		eachObject(body, func(obj []byte) {
			e := scanEvent(obj)
			switch {
			case rawIs(e.name, "data"):
				if seq := uint64(rawNum(e.seq)); seq != last+1 {
					s.seqErrors++
					last = max(last, seq)
				} else {
					last = seq
				}
				s.got[rawNum(e.k)]++
				s.events++
			case rawIs(e.name, "gap"):
				s.gaps++
				last = max(last, uint64(rawNum(e.seq)))
			}
		})
		s.mu.Unlock()
		w.release()
		once()
		req = getRequest(req[:0], host, "/comet?p_event=refresh&p_id="+id+"&p_last="+strconv.FormatUint(last, 10))
	}
	if cs.ctx.Err() == nil {
		cs.errors.Add(1)
	}
}

// finish stops the sessions and checks that each received every event
// first..last exactly once.
func (cs *churnSet) finish(first, last int64) churnResult {
	cs.cancel()
	cs.wg.Wait()
	r := churnResult{Sessions: len(cs.sessions), Requests: cs.requests.Load(), Errors: cs.errors.Load()}
	for _, s := range cs.sessions {
		s.mu.Lock()
		r.Events += s.events
		r.Gaps += s.gaps
		r.SeqErrors += s.seqErrors
		for k := first; k <= last && first > 0; k++ {
			switch n := s.got[k]; {
			case n == 0:
				r.Missing++
			case n > 1:
				r.Duplicate += int64(n - 1)
			}
		}
		s.mu.Unlock()
	}
	return r
}

// mergeGot merges the receipts of one event over load processes.
func mergeGot(datas [][]byte) (fanoutGot, error) {
	var m fanoutGot
	for _, d := range datas {
		var g fanoutGot
		if err := json.Unmarshal(d, &g); err != nil {
			return m, err
		}
		m.K = g.K
		m.Received += g.Received
		m.Listeners += g.Listeners
		m.Max = max(m.Max, g.Max)
		m.Latency.Merge(&g.Latency)
	}
	return m, nil
}
