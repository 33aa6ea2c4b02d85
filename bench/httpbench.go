package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// httpConfig is one load shape of the HTTP comparison.
type httpConfig struct {
	Conns, Pipeline int
}

func (c httpConfig) String() string { return fmt.Sprintf("c=%d p=%d", c.Conns, c.Pipeline) }

// kindCometplayHandler is no server of its own: the cometplay server's
// Handler at handlerPath, measured beside its static path as if it were
// another server of the comparison.
const kindCometplayHandler = "cometplay-handler"

// httpKinds are what the HTTP comparison measures by default.
var httpKinds = []string{kindCometplay, kindCometplayHandler, kindNetHTTP, kindGnet}

// httpTarget returns the server kind that serves kind and the path loaded.
func httpTarget(kind string) (server, path string) {
	if kind == kindCometplayHandler {
		return kindCometplay, handlerPath
	}
	return kind, staticPath
}

// httpOptions are the flags of `bench http`.
type httpOptions struct {
	Out       string // RESULTS.md to update ("" prints the section only)
	ChartsDir string // "" means charts/ next to Out
	Rounds    int
	Duration  time.Duration
	Warmup    time.Duration
	Timeout   time.Duration
	Conns     []int
	Pipelines []int
	Kinds     []string
	Procs     int
	// ServerArgs are extra flags for every server child (profiles).
	ServerArgs []string
}

// httpMeasurement is one load run against one server.
type httpMeasurement struct {
	Kind   string
	Config httpConfig
	Round  int
	Result *LoadResult
	// ServerCPU is the CPU time the server process used during the run
	// (warmup included, so per-request figures divide by all requests of
	// the run's wall time; see serverCPUPerReq).
	ServerCPU time.Duration
	// LoadCPU is the CPU time this process (the load generator) used.
	LoadCPU time.Duration
	// OtherCPU is the CPU time the rest of the machine used (other
	// processes, and time stolen by the hypervisor): the noise.
	OtherCPU time.Duration
	Wall     time.Duration // warmup + measured
}

// otherCores returns OtherCPU as a number of busy cores.
func (m *httpMeasurement) otherCores() float64 {
	if m.Wall <= 0 {
		return 0
	}
	return max(0, m.OtherCPU.Seconds()/m.Wall.Seconds())
}

// serverCPUPerReq estimates the server's CPU time per request: CPU used
// during the whole run divided by the requests of the measured part scaled
// to the whole run (the warmup carries the same load).
func (m *httpMeasurement) serverCPUPerReq() time.Duration { return m.perReq(m.ServerCPU) }

// loadCPUPerReq is the same for the load generator.
func (m *httpMeasurement) loadCPUPerReq() time.Duration { return m.perReq(m.LoadCPU) }

func (m *httpMeasurement) perReq(cpu time.Duration) time.Duration {
	reqs := m.Result.RPS() * m.Wall.Seconds()
	if reqs <= 0 || cpu <= 0 {
		return 0
	}
	return time.Duration(float64(cpu) / reqs)
}

// probe is what a single raw request to a server returned.
type probe struct {
	Kind             string
	Status           int
	HeadLen, WireLen int64
	Head             string
}

