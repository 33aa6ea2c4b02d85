package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// scenario is a benchmark that owns a section of RESULTS.md. Its main
// parses its own flags (each accepts -out) and records invocation, the
// command line that ran it, in its section.
type scenario struct {
	name  string
	brief string
	main  func(ctx context.Context, args, invocation []string, stdout io.Writer) error
	// args are the scenario's own flags, before the caller's (a scenario
	// may be another's command with other settings).
	args []string
	// profile: `bench all` passes -profile profiles/ next to -out.
	profile bool
}

// scenarios are run by `bench all` in this order. Each is bounded in time
// and stops by itself; together with the Go micro-benchmarks of the
// Makefile they take about 35 minutes on the 2-core machine (players-5k
// alone about 15, the sweep about 6).
var scenarios = []scenario{
	{name: "http", brief: "keep-alive GET of a small static file: cometplay vs net/http vs bare gnet", main: httpMain},
	{name: "listeners", brief: "idle stream listeners, fan-out and long-poll churn: cometplay vs net/http vs bare gnet", main: listenersMain, profile: true},
	{name: "players", brief: "simulated tictactoe players through the lobby over every transport (1,000 games)", main: playersMain,
		args: []string{"-games", "1000", "-rounds", "2", "-d", "10s", "-warmup", "4s"}, profile: true},
	{name: "players-5k", brief: "5,000 tictactoe games through the lobby over every transport, 3 rounds of 60 s each: latency, memory by round, the collector", main: playersMain,
		args: []string{"-section", "players-5k", "-games", "5000", "-transports", "long-poll,stream,sse,poll", "-rounds", "3", "-d", "60s", "-warmup", "4s",
			"-targets", targetsPlayers5k}, profile: true},
	{name: "players-sweep", brief: "the most games one server holds at move → opponent p99 ≤ 50 ms: 1,000 to 9,000 games (its open-file limit)", main: sweepMain,
		args: []string{"-steps", "1000,3000,5000,7000,9000", "-transports", "long-poll", "-rounds", "1", "-d", "30s", "-warmup", "4s"}},
	{name: "lobby", brief: "5,000 games whose players keep browsing the lobby (its deltas and chat all along) and re-queue after every game, over every transport", main: playersMain,
		args: []string{"-section", "lobby", "-lobby", "full", "-games", "5000", "-transports", "long-poll,stream,sse,poll", "-requeue-every", "1", "-rounds", "2", "-d", "20s", "-warmup", "4s",
			"-targets", targetsLobby}, profile: true},
	{name: "cluster", brief: "move → opponent through the balancer in front of three nodes (NATS embedded) against one node, in turns: 300 games, stream and long-poll", main: clusterMain,
		args: []string{"-games", "300", "-transports", "stream,long-poll", "-cluster-rounds", "2", "-d", "20s", "-warmup", "4s"}},
	{name: "cluster-recover", brief: "1,000 rooms of a node killed with SIGKILL: the time from the kill to each room's resync and first move on another node", main: recoverMain},
	{name: "micro", brief: "Go micro-benchmarks of the codec, the engine and the bench", main: microMain},
}

