package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scale sweep, `bench players-sweep`: the most games one server holds
// with move → opponent p99 ≤ 50 ms. Each step is a players run of its own
// (a fresh server, its load processes, the ramp, the rounds of one
// transport) at a larger number of games; the sweep stops after a second
// missed step, or when the next step needs more connections than the
// server admits (its open-file limit: about 9,900 games under 20,000
// files, as control requests share CtrlConns connections per load process
// and each player holds one data channel).

// targetSweepGames is the scale the sweep must reach within targetMoveP99.
const targetSweepGames = 9000

// sweepStep is one step of the sweep.
type sweepStep struct {
	Games int
	Ramp  *playersRamp
	Runs  []*playersRun
	// P99 and SrvP99 are the medians over the step's rounds.
	P99, SrvP99 time.Duration
	Moves       uint64 // moves measured
	Cores       float64
	Errors      int64
	HeapLive    uint64
	GCPauseP99  time.Duration
	// Err is why the step did not run to its end ("" if it did).
	Err string
}

// met: the step's games were held at the latency target without an error.
func (s *sweepStep) met() bool {
	return s.Err == "" && s.Moves > 0 && s.P99 <= targetMoveP99 && s.Errors == 0
}

// sweepMaxMisses: the sweep stops after this many missed steps.
const sweepMaxMisses = 2

// sweepNext decides whether the sweep goes on to a step of games: not after
// maxMisses missed steps, nor when the step needs more connections than
// maxConns (the cap the last step's server reported; 0: unknown). why says
// why it stops.
func sweepNext(done []sweepStep, need, maxConns, maxMisses int) (ok bool, why string) {
	misses := 0
	for i := range done {
		if !done[i].met() {
			misses++
		}
	}
	switch {
	case misses >= maxMisses:
		return false, fmt.Sprintf("the target was missed at %d steps", misses)
	case maxConns > 0 && need > maxConns:
		return false, fmt.Sprintf("the next step needs %d connections, the server admits %d (its open-file limit)", need, maxConns)
	}
	return true, ""
}

// sweepBest is the most games of a step that met the target (0: none).
func sweepBest(steps []sweepStep) int {
	best := 0
	for i := range steps {
		if steps[i].met() {
			best = max(best, steps[i].Games)
		}
	}
	return best
}

// sweepMain is `bench players-sweep`.
func sweepMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("players-sweep", flag.ContinueOnError)
	var o playersOptions
	_, trans, env := playersFlags(fs, &o)
	stepsFlag := fs.String("steps", "1000,3000,5000,7000,9000", "games at each step, ascending")
	misses := fs.Int("misses", sweepMaxMisses, "stop after this many missed steps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["games"] {
		return errors.New("bench: players-sweep takes -steps, not -games")
	}
	if !set["section"] {
		o.Section = "players-sweep"
		if o.Nodes > 1 {
			o.Section = "cluster-sweep"
		}
	}
	o.Transports = strings.Split(*trans, ",")
	if !slices.Contains(balancers, o.Balancer) {
		return fmt.Errorf("bench: unknown -balancer %q (want %v)", o.Balancer, balancers)
	}
	if len(o.Transports) != 1 || !slices.Contains(transports, o.Transports[0]) {
		return fmt.Errorf("bench: players-sweep measures one transport (-transports one of %v)", transports)
	}
	steps, err := parseIntList(*stepsFlag)
	if err != nil {
		return err
	}
	if !slices.IsSorted(steps) {
		return errors.New("bench: -steps must be ascending")
	}
	o.Env = strings.Fields(*env)
	if o.Lobby != lobbyQuiet && o.Lobby != lobbyFull {
		return fmt.Errorf("bench: -lobby must be %s or %s", lobbyQuiet, lobbyFull)
	}
	if o.ChartsDir == "" && o.Out != "" {
		o.ChartsDir = filepath.Join(filepath.Dir(o.Out), "charts")
	}
	started, loadStart := time.Now(), loadAverage()
	rep := &sweepReport{o: o, steps: steps, misses: *misses, loadStart: loadStart}
	if err := rep.run(ctx, os.Stderr); err != nil {
		return err
	}
	rep.loadEnd = loadAverage()
	return writeReport(rep, o.Out, o.ChartsDir, o.Section, invocation, started, stdout)
}

