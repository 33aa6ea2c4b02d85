package main

import (
	"strings"
	"testing"
	"time"
)

// syntheticRound is a measured round of transport: every move took lat
// (srv server-side), the live heap at its end is heap, its RSS rss.
func syntheticRound(transport string, round, games int, lat, srv time.Duration, heap uint64, rss int64) *playersRun {
	r := &playersRun{Transport: transport, Round: round, Games: games, Players: 2 * games, Window: time.Minute, HeapLive: heap, RSSEnd: rss}
	r.Res.Errors = map[string]int64{}
	fill(&r.Res.MoveLat, 100, lat)
	fill(&r.Res.MoveLatSrv, 100, srv)
	r.CPU.Server = 0.5
	r.GC = gcWindow{Cycles: 10, Pauses: 20, PauseP99: 300 * time.Microsecond, PauseMax: time.Millisecond, CPUFraction: 0.04}
	return r
}

func targetsByWhat(ts []target) map[string]target {
	m := map[string]target{}
	for _, t := range ts {
		m[t.What] = t
	}
	return m
}

// TestScaleTargets: players-5k states every target for every transport;
// the live heap must stay under 64 MiB and not grow over 10 % from the
// first round to the last; RSS per player counts from the fresh server;
// poll's latency targets allow its poll interval.
func TestScaleTargets(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	o := playersOptions{Transports: []string{transportLongPoll, transportPoll}, Games: 5000, Rounds: 3, PollWait: "500-1000", Match: matchLobby, Lobby: lobbyQuiet}
	fresh := int64(20 * mib)
	rep := &playersReport{o: o, ramp: &playersRamp{RSSBefore: fresh}}
	for round, heap := range []uint64{40 * mib, 42 * mib, 45 * mib} { // +12.5 %: grows
		// 70 MiB over the fresh server's RSS ÷ 10,000 players: 7.2 KiB each.
		rep.runs = append(rep.runs, syntheticRound(transportLongPoll, round, 5000, 30*time.Millisecond, 4*time.Millisecond, heap, fresh+70*mib))
	}
	for round, heap := range []uint64{50 * mib, 70 * mib, 52 * mib} { // over 64 MiB once, flat
		rep.runs = append(rep.runs, syntheticRound(transportPoll, round, 5000, 900*time.Millisecond, 800*time.Millisecond, heap, fresh+90*mib))
	}
	rep.runs[1].Res.Errors["gap"] = 2
	ts := rep.targets()
	if len(ts) != 14 {
		t.Fatalf("%d targets; want 7 for each of 2 transports:\n%+v", len(ts), ts)
	}
	got := targetsByWhat(ts)
	for what, want := range map[string]struct {
		met      bool
		measured string
	}{
		"move → opponent p99 ≤ 50 ms (client-side)":                                    {true, "30.0ms"},
		"move → opponent's socket p99 ≤ 10 ms (server-side)":                           {true, "4.00ms"},
		"move → opponent p99 ≤ 50 ms + the poll interval (1 s) (client-side)":          {true, "900ms"},
		"move → opponent's socket p99 ≤ 10 ms + the poll interval (1 s) (server-side)": {true, "800ms"},
	} {
		g, ok := got[what]
		if !ok {
			t.Errorf("no target %q", what)
			continue
		}
		if g.Met != want.met || g.Measured != want.measured {
			t.Errorf("%q: met=%v measured %q; want %v %q", what, g.Met, g.Measured, want.met, want.measured)
		}
	}
	// In order: long-poll's 7, then poll's.
	want := []struct {
		what     string
		met      bool
		measured string
	}{
		{"live heap ≤ 64 MiB at the end of every round", true, "45.0 MiB"},
		{"live heap flat: the last round's ≤ 1.10× the first's", false, "+12.5%"},
		{"RSS per player ≤ 8 KiB (growth from the fresh server, end of every round)", true, "7.2 KiB"},
		{"zero errors (measured windows)", false, "2"},
		{"server ≤ 1 core", true, "0.50 cores"},
	}
	for i, w := range want {
		g := ts[2+i]
		if g.What != w.what || g.Met != w.met || g.Measured != w.measured {
			t.Errorf("long-poll target %d = %+v; want %q met=%v %q", 2+i, g, w.what, w.met, w.measured)
		}
	}
	poll := ts[7:]
	if g := poll[2]; g.Met || g.Measured != "70.0 MiB" || !strings.Contains(g.Context, "GC pauses p99 300µs, max 1.00ms; GC CPU 4.0%") {
		t.Errorf("poll heap = %+v; want MISSED at 70 MiB with the GC figures", g)
	}
	if g := poll[3]; !g.Met || g.Measured != "+4.0%" || !strings.Contains(g.Context, "50.0 MiB, 70.0 MiB, 52.0 MiB") {
		t.Errorf("poll heap flat = %+v; want met at +4.0%%", g)
	}
	if g := poll[4]; g.Met || g.Measured != "9.2 KiB" {
		t.Errorf("poll RSS per player = %+v; want MISSED at 9.2 KiB", g)
	}

	// Below 5,000 games the same targets say at which scale; one round
	// cannot show a flat heap.
	small := &playersReport{o: o, ramp: &playersRamp{RSSBefore: fresh}, runs: []*playersRun{
		syntheticRound(transportLongPoll, 0, 200, time.Millisecond, time.Millisecond, mib, fresh+mib)}}
	small.o.Games, small.o.Targets = 200, targetsPlayers5k
	ts = small.targets()
	if len(ts) != 7 || !strings.HasPrefix(ts[0].What, "at 200 games: move → opponent p99") {
		t.Fatalf("targets at 200 games: %+v", ts)
	}
	if flat := ts[3]; flat.Met || flat.Measured != "–" {
		t.Errorf("flatness of one round = %+v; want not met", flat)
	}
}