func parseIntList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bench: bad list element %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// httpMain is `bench http`.
func httpMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	o := httpOptions{}
	fs.StringVar(&o.Out, "out", "", "RESULTS.md to update (its http section); empty prints the section")
	fs.StringVar(&o.ChartsDir, "charts", "", "directory for the SVG charts (default: charts/ next to -out)")
	fs.IntVar(&o.Rounds, "rounds", 5, "rounds; each measures every configuration on every server, figures are medians")
	fs.DurationVar(&o.Duration, "d", 2*time.Second, "measured time of one run")
	fs.DurationVar(&o.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each run")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "connect and batch timeout")
	conns := fs.String("c", "1,100", "connection counts")
	pipes := fs.String("pipeline", "1,16", "pipelining depths")
	kinds := fs.String("kinds", strings.Join(httpKinds, ","), "servers to compare ("+kindCometplayHandler+": the cometplay server's Handler path)")
	fs.IntVar(&o.Procs, "procs", runtime.NumCPU(), "GOMAXPROCS of every server process")
	serverArgs := fs.String("server-args", "", "extra flags for every server child, space separated (e.g. -cpuprofile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Conns, err = parseIntList(*conns); err != nil {
		return err
	}
	if o.Pipelines, err = parseIntList(*pipes); err != nil {
		return err
	}
	o.Kinds = strings.Split(*kinds, ",")
	for _, k := range o.Kinds {
		if !slices.Contains(httpKinds, k) {
			return fmt.Errorf("bench: unknown server kind %q (want %v)", k, httpKinds)
		}
	}
	o.ServerArgs = strings.Fields(*serverArgs)
	if o.Rounds < 1 {
		return errors.New("bench: -rounds must be at least 1")
	}
	if o.ChartsDir == "" && o.Out != "" {
		o.ChartsDir = filepath.Join(filepath.Dir(o.Out), "charts")
	}

	started, loadStart := time.Now(), loadAverage()
	ms, probes, err := runHTTPComparison(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	rep := newHTTPReport(o, ms, probes)
	rep.loadStart, rep.loadEnd = loadStart, loadAverage()
	linkDir := ""
	if o.ChartsDir != "" {
		if err := rep.writeCharts(o.ChartsDir); err != nil {
			return err
		}
		base := "."
		if o.Out != "" {
			base = filepath.Dir(o.Out)
		}
		if linkDir, err = filepath.Rel(base, o.ChartsDir); err != nil {
			linkDir = o.ChartsDir
		}
	}
	md := rep.markdown(runHeader(invocation, started, time.Since(started), DescribeMachine()), filepath.ToSlash(linkDir))
	if o.Out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := UpdateResultsFile(o.Out, "http", []byte(md)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\nwrote %s (section http) and charts in %s\n", rep.summary(), o.Out, o.ChartsDir)
	return err
}

// runHTTPComparison starts one child per server kind, checks their
// responses, and measures every configuration on every server, Rounds times,
// interleaved: round r runs configuration by configuration, and within one
// the servers take turns in an order rotated each time, so that no server
// always runs first or last.
func runHTTPComparison(ctx context.Context, o httpOptions, progress io.Writer) ([]httpMeasurement, []probe, error) {
	children := map[string]*Child{}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopChildren(stopCtx, children, progress)
	}()
	for _, k := range o.Kinds {
		sk, _ := httpTarget(k)
		if children[sk] != nil {
			continue // the cometplay server serves its Handler path too
		}
		c, err := StartChild(ServerSpec{Kind: sk, Procs: o.Procs, Args: o.ServerArgs})
		if err != nil {
			return nil, nil, err
		}
		children[sk] = c
		fmt.Fprintf(progress, "%s server: pid %d at %s (GOMAXPROCS %d)\n", sk, c.Pid(), c.Addr, o.Procs)
	}
	var probes []probe
	for _, k := range o.Kinds {
		sk, path := httpTarget(k)
		p, err := probeServer(children[sk].Addr, path)
		if err != nil {
			return nil, nil, fmt.Errorf("bench: probing the %s server: %w", k, err)
		}
		if p.Status != 200 {
			return nil, nil, fmt.Errorf("bench: the %s server answered %d to GET %s:\n%s", k, p.Status, path, p.Head)
		}
		p.Kind = k
		probes = append(probes, p)
	}

	var configs []httpConfig
	for _, c := range o.Conns {
		for _, p := range o.Pipelines {
			configs = append(configs, httpConfig{c, p})
		}
	}
	var ms []httpMeasurement
	turn := 0
	for round := range o.Rounds {
		for _, cfg := range configs {
			for i := range o.Kinds {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				k := o.Kinds[(i+turn)%len(o.Kinds)]
				sk, _ := httpTarget(k)
				m, err := measure(ctx, children[sk], k, cfg, o)
				if err != nil {
					return nil, nil, err
				}
				m.Round = round
				ms = append(ms, m)
				r := m.Result
				fmt.Fprintf(progress, "round %d %-11s %-9s %9.0f req/s  p50 %-8s p99 %-8s max %-8s cpu/req server %-8s load %-8s other cores %.2f errors %d non-2xx %d\n",
					round+1, cfg, k, r.RPS(), fmtDur(r.Latency.Quantile(0.5)), fmtDur(r.Latency.Quantile(0.99)), fmtDur(r.Latency.Max()),
					fmtDur(m.serverCPUPerReq()), fmtDur(m.loadCPUPerReq()), m.otherCores(), r.Errors, r.Non2xx())
			}
			turn++
		}
	}
	return ms, probes, ctx.Err()
}

// stopChildren stops the children in parallel (each takes up to a second:
// gnet polls for its loops' exit every half second).
func stopChildren(ctx context.Context, children map[string]*Child, progress io.Writer) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for k, c := range children {
		wg.Go(func() {
			t0 := time.Now()
			err := c.Stop(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintln(progress, err)
			}
			fmt.Fprintf(progress, "%s server stopped in %v\n", k, time.Since(t0).Round(time.Millisecond))
		})
	}
	wg.Wait()
}

