package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// playersOptions are the flags of `bench players`.
type playersOptions struct {
	Out, ChartsDir string
	Transports     []string
	Games          int
	Duration       time.Duration
	Warmup         time.Duration
	Think          time.Duration
	Lobby          string
	Match          string
	Procs          int // load processes (0: enough for the file limit)
	CtrlConns      int // per load process
	Ramp           int // players started per second, all processes together
	RampTimeout    time.Duration
	RequeueEvery   int
	HelloWindow    int
	ServerProcs    int
	// Nodes > 1 runs the server as that many nodes of a cluster behind
	// the per-request balancer (internal/balancer) in this process: the
	// players talk to the balancer, the server's figures are the games
	// node's (n1). Balance puts a single node behind the balancer too.
	Nodes        int
	Balance      bool
	Balancer     string   // balancerGo or balancerHAProxy
	NoTurnLog    bool     // the nodes' turn log off (-no-turn-log)
	Env          []string // GOGC, GOMEMLIMIT of the server
	PollWait     string
	ProfileDir   string
	TraceDir     string
	Section      string
	Drain        time.Duration
	Rounds       int
	SwitchSpread time.Duration
	// Targets is the set of targets the section states (targetsPlayers5k,
	// targetsLobby, targetsReference; "" picks by the other options).
	Targets string
}

// maxConnsPerLoadProc keeps a load process under its open-file limit
// (20,000 here) with room for its control connections.
const maxConnsPerLoadProc = 15000

func playersFlags(fs *flag.FlagSet, o *playersOptions) (games, trans, env *string) {
	fs.StringVar(&o.Out, "out", "", "RESULTS.md to update (its players section); empty prints the section")
	fs.StringVar(&o.ChartsDir, "charts", "", "directory for the SVG charts (default: charts/ next to -out)")
	trans = fs.String("transports", strings.Join(transports, ","), "transports to simulate, in order")
	games = fs.String("games", "5000", "concurrent games")
	fs.DurationVar(&o.Duration, "d", 20*time.Second, "measured time per transport")
	fs.DurationVar(&o.Warmup, "warmup", 5*time.Second, "unmeasured play once every player is in a game")
	fs.DurationVar(&o.Think, "think", time.Second, "time a player takes for a move: one move per this per game")
	fs.StringVar(&o.Match, "match", matchLobby, "lobby: players say hello and quick-match; direct: the games server's own matchmaker seats them (no lobby)")
	fs.StringVar(&o.Lobby, "lobby", lobbyQuiet, "quiet: players do nothing about the lobby once seated (the example page in a game); full: they say they browse the lobby all along (a lobby tab kept open)")
	fs.IntVar(&o.Procs, "procs", 0, "load processes (0: one per 15,000 players)")
	fs.IntVar(&o.CtrlConns, "ctrl-conns", 32, "shared control connections per load process")
	fs.IntVar(&o.Ramp, "ramp", 1000, "players started per second")
	fs.DurationVar(&o.RampTimeout, "ramp-timeout", 3*time.Minute, "longest wait for every player to be in a game")
	fs.IntVar(&o.HelloWindow, "hello-window", 64, "hellos waiting for their welcome at once, all processes together (the ramp's pace)")
	fs.IntVar(&o.RequeueEvery, "requeue-every", 3, "games in a room before its players quick-match again (0: rematch forever)")
	fs.IntVar(&o.ServerProcs, "server-procs", runtime.NumCPU(), "GOMAXPROCS of the server")
	fs.IntVar(&o.Nodes, "nodes", 1, "server nodes: more than 1 runs a cluster behind a per-request round-robin balancer")
	fs.BoolVar(&o.NoTurnLog, "no-turn-log", false, "with -nodes: the nodes' rooms' turn log off")
	fs.StringVar(&o.Balancer, "balancer", balancerHAProxy, "the balancer in front of the nodes: haproxy (Debian's, a process of its own; make deps installs it) or go (internal/balancer, in this process)")
	env = fs.String("server-env", "", "environment of the server, space separated (e.g. GOGC=200 GOMEMLIMIT=1GiB)")
	fs.StringVar(&o.PollWait, "poll-wait", "500-1000", "the server's poll p_wait range in ms (the engine's default is 6000-10000)")
	fs.StringVar(&o.ProfileDir, "profile", "", "collect CPU and heap profiles of the server over each measured window into this directory")
	fs.StringVar(&o.TraceDir, "trace", "", "write an execution trace of the server (5 s from the middle of each transport's first window) into this directory (go tool trace)")
	fs.StringVar(&o.Section, "section", "players", "RESULTS.md section to write")
	fs.DurationVar(&o.Drain, "drain", time.Second, "wait after a window for the events of its last moves")
	fs.IntVar(&o.Rounds, "rounds", 1, "rounds through the transports; figures are medians over the rounds")
	fs.DurationVar(&o.SwitchSpread, "switch-spread", defaultSwitchSpread, "a move to another transport is spread over this long; the window waits as long again plus the detach grace")
	fs.StringVar(&o.Targets, "targets", "", "targets the section states: "+strings.Join(targetSets, ", ")+" (default: "+targetsLobby+" with -lobby full, "+targetsPlayers5k+" from 5,000 games, else "+targetsReference+")")
	return games, trans, env
}

