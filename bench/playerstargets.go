package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets of the issues for the player simulation.
const (
	targetGames       = 5000
	targetMoveP99     = 50 * time.Millisecond
	targetServerCores = 1.0
	targetServerSide  = 10 * time.Millisecond
	// targetLobbyMoveP99: with a lobby tab open beside the game.
	targetLobbyMoveP99 = 100 * time.Millisecond
	// targetHeapLive bounds the live heap at the end of every round, and
	// targetHeapGrowth its growth from the first round to the last.
	targetHeapLive   = 64 << 20
	targetHeapGrowth = 0.10
	// targetRSSPerPlayer bounds the server's RSS growth per player.
	targetRSSPerPlayer = 8 << 10
)

// Sets of targets a players section states (-targets).
const (
	// targetsPlayers5k: every transport against the scale targets (latency,
	// memory that does not grow, errors, CPU).
	targetsPlayers5k = "players-5k"
	// targetsLobby: every transport's latency with a lobby tab open.
	targetsLobby = "lobby"
	// targetsReference: the headline thresholds on long-poll, at a smaller
	// scale, for reference.
	targetsReference = "reference"
)

var targetSets = []string{targetsPlayers5k, targetsLobby, targetsReference}

// targetSet is the set the options ask for, or the one that fits them.
func (o playersOptions) targetSet() string {
	switch {
	case o.Targets != "":
		return o.Targets
	case o.Lobby == lobbyFull:
		return targetsLobby
	case o.Games >= targetGames:
		return targetsPlayers5k
	}
	return targetsReference
}

// pollAllowance is what the poll transport adds to a latency target: an
// event waits in the server for the client's next poll, up to p_wait later
// (the -poll-wait range's top; the engine's default is 6–10 s).
func (o playersOptions) pollAllowance(transport string) time.Duration {
	if transport != transportPoll {
		return 0
	}
	if _, hi, err := parseMsRange(o.PollWait); err == nil && hi > 0 {
		return time.Duration(hi) * time.Millisecond
	}
	return 10 * time.Second
}

// latencyTarget words a latency target of transport: the base limit, plus
// the poll interval on poll.
func (o playersOptions) latencyTarget(what string, base time.Duration, transport string) (string, time.Duration) {
	extra := o.pollAllowance(transport)
	if extra == 0 {
		return fmt.Sprintf("%s ≤ %s", what, fmtLimit(base)), base
	}
	return fmt.Sprintf("%s ≤ %s + the poll interval (%s)", what, fmtLimit(base), fmtLimit(extra)), base + extra
}