// measure loads kind (served by c) in configuration cfg.
func measure(ctx context.Context, c *Child, kind string, cfg httpConfig, o httpOptions) (httpMeasurement, error) {
	_, path := httpTarget(kind)
	cpu0, err := c.CPUTime()
	if err != nil {
		return httpMeasurement{}, err
	}
	self0, err := procCPUTime(os.Getpid())
	if err != nil {
		return httpMeasurement{}, err
	}
	all0, err := machineBusy()
	if err != nil {
		return httpMeasurement{}, err
	}
	t0 := time.Now()
	res, err := RunLoad(ctx, LoadConfig{
		Addr:     c.Addr,
		Path:     path,
		Conns:    cfg.Conns,
		Pipeline: cfg.Pipeline,
		Duration: o.Duration,
		Warmup:   o.Warmup,
		Timeout:  o.Timeout,
	})
	if err != nil {
		return httpMeasurement{}, err
	}
	wall := time.Since(t0)
	all1, err := machineBusy()
	if err != nil {
		return httpMeasurement{}, err
	}
	self1, err := procCPUTime(os.Getpid())
	if err != nil {
		return httpMeasurement{}, err
	}
	cpu1, err := c.CPUTime()
	if err != nil {
		if ctx.Err() != nil {
			return httpMeasurement{}, ctx.Err()
		}
		return httpMeasurement{}, fmt.Errorf("bench: the %s server died? %w; its log:\n%s", c.Spec.Kind, err, c.log)
	}
	m := httpMeasurement{Kind: kind, Config: cfg, Result: res, ServerCPU: cpu1 - cpu0, LoadCPU: self1 - self0, Wall: wall}
	m.OtherCPU = (all1 - all0) - m.ServerCPU - m.LoadCPU
	return m, nil
}

// probeServer sends one GET and returns the response's status and sizes.
func probeServer(addr, path string) (probe, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return probe{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return probe{}, err
	}
	req := LoadConfig{Method: "GET", Path: path, Host: addr}.request()
	if _, err := conn.Write(req); err != nil {
		return probe{}, err
	}
	rr := NewResponseReader(conn)
	rr.KeepBody = true
	resp, err := rr.Next(false)
	if err != nil {
		return probe{}, err
	}
	if resp.Status == 200 && string(rr.Body) != staticBody {
		return probe{}, fmt.Errorf("unexpected body %q", rr.Body)
	}
	return probe{Status: resp.Status, HeadLen: resp.HeadLen, WireLen: resp.WireLen, Head: string(rr.Head)}, nil
}

// httpCell aggregates the rounds of one server in one configuration.
type httpCell struct {
	Kind           string
	Config         httpConfig
	RPS            float64   // median over rounds
	RoundRPS       []float64 // in round order
	P50, P90, P99  time.Duration
	Max            time.Duration // largest over rounds
	CPUPerReq      time.Duration // median server CPU per request
	LoadCPUPerReq  time.Duration // median load generator CPU per request
	OtherCores     float64       // median CPU used by the rest of the machine, in cores
	Errors, Non2xx int64         // summed over rounds
	Latency        Histogram     // every round merged
	Requests       int64         // summed over rounds
	// Rounds holds the measurements by round.
	Rounds map[int]*httpMeasurement
}

type httpReport struct {
	o                  httpOptions
	loadStart, loadEnd string // /proc/loadavg
	configs            []httpConfig
	cells              map[httpConfig]map[string]*httpCell
	probes             []probe
}