// sweepReport is the sweep's run and its section.
type sweepReport struct {
	o                  playersOptions
	steps              []int
	misses             int
	done               []sweepStep
	base               []sweepStep // with more than one node: one node at each step, in the same run
	stopped            string      // why the sweep stopped before its last step
	loadStart, loadEnd string
}

// run measures the steps in turn until sweepNext says stop.
func (rep *sweepReport) run(ctx context.Context, progress io.Writer) error {
	maxConns := 0
	for _, games := range rep.steps {
		if ok, why := sweepNext(rep.done, rep.o.needConns(games), maxConns, rep.misses); !ok {
			rep.stopped = fmt.Sprintf("stopped before %d games: %s", games, why)
			break
		}
		o := rep.o
		o.Games = games
		if o.ProfileDir != "" {
			o.Section = fmt.Sprintf("%s-%d", rep.o.Section, games) // profiles named by step
		}
		if rep.o.Nodes > 1 {
			// The baseline of the same step: one node, just before the cluster.
			o1 := o
			o1.Nodes = 1
			o1.Section += "-one-node"
			st, err := runStep(ctx, o1, "one node", progress)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil { // over the connection cap: a failed step for the baseline
				st.Err = err.Error()
			}
			rep.base = append(rep.base, st)
		}
		st, err := runStep(ctx, o, fmt.Sprintf("%d node(s)", max(1, o.Nodes)), progress)
		if st.Ramp != nil && st.Ramp.MaxConns > 0 {
			maxConns = st.Ramp.MaxConns
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			rep.stopped = fmt.Sprintf("stopped at %d games: %v", games, err)
			fmt.Fprintln(progress, rep.stopped)
			return nil
		}
		rep.done = append(rep.done, st)
	}
	return nil
}

// runStep plays one step (o.Games games) against what o describes and sums
// it up. err is what ends the sweep rather than fails the step: the step
// needs more connections than the server admits (errOverCap), or ctx ended.
func runStep(ctx context.Context, o playersOptions, what string, progress io.Writer) (sweepStep, error) {
	fmt.Fprintf(progress, "== sweep step: %d games over %s, %s\n", o.Games, o.Transports[0], what)
	ramp, runs, err := runPlayers(ctx, o, progress)
	st := sweepStep{Games: o.Games, Ramp: ramp, Runs: runs}
	switch {
	case ctx.Err() != nil:
		return st, ctx.Err()
	case errors.Is(err, errOverCap):
		return st, err
	case err != nil:
		st.Err = err.Error()
	default:
		st.summarize(o)
	}
	fmt.Fprintf(progress, "sweep %d games, %s: p99 %s (server-side %s), errors %d, %s\n", o.Games, what, fmtDur(st.P99), fmtDur(st.SrvP99), st.Errors, metWord(st.met()))
	return st, nil
}

// summarize fills the step's figures from its rounds.
func (st *sweepStep) summarize(o playersOptions) {
	pr := &playersReport{o: o, ramp: st.Ramp, runs: st.Runs}
	aggs := pr.aggs()
	if len(aggs) == 0 {
		st.Err = "no round measured"
		return
	}
	a := aggs[0]
	st.P99, st.SrvP99 = a.medDur(moveP99), a.medDur(srvP99)
	st.Moves = a.Merged.MoveLat.Count()
	st.Cores = a.med(func(r *playersRun) float64 { return r.CPU.Server })
	st.Errors = a.Merged.errorCount()
	st.HeapLive = slices.Max(a.heapLive())
	for _, r := range a.Runs {
		st.GCPauseP99 = max(st.GCPauseP99, r.GC.PauseP99)
	}
}

func (rep *sweepReport) targets() []target {
	if len(rep.done) == 0 {
		return nil
	}
	best := sweepBest(rep.done)
	ctx := "p99 by step: " + stepP99s(rep.done)
	if rep.stopped != "" {
		ctx += "; " + rep.stopped
	}
	if rep.o.Nodes > 1 {
		base := sweepBest(rep.base)
		return []target{{
			What:     fmt.Sprintf("%d nodes behind the balancer hold as many games at move → opponent p99 ≤ 50 ms, without error, as one node on the same machine (same run)", rep.o.Nodes),
			Config:   fmt.Sprintf("%s, steps %s, %d round(s) of %v each, balancer %s", rep.o.Transports[0], joinInts(rep.steps), max(1, rep.o.Rounds), rep.o.Duration, balancerName(rep.o.Balancer)),
			Measured: fmt.Sprintf("%d games", best),
			Met:      best >= base && best > 0,
			Context:  fmt.Sprintf("one node: %d games; %d nodes %s; one node: %s", base, rep.o.Nodes, ctx, stepP99s(rep.base)),
		}}
	}
	return []target{{
		What:     fmt.Sprintf("scale sweep: one server holds %s games at move → opponent p99 ≤ 50 ms, without error", fmtThousands(targetSweepGames)),
		Config:   fmt.Sprintf("%s, steps %s, %d round(s) of %v each", rep.o.Transports[0], joinInts(rep.steps), max(1, rep.o.Rounds), rep.o.Duration),
		Measured: fmt.Sprintf("%d games", best),
		Met:      best >= targetSweepGames,
		Context:  ctx,
	}}
}