// playersMain is `bench players`.
func playersMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("players", flag.ContinueOnError)
	var o playersOptions
	games, trans, env := playersFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Transports = strings.Split(*trans, ",")
	if !slices.Contains(balancers, o.Balancer) {
		return fmt.Errorf("bench: unknown -balancer %q (want %v)", o.Balancer, balancers)
	}
	for _, t := range o.Transports {
		if !slices.Contains(transports, t) {
			return fmt.Errorf("bench: unknown transport %q (want %v)", t, transports)
		}
	}
	var err error
	if o.Games, err = strconv.Atoi(*games); err != nil || o.Games < 1 {
		return fmt.Errorf("bench: bad -games %q", *games)
	}
	o.Env = strings.Fields(*env)
	if o.Lobby != lobbyQuiet && o.Lobby != lobbyFull {
		return fmt.Errorf("bench: -lobby must be %s or %s", lobbyQuiet, lobbyFull)
	}
	if o.Targets != "" && !slices.Contains(targetSets, o.Targets) {
		return fmt.Errorf("bench: -targets must be one of %v", targetSets)
	}
	if o.ChartsDir == "" && o.Out != "" {
		o.ChartsDir = filepath.Join(filepath.Dir(o.Out), "charts")
	}
	started, loadStart := time.Now(), loadAverage()
	ramp, runs, err := runPlayers(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	rep := &playersReport{o: o, ramp: ramp, runs: runs, loadStart: loadStart, loadEnd: loadAverage()}
	return writeReport(rep, o.Out, o.ChartsDir, o.Section, invocation, started, stdout)
}

// sectionReport is a scenario's outcome, as writeReport writes it.
type sectionReport interface {
	writeCharts(dir string) error
	// markdown renders the section: header is the run's date, command and
	// machine; chartDir the charts' directory relative to the results file.
	markdown(header, chartDir string) string
	summary() string
}

// writeReport writes rep's charts into charts and its section of out, then
// prints its summary; without out it prints the section.
func writeReport(rep sectionReport, out, charts, section string, invocation []string, started time.Time, stdout io.Writer) error {
	linkDir, err := chartLinks(out, charts)
	if err != nil {
		return err
	}
	if charts != "" {
		if err := rep.writeCharts(charts); err != nil {
			return err
		}
	}
	md := rep.markdown(runHeader(invocation, started, time.Since(started), DescribeMachine()), linkDir)
	if out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := UpdateResultsFile(out, section, []byte(md)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\nwrote %s (section %s)\n", rep.summary(), out, section)
	return err
}

// chartLinks returns the charts directory relative to the results file.
func chartLinks(out, charts string) (string, error) {
	if charts == "" {
		return "", nil
	}
	base := "."
	if out != "" {
		base = filepath.Dir(out)
	}
	rel, err := filepath.Rel(base, charts)
	if err != nil {
		return filepath.ToSlash(charts), nil
	}
	return filepath.ToSlash(rel), nil
}

// playersRun is the outcome of one transport.
type playersRun struct {
	Transport     string
	Round         int
	Games         int
	Players       int
	Procs         int
	Window        time.Duration // the load processes' window
	Res           playersResult
	CPU           cpuUse // over the measured window
	Samples       sampleSummary
	Delivered     int64         // events the hub delivered in the window
	HubEnd        hubFigures    // the hub's figures at the window's end (history held)
	Warmup        playersResult // the switch to the transport and the warmup
	Debug         map[string]any
	CPUProf, Heap string
	// GC is what the server's collector did in the window (runtime/metrics).
	GC gcWindow
	// RSSEnd is the server's RSS at the end of the window; HeapLive its
	// heap objects right after a runtime.GC at the end of the round (the
	// live heap), once the window's last events are delivered.
	RSSEnd   int64
	HeapLive uint64
}

func mergePlayers(rs []playersResult) playersResult {
	var m playersResult
	m.Errors = map[string]int64{}
	for _, r := range rs {
		m.Players += r.Players
		m.Joined += r.Joined
		m.Welcomed += r.Welcomed
		m.InGame += r.InGame
		m.MovesSent += r.MovesSent
		m.MovesSeen += r.MovesSeen
		m.Games += r.Games
		m.Events += r.Events
		m.Requests += r.Requests
		m.BytesIn += r.BytesIn
		m.Unmatched += r.Unmatched
		m.Retries += r.Retries
		m.Stalled += r.Stalled
		m.MoveLat.Merge(&r.MoveLat)
		m.MoveLatSrv.Merge(&r.MoveLatSrv)
		m.Publish.Merge(&r.Publish)
		m.JoinLat.Merge(&r.JoinLat)
		m.HelloLat.Merge(&r.HelloLat)
		for k, v := range r.Errors {
			m.Errors[k] += v
		}
		if len(m.ErrorSample) < 10 {
			m.ErrorSample = append(m.ErrorSample, r.ErrorSample...)
		}
	}
	return m
}

// errorCount is every error of the run, stalled players included.
func (r *playersResult) errorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n + int64(r.Stalled)
}

// hubFigures are the figures of a games server's hub the players scenarios
// read from its stats.
type hubFigures struct {
	Delivered      int64 `json:"events_delivered"`
	HistoryBytes   int64 `json:"history_bytes"`         // the store's live slabs
	HistoryOffHeap int64 `json:"history_offheap_bytes"` // the slabs' memory outside the Go heap, resident
	HistoryRefs    int64 `json:"history_references"`    // events held by sessions
}

