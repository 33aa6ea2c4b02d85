// Command bench is cometplay's load generator and same-run comparison tool.
//
//	go run ./bench http -out bench/RESULTS.md       # cometplay vs net/http vs bare gnet
//	go run ./bench listeners -out bench/RESULTS.md  # idle listeners, fan-out, long-poll churn
//	go run ./bench players -games 1000              # tictactoe players over every transport
//	go run ./bench players-5k                       # 5,000 games, every transport, 3 rounds of 60 s
//	go run ./bench players-sweep                    # the most games one server holds at p99 ≤ 50 ms
//	go run ./bench cluster -out bench/RESULTS.md    # three nodes behind a balancer vs one node
//	go run ./bench cluster-recover -out bench/RESULTS.md  # 1,000 rooms of a node killed with SIGKILL
//	go run ./bench all -out bench/RESULTS.md        # every scenario (make bench)
//	go run ./bench load -kind cometplay -c 100 -pipeline 16 -d 5s
//	go run ./bench serve -kind games -addr 127.0.0.1:0
//
// # Load generator
//
// RunLoad opens N keep-alive connections over raw TCP and drives each from
// its own goroutine: write D requests at once (pipelining depth D, default
// 1), read D responses with ResponseReader, repeat, for a duration (after an
// unmeasured warmup) or until a request count is spent. ResponseReader is a
// minimal response reader written for the tool: status line, framing headers
// (Content-Length, chunked, Connection), and the body skipped without a copy.
//
// Latency is measured per batch: from just before the batch is written to
// the arrival of its last response. With D = 1 that is the latency of each
// request; with D > 1 it is the latency of a batch of D requests, and the
// reports say so. Samples go into a Histogram, log-linear buckets with a
// relative error below 1/128 and fixed memory, one per connection, merged at
// the end. Requests that get no response (connect, write, read errors, a
// timeout, a connection closed early) are errors; the connection is
// replaced.
//
// # Comparison
//
// Every server under comparison runs in a child process: the bench binary
// re-executed as `bench serve -kind K -addr 127.0.0.1:0`, which prints its
// address on stdout and lives until its stdin closes (so it dies with the
// parent), a signal, or -maxlife. Every child gets the same GOMAXPROCS
// (-procs); the load generator is the parent. Configurations are measured
// in rounds, servers interleaved in a rotating order, and the median of the
// rounds is reported, which tames the noise of a small shared machine. The
// children's CPU time is read from /proc around each run. `bench serve`
// takes -cpuprofile and -memprofile, and the comparison passes
// -server-args to every child, so profiles can be collected under load.
//
// # Cluster
//
// `bench players -nodes 3` runs the players against a cluster: three
// `bench serve -kind games -node nX` children, their NATS servers embedded
// and routed to each other, behind a per-request round-robin balancer:
// Debian's HAProxy in a process of its own (-balancer haproxy, the
// default; haproxy.go writes its configuration) or internal/balancer, the
// reverse proxy of make cluster, in the parent (-balancer go); the players
// talk to the balancer, and the figures of the server are the games
// node's (n1).
// `bench cluster` takes turns, round after round, between one node, one
// node behind the balancer and three nodes behind it (clusterbench.go).
//
// `bench cluster-recover` (recoverbench.go) times issue 14's owner death:
// three node children (startClusterNodes, the turn log on), -rooms (1,000)
// tictactoe rooms on n2, made there by the games server's /bench/seat
// (mountDirectMatch) with their two players' sessions homed on n1 and n3,
// each game two moves in; then n2's process gets SIGKILL (by its pid), and
// for each room the bench times, from the kill, the first resync reaching
// one of its players (the "joined" with reconnected, or the "state", that
// rooms.Manager.Restore has the rebuilt room send) and its first move
// applied on the node that took it over (X's move, sent at the kill and
// again after each nack). The players are simulated in the bench's own
// process (a stream to its home node each, control requests on shared
// connections) and talk to their home nodes directly, not through a
// balancer. A room not resynced within -within (a minute) is lost; the
// section states p50/p99/max, rooms recovered and lost, and the survivors'
// counts (rooms taken over, rebuilt, takes refused).
//
// # Players and listeners
//
// The player simulation (players.go) and the listener scenarios
// (listeners.go) run in `bench loadchild` processes (loadchild.go), as many
// as the open-file limit requires, driven by the parent over their stdin and
// stdout and merged by it (histograms travel as JSON). Their Comet client
// (wire.go) speaks raw HTTP/1.1 with small buffers; control requests of many
// players share pipelined keep-alive connections (ctrlConn). A simulated
// player joins, opens its data channel (stream, sse, long-poll or poll),
// says hello in the lobby and quick-matches into tictactoe, or asks the
// games server's own matchmaker (mountDirectMatch) to be seated without the
// lobby; it then plays random moves at a fixed pace, rematching or queueing
// again. The move → opponent latency is measured in memory (both players of
// a game live in one load process: the games server registers the game
// under one name per process) and from the kernel's receive timestamp of
// the opponent's socket (SO_TIMESTAMPNS, tsReader): the server-side latency.
//
// The server kinds of the Comet scenarios are games (the example's whole
// stack, gamesserver.go), nethttp-comet (a goroutine-per-connection
// net/http server speaking the same protocol subset, nethttpcomet.go), and
// the bare gnet floor, which also holds connections and pushes a chunk to
// all of them on a trigger. Every child answers control commands on its
// stdin (control.go: stats, cpu-start, cpu-stop, heap, gc, trace), so a scenario
// profiles exactly its measured window (-profile DIR; -trace DIR for an
// execution trace of 5 s of it; profiles.go writes
// `go tool pprof -top` summaries next to the raw profiles and quotes them in
// RESULTS.md; docs/PROFILING.md explains them).
//
// # Memory and the collector
//
// A server child's answer to "stats" carries the collector's figures from
// runtime/metrics, read in the child (gcstats.go): the /gc/pauses:seconds
// histogram, GC and total CPU seconds, GC cycles, heap objects, the live
// heap and the bytes allocated. The players scenarios read them at the
// start and the end of each measured window (gcBetween: the window's
// pauses, p99 and max, the GC's share of the CPU available, and the bytes
// allocated per move), and after a `gc` command at the
// end of each round (the live heap), with the child's RSS from /proc and
// the time its threads waited for a CPU (/proc/PID/task/*/schedstat). The
// players-5k targets ask that the live heap stay under 64 MiB at the end of
// every round and grow at most 10 % from the first round to the last.
//
// The scale sweep (sweep.go, `bench players-sweep`) runs a players run of
// one transport per step on a fresh server, from 1,000 to 9,000 games,
// until the move → opponent target is missed twice or the next step needs
// more connections than the server admits (its /debug/stats
// max_connections, from its open-file limit). With -nodes N (N > 1) each
// step is played against one node and then against N nodes behind the
// balancer, and the section is cluster-sweep: the games the cluster holds
// against one node's, in the same run.
//
// The listeners scenario also times a publish during a fan-out: a Handler
// of the games kind calling Hub.Publish (benchPublishPath) while the event
// fans out to every listener, and control publishes sent meanwhile on
// other connections; the http comparison measures a Handler answering the
// static file's bytes (kindCometplayHandler) beside the static path.
//
// # Results
//
// Each scenario owns a section of RESULTS.md between
// `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` (see
// ReplaceSection); rewriting one keeps the others and any text around them.
// A section records the date, the exact command, the machine, every figure,
// and links to its SVG charts in charts/ next to RESULTS.md, drawn by
// BarChart and LineChart without dependencies.
//
// # Concurrency
//
// RunLoad is safe to call from several goroutines; ResponseReader and
// Histogram are not safe for concurrent use.
package main