// stepP99s lists each step's p99: "1000: 2.4ms, 3000: 24ms".
func stepP99s(steps []sweepStep) string {
	var parts []string
	for i := range steps {
		st := &steps[i]
		v := fmtDur(st.P99)
		if st.Err != "" {
			v = "failed"
		} else if st.Errors > 0 {
			v += fmt.Sprintf(" (%d errors)", st.Errors)
		}
		parts = append(parts, fmt.Sprintf("%d: %s", st.Games, v))
	}
	return strings.Join(parts, ", ")
}

func (rep *sweepReport) summary() string {
	var b strings.Builder
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "target %s: %s %s (%s)\n", t.What, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

func (rep *sweepReport) markdown(header, chartDir string) string {
	o := rep.o
	var b strings.Builder
	if o.Nodes > 1 {
		fmt.Fprintf(&b, "## Scale sweep across %d nodes: the most games they hold at move → opponent p99 ≤ 50 ms, against one node\n\n", o.Nodes)
	} else {
		fmt.Fprintf(&b, "## Scale sweep: the most games one server holds at move → opponent p99 ≤ 50 ms\n\n")
	}
	b.WriteString(header)
	if o.Nodes > 1 {
		fmt.Fprintf(&b, "\nAt each step the players play first against one node, then against %d nodes (each `bench serve -kind games` with its NATS "+
			"embedded and routed to the others') behind the per-request round-robin balancer (%s), all on this machine's "+
			"cores with the load: the question is what the cluster's hops (the balancer, NATS between the nodes) cost in games held, not "+
			"what more machines would hold. The sweep's stop rule follows the cluster's steps.\n", o.Nodes, balancerText(o.Balancer))
	}
	fmt.Fprintf(&b, "\nEach step is a players run of its own (see the players sections for what a player does): a fresh `bench serve -kind games` "+
		"(GOMAXPROCS=%d, environment `%s`), its load processes (one per %s players, each under its own open-file limit), %s, "+
		"the ramp-up over %s, then %d round(s) of a %v warmup and a %v window. A step **holds** its games when the move → opponent p99 "+
		"(median over its rounds) is at most 50 ms and its windows saw no error. The sweep stops after %d missed steps, or before a step "+
		"that needs more connections than the server admits: one data channel per player, plus %d shared control connections per load process "+
		"and %d for the bench, against the server's connection cap (its `/debug/stats` `max_connections`, derived from its open-file limit). "+
		"Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		o.ServerProcs, envNote(o.Env), fmtThousands(maxConnsPerLoadProc), matchShort(o), o.Transports[0], max(1, o.Rounds), o.Warmup, o.Duration,
		rep.misses, o.CtrlConns, connMargin, rep.loadStart, rep.loadEnd)
	b.WriteString(targetsTable("### Targets", "by how much, context", rep.targets()))
	title := "### Steps\n\n"
	if o.Nodes > 1 {
		title = fmt.Sprintf("### Steps, %d nodes\n\n", o.Nodes)
	}
	b.WriteString(title)
	rep.stepsTable(&b, rep.done)
	if rep.stopped != "" {
		fmt.Fprintf(&b, "\nThe sweep %s.\n", rep.stopped)
	}
	if len(rep.base) > 0 {
		b.WriteString("\n### Steps, one node (same run)\n\n")
		rep.stepsTable(&b, rep.base)
	}
	b.WriteString("\n")
	if chartDir != "" && len(rep.done) > 0 {
		fmt.Fprintf(&b, "### Charts\n\n![move to opponent p99 by games](%s)\n\n", pathJoin(chartDir, o.Section+"-p99.svg"))
	}
	return b.String()
}

// stepsTable writes the table of steps.
func (rep *sweepReport) stepsTable(b *strings.Builder, steps []sweepStep) {
	o := rep.o
	b.WriteString("| games | players | load processes | server open files (limit; connection cap) | time to all in game | RSS all in game | RSS per player | moves/s | move → opponent p50 | p99 | server-side p99 | server cores | other cores | live heap after GC | GC pause p99 | errors | holds |\n")
	b.WriteString("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for i := range steps {
		st := &steps[i]
		rp := st.Ramp
		if st.Err != "" || rp == nil {
			fmt.Fprintf(b, "| %d | | | | | | | | | | | | | | | | failed: %s |\n", st.Games, strings.ReplaceAll(errSummary(st.Err), "|", `\|`))
			continue
		}
		pr := &playersReport{o: o, ramp: rp, runs: st.Runs}
		a := pr.aggs()[0]
		per := float64(rp.RSSReady-rp.RSSBefore) / float64(max(1, rp.Players))
		fmt.Fprintf(b, "| %d | %d | %d | %d (%d; %d) | %v | %s | %s | %.0f | %s | %s | %s | %.2f | %.2f | %s | %s | %d | %s |\n",
			st.Games, rp.Players, rp.Procs, rp.OpenFiles, rp.FileLimit, rp.MaxConns, rp.Time.Round(100*time.Millisecond),
			fmtBytes(rp.RSSReady), fmtBytes(int64(per)), a.med((*playersRun).movesPerSec), fmtDur(a.medDur(moveP50)), fmtDur(st.P99), fmtDur(st.SrvP99),
			st.Cores, a.med(func(r *playersRun) float64 { return r.CPU.OtherCores }), fmtBytes(int64(st.HeapLive)), fmtDur(st.GCPauseP99), st.Errors, metWord(st.met()))
	}
	// What the errors were, by kind, for the steps that had any.
	for i := range steps {
		st := &steps[i]
		if st.Errors == 0 || st.Ramp == nil {
			continue
		}
		pr := &playersReport{o: o, ramp: st.Ramp, runs: st.Runs}
		x := &pr.aggs()[0].Merged
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x.Errors)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, x.Errors[k]))
		}
		if len(x.ErrorSample) > 0 {
			parts = append(parts, fmt.Sprintf("first: %s", strings.ReplaceAll(firstLine(x.ErrorSample[0]), "|", `\|`)))
		}
		fmt.Fprintf(b, "\nErrors at %d games (measured windows): %s.\n", st.Games, strings.Join(parts, "; "))
	}
}