// TestLobbyAndReferenceTargets: a full lobby states the 100 ms target for
// every transport; the players section keeps its reference rows.
func TestLobbyAndReferenceTargets(t *testing.T) {
	t.Parallel()
	o := playersOptions{Transports: []string{transportStream, transportPoll}, Games: 5000, Lobby: lobbyFull, Match: matchLobby, PollWait: "500-1000"}
	rep := &playersReport{o: o, ramp: &playersRamp{}, runs: []*playersRun{
		syntheticRound(transportStream, 0, 5000, 120*time.Millisecond, 20*time.Millisecond, 1, 1),
		syntheticRound(transportPoll, 0, 5000, 950*time.Millisecond, 900*time.Millisecond, 1, 1),
	}}
	if o.targetSet() != targetsLobby {
		t.Fatalf("target set of a full lobby = %q", o.targetSet())
	}
	ts := rep.targets()
	if len(ts) != 2 {
		t.Fatalf("lobby targets: %+v", ts)
	}
	if g := ts[0]; g.What != "lobby tab open: move → opponent p99 ≤ 100 ms" || g.Met || !strings.Contains(g.Context, "over by 20%") {
		t.Errorf("stream: %+v; want MISSED, over by 20%%", g)
	}
	if g := ts[1]; g.What != "lobby tab open: move → opponent p99 ≤ 100 ms + the poll interval (1 s)" || !g.Met {
		t.Errorf("poll: %+v; want met within 1.1 s", g)
	}

	o = playersOptions{Transports: []string{transportLongPoll, transportStream}, Games: 1000, Lobby: lobbyQuiet, Match: matchLobby}
	if o.targetSet() != targetsReference {
		t.Fatalf("target set at 1,000 games = %q", o.targetSet())
	}
	rep = &playersReport{o: o, ramp: &playersRamp{}, runs: []*playersRun{
		syntheticRound(transportLongPoll, 0, 1000, 3*time.Millisecond, 2*time.Millisecond, 1, 1),
		syntheticRound(transportStream, 0, 1000, 3*time.Millisecond, 2*time.Millisecond, 1, 1),
	}}
	ts = rep.targets()
	if len(ts) != 4 || ts[0].What != "at 1000 games: move → opponent p99 ≤ 50 ms" || !ts[0].Met {
		t.Errorf("reference targets: %+v", ts)
	}
	if o.Games = 5000; o.targetSet() != targetsPlayers5k {
		t.Errorf("target set at 5,000 games = %q", o.targetSet())
	}
}

func TestHeapGrowth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		heaps []uint64
		want  float64
		ok    bool
	}{
		{[]uint64{100, 120, 110}, 0.10, true},
		{[]uint64{100, 90}, -0.10, true},
		{[]uint64{100}, 0, false},
		{[]uint64{0, 10}, 0, false},
		{nil, 0, false},
	} {
		got, ok := heapGrowth(tc.heaps)
		if ok != tc.ok || (ok && (got < tc.want-1e-9 || got > tc.want+1e-9)) {
			t.Errorf("heapGrowth(%v) = %v, %v; want %v, %v", tc.heaps, got, ok, tc.want, tc.ok)
		}
	}
}
