// Command tictactoe runs the cometplay example server: the lobby, the
// tictactoe game, the pages, the Pushlet protocol, Prometheus metrics and
// the admin console. Run it with -h for its flags; docs/OPERATIONS.md
// describes them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/pkg/profile"

	"github.com/cometplay/cometplay/cluster"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is the command: it returns the exit status (2 for a bad flag or
// setting, 1 when the server fails to start or stop, 0 otherwise).
func run(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	st, err := parseSettings(args, lookup)
	if errors.Is(err, flag.ErrHelp) {
		st.printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "(run with -h for the flags)")
		return 2
	}
	log := st.newLogger(stderr)
	slog.SetDefault(log)
	log.Info("configuration", st.logAttrs()...)

	if st.memoryLimit > 0 {
		debug.SetMemoryLimit(st.memoryLimit)
	}
	if st.gcPercent != 0 {
		debug.SetGCPercent(st.gcPercent)
	}
	if st.profile != "" {
		defer profile.Start(profileModes[st.profile], profile.ProfilePath("."), profile.NoShutdownHook).Stop()
	}

	c := st.server
	c.Logger, c.HTTP.StaticModTime = log, startTime()
	if k := st.cluster; k.node != "" {
		node, err := cluster.Start(cluster.Options{Node: k.node, NATS: k.nats, Listen: k.listen, Routes: k.routes, Games: k.games,
			StoreDir: k.storeDir, Replicas: k.replicas, NoTurnLog: !k.turnLog, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer node.Close()
		c.Cluster = node
		log.Info("cluster node", "node", k.node, "games_node", k.games, "routes", node.RouteAddr(), "nats", k.nats)
	}
	s, err := newServer(c)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "cometplay is running: open http://%s/\n", s.Addr())
	if c.Admin.Token != "" {
		log.Info("admin console", "url", "http://"+s.Addr()+"/admin/", "pprof", "http://"+s.Addr()+"/debug/pprof/")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
	ctx, cancel := context.WithTimeout(context.Background(), c.HTTP.ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

var profileModes = map[string]func(*profile.Profile){
	"cpu":   profile.CPUProfile,
	"mem":   profile.MemProfile,
	"block": profile.BlockProfile,
	"mutex": profile.MutexProfile,
	"trace": profile.TraceProfile,
}

// startTime is the Last-Modified of embedded files: the executable's mtime.
func startTime() time.Time {
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime()
		}
	}
	return time.Now()
}