const usage = `usage: go run ./bench <command> [flags]

commands:
  http        same-run comparison of cometplay, net/http and bare gnet (keep-alive GET)
  listeners   idle stream listeners (RSS), one event to N listeners, sustained fan-out,
              long-poll churn: cometplay, net/http Comet, bare gnet
  players     simulated tictactoe players (join, lobby, quick-match, moves) over each transport
  players-5k  5,000 games through the lobby, every transport, 3 rounds of 60 s: latency,
              live heap and RSS per player at the end of every round, GC pauses and CPU
              (a smoke run: players-5k -d 5s -rounds 1 -games 200)
  players-sweep  the most games one server holds at move → opponent p99 ≤ 50 ms: steps of
              1,000 to 9,000 games (-steps), stopping after two missed steps or at the
              server's connection cap (its open-file limit)
  lobby       5,000 games whose players keep browsing the lobby and re-queue after every
              game, every transport
  cluster     move → opponent through three nodes behind the per-request balancer against
              one node (and one node behind it), in turns: 300 games, stream and long-poll
  cluster-recover  1,000 rooms on a node of three, their players homed on the others;
              the node is killed (SIGKILL): the time from the kill to each room's first
              resync and first move on the node that took it over (-rooms, -within)
  micro       go test -bench of httpcodec, engine and bench, recorded in RESULTS.md
  all         every scenario in turn (make bench): all -out bench/RESULTS.md
  load        load one server: load -addr host:port -path / -c 100 -pipeline 1 -d 5s
              (or -kind cometplay|nethttp|gnet to start that server as a child)
  serve       run one server and print its address: serve -kind games -addr 127.0.0.1:0
              (kinds: cometplay, nethttp, gnet, games, nethttp-comet; reads control
              commands on stdin: stats, cpu-start PATH, cpu-stop, heap PATH, gc)

Run "go run ./bench <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", strings.TrimPrefix(err.Error(), "bench: "))
		}
		os.Exit(2)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveMain(rest)
	case "loadchild":
		return loadChildMain(ctx, os.Stdin, stdout)
	case "load":
		return loadMain(ctx, rest, stdout)
	case "all":
		return allMain(ctx, rest, args, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, s := range scenarios {
		if s.name == cmd {
			own := append(slices.Clone(s.args), rest...)
			if err := s.main(ctx, own, append([]string{s.name}, rest...), stdout); err != nil {
				return err
			}
			if out := outFlag(rest); out != "" {
				// Keep the summary at the top true to the sections.
				return writeTargetsSummary(out, args)
			}
			return nil
		}
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("bench: unknown command %q", cmd)
}

// outFlag returns the value of -out in args ("" if absent).
func outFlag(args []string) string {
	out := ""
	for i, a := range args {
		a = strings.TrimPrefix(a, "-")
		switch {
		case a == "-out" || a == "out":
			if i+1 < len(args) {
				out = args[i+1]
			}
		case strings.HasPrefix(a, "out=") || strings.HasPrefix(a, "-out="):
			out = a[strings.Index(a, "=")+1:]
		}
	}
	return out
}

// allMain is `bench all`: every scenario with its default flags, each
// updating its section of -out.
func allMain(ctx context.Context, args, invocation []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	out := fs.String("out", "bench/RESULTS.md", "RESULTS.md to update")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range scenarios {
		fmt.Fprintf(stdout, "== %s: %s\n", s.name, s.brief)
		args := []string{"-out", *out}
		if s.profile {
			args = append(args, "-profile", filepath.Join(filepath.Dir(*out), "profiles"))
		}
		// The section records the command that reproduces it alone.
		if err := s.main(ctx, append(slices.Clone(s.args), args...), append([]string{s.name}, args...), stdout); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return writeTargetsSummary(*out, invocation)
}

// loadMain is `bench load`: the load generator on its own.
func loadMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cfg LoadConfig
	fs.StringVar(&cfg.Addr, "addr", "", "server address host:port (or use -kind)")
	kind := fs.String("kind", "", "start a server of this kind (cometplay, nethttp, gnet) as a child and load it")
	procs := fs.Int("procs", runtime.NumCPU(), "GOMAXPROCS of the -kind server")
	serverArgs := fs.String("server-args", "", "extra flags for the -kind server, space separated")
	fs.StringVar(&cfg.Method, "method", "GET", "request method")
	fs.StringVar(&cfg.Path, "path", "", "request path (default / with -addr, the static file with -kind)")
	fs.StringVar(&cfg.Host, "host", "", "Host header (default the address)")
	fs.IntVar(&cfg.Conns, "c", 1, "connections")
	fs.IntVar(&cfg.Pipeline, "pipeline", 1, "requests written at once per connection")
	fs.DurationVar(&cfg.Duration, "d", 0, "measured duration (default 5s unless -n is set)")
	fs.Int64Var(&cfg.Requests, "n", 0, "total requests instead of a duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured load before a duration run")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "connect and batch timeout")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
			}
		}()
	}
	if cfg.Duration == 0 && cfg.Requests == 0 {
		cfg.Duration = 5 * time.Second
	}
	if *kind != "" {
		if cfg.Addr != "" {
			return errors.New("bench: -addr and -kind exclude each other")
		}
		c, err := StartChild(ServerSpec{Kind: *kind, Procs: *procs, Args: strings.Fields(*serverArgs)})
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Stop(sctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		cfg.Addr = c.Addr
		if cfg.Path == "" {
			cfg.Path = staticPath
		}
	}
	res, err := RunLoad(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, res.String())
	return err
}
