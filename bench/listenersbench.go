package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// listenerKinds are the servers of the listener scenarios: cometplay (the
// games stack), the net/http Comet baseline, the bare gnet floor.
var listenerKinds = []string{kindGames, kindNetHTTPComet, kindGnet}

// triggerTitle names the request that publishes in the busy phase.
var triggerTitle = map[string]string{
	kindGames:        "Handler: Hub.Publish, 204",
	kindNetHTTPComet: "control publish",
	kindGnet:         "push",
}

var listenerTitle = map[string]string{
	kindGames:        "cometplay",
	kindNetHTTPComet: "net/http",
	kindGnet:         "bare gnet",
}

// listenersOptions are the flags of `bench listeners`.
type listenersOptions struct {
	Out, ChartsDir string
	Kinds          []string
	Steps          []int // listener counts at which the idle server is measured
	FanoutAt       int   // listener count of the fan-out phases
	Events         int   // one-event fan-outs
	Pause          time.Duration
	BusyEvents     int // events of the publish-under-fan-out phase
	BusyProbes     int // probe connections of that phase
	Rate           int // sustained: events per second
	Sustained      time.Duration
	Churn          int // long-poll sessions
	ChurnRate      int
	ChurnDur       time.Duration
	Ramp           int // listeners opened per second (all processes)
	Settle         time.Duration
	ServerProcs    int
	Env            []string
	ProfileDir     string
}

const (
	fanSubject   = "/bench/fan"
	churnSubject = "/bench/churn"
	// idleSubject has no listener: a probe's publish goes nowhere, so its
	// round trip is the server's answer to a control request.
	idleSubject = "/bench/idle"
)

