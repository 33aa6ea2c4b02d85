package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTestServer starts a server kind in this process, stopped at cleanup.
func startTestServer(t *testing.T, kind string) *runningServer {
	t.Helper()
	srv, err := startServer(kind, "127.0.0.1:0", nil, serverOptions{Hub: defaultHubConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	return srv
}

// openStream listens on a Comet server (join first) or holds a floor
// connection, and returns it after its first chunk.
func openStream(t *testing.T, addr, kind, subject string) *wireConn {
	t.Helper()
	target := "/floor/hold"
	if kind != kindGnet {
		p, err := newPublisher(addr, kind) // a joined session
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.close)
		target = "/comet?p_event=listen&p_id=" + p.id + "&p_mode=stream&p_format=json&p_subject=" + subject
	}
	w, err := dialWire(addr, 5*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := w.c.Write(getRequest(nil, addr, target)); err != nil {
		t.Fatal(err)
	}
	if h, err := w.readHead(); err != nil || h.status != 200 || !h.chunked {
		t.Fatalf("listen: %+v, %v", h, err)
	}
	if _, err := w.readChunk(); err != nil {
		t.Fatal(err)
	}
	return w
}

// nextData reads chunks until a data event and returns it.
func nextData(t *testing.T, w *wireConn) event {
	t.Helper()
	for {
		c, err := w.readChunk()
		if err != nil {
			t.Fatal(err)
		}
		var e event
		found := false
		eachObject(c, func(obj []byte) {
			if ev := scanEvent(obj); !found && rawIs(ev.name, "data") {
				e, found = ev, true
			}
		})
		if found {
			return e
		}
	}
}

// TestFanoutServers publishes to stream listeners of each listener kind:
// every listener gets the event with its k, and the Comet servers number
// them per session and match subjects by segment.
func TestFanoutServers(t *testing.T) {
	t.Parallel()
	for _, kind := range listenerKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := startTestServer(t, kind)
			a := openStream(t, srv.Addr, kind, "/bench/fan")
			b := openStream(t, srv.Addr, kind, "/bench/fan,/other")
			pub, err := newPublisher(srv.Addr, kind)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pub.close)
			for k := int64(1); k <= 3; k++ {
				if _, err := pub.publish("/bench/fan", k); err != nil {
					t.Fatal(err)
				}
				for _, w := range []*wireConn{a, b} {
					e := nextData(t, w)
					if rawNum(e.k) != k || rawNum(e.t) <= 0 {
						t.Fatalf("event %d: k=%s t=%s", k, e.k, e.t)
					}
					if kind != kindGnet && rawNum(e.seq) != k {
						t.Fatalf("event %d: p_seq %s", k, e.seq)
					}
				}
			}
			if kind == kindGnet {
				return
			}
			// Segment matching: /bench/fan receives /bench/fan/x, not /bench/fanx.
			if _, err := pub.publish("/bench/fanx", 10); err != nil {
				t.Fatal(err)
			}
			if _, err := pub.publish("/bench/fan/x", 11); err != nil {
				t.Fatal(err)
			}
			if e := nextData(t, a); rawNum(e.k) != 11 || rawNum(e.seq) != 4 {
				t.Fatalf("after /bench/fanx and /bench/fan/x: k=%s p_seq=%s; want 11, 4", e.k, e.seq)
			}
		})
	}
}