func (rep *sweepReport) writeCharts(dir string) error {
	if len(rep.done) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lc := LineChart{
		Title: fmt.Sprintf("Move → opponent p99 by games (%s)", rep.o.Transports[0]), XLabel: "games", YLabel: "p99", YLog: true,
		YFormat: durationLabel, Note: "median over each step's rounds; the target is 50 ms",
	}
	client, server, limit := Series{Name: "move → opponent"}, Series{Name: "server-side"}, Series{Name: "target"}
	for i := range rep.done {
		st := &rep.done[i]
		if st.Err != "" {
			continue
		}
		x := float64(st.Games)
		client.X, client.Y = append(client.X, x), append(client.Y, float64(st.P99))
		server.X, server.Y = append(server.X, x), append(server.Y, float64(st.SrvP99))
		limit.X, limit.Y = append(limit.X, x), append(limit.Y, float64(targetMoveP99))
	}
	lc.Series = []Series{client, server, limit}
	if len(rep.base) > 0 {
		client.Name = fmt.Sprintf("move → opponent, %d nodes", rep.o.Nodes)
		server.Name = fmt.Sprintf("server-side, %d nodes", rep.o.Nodes)
		one := Series{Name: "move → opponent, one node"}
		for i := range rep.base {
			if st := &rep.base[i]; st.Err == "" {
				one.X, one.Y = append(one.X, float64(st.Games)), append(one.Y, float64(st.P99))
			}
		}
		lc.Series = []Series{client, server, one, limit}
	}
	return writeFileAtomic(filepath.Join(dir, rep.o.Section+"-p99.svg"), lc.SVG())
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// fmtThousands writes n with a comma between thousands: 9,000.
func fmtThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// errSummary is an error's first line and, when it has more (a child's
// log), its last line that says something: what a table cell can hold.
func errSummary(s string) string {
	first := firstLine(s)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); len(lines) > 1 && last != "" {
		return first + " … " + last
	}
	return first
}