// listenersMain is `bench listeners`.
func listenersMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("listeners", flag.ContinueOnError)
	var o listenersOptions
	fs.StringVar(&o.Out, "out", "", "RESULTS.md to update (its listeners section); empty prints the section")
	fs.StringVar(&o.ChartsDir, "charts", "", "directory for the SVG charts (default: charts/ next to -out)")
	kinds := fs.String("kinds", strings.Join(listenerKinds, ","), "servers, the first is the subject of the ratios")
	steps := fs.String("steps", "1000,2500,5000,10000,15000,19000", "idle stream listener counts at which the server is measured")
	fs.IntVar(&o.FanoutAt, "fanout-at", 10000, "listener count of the fan-out phases (one of -steps)")
	fs.IntVar(&o.Events, "events", 40, "one-event fan-outs, one after the other")
	fs.DurationVar(&o.Pause, "pause", 100*time.Millisecond, "pause between one-event fan-outs")
	fs.IntVar(&o.BusyEvents, "busy-events", 20, "publish under fan-out: events, each timed with probes sent while it fans out (0: skip the phase)")
	fs.IntVar(&o.BusyProbes, "busy-probes", 4, "publish under fan-out: probe connections, each sending one control request per event")
	fs.IntVar(&o.Rate, "rate", 10, "sustained fan-out: events published per second")
	fs.DurationVar(&o.Sustained, "sustained", 5*time.Second, "sustained fan-out: measured time")
	fs.IntVar(&o.Churn, "churn", 1000, "long-poll churn: sessions")
	fs.IntVar(&o.ChurnRate, "churn-rate", 20, "long-poll churn: events published per second")
	fs.DurationVar(&o.ChurnDur, "churn-d", 5*time.Second, "long-poll churn: measured time")
	fs.IntVar(&o.Ramp, "ramp", 4000, "listeners opened per second")
	fs.DurationVar(&o.Settle, "settle", time.Second, "pause before the idle server is measured, and after the last events")
	fs.IntVar(&o.ServerProcs, "server-procs", runtime.NumCPU(), "GOMAXPROCS of the servers")
	env := fs.String("server-env", "", "environment of the servers, space separated (e.g. GOGC=200)")
	fs.StringVar(&o.ProfileDir, "profile", "", "collect CPU (fan-out phases) and heap (idle listeners) profiles of each server into this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Kinds = strings.Split(*kinds, ",")
	for _, k := range o.Kinds {
		if !slices.Contains(listenerKinds, k) {
			return fmt.Errorf("bench: unknown server kind %q (want %v)", k, listenerKinds)
		}
	}
	var err error
	if o.Steps, err = parseIntList(*steps); err != nil {
		return err
	}
	slices.Sort(o.Steps)
	if !slices.Contains(o.Steps, o.FanoutAt) {
		return errors.New("bench: -fanout-at must be one of -steps")
	}
	o.Env = strings.Fields(*env)
	if o.ChartsDir == "" && o.Out != "" {
		o.ChartsDir = filepath.Join(filepath.Dir(o.Out), "charts")
	}
	started, loadStart := time.Now(), loadAverage()
	runs, err := runListeners(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	for _, r := range runs {
		fmt.Fprintln(os.Stderr, r.summary())
	}
	rep := &listenersReport{o: o, runs: runs, loadStart: loadStart, loadEnd: loadAverage()}
	return writeReport(rep, o.Out, o.ChartsDir, "listeners", invocation, started, stdout)
}

// idleStep is the idle server at one listener count.
type idleStep struct {
	Listeners  int
	Errors     int
	RSS        int64
	HeapInuse  uint64
	Goroutines int
	OpenTime   time.Duration
}

// listenersRun is one server's results.
type listenersRun struct {
	Kind    string
	Procs   int
	Base    idleStep // no listener
	Steps   []idleStep
	FanoutN int
	// One event at a time.
	Completion Histogram // per event: from the publish to the last receipt
	Delivery   Histogram // per receipt
	Missed     int64     // receipts missing after the wait
	FanEvents  int
	ByEvent    []time.Duration // completion of each event, in order (paired with the other servers')
	FanCPU     cpuUse
	// Sustained.
	SusEvents int64
	Sus       listenersResult
	SusCPU    cpuUse
	// Long-poll churn.
	Churn      *churnResult
	ChurnK     int64
	ChurnCPU   cpuUse
	CPUProf    string
	HeapProf   string
	PubLatency Histogram // publish request round trips
	// A publish under fan-out (busyInterleaved).
	BusyEvents     int
	BusyTrigger    Histogram // the round trip of the request that publishes
	BusyProbe      Histogram // probes sent while the fan-out ran
	BusyLate       int       // probes sent after the last receipt (not counted)
	BusyCompletion Histogram
	BusyMissed     int64
}

// publisher publishes the scenarios' events over one keep-alive connection.
type publisher struct {
	w    *wireConn
	host string
	kind string
	id   string // p_id of the Comet publisher session
	buf  []byte
}

func newPublisher(addr, kind string) (*publisher, error) {
	w, err := dialWire(addr, 5*time.Second, false)
	if err != nil {
		return nil, err
	}
	p := &publisher{w: w, host: addr, kind: kind}
	if kind != kindGnet {
		status, body, err := p.do("/comet?p_event=join&p_format=json")
		if err = ctrlError(status, body, err); err != nil {
			w.Close()
			return nil, err
		}
		if p.id = joinID(body); p.id == "" {
			w.Close()
			return nil, errors.New("bench: publisher: join-ack without p_id")
		}
	}
	return p, nil
}

func (p *publisher) do(target string) (int, []byte, error) {
	p.buf = getRequest(p.buf[:0], p.host, target)
	p.w.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.w.c.Write(p.buf); err != nil {
		return 0, nil, err
	}
	h, err := p.w.readHead()
	if err != nil {
		return 0, nil, err
	}
	body, err := p.w.readBody(h)
	return h.status, body, err
}

// publish sends event k to subject, stamped with the time of the write.
func (p *publisher) publish(subject string, k int64) (time.Duration, error) {
	t := time.Now()
	ks, ts := strconv.FormatInt(k, 10), strconv.FormatInt(t.UnixNano(), 10)
	target := "/floor/push?k=" + ks + "&t=" + ts
	if p.kind != kindGnet {
		target = "/comet?p_event=publish&p_id=" + p.id + "&p_subject=" + subject + "&k=" + ks + "&t=" + ts
	}
	status, body, err := p.do(target)
	if err = ctrlError(status, body, err); err != nil {
		return 0, err
	}
	return time.Since(t), nil
}

// trigger publishes event k to fanSubject the way the busy phase times: on
// the games kind a Handler calls Hub.Publish (benchPublishPath, answered
// 204 once Publish returned), on net/http a control publish, on the floor
// a push. It returns the request's round trip.
func (p *publisher) trigger(k int64) (time.Duration, error) {
	if p.kind != kindGames {
		return p.publish(fanSubject, k)
	}
	t := time.Now()
	return p.timed(t, benchPublishPath+"?subject="+fanSubject+"&k="+strconv.FormatInt(k, 10)+"&t="+strconv.FormatInt(t.UnixNano(), 10), 204)
}

// timed sends target and returns the time from t to its answer; a status
// other than want is an error.
func (p *publisher) timed(t time.Time, target string, want int) (time.Duration, error) {
	status, body, err := p.do(target)
	if err == nil && status != want {
		err = fmt.Errorf("HTTP %d: %.100s", status, body)
	}
	if err != nil {
		return 0, err
	}
	return time.Since(t), nil
}

// probe sends what a player's move is to the server, a control publish
// (to idleSubject: nobody listens), or on the floor a GET of its fixed
// answer, and returns its round trip.
func (p *publisher) probe(k int64) (time.Duration, error) {
	if p.kind != kindGnet {
		return p.publish(idleSubject, k)
	}
	return p.timed(time.Now(), staticPath, 200)
}

func (p *publisher) close() { p.w.Close() }

// share distributes n listeners over procs load processes.
func share(n, procs, i int) int {
	m := n / procs
	if i < n%procs {
		m++
	}
	return m
}

// lserver is one server under test with its load processes.
type lserver struct {
	kind   string
	srv    *Child
	g      loadGroup
	pub    *publisher
	probes []*publisher // the busy phase's probe connections
	r      *listenersRun
	prof   *profiler
	procs  int
}

// runListeners starts every server with its load processes, then runs the
// phases: the idle listeners of each server in turn; the one-event
// fan-outs of all servers interleaved (event by event, the servers taking
// turns in a rotating order, so that they share the machine's noise); the
// sustained fan-out of each in turn; the long-poll churn of each in turn.
func runListeners(ctx context.Context, o listenersOptions, progress io.Writer) ([]*listenersRun, error) {
	top := o.Steps[len(o.Steps)-1]
	procs := max(1, (top+maxConnsPerLoadProc-1)/maxConnsPerLoadProc)
	var servers []*lserver
	defer func() {
		for _, ls := range servers {
			ls.g.stop()
			if ls.pub != nil {
				ls.pub.close()
			}
			for _, p := range ls.probes {
				p.close()
			}
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			if err := ls.srv.Stop(sctx); err != nil {
				fmt.Fprintln(progress, err)
			}
			cancel()
		}
	}()
	for _, kind := range o.Kinds {
		srv, err := StartChild(ServerSpec{Kind: kind, Procs: o.ServerProcs, Env: o.Env})
		if err != nil {
			return nil, err
		}
		ls := &lserver{kind: kind, srv: srv, procs: procs, r: &listenersRun{Kind: kind, Procs: procs, FanoutN: o.FanoutAt}}
		servers = append(servers, ls)
		fmt.Fprintf(progress, "listeners %s: server pid %d at %s, %d load processes\n", kind, srv.Pid(), srv.Addr, procs)
		for i := range procs {
			cfg := listenersConfig{Addr: srv.Addr, Kind: kind, Subject: fanSubject, Ramp: max(1, o.Ramp/procs), CtrlConns: 16}
			lc, err := startLoadChild(i, loadChildConfig{Mode: "listeners", Listeners: &cfg})
			if err != nil {
				return nil, err
			}
			ls.g = append(ls.g, lc)
		}
		if ls.pub, err = newPublisher(srv.Addr, kind); err != nil {
			return nil, err
		}
	}
	for _, ls := range servers {
		if err := ls.idle(ctx, o, progress); err != nil {
			return nil, fmt.Errorf("%s: %w", ls.kind, err)
		}
	}
	// Every server with FanoutAt new listeners (their sessions' windows
	// empty), each profiled from here to the end of its sustained phase.
	for _, ls := range servers {
		if n, errs, err := ls.open(ctx, o.FanoutAt); err != nil {
			return nil, fmt.Errorf("%s: %w", ls.kind, err)
		} else if errs > 0 || n < o.FanoutAt {
			fmt.Fprintf(progress, "  %s fan-out listeners: %d open, %d failed\n", ls.kind, n, errs)
		}
		var err error
		if ls.prof, err = startProfile(ls.srv, o.ProfileDir, "listeners-"+ls.kind+"-fanout"); err != nil {
			return nil, err
		}
	}
	if err := fanoutInterleaved(ctx, o, servers, progress); err != nil {
		return nil, err
	}
	if err := busyInterleaved(ctx, o, servers, progress); err != nil {
		return nil, err
	}
	for _, ls := range servers {
		if err := ls.sustained(ctx, o, progress); err != nil {
			return nil, fmt.Errorf("%s: %w", ls.kind, err)
		}
		var err error
		if ls.r.CPUProf, _, err = ls.prof.stop(); err != nil {
			return nil, err
		}
		if err := ls.closeAll(ctx); err != nil {
			return nil, err
		}
	}
	for _, ls := range servers {
		if ls.kind != kindGnet && o.Churn > 0 {
			if err := ls.r.churn(ctx, o, ls.srv, ls.g, ls.pub, progress); err != nil {
				return nil, fmt.Errorf("%s: %w", ls.kind, err)
			}
		}
	}
	var runs []*listenersRun
	for _, ls := range servers {
		runs = append(runs, ls.r)
	}
	return runs, nil
}

// open opens listeners until n are open on the server (over its load
// processes).
func (ls *lserver) open(ctx context.Context, n int) (open, errs int, err error) {
	for i, lc := range ls.g {
		if err := lc.command("open " + strconv.Itoa(share(n, ls.procs, i))); err != nil {
			return 0, 0, err
		}
	}
	datas, err := ls.g.await(ctx, "opened", 5*time.Minute, nil)
	if err != nil {
		return 0, 0, err
	}
	for _, d := range datas {
		var x struct{ Listeners, Errors int }
		json.Unmarshal(d, &x)
		open, errs = open+x.Listeners, errs+x.Errors
	}
	return open, errs, nil
}

// closeAll ends every listener (the Comet sessions leave).
func (ls *lserver) closeAll(ctx context.Context) error {
	if err := ls.g.command("close"); err != nil {
		return err
	}
	_, err := ls.g.await(ctx, "closed", time.Minute, nil)
	return err
}

func (ls *lserver) measureIdle(ctx context.Context, o listenersOptions, n int) (idleStep, error) {
	st := idleStep{Listeners: n}
	if err := sleepCtx(ctx, o.Settle); err != nil {
		return st, err
	}
	if _, err := ls.srv.Control("gc"); err != nil {
		return st, err
	}
	smp, err := sampleServer(ls.srv)
	st.RSS, st.HeapInuse, st.Goroutines = smp.RSS, smp.HeapInuse, smp.Goroutines
	return st, err
}

// idle measures the server at each step of idle listeners, before any
// event (the windows of the sessions stay empty, as they are for listeners
// that wait), writes the heap profile at the top, and closes them.
func (ls *lserver) idle(ctx context.Context, o listenersOptions, progress io.Writer) error {
	r := ls.r
	var err error
	if r.Base, err = ls.measureIdle(ctx, o, 0); err != nil {
		return err
	}
	for _, n := range o.Steps {
		t0 := time.Now()
		n, errs, err := ls.open(ctx, n)
		if err != nil {
			return err
		}
		st, err := ls.measureIdle(ctx, o, n)
		if err != nil {
			return err
		}
		st.Errors, st.OpenTime = errs, time.Since(t0)
		r.Steps = append(r.Steps, st)
		fmt.Fprintf(progress, "  %s: %d listeners (%d failed) in %v: RSS %s, heap %s, goroutines %d\n", ls.kind, n, errs,
			st.OpenTime.Round(100*time.Millisecond), fmtBytes(st.RSS), fmtBytes(int64(st.HeapInuse)), st.Goroutines)
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return err
		}
		if abs, err := filepath.Abs(o.ProfileDir); err == nil {
			r.HeapProf = filepath.Join(abs, "listeners-"+ls.kind+"-idle-heap.pprof")
			if _, err := ls.srv.Control("heap " + r.HeapProf); err != nil {
				return err
			}
		}
	}
	return ls.closeAll(ctx)
}

