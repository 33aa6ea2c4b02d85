package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// `bench cluster`: the players' move → opponent latency through the
// cluster (three nodes behind the per-request balancer) against one node,
// in one run: the configurations take turns, round after round, so that
// the machine's background load falls on all of them alike. A third
// configuration, one node behind the same balancer, tells the balancer's
// own share apart from the cluster's.

// clusterModes are the configurations, in the order of a round (the order
// turns from round to round).
var clusterModes = []struct {
	name      string
	nodes     int
	balance   bool
	noTurnLog bool
}{
	{"one node", 1, false, false},
	{"one node behind the balancer", 1, true, false},
	{"three nodes behind the balancer", 3, true, false},
	{"three nodes, no turn log", 3, true, true},
}

type clusterRun struct {
	Mode  string
	Round int
	Run   *playersRun
}

type clusterReport struct {
	o      playersOptions
	rounds int
	runs   []clusterRun
	load   [2]string
}

func clusterMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	var o playersOptions
	games, trans, env := playersFlags(fs, &o)
	rounds := fs.Int("cluster-rounds", 2, "rounds: each runs every configuration once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.NoTurnLog {
		return errors.New("cluster: -no-turn-log is for players; cluster runs three nodes with the turn log and without it")
	}
	o.Transports = strings.Split(*trans, ",")
	if !slices.Contains(balancers, o.Balancer) {
		return fmt.Errorf("bench: unknown -balancer %q (want %v)", o.Balancer, balancers)
	}
	var err error
	if o.Games, err = strconv.Atoi(*games); err != nil || o.Games < 1 {
		return fmt.Errorf("bench: bad -games %q", *games)
	}
	o.Env = strings.Fields(*env)
	o.Section = "cluster"
	started := time.Now()
	rep := &clusterReport{o: o, rounds: *rounds}
	rep.load[0] = loadAverage()
	for r := range *rounds {
		for k := range clusterModes {
			m := clusterModes[(k+r)%len(clusterModes)]
			mo := o
			mo.Nodes, mo.Balance, mo.NoTurnLog = m.nodes, m.balance, m.noTurnLog
			mo.Rounds = 1
			mo.ProfileDir = ""
			fmt.Fprintf(os.Stderr, "cluster round %d: %s\n", r+1, m.name)
			_, runs, err := runPlayers(ctx, mo, os.Stderr)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			for _, run := range runs {
				rep.runs = append(rep.runs, clusterRun{Mode: m.name, Round: r, Run: run})
			}
		}
	}
	rep.load[1] = loadAverage()
	return writeReport(rep, o.Out, "", "cluster", invocation, started, stdout)
}

// med returns the median over the rounds of f for mode and transport (of
// an even count, the mean of the middle two).
func (rep *clusterReport) med(mode, transport string, f func(*playersRun) time.Duration) (time.Duration, []time.Duration) {
	var vs []time.Duration
	for _, cr := range rep.runs {
		if cr.Mode == mode && cr.Run.Transport == transport {
			vs = append(vs, f(cr.Run))
		}
	}
	if len(vs) == 0 {
		return 0, nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2, vs
	}
	return s[len(s)/2], vs
}

func (rep *clusterReport) targets() []target {
	var ts []target
	one, behind := clusterModes[0].name, clusterModes[1].name
	// The targets with the turn log (what a cluster runs by default), and
	// again without it: what the hops cost apart from issue 14's appends.
	for _, m := range []struct{ mode, label, suffix string }{
		{clusterModes[2].name, "three nodes", ""},
		{clusterModes[3].name, "three nodes without the turn log", ", turn log off (`-no-turn-log`)"},
	} {
		for _, tr := range rep.o.Transports {
			cfg := fmt.Sprintf("%s, %d games, %d round(s) of %v, medians, balancer %s%s", tr, rep.o.Games, rep.rounds, rep.o.Duration, balancerName(rep.o.Balancer), m.suffix)
			for _, q := range []struct {
				name  string
				f     func(*playersRun) time.Duration
				bound time.Duration
			}{{"p50 within +1 ms", moveP50, time.Millisecond}, {"p99 within +5 ms", moveP99, 5 * time.Millisecond}} {
				a, _ := rep.med(one, tr, q.f)
				c, _ := rep.med(m.mode, tr, q.f)
				b, _ := rep.med(behind, tr, q.f)
				d := c - a
				ts = append(ts, target{What: "through the balancer in front of three nodes vs one node: move → opponent " + q.name, Config: cfg,
					Measured: "+" + fmtDur(d), Met: d <= q.bound,
					Context: fmt.Sprintf("%s %s, one node %s; one node behind the balancer %s", m.label, fmtDur(c), fmtDur(a), fmtDur(b))})
			}
		}
	}
	return ts
}

func (rep *clusterReport) writeCharts(string) error { return nil }

func (rep *clusterReport) summary() string {
	var b strings.Builder
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "%s (%s): %s %s; %s\n", t.What, t.Config, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

func (rep *clusterReport) markdown(header, _ string) string {
	var b strings.Builder
	b.WriteString("## Cluster: three nodes behind a balancer against one node\n\n")
	b.WriteString(header)
	fmt.Fprintf(&b, "\nThe players of `bench players` (%d games, one move per %v per game, quick-matching through the lobby) play against four configurations in turn, round after round (the order turns each round): **one node** (`bench serve -kind games`, as in the players sections); **one node behind the balancer** (%s); **three nodes behind the balancer** (three `bench serve -kind games -node nX` processes, their NATS servers embedded and routed to each other, n1 the games node: every request of a player goes to the next node, and is relayed to its session's home node); the same **without the turn log**. All on this machine's two cores, with the load processes: three nodes, their NATS servers and the balancer share them, so the scenario plays fewer games than the players sections (at 1,000 games the machine was saturated and the figures measured its capacity rather than the cluster's cost). Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		rep.o.Games, rep.o.Think, balancerText(rep.o.Balancer), rep.load[0], rep.load[1])
	b.WriteString(targetsTable("### Targets", "context", rep.targets()))
	b.WriteString("### What the turn log costs\n\nThree nodes with the rooms' turn log (every room item appended to JetStream, replicated on three NATS servers, before its output goes out: issue 14) and without it (`-no-turn-log`), same run, medians over the rounds:\n\n| transport | p50 with | p50 without | p99 with | p99 without |\n|---|---:|---:|---:|---:|\n")
	for _, tr := range rep.o.Transports {
		w50, _ := rep.med(clusterModes[2].name, tr, moveP50)
		n50, _ := rep.med(clusterModes[3].name, tr, moveP50)
		w99, _ := rep.med(clusterModes[2].name, tr, moveP99)
		n99, _ := rep.med(clusterModes[3].name, tr, moveP99)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", tr, fmtDur(w50), fmtDur(n50), fmtDur(w99), fmtDur(n99))
	}
	b.WriteString("\n")
	b.WriteString("### By round\n\n| configuration | transport | round | move → opponent p50 | p99 | server-side p99 | moves/s | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, cr := range rep.runs {
		r := cr.Run
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.0f | %d |\n", cr.Mode, r.Transport, cr.Round+1, fmtDur(moveP50(r)), fmtDur(moveP99(r)), fmtDur(srvP99(r)), r.movesPerSec(), r.Res.errorCount())
	}
	b.WriteString("\nServer-side is the send of a move to the kernel's receive stamp on the opponent's socket (see the players sections); with the balancer, the opponent's socket is the balancer's.\n\n")
	return b.String()
}
