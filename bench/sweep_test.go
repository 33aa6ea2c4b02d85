package main

import (
	"strings"
	"testing"
	"time"
)

func step(games int, p99 time.Duration, errs int64, failed string) sweepStep {
	return sweepStep{Games: games, P99: p99, Moves: 100, Errors: errs, Err: failed}
}

// TestSweepNext: the sweep goes on until the target is missed twice (a
// failed step or errors count as missed), and never past the server's
// connection cap.
func TestSweepNext(t *testing.T) {
	t.Parallel()
	ok, miss := 10*time.Millisecond, 80*time.Millisecond
	for _, tc := range []struct {
		name     string
		done     []sweepStep
		need     int
		maxConns int
		want     bool
		why      string
	}{
		{"first step, cap unknown", nil, 2064, 0, true, ""},
		{"all met", []sweepStep{step(1000, ok, 0, ""), step(3000, ok, 0, "")}, 10080, 19864, true, ""},
		{"one miss", []sweepStep{step(1000, ok, 0, ""), step(3000, miss, 0, "")}, 10080, 19864, true, ""},
		{"missed twice", []sweepStep{step(1000, miss, 0, ""), step(3000, ok, 0, ""), step(5000, miss, 0, "")}, 14080, 19864, false, "missed at 2 steps"},
		{"errors and a failure are misses", []sweepStep{step(1000, ok, 3, ""), step(3000, 0, 0, "ramp timed out")}, 10080, 19864, false, "missed at 2 steps"},
		{"over the cap", []sweepStep{step(7000, ok, 0, "")}, 20080, 19864, false, "needs 20080 connections, the server admits 19864"},
		{"at the cap", []sweepStep{step(7000, ok, 0, "")}, 19864, 19864, true, ""},
	} {
		got, why := sweepNext(tc.done, tc.need, tc.maxConns, sweepMaxMisses)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: sweepNext = %v, %q; want %v, %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}

// TestSweepTargets: the sweep's figure is the most games of a step that
// held them, whatever the steps before.
func TestSweepTargets(t *testing.T) {
	t.Parallel()
	o := playersOptions{Transports: []string{transportLongPoll}, Rounds: 1, Duration: 30 * time.Second, CtrlConns: 32}
	rep := &sweepReport{o: o, steps: []int{1000, 5000, 9000}, done: []sweepStep{
		step(1000, 5*time.Millisecond, 0, ""), step(5000, 60*time.Millisecond, 0, ""), step(9000, 40*time.Millisecond, 0, ""),
	}}
	ts := rep.targets()
	if len(ts) != 1 || !ts[0].Met || ts[0].Measured != "9000 games" || !strings.Contains(ts[0].Context, "5000: 60.0ms") {
		t.Fatalf("targets = %+v; want 9000 games met", ts)
	}
	rep.done[2].Errors = 1
	rep.stopped = "stopped before 11000 games: the target was missed at 2 steps"
	ts = rep.targets()
	if ts[0].Met || ts[0].Measured != "1000 games" || !strings.Contains(ts[0].Context, "9000: 40.0ms (1 errors); stopped before") {
		t.Errorf("targets = %+v; want 1000 games, MISSED", ts)
	}
	if (&sweepReport{o: o}).targets() != nil {
		t.Error("a sweep without a step states a target")
	}
	// What a step needs: 2 connections per game, 32 per load process, the margin.
	if got, want := o.needConns(9000), 18000+2*32+connMargin; got != want {
		t.Errorf("needConns(9000) = %d; want %d (two load processes)", got, want)
	}
}

func TestFmtThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 19864: "19,864", 1234567: "1,234,567"} {
		if got := fmtThousands(n); got != want {
			t.Errorf("fmtThousands(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestErrSummary: a failed step's cell keeps the error's first line and
// the last line of the child's log that came with it.
func TestErrSummary(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"bench: games server did not start (exit status 2); its log:\n", "bench: games server did not start (exit status 2); its log:"},
		{"bench: games server did not start (exit status 2); its log:\nline 1\nbench: listen tcp 127.0.0.1:4222: bind: address already in use\n",
			"bench: games server did not start (exit status 2); its log: … bench: listen tcp 127.0.0.1:4222: bind: address already in use"},
	} {
		if got := errSummary(c.in); got != c.want {
			t.Errorf("errSummary(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