// fanoutInterleaved publishes Events events to each server, one at a time:
// event e goes to every server in turn, starting with a different server
// each time, and each waits until all its listeners have it.
func fanoutInterleaved(ctx context.Context, o listenersOptions, servers []*lserver, progress io.Writer) error {
	if err := fanoutMode(ctx, servers, "on"); err != nil {
		return err
	}
	marks := make([]cpuMark, len(servers))
	for i, ls := range servers {
		marks[i] = markCPU(ls.srv, ls.g)
	}
	for e := range o.Events {
		k := int64(e + 1)
		for i := range servers {
			ls := servers[(i+e)%len(servers)]
			r := ls.r
			d, err := ls.pub.publish(fanSubject, k)
			if err != nil {
				return fmt.Errorf("%s: %w", ls.kind, err)
			}
			r.PubLatency.Record(d)
			if err := ls.g.command(fmt.Sprintf("await %d %d", k, 10000)); err != nil {
				return err
			}
			datas, err := ls.g.await(ctx, "got", time.Minute, nil)
			if err != nil {
				return err
			}
			got, err := mergeGot(datas)
			if err != nil {
				return err
			}
			r.Completion.Record(time.Duration(got.Max))
			r.Delivery.Merge(&got.Latency)
			r.Missed += int64(got.Listeners - got.Received)
			r.FanEvents++
			r.ByEvent = append(r.ByEvent, time.Duration(got.Max))
			if err := sleepCtx(ctx, o.Pause); err != nil {
				return err
			}
		}
	}
	for i, ls := range servers {
		ls.r.FanCPU = cpuBetween(marks[i], markCPU(ls.srv, ls.g))
	}
	if err := fanoutMode(ctx, servers, "off"); err != nil {
		return err
	}
	for _, ls := range servers {
		r := ls.r
		fmt.Fprintf(progress, "  %s: one event to %d listeners ×%d: completion p50 %s p99 %s max %s, missed %d\n", ls.kind, r.FanoutN, r.FanEvents,
			fmtDur(r.Completion.Quantile(0.5)), fmtDur(r.Completion.Quantile(0.99)), fmtDur(r.Completion.Max()), r.Missed)
	}
	return nil
}