// TestNetHTTPCometPull: a pull session resumes from p_last and learns of
// evicted events with a gap event.
func TestNetHTTPCometPull(t *testing.T) {
	t.Parallel()
	srv := startTestServer(t, kindNetHTTPComet)
	p, err := newPublisher(srv.Addr, kindNetHTTPComet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	if status, body, err := p.do("/comet?p_event=listen&p_mode=pull&p_format=json&p_subject=/x&p_id=" + p.id); err != nil || status != 200 || !bytes.Contains(body, []byte("listen-ack")) {
		t.Fatalf("listen: %d %s %v", status, body, err)
	}
	for k := int64(1); k <= ncWindow+2; k++ {
		if _, err := p.publish("/x", k); err != nil {
			t.Fatal(err)
		}
	}
	_, body, err := p.do("/comet?p_event=refresh&p_last=0&p_id=" + p.id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var seqs []int64
	eachObject(body, func(obj []byte) {
		e := scanEvent(obj)
		names = append(names, unq(e.name))
		seqs = append(seqs, rawNum(e.seq))
	})
	if len(names) != ncWindow+3 || names[1] != "gap" || seqs[1] != 2 || seqs[2] != 3 || names[len(names)-1] != "refresh" {
		t.Fatalf("refresh answered %d events, starting %v %v", len(names), names[:3], seqs[:3])
	}
	_, body, _ = p.do("/comet?p_event=leave&p_id=" + p.id)
	if !bytes.Contains(body, []byte("leave-ack")) {
		t.Fatalf("leave: %s", body)
	}
	if status, _, _ := p.do("/comet?p_event=refresh&p_id=" + p.id); status != 400 {
		t.Fatalf("refresh after leave: HTTP %d; want 400", status)
	}
}

// TestChildControl profiles a child server through its stdin and reads its
// figures.
func TestChildControl(t *testing.T) {
	t.Parallel()
	c, err := StartChild(ServerSpec{Kind: kindGames, Procs: 1, Env: []string{"GOGC=200"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	st, err := c.Stats()
	if err != nil || st.Goroutines == 0 || !bytes.Contains(st.Extra, []byte(`"hub"`)) {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	if rss, err := c.RSS(); err != nil || rss < 1<<20 {
		t.Fatalf("RSS = %d, %v", rss, err)
	}
	// The collector's figures travel with the stats: a forced GC shows.
	if _, err := c.Control("gc"); err != nil {
		t.Fatal(err)
	}
	after, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if w := gcBetween(st.Runtime, after.Runtime); w.Cycles < 1 || w.Pauses < 2 || after.Runtime.HeapObjects == 0 || after.Runtime.TotalCPU <= 0 {
		t.Errorf("runtime figures around a GC: %+v then %+v (window %+v)", st.Runtime, after.Runtime, w)
	}
	dir := t.TempDir()
	p, err := startProfile(c, dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Control("cpu-start " + filepath.Join(dir, "y")); err == nil {
		t.Error("a second CPU profile started")
	}
	cpu, heap, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cpu, heap} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", f, err)
		}
	}
	if _, err := c.Control("nonsense"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

// TestPlayersCommand plays a few games over two transports, through the
// lobby and with the direct matchmaker, with load processes, and checks the
// section: no error, moves measured.
func TestPlayersCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ match, procs, transports string }{
		{matchLobby, "2", "stream,long-poll"}, // two load processes, a switch of transport
		{matchDirect, "1", "long-poll"},
	} {
		match := tc.match
		t.Run("match="+match, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "RESULTS.md")
			args := []string{"players", "-out", out, "-games", "4", "-procs", tc.procs, "-transports", tc.transports, "-match", match,
				"-d", "700ms", "-warmup", "200ms", "-think", "100ms", "-requeue-every", "1", "-server-procs", "1", "-ramp-timeout", "20s", "-drain", "200ms", "-switch-spread", "100ms"}
			s, _ := runCommand(t, args, out)
			for _, want := range []string{"<!-- bench:players:start -->", "| long-poll | 4 | 8 |", "None: every data event arrived", "charts/players-latency.svg",
				"### Memory and the collector, by round"} {
				if !strings.Contains(s, want) {
					t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
				}
			}
			// Each round's memory: a live heap, the history outside it and
			// an RSS were read (columns 3 to 5; a window this short may see
			// no GC cycle), and what the server allocated per move (column 7).
			mem := s[strings.Index(s, "### Memory and the collector"):]
			if row := tableRow(mem, "| 1 | long-poll | "); len(row) != 13 || !strings.HasSuffix(row[2], "iB") || !strings.HasSuffix(row[3], "B") || !strings.HasSuffix(row[4], "iB") || !strings.HasSuffix(row[6], "B") {
				t.Errorf("memory row of long-poll round 1: %q", row)
			}
			for _, name := range []string{"players-latency.svg", "players-cpu.svg"} {
				svg, err := os.ReadFile(filepath.Join(dir, "charts", name))
				if err != nil {
					t.Fatal(err)
				}
				parseSVG(t, svg)
			}
		})
	}
}

// TestSweepCommand runs a sweep of tiny steps end to end: each step a
// fresh server, the section with its steps and its target.
func TestSweepCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	args := []string{"players-sweep", "-out", out, "-steps", "2,4", "-transports", "long-poll", "-d", "700ms", "-warmup", "200ms", "-think", "100ms",
		"-server-procs", "1", "-ramp-timeout", "20s", "-drain", "200ms", "-switch-spread", "100ms", "-ctrl-conns", "2"}
	s, _ := runCommand(t, args, out)
	for _, want := range []string{"<!-- bench:players-sweep:start -->", "## Scale sweep", "| scale sweep: one server holds 9,000 games", "charts/players-sweep-p99.svg",
		"## Targets at a glance", "| players-sweep | scale sweep"} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	// The first step ran: 4 players in one load process, the server's files
	// and connection cap read.
	if row := tableRow(s, "| 2 | 4 | 1 |"); len(row) != 17 || !strings.Contains(row[3], "(") || strings.HasPrefix(row[16], "failed") {
		t.Errorf("first step's row: %q", row)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "charts", "players-sweep-p99.svg"))
	if err != nil {
		t.Fatal(err)
	}
	parseSVG(t, svg)
	if err := dispatch(context.Background(), []string{"players-sweep", "-games", "4"}, io.Discard); err == nil {
		t.Error("players-sweep accepted -games")
	}
}