// fmtLimit writes a round limit as people do: "50 ms", "1 s".
func fmtLimit(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

func (rep *playersReport) targets() []target {
	switch rep.o.targetSet() {
	case targetsPlayers5k:
		return rep.scaleTargets()
	case targetsLobby:
		return rep.lobbyTargets()
	}
	return rep.referenceTargets()
}

// atScale prefixes a target measured below the scale it is set for.
func atScale(games int, what string) string {
	if games >= targetGames {
		return what
	}
	return fmt.Sprintf("at %d games: %s", games, what)
}

// scaleTargets are players-5k's: for every transport, the move's latency
// (client- and server-side), a live heap that stays small and does not grow
// from round to round, RSS per player, no error, at most one core.
func (rep *playersReport) scaleTargets() []target {
	o := rep.o
	var ts []target
	for _, a := range rep.aggs() {
		r0 := a.Runs[0]
		x := &a.Merged
		cfg := fmt.Sprintf("%s, %d games, %d round(s) of %v", a.Transport, r0.Games, len(a.Runs), r0.Window)
		what, limit := o.latencyTarget("move → opponent p99", targetMoveP99, a.Transport)
		p99 := a.medDur(moveP99)
		ts = append(ts, target{What: atScale(r0.Games, what+" (client-side)"), Config: cfg + ", median", Measured: fmtDur(p99),
			Met: p99 <= limit && x.MoveLat.Count() > 0, Context: overBy(float64(p99), float64(limit))})
		what, limit = o.latencyTarget("move → opponent's socket p99", targetServerSide, a.Transport)
		srv := a.medDur(srvP99)
		ts = append(ts, target{What: atScale(r0.Games, what+" (server-side)"), Config: cfg + ", median", Measured: fmtDur(srv),
			Met: srv <= limit && x.MoveLatSrv.Count() > 0, Context: overBy(float64(srv), float64(limit))})

		heaps := a.heapLive()
		top := slices.Max(heaps)
		ts = append(ts, target{What: atScale(r0.Games, "live heap ≤ 64 MiB at the end of every round"), Config: cfg + ", largest",
			Measured: fmtBytes(int64(top)), Met: top > 0 && top <= targetHeapLive,
			Context: strings.TrimPrefix(overBy(float64(top), targetHeapLive)+"; "+a.gcContext(), "; ")})
		growth, ok := heapGrowth(heaps)
		flat := target{What: atScale(r0.Games, "live heap flat: the last round's ≤ 1.10× the first's"), Config: cfg, Measured: "–",
			Context: "needs two rounds or more"}
		if ok {
			flat.Measured, flat.Met = fmt.Sprintf("%+.1f%%", 100*growth), growth <= targetHeapGrowth
			flat.Context = "by round: " + a.byRoundBytes(func(r *playersRun) int64 { return int64(r.HeapLive) })
		}
		ts = append(ts, flat)
		per := a.maxRSSPerPlayer(rep.ramp.RSSBefore)
		ts = append(ts, target{What: atScale(r0.Games, "RSS per player ≤ 8 KiB (growth from the fresh server, end of every round)"), Config: cfg + ", largest",
			Measured: fmtBytes(int64(per)), Met: per <= targetRSSPerPlayer,
			Context: strings.TrimPrefix(overBy(per, targetRSSPerPlayer)+"; RSS by round: "+a.byRoundBytes(func(r *playersRun) int64 { return r.RSSEnd }), "; ")})
		ts = append(ts, target{What: atScale(r0.Games, "zero errors (measured windows)"), Config: cfg, Measured: strconv.FormatInt(x.errorCount(), 10),
			Met: x.errorCount() == 0})
		cores := a.med(func(r *playersRun) float64 { return r.CPU.Server })
		ts = append(ts, target{What: atScale(r0.Games, "server ≤ 1 core"), Config: cfg + ", median", Measured: fmt.Sprintf("%.2f cores", cores),
			Met: cores <= targetServerCores, Context: overBy(cores, targetServerCores)})
	}
	return ts
}

// lobbyTargets: with a lobby tab open, every transport's move latency.
func (rep *playersReport) lobbyTargets() []target {
	var ts []target
	for _, a := range rep.aggs() {
		r0 := a.Runs[0]
		x := &a.Merged
		cfg := fmt.Sprintf("%s, %d games, lobby %s, %d round(s) of %v, median", a.Transport, r0.Games, rep.o.Lobby, len(a.Runs), r0.Window)
		what, limit := rep.o.latencyTarget("lobby tab open: move → opponent p99", targetLobbyMoveP99, a.Transport)
		p99 := a.medDur(moveP99)
		ctx := overBy(float64(p99), float64(limit))
		ctx += fmt.Sprintf("; server-side p99 %s, errors %d", fmtDur(a.medDur(srvP99)), x.errorCount())
		ts = append(ts, target{What: atScale(r0.Games, what), Config: cfg, Measured: fmtDur(p99), Met: p99 <= limit && x.MoveLat.Count() > 0,
			Context: strings.TrimPrefix(ctx, "; ")})
	}
	return ts
}

// referenceTargets: the thresholds on long-poll at the scale the section
// runs, for reference (the players section's 1,000 games).
func (rep *playersReport) referenceTargets() []target {
	var ts []target
	if rep.o.Match != matchLobby {
		return nil
	}
	for _, a := range rep.aggs() {
		if a.Transport != transportLongPoll {
			continue
		}
		r0 := a.Runs[0]
		p99, srv := a.medDur(moveP99), a.medDur(srvP99)
		cores := a.med(func(r *playersRun) float64 { return r.CPU.Server })
		cfg := fmt.Sprintf("%s, %d games, median of %d rounds", a.Transport, r0.Games, len(a.Runs))
		ts = append(ts,
			target{What: fmt.Sprintf("at %d games: move → opponent p99 ≤ 50 ms", r0.Games), Config: cfg, Measured: fmtDur(p99), Met: p99 <= targetMoveP99,
				Context: overBy(float64(p99), float64(targetMoveP99))},
			target{What: fmt.Sprintf("at %d games: server below one core", r0.Games), Config: cfg, Measured: fmt.Sprintf("%.2f cores", cores), Met: cores < targetServerCores},
			target{What: fmt.Sprintf("at %d games: zero errors (measured windows)", r0.Games), Config: cfg, Measured: strconv.FormatInt(a.Merged.errorCount(), 10), Met: a.Merged.errorCount() == 0},
			target{What: fmt.Sprintf("at %d games: server-side p99 ≤ 10 ms", r0.Games), Config: cfg, Measured: fmtDur(srv), Met: srv <= targetServerSide,
				Context: overBy(float64(srv), float64(targetServerSide))},
		)
	}
	return ts
}

// heapGrowth is the growth of the live heap from the first round to the
// last ((last − first) ÷ first); ok is false with fewer than two rounds or
// a first reading of zero.
func heapGrowth(heaps []uint64) (growth float64, ok bool) {
	if len(heaps) < 2 || heaps[0] == 0 {
		return 0, false
	}
	return float64(heaps[len(heaps)-1])/float64(heaps[0]) - 1, true
}

// heapLive lists the live heap at the end of each round.
func (a *playersAgg) heapLive() []uint64 {
	out := make([]uint64, len(a.Runs))
	for i, r := range a.Runs {
		out[i] = r.HeapLive
	}
	return out
}

// rssPerPlayer is the server's RSS growth from the fresh server to the end
// of the round, per player.
func (r *playersRun) rssPerPlayer(fresh int64) float64 {
	if r.Players == 0 || r.RSSEnd == 0 {
		return 0
	}
	return float64(r.RSSEnd-fresh) / float64(r.Players)
}

func (a *playersAgg) maxRSSPerPlayer(fresh int64) float64 {
	var m float64
	for _, r := range a.Runs {
		m = max(m, r.rssPerPlayer(fresh))
	}
	return m
}

func (a *playersAgg) byRoundBytes(f func(*playersRun) int64) string {
	var parts []string
	for _, r := range a.Runs {
		parts = append(parts, fmtBytes(f(r)))
	}
	return strings.Join(parts, ", ")
}

// gcContext sums up the collector over the transport's rounds: the largest
// pause p99 and pause, the median GC CPU fraction.
func (a *playersAgg) gcContext() string {
	var p99, top time.Duration
	for _, r := range a.Runs {
		p99, top = max(p99, r.GC.PauseP99), max(top, r.GC.PauseMax)
	}
	return fmt.Sprintf("GC pauses p99 %s, max %s; GC CPU %.1f%% (median)", fmtDur(p99), fmtDur(top),
		100*a.med(func(r *playersRun) float64 { return r.GC.CPUFraction }))
}

// memoryTable renders the memory and the collector's figures of each round.
func (rep *playersReport) memoryTable() string {
	var b strings.Builder
	b.WriteString("### Memory and the collector, by round\n\n" +
		"**Live heap**: the server's heap objects (runtime/metrics `/memory/classes/heap/objects:bytes`) right after a `runtime.GC` " +
		"at the end of the round, once the window's last events are delivered (the `gc` control command; the players play on); " +
		"**history outside the heap**: the events' slabs, which the server keeps in memory mapped outside the Go heap (the hub's `history_offheap_bytes` at the window's end; RSS counts them, the live heap does not). " +
		"**RSS** is the server's at the end of the window; per player: (RSS − the fresh server's) ÷ players. " +
		"The collector's figures cover the window, from runtime/metrics read in the server at its start and end: " +
		"stop-the-world pauses from `/gc/pauses:seconds` (p99 and max are the upper bounds of their buckets), and the GC's CPU " +
		"(`/cpu/classes/gc/total:cpu-seconds`) ÷ the CPU available to the process (`/cpu/classes/total:cpu-seconds`, GOMAXPROCS × wall), " +
		"which the runtime updates at the end of each cycle. **Allocated per move**: the bytes the server allocated on its heap " +
		"in the window (`/gc/heap/allocs:bytes`) ÷ the moves seen; what the collector has to keep up with.\n\n")
	b.WriteString("| round | transport | live heap after GC | history outside the heap | RSS at the end | RSS per player | allocated per move | GC cycles | pauses | pause p99 | pause max | GC CPU (of GOMAXPROCS × wall) | GC cores |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.runs {
		gcCores := 0.0
		if r.Window > 0 {
			gcCores = r.GC.CPU.Seconds() / r.Window.Seconds()
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %.1f%% | %.2f |\n", r.Round+1, r.Transport,
			fmtBytes(int64(r.HeapLive)), fmtBytes(r.HubEnd.HistoryOffHeap), fmtBytes(r.RSSEnd), fmtBytes(int64(r.rssPerPlayer(rep.ramp.RSSBefore))), fmtBytes(int64(r.allocPerMove())),
			r.GC.Cycles, r.GC.Pauses, fmtDur(r.GC.PauseP99), fmtDur(r.GC.PauseMax), 100*r.GC.CPUFraction, gcCores)
	}
	b.WriteString("\n")
	return b.String()
}