// fanoutMode turns the load processes' receipts of single events on or off.
func fanoutMode(ctx context.Context, servers []*lserver, mode string) error {
	for _, ls := range servers {
		if err := ls.g.command("fanout " + mode); err != nil {
			return err
		}
		if _, err := ls.g.await(ctx, "fanout", time.Minute, nil); err != nil {
			return err
		}
	}
	return nil
}

// busyBase numbers the busy phase's events apart from the others.
const busyBase = int64(1 << 18)

// busyInterleaved is the publish under fan-out: BusyEvents events to each
// server's listeners, interleaved as in fanoutInterleaved. Each is
// published by trigger, whose answer is timed, while BusyProbes other
// connections each send one probe (a control publish elsewhere, as a
// player's move) at its own offset into the fan-out (probeOffset).
func busyInterleaved(ctx context.Context, o listenersOptions, servers []*lserver, progress io.Writer) error {
	if o.BusyEvents <= 0 {
		return nil
	}
	for _, ls := range servers {
		for range max(1, o.BusyProbes) {
			p, err := newPublisher(ls.srv.Addr, ls.kind)
			if err != nil {
				return fmt.Errorf("%s: probe connection: %w", ls.kind, err)
			}
			ls.probes = append(ls.probes, p)
		}
	}
	if err := fanoutMode(ctx, servers, "on"); err != nil {
		return err
	}
	for e := range o.BusyEvents {
		for i := range servers {
			ls := servers[(i+e)%len(servers)]
			if err := ls.busyEvent(ctx, busyBase+int64(e)); err != nil {
				return fmt.Errorf("%s: %w", ls.kind, err)
			}
			if err := sleepCtx(ctx, o.Pause); err != nil {
				return err
			}
		}
	}
	if err := fanoutMode(ctx, servers, "off"); err != nil {
		return err
	}
	for _, ls := range servers {
		r := ls.r
		fmt.Fprintf(progress, "  %s: publish under fan-out ×%d: trigger p50 %s p99 %s; probes during the fan-out p50 %s p99 %s (%d, %d late); missed %d\n",
			ls.kind, r.BusyEvents, fmtDur(r.BusyTrigger.Quantile(0.5)), fmtDur(r.BusyTrigger.Quantile(0.99)),
			fmtDur(r.BusyProbe.Quantile(0.5)), fmtDur(r.BusyProbe.Quantile(0.99)), r.BusyProbe.Count(), r.BusyLate, r.BusyMissed)
	}
	return nil
}

// defaultBusySpan spreads the probes when the one-event phase measured no
// completion time.
const defaultBusySpan = 20 * time.Millisecond

// probeOffset is when probe i of n is sent after the trigger: spread evenly
// over span, the server's median completion of one event, so that each
// probe reaches a server in the middle of the fan-out.
func probeOffset(i, n int, span time.Duration) time.Duration {
	return time.Duration((float64(i) + 0.5) / float64(n) * float64(span))
}

// busyEvent publishes event k with the trigger and times it and the probes.
func (ls *lserver) busyEvent(ctx context.Context, k int64) error {
	r := ls.r
	span := r.Completion.Quantile(0.5)
	if span <= 0 {
		span = defaultBusySpan
	}
	type sent struct {
		at, rtt time.Duration
		err     error
	}
	res := make([]sent, len(ls.probes))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, p := range ls.probes {
		wg.Go(func() {
			time.Sleep(time.Until(t0.Add(probeOffset(i, len(ls.probes), span))))
			at := time.Since(t0)
			rtt, err := p.probe(k)
			res[i] = sent{at, rtt, err}
		})
	}
	d, err := ls.pub.trigger(k)
	if err != nil {
		wg.Wait()
		return err
	}
	r.BusyTrigger.Record(d)
	if err := ls.g.command(fmt.Sprintf("await %d %d", k, 10000)); err != nil {
		wg.Wait()
		return err
	}
	datas, err := ls.g.await(ctx, "got", time.Minute, nil)
	wg.Wait()
	if err != nil {
		return err
	}
	got, err := mergeGot(datas)
	if err != nil {
		return err
	}
	r.BusyEvents++
	r.BusyCompletion.Record(time.Duration(got.Max))
	r.BusyMissed += int64(got.Listeners - got.Received)
	for _, p := range res {
		switch {
		case p.err != nil:
			return fmt.Errorf("probe: %w", p.err)
		case p.at < time.Duration(got.Max):
			r.BusyProbe.Record(p.rtt)
		default:
			r.BusyLate++
		}
	}
	return nil
}

