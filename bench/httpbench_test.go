package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

// synthetic returns a measurement of rps requests per second with every
// latency sample equal to lat.
func synthetic(kind string, cfg httpConfig, round int, rps float64, lat time.Duration) httpMeasurement {
	r := &LoadResult{Elapsed: time.Second, Requests: int64(rps)}
	r.Status[2] = r.Requests
	for range 100 {
		r.Latency.Record(lat)
	}
	return httpMeasurement{Kind: kind, Config: cfg, Round: round, Result: r, ServerCPU: time.Duration(rps) * time.Microsecond, Wall: time.Second}
}

func TestHTTPReportRatiosAndTargets(t *testing.T) {
	cfg := httpConfig{Conns: 100, Pipeline: 1}
	var ms []httpMeasurement
	// Round 2 is disturbed for everyone: the paired ratio ignores it, where
	// a ratio of medians would not.
	for round, rps := range [][4]float64{{100, 40, 105, 60}, {90, 45, 100, 40}, {10, 30, 50, 2}} {
		ms = append(ms,
			synthetic(kindCometplay, cfg, round, rps[0]*1000, 3*time.Millisecond),
			synthetic(kindNetHTTP, cfg, round, rps[1]*1000, 6*time.Millisecond),
			synthetic(kindGnet, cfg, round, rps[2]*1000, 2*time.Millisecond),
			synthetic(kindCometplayHandler, cfg, round, rps[3]*1000, 5*time.Millisecond))
	}
	rep := newHTTPReport(httpOptions{Kinds: httpKinds, Rounds: 3}, ms, nil)
	// Handler ÷ static by round: 0.6, 0.44, 0.2: median 0.44, below 0.5.
	if got := rep.pairedRatio(cfg, kindCometplayHandler, kindCometplay, metricRPS); math.Abs(got-40.0/90) > 1e-9 {
		t.Errorf("pairedRatio(handler, static) = %v; want 0.444", got)
	}

	if got := rep.pairedRatio(cfg, kindCometplay, kindNetHTTP, metricRPS); math.Abs(got-2.0) > 1e-9 {
		t.Errorf("pairedRatio(cometplay, nethttp) = %v; want 2 (median of 2.5, 2, 0.33)", got)
	}
	if got := rep.pairedRatio(cfg, kindCometplay, kindGnet, metricRPS); math.Abs(got-0.9) > 1e-9 {
		t.Errorf("pairedRatio(cometplay, gnet) = %v; want 0.9", got)
	}
	if got := rep.pairedRatio(httpConfig{1, 1}, kindCometplay, kindGnet, metricRPS); !math.IsNaN(got) {
		t.Errorf("pairedRatio of a missing configuration = %v; want NaN", got)
	}
	if c := rep.cell(cfg, kindCometplay); c.RPS != 90000 || c.P99 < 3*time.Millisecond || c.P99 > 3100*time.Microsecond {
		t.Errorf("cometplay cell: RPS %v, p99 %v; want the medians 90000, 3ms", c.RPS, c.P99)
	}

	want := map[string]bool{"req/s ≥ 2× net/http": true, "p99 < 4 ms": true, "req/s ≥ 0.9× bare gnet": true, "a Handler's req/s ≥ 0.5× the static path": false}
	ts := rep.targets()
	if len(ts) != len(want) {
		t.Fatalf("targets() = %+v; want %d", ts, len(want))
	}
	for _, tg := range ts {
		if met, ok := want[tg.What]; !ok || tg.Met != met {
			t.Errorf("target %+v; want met=%v", tg, met)
		}
	}
	md := rep.markdown("- header\n", "charts")
	for _, s := range []string{"| req/s ≥ 2× net/http | c=100 p=1 | 2.00× | met |", "| p99 < 4 ms | c=100 p=1 | 3.00ms | met | bare gnet: 2.00ms, net/http: 6.00ms |", "| 100 | 1 | cometplay | 90000 |", "| 100 | 1 | cometplay Handler | 40000 |", "charts/http-latency-c100-p1.svg",
		"| a Handler's req/s ≥ 0.5× the static path | c=100 p=1 | 0.44× | MISSED | Handler 40000 req/s (p99 5.00ms), static 90000 req/s (p99 3.00ms) |"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 999: "999ns", 1500: "1.50µs", 87500: "87.5µs", 1234567: "1.23ms", 250 * time.Millisecond: "250ms", 3 * time.Second: "3.00s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%d) = %q; want %q", d, got, want)
		}
	}
}