// hubStats reads the hub's figures from a games server's stats.
func hubStats(st childStats) hubFigures {
	var x struct {
		Hub hubFigures `json:"hub"`
	}
	if len(st.Extra) > 0 {
		json.Unmarshal(st.Extra, &x)
	}
	return x.Hub
}

// hubDelivered reads events_delivered from a games server's stats.
func hubDelivered(st childStats) int64 { return hubStats(st).Delivered }

func (o playersOptions) serverArgs(procs int) []string {
	args := []string{"-queues", strconv.Itoa(procs)}
	if o.PollWait != "" {
		args = append(args, "-poll-wait", o.PollWait)
	}
	return args
}

// playersRamp is the ramp-up: every player joins, says hello and is
// matched, over the first transport.
type playersRamp struct {
	Transport         string
	Games, Players    int
	Procs             int
	Time              time.Duration
	CPU               cpuUse
	RSSBefore         int64 // RSS of the fresh server
	RSSReady          int64 // RSS once every player is in a game
	Res               playersResult
	CPUProf, HeapProf string
	// Curve samples the server's RSS as players are welcomed.
	Curve []rampPoint
	// MaxConns is the server's cap on connections (its /debug/stats, from
	// its open-file limit); FileLimit that limit (its /proc limits);
	// OpenFiles the files it had open once every player was in a game.
	MaxConns             int
	FileLimit, OpenFiles int
}

// errOverCap: the players would need more connections than the server
// admits (its open-file limit).
var errOverCap = errors.New("bench: more connections than the server admits")

// connMargin is room for the bench's own requests beside the players'
// connections (/debug/stats, the sampler).
const connMargin = 16

// loadProcs is the number of load processes for games: one per
// maxConnsPerLoadProc players, unless -procs says otherwise.
func (o playersOptions) loadProcs(games int) int {
	procs := o.Procs
	if procs <= 0 {
		procs = (2*games + maxConnsPerLoadProc - 1) / maxConnsPerLoadProc
	}
	return max(1, min(procs, games))
}

// needConns is what the server must hold for games: a data channel per
// player, the load processes' shared control connections, the margin.
func (o playersOptions) needConns(games int) int {
	return 2*games + o.loadProcs(games)*max(1, o.CtrlConns) + connMargin
}

// rampPoint is the server's RSS when Players had been welcomed.
type rampPoint struct {
	At      time.Duration
	Players int64
	RSS     int64
}