// sustained publishes Rate events per second for the window (and Settle on
// each side, unmeasured).
func (ls *lserver) sustained(ctx context.Context, o listenersOptions, progress io.Writer) error {
	r, srv, g, pub := ls.r, ls.srv, ls.g, ls.pub
	k := int64(1 << 19) // apart from the one-event fan-outs
	start := time.Now().Add(o.Settle)
	end := start.Add(o.Sustained)
	if err := g.command(fmt.Sprintf("window %d %d", start.UnixNano(), end.UnixNano())); err != nil {
		return err
	}
	every := time.Second / time.Duration(max(1, o.Rate))
	var c1 cpuMark
	measuring := false
	for next := time.Now(); time.Now().Before(end.Add(o.Settle)); next = next.Add(every) {
		if err := sleepCtx(ctx, time.Until(next)); err != nil {
			return err
		}
		if !measuring && !time.Now().Before(start) {
			measuring, c1 = true, markCPU(srv, g)
		}
		k++
		if _, err := pub.publish(fanSubject, k); err != nil {
			return err
		}
		if measuring && time.Now().Before(end) {
			r.SusEvents++
		}
		if measuring && !time.Now().Before(end) && r.SusCPU.Wall == 0 {
			r.SusCPU = cpuBetween(c1, markCPU(srv, g))
		}
	}
	if err := g.command("report"); err != nil {
		return err
	}
	datas, err := g.await(ctx, "result", time.Minute, nil)
	if err != nil {
		return err
	}
	r.Sus = listenersResult{Errors: map[string]int64{}}
	for _, d := range datas {
		var x listenersResult
		if err := json.Unmarshal(d, &x); err != nil {
			return err
		}
		r.Sus.Deliveries += x.Deliveries
		r.Sus.Latency.Merge(&x.Latency)
		r.Sus.Gaps += x.Gaps
		r.Sus.SeqErrors += x.SeqErrors
		for k, v := range x.Errors {
			r.Sus.Errors[k] += v
		}
		r.Sus.Sample = append(r.Sus.Sample, x.Sample...)
	}
	fmt.Fprintf(progress, "  %s: sustained %d events/s to %d listeners: %.0f deliveries/s, server %.2f cores, p99 %s, gaps %d\n",
		ls.kind, o.Rate, r.FanoutN, r.deliveriesPerSec(), r.SusCPU.Server, fmtDur(r.Sus.Latency.Quantile(0.99)), r.Sus.Gaps)
	return nil
}

func (r *listenersRun) deliveriesPerSec() float64 {
	if r.SusCPU.Wall <= 0 {
		return 0
	}
	return float64(r.Sus.Deliveries) / r.SusCPU.Wall.Seconds()
}

// churn runs the long-poll churn.
func (r *listenersRun) churn(ctx context.Context, o listenersOptions, srv *Child, g loadGroup, pub *publisher, progress io.Writer) error {
	for i, lc := range g {
		if err := lc.command("churn " + strconv.Itoa(share(o.Churn, len(g), i))); err != nil {
			return err
		}
	}
	if _, err := g.await(ctx, "churning", 2*time.Minute, nil); err != nil {
		return err
	}
	c0 := markCPU(srv, g)
	every := time.Second / time.Duration(max(1, o.ChurnRate))
	end := time.Now().Add(o.ChurnDur)
	k := int64(1 << 20) // apart from the fan-out's numbers
	first := k + 1
	for next := time.Now(); time.Now().Before(end); next = next.Add(every) {
		if err := sleepCtx(ctx, time.Until(next)); err != nil {
			return err
		}
		k++
		if _, err := pub.publish(churnSubject, k); err != nil {
			return err
		}
	}
	r.ChurnCPU = cpuBetween(c0, markCPU(srv, g))
	r.ChurnK = k - first + 1
	// The last events are still on their way.
	if err := sleepCtx(ctx, o.Settle); err != nil {
		return err
	}
	if err := g.command(fmt.Sprintf("churn-report %d %d", first, k)); err != nil {
		return err
	}
	datas, err := g.await(ctx, "churned", time.Minute, nil)
	if err != nil {
		return err
	}
	var m churnResult
	for _, d := range datas {
		var x churnResult
		if err := json.Unmarshal(d, &x); err != nil {
			return err
		}
		m.Sessions += x.Sessions
		m.Requests += x.Requests
		m.Events += x.Events
		m.Missing += x.Missing
		m.Duplicate += x.Duplicate
		m.Gaps += x.Gaps
		m.SeqErrors += x.SeqErrors
		m.Errors += x.Errors
	}
	r.Churn = &m
	fmt.Fprintf(progress, "  long-poll churn, %d sessions, %d events: %.0f requests/s, missed %d, gaps %d, p_seq errors %d, server %.2f cores\n",
		m.Sessions, r.ChurnK, float64(m.Requests)/r.ChurnCPU.Wall.Seconds(), m.Missing, m.Gaps, m.SeqErrors, r.ChurnCPU.Server)
	return nil
}

// rssPerListener is the growth of RSS from no listener to the step, per
// listener.
func (r *listenersRun) rssPerListener(st idleStep) float64 {
	if st.Listeners == 0 {
		return math.NaN()
	}
	return float64(st.RSS-r.Base.RSS) / float64(st.Listeners)
}

func (r *listenersRun) last() idleStep {
	if len(r.Steps) == 0 {
		return idleStep{}
	}
	return r.Steps[len(r.Steps)-1]
}

func (r *listenersRun) summary() string {
	st := r.last()
	return fmt.Sprintf("listeners %-13s %d idle: RSS %s (%.0f B/listener), goroutines %d→%d; one event to %d: completion p99 %s; sustained %.0f deliveries/s at %.2f cores",
		r.Kind, st.Listeners, fmtBytes(st.RSS), r.rssPerListener(st), r.Base.Goroutines, st.Goroutines, r.FanoutN,
		fmtDur(r.Completion.Quantile(0.99)), r.deliveriesPerSec(), r.SusCPU.Server)
}

type listenersReport struct {
	o                  listenersOptions
	runs               []*listenersRun
	loadStart, loadEnd string
}

func (rep *listenersReport) run(kind string) *listenersRun {
	for _, r := range rep.runs {
		if r.Kind == kind {
			return r
		}
	}
	return nil
}

