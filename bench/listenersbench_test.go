package main

import (
	"strings"
	"testing"
	"time"
)

// fill records n samples of d.
func fill(h *Histogram, n int, d time.Duration) {
	for range n {
		h.Record(d)
	}
}

// TestListenersTargets evaluates the listener targets on synthetic runs:
// completion against the floor of the same run, the publish that must not
// wait for its fan-out, and the move answered during one.
func TestListenersTargets(t *testing.T) {
	t.Parallel()
	run := func(kind string, completion, trigger, probe time.Duration) *listenersRun {
		r := &listenersRun{Kind: kind, FanoutN: targetFanoutN, FanEvents: 10, BusyEvents: 10}
		fill(&r.Completion, 10, completion)
		for range 10 {
			r.ByEvent = append(r.ByEvent, completion)
		}
		fill(&r.BusyTrigger, 10, trigger)
		fill(&r.BusyProbe, 40, probe)
		return r
	}
	byWhat := func(ts []target) map[string]target {
		m := map[string]target{}
		for _, t := range ts {
			m[t.What] = t
		}
		return m
	}
	const (
		completion = "one event to 10,000 stream listeners: completion p99 ≤ 1.0× bare gnet (same run)"
		publish    = "a publish never holds its caller behind the fan-out: a Handler's Hub.Publish to 10,000 listeners answers (204) p50 ≤ 5 ms"
		move       = "… and a move (control publish) answered during that fan-out p50 ≤ 5 ms"
	)
	for _, tc := range []struct {
		name                        string
		cp                          *listenersRun
		wantCompl, wantPub, wantMov bool
		wantRatio                   string
	}{
		{"all met", run(kindGames, 90*time.Millisecond, time.Millisecond, 2*time.Millisecond), true, true, true, "0.90×"},
		{"slower than the floor, publish held", run(kindGames, 150*time.Millisecond, 80*time.Millisecond, 5*time.Millisecond), false, false, true, "1.50×"},
		{"move held", run(kindGames, 100*time.Millisecond, 4*time.Millisecond, 60*time.Millisecond), true, true, false, "1.00×"},
	} {
		rep := &listenersReport{runs: []*listenersRun{tc.cp,
			run(kindNetHTTPComet, 200*time.Millisecond, 3*time.Millisecond, time.Millisecond),
			run(kindGnet, 100*time.Millisecond, 200*time.Microsecond, 50*time.Millisecond)}}
		ts := byWhat(rep.targets())
		for what, want := range map[string]bool{completion: tc.wantCompl, publish: tc.wantPub, move: tc.wantMov} {
			got, ok := ts[what]
			if !ok {
				t.Errorf("%s: no target %q in %+v", tc.name, what, ts)
				continue
			}
			if got.Met != want {
				t.Errorf("%s: %q met=%v (%+v); want %v", tc.name, what, got.Met, got, want)
			}
		}
		if c := ts[completion]; c.Measured != tc.wantRatio || !strings.Contains(c.Context, "vs bare gnet") {
			t.Errorf("%s: completion row %+v; want measured %s", tc.name, c, tc.wantRatio)
		}
		if m := ts[move]; !strings.Contains(m.Context, "bare gnet (GET): 50.") || !strings.Contains(m.Config, "40 probes") {
			t.Errorf("%s: move row %+v; want the floor's p50 as context", tc.name, m)
		}
	}
	// Below 10,000 listeners, or without the floor: no fan-out rows.
	small := run(kindGames, time.Millisecond, time.Millisecond, time.Millisecond)
	small.FanoutN = 20
	if ts := byWhat((&listenersReport{runs: []*listenersRun{small}}).targets()); len(ts) != 0 {
		t.Errorf("targets at 20 listeners: %+v", ts)
	}
	alone := byWhat((&listenersReport{runs: []*listenersRun{run(kindGames, time.Millisecond, time.Millisecond, time.Millisecond)}}).targets())
	if _, ok := alone[completion]; ok || !alone[publish].Met {
		t.Errorf("targets without baselines: %+v", alone)
	}
}