// runPlayers starts one server and the load processes, ramps every player
// into a game over the first transport, then measures each transport in
// turn: the players move their data channel to it (listen again with
// p_last, as a client falling back does) and play on.
func runPlayers(ctx context.Context, o playersOptions, progress io.Writer) (*playersRamp, []*playersRun, error) {
	games := o.Games
	players := 2 * games
	procs := o.loadProcs(games)
	ramp := &playersRamp{Transport: o.Transports[0], Games: games, Players: players, Procs: procs}
	srv, addr, stopServers, err := startPlayersServers(ctx, o, procs)
	if err != nil {
		return nil, nil, err
	}
	defer stopServers(progress)
	fmt.Fprintf(progress, "players: %d games, server pid %d at %s, %d load processes\n", games, srv.Pid(), addr, procs)
	ramp.RSSBefore, _ = srv.RSS()
	ramp.FileLimit, _ = procFileLimit(srv.Pid())
	if st, err := debugStats(srv.Addr); err == nil {
		if v, ok := st["max_connections"].(float64); ok {
			ramp.MaxConns = int(v)
		}
	}
	if need := o.needConns(games); ramp.MaxConns > 0 && need > ramp.MaxConns {
		return ramp, nil, fmt.Errorf("%w: %d games need %d, the server admits %d (open-file limit %d)", errOverCap, games, need, ramp.MaxConns, ramp.FileLimit)
	}

	var g loadGroup
	defer func() { g.stop() }()
	for i := range procs {
		n := 2 * (games / procs)
		if i < games%procs {
			n += 2
		}
		cfg := playersConfig{
			Addr: addr, Transport: o.Transports[0], Players: n, Game: gameName(i), Think: o.Think, Lobby: o.Lobby, Match: o.Match,
			Ramp: max(1, o.Ramp/procs), CtrlConns: o.CtrlConns, RequeueEvery: o.RequeueEvery, HelloWindow: max(1, o.HelloWindow/procs),
			SwitchSpread: o.SwitchSpread,
			Seed:         uint64(i + 1), Name: fmt.Sprintf("p%d-", i),
		}
		lc, err := startLoadChild(i, loadChildConfig{Mode: "players", Players: &cfg})
		if err != nil {
			return nil, nil, err
		}
		g = append(g, lc)
	}

	// Ramp: wait until every player is in a game.
	t0 := time.Now()
	m0 := markCPU(srv, g)
	prof, err := startProfile(srv, o.ProfileDir, o.Section+"-ramp")
	if err != nil {
		return nil, nil, err
	}
	var lastLog time.Time
	prog := make([]playersProgress, len(g))
	pmu := make(chan struct{}, 1)
	if _, err := g.await(ctx, "ready", o.RampTimeout, func(lc *loadChild, l childLine) {
		if l.tag != "progress" {
			return
		}
		pmu <- struct{}{}
		defer func() { <-pmu }()
		var p playersProgress
		json.Unmarshal(l.data, &p)
		prog[lc.idx] = p
		if time.Since(lastLog) >= 2*time.Second {
			lastLog = time.Now()
			var sum playersProgress
			for _, p := range prog {
				sum.Joined += p.Joined
				sum.Welcomed += p.Welcomed
				sum.InGame += p.InGame
				sum.Errors += p.Errors
				sum.Retries += p.Retries
				if sum.FirstError == "" {
					sum.FirstError = p.FirstError
				}
			}
			if rss, err := srv.RSS(); err == nil {
				ramp.Curve = append(ramp.Curve, rampPoint{At: time.Since(t0), Players: sum.Welcomed, RSS: rss})
			}
			fmt.Fprintf(progress, "  ramp %5.1fs: joined %d welcomed %d in game %d retries %d errors %d %s\n",
				time.Since(t0).Seconds(), sum.Joined, sum.Welcomed, sum.InGame, sum.Retries, sum.Errors, sum.FirstError)
		}
	}); err != nil {
		return nil, nil, fmt.Errorf("bench: players did not all reach a game: %w", err)
	}
	ramp.Time = time.Since(t0)
	ramp.CPU = cpuBetween(m0, markCPU(srv, g))
	if ramp.CPUProf, ramp.HeapProf, err = prof.stop(); err != nil {
		return nil, nil, err
	}
	ramp.RSSReady, _ = srv.RSS()
	ramp.OpenFiles, _ = procOpenFiles(srv.Pid())
	if ramp.Res, err = g.report(ctx); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(progress, "  every player in a game after %v (server %.2f cores, RSS %s)\n", ramp.Time.Round(100*time.Millisecond), ramp.CPU.Server, fmtBytes(ramp.RSSReady))

	// The rounds of a transport run back to back: a move of every player
	// to another transport is a stampede of reconnections (spread over
	// switchSpread) that the first window after it would otherwise see.
	var runs []*playersRun
	current := o.Transports[0]
	for _, t := range o.Transports {
		for round := range max(1, o.Rounds) {
			if t != current {
				if err := g.command("transport " + t); err != nil {
					return nil, nil, err
				}
				current = t
				// Let the reconnections end and the detach grace pass.
				if err := sleepCtx(ctx, o.switchPause()); err != nil {
					return nil, nil, err
				}
			}
			r, err := measurePlayers(ctx, o, srv, g, t, round)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", t, err)
			}
			r.Games, r.Players, r.Procs, r.Round = games, players, procs, round
			runs = append(runs, r)
			fmt.Fprintf(progress, "round %d %s\n", round+1, r.summary())
		}
	}
	return ramp, runs, nil
}

// report asks every load process for the counters of the phase that ends.
func (g loadGroup) report(ctx context.Context) (playersResult, error) {
	if err := g.command("report"); err != nil {
		return playersResult{}, err
	}
	datas, err := g.await(ctx, "result", time.Minute, nil)
	if err != nil {
		return playersResult{}, err
	}
	var rs []playersResult
	for _, d := range datas {
		var pr playersResult
		if err := json.Unmarshal(d, &pr); err != nil {
			return playersResult{}, fmt.Errorf("bench: load process result: %w", err)
		}
		rs = append(rs, pr)
	}
	return mergePlayers(rs), nil
}

// measurePlayers measures one transport: warmup, then the window.
func measurePlayers(ctx context.Context, o playersOptions, srv *Child, g loadGroup, transport string, round int) (*playersRun, error) {
	r := &playersRun{Transport: transport, Window: o.Duration}
	// The same wall-clock window in every process.
	start := time.Now().Add(o.Warmup)
	end := start.Add(o.Duration)
	if err := g.command(fmt.Sprintf("window %d %d", start.UnixNano(), end.UnixNano())); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, time.Until(start)); err != nil {
		return nil, err
	}
	// What went wrong while the players moved to this transport and warmed
	// up is reported apart from the window.
	warm, err := g.report(ctx)
	if err != nil {
		return nil, err
	}
	r.Warmup = warm
	profDir := o.ProfileDir
	if round > 0 {
		profDir = "" // one profile per transport: the first round's
	}
	prof, err := startProfile(srv, profDir, o.Section+"-"+transport)
	if err != nil {
		return nil, err
	}
	st0, err := srv.Stats()
	if err != nil {
		return nil, err
	}
	c0 := markCPU(srv, g)
	smp := startSampler(srv, time.Second)
	traced := make(chan error, 1)
	if o.TraceDir != "" && round == 0 {
		go func() { traced <- traceWindow(ctx, srv, o.TraceDir, o.Section+"-"+transport, start, end) }()
	} else {
		traced <- nil
	}
	werr := sleepCtx(ctx, time.Until(end))
	if err := <-traced; err != nil {
		return nil, err
	}
	r.Samples = summarize(smp.stop())
	r.CPU = cpuBetween(c0, markCPU(srv, g))
	r.RSSEnd, _ = srv.RSS()
	// Before the heap profile, whose runtime.GC is none of the window's.
	st1, err := srv.Stats()
	if err != nil {
		return nil, err
	}
	r.Delivered = hubDelivered(st1) - hubDelivered(st0)
	r.HubEnd = hubStats(st1)
	r.GC = gcBetween(st0.Runtime, st1.Runtime)
	if r.CPUProf, r.Heap, err = prof.stop(); err != nil {
		return nil, err
	}
	r.Debug, _ = debugStats(srv.Addr)
	if werr != nil {
		return nil, werr
	}
	// Events of moves sent at the end of the window are still on their way.
	if err := sleepCtx(ctx, o.Drain); err != nil {
		return nil, err
	}
	if r.Res, err = g.report(ctx); err != nil {
		return nil, err
	}
	// The live heap: what a collection leaves (the players play on).
	if _, err := srv.Control("gc"); err != nil {
		return nil, err
	}
	st2, err := srv.Stats()
	if err != nil {
		return nil, err
	}
	r.HeapLive = st2.Runtime.HeapObjects
	return r, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// movesPerSec is the rate of opponents' moves received in the window.