// TestClusterSweepCommand: a sweep with -nodes 3 plays each step against
// one node, then against three behind the balancer, and writes its own
// section (cluster-sweep) with both tables and the comparison as its target.
func TestClusterSweepCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	args := []string{"players-sweep", "-nodes", "3", "-out", out, "-steps", "2", "-transports", "stream", "-d", "700ms", "-warmup", "200ms", "-think", "100ms",
		"-ramp-timeout", "60s", "-drain", "200ms", "-switch-spread", "100ms", "-ctrl-conns", "2"}
	s, _ := runCommand(t, args, out)
	for _, want := range []string{"<!-- bench:cluster-sweep:start -->", "## Scale sweep across 3 nodes", "### Steps, 3 nodes", "### Steps, one node (same run)",
		"| 3 nodes behind the balancer hold as many games", "charts/cluster-sweep-p99.svg", "| cluster-sweep | 3 nodes behind the balancer"} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	// Both configurations ran the step: a row in each table.
	if n := strings.Count(s, "| 2 | 4 | 1 |"); n != 2 {
		t.Errorf("%d rows of the 2-game step; want one for each configuration:\n%s", n, s)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "charts", "cluster-sweep-p99.svg"))
	if err != nil {
		t.Fatal(err)
	}
	parseSVG(t, svg)
}

// TestListenersCommand runs every listener phase briefly: cometplay and
// the net/http baseline together (their fan-outs interleaved), the gnet
// floor in parallel on its own.
func TestListenersCommand(t *testing.T) {
	t.Parallel()
	for _, kinds := range []string{kindGames + "," + kindNetHTTPComet, kindGnet} {
		t.Run(kinds, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "RESULTS.md")
			args := []string{"listeners", "-out", out, "-kinds", kinds, "-steps", "20,60", "-fanout-at", "20", "-events", "3", "-pause", "10ms", "-busy-events", "3", "-busy-probes", "2", "-rate", "20",
				"-sustained", "300ms", "-churn", "10", "-churn-rate", "20", "-churn-d", "300ms", "-server-procs", "1", "-settle", "100ms"}
			s, _ := runCommand(t, args, out)
			for _, kind := range strings.Split(kinds, ",") {
				title := listenerTitle[kind]
				for _, want := range []string{"| 60 |", "| " + title + " | 3 |", "listeners-rss.svg"} {
					if !strings.Contains(s, want) {
						t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
					}
				}
				// Every receipt arrived (fan-out column 8); no churn session
				// missed an event (churn columns 5 to 9).
				if row := tableRow(s, "| "+title+" | 3 |"); len(row) < 9 || row[8] != "0" {
					t.Errorf("fan-out row of %s: %q; want 0 missed receipts", title, row)
				}
				// The publish under fan-out: 3 events, their trigger timed, no
				// receipt missed, every probe counted or late (2 per event).
				row := tableRow(s, "| "+title+" | "+triggerTitle[kind]+" | 3 |")
				if len(row) < 14 || row[13] != "0" {
					t.Errorf("busy row of %s: %q; want 3 events and 0 missed receipts", title, row)
				} else if counted, _ := strconv.Atoi(row[6]); func() int { late, _ := strconv.Atoi(row[7]); return counted + late }() != 6 {
					t.Errorf("busy row of %s: %q; want 6 probes counted or late", title, row)
				}
				if kind == kindGnet {
					continue
				}
				if row := tableRow(s, "| "+title+" | 10 |"); len(row) < 11 || strings.Join(row[5:10], ",") != "0,0,0,0,0" {
					t.Errorf("churn row of %s: %q; want no missed event", title, row)
				}
			}
			if kinds != kindGnet && !strings.Contains(s, "÷ net/http: median of the per-event ratios") {
				t.Errorf("no paired fan-out target:\n%s", s)
			}
		})
	}
}

// runCommand runs a bench command that writes the results file out and
// returns that file and the command's output.
func runCommand(t *testing.T, args []string, out string) (doc, stdout string) {
	t.Helper()
	var b bytes.Buffer
	if err := dispatch(context.Background(), args, &b); err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(d), b.String()
}

// tableRow returns the cells of the first markdown table row starting with
// prefix (cells[0] is the first column).
func tableRow(doc, prefix string) []string {
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, prefix) {
			var cells []string
			for c := range strings.SplitSeq(strings.Trim(line, "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			return cells
		}
	}
	return nil
}

// TestClusterRefusesNoTurnLog: bench cluster runs three nodes with the
// turn log and without it in turn; the players flag -no-turn-log, which
// it shares, is refused rather than ignored.
func TestClusterRefusesNoTurnLog(t *testing.T) {
	err := clusterMain(context.Background(), []string{"-no-turn-log"}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-no-turn-log") {
		t.Fatalf("bench cluster -no-turn-log: %v; want it refused", err)
	}
}