func newHTTPReport(o httpOptions, ms []httpMeasurement, probes []probe) *httpReport {
	rep := &httpReport{o: o, cells: map[httpConfig]map[string]*httpCell{}, probes: probes}
	type acc struct {
		rps                []float64
		p50, p90, p99, cpu []float64
		loadCPU, other     []float64
	}
	accs := map[*httpCell]*acc{}
	for i := range ms {
		m := &ms[i]
		byKind := rep.cells[m.Config]
		if byKind == nil {
			byKind = map[string]*httpCell{}
			rep.cells[m.Config] = byKind
			rep.configs = append(rep.configs, m.Config)
		}
		c := byKind[m.Kind]
		if c == nil {
			c = &httpCell{Kind: m.Kind, Config: m.Config, Rounds: map[int]*httpMeasurement{}}
			byKind[m.Kind] = c
			accs[c] = &acc{}
		}
		a := accs[c]
		r := m.Result
		a.rps = append(a.rps, r.RPS())
		a.p50 = append(a.p50, float64(r.Latency.Quantile(0.5)))
		a.p90 = append(a.p90, float64(r.Latency.Quantile(0.9)))
		a.p99 = append(a.p99, float64(r.Latency.Quantile(0.99)))
		a.cpu = append(a.cpu, float64(m.serverCPUPerReq()))
		a.loadCPU = append(a.loadCPU, float64(m.loadCPUPerReq()))
		a.other = append(a.other, m.otherCores())
		c.Rounds[m.Round] = m
		c.RoundRPS = append(c.RoundRPS, r.RPS())
		c.Max = max(c.Max, r.Latency.Max())
		c.Errors += r.Errors
		c.Non2xx += r.Non2xx()
		c.Requests += r.Requests
		c.Latency.Merge(&r.Latency)
	}
	for c, a := range accs {
		c.RPS = median(a.rps)
		c.P50 = time.Duration(median(a.p50))
		c.P90 = time.Duration(median(a.p90))
		c.P99 = time.Duration(median(a.p99))
		c.CPUPerReq = time.Duration(median(a.cpu))
		c.LoadCPUPerReq = time.Duration(median(a.loadCPU))
		c.OtherCores = median(a.other)
	}
	return rep
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (rep *httpReport) cell(cfg httpConfig, kind string) *httpCell { return rep.cells[cfg][kind] }

// Metrics compared by pairedRatio.
var (
	metricRPS = func(m *httpMeasurement) float64 { return m.Result.RPS() }
	metricP99 = func(m *httpMeasurement) float64 { return float64(m.Result.Latency.Quantile(0.99)) }
	metricCPU = func(m *httpMeasurement) float64 { return float64(m.serverCPUPerReq()) }
)

// pairedRatio returns the median over rounds of f(a)/f(b) in cfg, using the
// rounds in which both servers ran: the two were measured minutes apart at
// most, under much the same background load, so the ratio of a round is
// steadier than either figure. NaN when there is no such round.
func (rep *httpReport) pairedRatio(cfg httpConfig, a, b string, f func(*httpMeasurement) float64) float64 {
	ca, cb := rep.cell(cfg, a), rep.cell(cfg, b)
	if ca == nil || cb == nil {
		return math.NaN()
	}
	var rs []float64
	for round, ma := range ca.Rounds {
		if mb := cb.Rounds[round]; mb != nil {
			if va, vb := f(ma), f(mb); vb > 0 && va >= 0 {
				rs = append(rs, va/vb)
			}
		}
	}
	return median(rs)
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

// target is one of the goals the foundation issue sets for cometplay.
type target struct {
	What, Config, Measured string
	Met                    bool
	// Context is a figure to judge it by (the floor's p99 for a latency goal).
	Context string
}

// targetsTable renders a section's targets as the Markdown table the
// summary at the top of RESULTS.md gathers ("" without targets).
func targetsTable(heading, contextHeader string, ts []target) string {
	if len(ts) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n| target | configuration | measured | status | %s |\n|---|---|---:|---|---|\n", heading, contextHeader)
	for _, t := range ts {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.What, t.Config, t.Measured, metWord(t.Met), t.Context)
	}
	b.WriteString("\n")
	return b.String()
}

// targets evaluates the goals at 100 connections (every pipelining depth).
func (rep *httpReport) targets() []target {
	var ts []target
	for _, cfg := range rep.configs {
		if cfg.Conns != 100 {
			continue
		}
		cp, nh, gn := rep.cell(cfg, kindCometplay), rep.cell(cfg, kindNetHTTP), rep.cell(cfg, kindGnet)
		if cp == nil {
			continue
		}
		if nh != nil {
			r := rep.pairedRatio(cfg, kindCometplay, kindNetHTTP, metricRPS)
			ts = append(ts, target{What: "req/s ≥ 2× net/http", Config: cfg.String(), Measured: fmtRatio(r), Met: r >= 2})
		}
		unit := ""
		if cfg.Pipeline > 1 {
			unit = fmt.Sprintf(" (per batch of %d)", cfg.Pipeline)
		}
		t := target{What: "p99 < 4 ms" + unit, Config: cfg.String(), Measured: fmtDur(cp.P99), Met: cp.P99 < 4*time.Millisecond}
		if gn != nil {
			t.Context = "bare gnet: " + fmtDur(gn.P99)
		}
		if nh != nil {
			t.Context = strings.TrimPrefix(t.Context+", net/http: "+fmtDur(nh.P99), ", ")
		}
		ts = append(ts, t)
		if gn != nil {
			r := rep.pairedRatio(cfg, kindCometplay, kindGnet, metricRPS)
			ts = append(ts, target{What: "req/s ≥ 0.9× bare gnet", Config: cfg.String(), Measured: fmtRatio(r), Met: r >= 0.9})
		}
		if h := rep.cell(cfg, kindCometplayHandler); h != nil {
			r := rep.pairedRatio(cfg, kindCometplayHandler, kindCometplay, metricRPS)
			ts = append(ts, target{What: fmt.Sprintf("a Handler's req/s ≥ %.1f× the static path", targetHandlerRatio), Config: cfg.String(), Measured: fmtRatio(r),
				Met: r >= targetHandlerRatio, Context: fmt.Sprintf("Handler %.0f req/s (p99 %s), static %.0f req/s (p99 %s)", h.RPS, fmtDur(h.P99), cp.RPS, fmtDur(cp.P99))})
		}
	}
	return ts
}

// targetHandlerRatio: a Handler on the workers, answering the same bytes,
// serves at least this share of the static path's requests per second.
const targetHandlerRatio = 0.5

// summary is the short text printed at the end of a run.
func (rep *httpReport) summary() string {
	var b strings.Builder
	for _, cfg := range rep.configs {
		fmt.Fprintf(&b, "%-11s", cfg)
		for _, k := range rep.o.Kinds {
			if c := rep.cell(cfg, k); c != nil {
				fmt.Fprintf(&b, "  %s %.0f req/s p99 %s", k, c.RPS, fmtDur(c.P99))
			}
		}
		b.WriteString("\n")
	}
	for _, t := range rep.targets() {
		fmt.Fprintf(&b, "target %-28s %-11s %-8s %-6s %s\n", t.What, t.Config, t.Measured, metWord(t.Met), t.Context)
	}
	return b.String()
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

var kindTitle = map[string]string{
	kindCometplay:        "cometplay",
	kindCometplayHandler: "cometplay Handler",
	kindNetHTTP:          "net/http",
	kindGnet:             "bare gnet",
}

// markdown renders the http section of RESULTS.md.
func (rep *httpReport) markdown(header, chartDir string) string {
	o := rep.o
	var b strings.Builder
	b.WriteString("## HTTP: keep-alive GET of a small static file\n\n")
	b.WriteString(header)
	fmt.Fprintf(&b, "\nEvery server runs in its own child process with GOMAXPROCS=%d on the same machine as the load generator "+
		"(the parent process), all sharing its %d cores. Each request is `GET %s` (a %d-byte body) on keep-alive connections; "+
		"with pipelining depth p a connection writes p requests at once, then reads the p responses. "+
		"Each server and configuration was measured %d times for %v after a %v warmup, the servers taking turns in a rotating order; "+
		"the tables give the median over those rounds (max: the largest over all), and a ratio is the median of the ratios "+
		"of the rounds (in a round the servers run back to back, under much the same background load). "+
		"**Latency is per request at p=1, per batch of p requests otherwise.** "+
		"Server CPU/req and load CPU/req are the CPU time (user+system, from /proc) of the server process and of the load generator "+
		"over the requests served; other cores is the CPU the rest of the machine used meanwhile (other processes, hypervisor steal): "+
		"the noise. Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n\n",
		o.Procs, runtime.NumCPU(), staticPath, len(staticBody), o.Rounds, o.Duration, o.Warmup, rep.loadStart, rep.loadEnd)

	b.WriteString("- cometplay: `engine.Server` with `Config.Static` = an in-memory `fstest.MapFS` (served on the event loop).\n")
	if slices.Contains(o.Kinds, kindCometplayHandler) {
		fmt.Fprintf(&b, "- cometplay Handler: the same server and connections' shape, `GET %s`: a Handler registered with `srv.Handle` (run on the engine's workers) "+
			"answering the same body and headers with `Stream.Respond`; measured in turn with the others, as if it were another server.\n", handlerPath)
	}
	b.WriteString("- net/http: `http.Server` with a handler writing the same headers and body.\n")
	b.WriteString("- bare gnet: gnet with the engine's options, answering every `\\r\\n\\r\\n` with fixed bytes: the floor of an event-loop server.\n\n")

	b.WriteString(targetsTable("### Targets (100 connections)", "for comparison", rep.targets()))

	b.WriteString("### Throughput and latency\n\n")
	b.WriteString("| conns | pipeline | server | req/s | p50 | p90 | p99 | max | server CPU/req | load CPU/req | other cores | errors | non-2xx | req/s by round |\n")
	b.WriteString("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, cfg := range rep.configs {
		for _, k := range o.Kinds {
			c := rep.cell(cfg, k)
			if c == nil {
				continue
			}
			rounds := make([]string, len(c.RoundRPS))
			for i, v := range c.RoundRPS {
				rounds[i] = strconv.FormatFloat(v, 'f', 0, 64)
			}
			fmt.Fprintf(&b, "| %d | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %.2f | %d | %d | %s |\n",
				cfg.Conns, cfg.Pipeline, kindTitle[k], c.RPS, fmtDur(c.P50), fmtDur(c.P90), fmtDur(c.P99), fmtDur(c.Max),
				fmtDur(c.CPUPerReq), fmtDur(c.LoadCPUPerReq), c.OtherCores, c.Errors, c.Non2xx, strings.Join(rounds, ", "))
		}
	}
	b.WriteString("\n")

	if rep.cellKinds(kindCometplay) {
		b.WriteString("### Ratios (cometplay ÷ baseline; req/s above 1 is better, p99 below 1 is better)\n\n")
		b.WriteString("| conns | pipeline | req/s ÷ net/http | req/s ÷ bare gnet | p99 ÷ net/http | p99 ÷ bare gnet | CPU/req ÷ net/http | CPU/req ÷ bare gnet | Handler req/s ÷ static |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, cfg := range rep.configs {
			cp := rep.cell(cfg, kindCometplay)
			if cp == nil {
				continue
			}
			get := func(k string, f func(*httpMeasurement) float64) string {
				return fmtRatio(rep.pairedRatio(cfg, kindCometplay, k, f))
			}
			rps, p99, cpu := metricRPS, metricP99, metricCPU
			fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", cfg.Conns, cfg.Pipeline,
				get(kindNetHTTP, rps), get(kindGnet, rps), get(kindNetHTTP, p99), get(kindGnet, p99), get(kindNetHTTP, cpu), get(kindGnet, cpu),
				fmtRatio(rep.pairedRatio(cfg, kindCometplayHandler, kindCometplay, rps)))
		}
		b.WriteString("\n")
	}

	b.WriteString("### Same bytes on the wire\n\nOne response to the probe request, per server (the head includes a `Date`):\n\n")
	b.WriteString("| server | status | head bytes | response bytes |\n|---|---:|---:|---:|\n")
	for _, p := range rep.probes {
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", kindTitle[p.Kind], p.Status, p.HeadLen, p.WireLen)
	}
	b.WriteString("\n")

	if chartDir != "" {
		b.WriteString("### Charts\n\n")
		fmt.Fprintf(&b, "![requests per second by server and configuration](%s)\n\n", pathJoin(chartDir, httpThroughputChart))
		for _, cfg := range rep.configs {
			fmt.Fprintf(&b, "![latency percentiles, %s](%s)\n", cfg, pathJoin(chartDir, httpLatencyChart(cfg)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (rep *httpReport) cellKinds(kind string) bool {
	for _, byKind := range rep.cells {
		if byKind[kind] != nil {
			return true
		}
	}
	return false
}

func pathJoin(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

const httpThroughputChart = "http-throughput.svg"

func httpLatencyChart(cfg httpConfig) string {
	return fmt.Sprintf("http-latency-c%d-p%d.svg", cfg.Conns, cfg.Pipeline)
}

// writeCharts writes the throughput bar chart and one latency percentile
// chart per configuration into dir.
func (rep *httpReport) writeCharts(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bars := BarChart{
		Title:  "Keep-alive GET throughput (median of rounds)",
		YLabel: "requests per second",
		Note:   fmt.Sprintf("c = connections, p = pipelining depth; GOMAXPROCS=%d per server, %d cores shared with the load generator", rep.o.Procs, runtime.NumCPU()),
	}
	for _, cfg := range rep.configs {
		bars.Groups = append(bars.Groups, cfg.String())
	}
	for _, k := range rep.o.Kinds {
		s := Series{Name: kindTitle[k]}
		for _, cfg := range rep.configs {
			v := math.NaN()
			if c := rep.cell(cfg, k); c != nil {
				v = c.RPS
			}
			s.Values = append(s.Values, v)
		}
		bars.Series = append(bars.Series, s)
	}
	if err := writeFileAtomic(filepath.Join(dir, httpThroughputChart), bars.SVG()); err != nil {
		return err
	}
	for _, cfg := range rep.configs {
		unit := "request"
		if cfg.Pipeline > 1 {
			unit = fmt.Sprintf("batch of %d", cfg.Pipeline)
		}
		lc := LineChart{
			Title:  fmt.Sprintf("Latency per %s, %d connections, pipelining %d", unit, cfg.Conns, cfg.Pipeline),
			XLabel: "percentile",
			YLabel: "latency",
			YLog:   true,
			XTicks: percentileTicks,
			YFormat: func(v float64) string {
				return durationLabel(v)
			},
			Note: "all rounds merged; x axis: log scale of 1/(1-q)",
		}
		for _, k := range rep.o.Kinds {
			if c := rep.cell(cfg, k); c != nil {
				lc.Series = append(lc.Series, percentileSeries(kindTitle[k], &c.Latency))
			}
		}
		if err := writeFileAtomic(filepath.Join(dir, httpLatencyChart(cfg)), lc.SVG()); err != nil {
			return err
		}
	}
	return nil
}

// percentileTicks label the x axis of percentile charts, whose x is
// log₁₀(1/(1-q)): 0 is the minimum, 1 is p90, 2 is p99, and so on.
var percentileTicks = []Tick{{0, "0%"}, {math.Log10(2), "50%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}}

// percentileSeries samples h's quantiles along the percentile axis, up to
// the largest quantile the sample count resolves.
func percentileSeries(name string, h *Histogram) Series {
	s := Series{Name: name}
	if h.Count() == 0 {
		return s
	}
	top := min(4, math.Log10(float64(h.Count())))
	for x := 0.0; x <= top+1e-9; x += 0.05 {
		q := 1 - math.Pow(10, -x)
		s.X = append(s.X, x)
		s.Y = append(s.Y, float64(h.Quantile(q)))
	}
	s.X = append(s.X, top+0.05)
	s.Y = append(s.Y, float64(h.Max()))
	return s
}

// fmtDur formats d with three significant digits: "87.5µs", "1.23ms".
func fmtDur(d time.Duration) string {
	v := float64(d)
	var unit string
	switch {
	case d == 0:
		return "0"
	case v >= 1e9:
		v, unit = v/1e9, "s"
	case v >= 1e6:
		v, unit = v/1e6, "ms"
	case v >= 1e3:
		v, unit = v/1e3, "µs"
	default:
		unit = "ns"
	}
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + unit
}