func (r *playersRun) movesPerSec() float64 { return r.perSec(r.Res.MovesSeen) }

func (r *playersRun) perSec(n int64) float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(n) / r.Window.Seconds()
}

// cpuPerMove is the server's CPU time per move.
func (r *playersRun) cpuPerMove() time.Duration {
	if r.Res.MovesSeen == 0 {
		return 0
	}
	return r.CPU.ServerCPU / time.Duration(r.Res.MovesSeen)
}

// allocPerMove is the bytes the server allocated per move.
func (r *playersRun) allocPerMove() float64 {
	if r.Res.MovesSeen == 0 {
		return 0
	}
	return float64(r.GC.Allocated) / float64(r.Res.MovesSeen)
}

func (r *playersRun) summary() string {
	x := &r.Res
	return fmt.Sprintf("players %-9s games %d: %.0f moves/s, move→opponent p50 %s p99 %s max %s (server-side p99 %s), server %.2f cores, RSS %s, goroutines %d–%d, errors %d, games done %d, history held %s in %d references",
		r.Transport, r.Games, r.movesPerSec(), fmtDur(x.MoveLat.Quantile(0.5)), fmtDur(x.MoveLat.Quantile(0.99)), fmtDur(x.MoveLat.Max()),
		fmtDur(x.MoveLatSrv.Quantile(0.99)), r.CPU.Server, fmtBytes(r.Samples.MaxRSS), r.Samples.MinGoroutines, r.Samples.MaxGoro, x.errorCount(), x.Games,
		fmtBytes(r.HubEnd.HistoryBytes), r.HubEnd.HistoryRefs)
}