func (rep *listenersReport) summary() string {
	var b strings.Builder
	for _, r := range rep.runs {
		b.WriteString(r.summary() + "\n")
	}
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "target %-55s %-12s %-6s %s\n", t.What, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

// Targets of the listener scenarios.
const (
	targetListeners      = 19000
	targetRSSPerListener = 1024
	targetFanoutN        = 10000
	// targetCompletionRatio: one event's completion p99 at most this times
	// the bare gnet floor's in the same run.
	targetCompletionRatio = 1.0
	// targetBusyP50: a publish's own answer, and a control request answered
	// during a fan-out, within this (p50).
	targetBusyP50 = 5 * time.Millisecond
)

func (rep *listenersReport) targets() []target {
	var ts []target
	cp := rep.run(kindGames)
	if cp == nil {
		return nil
	}
	nh, gn := rep.run(kindNetHTTPComet), rep.run(kindGnet)
	if st := cp.last(); st.Listeners >= targetListeners*99/100 {
		per := cp.rssPerListener(st)
		t := target{What: "RSS per idle stream listener ≤ 1 KiB", Config: fmt.Sprintf("%d listeners", st.Listeners),
			Measured: fmt.Sprintf("%.0f B", per), Met: per <= targetRSSPerListener, Context: overBy(per, targetRSSPerListener)}
		var ctx []string
		if nh != nil {
			ctx = append(ctx, fmt.Sprintf("net/http %.0f B (cometplay ÷ net/http %s)", nh.rssPerListener(nh.last()), fmtRatio(per/nh.rssPerListener(nh.last()))))
		}
		if gn != nil {
			ctx = append(ctx, fmt.Sprintf("bare gnet %.0f B (%s)", gn.rssPerListener(gn.last()), fmtRatio(per/gn.rssPerListener(gn.last()))))
		}
		t.Context = strings.TrimPrefix(t.Context+"; "+strings.Join(ctx, ", "), "; ")
		ts = append(ts, t)
		g0, g1 := cp.Base.Goroutines, st.Goroutines
		ts = append(ts, target{What: "goroutines constant", Config: fmt.Sprintf("0 → %d listeners", st.Listeners),
			Measured: fmt.Sprintf("%d → %d", g0, g1), Met: g1 <= g0+4, Context: goroutineContext(nh)})
	}
	if cp.FanoutN >= targetFanoutN && cp.Completion.Count() > 0 {
		p99 := cp.Completion.Quantile(0.99)
		if gn != nil && gn.Completion.Count() > 0 {
			q := gn.Completion.Quantile(0.99)
			r := float64(p99) / float64(q)
			ts = append(ts, target{What: "one event to 10,000 stream listeners: completion p99 ≤ 1.0× bare gnet (same run)", Config: fmt.Sprintf("%d events each, interleaved", cp.FanEvents),
				Measured: fmtRatio(r), Met: r <= targetCompletionRatio,
				Context: fmt.Sprintf("p99 %s vs bare gnet %s; median of per-event ratios %s", fmtDur(p99), fmtDur(q), fmtRatio(pairedCompletion(cp, gn)))})
		}
		if nh != nil && nh.Completion.Count() > 0 {
			q := nh.Completion.Quantile(0.99)
			paired := pairedCompletion(cp, nh)
			ts = append(ts, target{What: "… and better than the net/http baseline", Config: "median of per-event ratios (events interleaved)",
				Measured: fmtRatio(paired), Met: paired < 1,
				Context: fmt.Sprintf("p99 %s vs net/http %s (%s)%s", fmtDur(p99), fmtDur(q), fmtRatio(float64(p99)/float64(q)), gnetContext(gn))})
		}
	}
	if cp.FanoutN >= targetFanoutN && cp.BusyEvents > 0 {
		p50 := cp.BusyTrigger.Quantile(0.5)
		ts = append(ts, target{What: "a publish never holds its caller behind the fan-out: a Handler's Hub.Publish to 10,000 listeners answers (204) p50 ≤ 5 ms",
			Config: fmt.Sprintf("%d events", cp.BusyEvents), Measured: fmtDur(p50), Met: p50 <= targetBusyP50,
			Context: strings.TrimPrefix(overBy(float64(p50), float64(targetBusyP50))+busyContext(nh, gn, func(r *listenersRun) *Histogram { return &r.BusyTrigger }, "publish", "push"), "; ")})
		p50 = cp.BusyProbe.Quantile(0.5)
		ts = append(ts, target{What: "… and a move (control publish) answered during that fan-out p50 ≤ 5 ms",
			Config: fmt.Sprintf("%d probes sent while it ran", cp.BusyProbe.Count()), Measured: fmtDur(p50), Met: p50 <= targetBusyP50 && cp.BusyProbe.Count() > 0,
			Context: strings.TrimPrefix(overBy(float64(p50), float64(targetBusyP50))+busyContext(nh, gn, func(r *listenersRun) *Histogram { return &r.BusyProbe }, "publish", "GET"), "; ")})
	}
	if cp.Churn != nil {
		c := cp.Churn
		missed := c.Missing + c.Gaps + c.SeqErrors
		ts = append(ts, target{What: "long-poll churn: missed events = 0 (p_seq contiguous per session)", Config: fmt.Sprintf("%d sessions", c.Sessions),
			Measured: strconv.FormatInt(missed, 10), Met: missed == 0})
	}
	return ts
}

// pairedCompletion is the median over events of a's completion ÷ b's: the
// servers took turns event by event, so each pair saw much the same noise.
func pairedCompletion(a, b *listenersRun) float64 {
	var rs []float64
	for i := range min(len(a.ByEvent), len(b.ByEvent)) {
		if b.ByEvent[i] > 0 {
			rs = append(rs, float64(a.ByEvent[i])/float64(b.ByEvent[i]))
		}
	}
	return median(rs)
}

// busyContext quotes the baselines' p50 of a busy-phase figure.
func busyContext(nh, gn *listenersRun, h func(*listenersRun) *Histogram, nhWhat, gnWhat string) string {
	var b strings.Builder
	if nh != nil && h(nh).Count() > 0 {
		fmt.Fprintf(&b, "; net/http (%s): %s", nhWhat, fmtDur(h(nh).Quantile(0.5)))
	}
	if gn != nil && h(gn).Count() > 0 {
		fmt.Fprintf(&b, "; bare gnet (%s): %s", gnWhat, fmtDur(h(gn).Quantile(0.5)))
	}
	return b.String()
}

func goroutineContext(nh *listenersRun) string {
	if nh == nil {
		return ""
	}
	return fmt.Sprintf("net/http: %d → %d", nh.Base.Goroutines, nh.last().Goroutines)
}

func gnetContext(gn *listenersRun) string {
	if gn == nil || gn.Completion.Count() == 0 {
		return ""
	}
	return ", bare gnet: " + fmtDur(gn.Completion.Quantile(0.99))
}

func (rep *listenersReport) markdown(header, chartDir string) string {
	o := rep.o
	var b strings.Builder
	b.WriteString("## Listeners: idle streams, fan-out, long-poll churn\n\n")
	b.WriteString(header)
	fmt.Fprintf(&b, "\nEach server runs in its own child process (GOMAXPROCS=%d, environment `%s`), all three started together; "+
		"the idle, sustained and churn phases measure one server at a time, the one-event fan-outs interleave them; the machine's %d cores "+
		"are shared with the load processes (%d per server: one process may hold 20,000 files). "+
		"The listeners are stream listens (`listen&p_mode=stream&p_format=json&p_subject=%s`, each joined first) for the Comet servers, and "+
		"`GET /floor/hold` for the bare gnet floor. Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		o.ServerProcs, envNote(o.Env), runtime.NumCPU(), rep.runs[0].Procs, fanSubject, rep.loadStart, rep.loadEnd)
	b.WriteString("- cometplay: `bench serve -kind games`, the example's whole stack (hub config " + describeHub(defaultHubConfig()) + ").\n")
	b.WriteString("- net/http: `bench serve -kind nethttp-comet` (bench/nethttpcomet.go), a goroutine per connection, the same protocol subset: join, stream listen (NDJSON), pull refresh, publish with segment matching, p_seq and a 256-event window per session.\n")
	b.WriteString("- bare gnet: `bench serve -kind gnet`, holding each connection and writing the same chunk to all on a trigger (one task per event loop): the floor.\n\n")

	b.WriteString(targetsTable("### Targets", "by how much, baselines", rep.targets()))

	b.WriteString("### Idle stream listeners\n\nMeasured a second after the listeners are open and a `runtime.GC` in the server (the `gc` control command): RSS from /proc (VmRSS), " +
		"Go heap in use and goroutines from the runtime. Per listener: (RSS − RSS with none) ÷ listeners.\n\n")
	b.WriteString("| listeners |")
	for _, r := range rep.runs {
		fmt.Fprintf(&b, " %s RSS | per listener | heap | goroutines |", listenerTitle[r.Kind])
	}
	b.WriteString("\n|---:|")
	for range rep.runs {
		b.WriteString("---:|---:|---:|---:|")
	}
	b.WriteString("\n")
	rows := append([]int{0}, o.Steps...)
	for i, n := range rows {
		fmt.Fprintf(&b, "| %d |", n)
		for _, r := range rep.runs {
			st := r.Base
			if i > 0 {
				if i-1 >= len(r.Steps) {
					b.WriteString(" | | | |")
					continue
				}
				st = r.Steps[i-1]
			}
			per := "–"
			if i > 0 {
				per = fmtBytes(int64(r.rssPerListener(st)))
			}
			fails := ""
			if st.Errors > 0 {
				fails = fmt.Sprintf(" (%d failed)", st.Errors)
			}
			fmt.Fprintf(&b, " %s%s | %s | %s | %d |", fmtBytes(st.RSS), fails, per, fmtBytes(int64(st.HeapInuse)), st.Goroutines)
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "\n### One event to %d stream listeners\n\n", o.FanoutAt)
	fmt.Fprintf(&b, "%d events per server, one at a time (%v apart), the servers taking turns event by event in a rotating order (all three hold "+
		"their %d listeners meanwhile), so that a burst of background load hits them alike: the publish request is written at t (its time travels in the event), each listener notes when it "+
		"has read and parsed the event; an event's **completion** is its last receipt − t. Delivery is every receipt − t. "+
		"The listeners' load processes share the two cores with the servers, so their reading is part of the figures. "+
		"Server CPU per event: the server's CPU over the whole interleaved phase ÷ its events.\n\n", o.Events, o.Pause, o.FanoutAt)
	b.WriteString("| server | events | completion p50 | p90 | p99 | max | delivery p50 | p99 | missed receipts | server CPU per event | publish round trip p50 | other cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.runs {
		perEvent := time.Duration(0)
		if r.FanEvents > 0 {
			perEvent = r.FanCPU.ServerCPU / time.Duration(r.FanEvents)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %d | %s | %s | %.2f |\n", listenerTitle[r.Kind], r.FanEvents,
			fmtDur(r.Completion.Quantile(0.5)), fmtDur(r.Completion.Quantile(0.9)), fmtDur(r.Completion.Quantile(0.99)), fmtDur(r.Completion.Max()),
			fmtDur(r.Delivery.Quantile(0.5)), fmtDur(r.Delivery.Quantile(0.99)), r.Missed, fmtDur(perEvent), fmtDur(r.PubLatency.Quantile(0.5)), r.FanCPU.OtherCores)
	}
	if cp := rep.run(kindGames); cp != nil && cp.Completion.Count() > 0 {
		b.WriteString("\nRatios (cometplay ÷ baseline, below 1 is better):")
		for _, r := range rep.runs {
			if r == cp || r.Completion.Count() == 0 {
				continue
			}
			fmt.Fprintf(&b, " ÷ %s: median of the per-event ratios %s, completion p50 %s, p99 %s;", listenerTitle[r.Kind], fmtRatio(pairedCompletion(cp, r)),
				fmtRatio(float64(cp.Completion.Quantile(0.5))/float64(r.Completion.Quantile(0.5))),
				fmtRatio(float64(cp.Completion.Quantile(0.99))/float64(r.Completion.Quantile(0.99))))
		}
		b.WriteString("\n")
	}

	if o.BusyEvents > 0 {
		fmt.Fprintf(&b, "\n### A publish during a fan-out\n\n"+
			"%d more events to the %d listeners, interleaved as above. Each is published by a **trigger** request whose own answer is timed: "+
			"on cometplay a Handler (`GET %s`, on the engine's workers) calling `Hub.Publish` and answering 204 once it returned; "+
			"on net/http a control publish; on bare gnet a push. Meanwhile %d **probe** connections each send one request at its own offset into the fan-out "+
			"(spread over the server's completion p50 of the one-event phase): a control publish to `%s`, where nobody listens (a player's move, as the "+
			"engine handles it), or on bare gnet a GET of its fixed answer. A probe counts if it was sent before the event's last receipt; late ones are listed apart. "+
			"The loops hold the listeners of every load process, so each probe meets a loop with its share of the fan-out to write.\n\n",
			o.BusyEvents, o.FanoutAt, benchPublishPath, o.BusyProbes, idleSubject)
		b.WriteString("| server | trigger | events | trigger p50 | p99 | max | probes counted | late | probe p50 | p99 | max | completion p50 | p99 | missed receipts |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.runs {
			if r.BusyEvents == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %d |\n", listenerTitle[r.Kind], triggerTitle[r.Kind], r.BusyEvents,
				fmtDur(r.BusyTrigger.Quantile(0.5)), fmtDur(r.BusyTrigger.Quantile(0.99)), fmtDur(r.BusyTrigger.Max()),
				r.BusyProbe.Count(), r.BusyLate, fmtDur(r.BusyProbe.Quantile(0.5)), fmtDur(r.BusyProbe.Quantile(0.99)), fmtDur(r.BusyProbe.Max()),
				fmtDur(r.BusyCompletion.Quantile(0.5)), fmtDur(r.BusyCompletion.Quantile(0.99)), r.BusyMissed)
		}
	}

	fmt.Fprintf(&b, "\n### Sustained fan-out\n\n%d events per second to the %d listeners for %v. Server CPU per delivery is the server's CPU time over the window ÷ deliveries received.\n\n", o.Rate, o.FanoutAt, o.Sustained)
	b.WriteString("| server | deliveries/s | server cores | server CPU per delivery | load cores | other cores | delivery p50 | p99 | max | gaps | p_seq errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.runs {
		per := time.Duration(0)
		if r.Sus.Deliveries > 0 {
			per = time.Duration(float64(r.SusCPU.ServerCPU) / float64(r.Sus.Deliveries))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %s | %.2f | %.2f | %s | %s | %s | %d | %d |\n", listenerTitle[r.Kind], r.deliveriesPerSec(), r.SusCPU.Server, fmtDur(per),
			r.SusCPU.Load, r.SusCPU.OtherCores, fmtDur(r.Sus.Latency.Quantile(0.5)), fmtDur(r.Sus.Latency.Quantile(0.99)), fmtDur(r.Sus.Latency.Max()), r.Sus.Gaps, r.Sus.SeqErrors)
	}

	fmt.Fprintf(&b, "\n### Long-poll churn\n\n%d sessions in pull mode (`listen&p_mode=pull&p_subject=%s`), each sending `refresh&p_last=N` as soon as an answer arrives; "+
		"%d events per second published for %v. Every session must receive every event exactly once, with contiguous p_seq: "+
		"missed counts published events a session never received, plus gap events and p_seq jumps.\n\n", o.Churn, churnSubject, o.ChurnRate, o.ChurnDur)
	b.WriteString("| server | sessions | events published | requests/s | events received | missed | duplicates | gaps | p_seq errors | failed requests | server cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.runs {
		if c := r.Churn; c != nil {
			fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %d | %d | %d | %d | %d | %d | %.2f |\n", listenerTitle[r.Kind], c.Sessions, r.ChurnK,
				float64(c.Requests)/r.ChurnCPU.Wall.Seconds(), c.Events, c.Missing, c.Duplicate, c.Gaps, c.SeqErrors, c.Errors, r.ChurnCPU.Server)
		}
	}
	b.WriteString("\n")
	for _, r := range rep.runs {
		if r.CPUProf != "" || r.HeapProf != "" {
			b.WriteString(profileSection(listenerTitle[r.Kind]+", fan-out (CPU) and idle listeners (heap)", r.CPUProf, r.HeapProf))
		}
	}
	if chartDir != "" {
		b.WriteString("### Charts\n\n")
		for _, c := range []string{"listeners-rss.svg", "listeners-fanout.svg", "listeners-sustained.svg"} {
			fmt.Fprintf(&b, "![%s](%s)\n", strings.TrimSuffix(c, ".svg"), pathJoin(chartDir, c))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (rep *listenersReport) writeCharts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rss := LineChart{
		Title: "Server RSS with idle stream listeners", XLabel: "listeners", YLabel: "RSS",
		YFormat: func(v float64) string { return fmtBytes(int64(v)) },
		Note:    "after runtime.GC in the server; VmRSS from /proc",
	}
	for _, r := range rep.runs {
		s := Series{Name: listenerTitle[r.Kind], X: []float64{0}, Y: []float64{float64(r.Base.RSS)}}
		for _, st := range r.Steps {
			s.X = append(s.X, float64(st.Listeners))
			s.Y = append(s.Y, float64(st.RSS))
		}
		rss.Series = append(rss.Series, s)
	}
	if err := writeFileAtomic(filepath.Join(dir, "listeners-rss.svg"), rss.SVG()); err != nil {
		return err
	}
	fan := LineChart{
		Title:  fmt.Sprintf("One event to %d stream listeners: completion time", rep.o.FanoutAt),
		XLabel: "percentile", YLabel: "publish → last receipt", YLog: true, XTicks: percentileTicks, YFormat: durationLabel,
		Note: fmt.Sprintf("%d events per server, one at a time", rep.o.Events),
	}
	for _, r := range rep.runs {
		fan.Series = append(fan.Series, percentileSeries(listenerTitle[r.Kind], &r.Completion))
	}
	if err := writeFileAtomic(filepath.Join(dir, "listeners-fanout.svg"), fan.SVG()); err != nil {
		return err
	}
	bars := BarChart{
		Title: "Sustained fan-out: server CPU per delivery", YLabel: "µs per delivery",
		Format: func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
		Note:   fmt.Sprintf("%d events/s to %d stream listeners", rep.o.Rate, rep.o.FanoutAt),
		Groups: []string{"server CPU per delivery"},
	}
	for _, r := range rep.runs {
		v := math.NaN()
		if r.Sus.Deliveries > 0 {
			v = r.SusCPU.ServerCPU.Seconds() * 1e6 / float64(r.Sus.Deliveries)
		}
		bars.Series = append(bars.Series, Series{Name: listenerTitle[r.Kind], Values: []float64{v}})
	}
	return writeFileAtomic(filepath.Join(dir, "listeners-sustained.svg"), bars.SVG())
}