// fmtBytes formats a size in binary units.
func fmtBytes(n int64) string {
	v := float64(n)
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(v/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

type playersReport struct {
	o                  playersOptions
	ramp               *playersRamp
	runs               []*playersRun
	loadStart, loadEnd string
}

func (rep *playersReport) summary() string {
	var b strings.Builder
	for _, r := range rep.runs {
		b.WriteString(r.summary() + "\n")
	}
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "target %-50s %-10s %-8s %s\n", t.What, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

// playersAgg is one transport over its rounds.
type playersAgg struct {
	Transport string
	Runs      []*playersRun
	Merged    playersResult // every round's counters and histograms
}

// aggs groups the runs by transport, in the order of -transports.
func (rep *playersReport) aggs() []*playersAgg {
	var out []*playersAgg
	for _, t := range rep.o.Transports {
		a := &playersAgg{Transport: t}
		var rs []playersResult
		for _, r := range rep.runs {
			if r.Transport == t {
				a.Runs = append(a.Runs, r)
				rs = append(rs, r.Res)
			}
		}
		if len(a.Runs) > 0 {
			a.Merged = mergePlayers(rs)
			out = append(out, a)
		}
	}
	return out
}

// med returns the median over the rounds of f.
func (a *playersAgg) med(f func(*playersRun) float64) float64 {
	v := make([]float64, len(a.Runs))
	for i, r := range a.Runs {
		v[i] = f(r)
	}
	return median(v)
}

func (a *playersAgg) medDur(f func(*playersRun) time.Duration) time.Duration {
	return time.Duration(a.med(func(r *playersRun) float64 { return float64(f(r)) }))
}

// Quantiles of a round.
var (
	moveP50 = func(r *playersRun) time.Duration { return r.Res.MoveLat.Quantile(0.5) }
	moveP99 = func(r *playersRun) time.Duration { return r.Res.MoveLat.Quantile(0.99) }
	srvP50  = func(r *playersRun) time.Duration { return r.Res.MoveLatSrv.Quantile(0.5) }
	srvP99  = func(r *playersRun) time.Duration { return r.Res.MoveLatSrv.Quantile(0.99) }
	pubP99  = func(r *playersRun) time.Duration { return r.Res.Publish.Quantile(0.99) }
)

// byRound lists f of each round.
func (a *playersAgg) byRound(f func(*playersRun) time.Duration) string {
	var parts []string
	for _, r := range a.Runs {
		parts = append(parts, fmtDur(f(r)))
	}
	return strings.Join(parts, ", ")
}

// overBy describes how far a measured value is above its limit.
func overBy(v, limit float64) string {
	if math.IsNaN(v) || limit <= 0 {
		return ""
	}
	if v <= limit {
		return fmt.Sprintf("%.0f%% of the limit", 100*v/limit)
	}
	return fmt.Sprintf("over by %.0f%% (%.2f× the limit)", 100*(v/limit-1), v/limit)
}

func (rep *playersReport) markdown(header, chartDir string) string {
	o := rep.o
	var b strings.Builder
	switch {
	case o.Match == matchDirect:
		fmt.Fprintf(&b, "## Players: %d tictactoe games on the game path (matched without the lobby)\n\n", o.Games)
	case o.Lobby == lobbyFull:
		fmt.Fprintf(&b, "## Lobby: %d tictactoe games whose players keep the lobby's broadcasts\n\n", o.Games)
	default:
		fmt.Fprintf(&b, "## Players: %d tictactoe games through the lobby, over every transport\n\n", o.Games)
	}
	b.WriteString(header)
	procsNote := strconv.Itoa(rep.ramp.Procs)
	fmt.Fprintf(&b, "\nThe server is `bench serve -kind games`: the example's whole stack (engine, hub, Games, rooms Manager with ttt, lobby, embedded site), "+
		"GOMAXPROCS=%d, hub config %s, server environment `%s`, flags `%s`. "+
		"Each simulated player (in %s load process(es), a separate program) joins, opens its data channel, says hello in the lobby, "+
		"quick-matches into tictactoe and plays random legal moves, each %v after its turn began (about one move per %v per game); "+
		"after %d games in a room both players leave it and quick-match again (a rematch in between). "+
		"%s Control requests (join, publish) share %d keep-alive connections per load process, pipelined; each player has its own data channel connection. "+
		"Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		o.ServerProcs, describeHub(defaultHubConfig()), envNote(o.Env),
		strings.Join(o.serverArgs(rep.ramp.Procs), " "), procsNote, o.Think, o.Think, o.RequeueEvery, matchNote(o), o.CtrlConns, rep.loadStart, rep.loadEnd)
	b.WriteString("**Move → opponent** is measured by the client: from just before the move's publish is written to the moment the opponent's " +
		"process has read and parsed the \"move\" event (both players of a game live in one load process, which keeps the send time). " +
		"**Server-side** is from the same send time to the kernel's receive timestamp of the bytes that carried the event to the opponent " +
		"(SO_TIMESTAMPNS on the opponent's data channel socket): on loopback a write reaches the server's socket within the write call, so this is " +
		"the time the server took (its scheduling included) without the load process's own delays in reading. " +
		"Moves/s counts opponents' receipts in the window; CPU is user+system from /proc over the window, in cores; " +
		"other cores is the rest of the machine meanwhile (other processes, steal); **server waiting for a CPU** is the time the server's threads " +
		"were ready to run but waited in the kernel's run queue (`/proc/PID/task/*/schedstat`), per second: on a machine whose cores the load " +
		"processes share, time a move spends outside the server's process, however fast its code.\n\n")

	b.WriteString(targetsTable("### Targets", "by how much", rep.targets()))

	fmt.Fprintf(&b, "### Play (%d round(s) of a %v window per transport: medians over the rounds, max and errors over all)\n\n", max(1, o.Rounds), o.Duration)
	b.WriteString("| transport | games | players | moves/s | move → opponent p50 | p99 | max | p99 by round | server-side p50 | p99 | max | publish round trip p99 | games finished/s | events/s | events per move | requests/s | server cores | server CPU/move | load cores | other cores | server waiting for a CPU | RSS max | goroutines | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range rep.aggs() {
		x := &a.Merged
		r0 := a.Runs[0]
		gmin, gmax, rss := 0, 0, int64(0)
		for i, r := range a.Runs {
			if i == 0 || r.Samples.MinGoroutines < gmin {
				gmin = r.Samples.MinGoroutines
			}
			gmax, rss = max(gmax, r.Samples.MaxGoro), max(rss, r.Samples.MaxRSS)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.1f | %.0f | %.2f | %s | %.2f | %.2f | %.2f | %s | %d–%d | %d |\n",
			a.Transport, r0.Games, r0.Players, a.med((*playersRun).movesPerSec),
			fmtDur(a.medDur(moveP50)), fmtDur(a.medDur(moveP99)), fmtDur(x.MoveLat.Max()), a.byRound(moveP99),
			fmtDur(a.medDur(srvP50)), fmtDur(a.medDur(srvP99)), fmtDur(x.MoveLatSrv.Max()), fmtDur(a.medDur(pubP99)),
			a.med(func(r *playersRun) float64 { return r.perSec(r.Res.Games) }),
			a.med(func(r *playersRun) float64 { return r.perSec(r.Res.Events) }),
			float64(x.Events)/max(1, float64(x.MovesSeen)),
			a.med(func(r *playersRun) float64 { return r.perSec(r.Res.Requests) }),
			a.med(func(r *playersRun) float64 { return r.CPU.Server }), fmtDur(a.medDur((*playersRun).cpuPerMove)),
			a.med(func(r *playersRun) float64 { return r.CPU.Load }), a.med(func(r *playersRun) float64 { return r.CPU.OtherCores }),
			a.med(func(r *playersRun) float64 { return r.CPU.ServerWait }),
			fmtBytes(rss), gmin, gmax, x.errorCount())
	}
	b.WriteString("\nThe engine's own counters (`/debug/stats` at the end of each window; cumulative since the server started):\n\n")
	b.WriteString("| round | transport | open connections | accepted | requests | refused at cap | bad requests | header timeouts | slow readers closed | 503 overloaded | sessions | gaps | heap in use |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.runs {
		d := r.Debug
		num := func(m map[string]any, k string) string {
			if v, ok := m[k].(float64); ok {
				return strconv.FormatFloat(v, 'f', 0, 64)
			}
			return "–"
		}
		comet, _ := d["comet"].(map[string]any)
		heap := "–"
		if v, ok := d["heap_inuse_bytes"].(float64); ok {
			heap = fmtBytes(int64(v))
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Round+1, r.Transport,
			num(d, "open_connections"), num(d, "accepted"), num(d, "requests"), num(d, "refused_at_cap"), num(d, "bad_requests"),
			num(d, "header_timeouts"), num(d, "slow_readers_closed"), num(d, "overloaded_503"), num(comet, "sessions"), num(comet, "gaps"), heap)
	}
	b.WriteString("\n")
	b.WriteString(rep.memoryTable())
	rp := rep.ramp
	x := &rp.Res
	fmt.Fprintf(&b, "### Ramp-up\n\nOne server for all transports: %d players (in %d load process(es)) join, open a %s data channel, "+
		"say hello and quick-match at up to %d players/s; then for each transport in turn the players move their data channel to it "+
		"(listen again with p_last, as a client falling back does: spread over %v, then %v for the reconnections and the engine's detach grace) and play on: "+
		"a %v warmup, then the %v window, repeated for each round.\n\n",
		rp.Players, rp.Procs, rp.Transport, o.Ramp, o.SwitchSpread, o.switchPause(), o.Warmup, o.Duration)
	b.WriteString("| players | time to all in game | join p50 | join p99 | hello → welcome p50 | p99 | max | \"try again\" retries | server cores | RSS fresh | RSS all in game | RSS per player | server open files (limit; connection cap) | errors |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	per := float64(rp.RSSReady-rp.RSSBefore) / float64(rp.Players)
	fmt.Fprintf(&b, "| %d | %v | %s | %s | %s | %s | %s | %d | %.2f | %s | %s | %s | %d (%d; %d) | %d |\n",
		rp.Players, rp.Time.Round(100*time.Millisecond), fmtDur(x.JoinLat.Quantile(0.5)), fmtDur(x.JoinLat.Quantile(0.99)),
		fmtDur(x.HelloLat.Quantile(0.5)), fmtDur(x.HelloLat.Quantile(0.99)), fmtDur(x.HelloLat.Max()), x.Retries, rp.CPU.Server,
		fmtBytes(rp.RSSBefore), fmtBytes(rp.RSSReady), fmtBytes(int64(per)), rp.OpenFiles, rp.FileLimit, rp.MaxConns, x.errorCount())
	b.WriteString("\n### Errors\n\n")
	any := false
	phases := []*playersRun{{Transport: "ramp-up", Res: rep.ramp.Res}}
	for i, r := range rep.runs {
		what := fmt.Sprintf("%s round %d: warmup", r.Transport, r.Round+1)
		if i > 0 && rep.runs[i-1].Transport != r.Transport {
			what = fmt.Sprintf("switch to %s, warmup of round 1", r.Transport)
		}
		phases = append(phases, &playersRun{Transport: what, Res: r.Warmup},
			&playersRun{Transport: fmt.Sprintf("%s round %d (measured window)", r.Transport, r.Round+1), Res: r.Res})
	}
	for _, r := range phases {
		x := &r.Res
		if x.errorCount() == 0 && x.Unmatched == 0 {
			continue
		}
		any = true
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x.Errors)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, x.Errors[k]))
		}
		if x.Stalled > 0 {
			parts = append(parts, fmt.Sprintf("players without an event for %v at the end: %d", stallAfter, x.Stalled))
		}
		if x.Unmatched > 0 {
			parts = append(parts, fmt.Sprintf("opponent moves without a known send time (not counted as errors): %d", x.Unmatched))
		}
		fmt.Fprintf(&b, "- %s: %s", r.Transport, strings.Join(parts, "; "))
		if len(x.ErrorSample) > 0 {
			fmt.Fprintf(&b, ". First: `%s`", strings.ReplaceAll(x.ErrorSample[0], "`", "'"))
		}
		b.WriteString("\n")
	}
	if !any {
		b.WriteString("None: every data event arrived in p_seq order without a gap, no nack, no room or lobby error, no stalled player.\n")
	}
	b.WriteString("\n")
	if profs := rep.profiles(); profs != "" {
		b.WriteString(profs)
	}
	if chartDir != "" {
		b.WriteString("### Charts\n\n")
		fmt.Fprintf(&b, "![move to opponent latency by transport](%s)\n", pathJoin(chartDir, rep.chartName("latency")))
		fmt.Fprintf(&b, "![CPU by transport](%s)\n", pathJoin(chartDir, rep.chartName("cpu")))
		if len(rep.ramp.Curve) > 1 {
			fmt.Fprintf(&b, "![server RSS during the ramp-up](%s)\n", pathJoin(chartDir, rep.chartName("ramp-rss")))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func matchNote(o playersOptions) string {
	switch {
	case o.Match == matchDirect:
		return "**Matched without the lobby**: instead of hello and quickplay, each player asks the games server's own matchmaker " +
			"(`GET /bench/match`, bench/gamesserver.go), which seats two players as the lobby's quick-match does (rooms.Manager Create and Join) " +
			"but without the lobby: the game path alone. Players always rematch."
	case o.Lobby == lobbyFull:
		return "Lobby: **full**: after its welcome every player says it browses the lobby (`browse on=1`), as a tab kept on the lobby beside the game would, " +
			"so it hears the lobby's coalesced deltas (at most one presence-delta and one rooms-delta per 500 ms tick, each about the first 30 players and rooms) all along."
	}
	return "Lobby: **quiet**: players do what the example's page does in a game: nothing; the lobby stops broadcasting to a seated player by itself " +
		"and resumes, with fresh snapshots, between games (the lobby section measures players who keep browsing the lobby)."
}

func (rep *playersReport) chartName(what string) string {
	return rep.o.Section + "-" + what + ".svg"
}

// profiles renders the profile summaries of the runs that have one.
func (rep *playersReport) profiles() string {
	var b strings.Builder
	if rp := rep.ramp; rp.CPUProf != "" {
		b.WriteString(profileSection(fmt.Sprintf("ramp-up, %d players", rp.Players), rp.CPUProf, rp.HeapProf))
	}
	for _, r := range rep.runs {
		if r.CPUProf == "" {
			continue
		}
		b.WriteString(profileSection(fmt.Sprintf("%s, %d games", r.Transport, r.Games), r.CPUProf, r.Heap))
	}
	return b.String()
}

func (rep *playersReport) writeCharts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lc := LineChart{
		Title:   fmt.Sprintf("Move → opponent latency (%s lobby)", rep.o.Lobby),
		XLabel:  "percentile",
		YLabel:  "latency",
		YLog:    true,
		XTicks:  percentileTicks,
		YFormat: durationLabel,
		Note:    "every round merged; (server): send → kernel receive stamp at the opponent's socket",
	}
	for _, a := range rep.aggs() {
		lc.Series = append(lc.Series, percentileSeries(fmt.Sprintf("%s, %d games", a.Transport, a.Runs[0].Games), &a.Merged.MoveLat))
		lc.Series = append(lc.Series, percentileSeries(fmt.Sprintf("%s (server)", a.Transport), &a.Merged.MoveLatSrv))
	}
	if err := writeFileAtomic(filepath.Join(dir, rep.chartName("latency")), lc.SVG()); err != nil {
		return err
	}
	if rp := rep.ramp; len(rp.Curve) > 1 {
		curve := LineChart{
			Title: "Server RSS during the ramp-up", XLabel: "players welcomed (matched)", YLabel: "RSS",
			YFormat: func(v float64) string { return fmtBytes(int64(v)) },
			Note:    fmt.Sprintf("%s; sampled every 2 s", matchShort(rep.o)),
		}
		s := Series{Name: "server RSS"}
		for _, p := range rp.Curve {
			s.X = append(s.X, float64(p.Players))
			s.Y = append(s.Y, float64(p.RSS))
		}
		curve.Series = []Series{s}
		if err := writeFileAtomic(filepath.Join(dir, rep.chartName("ramp-rss")), curve.SVG()); err != nil {
			return err
		}
	}
	bars := BarChart{
		Title:  "CPU during play, in cores",
		YLabel: "cores",
		Note:   fmt.Sprintf("%d cores shared by the server, the load processes and other work", runtime.NumCPU()),
		Format: func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	}
	server, load, other := Series{Name: "server"}, Series{Name: "load processes"}, Series{Name: "other (noise)"}
	for _, a := range rep.aggs() {
		bars.Groups = append(bars.Groups, fmt.Sprintf("%s %d", a.Transport, a.Runs[0].Games))
		server.Values = append(server.Values, a.med(func(r *playersRun) float64 { return r.CPU.Server }))
		load.Values = append(load.Values, a.med(func(r *playersRun) float64 { return r.CPU.Load }))
		other.Values = append(other.Values, a.med(func(r *playersRun) float64 { return r.CPU.OtherCores }))
	}
	bars.Series = []Series{server, load, other}
	return writeFileAtomic(filepath.Join(dir, rep.chartName("cpu")), bars.SVG())
}

// envNote describes the server's extra environment.
func envNote(env []string) string {
	if len(env) == 0 {
		return "GOGC and GOMEMLIMIT unset (defaults: GOGC=100, no limit)"
	}
	return strings.Join(env, " ")
}

func matchShort(o playersOptions) string {
	if o.Match == matchDirect {
		return "matched by the bench's matchmaker, no lobby"
	}
	return "hello and quick-match through the lobby"
}

// switchPause is the wait after a transport switch before the warmup: the
// spread of the reconnections, then the engine's detach grace.
func (o playersOptions) switchPause() time.Duration {
	if o.SwitchSpread < defaultSwitchSpread {
		return 2 * o.SwitchSpread // tests: no stampede to wait out
	}
	return o.SwitchSpread + comet.DefaultDetachGrace
}
